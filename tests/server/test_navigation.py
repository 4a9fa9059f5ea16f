"""Definition, references and document highlight over the pure functions (Lua and JavaScript)."""

from __future__ import annotations

from typing import Any

import pytest
from lsp_helpers import doc_at
from lsprotocol import types as lsp

from llmspell_ls.analysis.scopes import name_occurrences
from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.documents import Documents
from llmspell_ls.features.navigation import definition, highlights, references

ENC = "utf-16"


def spots(locs: list[Any] | None) -> list[tuple[int, int]]:
    return [(x.range.start.line, x.range.start.character) for x in locs or []]


def defn(text: str, index: ApiIndex, lang: str = "lua") -> list[tuple[int, int]]:
    doc, line, ch = doc_at(text, lang)
    return spots(definition(doc, index, line, ch, ENC))


def refs(text: str, index: ApiIndex, lang: str = "lua", decl: bool = True) -> list[tuple[int, int]]:
    doc, line, ch = doc_at(text, lang)
    return spots(references(doc, index, line, ch, ENC, decl))


# ------------------------------------------------------------------------------------------ Lua locals
def test_lua_local_definition(index: ApiIndex) -> None:
    assert defn("local count = 1\nprint(cou|nt)", index) == [(0, 6)]


def test_lua_definition_on_the_declaration_is_itself(index: ApiIndex) -> None:
    assert defn("local co|unt = 1\nprint(count)", index) == [(0, 6)]


def test_lua_parameter_shadows_the_outer_local(index: ApiIndex) -> None:
    src = "local x = 1\nlocal function f(x)\n  return |x\nend\nprint(x)"
    assert defn(src, index) == [(1, 17)]
    assert defn(src.replace("|", "").replace("print(x)", "print(|x)"), index) == [(0, 6)]


def test_lua_local_x_equals_x_reads_the_outer_binding(index: ApiIndex) -> None:
    assert defn("local x = 1\ndo\n  local x = |x + 1\nend", index) == [(0, 6)]
    assert defn("local x = 1\ndo\n  local x = x + 1\n  print(|x)\nend", index) == [(2, 8)]


def test_lua_upvalue_in_a_nested_function(index: ApiIndex) -> None:
    src = "local total = 0\nlocal function add(n)\n  local function inner()\n    total = total + |n\n  end\nend"
    assert defn(src, index) == [(1, 19)]
    assert defn(src.replace("|", "").replace("total = total", "total = to|tal"), index) == [(0, 6)]


def test_lua_for_loop_variables(index: ApiIndex) -> None:
    src = "local i = 'outer'\nfor i = 1, 3 do print(|i) end\nfor k, v in pairs({}) do print(k, v) end\nreturn i"
    assert defn(src, index) == [(1, 4)]
    assert defn(src.replace("|", "").replace("print(k, v)", "print(k, |v)"), index) == [(2, 7)]
    assert defn(src.replace("|", "").replace("return i", "return |i"), index) == [(0, 6)]


def test_lua_local_function_is_visible_in_its_own_body(index: ApiIndex) -> None:
    assert defn("local function fact(n)\n  return n * fa|ct(n - 1)\nend", index) == [(0, 15)]


def test_lua_const_attribute(index: ApiIndex) -> None:
    assert defn("local LIMIT <const> = 10\nprint(LIM|IT)", index) == [(0, 6)]


def test_lua_method_definition_of_a_local_table(index: ApiIndex) -> None:
    src = "local M = {}\nfunction M:run(n) return self, n end\nfunction M.stop() end\nM:r|un(1)\nM.stop()"
    assert defn(src, index) == [(1, 11)]
    assert defn(src.replace("|", "").replace("M.stop()\n", "").replace("M.stop()", "M.st|op()"), index) == [(2, 11)]
    # the receiver itself is the local table
    assert defn(src.replace("|", "").replace("M:run(1)", "|M:run(1)"), index) == [(0, 6)]


def test_lua_field_from_the_table_constructor(index: ApiIndex) -> None:
    assert defn("local cfg = {retries = 3}\nprint(cfg.retr|ies)", index) == [(0, 13)]


def test_lua_field_of_another_binding_is_not_confused(index: ApiIndex) -> None:
    src = "local M = {}\nfunction M.go() end\nlocal function f()\n  local M = {}\n  M.go = 1\n  return M.g|o\nend"
    assert defn(src, index) == [(4, 4)]


def test_lua_user_global_definition(index: ApiIndex) -> None:
    assert defn("function helper() end\nhel|per()", index) == [(0, 9)]


def test_lua_undefined_name_has_no_definition(index: ApiIndex) -> None:
    assert defn("print(nothi|ng)", index) == []


