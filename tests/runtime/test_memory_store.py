"""The memory store, extraction and context assembly as Python functions (no engine)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmspell.memory import context as cx
from llmspell.memory.extract import capitalised_phrases, extract, facts, keywords, metadata_topics
from llmspell.memory.store import MemoryStore

# Test doubles for the retrieval layer (the real ones are tested with it): a bag-of-words vector and
# term-overlap counts are enough to make rankings predictable here.
_TOK = re.compile(r"[a-z0-9]+")


def _embed(texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in _TOK.findall(t.lower()):
            out[i, hash(w) % 64] += 1.0
        n = np.linalg.norm(out[i])
        if n:
            out[i] /= n
    return out


def _lexical(query: str, docs: list[str], k1: float = 1.5, b: float = 0.75) -> np.ndarray:
    q = set(_TOK.findall(query.lower()))
    return np.array([float(sum(1 for w in _TOK.findall(d.lower()) if w in q)) for d in docs])


def _store(path: Path | None = None, **kw: Any) -> MemoryStore:
    return MemoryStore(path, embed=_embed, embed_name="bow/64", lexical=_lexical, **kw)


# ------------------------------------------------------------------------------------- extraction


def test_facts_capture_key_value_statements() -> None:
    got = {(m.name, m.properties["value"]) for m in facts("favorite language: Rust\nname = Alice; role: engineer")}
    assert got == {("favorite language", "Rust"), ("name", "Alice"), ("role", "engineer")}
    assert facts("see https://example.com at 10:30") == []


def test_capitalised_phrases_skip_sentence_initial_common_words() -> None:
    names = [m.name for m in capitalised_phrases(
        "The Rust compiler checks Memory Safety. What about New York? Explain it. I like JavaScript and API design.")]
    assert names == ["Rust", "Memory Safety", "New York", "JavaScript", "API"]


def test_keywords_and_topics() -> None:
    assert keywords("ownership and borrowing: ownership rules") == {"ownership": 2, "borrowing": 1, "rules": 1}
    assert [m.name for m in metadata_topics({"topic": "rust", "tags": ["memory", 3], "other": "x"})] == [
        "rust", "memory"]
    mentions, kws = extract("Rust ownership", {"topic": "systems"})  # "Rust" opening a sentence counts
    assert [(m.entity_type, m.name) for m in mentions] == [("entity", "Rust"), ("topic", "systems")]
    assert kws == {"ownership": 1}


# ------------------------------------------------------------------------------------- episodic


def test_search_ranks_within_a_session_and_isolates_sessions() -> None:
    s = _store()
    s.add_entry("a", "user", "How do I bake bread?", {})
    s.add_entry("a", "user", "Rust ownership and borrowing rules", {})
    s.add_entry("a", "assistant", "Bread needs flour, water and time", {})
    s.add_entry("b", "user", "Rust ownership in session b", {})
    hits = s.search_entries("a", "rust ownership", 10)
    assert hits[0]["content"] == "Rust ownership and borrowing rules"
    assert {h["session_id"] for h in hits} == {"a"}
    assert hits[0]["score"] >= hits[-1]["score"]
    every = s.search_entries("", "rust ownership", 2)
    assert {h["session_id"] for h in every} == {"a", "b"}
    assert s.search_entries("c", "rust", 10) == []


def test_empty_query_lists_recent_entries_in_order() -> None:
    s = _store()
    ids = [s.add_entry("a", "user", f"message {i}", {"i": i}) for i in range(5)]
    got = s.search_entries("a", "", 3)
    assert [g["id"] for g in got] == ids[2:]
    assert got[0]["metadata"] == {"i": 2} and got[0]["processed"] is False
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", got[0]["timestamp"])
    assert "score" not in got[0]


def test_entries_of_another_embedder_are_re_embedded(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    s = _store(db)
    s.add_entry("a", "user", "alpha beta", {})
    s.close()
    calls: list[int] = []

    def counting(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return _embed(texts)

    s2 = MemoryStore(db, embed=counting, embed_name="other/64", lexical=_lexical)
    assert s2.search_entries("a", "alpha", 5)[0]["content"] == "alpha beta"
    assert calls == [1, 1]  # the stale row, then the query
    s2.search_entries("a", "alpha", 5)
    assert calls == [1, 1, 1]  # now only the query
    s2.close()


def test_persistence_across_store_instances(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    s = _store(db)
    s.add_entry("sess", "user", "Remember the Falcon project", {})
    s.consolidate(None, False)
    s.close()
    s2 = _store(db)
    assert s2.count_entries() == 1
    assert any(e["name"] == "Falcon" for e in s2.query_entities("falcon", 5))
    with pytest.raises(RuntimeError, match="closed"):
        s.count_entries()
    s2.close()


# ------------------------------------------------------------------------------------- consolidation


def test_consolidate_extracts_entities_and_marks_entries() -> None:
    s = _store()
    s.add_entry("a", "user", "I am learning Rust. favorite editor: Neovim", {"topic": "programming"})
    s.add_entry("a", "assistant", "Rust ownership prevents data races; ownership is checked at compile time", {})
    s.add_entry("b", "user", "ok", {})
    r = s.consolidate("a", False)
    assert r["entries_processed"] == 2 and r["entries_skipped"] == 0 and r["entries_failed"] == 0
    assert r["entities_deleted"] == 0 and isinstance(r["duration_ms"], int)
    ents = {(e["entity_type"], e["name"]): e for e in s.query_entities("", 50)}
    assert ("entity", "Rust") in ents and ("fact", "favorite editor") in ents
    assert ("topic", "programming") in ents and ("concept", "ownership") in ents
    assert ents[("entity", "Rust")]["properties"]["mentions"] == 2
    assert ents[("fact", "favorite editor")]["properties"]["value"] == "Neovim"
    assert r["entities_added"] == len(ents)
    st = s.stats()
    assert st["sessions_with_unprocessed"] == 1 and st["consolidation_status"] == "pending"
    # session b untouched; nothing extractable there: skipped, but processed
    r2 = s.consolidate(None, False)
    assert r2["entries_processed"] == 0 and r2["entries_skipped"] == 1
    assert s.stats()["sessions_with_unprocessed"] == 0 and s.stats()["consolidation_status"] == "idle"


def test_consolidate_is_idempotent_and_updates_facts() -> None:
    s = _store()
    s.add_entry("a", "user", "favorite editor: Vim. I use Rust.", {})
    first = s.consolidate(None, False)
    again = s.consolidate(None, True)  # force: re-read, but nothing changes
    assert again["entries_processed"] == 1
    assert again["entities_added"] == 0 and again["entities_updated"] == 0
    assert s.consolidate(None, False)["entries_processed"] == 0
    s.add_entry("a", "user", "favorite editor: Helix", {})
    upd = s.consolidate(None, False)
    assert upd["entities_added"] == 1 and upd["entities_updated"] == 1  # the name Helix; the fact
    fact = next(e for e in s.query_entities("favorite editor", 5) if e["entity_type"] == "fact")
    assert fact["properties"]["value"] == "Helix" and fact["properties"]["mentions"] == 2
    assert s.stats()["semantic_count"] == first["entities_added"] + 1


def test_semantic_query_ranks_by_the_query() -> None:
    s = _store()
    s.add_entry("a", "user", "Paris is in France. Berlin is in Germany.", {})
    s.consolidate(None, False)
    top = s.query_entities("Berlin", 3)
    assert top[0]["name"] == "Berlin" and set(top[0]) >= {
        "id", "name", "entity_type", "properties", "event_time", "ingestion_time"}
    assert len(s.query_entities("", 1)) == 1


# ------------------------------------------------------------------------------------- context


def test_token_estimate_is_bytes_over_four_rounded_up() -> None:
    assert cx.estimate_tokens("") == 0
    assert cx.estimate_tokens("abcde") == 2
    assert cx.estimate_tokens("é" * 4) == 2  # 8 UTF-8 bytes


def _chunk(i: int, content: str, ts: str = "2025-01-01T00:00:00.000000Z") -> dict[str, Any]:
    return {"id": str(i), "content": content, "source": "memory:episodic:s", "timestamp": ts, "metadata": {}}


def test_rerank_scores_relative_to_best_and_drops_weak_chunks() -> None:
    chunks = [_chunk(1, "rust rust ownership"), _chunk(2, "rust"), _chunk(3, "bread"), _chunk(4, "x " * 3 + "rust")]
    ranked = cx.rerank("rust ownership", chunks, _lexical, 10, 0.3)
    assert [r["chunk"]["id"] for r in ranked] == ["1", "2", "4"]
    assert ranked[0]["score"] == 1.0 and all(r["ranker"] == "bm25" for r in ranked)
    assert cx.rerank("rust ownership", chunks, _lexical, 10, 0.5)[-1]["chunk"]["id"] == "1"
    assert cx.rerank("zzz", chunks, _lexical, 10, 0.3) == []


def test_assemble_respects_the_budget_and_reports_span() -> None:
    ranked = [
        {"chunk": _chunk(1, "a" * 400, "2025-01-02T00:00:00.000000Z"), "score": 1.0, "ranker": "bm25"},
        {"chunk": _chunk(2, "b" * 400, "2025-01-01T00:00:00.000000Z"), "score": 0.8, "ranker": "bm25"},
        {"chunk": _chunk(3, "c" * 40, "2025-01-03T00:00:00.000000Z"), "score": 0.5, "ranker": "bm25"},
    ]
    out = cx.assemble_ranked(ranked, 120)  # 100 + 100 would not fit: the second is skipped, the third fits
    assert [c["chunk"]["id"] for c in out["chunks"]] == ["1", "3"]
    assert out["token_count"] == 110
    assert out["temporal_span"] == ["2025-01-02T00:00:00.000000Z", "2025-01-03T00:00:00.000000Z"]
    assert out["total_confidence"] == 0.75
    assert out["formatted"].startswith("[2025-01-02 00:00:00 | score: 1.00 | source: memory:episodic:s]\n" + "a" * 400)
    assert "\n\n---\n\n" in out["formatted"]
    assert cx.assemble_ranked(ranked[:1], 50) == cx.empty_context()


def test_assemble_strategies_draw_from_the_right_places() -> None:
    s = _store()
    s.add_entry("a", "user", "Rust ownership rules keep memory safe", {})
    s.add_entry("b", "user", "Rust in another session", {})
    s.consolidate(None, False)

    async def episodic(sess: str, q: str, n: int) -> list[dict[str, Any]]:
        return s.search_entries(sess, q, n)

    async def semantic(q: str, n: int) -> list[dict[str, Any]]:
        return s.query_entities(q, n)

    async def rag(q: str, n: int) -> list[dict[str, Any]]:
        return [{"id": "doc1", "content": "Rust book chapter on ownership", "score": 0.9,
                 "metadata": {"source": "book.md"}}]

    def run(strategy: str, session: str | None = None, use_rag: bool = False) -> dict[str, Any]:
        return asyncio.run(cx.assemble("rust ownership", strategy, 8192, session, episodic=episodic,
                                       semantic=semantic, rag=rag if use_rag else None, bm25=_lexical,
                                       candidates=50, min_confidence=0.0, now_iso="2025-01-01T00:00:00.000000Z"))

    ep = run("episodic", "a")
    assert {c["chunk"]["source"] for c in ep["chunks"]} == {"memory:episodic:a"}
    sem = run("semantic")
    assert sem["chunks"] and all(c["chunk"]["source"].startswith("memory:semantic:") for c in sem["chunks"])
    hyb = run("hybrid", "a")
    assert {c["chunk"]["source"].split(":")[1] for c in hyb["chunks"]} == {"episodic", "semantic"}
    rg = run("rag", "a", use_rag=True)
    assert "rag:book.md" in {c["chunk"]["source"] for c in rg["chunks"]}
    empty = asyncio.run(cx.assemble("nothing here", "episodic", 8192, "zzz", episodic=episodic, semantic=semantic,
                                    rag=None, bm25=_lexical, candidates=50, min_confidence=0.3, now_iso=""))
    assert empty == {"chunks": [], "total_confidence": 0.0, "temporal_span": [None, None], "token_count": 0,
                     "formatted": ""}
