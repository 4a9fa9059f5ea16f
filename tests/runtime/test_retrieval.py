"""Retrieval core: embedders, BM25, chunking, the vector store and the hybrid RAG index."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmspell.config import RagConfig, RuntimeConfig
from llmspell.core.errors import ConfigurationError
from llmspell.retrieval import embed as embed_mod
from llmspell.retrieval.chunking import chunk_text, count_tokens
from llmspell.retrieval.embed import Embedder, HashingEmbedder, ProviderEmbedder, WordLlamaEmbedder, get_embedder
from llmspell.retrieval.index import RagIndex
from llmspell.retrieval.lexical import LexicalIndex, bm25_scores
from llmspell.retrieval.vectors import VectorItem, VectorStore, matches, top_k_indices

# -- embedders -------------------------------------------------------------------------------------


def test_hashing_embedder_shape_norm_and_zero_row() -> None:
    e = HashingEmbedder()
    assert isinstance(e, Embedder)
    v = e.embed(["Rust ownership and borrowing", "", "!!!"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert abs(float(np.linalg.norm(v[0])) - 1.0) < 1e-5
    assert not v[1].any() and not v[2].any()
    assert e.embed([]).shape == (0, 384)


def test_hashing_embedder_similar_text_scores_higher() -> None:
    e = HashingEmbedder()
    q, near, far = e.embed(["rust borrow checker rules", "the Rust borrow checker enforces rules",
                            "baking sourdough bread at home"])
    assert float(q @ near) > 0.4
    assert float(q @ near) > float(q @ far) + 0.3


def test_hashing_embedder_is_stable_across_processes() -> None:
    """Not Python's randomised hash(): another interpreter (another PYTHONHASHSEED) gives the same vector."""
    code = textwrap.dedent("""
        from llmspell.retrieval.embed import HashingEmbedder
        v = HashingEmbedder(64).embed(["stable hashing across processes"])[0]
        print(",".join(f"{x:.6f}" for x in v))
    """)
    outs = set()
    for seed in ("1", "2"):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin",
                                "PYTHONPATH": str(Path(embed_mod.__file__).parents[2])})
        outs.add(r.stdout.strip())
    assert len(outs) == 1
    here = HashingEmbedder(64).embed(["stable hashing across processes"])[0]
    assert ",".join(f"{x:.6f}" for x in here) == outs.pop()


def test_hashing_embedder_dim_validation() -> None:
    with pytest.raises(ValueError, match="dim"):
        HashingEmbedder(1)
    assert HashingEmbedder(32).embed(["x y"]).shape == (1, 32)


def test_get_embedder_default_cached_and_dimensions() -> None:
    a = get_embedder(RuntimeConfig())
    assert a.name == "hashing" and a.dim == 384
    assert get_embedder(RuntimeConfig()) is a
    b = get_embedder(RuntimeConfig(rag=RagConfig(dimensions=128)))
    assert b.dim == 128 and b is not a


def test_rag_config_validation() -> None:
    assert RagConfig(embedder=" WordLlama ").embedder == "wordllama"
    assert RagConfig(embedder="provider:openai/text-embedding-3-small").embedder.startswith("provider:openai/")
    for bad in ("bert", "provider:", ""):
        with pytest.raises(Exception, match="hashing"):
            RagConfig(embedder=bad)
    with pytest.raises(Exception, match="chunk_overlap"):
        RagConfig(chunk_size=10, chunk_overlap=10)
    with pytest.raises(Exception, match="vector_weight"):
        RagConfig(vector_weight=1.5)


def test_provider_embedder_needs_configured_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match=r"\[providers.openai\]"):
        get_embedder(RuntimeConfig(rag=RagConfig(embedder="provider:openai/text-embedding-3-small")))
    cfg = RuntimeConfig.model_validate({"providers": {"openai": {"api_key_env": "RAG_TEST_KEY_X"}},
                                        "rag": {"embedder": "provider:openai/text-embedding-3-small"}})
    monkeypatch.delenv("RAG_TEST_KEY_X", raising=False)
    with pytest.raises(ConfigurationError, match="RAG_TEST_KEY_X"):
        get_embedder(cfg)


