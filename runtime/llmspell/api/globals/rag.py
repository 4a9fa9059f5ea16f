"""``RAG``: document ingestion and hybrid retrieval (rs-llmspell ``lua/globals/rag.rs``, ``rag_bridge.rs``).

The index is the runtime's ``rag`` service (:mod:`llmspell.retrieval.index`): chunks with vectors
in ``.llmspell/rag.db`` (so a document ingested in one run is found in the next), one namespace per
``(scope, scope_id)``: ``tenant_id = "acme"`` is scope ``tenant``/``acme``, a session collection is
scope ``session``/``<id>``; no namespace ever sees another's chunks. Search is hybrid: cosine
similarity of the embeddings fused with BM25 (``[rag] vector_weight``).

Lenient with the call shapes of rs-llmspell's older examples: ``RAG.search{query=..., top_k=...}``
(one table) returns the plain array of results those examples iterate (``#results``), where the
``(query, opts)`` form returns ``{success, total, results}``; ``RAG.cleanup_scope{scope=...,
scope_id=...}`` returns ``{success, deleted, stats}`` where the positional form returns the count.
"""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any

from pydantic import BaseModel, Field

from llmspell.api.decl import ApiGlobal, api_global, expose
from llmspell.core.errors import ValidationError

# --------------------------------------------------------------------------------------- records


class RagResult(BaseModel):
    """One retrieved chunk."""

    id: str = Field(description="The chunk id: the document id, or ``<doc id>#<n>`` for a chunk of a longer one")
    content: str
    text: str = Field(description="The same as ``content`` (kept for older scripts)")
    score: float = Field(description="Hybrid relevance in [0, 1]: cosine similarity fused with BM25")
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="The document's metadata plus ``document_id``, ``chunk_index``, ``chunk_count``")


class RagSearchResponse(BaseModel):
    """``RAG.search(query, opts)``."""

    success: bool
    total: int = Field(description="Number of results")
    results: list[RagResult]


class RagIngestResponse(BaseModel):
    """``RAG.ingest(...)``."""

    success: bool
    documents_processed: int
    vectors_created: int = Field(description="Chunks embedded and stored")
    total_tokens: int = Field(description="Words embedded (overlapping chunk words counted again)")
    document_ids: list[str] = Field(default_factory=list, description="The ids of the ingested documents")


class RagStats(BaseModel):
    """``RAG.get_stats(scope, scope_id)``."""

    total_vectors: int
    total_storage_bytes: int = Field(description="Vectors + text + metadata bytes")
    vector_bytes: int
    total_tokens: int
    namespaces: int = Field(description="Namespaces counted (1 for one scope_id)")
    dimensions: int
    embedder: str
    embeddings_generated: int = Field(description="Chunks embedded in this namespace (0 without a scope_id)")
    embedding_tokens: int
    searches_performed: int


class RagCleanupResult(BaseModel):
    """``RAG.cleanup_scope{scope=..., scope_id=...}`` (the table form)."""

    success: bool
    deleted: int
    stats: dict[str, Any] = Field(description="{documents_removed, vectors_removed, storage_freed_mb}")


class RagSessionCollection(BaseModel):
    """``RAG.create_session_collection``."""

    session_id: str
    namespace: str
    ttl: int | None = None
    created: bool


class RagSessionConfig(BaseModel):
    """``RAG.configure_session``."""

    session_id: str
    vector_ttl: int
    configured: bool


class RagConfigureResult(BaseModel):
    """``RAG.configure``."""

    configured: bool
    applied: dict[str, Any] = Field(description="Settings now in effect for this run")
    ignored: list[str] = Field(description="Keys accepted but without effect here (with the reason in the docs)")


# --------------------------------------------------------------------------------------- checks


def _kind(v: Any) -> str:
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (dict, list)):
        return "table"
    return type(v).__name__


def _table(v: Any, fn: str, what: str) -> dict[str, Any]:
    if v is None:
        return {}
    if isinstance(v, list) and not v:  # an empty Lua table
        return {}
    if not isinstance(v, dict):
        raise ValidationError(f"{fn}: '{what}' must be a table, got {_kind(v)}")
    return v


