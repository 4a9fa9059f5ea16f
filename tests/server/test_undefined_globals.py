"""Undefined globals (``Foo.bar()`` with ``Foo`` bound nowhere): the pure function, ``--check`` and the
language server (pytest-lsp, as VS Code and as Neovim); zero false positives on spells in rs-llmspell's
style and on every bundled example."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lsp_helpers import REPO
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient
from test_lsp_e2e import client, open_doc, wait_diags  # noqa: F401 - `client` is a pytest fixture

from llmspell_ls.apimodel import load_index
from llmspell_ls.documents import DocState
from llmspell_ls.features.diagnostics import diagnostics
from llmspell_ls.features.undefined import undefined_globals


@pytest.fixture(scope="module")
def index() -> Any:
    return load_index()


def found(index: Any, text: str, lang: str = "lua") -> list[tuple[str, int, int]]:
    doc = DocState("file:///t." + ("lua" if lang == "lua" else "js"), lang, 0, text)
    return [(d["message"], d["range"]["start"]["line"], d["range"]["start"]["character"])
            for d in undefined_globals(doc, index, "utf-16")]


def test_indexed_unbound_names_are_reported(index: Any) -> None:
    assert found(index, "Foo.bar()\nlocal x = Baz:run()\nprint(Qux[1])\n") == [
        ("undefined global 'Foo'", 0, 0), ("undefined global 'Baz'", 1, 10), ("undefined global 'Qux'", 2, 6)]
    assert found(index, "Foo.bar();\nconst x = Baz?.run();\n", "javascript") == [
        ("undefined global 'Foo'", 0, 0), ("undefined global 'Baz'", 1, 10)]


def test_bound_anywhere_is_defined(index: Any) -> None:
    lua = """local function use() return Config2.name .. helper.x end
Config2 = {name = "n"}          -- a global assigned at top level, after the function using it
local helper = {x = 1}
local a, b = {}, {}
print(a.x, b.y, use())
for k, v in pairs({}) do print(k.x, v.y) end
function M2(p) return p.x end
local t <const> = {}
print(t.x, M2({x = 1}))
"""
    assert found(index, lua) == []
    js = """const { a, b: c } = { a: {}, b: {} };
let d = {}; var e = {};
function f(g) { return g.x; }
const h = (i, j) => i.x + j.y;
const k = l => l.x;
try { f(1); } catch (err) { console.log(err.message); }
console.log(a.x, c.y, d.z, e.w, h({}, {}), k({}));
"""
    assert found(index, js, "javascript") == []


def test_standard_engine_and_api_globals(index: Any) -> None:
    lua = "print(string.format('%d', 1), table.concat({}), math.pi, os.time(), _G.x, arg[0], ARGS.n)\n" \
          "print(Agent.builder(), Tool.list(), JSON.stringify({}), coroutine.yield, utf8.char(65))\n"
    assert found(index, lua) == []
    js = "console.log(Math.max(1), JSON.stringify({}), Object.keys({}), Promise.resolve(), process.argv);\n" \
         "await sleep(1); Agent.builder(); Reflect.ownKeys({}); Number.isNaN(1);\n"
    assert found(index, js, "javascript") == []


def test_not_reads(index: Any) -> None:
    # member names, table keys, strings, comments, plain reads of an unset global (a valid Lua test)
    lua = """local t = {Foo = 1}
print(t.Foo, t:Bar(), "Baz.x", [[Qux.y]])
-- Zed.z in a comment
--[[ Zap.z in a long comment ]]
if DEBUG then print(OPTIONAL) end
print(t.Foo .. "x")
"""
    assert found(index, lua) == []
    js = "const t = { Foo: 1 };\nconsole.log(t.Foo, 'Baz.x', `Qux.y`); // Zed.z\n/* Zap.z */\n"
    assert found(index, js, "javascript") == []


def test_no_false_positives_on_the_examples(index: Any) -> None:
    spells = sorted((REPO / "examples").glob("*.lua")) + sorted((REPO / "examples").glob("*.js"))
    assert len(spells) > 20
    for p in spells:
        doc = DocState(p.as_uri(), "lua" if p.suffix == ".lua" else "javascript", 0, p.read_text())
        assert undefined_globals(doc, index, "utf-16") == [], p.name


RS_STYLE = """-- rs-llmspell style: globals without `local`, helpers defined before the tables they use
function log_step(name) print("step", name, Settings.verbose) end

Settings = {verbose = true, model = "openai/gpt-4o-mini"}
Results = {}

local function run_agent(prompt)
  local agent = Agent.builder():name("a"):model(Settings.model):build()
  local ok, res = pcall(function() return agent:execute({text = prompt}) end)
  if ok then Results[#Results + 1] = res.text end
  return ok
end

local Helpers = {}
function Helpers.summarise(list) return table.concat(list, ", ") end
function Helpers:count() return #Results end

log_step("start")
run_agent("hi")
print(Helpers.summarise(Results), Helpers:count(), _G.Settings.model, ARGS and ARGS.topic)
"""


def test_rs_llmspell_style_spell_is_clean(index: Any) -> None:
    assert found(index, RS_STYLE) == []


def test_typo_of_an_api_global_is_reported_once(index: Any) -> None:
    doc = DocState("file:///t.lua", "lua", 0, "Agnet.builder()\n")
    got = [d for d in diagnostics(doc, index, "utf-16") if d["code"] == "undefined-global"]
    assert len(got) == 1 and "did you mean 'Agent'" in got[0]["message"]


def test_suppression_comment_applies(index: Any) -> None:
    doc = DocState("file:///t.lua", "lua", 0, "---@diagnostic disable-next-line: undefined-global\nFoo.x()\nBar.y()\n")
    got = [(d["code"], d["range"]["start"]["line"]) for d in diagnostics(doc, index, "utf-16")]
    assert got == [("undefined-global", 2)]


def test_check_command_reports_file_line_col(tmp_path: Path) -> None:
    spell = tmp_path / "spell.lua"
    spell.write_text("local a = Agent.builder()\n  Foo.bar()\n")
    res = subprocess.run([sys.executable, "-m", "llmspell_ls", "--check", str(spell)],
                         capture_output=True, text=True, timeout=60)
    assert f"{spell}:2:3: warning undefined-global: undefined global 'Foo'" in res.stdout, res.stdout + res.stderr
    assert res.returncode == 0  # a warning: the spell may still define Foo at run time (load, _G[...])


@pytest.fixture
def tracked(client: LanguageClient) -> LanguageClient:  # noqa: F811
    """``client`` recording each publishDiagnostics' version (as test_lsp_e2e's autouse fixture does)."""
    if getattr(client, "diagnostic_versions", None) is None:
        client.diagnostic_versions = {}  # type: ignore[attr-defined]

        def on_publish(params: lsp.PublishDiagnosticsParams) -> None:
            client.diagnostics[params.uri] = params.diagnostics
            client.diagnostic_versions[params.uri] = params.version  # type: ignore[attr-defined]

        client.protocol.fm.features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = on_publish
    return client


@pytest.mark.asyncio(loop_scope="module")
async def test_language_server_publishes_it(tracked: LanguageClient) -> None:
    uri = open_doc(tracked, "local x = 1\nFoo.bar(x)\n")
    diags = await wait_diags(tracked, uri, 1)
    assert [(d.code, d.message, d.range.start.line, d.range.start.character, d.severity) for d in diags] == [
        ("undefined-global", "undefined global 'Foo'", 1, 0, lsp.DiagnosticSeverity.Warning)]
    uri = open_doc(tracked, "Foo = {}\nFoo.bar()\n")
    assert await wait_diags(tracked, uri, 1) == []