def test_provider_embedder_maps_litellm_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    class Fake:
        @staticmethod
        def embedding(**kw: Any) -> dict[str, Any]:
            calls.append(kw)
            return {"data": [{"index": i, "embedding": [float(i + 1), 0.0, 1.0]} for i in range(len(kw["input"]))]}

    import llmspell.providers.litellm_provider as lp

    monkeypatch.setattr(lp, "_import_litellm", lambda: Fake)
    e = ProviderEmbedder("openai/emb", api_key="k", timeout_s=7.0)
    out = e.embed(["a", "", "b"])
    assert e.dim == 3 and out.shape == (3, 3)
    assert not out[1].any()
    assert abs(float(np.linalg.norm(out[2])) - 1.0) < 1e-5
    assert calls[0]["input"] == ["a", "b"] and calls[0]["timeout"] == 7.0 and calls[0]["num_retries"] == 0


@pytest.mark.skipif(not WordLlamaEmbedder.available(), reason="wordllama not installed")
def test_wordllama_embedder_offline() -> None:
    e = WordLlamaEmbedder()
    v = e.embed(["memory safety in rust", "", "rust ownership model"])
    assert v.shape == (3, e.dim) and not v[1].any()
    assert abs(float(np.linalg.norm(v[0])) - 1.0) < 1e-4
    assert float(v[0] @ v[2]) > 0.2


# -- BM25 --------------------------------------------------------------------------------------------


def test_bm25_scores_ranks_overlap_and_handles_edges() -> None:
    docs = ["the cat sat on the mat", "dogs chase cats", "quantum chromodynamics lecture"]
    s = bm25_scores("cat mat", docs)
    assert s.shape == (3,) and s[0] > 0 and s[0] > s[1] and s[2] == 0
    assert bm25_scores("anything", []).shape == (0,)
    assert not bm25_scores("zebra", docs).any()
    assert not bm25_scores("", docs).any()
    assert not bm25_scores("cat", ["", "  "]).any()
    with pytest.raises(ValueError, match="b must"):
        bm25_scores("x", ["x"], b=2.0)


def test_lexical_index_reuse() -> None:
    ix = LexicalIndex(["alpha beta", "beta gamma", "delta"])
    assert ix.scores("gamma").argmax() == 1
    assert ix.scores("alpha").argmax() == 0


# -- chunking --------------------------------------------------------------------------------------


def test_sliding_window_chunks_overlap() -> None:
    text = " ".join(f"w{i}" for i in range(25))
    chunks = chunk_text(text, 10, 3)
    assert [c.tokens for c in chunks] == [10, 10, 10, 4]
    assert chunks[0].text.split()[-3:] == chunks[1].text.split()[:3]
    assert chunks[-1].text.split()[-1] == "w24"
    assert chunk_text("   ", 10, 3) == []
    assert len(chunk_text("short text", 10, 3)) == 1


def test_sentence_chunks_keep_sentences_whole() -> None:
    text = "One two three four. Five six seven. Eight nine ten eleven twelve. Thirteen fourteen."
    chunks = chunk_text(text, 8, 0, "sentence")
    assert [c.text for c in chunks] == ["One two three four. Five six seven.",
                                        "Eight nine ten eleven twelve. Thirteen fourteen."]
    over = chunk_text(text, 8, 3, "sentence")
    assert over[1].text.startswith("Five six seven.")
    long = "a " * 30 + "end."
    assert all(c.tokens <= 8 for c in chunk_text(long, 8, 2, "sentence"))


def test_chunking_errors_and_token_count() -> None:
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("a b c", 5, 5)
    with pytest.raises(ValueError, match="strategy"):
        chunk_text("a b c", 5, 1, "magic")
    assert count_tokens("one  two\nthree") == 3


# -- vector store ----------------------------------------------------------------------------------


def _store(path: Path | None = None, clock: Any = None) -> tuple[VectorStore, HashingEmbedder]:
    e = HashingEmbedder(64)
    kw: dict[str, Any] = {"clock": clock} if clock else {}
    return VectorStore(path, embedder="hashing/64", dim=64, reembed=e.embed, **kw), e


def _item(e: HashingEmbedder, id: str, text: str, scope: str = "global", sid: str = "", **meta: Any) -> VectorItem:
    return VectorItem(id, text, e.embed([text])[0], dict(meta), scope, sid)