def test_lua_no_definition_in_a_comment_or_on_a_keyword(index: ApiIndex) -> None:
    assert defn("local x = 1 -- x is |x\n", index) == []
    assert defn("loc|al x = 1\n", index) == []


def test_lua_references_respect_shadowing(index: ApiIndex) -> None:
    src = "local x = 1\nlocal function f(x)\n  return x\nend\nprint(|x, x)"
    assert refs(src, index) == [(0, 6), (4, 6), (4, 9)]
    assert refs(src, index, decl=False) == [(4, 6), (4, 9)]


def test_lua_references_of_a_parameter(index: ApiIndex) -> None:
    src = "local x = 1\nlocal function f(|x)\n  x = x + 1\n  return x\nend"
    assert refs(src, index) == [(1, 17), (2, 2), (2, 6), (3, 9)]


def test_lua_references_of_a_method_field(index: ApiIndex) -> None:
    src = "local M = {}\nfunction M:run() end\nM:run()\nM.run(M)\nlocal N = {}\nN:run()\nM:r|un()"
    assert refs(src, index) == [(1, 11), (2, 2), (3, 2), (6, 2)]
    assert refs(src, index, decl=False) == [(2, 2), (3, 2), (6, 2)]


def test_lua_highlight_read_and_write(index: ApiIndex) -> None:
    doc, line, ch = doc_at("local n = 0\nn = n + 1\nprint(|n)")
    got = highlights(doc, index, line, ch, ENC) or []
    assert [(h.range.start.line, h.range.start.character, h.kind) for h in got] == [
        (0, 6, lsp.DocumentHighlightKind.Write), (1, 0, lsp.DocumentHighlightKind.Write),
        (1, 4, lsp.DocumentHighlightKind.Read), (2, 6, lsp.DocumentHighlightKind.Read)]


# ------------------------------------------------------------------------------------------ JS locals
def test_js_const_let_and_block_scope(index: ApiIndex) -> None:
    src = "const x = 1;\n{\n  let x = 2;\n  console.log(|x);\n}\nexport default x;"
    assert defn(src, index, "javascript") == [(2, 6)]
    assert defn(src.replace("|", "").replace("default x", "default |x"), index, "javascript") == [(0, 6)]


def test_js_var_is_function_scoped(index: ApiIndex) -> None:
    src = "function f() {\n  if (true) { var v = 1; }\n  return |v;\n}"
    assert defn(src, index, "javascript") == [(1, 18)]


def test_js_function_declaration_is_hoisted(index: ApiIndex) -> None:
    assert defn("he|lper();\nfunction helper() {}", index, "javascript") == [(1, 9)]


def test_js_parameters_defaults_rest_and_destructuring(index: ApiIndex) -> None:
    src = "function f(a = 1, ...rest) {\n  const {text, meta: m} = a;\n  return [a, re|st, text, m];\n}"
    assert defn(src, index, "javascript") == [(0, 21)]
    assert defn(src.replace("re|st, text", "rest, te|xt"), index, "javascript") == [(1, 9)]
    assert defn(src.replace("re|st, text, m", "rest, text, |m"), index, "javascript") == [(1, 21)]


def test_js_for_of_and_arrow_parameters(index: ApiIndex) -> None:
    src = "const item = 0;\nfor (const item of []) { console.log(it|em); }\nconst g = item => item;"
    assert defn(src, index, "javascript") == [(1, 11)]
    assert defn(src.replace("it|em", "item").replace("=> item", "=> it|em"), index, "javascript") == [(2, 10)]


def test_js_references_and_shorthand(index: ApiIndex) -> None:
    src = "let count = 0;\ncount += 1;\nconst o = {count};\nfunction f(count) { return count; }\nconsole.log(cou|nt);"
    assert refs(src, index, "javascript") == [(0, 4), (1, 0), (2, 11), (4, 12)]


def test_js_object_method_definition_of_a_local(index: ApiIndex) -> None:
    src = "const api = {\n  run() { return 1; },\n};\napi.r|un();"
    assert defn(src, index, "javascript") == [(1, 2)]


# ------------------------------------------------------------------------------------------ API names
def test_lua_api_global_goes_to_the_stub(real_index: ApiIndex) -> None:
    doc, line, ch = doc_at("local a = Ag|ent.builder()")
    locs = definition(doc, real_index, line, ch, ENC) or []
    assert len(locs) == 1 and locs[0].uri.endswith("/llmspell.lua")
    from pygls.uris import to_fs_path

    path = to_fs_path(locs[0].uri)
    assert path is not None
    lines = open(path, encoding="utf-8").read().split("\n")
    assert lines[locs[0].range.start.line].startswith("Agent = ")


