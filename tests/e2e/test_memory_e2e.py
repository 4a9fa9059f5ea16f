"""Memory and Context through the real runner, in Lua and JS: behaviour, isolation, persistence, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_helpers import run_collect

pytest.importorskip("llmspell.retrieval.embed", reason="the retrieval layer (embedder, BM25) is not installed")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _spell(tmp: Path, name: str, src: str) -> Path:
    p = tmp / name
    p.write_text(src, encoding="utf-8")
    return p


@pytest.mark.parametrize("name", ["memory.lua", "memory.js", "context.lua", "context.js"])
async def test_examples_run_clean(tmp_path: Path, name: str) -> None:
    out, fin = await run_collect(EXAMPLES / name, tmp_path)
    assert fin.status == "success", (fin.error, out)
    if name.startswith("memory"):
        assert "entity budget (fact) = 1200 EUR" in out
        assert "Rust" not in out.split("consolidated")[0]  # the other session's entry is never found
    else:
        assert "unknown strategy 'vector'; valid: episodic, semantic, hybrid, rag" in out
        assert "strategies: episodic, semantic, hybrid, rag" in out.replace("\t", " ")


async def test_memory_persists_across_runs_and_sessions_stay_apart(tmp_path: Path) -> None:
    write = _spell(tmp_path, "write.lua", """
        Memory.episodic.add("alice", "user", "My cat is called Miso")
        Memory.episodic.add("bob", "user", "My dog is called Rex")
        return Memory.stats().episodic_count
    """)
    _, fin = await run_collect(write, tmp_path)
    assert fin.status == "success" and fin.result == 2
    assert (tmp_path / ".llmspell" / "memory.db").is_file()
    read = _spell(tmp_path, "read.js", """
        const a = await Memory.episodic.search("alice", "what is my pet called", 10);
        const all = await Memory.episodic.search("", "pet called", 10);
        const none = await Memory.episodic.search("carol", "pet", 10);
        console.log(JSON.stringify({a: a.map(e => e.content), all: all.length, none: none.length,
                                    sessions: [...new Set(a.map(e => e.session_id))]}));
    """)
    out, fin = await run_collect(read, tmp_path)
    assert fin.status == "success", fin.error
    got = json.loads(out)
    assert got == {"a": ["My cat is called Miso"], "all": 2, "none": 0, "sessions": ["alice"]}


async def test_consolidate_then_semantic_query_and_stats(tmp_path: Path) -> None:
    spell = _spell(tmp_path, "c.lua", """
        Memory.episodic.add("s1", "user", "favorite language: Rust. I work at Initech in Berlin.")
        Memory.episodic.add("s2", "user", "Nothing to see")
        local before = Memory.stats()
        local r = Memory.consolidate("s1", {force = true})
        local ents = Memory.semantic.query("where do I work", 10)
        local names = {}
        for _, e in ipairs(ents) do names[#names + 1] = e.entity_type .. ":" .. e.name end
        local after = Memory.stats()
        local again = Memory.consolidate("s1")
        return {before.sessions_with_unprocessed, r.entries_processed, r.entities_added, table.concat(names, ","),
                after.sessions_with_unprocessed, after.semantic_count == r.entities_added,
                again.entries_processed, after.has_consolidation, after.consolidation_status}
    """)
    _, fin = await run_collect(spell, tmp_path)
    assert fin.status == "success", fin.error
    r = fin.result
    assert r[0] == 2 and r[1] == 1 and r[2] >= 4
    assert {"entity:Initech", "entity:Berlin", "fact:favorite language", "entity:Rust"} <= set(r[3].split(","))
    assert r[4] == 1 and r[5] is True and r[6] == 0 and r[7] is True and r[8] == "pending"


async def test_context_assemble_shapes_and_budget(tmp_path: Path) -> None:
    spell = _spell(tmp_path, "ctx.lua", """
        for i = 1, 30 do
          Memory.episodic.add("s", "user", "Rust ownership note number " .. i .. " " .. string.rep("detail ", 20))
        end
        Memory.episodic.add("other", "user", "Rust ownership from another session")
        local c = Context.assemble("rust ownership", "episodic", 200, "s")
        local sources = {}
        for _, rc in ipairs(c.chunks) do sources[rc.chunk.source] = true end
        local empty = Context.assemble("zebra quantum", "episodic", 500, "s")
        local first = c.chunks[1]
        return {#c.chunks, c.token_count, sources["memory:episodic:s"], sources["memory:episodic:other"],
                first.ranker, first.score, type(first.chunk.id), #c.temporal_span, c.formatted:sub(1, 1),
                #empty.chunks, empty.token_count, empty.formatted, #empty.temporal_span}
    """)
    _, fin = await run_collect(spell, tmp_path)
    assert fin.status == "success", fin.error
    r = fin.result
    assert 1 <= r[0] < 30 and 0 < r[1] <= 200
    assert r[2] is True and r[3] is None
    assert r[4] == "bm25" and r[5] == 1 and r[6] == "string" and r[7] == 2 and r[8] == "["
    assert r[9:] == [0, 0, "", 0]


@pytest.mark.parametrize(("call", "message"), [
    ('Context.assemble("q", "vector")',
     "Context.assemble: unknown strategy 'vector'; valid: episodic, semantic, hybrid, rag"),
    ('Context.assemble("q", "hybrid", 50)', "Context.assemble: 'max_tokens' must be >= 100, got 50"),
    ('Memory.episodic.add("", "user", "x")', "Memory.episodic.add: 'session_id' must be a non-empty string"),
    ('Memory.episodic.add("s", "user")', "Memory.episodic.add: missing argument #3 'content'"),
    ('Memory.episodic.search("s", "q", 0)', "Memory.episodic.search: 'limit' must be between 1 and 1000, got 0"),
    ('Memory.episodic.add("s", "user", "x", 5)', "'metadata'"),
    ('Memory.consolidate("s", {mode = "x", fast = true})',
     "Memory.consolidate: unknown option(s) fast; expected force"),
    ('Memory.semantic.query(nil)', "Memory.semantic.query: 'query' must be a string, got nil"),
])
async def test_bad_input_errors_name_what_was_expected(tmp_path: Path, call: str, message: str) -> None:
    src = f"local ok, err = pcall(function() return {call} end)\nreturn {{ok, err.message}}"
    spell = _spell(tmp_path, "bad.lua", src)
    _, fin = await run_collect(spell, tmp_path)
    assert fin.status == "success", fin.error
    assert fin.result[0] is False
    assert message in fin.result[1]


async def test_js_errors_reject_and_context_test_works(tmp_path: Path) -> None:
    spell = _spell(tmp_path, "e.js", """
        let msg = "";
        try { await Context.assemble("q", "hybrid", 10); } catch (e) { msg = e.message; }
        await Memory.episodic.add("s", "user", "Bread needs flour and water");
        const t = await Context.test("bread flour", "s");
        const st = await Context.strategyStats();
        console.log(JSON.stringify({msg, n: t.chunks.length, src: t.chunks[0].chunk.source, st}));
    """)
    out, fin = await run_collect(spell, tmp_path)
    assert fin.status == "success", fin.error
    got = json.loads(out)
    assert got["msg"] == "Context.assemble: 'max_tokens' must be >= 100, got 10"
    assert got["n"] == 1 and got["src"] == "memory:episodic:s"
    assert got["st"] == {"episodic_count": 1, "semantic_count": 0,
                         "strategies": ["episodic", "semantic", "hybrid", "rag"]}


async def test_memory_state_backend_keeps_nothing_on_disk(tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text('[state]\nbackend = "memory"\n', encoding="utf-8")
    src = 'Memory.episodic.add("s", "user", "hello there")\nreturn Memory.stats().episodic_count'
    spell = _spell(tmp_path, "m.lua", src)
    _, fin = await run_collect(spell, tmp_path)
    assert fin.status == "success" and fin.result == 1
    assert not (tmp_path / ".llmspell" / "memory.db").exists()
    _, fin2 = await run_collect(spell, tmp_path)
    assert fin2.result == 1  # a fresh runtime: nothing carried over
