"""textDocument/foldingRange as a pure function: what folds, where it ends, and the client's limits."""

from __future__ import annotations

from lsprotocol import types as lsp

from llmspell_ls.documents import Documents
from llmspell_ls.features.folding import FoldOptions, folding_ranges


def folds(text: str, lang: str = "lua", enc: str = "utf-16", **kw: object) -> list[tuple[int, int, str | None]]:
    doc = Documents().open(f"file:///w/spell.{'lua' if lang == 'lua' else 'js'}", text, 1, lang)  # type: ignore[arg-type]
    return [(r.start_line, r.end_line, str(r.kind.value) if isinstance(r.kind, lsp.FoldingRangeKind) else r.kind)
            for r in folding_ranges(doc, enc, FoldOptions(**kw))]  # type: ignore[arg-type]


LUA = """\
--[[ A spell
that does things ]]
-- region Setup
local agent = Agent.builder()
  :name("a")
  :build()
-- endregion
local function step(ctx)
  if ctx.a then
    return 1
  elseif ctx.b then
    return 2
  else
    return 3
  end
end
-- first
-- second
-- third
local t = {
  a = 1,
  b = { c = 2 },
}
Tool.execute("calculator", {
  input = "1 + 1",
})
Hook.register("BeforeAgentExecution", function(ctx)
  return "continue"
end)
local n = 0
repeat
  n = n + 1
until n > 3
for i = 1, 3 do
  print(i)
end
while n > 0 do
  n = n - 1
end
do
  local x = 1
end
local s = [[first
second]]
"""


def test_lua_blocks_end_before_their_closing_line() -> None:
    got = folds(LUA)
    assert (7, 14, None) in got  # local function step ... (``end`` on 15 stays visible)
    assert (8, 9, None) in got and (10, 11, None) in got and (12, 13, None) in got  # if / elseif / else
    assert (19, 21, None) in got  # the table (``}`` on 22 stays visible)
    assert (23, 24, None) in got  # ``Tool.execute(... {`` … ``})``
    assert (26, 27, None) in got  # a callback argument … ``end)``
    assert (30, 31, None) in got  # repeat … until
    assert (33, 34, None) in got and (36, 37, None) in got and (39, 40, None) in got  # for, while, do
    assert (42, 43, None) in got  # a long string folds whole


def test_lua_comments_and_regions() -> None:
    got = folds(LUA)
    assert (0, 1, "comment") in got  # --[[ ]]
    assert (16, 18, "comment") in got  # three line comments in a row
    assert (2, 6, "region") in got  # -- region … -- endregion
    assert not any(s == e for s, e, _ in got)


def test_region_markers_in_several_spellings_and_nesting() -> None:
    text = "--#region outer\nlocal a = 1\n--region inner\nlocal b = 2\n--endregion\n--#endregion\n-- endregion\n"
    got = folds(text)
    assert (0, 5, "region") in got and (2, 4, "region") in got
    assert len([g for g in got if g[2] == "region"]) == 2  # the unmatched end marker opens nothing


def test_region_name_is_the_collapsed_text_when_the_client_supports_it() -> None:
    doc = Documents().open("file:///w/a.lua", "-- region Setup stuff\nlocal a = 1\n-- endregion\n", 1, "lua")
    (r,) = folding_ranges(doc, "utf-16", FoldOptions(collapsed_text=True))
    assert r.collapsed_text == "Setup stuff" and r.kind == lsp.FoldingRangeKind.Region
    (r,) = folding_ranges(doc, "utf-16", FoldOptions(collapsed_text=False))
    assert r.collapsed_text is None


def test_single_line_constructs_and_empty_documents_fold_nothing() -> None:
    assert folds("local t = { a = 1 }\nfunction f() return 1 end\nif x then y() end\n") == []
    assert folds("") == []
    assert folds("", "javascript") == []
    assert folds("-- just one comment\n") == []


def test_a_comment_after_code_does_not_join_a_comment_run() -> None:
    got = folds("local a = 1 -- note\n-- real\n-- comment\nlocal b = 2 -- x\n")
    assert got == [(1, 2, "comment")]


def test_one_range_per_start_line_the_outermost() -> None:
    got = folds('Tool.execute("x", {\n  a = {\n    b = 1,\n  },\n})\n')
    starts = [s for s, _, _ in got]
    assert len(starts) == len(set(starts))
    assert (0, 3, None) in got and (1, 2, None) in got


JS = """\
import { a,
  b } from "x";
import c from "y";
/* a block
   comment */
// #region Setup
const cfg = { model: "m",
  items: [1,
    2] };
// #endregion
async function main(p) {
  const s = `line one
line two`;
  if (p) {
    return 1;
  } else {
    return 2;
  }
}
// one
// two
"""


def test_js_blocks_objects_templates_imports_and_regions() -> None:
    got = folds(JS, "javascript")
    assert (0, 2, "imports") in got  # the import run (the multi-line named imports inside it)
    assert (3, 4, "comment") in got
    assert (5, 9, "region") in got
    assert (6, 8, None) in got and (7, 8, None) in got  # the object; the array ``2] };`` keeps its line
    assert (10, 17, None) in got  # the function body, ``}`` on 18 visible
    assert (11, 12, None) in got  # the template literal
    assert (13, 14, None) in got and (15, 16, None) in got  # ``if {`` and ``} else {`` branches
    assert (19, 20, "comment") in got


def test_range_limit_keeps_the_first_ranges() -> None:
    all_ = folds(LUA)
    limited = folds(LUA, range_limit=3)
    assert limited == all_[:3] and len(all_) > 3
    assert folds(LUA, range_limit=0) == []


def test_without_line_folding_only_brackets_start_after_the_opening_bracket() -> None:
    text = "local t = {\n  a = 1,\n}\nlocal function f()\n  return 1\nend\n"
    doc = Documents().open("file:///w/a.lua", text, 1, "lua")
    by_line = {r.start_line: r for r in folding_ranges(doc, "utf-16", FoldOptions(line_folding_only=False))}
    assert by_line[0].start_character == len("local t = {")
    assert by_line[3].start_character is None  # keyword blocks: the whole start line stays
    by_line = {r.start_line: r for r in folding_ranges(doc, "utf-16", FoldOptions(line_folding_only=True))}
    assert by_line[0].start_character is None


def test_start_character_in_the_negotiated_encoding() -> None:
    text = 'local t = { "😀", x = {\n  a = 1,\n} }\n'
    doc = Documents().open("file:///w/a.lua", text, 1, "lua")
    opts = FoldOptions(line_folding_only=False)
    (r16,) = [r for r in folding_ranges(doc, "utf-16", opts) if r.start_line == 0]
    (r8,) = [r for r in folding_ranges(doc, "utf-8", opts) if r.start_line == 0]
    # the outer table wins the line; it starts after its ``{``, before the emoji
    assert r16.start_character == r8.start_character == len("local t = {")
    text = 'local s = "😀" .. f({\n  a = 1,\n})\n'
    doc = Documents().open("file:///w/b.lua", text, 1, "lua")
    (r16,) = folding_ranges(doc, "utf-16", opts)
    (r8,) = folding_ranges(doc, "utf-8", opts)
    assert r16.start_character == len('local s = "') + 2 + len('" .. f(')
    assert r8.start_character == len('local s = "') + 4 + len('" .. f(')


def test_deeply_nested_tables_fold_without_recursion() -> None:
    depth = 5000
    text = "local t = " + "{\n" * depth + "1" + "\n}" * depth + "\n"
    got = folds(text)
    assert len(got) == depth
