"""Semantic tokens as pure functions: classification, encodings, reuse across versions, range, delta."""

from __future__ import annotations

from lsprotocol import types as lsp

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.documents import Documents
from llmspell_ls.features.semantic_tokens import (
    LEGEND,
    decode,
    semantic_tokens_delta,
    semantic_tokens_full,
    semantic_tokens_range,
    token_data,
)


def toks(index: ApiIndex, text: str, lang: str = "lua",
         enc: str = "utf-16") -> dict[tuple[int, str], tuple[str, set[str]]]:
    """(line, the token's text) -> (type, modifiers); the last one wins for a repeated name on a line."""
    doc = Documents().open(f"file:///w/spell.{'lua' if lang == 'lua' else 'js'}", text, 1, lang)  # type: ignore[arg-type]
    lines = text.split("\n")
    out = {}
    for row, col, ln, tt, mods in decode(token_data(doc, index, enc)):
        out[(row, lines[row][col:col + ln])] = (tt, mods)
    return out


def test_legend_uses_standard_names() -> None:
    assert {"namespace", "class", "function", "method", "parameter", "variable", "property"} <= set(
        LEGEND.token_types)
    assert {"declaration", "readonly", "deprecated", "async", "defaultLibrary"} <= set(LEGEND.token_modifiers)


LUA = """\
---@type AgentInstance
local agent = Agent.builder():name("a"):build()
local out <const> = agent:execute({ text = "hi" })
local old = Agent.create({})
local function step(ctx, ...)
  return ctx.value + out.x
end
print(string.format("%s", step))
undefined_thing = ARGS
for i, v in ipairs({}) do print(i, v) end
function M.handler(self2) return self2 end
function M:method(a) return self, a end
"""


def test_lua_api_names_are_namespaces_methods_and_library(index: ApiIndex) -> None:
    t = toks(index, LUA)
    assert t[(1, "Agent")] == ("namespace", {"defaultLibrary", "readonly"})
    assert t[(1, "builder")] == ("method", {"defaultLibrary"})
    assert t[(1, "name")] == ("method", {"defaultLibrary"})
    assert t[(1, "build")] == ("method", {"defaultLibrary", "async"})  # awaits the runtime
    assert t[(2, "execute")] == ("method", {"defaultLibrary", "async"})  # through the typed local
    assert t[(3, "create")] == ("method", {"defaultLibrary", "deprecated"})
    assert t[(0, "AgentInstance")] == ("class", {"defaultLibrary"})  # an API type in an annotation
    assert t[(8, "ARGS")] == ("variable", {"defaultLibrary", "readonly"})  # a value global


def test_lua_locals_parameters_and_declarations(index: ApiIndex) -> None:
    t = toks(index, LUA)
    assert t[(1, "agent")] == ("variable", {"declaration"})
    assert t[(2, "out")] == ("variable", {"declaration", "readonly"})  # <const>
    assert t[(2, "const")] == ("keyword", set())
    assert t[(2, "agent")] == ("variable", set())
    assert t[(2, "text")] == ("property", {"declaration"})  # a table key
    assert t[(4, "step")] == ("function", {"declaration"})
    assert t[(4, "ctx")] == ("parameter", {"declaration"})
    assert t[(5, "ctx")] == ("parameter", set())
    assert t[(5, "value")] == ("property", set())
    assert t[(5, "out")] == ("variable", {"readonly"})  # an upvalue keeps its <const>
    assert t[(7, "step")] == ("function", set())
    assert t[(8, "undefined_thing")] == ("variable", set())
    assert t[(9, "i")] == ("variable", set()) and t[(9, "ipairs")] == ("function", {"defaultLibrary"})
    assert t[(10, "handler")] == ("method", {"declaration"}) and t[(10, "self2")] == ("parameter", set())
    assert t[(11, "self")] == ("parameter", set())  # implicit in ``function M:method``


def test_lua_standard_library(index: ApiIndex) -> None:
    t = toks(index, LUA)
    assert t[(7, "print")] == ("function", {"defaultLibrary"})
    assert t[(7, "string")] == ("namespace", {"defaultLibrary"})
    assert t[(7, "format")] == ("method", {"defaultLibrary"})


