"""workspace/symbol over the pure functions: what is listed, query matching, files on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp

from llmspell_ls.documents import Documents
from llmspell_ls.features import workspace_symbols as ws
from llmspell_ls.features.workspace_symbols import matches, workspace_symbols

LUA = """local M = {}
function M:run() end
function M.stop() end
local function helper() end
function shout() end
local writer = Agent.builder():name("writer"):model("openai/gpt-4o-mini"):build()
local flow = Workflow.builder():name("daily_report"):sequential():build()
local handler = function() end
if true then local hidden = 1 end
"""
JS = """class Planner { plan() {} }
const api = { go() {} };
const double = (x) => x * 2;
let counter = 0;
function tick() {}
const reviewer = Agent.builder().name("reviewer").build();
"""


def names(res: list[lsp.SymbolInformation]) -> dict[str, tuple[lsp.SymbolKind, str | None]]:
    return {s.name: (s.kind, s.container_name) for s in res}


def test_lua_symbols() -> None:
    doc = Documents().open("file:///w/spell.lua", LUA, 1, "lua")
    got = names(workspace_symbols("", [doc], [], "utf-16"))
    assert got["M:run"] == (lsp.SymbolKind.Method, "M")
    assert got["M.stop"] == (lsp.SymbolKind.Function, "M")
    assert got["helper"] == (lsp.SymbolKind.Function, None)
    assert got["shout"] == (lsp.SymbolKind.Function, None)
    assert got["M"] == (lsp.SymbolKind.Variable, None)
    assert got["handler"] == (lsp.SymbolKind.Function, None)
    assert got["writer"] == (lsp.SymbolKind.Object, "agent")
    assert got["daily_report"] == (lsp.SymbolKind.Function, "workflow")
    assert "hidden" not in got  # not top level


def test_js_symbols() -> None:
    doc = Documents().open("file:///w/spell.js", JS, 1, "javascript")
    got = names(workspace_symbols("", [doc], [], "utf-16"))
    assert got["Planner"] == (lsp.SymbolKind.Class, None)
    assert got["plan"] == (lsp.SymbolKind.Method, "Planner")
    assert got["go"] == (lsp.SymbolKind.Method, "api")
    assert got["double"] == (lsp.SymbolKind.Function, None)
    assert got["counter"] == (lsp.SymbolKind.Variable, None)
    assert got["api"] == (lsp.SymbolKind.Constant, None)
    assert got["tick"] == (lsp.SymbolKind.Function, None)
    assert got["reviewer"] == (lsp.SymbolKind.Object, "agent")


def test_locations_point_at_the_name() -> None:
    doc = Documents().open("file:///w/spell.lua", LUA, 1, "lua")
    res = {s.name: s for s in workspace_symbols("writer", [doc], [], "utf-16")}
    loc = res["writer"].location
    line = LUA.split("\n")[loc.range.start.line]
    assert line[loc.range.start.character:loc.range.end.character] in ("writer",)
    assert loc.uri == "file:///w/spell.lua"


def test_query_is_a_fuzzy_subsequence() -> None:
    assert matches("dr", "daily_report") and matches("DREP", "daily_report") and matches("", "x")
    assert not matches("rd", "dr")
    doc = Documents().open("file:///w/spell.lua", LUA, 1, "lua")
    got = [s.name for s in workspace_symbols("help", [doc], [], "utf-16")]
    assert got == ["helper"]


def test_prefix_matches_come_first() -> None:
    doc = Documents().open("file:///w/spell.lua", "local function xrun() end\nlocal function run() end\n", 1, "lua")
    assert [s.name for s in workspace_symbols("run", [doc], [], "utf-16")] == ["run", "xrun"]


def test_workspace_files_on_disk(tmp_path: Path) -> None:
    (tmp_path / "a.lua").write_text("local function from_disk() end\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.js").write_text("function alsoFromDisk() {}\n")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "c.js").write_text("function ignored() {}\n")
    (tmp_path / "notes.txt").write_text("function notCode() end\n")
    got = {s.name: s.location.uri for s in workspace_symbols("", [], [str(tmp_path)], "utf-16")}
    assert got == {"from_disk": (tmp_path / "a.lua").as_uri(), "alsoFromDisk": (tmp_path / "sub" / "b.js").as_uri()}


def test_open_document_wins_over_its_file(tmp_path: Path) -> None:
    p = tmp_path / "a.lua"
    p.write_text("local function old_name() end\n")
    doc = Documents().open(p.as_uri(), "local function new_name() end\n", 2, "lua")
    got = [s.name for s in workspace_symbols("", [doc], [str(tmp_path)], "utf-16")]
    assert got == ["new_name"]


def test_file_cache_follows_changes(tmp_path: Path) -> None:
    p = tmp_path / "a.lua"
    p.write_text("local function first() end\n")
    assert [s.name for s in workspace_symbols("", [], [str(tmp_path)], "utf-16")] == ["first"]
    p.write_text("local function second_version() end\n")
    import os

    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert [s.name for s in workspace_symbols("", [], [str(tmp_path)], "utf-16")] == ["second_version"]


def test_budget_bounds_the_first_request(tmp_path: Path) -> None:
    for i in range(30):
        (tmp_path / f"f{i}.lua").write_text(f"local function fn_{i}() end\n")
    got = workspace_symbols("", [], [str(tmp_path)], "utf-16", budget_s=0.0)
    assert got == []  # nothing cached yet and no time to read: an empty answer, not a wait
    assert len(workspace_symbols("", [], [str(tmp_path)], "utf-16")) == 30
    assert len(workspace_symbols("", [], [str(tmp_path)], "utf-16", budget_s=0.0)) == 30  # now cached


def test_big_files_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ws, "MAX_FILE_BYTES", 10)
    (tmp_path / "big.lua").write_text("local function too_big() end\n")
    assert workspace_symbols("", [], [str(tmp_path)], "utf-16") == []
