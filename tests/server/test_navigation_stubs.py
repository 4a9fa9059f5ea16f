"""The packaged stub copies (go-to-definition targets after ``pip install``) and the stub line index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lsp_helpers import REAL_MODEL, REPO

from llmspell_ls.features import stub_locations
from llmspell_ls.stubgen import render_all

DATA = REPO / "server" / "llmspell_ls" / "data"


@pytest.mark.parametrize(("rel", "name"), [("lua/library/llmspell.lua", "llmspell.lua"),
                                           ("js/llmspell.d.ts", "llmspell.d.ts")])
def test_packaged_stubs_are_fresh(rel: str, name: str) -> None:
    data = json.loads(REAL_MODEL.read_text(encoding="utf-8"))
    assert (DATA / name).read_text(encoding="utf-8") == render_all(data)[rel], (
        f"llmspell_ls/data/{name} is stale: run `python -m llmspell_ls.stubgen`")


def test_stubs_found_in_a_checkout() -> None:
    assert stub_locations.stub_path("lua") == REPO / "stubs" / "lua" / "library" / "llmspell.lua"
    assert stub_locations.stub_path("javascript") == REPO / "stubs" / "js" / "llmspell.d.ts"


def test_stubs_found_in_the_package_when_there_is_no_checkout(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    monkeypatch.setattr(stub_locations, "REPO_FILES", {"lua": tmp_path / "none.lua",
                                                       "javascript": tmp_path / "none.d.ts"})
    assert stub_locations.stub_path("lua") == DATA / "llmspell.lua"
    assert stub_locations.stub_path("javascript") == DATA / "llmspell.d.ts"


def _line(lang: str, *keys: tuple[str, ...]) -> str:
    got = stub_locations.find(lang, *keys)
    assert got is not None, keys
    path, line = got
    return path.read_text(encoding="utf-8").split("\n")[line]


def test_lua_stub_lines() -> None:
    assert _line("lua", *stub_locations.global_keys("Agent")).startswith("Agent = ")
    assert _line("lua", *stub_locations.member_keys("Agent", "builder")).startswith("function Agent.builder(")
    assert _line("lua", *stub_locations.member_keys("AgentBuilder", "model")).startswith(
        "function AgentBuilder:model(")
    assert _line("lua", *stub_locations.tool_keys("calculator")) == "---@class CalculatorParams"
    assert _line("lua", ("class", "AgentBuilder")) == "---@class AgentBuilder"


def test_dts_stub_lines() -> None:
    assert _line("javascript", *stub_locations.global_keys("Agent")).startswith("declare var Agent:")
    assert _line("javascript", *stub_locations.member_keys("Agent", "builder")).strip().startswith("builder(")
    assert _line("javascript", *stub_locations.member_keys("AgentBuilder", "allowTool")).strip().startswith(
        "allowTool(")
    assert _line("javascript", *stub_locations.tool_keys("calculator")).strip().startswith('"calculator"')
    assert stub_locations.find("javascript", ("member", "AgentBuilder", "noSuchMethod")) is None


def test_scanners_on_small_texts() -> None:
    lua = "---@class FooStatic\n---@field bar string\nFoo = {}\n\n---Doc\nfunction Foo.baz(a) end\n"
    t = stub_locations.scan_lua(lua)
    assert t[("global", "Foo")] == 2 and t[("member", "Foo", "baz")] == 5 and t[("member", "FooStatic", "bar")] == 1
    dts = "interface FooStatic {\n  /** doc */\n  baz(a: string): void;\n  readonly bar: string;\n}\n" \
          "declare var Foo: FooStatic;\n"
    t = stub_locations.scan_dts(dts)
    assert t[("member", "FooStatic", "baz")] == 2 and t[("member", "FooStatic", "bar")] == 3
    assert t[("global", "Foo")] == 5