def test_shadowing_an_api_global_makes_it_a_plain_local(index: ApiIndex) -> None:
    t = toks(index, "local Agent = {}\nAgent.builder()\nlocal x = 1\ndo local x = Tool end\nprint(x)\n")
    assert t[(1, "Agent")] == ("variable", set())
    assert t[(1, "builder")] == ("method", set())  # not the API's
    assert t[(3, "Tool")] == ("namespace", {"defaultLibrary", "readonly"})


def test_lua_reassignment_retypes_a_local(index: ApiIndex) -> None:
    t = toks(index, "local wf = Workflow.builder()\nwf = wf:build()\nwf:execute({})\n")
    assert t[(2, "execute")] == ("method", {"defaultLibrary", "async"})  # a WorkflowInstance now


JS = """\
/** @param {AgentInstance} a */
const agent = await Agent.builder().name("a").build();
let pending = Agent.builder().build();
function run(input, { depth, mode: m } = {}, ...rest) {
  return agent.execute(input) + depth + m + rest.length;
}
main();
async function main() { console.log(Math.max(1, 2), JSON.stringify({ k: 1 })); }
const f = (x) => x * 2;
class Helper extends Object { go(y) { return y; } }
for (const k of [1]) { run(k); }
pending.execute({});
"""


def test_js_api_and_promises(index: ApiIndex) -> None:
    t = toks(index, JS, "javascript")
    assert t[(0, "AgentInstance")] == ("class", {"defaultLibrary"})
    assert t[(1, "agent")] == ("variable", {"declaration", "readonly"})
    assert t[(1, "Agent")] == ("namespace", {"defaultLibrary", "readonly"})
    assert t[(1, "build")] == ("method", {"defaultLibrary", "async"})
    assert t[(4, "execute")] == ("method", {"defaultLibrary", "async"})  # awaited: an AgentInstance
    assert t[(11, "execute")] == ("method", set())  # a Promise has no ``execute``
    assert t[(7, "JSON")] == ("namespace", {"defaultLibrary", "readonly"})
    assert t[(7, "console")] == ("namespace", {"defaultLibrary"}) and t[(7, "log")] == ("method", {"defaultLibrary"})


def test_js_declarations_patterns_hoisting_and_classes(index: ApiIndex) -> None:
    t = toks(index, JS, "javascript")
    assert t[(3, "run")] == ("function", {"declaration"})
    assert t[(3, "input")] == ("parameter", {"declaration"})
    assert t[(3, "depth")] == ("parameter", {"declaration"})
    assert t[(3, "mode")] == ("property", set()) and t[(3, "m")] == ("parameter", {"declaration"})
    assert t[(4, "rest")] == ("parameter", set()) and t[(4, "length")] == ("property", set())
    assert t[(6, "main")] == ("function", set())  # hoisted: used before its declaration
    assert t[(7, "k")] == ("property", {"declaration"})
    assert t[(8, "f")] == ("variable", {"declaration", "readonly"}) and t[(8, "x")] == ("parameter", set())
    assert t[(9, "Helper")] == ("class", {"declaration"}) and t[(9, "Object")] == ("class", {"defaultLibrary"})
    assert t[(9, "go")] == ("method", {"declaration"}) and t[(9, "y")] == ("parameter", set())
    assert t[(10, "k")] == ("variable", {"readonly"})


def test_columns_in_the_negotiated_encoding(index: ApiIndex) -> None:
    text = 'local s = "😀" .. Agent.name\n'
    doc = Documents().open("file:///w/a.lua", text, 1, "lua")
    u16 = {d[0:3] for d in decode(token_data(doc, index, "utf-16"))}
    u8 = {d[0:3] for d in decode(token_data(doc, index, "utf-8"))}
    assert (0, len('local s = "') + 2 + len('" .. '), 5) in u16  # the emoji is 2 UTF-16 units
    assert (0, len('local s = "') + 4 + len('" .. '), 5) in u8  # and 4 UTF-8 bytes
    text = "const é = 1; const s = é;\n"
    doc = Documents().open("file:///w/a.js", text, 1, "javascript")
    assert {(r, c, n) for r, c, n, _, _ in decode(token_data(doc, index, "utf-8"))} == {
        (0, 6, 2), (0, 20, 1), (0, 24, 2)}
    assert {(r, c, n) for r, c, n, _, _ in decode(token_data(doc, index, "utf-16"))} == {
        (0, 6, 1), (0, 19, 1), (0, 23, 1)}