def _str(v: Any, fn: str, what: str, *, required: bool = False) -> str | None:
    if v is None:
        if required:
            raise ValidationError(f"{fn}: '{what}' is required (a string)")
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise ValidationError(f"{fn}: '{what}' must be a string, got {_kind(v)}")
    s = str(v)
    if required and not s.strip():
        raise ValidationError(f"{fn}: '{what}' must be a non-empty string")
    return s


def _int(v: Any, fn: str, what: str, lo: int, hi: int) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise ValidationError(f"{fn}: '{what}' must be an integer, got {v!r}")
    n = int(v)
    if n < lo or n > hi:
        raise ValidationError(f"{fn}: '{what}' must be between {lo} and {hi}, got {n}")
    return n


def _pick(o: dict[str, Any], *names: str) -> Any:
    for n in names:
        if o.get(n) is not None:
            return o[n]
    return None


_NS = re.compile(r"^(tenant|session|user|agent|workflow)[_:](.+)$")


def _scope(o: dict[str, Any], fn: str) -> tuple[str | None, str | None]:
    """``scope``/``scope_id`` from options; ``tenant_id`` wins (scope ``tenant``); a namespace string
    ``"tenant_acme"`` without a ``scope_id`` is split; ``collection = "session_<id>"`` (the
    ``namespace`` ``create_session_collection`` returns) names that namespace, another collection name
    is scope ``"collection"``."""
    tenant = _str(_pick(o, "tenant_id", "tenantId"), fn, "tenant_id")
    if tenant is not None:
        if not tenant:
            raise ValidationError(f"{fn}: 'tenant_id' must be a non-empty string")
        return "tenant", tenant
    scope = o.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise ValidationError(f"{fn}: 'scope' must be a string, got {_kind(scope)}")
    sid = _str(_pick(o, "scope_id", "scopeId"), fn, "scope_id")
    if scope is not None and not scope:
        raise ValidationError(f"{fn}: 'scope' must be a non-empty string")
    coll = _str(_pick(o, "collection", "namespace"), fn, "collection")
    if coll is not None and scope is None and sid is None:
        # a namespace name as create_session_collection returns it ("session_<id>"), or a named collection
        if not coll:
            raise ValidationError(f"{fn}: 'collection' must be a non-empty string")
        m = _NS.match(coll)
        return (m.group(1), m.group(2)) if m else ("collection", coll)
    if scope is not None and sid is None:
        m = _NS.match(scope)
        if m:
            return m.group(1), m.group(2)
    if sid is not None and scope is None:
        raise ValidationError(f"{fn}: 'scope_id' needs a 'scope' (e.g. scope = \"tenant\")")
    return scope, sid


# --------------------------------------------------------------------------------------- the global


