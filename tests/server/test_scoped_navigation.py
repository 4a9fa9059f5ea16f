"""Navigation of a Lua local looks only where it can be: its declaration is found by walking backwards
from the cursor (:func:`lua_declaration_of`) and its uses are collected inside its scope. The answers
must be those of the whole-document binding (:func:`name_occurrences` over every occurrence) for every
variable of real spells, shadowing and nested functions included."""

from __future__ import annotations

import pytest
from lsp_helpers import REPO
from tree_sitter import Node

from llmspell_ls.analysis.scopes import lua_declaration_of, name_occurrences
from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.documents import Documents
from llmspell_ls.features import navigation

SHADOWING = """local x = 1
local function f(x)
  local y = x + 1
  do
    local x = y
    print(x, y)
  end
  for i, x in ipairs({}) do print(i, x) end
  return x
end
local x = x + f(x)
print(x)
local t = {x = x}
t.x = x
function g() return x end
"""

SPELLS = sorted((REPO / "examples").glob("*.lua"))


def cases() -> list[tuple[str, str]]:
    return [("shadowing", SHADOWING)] + [(p.name, p.read_text(encoding="utf-8")) for p in SPELLS]


@pytest.mark.parametrize(("name", "text"), cases(), ids=[c[0] for c in cases()])
def test_backward_declaration_agrees_with_the_whole_document_binding(name: str, text: str) -> None:
    doc = Documents().open(f"file:///work/{name}", text, 1, "lua")
    root = doc.tree.root_node
    names = {doc.source[n.start_byte:n.end_byte].decode() for n in _identifiers(root)}
    checked = 0
    for nm in names:
        occs = name_occurrences(doc, nm)
        by_start = {o.start: o for o in occs}
        for n in _identifiers(root):
            if doc.source[n.start_byte:n.end_byte].decode() != nm or n.start_byte not in by_start:
                continue
            o = by_start[n.start_byte]
            want = occs[o.binding].start if o.binding >= 0 else None
            got = lua_declaration_of(doc, n, nm)
            assert (got.start if got is not None else None) == want, (nm, n.start_point)
            checked += 1
    assert checked > 5


@pytest.mark.parametrize(("name", "text"), cases(), ids=[c[0] for c in cases()])
def test_references_of_every_local_are_those_of_the_whole_document(index: ApiIndex, name: str, text: str) -> None:
    docs = Documents()
    doc = docs.open(f"file:///work/{name}", text, 1, "lua")
    seen = 0
    for n in _identifiers(doc.tree.root_node):
        nm = doc.source[n.start_byte:n.end_byte].decode()
        occs = name_occurrences(doc, nm)
        o = next((o for o in occs if o.start == n.start_byte), None)
        if o is None or o.binding < 0:
            continue
        want = sorted((x.row, x.col) for x in occs if x.binding == o.binding)
        row, col = n.start_point
        got = navigation.references(doc, index, row, col, "utf-8", True) or []
        assert sorted((r.range.start.line, r.range.start.character) for r in got) == want, (nm, row, col)
        seen += 1
    assert seen > 3


@pytest.mark.parametrize(("name", "text"), cases(), ids=[c[0] for c in cases()])
def test_definition_of_every_local_is_its_whole_document_binding(index: ApiIndex, name: str, text: str) -> None:
    doc = Documents().open(f"file:///work/{name}", text, 1, "lua")
    seen = 0
    for n in _identifiers(doc.tree.root_node):
        nm = doc.source[n.start_byte:n.end_byte].decode()
        occs = name_occurrences(doc, nm)
        o = next((o for o in occs if o.start == n.start_byte), None)
        if o is None or o.binding < 0:
            continue
        d = occs[o.binding]
        row, col = n.start_point
        got = navigation.definition(doc, index, row, col, "utf-8") or []
        assert [(g.range.start.line, g.range.start.character) for g in got] == [(d.row, d.col)], (nm, row, col)
        seen += 1
    assert seen > 3


def test_shadowed_names_resolve_to_the_nearest_visible_declaration(index: ApiIndex) -> None:
    doc = Documents().open("file:///work/s.lua", SHADOWING, 1, "lua")
    # ``print(x, y)`` inside ``do``: the block's own ``local x = y`` (line 4)
    loc = navigation.definition(doc, index, 5, 10, "utf-8")
    assert loc is not None and (loc[0].range.start.line, loc[0].range.start.character) == (4, 10)
    # ``local x = x + f(x)``: the right-hand side sees the first ``local x`` (line 0)
    loc = navigation.definition(doc, index, 10, 10, "utf-8")
    assert loc is not None and (loc[0].range.start.line, loc[0].range.start.character) == (0, 6)
    # ``return x`` in ``f``: the parameter
    loc = navigation.definition(doc, index, 8, 9, "utf-8")
    assert loc is not None and (loc[0].range.start.line, loc[0].range.start.character) == (1, 17)


def _identifiers(root: Node) -> list[Node]:
    out: list[Node] = []
    stack = [root]
    while stack:
        n = stack.pop()
        if n.type == "identifier":
            out.append(n)
        stack.extend(n.children)
    return out