def test_tokens_never_span_lines_or_overlap(index: ApiIndex) -> None:
    text = LUA + "local long = [[a\nb]] --[[ c\nd ]]\n"
    doc = Documents().open("file:///w/a.lua", text, 1, "lua")
    decoded = decode(token_data(doc, index, "utf-16"))
    lines = text.split("\n")
    prev = (-1, -1)
    for row, col, ln, _, _ in decoded:
        assert col + ln <= len(lines[row])
        assert (row, col) > prev
        prev = (row, col + ln - 1)


def big_lua(n: int) -> str:
    return "".join(f'local a{i} = Agent.builder():name("a{i}"):build()\nlocal r{i} = a{i}:execute({{}})\n'
                   for i in range(n))


def test_an_edit_reuses_the_other_statements_and_gives_the_same_answer(index: ApiIndex) -> None:
    docs = Documents()
    text = big_lua(400)
    doc = docs.open("file:///w/big.lua", text, 1, "lua")
    token_data(doc, index, "utf-16")
    lines = text.split("\n")
    lines[300] = 'local a150 = "now a string"'
    new = "\n".join(lines)
    doc2 = docs.change("file:///w/big.lua", new, 2)
    incremental = token_data(doc2, index, "utf-16")
    fresh = token_data(Documents().open("file:///w/other.lua", new, 1, "lua"), index, "utf-16")
    assert incremental == fresh
    by_pos = {(r, c): (tt, mods) for r, c, _, tt, mods in decode(incremental)}
    # line 301 ``a150:execute`` is no longer an agent's method: the later group saw the new binding
    col = lines[301].index("execute")
    assert by_pos[(301, col)] == ("method", set())


def test_range_returns_the_tokens_inside_it_relative_to_the_start(index: ApiIndex) -> None:
    text = big_lua(20)
    doc = Documents().open("file:///w/a.lua", text, 1, "lua")
    full = decode(token_data(doc, index, "utf-16"))
    rng = lsp.Range(start=lsp.Position(line=10, character=0), end=lsp.Position(line=12, character=0))
    part = decode(list(semantic_tokens_range(doc, index, "utf-16", rng).data))
    assert part == [t for t in full if 10 <= t[0] < 12]
    assert part[0][0] == 10


def test_delta_against_the_previous_result(index: ApiIndex) -> None:
    docs = Documents()
    text = big_lua(50)
    doc = docs.open("file:///w/a.lua", text, 1, "lua")
    first = semantic_tokens_full(doc, index, "utf-16")
    assert first.result_id
    assert semantic_tokens_full(doc, index, "utf-16").result_id == first.result_id  # same version, same id
    lines = text.split("\n")
    lines[40] = "local zz = 1 " + lines[40]
    doc2 = docs.change("file:///w/a.lua", "\n".join(lines), 2)
    delta = semantic_tokens_delta(doc2, index, "utf-16", first.result_id)  # type: ignore[arg-type]
    assert isinstance(delta, lsp.SemanticTokensDelta) and delta.result_id != first.result_id
    (edit,) = delta.edits
    patched = list(first.data)
    patched[edit.start:edit.start + edit.delete_count] = list(edit.data or [])
    assert patched == list(semantic_tokens_full(doc2, index, "utf-16").data)
    assert len(edit.data or []) < len(first.data) // 10  # only the edited line's tokens travel
    # an unknown base: the full tokens
    assert isinstance(semantic_tokens_delta(doc2, index, "utf-16", "nope"), lsp.SemanticTokens)


def test_broken_code_still_gets_tokens(index: ApiIndex) -> None:
    t = toks(index, "local a = Agent.\nlocal b = Tool.execute(\nprint(b\n")
    assert t[(0, "Agent")][0] == "namespace"
    assert t[(1, "Tool")][0] == "namespace" and t[(1, "b")][0] == "variable"
    assert toks(index, "") == {}


def test_deep_nesting_is_walked_without_recursion(index: ApiIndex) -> None:
    depth = 3000
    text = "local t = " + "{ x = " * depth + "y" + " }" * depth + "\n"
    t = toks(index, text)
    assert t[(0, "t")] == ("variable", {"declaration"}) and t[(0, "y")] == ("variable", set())