@pytest.mark.parametrize(("src", "lang", "line_start"), [
    ('local a = Agent.builder():name("w"):mod|el("m"):build()', "lua", "function AgentBuilder:model("),
    ("local b = Agent.builder()\nb:na|me('w')", "lua", "function AgentBuilder:name("),
    ("Agent.buil|der()", "lua", "function Agent.builder("),
    ('const a = Agent.builder().name("w").mod|el("m");', "javascript", "  model("),
    ("Agent.buil|der();", "javascript", "  builder("),
])
def test_api_members_go_to_the_stub(real_index: ApiIndex, src: str, lang: str, line_start: str) -> None:
    doc, line, ch = doc_at(src, lang)
    locs = definition(doc, real_index, line, ch, ENC) or []
    assert len(locs) == 1
    from pygls.uris import to_fs_path

    lines = open(to_fs_path(locs[0].uri) or "", encoding="utf-8").read().split("\n")
    assert lines[locs[0].range.start.line].startswith(line_start)
    word = lines[locs[0].range.start.line][locs[0].range.start.character:locs[0].range.end.character]
    assert word and word in src.replace("|", "")  # the range covers the member's name


@pytest.mark.parametrize("lang", ["lua", "javascript"])
def test_tool_name_string_goes_to_the_stub(real_index: ApiIndex, lang: str) -> None:
    doc, line, ch = doc_at('Tool.execute("calcul|ator", {input: "1+1"})'.replace(":", " =" if lang == "lua" else ":"),
                           lang)
    locs = definition(doc, real_index, line, ch, ENC) or []
    assert len(locs) == 1
    from pygls.uris import to_fs_path

    text = open(to_fs_path(locs[0].uri) or "", encoding="utf-8").read().split("\n")[locs[0].range.start.line]
    assert "Calculator" in text or "calculator" in text


def test_a_string_that_is_not_a_tool_argument_has_no_definition(real_index: ApiIndex) -> None:
    assert defn('print("calcul|ator")', real_index) == []


def test_api_references_across_open_documents(real_index: ApiIndex) -> None:
    other = Documents().open("file:///work/other.lua", "local b = Agent.builder()\n", 1, "lua")
    js = Documents().open("file:///work/other.js", "Agent.builder();\n", 1, "javascript")
    doc, line, ch = doc_at("local a = Agent.buil|der()\nlocal x = {builder = 1}\nprint(x.builder)")
    locs = references(doc, real_index, line, ch, ENC, False, [other, js])
    assert [(loc.uri.rsplit("/", 1)[-1], loc.range.start.line, loc.range.start.character) for loc in locs or []] == [
        ("spell.lua", 0, 16), ("other.lua", 0, 16)]
    with_decl = references(doc, real_index, line, ch, ENC, True, [other]) or []
    assert with_decl[0].uri.endswith("llmspell.lua") and len(with_decl) == 3


def test_api_global_highlight_in_the_document(real_index: ApiIndex) -> None:
    doc, line, ch = doc_at("local a = Ag|ent.builder()\nlocal b = Agent.builder()\nlocal t = {Agent = 1}")
    got = highlights(doc, real_index, line, ch, ENC) or []
    assert [(h.range.start.line, h.range.start.character) for h in got] == [(0, 10), (1, 10)]


def test_user_global_references_across_open_documents(index: ApiIndex) -> None:
    other = Documents().open("file:///work/lib.lua", "function helper() return 1 end\n", 1, "lua")
    doc, line, ch = doc_at("print(help|er())\nlocal function g(helper) return helper end")
    locs = references(doc, index, line, ch, ENC, True, [other]) or []
    assert [(loc.uri.rsplit("/", 1)[-1], loc.range.start.line) for loc in locs] == [("spell.lua", 0), ("lib.lua", 0)]
    assert spots(definition(doc, index, line, ch, ENC, [other])) == [(0, 9)]


def test_utf16_columns_after_non_ascii_text(index: ApiIndex) -> None:
    doc, line, ch = doc_at('local s = "é😀"; local n = 1\nprint(s, |n)')
    locs = definition(doc, index, line, ch, ENC) or []
    # the emoji is one code point but two UTF-16 units: "n" is code point 22, UTF-16 column 23
    assert doc.line(0)[22] == "n"
    assert [(loc.range.start.line, loc.range.start.character, loc.range.end.character) for loc in locs] == [(0, 23, 24)]
    doc8, line8, ch8 = doc_at('local s = "é😀"; local n = 1\nprint(s, |n)')
    locs8 = definition(doc8, index, line8, ch8, "utf-8") or []
    assert [(loc.range.start.character, loc.range.end.character) for loc in locs8] == [(26, 27)]


def test_name_occurrences_are_cached_per_version() -> None:
    doc = Documents().open("file:///w/a.lua", "local a = 1\nprint(a)", 1, "lua")
    assert name_occurrences(doc, "a") is name_occurrences(doc, "a")
