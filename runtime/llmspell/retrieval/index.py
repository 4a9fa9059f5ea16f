"""The RAG index: chunking, embedding, the vector store and hybrid search, as the runtime's ``rag``
service (:func:`rag_index`).

Hybrid search (what ``RAG.search`` and ``Context.assemble(..., "rag")`` use) is a weighted fusion:
for every chunk of the namespace,

    score = w * max(cosine, 0) + (1 - w) * bm25 / max_bm25

with ``w = [rag] vector_weight`` (0.7 by default) and ``max_bm25`` the best BM25 score of the query
over the chunks the metadata filter admits (the BM25 term is 0 when no chunk shares a word with the
query). Scores are in [0, 1], best first, and ``threshold`` applies to this fused score. With
``vector_weight = 1`` it is plain cosine similarity.

Embedding and SQLite work run in a worker thread (``asyncio.to_thread``); the event loop never waits
on them.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from llmspell.retrieval.chunking import chunk_text
from llmspell.retrieval.embed import Embedder, get_embedder
from llmspell.retrieval.lexical import LexicalIndex
from llmspell.retrieval.vectors import (
    GLOBAL_SCOPE,
    Namespace,
    VectorItem,
    VectorStore,
    matches,
    norm_scope,
    top_k_indices,
)

if TYPE_CHECKING:
    from llmspell.runtime import Runtime

EMBED_BATCH = 256
PERSIST_BM25_MIN = 2000
"""Namespaces with at least this many chunks keep their BM25 index in the database between runs."""


class RagIndex:
    """Documents -> chunks -> vectors in a :class:`VectorStore`; hybrid (cosine + BM25) search.

    ``search``/``ingest`` are the async entry points (the work runs in a thread); ``search_sync`` and
    ``ingest_sync`` are the same, for callers already off the loop (benchmarks, tests).
    """

    def __init__(self, store: VectorStore, embedder: Embedder, *, vector_weight: float = 0.7,
                 chunk_size: int = 200, chunk_overlap: int = 50, default_top_k: int = 5) -> None:
        self.store = store
        self.embedder = embedder
        self.vector_weight = float(vector_weight)
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.default_top_k = default_top_k
        self._lexical: dict[tuple[str, str], tuple[int, LexicalIndex]] = {}
        self._lex_lock = threading.Lock()

    # -- ingest -------------------------------------------------------------------------------------

    def ingest_sync(self, documents: list[dict[str, Any]], *, scope: str | None = None, scope_id: str | None = None,
                    chunk_size: int | None = None, overlap: int | None = None,
                    strategy: str = "sliding_window") -> dict[str, Any]:
        """Chunk, embed and store documents (``{content, id?, metadata?}``); a document whose id is
        already in the namespace replaces its old chunks. Returns ``{documents_processed,
        vectors_created, total_tokens}``."""
        size = self.chunk_size if chunk_size is None else chunk_size
        ov = (min(self.chunk_overlap, size - 1) if overlap is None else overlap)
        sc, sid = norm_scope(scope, scope_id)
        pending: list[tuple[str, str, dict[str, Any], int]] = []  # (chunk id, text, metadata, tokens)
        docs_done = 0
        doc_of: list[str] = []
        for doc in documents:
            content = str(doc["content"])
            doc_id = str(doc.get("id") or uuid.uuid4())
            meta = dict(doc.get("metadata") or {})
            chunks = chunk_text(content, size, ov, strategy)
            docs_done += 1
            for i, ch in enumerate(chunks):
                cmeta = dict(meta)
                cmeta.update({"document_id": doc_id, "chunk_index": i, "chunk_count": len(chunks)})
                pending.append((doc_id if len(chunks) == 1 else f"{doc_id}#{i}", ch.text, cmeta, ch.tokens))
                doc_of.append(doc_id)
        created = 0
        tokens = 0
        self.store.delete_documents(sc, sid, sorted(set(doc_of)))  # re-ingesting a document replaces it
        for start in range(0, len(pending), EMBED_BATCH):
            part = pending[start:start + EMBED_BATCH]
            vecs = self.embedder.embed([p[1] for p in part])
            items = [VectorItem(p[0], p[1], vecs[i], p[2], sc, sid, p[3], doc_id=doc_of[start + i])
                     for i, p in enumerate(part)]
            created += self.store.add(items, replace_documents=False)
            tokens += sum(p[3] for p in part)
        if tokens:
            self.store.bump_counter(sc, sid, "embeddings_generated", len(pending))
            self.store.bump_counter(sc, sid, "embedding_tokens", tokens)
        return {"success": True, "documents_processed": docs_done, "vectors_created": created,
                "total_tokens": tokens}

    async def ingest(self, documents: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self.ingest_sync, documents, **kw)

    # -- search -------------------------------------------------------------------------------------

    def _lexical_index(self, space: Namespace) -> LexicalIndex:
        """The namespace's BM25 index: cached per process, and for namespaces of at least
        ``PERSIST_BM25_MIN`` chunks also kept in the database for the next process (building one over
        100k chunks takes seconds; loading it, a fraction of that)."""
        key = (space.scope, space.scope_id)
        with self._lex_lock:
            hit = self._lexical.get(key)
            if hit is not None and hit[0] == space.version and hit[1].size == len(space):
                return hit[1]
        lex: LexicalIndex | None = None
        persist = len(space) >= PERSIST_BM25_MIN
        if persist:
            blobs = self.store.load_derived(space, "bm25")
            if blobs is not None:
                try:
                    lex = LexicalIndex.from_blobs(blobs)
                except (ValueError, KeyError, TypeError):
                    lex = None  # damaged: rebuilt below
                if lex is not None and lex.size != len(space):
                    lex = None
        if lex is None:
            lex = LexicalIndex(space.contents)
            if persist:
                self.store.save_derived(space, "bm25", lex.to_blobs())
        with self._lex_lock:
            self._lexical[key] = (space.version, lex)
        return lex

    def search_sync(self, query: str, *, top_k: int | None = None, scope: str | None = None,
                    scope_id: str | None = None, threshold: float | None = None,
                    filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The ``top_k`` best chunks of the namespace for ``query`` (hybrid score, best first), each
        ``{id, content, text, score, metadata}``; chunks with nothing in common with the query
        (score 0) are left out."""
        k = self.default_top_k if top_k is None else top_k
        sc, sid = norm_scope(scope, scope_id)
        self.store.bump_counter(sc, sid, "searches_performed")
        if k <= 0:
            return []
        space = self.store.namespace(sc, sid)
        if not len(space):
            return []
        q = self.embedder.embed([query])[0]
        sims = np.maximum(space.matrix @ q, 0.0)
        allowed = None
        if filters:
            allowed = np.fromiter((matches(m, filters) for m in space.all_metadata()), dtype=bool, count=len(space))
        w = self.vector_weight
        score = w * sims
        if w < 1.0:
            lex = self._lexical_index(space).scores(query)
            if allowed is not None:
                lex = np.where(allowed, lex, 0.0)
            best = float(lex.max()) if lex.size else 0.0
            if best > 0:
                score = score + (1.0 - w) * (lex / best)
        if allowed is not None:
            score = np.where(allowed, score, -np.inf)
        order = top_k_indices(score, k)
        out: list[dict[str, Any]] = []
        for i in order:
            s = float(score[i])
            if s <= 0.0 or (threshold is not None and s < threshold):
                continue  # (0: nothing in common with the query; -inf: filtered out)
            out.append({"id": space.ids[i], "content": space.contents[i], "text": space.contents[i],
                        "score": round(s, 6), "metadata": space.metadata(int(i))})
        return out

    async def search(self, query: str, *, top_k: int = 5, scope: str | None = None, scope_id: str | None = None,
                     threshold: float | None = None, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.search_sync, query, top_k=top_k, scope=scope, scope_id=scope_id,
                                       threshold=threshold, filters=filters)

    # -- the rest -----------------------------------------------------------------------------------

    def stats(self, scope: str | None, scope_id: str | None = None) -> dict[str, Any]:
        st = self.store.stats(scope or GLOBAL_SCOPE, scope_id)
        if scope_id is not None:
            st.update({k: v for k, v in self.store.counters(scope, scope_id).items()})
        for name in ("embeddings_generated", "embedding_tokens", "searches_performed"):
            st.setdefault(name, 0)
        return st

    def delete_scope(self, scope: str | None, scope_id: str | None) -> int:
        n = self.store.delete_scope(scope, scope_id)
        with self._lex_lock:
            for key in [k for k in self._lexical if k[0] == (scope or GLOBAL_SCOPE)
                        and (scope_id is None or k[1] == scope_id)]:
                del self._lexical[key]
        return n

    def close(self) -> None:
        self._lexical.clear()
        self.store.close()


