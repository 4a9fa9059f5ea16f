"""``Context.assemble``: retrieve → BM25 re-rank → assemble under a token budget.

Strategies (as rs-llmspell's ``ContextBridge``):

* ``episodic``: episodic entries ranked by the query (only ``session_id``'s when one is given);
* ``semantic``: consolidated entities ranked by the query;
* ``hybrid``: both;
* ``rag``: the RAG index's best chunks plus hybrid memory (memory only when no RAG index exists).

Every retrieved chunk is re-scored with BM25 (k1=1.5, b=0.75) against the query; the score a chunk
carries is its BM25 score divided by the best one (so 1.0 for the best chunk; rs-llmspell uses
1/rank), chunks without any query term are dropped, and so are chunks scoring under
``[memory] min_confidence`` (0.3). The rest are taken best first while they fit the budget (a chunk
that does not fit is skipped, a smaller one after it may still fit). Tokens are estimated as
rs-llmspell does: ⌈UTF-8 bytes / 4⌉ per chunk content.

Chunk sources: ``memory:episodic:<session_id>``, ``memory:semantic:<entity_type>`` and
``rag:<source>`` (the document's ``source`` metadata, else its id).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

STRATEGIES = ("episodic", "semantic", "hybrid", "rag")
MIN_TOKENS = 100
BM25_K1 = 1.5
BM25_B = 0.75


def estimate_tokens(text: str) -> int:
    """⌈UTF-8 bytes / 4⌉: rs-llmspell's estimate (about 4 bytes per token for English text)."""
    return math.ceil(len(text.encode("utf-8")) / 4)


def empty_context() -> dict[str, Any]:
    """What ``assemble`` returns when nothing is retrieved (as rs-llmspell)."""
    return {"chunks": [], "total_confidence": 0.0, "temporal_span": [None, None], "token_count": 0,
            "formatted": ""}


def episodic_chunk(entry: dict[str, Any]) -> dict[str, Any]:
    meta = dict(entry.get("metadata") or {})
    meta.update(role=entry["role"], session_id=entry["session_id"], kind="episodic")
    return {"id": entry["id"], "content": entry["content"], "source": f"memory:episodic:{entry['session_id']}",
            "timestamp": entry["timestamp"], "metadata": meta}


def entity_chunk(entity: dict[str, Any]) -> dict[str, Any]:
    props = entity.get("properties") or {}
    text = f"{entity['name']} ({entity['entity_type']})"
    if "value" in props:
        text += f": {props['value']}"
    elif props.get("context"):
        text += f": {props['context']}"
    meta = {"kind": "semantic", "entity_type": entity["entity_type"], "name": entity["name"],
            "mentions": props.get("mentions", 0)}
    return {"id": entity["id"], "content": text, "source": f"memory:semantic:{entity['entity_type']}",
            "timestamp": entity["event_time"], "metadata": meta}


def rag_chunk(hit: dict[str, Any], now_iso: str) -> dict[str, Any]:
    meta = dict(hit.get("metadata") or {})
    content = hit.get("content") or hit.get("text") or ""
    source = meta.get("source") or hit.get("id") or "index"
    ts = meta.get("timestamp") or meta.get("ingested_at") or now_iso
    meta.setdefault("kind", "rag")
    if "score" in hit:
        meta.setdefault("retrieval_score", hit["score"])
    return {"id": str(hit.get("id", "")), "content": str(content), "source": f"rag:{source}",
            "timestamp": str(ts), "metadata": meta}


def rerank(query: str, chunks: list[dict[str, Any]], bm25: Callable[..., Any], top_k: int,
           min_confidence: float) -> list[dict[str, Any]]:
    """``{chunk, score, ranker="bm25"}`` best first (see the module docstring)."""
    if not chunks:
        return []
    # one chunk per id (hybrid/rag can retrieve the same text twice)
    seen: set[str] = set()
    uniq = []
    for ch in chunks:
        key = ch["id"] or ch["content"]
        if key not in seen:
            seen.add(key)
            uniq.append(ch)
    raw = np.asarray(bm25(query, [c["content"] for c in uniq], k1=BM25_K1, b=BM25_B), dtype=np.float64)
    best = float(raw.max()) if raw.size else 0.0
    if best <= 0:
        return []
    order = sorted(range(len(uniq)), key=lambda i: uniq[i]["timestamp"], reverse=True)  # ties: newest first
    order.sort(key=lambda i: -raw[i])
    out = []
    for i in order[:top_k]:
        score = float(raw[i]) / best
        if raw[i] <= 0 or score < min_confidence:
            continue
        out.append({"chunk": uniq[i], "score": round(score, 6), "ranker": "bm25"})
    return out


def assemble_ranked(ranked: list[dict[str, Any]], max_tokens: int) -> dict[str, Any]:
    """Select best-first under the budget; the AssembledContext table."""
    selected: list[dict[str, Any]] = []
    tokens = 0
    for rc in ranked:
        n = estimate_tokens(rc["chunk"]["content"])
        if tokens + n > max_tokens:
            continue
        tokens += n
        selected.append(rc)
    if not selected:
        return empty_context()
    stamps = sorted(rc["chunk"]["timestamp"] for rc in selected)
    formatted = "\n\n---\n\n".join(
        f"[{_display_time(rc['chunk']['timestamp'])} | score: {rc['score']:.2f} | source: {rc['chunk']['source']}]\n"
        f"{rc['chunk']['content']}" for rc in selected)
    return {
        "chunks": selected,
        "total_confidence": round(sum(rc["score"] for rc in selected) / len(selected), 6),
        "temporal_span": [stamps[0], stamps[-1]],
        "token_count": tokens,
        "formatted": formatted,
    }


def _display_time(ts: str) -> str:
    """``2025-01-02T03:04:05.000000Z`` -> ``2025-01-02 03:04:05``."""
    return ts[:19].replace("T", " ") if len(ts) >= 19 and ts[10:11] == "T" else ts


async def assemble(query: str, strategy: str, max_tokens: int, session_id: str | None, *,
                   episodic: Callable[[str, str, int], Awaitable[list[dict[str, Any]]]],
                   semantic: Callable[[str, int], Awaitable[list[dict[str, Any]]]],
                   rag: Callable[[str, int], Awaitable[list[dict[str, Any]]]] | None,
                   bm25: Callable[..., Any], candidates: int, min_confidence: float,
                   now_iso: str) -> dict[str, Any]:
    """Run one strategy; the retrieval functions are injected (the store's searches, the RAG index)."""
    chunks: list[dict[str, Any]] = []
    sess = session_id or ""
    if strategy in ("episodic", "hybrid", "rag"):
        n = candidates if strategy == "episodic" else max(candidates // 2, 1)
        chunks += [episodic_chunk(e) for e in await episodic(sess, query, n)]
    if strategy in ("semantic", "hybrid", "rag"):
        n = candidates if strategy == "semantic" else max(candidates // 2, 1)
        chunks += [entity_chunk(e) for e in await semantic(query, n)]
    if strategy == "rag" and rag is not None:
        chunks += [rag_chunk(h, now_iso) for h in await rag(query, max(candidates // 2, 1))]
    if not chunks:
        return empty_context()
    ranked = rerank(query, chunks, bm25, max(max_tokens // 2, 1), min_confidence)
    return assemble_ranked(ranked, max_tokens)