def test_store_namespaces_never_see_each_other() -> None:
    st, e = _store()
    st.add([_item(e, "a", "secret plan of acme", "tenant", "acme"),
            _item(e, "b", "secret plan of globex", "tenant", "globex"),
            _item(e, "c", "public secret plan")])
    q = e.embed(["secret plan"])[0]
    assert [h.id for h in st.search(q, 10, "tenant", "acme")] == ["a"]
    assert [h.id for h in st.search(q, 10, "tenant", "globex")] == ["b"]
    assert [h.id for h in st.search(q, 10)] == ["c"]
    assert st.search(q, 10, "tenant", "initech") == []
    assert st.count("tenant", "acme") == 1 and st.count() == 3
    assert st.delete_scope("tenant", "acme") == 1
    assert st.search(q, 10, "tenant", "acme") == [] and st.count("tenant", "globex") == 1


def test_store_search_threshold_filters_and_k() -> None:
    st, e = _store()
    st.add([_item(e, "1", "red apples", kind="fruit", tags=["x", "y"]), _item(e, "2", "green apples", kind="fruit"),
            _item(e, "3", "red cars", kind="car", year=2020)])
    q = e.embed(["red apples"])[0]
    hits = st.search(q, 2)
    assert [h.id for h in hits] == ["1", "2"] and hits[0].score > hits[1].score
    assert abs(hits[0].score - 1.0) < 1e-5
    assert [h.id for h in st.search(q, 5, threshold=0.99)] == ["1"]
    assert {h.id for h in st.search(q, 5, filters={"kind": "car"})} == {"3"}
    assert {h.id for h in st.search(q, 5, filters={"tags": "y"})} == {"1"}
    assert {h.id for h in st.search(q, 5, filters={"year": {"$gte": 2019}})} == {"3"}
    assert st.search(q, 0) == []


def test_store_replaces_same_id_and_documents() -> None:
    st, e = _store()
    st.add([VectorItem("d#0", "old one", e.embed(["old one"])[0], doc_id="d"),
            VectorItem("d#1", "old two", e.embed(["old two"])[0], doc_id="d")])
    st.add([VectorItem("d", "new", e.embed(["new"])[0], doc_id="d")])
    assert st.count() == 1 and st.namespace(None, None).contents == ["new"]


def test_store_persists_and_sees_other_connections(tmp_path: Path) -> None:
    db = tmp_path / "rag.db"
    st, e = _store(db)
    st.add([_item(e, "a", "persistent chunk")])
    other, _ = _store(db)
    assert [h.id for h in other.search(e.embed(["persistent chunk"])[0], 3)] == ["a"]
    st.add([_item(e, "b", "written later by the first connection")])
    assert other.count() == 2
    assert {h.id for h in other.search(e.embed(["written later"])[0], 3)} == {"a", "b"}  # cache refreshed
    st.close()
    other.close()
    again, _ = _store(db)
    assert again.count() == 2
    again.close()
    with pytest.raises(RuntimeError, match="closed"):
        again.count()


def test_store_reembeds_rows_of_another_embedder(tmp_path: Path) -> None:
    db = tmp_path / "rag.db"
    e64 = HashingEmbedder(64)
    st = VectorStore(db, embedder="hashing/64", dim=64, reembed=e64.embed)
    st.add([_item(e64, "a", "vectors from the old model")])
    st.close()
    e32 = HashingEmbedder(32)
    st2 = VectorStore(db, embedder="hashing/32", dim=32, reembed=e32.embed)
    hits = st2.search(e32.embed(["vectors from the old model"])[0], 1)
    assert hits and hits[0].id == "a" and abs(hits[0].score - 1.0) < 1e-5
    st2.close()


def test_store_ttl_expires_chunks() -> None:
    now = [1000.0]
    st, e = _store(clock=lambda: now[0])
    st.set_namespace("session", "s1", ttl_s=60)
    st.add([_item(e, "x", "short lived", "session", "s1"), _item(e, "y", "forever")])
    q = e.embed(["short lived"])[0]
    assert [h.id for h in st.search(q, 1, "session", "s1")] == ["x"]
    now[0] += 61
    assert st.search(q, 1, "session", "s1") == []
    assert st.count() == 1


