"""RAG through the real runner, in Lua and JS: behaviour, persistence across runs, isolation, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import run_collect

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _spell(tmp: Path, name: str, src: str) -> Path:
    p = tmp / name
    p.write_text(src, encoding="utf-8")
    return p


@pytest.mark.parametrize("name", ["rag.lua", "rag.js"])
async def test_examples_run_clean(tmp_path: Path, name: str) -> None:
    out, fin = await run_collect(EXAMPLES / name, tmp_path)
    assert fin.status == "success", (fin.error, out)
    lines = out.splitlines()
    assert lines[0] == "ingested 3 documents -> 3 chunks, 42 tokens"
    assert lines[1].startswith("1. ownership (rust) score ")
    assert "lua only: 1 -> lua-gc" in lines
    assert "acme sees: 1" in lines and "globex sees: 0" in lines and "deleted: 1" in lines
    assert "error: RAG.search: 'top_k' must be between 1 and 1000, got 0" in lines
    # twice: re-ingesting the same ids replaces them, the answers do not change
    out2, fin2 = await run_collect(EXAMPLES / name, tmp_path)
    assert fin2.status == "success" and out2 == out


async def test_ingest_in_lua_search_in_next_js_run(tmp_path: Path) -> None:
    write = _spell(tmp_path, "write.lua", """
        local r = RAG.ingest({
          {id = "a", content = "The lighthouse keeper logs every ship that passes the northern cape.",
           metadata = {kind = "log"}},
          {id = "b", content = "Sourdough starters need feeding with flour and water every day."},
        })
        RAG.ingest({id = "t", content = "Tenant-only lighthouse maintenance schedule."}, {tenant_id = "harbor"})
        RAG.save()
        return r.vectors_created
    """)
    _, fin = await run_collect(write, tmp_path)
    assert fin.status == "success" and fin.result == 2, fin.error
    assert (tmp_path / ".llmspell" / "rag.db").is_file()
    read = _spell(tmp_path, "read.js", """
        const g = await RAG.search("which ships pass the lighthouse", {top_k: 5});
        const t = await RAG.search("lighthouse maintenance", {tenant_id: "harbor"});
        const other = await RAG.search("lighthouse", {tenant_id: "marina"});
        const st = await RAG.getStats("tenant", "harbor");
        console.log(JSON.stringify({top: g.results[0].id, kind: g.results[0].metadata.kind, total: g.total,
                                    tenant: t.results.map(r => r.id), other: other.total,
                                    vectors: st.total_vectors, gen: st.embeddings_generated}));
    """)
    out, fin = await run_collect(read, tmp_path)
    assert fin.status == "success", fin.error
    got = json.loads(out)
    assert got["top"] == "a" and got["kind"] == "log" and got["total"] <= 2
    assert got["tenant"] == ["t"] and got["other"] == 0 and got["vectors"] == 1 and got["gen"] == 1


async def test_sessions_and_tenants_never_see_each_other_js(tmp_path: Path) -> None:
    spell = _spell(tmp_path, "iso.js", """
        await RAG.createSessionCollection("s1", 3600);
        await RAG.ingest({content: "session one remembers the blue door"}, {scope: "session", scope_id: "s1"});
        await RAG.ingest({content: "session two remembers the red door"}, {scope: "session", scope_id: "s2"});
        await RAG.ingest({content: "tenant remembers the green door"}, {tenant_id: "s1"});
        const f = async (o) => (await RAG.search("which door is remembered", o)).results.map(r => r.content);
        console.log(JSON.stringify({s1: await f({scope: "session", scope_id: "s1"}),
                                    s2: await f({scope: "session", scope_id: "s2"}),
                                    t: await f({tenant_id: "s1"}), g: await f({})}));
    """)
    out, fin = await run_collect(spell, tmp_path)
    assert fin.status == "success", fin.error
    assert json.loads(out) == {"s1": ["session one remembers the blue door"],
                               "s2": ["session two remembers the red door"],
                               "t": ["tenant remembers the green door"], "g": []}


async def test_rs_llmspell_call_shapes_lua(tmp_path: Path) -> None:
    """The older examples' shapes: one-table search returning the array, table cleanup, configure."""
    spell = _spell(tmp_path, "shapes.lua", """
        local c = RAG.configure({backend = "sqlite", chunk_size = 512, chunk_overlap = 50})
        local id = RAG.ingest({content = "Lua is a powerful, efficient, lightweight scripting language",
                               metadata = {category = "programming"}})
        local results = RAG.search({query = "Lua scripting language", top_k = 5})
        local n = #results
        local first = results[1].content
        RAG.ingest({content = "tenant doc"}, {tenant_id = "startup_inc"})
        local cleaned = RAG.cleanup_scope({scope = "tenant_startup_inc", confirm = true})
        local sc = RAG.create_session_collection("conv-1", 60)
        local cs = RAG.configure_session({session_id = "conv-1"})
        local stats = RAG.get_stats()
        return {configured = c.configured, ignored = c.ignored[1], ingested = id.success, n = n, first = first,
                cleaned = cleaned.success, removed = cleaned.stats.documents_removed, ns = sc.namespace,
                ttl = cs.vector_ttl, total = stats.total_vectors, providers = RAG.list_providers()[1]}
    """)
    _, fin = await run_collect(spell, tmp_path)
    assert fin.status == "success", fin.error
    assert fin.result == {"configured": True, "ignored": "backend", "ingested": True, "n": 1,
                          "first": "Lua is a powerful, efficient, lightweight scripting language",
                          "cleaned": True, "removed": 1, "ns": "session_conv-1", "ttl": 3600, "total": 1,
                          "providers": "hashing"}


