"""The ``RAG`` global's Python methods: option parsing, errors naming the parameter, result shapes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from llmspell.api.globals.rag import RagGlobal
from llmspell.core.errors import ValidationError
from llmspell.runtime import Runtime


@pytest.fixture
def rag(tmp_path: Path) -> Iterator[RagGlobal]:
    rt = Runtime(workspace=tmp_path)
    g = RagGlobal(SimpleNamespace(runtime=rt, extra={}))  # type: ignore[arg-type]
    yield g
    rt.close_services()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


DOCS = [{"content": "Rust guarantees memory safety through ownership and borrowing.", "id": "rust",
         "metadata": {"lang": "rust", "level": 2}},
        {"content": "Python frees memory with reference counting and a garbage collector.", "id": "py",
         "metadata": {"lang": "python", "level": 1}},
        {"content": "Sourdough bread needs a starter, flour, water and patience.", "id": "bread",
         "metadata": {"lang": "none", "level": 1}}]


def test_ingest_and_search_shapes(rag: RagGlobal, tmp_path: Path) -> None:
    r = run(rag.ingest(DOCS))
    assert r == {"success": True, "documents_processed": 3, "vectors_created": 3, "total_tokens": 27,
                 "document_ids": ["rust", "py", "bread"]}
    assert (tmp_path / ".llmspell" / "rag.db").is_file()
    s = run(rag.search("ownership and borrowing", {"top_k": 2}))
    assert s["success"] is True and s["total"] == len(s["results"]) >= 1
    top = s["results"][0]
    assert top["id"] == "rust" and top["content"] == top["text"] and 0 < top["score"] <= 1
    assert top["metadata"]["lang"] == "rust" and top["metadata"]["document_id"] == "rust"


def test_search_options(rag: RagGlobal) -> None:
    run(rag.ingest(DOCS))
    assert [x["id"] for x in run(rag.search("memory", {"metadata_filter": {"lang": "python"}}))["results"]] == ["py"]
    assert [x["id"] for x in run(rag.search("memory", {"filters": {"level": {"$gte": 2}}}))["results"]] == ["rust"]
    assert run(rag.search("memory", {"k": 1}))["total"] == 1
    assert run(rag.search("memory safety ownership", {"threshold": 0.99}))["total"] == 0
    # nothing in common: at most hash-collision noise, far below a real match
    assert all(x["score"] < 0.15 for x in run(rag.search("zzzz qqqq"))["results"])


def test_legacy_table_form_returns_array(rag: RagGlobal) -> None:
    run(rag.ingest(DOCS))
    res = run(rag.search({"query": "garbage collector", "top_k": 3}))
    assert isinstance(res, list) and res[0]["id"] == "py"
    with pytest.raises(ValidationError, match="'query' is required"):
        run(rag.search({"top_k": 5}))
    with pytest.raises(ValidationError, match="'query' must be a string, got number"):
        run(rag.search({"query": 42}))


@pytest.mark.parametrize(("opts", "message"), [
    ({"top_k": 0}, "'top_k' must be between 1 and 1000, got 0"),
    ({"top_k": -1}, "'top_k' must be between 1 and 1000, got -1"),
    ({"top_k": 999999999}, "'top_k' must be between 1 and 1000"),
    ({"top_k": "five"}, "'top_k' must be an integer, got 'five'"),
    ({"k": 2.5}, "'top_k' must be an integer"),
    ({"threshold": 1.5}, "'threshold' must be between 0 and 1, got 1.5"),
    ({"threshold": "high"}, "'threshold' must be a number between 0 and 1"),
    ({"metadata_filter": "not a table"}, "'metadata_filter' must be a table, got string"),
    ({"scope_id": "x"}, "'scope_id' needs a 'scope'"),
    ({"tenant_id": ""}, "'tenant_id' must be a non-empty string"),
    ({"scope": 5}, "'scope' must be a string"),
])
def test_search_errors_name_the_parameter(rag: RagGlobal, opts: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match="^RAG.search: " + message.replace("(", r"\(").replace(")", r"\)")):
        run(rag.search("q", opts))


def test_search_non_table_opts_and_query(rag: RagGlobal) -> None:
    with pytest.raises(ValidationError, match=re.escape("RAG.search: 'opts' must be a table, got string")):
        run(rag.search("q", "k=3"))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=re.escape("RAG.search: 'query' must be a string, got nil")):
        run(rag.search(None))  # type: ignore[arg-type]


@pytest.mark.parametrize(("docs", "message"), [
    ({"metadata": {"a": 1}}, "document requires a 'content' or 'text' field"),
    ({"content": ""}, "'content' must be a non-empty string"),
    ({"content": "   "}, "'content' must be a non-empty string"),
    ({"content": 12345}, "'content' must be a string, got number"),
    ({"content": ["a", "b"]}, "'content' must be a string, got table"),
    ([{"content": "ok"}, {"text": 3}], r"'content' must be a string \(document 2\), got number"),
    ([{"content": "ok"}, "str"], r"each document must be a table \{content=...\} \(document 2\), got string"),
    ({"content": "x", "metadata": "m"}, "'metadata' must be a table, got string"),
    ({"content": "x", "id": ""}, "'id' must be a non-empty string"),
    ("just text", "'documents' must be a document table"),
    ([], "no documents given"),
])
def test_ingest_errors(rag: RagGlobal, docs: Any, message: str) -> None:
    with pytest.raises(ValidationError, match="^RAG.ingest: " + message):
        run(rag.ingest(docs))


def test_ingest_option_errors(rag: RagGlobal) -> None:
    d = {"content": "a b c"}
    with pytest.raises(ValidationError, match=re.escape("'chunking.overlap' (10) must be below chunk_size (10)")):
        run(rag.ingest(d, {"chunking": {"chunk_size": 10, "overlap": 10}}))
    with pytest.raises(ValidationError, match=re.escape("'chunking.chunk_size' must be between 8 and 8192, got 2")):
        run(rag.ingest(d, {"chunking": {"chunk_size": 2}}))
    with pytest.raises(ValidationError, match=re.escape(
            "unknown 'chunking.strategy' \"magic\"; valid: sliding_window, sentence")):
        run(rag.ingest(d, {"chunking": {"strategy": "magic"}}))
    with pytest.raises(ValidationError, match="'chunking' must be a table"):
        run(rag.ingest(d, {"chunking": 5}))
    with pytest.raises(ValidationError, match="'opts' must be a table, got boolean"):
        run(rag.ingest(d, True))  # type: ignore[arg-type]


def test_ingest_chunking_and_replacement(rag: RagGlobal) -> None:
    text = " ".join(f"w{i}." for i in range(100))
    r = run(rag.ingest({"content": text, "id": "big"}, {"chunking": {"chunk_size": 40, "overlap": 10}}))
    assert r["vectors_created"] == 3 and r["total_tokens"] == 40 + 40 + 40
    r = run(rag.ingest({"content": text, "id": "big"}, {"chunking": {"chunk_size": 50, "overlap": 0,
                                                                     "strategy": "sentence"}}))
    assert r["vectors_created"] == 2
    assert run(rag.get_stats("global", ""))["total_vectors"] == 2  # the 3 old chunks were replaced


def test_tenants_and_sessions_isolated(rag: RagGlobal) -> None:
    run(rag.ingest({"content": "acme secret launch plan"}, {"tenant_id": "acme"}))
    run(rag.ingest({"content": "globex secret launch plan"}, {"scope": "tenant", "scope_id": "globex"}))
    run(rag.ingest({"content": "session secret launch plan"}, {"scope": "session", "scope_id": "s1"}))
    found = {t: [x["content"] for x in run(rag.search("secret launch plan", {"tenant_id": t}))["results"]]
             for t in ("acme", "globex", "initech")}
    assert found == {"acme": ["acme secret launch plan"], "globex": ["globex secret launch plan"], "initech": []}
    assert [x["content"] for x in run(rag.search("secret", {"scope": "session", "scope_id": "s1"}))["results"]] == \
        ["session secret launch plan"]
    assert run(rag.search("secret"))["total"] == 0
    assert run(rag.search("secret", {"scope": "tenant_acme"}))["total"] == 1  # namespace-string form
    coll = run(rag.create_session_collection("s1"))["namespace"]
    assert [x["content"] for x in run(rag.search("secret", {"collection": coll}))["results"]] == \
        ["session secret launch plan"]
    run(rag.ingest({"content": "named collection doc"}, {"collection": "handbook"}))
    assert run(rag.search("named collection doc", {"collection": "handbook"}))["total"] == 1
    assert run(rag.search("named collection doc", {"scope": "collection", "scope_id": "handbook"}))["total"] == 1
    assert run(rag.search("named collection doc"))["total"] == 0


def test_stats_cleanup_forms(rag: RagGlobal) -> None:
    run(rag.ingest([{"content": "one doc here"}, {"content": "two doc here"}], {"tenant_id": "t"}))
    run(rag.search("doc", {"tenant_id": "t"}))
    st = run(rag.get_stats("tenant", "t"))
    assert st["total_vectors"] == 2 and st["embeddings_generated"] == 2 and st["searches_performed"] == 1
    assert st["embedding_tokens"] == 6 and st["total_storage_bytes"] > 2 * 384 * 4
    assert run(rag.get_stats())["total_vectors"] == 2
    assert run(rag.cleanup_scope("tenant", "t")) == 2
    run(rag.ingest({"content": "again"}, {"tenant_id": "t"}))
    res = run(rag.cleanup_scope({"scope": "tenant_t", "confirm": True}))
    assert res["success"] is True and res["deleted"] == 1 and res["stats"]["documents_removed"] == 1
    with pytest.raises(ValidationError, match=re.escape("RAG.cleanup_scope: 'scope_id' is required")):
        run(rag.cleanup_scope("tenant"))
    with pytest.raises(ValidationError, match=re.escape("RAG.cleanup_scope: 'scope' is required")):
        run(rag.cleanup_scope(None))  # type: ignore[arg-type]


def test_configure_applies_and_reports(rag: RagGlobal) -> None:
    out = rag.configure({"chunk_size": 20, "chunk_overlap": 5, "top_k": 1, "backend": "sqlite",
                         "embedding_provider": "openai"})
    assert out["configured"] is True and out["applied"]["chunk_size"] == 20
    assert out["ignored"] == ["backend", "embedding_provider"]
    r = run(rag.ingest({"content": " ".join(f"t{i}" for i in range(50))}))
    assert r["vectors_created"] == 3  # 20-word windows, step 15
    assert run(rag.search("t1 t2 t3"))["total"] == 1  # configured top_k
    with pytest.raises(ValidationError, match=re.escape(
            "RAG.configure: 'chunk_overlap' (30) must be below chunk_size")):
        rag.configure({"chunk_overlap": 30})
    with pytest.raises(ValidationError, match=re.escape("RAG.configure: 'opts' must be a table, got string")):
        rag.configure("x")  # type: ignore[arg-type]


def test_session_collections(rag: RagGlobal) -> None:
    c = run(rag.create_session_collection("s9", 120))
    assert c == {"session_id": "s9", "namespace": "session_s9", "created": True, "ttl": 120}
    idx = rag._index()
    assert idx.store.namespace_info("session", "s9")["ttl_s"] == 120
    cfg = run(rag.configure_session({"session_id": "s9"}))
    assert cfg == {"session_id": "s9", "vector_ttl": 3600, "configured": True}
    assert idx.store.namespace_info("session", "s9")["ttl_s"] == 3600
    with pytest.raises(ValidationError, match=re.escape("RAG.configure_session: 'session_id' is required")):
        run(rag.configure_session({}))
    with pytest.raises(ValidationError, match=re.escape("RAG.create_session_collection: 'ttl' must be between 1")):
        run(rag.create_session_collection("s", 0))


def test_list_providers_and_save(rag: RagGlobal) -> None:
    assert rag.list_providers()[0] == "hashing"
    run(rag.ingest({"content": "saved"}))
    run(rag.save())


def test_memory_backend_keeps_no_file(tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text('[state]\nbackend = "memory"\n', encoding="utf-8")
    rt = Runtime(workspace=tmp_path)
    g = RagGlobal(SimpleNamespace(runtime=rt, extra={}))  # type: ignore[arg-type]
    run(g.ingest({"content": "in memory only"}))
    assert run(g.search("memory"))["total"] == 1
    rt.close_services()
    assert not (tmp_path / ".llmspell" / "rag.db").exists()