def test_store_stats_and_counters() -> None:
    st, e = _store()
    st.add([_item(e, "a", "one two", "tenant", "t")])
    s = st.stats("tenant", "t")
    assert s["total_vectors"] == 1 and s["vector_bytes"] == 64 * 4 and s["total_storage_bytes"] > 256
    st.bump_counter("tenant", "t", "searches_performed")
    st.bump_counter("tenant", "t", "searches_performed", 2)
    assert st.counters("tenant", "t") == {"searches_performed": 3}
    assert st.counters("tenant", "u") == {}


def test_matches_and_top_k() -> None:
    assert matches({"a": 1}, None) and matches({"a": 1}, {"a": [1, 2]}) and not matches({"a": 3}, {"a": [1, 2]})
    assert matches({"a": 1}, {"b": {"$exists": False}}) and not matches({"a": 1}, {"a": {"$ne": 1}})
    assert not matches({"a": "x"}, {"a": {"$gt": 1}})
    assert list(top_k_indices(np.array([0.1, 0.9, 0.5]), 2)) == [1, 2]
    assert list(top_k_indices(np.array([0.1, 0.9]), 5)) == [1, 0]
    assert top_k_indices(np.zeros(0), 3).size == 0


# -- the index ---------------------------------------------------------------------------------------


def _index(weight: float = 0.7) -> RagIndex:
    e = HashingEmbedder(256)
    return RagIndex(VectorStore(None, embedder="hashing/256", dim=256, reembed=e.embed), e, vector_weight=weight,
                    chunk_size=20, chunk_overlap=5)


DOCS = [
    {"id": "rust", "content": "Rust guarantees memory safety through ownership and the borrow checker.",
     "metadata": {"lang": "rust"}},
    {"id": "py", "content": "Python manages memory with reference counting and a cyclic garbage collector.",
     "metadata": {"lang": "python"}},
    {"id": "bread", "content": "Sourdough bread needs a starter, flour, water and patience.",
     "metadata": {"lang": "none"}},
]


def test_index_hybrid_search_ranks_and_scores_in_unit_range() -> None:
    ix = _index()
    r = ix.ingest_sync(DOCS)
    assert r == {"success": True, "documents_processed": 3, "vectors_created": 3, "total_tokens": 30}
    hits = ix.search_sync("borrow checker ownership", top_k=3)
    assert hits[0]["id"] == "rust" and hits[0]["content"] == hits[0]["text"]
    assert all(0.0 <= h["score"] <= 1.0 for h in hits)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert hits[0]["metadata"]["lang"] == "rust" and hits[0]["metadata"]["document_id"] == "rust"
    assert ix.search_sync("garbage collector", top_k=1)[0]["id"] == "py"
    assert ix.search_sync("memory", top_k=5, filters={"lang": "python"})[0]["id"] == "py"
    assert len(ix.search_sync("memory", top_k=5, filters={"lang": "python"})) == 1
    assert ix.search_sync("borrow checker", top_k=3, threshold=0.99) == []


def test_index_bm25_weight_matters() -> None:
    """With BM25 in the mix, an exact rare keyword beats vector-only similarity noise."""
    pure = _index(1.0)
    lex = _index(0.0)
    for ix in (pure, lex):
        ix.ingest_sync(DOCS)
    top = lex.search_sync("patience", top_k=3)
    assert [(h["id"], h["score"]) for h in top] == [("bread", 1.0)]  # no shared word: score 0, left out
    assert pure.search_sync("patience", top_k=1)[0]["id"] == "bread"


def test_index_chunks_long_documents_and_reingest_replaces() -> None:
    ix = _index()
    text = " ".join(f"token{i}" for i in range(50))
    r = ix.ingest_sync([{"id": "long", "content": text}], chunk_size=20, overlap=5)
    assert r["vectors_created"] == 3 and r["total_tokens"] == 20 + 20 + 20
    hit = ix.search_sync("token45", top_k=1)[0]
    assert hit["id"] == "long#2" and hit["metadata"]["chunk_index"] == 2 and hit["metadata"]["chunk_count"] == 3
    ix.ingest_sync([{"id": "long", "content": "now short"}])
    assert ix.store.count() == 1