@api_global("RAG")
class RagGlobal(ApiGlobal):
    """Retrieval-augmented generation: ingest documents, then find the chunks relevant to a question.

    Documents are split into chunks (``chunking = {chunk_size, overlap, strategy}``; sizes in words),
    embedded (``[rag] embedder``: a deterministic hashing embedder by default, ``wordllama`` offline
    or a provider's model) and kept in ``.llmspell/rag.db``: what one run ingests, the next finds.
    ``scope``/``scope_id`` (or ``tenant_id``) name an isolated namespace; ``search`` only ever sees
    the namespace it names (no scope = the global namespace). Ranking fuses cosine similarity with
    BM25 keyword scores (``[rag] vector_weight``, default 0.7 vector / 0.3 BM25).
    """

    def _index(self) -> Any:
        from llmspell.retrieval.index import rag_index

        return rag_index(self.ctx.runtime)

    def _run_settings(self) -> dict[str, Any]:
        # RAG.configure's settings for this runtime (shared by its spells, as the index is); kept apart
        # from the index so that configure() opens no database
        return self.ctx.runtime.service("rag_settings", lambda _rt: {})  # type: ignore[no-any-return]

    # -- search ---------------------------------------------------------------------------------

    @expose
    async def search(self, query: str | dict[str, Any],
                     opts: dict[str, Any] | None = None) -> RagSearchResponse | list[RagResult]:
        """Find the chunks most relevant to a query in one namespace.

        Args:
            query: What to look for. (Older scripts pass one table ``{query=..., top_k=...}``; that form
                returns the plain array of results.)
            opts: ``{top_k|k?, scope?, scope_id?, tenant_id?, collection?, threshold?,
                metadata_filter|filters?}``.
                ``top_k`` 1..``[rag] max_top_k`` (default ``[rag] default_top_k``, 5); ``threshold``
                0..1 drops weaker results; ``tenant_id = "x"`` means ``scope = "tenant", scope_id = "x"``;
                ``metadata_filter = {key = value}`` keeps chunks whose metadata has that value (a list
                value = any of them).

        Returns:
            ``{success = true, total = n, results = { {id, content, text, score, metadata}, ... }}``,
            best first.
        """
        fn = "RAG.search"
        legacy = isinstance(query, dict)
        if legacy:
            o = dict(_table(query, fn, "query"))
            o.update(_table(opts, fn, "opts"))
            if o.get("query") is None:
                raise ValidationError(f"{fn}: 'query' is required (RAG.search(query, opts) or RAG.search{{query=...}})")
            q = o["query"]
        else:
            o = _table(opts, fn, "opts")
            q = query
        if not isinstance(q, str):
            raise ValidationError(f"{fn}: 'query' must be a string, got {_kind(q)}")
        rc = self.ctx.runtime.config.rag
        k = _int(_pick(o, "top_k", "topK", "k", "limit"), fn, "top_k", 1, rc.max_top_k)
        threshold = o.get("threshold")
        if threshold is not None:
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
                raise ValidationError(f"{fn}: 'threshold' must be a number between 0 and 1, got {threshold!r}")
            if not 0.0 <= float(threshold) <= 1.0:
                raise ValidationError(f"{fn}: 'threshold' must be between 0 and 1, got {threshold}")
        raw_filter = _pick(o, "metadata_filter", "metadataFilter", "filters", "filter")
        filters = _table(raw_filter, fn, "metadata_filter") if raw_filter is not None else None
        scope, sid = _scope(o, fn)
        index = self._index()
        top_k = k if k is not None else int(self._run_settings().get("top_k", rc.default_top_k))
        results = await index.search(q, top_k=top_k, scope=scope, scope_id=sid,
                                     threshold=None if threshold is None else float(threshold),
                                     filters=filters or None)
        if legacy:
            return results  # type: ignore[no-any-return]
        return {"success": True, "total": len(results), "results": results}  # type: ignore[return-value]

    # -- ingest ---------------------------------------------------------------------------------

    def _documents(self, documents: Any, fn: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The documents, and the options a single document table carried itself (tenant_id...)."""
        if isinstance(documents, dict):
            docs, carried = [documents], {k: documents[k] for k in
                                          ("scope", "scope_id", "tenant_id", "chunking") if k in documents}
        elif isinstance(documents, list) and documents:
            docs, carried = documents, {}
        elif isinstance(documents, list):
            raise ValidationError(f"{fn}: no documents given (a table {{content=..., metadata=...}} or an array "
                                  "of them)")
        else:
            raise ValidationError(f"{fn}: 'documents' must be a document table {{content=..., id?, metadata?}} "
                                  f"or an array of them, got {_kind(documents)}")
        limit = self.ctx.runtime.config.rag.max_document_bytes
        out: list[dict[str, Any]] = []
        for i, d in enumerate(docs, 1):
            where = "" if len(docs) == 1 and isinstance(documents, dict) else f" (document {i})"
            if not isinstance(d, dict):
                raise ValidationError(f"{fn}: each document must be a table {{content=...}}{where}, got {_kind(d)}")
            content = _pick(d, "content", "text")
            if content is None:
                raise ValidationError(f"{fn}: document requires a 'content' or 'text' field{where}")
            if not isinstance(content, str):
                raise ValidationError(f"{fn}: 'content' must be a string{where}, got {_kind(content)}")
            if not content.strip():
                raise ValidationError(f"{fn}: 'content' must be a non-empty string{where}")
            if len(content.encode("utf-8", "surrogatepass")) > limit:
                raise ValidationError(f"{fn}: 'content'{where} is larger than [rag] max_document_bytes ({limit})")
            doc_id = _str(d.get("id"), fn, "id")
            if doc_id is not None and not doc_id.strip():
                raise ValidationError(f"{fn}: 'id'{where} must be a non-empty string")
            meta = _table(d.get("metadata"), fn, "metadata")
            out.append({"content": content, "id": doc_id, "metadata": meta})
        return out, carried

    @expose
    async def ingest(self, documents: dict[str, Any] | list[dict[str, Any]],
                     opts: dict[str, Any] | None = None) -> RagIngestResponse:
        """Chunk, embed and store documents (a document whose id is already stored in the namespace is
        replaced).

        Args:
            documents: One document ``{content|text, id?, metadata?}`` or an array of them.
            opts: ``{scope?, scope_id?, tenant_id?, collection?, provider?, chunking = {chunk_size?, overlap?,
                strategy?}}``. ``chunk_size``/``overlap`` count words (defaults ``[rag] chunk_size``,
                ``chunk_overlap``, or what ``RAG.configure`` set); ``strategy`` is ``"sliding_window"``
                (default) or ``"sentence"`` (whole sentences packed up to ``chunk_size``). ``provider``
                is accepted for compatibility; the configured ``[rag] embedder`` embeds.

        Returns:
            ``{success = true, documents_processed, vectors_created, total_tokens, document_ids}``.
        """
        fn = "RAG.ingest"
        docs, carried = self._documents(documents, fn)
        o = dict(carried)
        o.update(_table(opts, fn, "opts"))
        scope, sid = _scope(o, fn)
        _str(o.get("provider"), fn, "provider")
        settings = self._run_settings()
        rc = self.ctx.runtime.config.rag
        chunking = _table(o.get("chunking"), fn, "chunking")
        size = _int(_pick(chunking, "chunk_size", "chunkSize", "size"), fn, "chunking.chunk_size", 8, 8192)
        overlap = _int(_pick(chunking, "overlap", "chunk_overlap", "chunkOverlap"), fn, "chunking.overlap", 0, 4096)
        strategy = _str(chunking.get("strategy"), fn, "chunking.strategy")
        size = size if size is not None else int(settings.get("chunk_size", rc.chunk_size))
        if overlap is None:
            overlap = min(int(settings.get("chunk_overlap", rc.chunk_overlap)), size // 4)
        if overlap >= size:
            raise ValidationError(f"{fn}: 'chunking.overlap' ({overlap}) must be below chunk_size ({size})")
        from llmspell.retrieval.chunking import STRATEGIES

        strat = (strategy or str(settings.get("strategy", "sliding_window"))).lower()
        if strat not in STRATEGIES:
            raise ValidationError(f"{fn}: unknown 'chunking.strategy' \"{strategy}\"; valid: sliding_window, sentence")
        import uuid

        for d in docs:
            if d["id"] is None:
                d["id"] = str(uuid.uuid4())
        result = await self._index().ingest(docs, scope=scope, scope_id=sid, chunk_size=size, overlap=overlap,
                                            strategy=strat)
        result["document_ids"] = [d["id"] for d in docs]
        return result  # type: ignore[no-any-return]

    # -- housekeeping ---------------------------------------------------------------------------

    @expose
    async def get_stats(self, scope: str | None = None, scope_id: str | None = None) -> RagStats:
        """Size and usage of a namespace.

        Args:
            scope: ``"tenant"``, ``"session"``, ``"global"``...; nil = the whole index.
            scope_id: The namespace within the scope; nil = every namespace of the scope.

        Returns:
            ``{total_vectors, total_storage_bytes, vector_bytes, total_tokens, namespaces, dimensions,
            embedder, embeddings_generated, embedding_tokens, searches_performed}`` (the usage counters
            are per namespace: 0 without a ``scope_id``).
        """
        fn = "RAG.get_stats"
        sc = _str(scope, fn, "scope")
        sid = _str(scope_id, fn, "scope_id")
        if sc is not None and sid is None:
            m = _NS.match(sc)
            if m:
                sc, sid = m.group(1), m.group(2)
        index = self._index()
        if sc is None:
            whole: dict[str, Any] = await asyncio.to_thread(index.store.stats, None, None)
            return {**whole, "embeddings_generated": 0, "embedding_tokens": 0,  # type: ignore[return-value]
                    "searches_performed": 0}
        return await asyncio.to_thread(index.stats, sc, sid)  # type: ignore[no-any-return]

    @expose
    async def cleanup_scope(self, scope: str | dict[str, Any],
                            scope_id: str | None = None) -> int | RagCleanupResult:
        """Delete every chunk (and the usage counters) of a namespace.

        Args:
            scope: The scope (``"tenant"``, ``"session"``...). Older scripts pass one table
                ``{scope=..., scope_id=...}`` (or ``{scope = "tenant_acme"}``); that form returns
                ``{success, deleted, stats = {documents_removed, vectors_removed, storage_freed_mb}}``.
            scope_id: The namespace within the scope (required: a whole scope is never wiped by accident).

        Returns:
            The number of chunks deleted.
        """
        fn = "RAG.cleanup_scope"
        table = isinstance(scope, dict)
        if table:
            o = _table(scope, fn, "scope")
            sc, sid = _scope(o, fn)
        else:
            sc = _str(scope, fn, "scope", required=True)
            sid = _str(scope_id, fn, "scope_id")
            if sid is None and sc is not None:
                m = _NS.match(sc)
                if m:
                    sc, sid = m.group(1), m.group(2)
        if sc is None:
            raise ValidationError(f"{fn}: 'scope' is required (a string such as \"tenant\")")
        if sid is None:
            raise ValidationError(f"{fn}: 'scope_id' is required: which {sc} to clean up")
        index = self._index()

        def run() -> tuple[int, dict[str, Any]]:
            before = index.store.stats(sc, sid)
            docs = len({m.get("document_id") for m in index.store.namespace(sc, sid).all_metadata()})
            return index.delete_scope(sc, sid), {"documents_removed": docs, "vectors_removed": before["total_vectors"],
                                                 "storage_freed_mb": before["total_storage_bytes"] / 1e6}

        n, stats = await asyncio.to_thread(run)
        if table:
            return {"success": True, "deleted": n, "stats": stats}  # type: ignore[return-value]
        return n

    @expose
    def list_providers(self) -> list[str]:
        """The embedders this runtime can use (``[rag] embedder`` names).

        Returns:
            ``"hashing"`` always, ``"wordllama"`` when installed, and the configured one.
        """
        from llmspell.retrieval.embed import WordLlamaEmbedder

        out = ["hashing"]
        if WordLlamaEmbedder.available():
            out.append("wordllama")
        current = self.ctx.runtime.config.rag.embedder
        if current not in out:
            out.append(current)
        return out

    @expose
    async def save(self) -> None:
        """Flush the index to ``.llmspell/rag.db`` (every ingest is already committed; this folds the
        write-ahead log into the file)."""
        index = self._index()
        await asyncio.to_thread(index.store.save)

    @expose
    def configure(self, opts: dict[str, Any]) -> RagConfigureResult:
        """Settings for the rest of this run (every spell of the runtime shares the index).

        Args:
            opts: ``{chunk_size?, chunk_overlap?, strategy?, top_k?, session_ttl?}`` take effect:
                defaults of ``ingest`` chunking, of ``search``'s ``top_k`` and of
                ``create_session_collection``'s time to live (seconds). The index itself (embedder,
                dimensions, storage) comes from ``[rag]`` in llmspell.toml: ``backend``,
                ``embedding_provider``, ``embedding_model``, ``dimensions``, ``collection``,
                ``default_provider``, ``enable_cache``, ``cache_ttl`` are accepted and reported as ignored.

        Returns:
            ``{configured = true, applied = {...}, ignored = {...}}``.
        """
        fn = "RAG.configure"
        o = _table(opts, fn, "opts")
        rc = self.ctx.runtime.config.rag
        new: dict[str, Any] = {}
        size = _int(_pick(o, "chunk_size", "chunkSize"), fn, "chunk_size", 8, 8192)
        if size is not None:
            new["chunk_size"] = size
        overlap = _int(_pick(o, "chunk_overlap", "chunkOverlap", "overlap"), fn, "chunk_overlap", 0, 4096)
        if overlap is not None:
            new["chunk_overlap"] = overlap
        eff_size = new.get("chunk_size", self._run_settings().get("chunk_size", rc.chunk_size))
        eff_overlap = new.get("chunk_overlap", self._run_settings().get("chunk_overlap", rc.chunk_overlap))
        if "chunk_overlap" in new and eff_overlap >= eff_size:
            raise ValidationError(f"{fn}: 'chunk_overlap' ({eff_overlap}) must be below chunk_size ({eff_size})")
        strategy = _str(o.get("strategy"), fn, "strategy")
        if strategy is not None:
            from llmspell.retrieval.chunking import STRATEGIES

            if strategy.lower() not in STRATEGIES:
                raise ValidationError(f"{fn}: unknown 'strategy' \"{strategy}\"; valid: sliding_window, sentence")
            new["strategy"] = strategy.lower()
        top_k = _int(_pick(o, "top_k", "k", "default_k"), fn, "top_k", 1, rc.max_top_k)
        if top_k is not None:
            new["top_k"] = top_k
        ttl = _int(_pick(o, "session_ttl", "sessionTtl"), fn, "session_ttl", 1, 10 * 365 * 86400)
        if ttl is not None:
            new["session_ttl"] = ttl
        settings = self._run_settings()
        settings.update(new)
        ignored = sorted(k for k in o if k not in ("chunk_size", "chunkSize", "chunk_overlap", "chunkOverlap",
                                                   "overlap", "strategy", "top_k", "k", "default_k",
                                                   "session_ttl", "sessionTtl"))
        return {"configured": True, "applied": dict(settings), "ignored": ignored}  # type: ignore[return-value]

    @expose
    async def create_session_collection(self, session_id: str, ttl: int | None = None) -> RagSessionCollection:
        """Make a session's namespace (scope ``"session"``), optionally with a time to live: chunks
        ingested into it afterwards expire ``ttl`` seconds after their ingestion.

        Args:
            session_id: The session (e.g. ``Session.get_current()``).
            ttl: Seconds chunks live (default: ``RAG.configure{session_ttl}``, else forever).

        Returns:
            ``{session_id, namespace = "session_" .. id, ttl?, created = true}``; ingest and search with
            ``{scope = "session", scope_id = session_id}``.
        """
        fn = "RAG.create_session_collection"
        sid = _str(session_id, fn, "session_id", required=True)
        assert sid is not None
        t = _int(ttl, fn, "ttl", 1, 10 * 365 * 86400)
        if t is None and self._run_settings().get("session_ttl") is not None:
            t = int(self._run_settings()["session_ttl"])
        index = self._index()
        await asyncio.to_thread(index.store.set_namespace, "session", sid, ttl_s=t)
        out: dict[str, Any] = {"session_id": sid, "namespace": f"session_{sid}", "created": True}
        if t is not None:
            out["ttl"] = t
        return out  # type: ignore[return-value]

    @expose
    async def configure_session(self, opts: dict[str, Any]) -> RagSessionConfig:
        """Set a session namespace's time to live.

        Args:
            opts: ``{session_id, vector_ttl? = 3600}`` (seconds; applies to chunks ingested from now on).

        Returns:
            ``{session_id, vector_ttl, configured = true}``.
        """
        fn = "RAG.configure_session"
        o = _table(opts, fn, "opts")
        sid = _str(_pick(o, "session_id", "sessionId"), fn, "session_id", required=True)
        assert sid is not None
        ttl = _int(_pick(o, "vector_ttl", "vectorTtl", "ttl"), fn, "vector_ttl", 1, 10 * 365 * 86400)
        ttl = 3600 if ttl is None else ttl
        index = self._index()
        await asyncio.to_thread(index.store.set_namespace, "session", sid, ttl_s=ttl)
        return {"session_id": sid, "vector_ttl": ttl, "configured": True}  # type: ignore[return-value]