def rag_db_path(runtime: Runtime) -> Path | None:
    """``[rag] path`` (default ``.llmspell/rag.db``) under the workspace, its folder made through the
    path gate as the state database's is; None (in-process only) when the state backend is
    ``memory``."""
    from llmspell.state.store import _checked_db_path

    cfg = runtime.config
    if (cfg.state.backend or "sqlite").lower() == "memory":
        return None
    path = Path(cfg.rag.path).expanduser() if cfg.rag.path else Path(".llmspell") / "rag.db"
    if not path.is_absolute():
        path = Path(runtime.workspace) / path
    return _checked_db_path(path, Path(runtime.workspace))


def build_index(runtime: Runtime) -> RagIndex:
    rc = runtime.config.rag
    embedder = get_embedder(runtime.config)
    if not embedder.dim:  # a provider's model: its size is learnt from one answer
        embedder.embed(["dimension probe"])
    store = VectorStore(rag_db_path(runtime), embedder=f"{embedder.name}/{embedder.dim}" if embedder.dim else
                        embedder.name, dim=embedder.dim, reembed=embedder.embed)
    return RagIndex(store, embedder, vector_weight=rc.vector_weight, chunk_size=rc.chunk_size,
                    chunk_overlap=rc.chunk_overlap, default_top_k=rc.default_top_k)


def rag_index(runtime: Runtime, factory: Callable[[Runtime], RagIndex] = build_index) -> RagIndex:
    """The runtime's RAG index (built on first use, closed at shutdown)."""
    return runtime.service("rag", factory)