def test_index_stats_counters_and_scope_isolation() -> None:
    ix = _index()
    ix.ingest_sync(DOCS[:1], scope="tenant", scope_id="a")
    ix.ingest_sync(DOCS[1:2], scope="tenant", scope_id="b")
    assert [h["id"] for h in ix.search_sync("memory", top_k=5, scope="tenant", scope_id="a")] == ["rust"]
    assert [h["id"] for h in ix.search_sync("memory", top_k=5, scope="tenant", scope_id="b")] == ["py"]
    assert ix.search_sync("memory", top_k=5) == []
    s = ix.stats("tenant", "a")
    assert s["embeddings_generated"] == 1 and s["searches_performed"] == 1 and s["total_vectors"] == 1
    assert ix.delete_scope("tenant", "a") == 1
    assert ix.stats("tenant", "a")["total_vectors"] == 0


def test_index_async_runs_off_loop() -> None:
    ix = _index()

    async def go() -> list[dict[str, Any]]:
        await ix.ingest(DOCS)
        return await ix.search("sourdough starter", top_k=1)

    assert asyncio.run(go())[0]["id"] == "bread"


def test_index_empty_namespace_and_zero_k() -> None:
    ix = _index()
    assert ix.search_sync("anything") == []
    ix.ingest_sync(DOCS)
    assert ix.search_sync("anything", top_k=0) == []
    assert ix.ingest_sync([{"content": "   "}])["vectors_created"] == 0


# -- the BM25 index kept in the database -------------------------------------------------------------


def test_lexical_index_blobs_round_trip() -> None:
    docs = ["the cat sat on the mat", "dogs chase cats", "quantum lecture about a cat"]
    a = LexicalIndex(docs)
    b = LexicalIndex.from_blobs(a.to_blobs())
    for q in ("cat", "quantum cat", "zebra", ""):
        assert np.array_equal(a.scores(q), b.scores(q))
    empty = LexicalIndex.from_blobs(LexicalIndex(["", " "]).to_blobs())
    assert empty.size == 2 and not empty.scores("x").any()
    blobs = a.to_blobs()
    blobs["indices"] = np.array([99], dtype=np.int32).tobytes()
    with pytest.raises(ValueError, match="damaged"):
        LexicalIndex.from_blobs(blobs)


def test_bm25_index_reused_by_next_process_and_rebuilt_after_writes(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import llmspell.retrieval.index as index_mod

    monkeypatch.setattr(index_mod, "PERSIST_BM25_MIN", 2)
    builds: list[int] = []
    real_init = LexicalIndex.__init__

    def counting_init(self: LexicalIndex, docs: list[str], k1: float = 1.5, b: float = 0.75) -> None:
        builds.append(len(docs))
        real_init(self, docs, k1, b)

    monkeypatch.setattr(LexicalIndex, "__init__", counting_init)
    db = tmp_path / "rag.db"

    def open_index() -> RagIndex:
        e = HashingEmbedder(64)
        return RagIndex(VectorStore(db, embedder="hashing/64", dim=64, reembed=e.embed), e, vector_weight=0.0)

    first = open_index()
    first.ingest_sync(DOCS)
    assert first.search_sync("patience", top_k=1)[0]["id"] == "bread"
    assert builds == [3]
    second = open_index()  # another process: loads the saved index, builds nothing
    assert second.search_sync("patience", top_k=1)[0]["id"] == "bread"
    assert builds == [3]
    first.ingest_sync([{"id": "new", "content": "unmistakable zeppelin"}])  # the other process writes
    assert second.search_sync("zeppelin", top_k=1)[0]["id"] == "new"  # stale index not used
    assert builds == [3, 4]
    first.close()
    second.close()


def test_generation_changes_with_every_write(tmp_path: Path) -> None:
    st, e = _store(tmp_path / "rag.db")
    g0 = st.namespace("tenant", "a").generation
    st.add([_item(e, "x", "one", "tenant", "a")])
    g1 = st.namespace("tenant", "a").generation
    st.add([_item(e, "y", "two", "tenant", "b")])
    assert st.namespace("tenant", "a").generation == g1 > g0
    st.delete_scope("tenant", "a")
    assert st.namespace("tenant", "a").generation > g1
    st.close()