@pytest.mark.parametrize(("call", "message"), [
    ('RAG.search("q", {k = 0})', "RAG.search: 'top_k' must be between 1 and 1000, got 0"),
    ('RAG.search("q", {threshold = 2})', "RAG.search: 'threshold' must be between 0 and 1, got 2"),
    ('RAG.search("q", "opts")', "RAG.search: 'opts' must be a table, got string"),
    ('RAG.search({top_k = 5})', "RAG.search: 'query' is required"),
    ('RAG.ingest({metadata = {a = 1}})', "RAG.ingest: document requires a 'content' or 'text' field"),
    ('RAG.ingest({content = 12345})', "RAG.ingest: 'content' must be a string, got number"),
    ('RAG.ingest({content = "x"}, {chunking = {chunk_size = 10, overlap = 10}})',
     "RAG.ingest: 'chunking.overlap' (10) must be below chunk_size (10)"),
    ('RAG.cleanup_scope("tenant")', "RAG.cleanup_scope: 'scope_id' is required"),
])
async def test_errors_lua(tmp_path: Path, call: str, message: str) -> None:
    spell = _spell(tmp_path, "err.lua", f"local ok, e = pcall(function() return {call} end)\n"
                                        "return {ok = ok, e = tostring(e)}\n")
    _, fin = await run_collect(spell, tmp_path)
    assert fin.status == "success", fin.error
    assert fin.result["ok"] is False and message in fin.result["e"], fin.result


async def test_errors_js(tmp_path: Path) -> None:
    spell = _spell(tmp_path, "err.js", """
        const msgs = [];
        for (const f of [() => RAG.search("q", {top_k: -1}), () => RAG.ingest({content: ""}),
                         () => RAG.search("q", {metadata_filter: "not a table"})]) {
          try { await f(); msgs.push("no error"); } catch (e) { msgs.push(String(e.message || e)); }
        }
        console.log(JSON.stringify(msgs));
    """)
    out, fin = await run_collect(spell, tmp_path)
    assert fin.status == "success", fin.error
    msgs = json.loads(out)
    assert "RAG.search: 'top_k' must be between 1 and 1000, got -1" in msgs[0]
    assert "RAG.ingest: 'content' must be a non-empty string" in msgs[1]
    assert "RAG.search: 'metadata_filter' must be a table, got string" in msgs[2]


async def test_uncaught_error_fails_the_run(tmp_path: Path) -> None:
    spell = _spell(tmp_path, "bad.lua", 'RAG.search("q", {top_k = "five"})\n')
    _, fin = await run_collect(spell, tmp_path)
    assert fin.status == "error" and "'top_k' must be an integer, got 'five'" in str(fin.error)


async def test_context_rag_strategy_sees_ingested_documents(tmp_path: Path) -> None:
    spell = _spell(tmp_path, "ctx.lua", """
        RAG.ingest({id = "kb-1", content = "The staging database is rebuilt every Sunday at 02:00 UTC.",
                    metadata = {source = "runbook"}})
        local c = Context.assemble("when is the staging database rebuilt", "rag", 1000)
        for _, ch in ipairs(c.chunks) do
          local chunk = ch.chunk or ch
          if chunk.content:find("Sunday") then return chunk.source end
        end
        return "missing"
    """)
    _, fin = await run_collect(spell, tmp_path)
    assert fin.status == "success", fin.error
    assert fin.result == "rag:runbook"


async def test_memory_state_backend_writes_no_file(tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text('[state]\nbackend = "memory"\n', encoding="utf-8")
    spell = _spell(tmp_path, "m.lua", """
        RAG.ingest({content = "kept only in memory"})
        return RAG.search("memory", {}).total
    """)
    _, fin = await run_collect(spell, tmp_path)
    assert fin.status == "success" and fin.result == 1, fin.error
    assert not (tmp_path / ".llmspell" / "rag.db").exists()


def _cli(tmp: Path, spell: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    return subprocess.run([sys.executable, "-c", "import sys; from llmspell_ls.cli import main; sys.exit(main())",
                           "--run", spell], cwd=tmp, capture_output=True, text=True, timeout=120, env=env)


def test_cli_runs_persist_between_processes(tmp_path: Path) -> None:
    """``llmspell-ls --run`` (the spell in its isolated child process): ingest in one run, search in the next."""
    _spell(tmp_path, "ingest.lua", """
        local r = RAG.ingest({id = "faq-1", content = "Refunds are processed within five business days."},
                             {tenant_id = "shop"})
        print("stored " .. r.vectors_created)
    """)
    _spell(tmp_path, "ask.js", """
        const r = await RAG.search("how long do refunds take", {tenant_id: "shop"});
        const none = await RAG.search("how long do refunds take", {});
        console.log(`${r.total} ${r.results[0].id} ${none.total}`);
    """)
    first = _cli(tmp_path, "ingest.lua")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == "stored 1"
    second = _cli(tmp_path, "ask.js")
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[0] == "1 faq-1 0"
