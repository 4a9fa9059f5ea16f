"""selectionRange over the pure function: each step is a larger syntax node, up to the whole file."""

from __future__ import annotations

from itertools import pairwise

from lsp_helpers import doc_at
from lsprotocol import types as lsp

from llmspell_ls.features.selection import selection_range, selection_ranges


def chain(sr: lsp.SelectionRange | None) -> list[tuple[int, int, int, int]]:
    out = []
    while sr is not None:
        r = sr.range
        out.append((r.start.line, r.start.character, r.end.line, r.end.character))
        sr = sr.parent
    return out


def texts(doc_text: str, spans: list[tuple[int, int, int, int]]) -> list[str]:
    lines = doc_text.split("\n")
    out = []
    for l0, c0, l1, c1 in spans:
        if l0 == l1:
            out.append(lines[l0][c0:c1])
        else:
            out.append("\n".join([lines[l0][c0:], *lines[l0 + 1:l1], lines[l1][:c1]]))
    return out


def test_lua_selection_grows_along_the_chain() -> None:
    doc, line, ch = doc_at('local a = Agent.builder():mo|del("x")\nprint(a)')
    got = texts(doc.text, chain(selection_range(doc, line, ch, "utf-16")))
    assert got[0] == "model"
    assert 'Agent.builder():model("x")' in got
    assert 'local a = Agent.builder():model("x")' in got
    assert got[-1] == doc.text


def test_each_range_contains_the_previous_one() -> None:
    doc, line, ch = doc_at("function f(x)\n  if x then\n    return x + |1\n  end\nend\n")
    spans = chain(selection_range(doc, line, ch, "utf-16"))
    for inner, outer in pairwise(spans):
        assert (outer[0], outer[1]) <= (inner[0], inner[1]) and (outer[2], outer[3]) >= (inner[2], inner[3])
        assert outer != inner
    got = texts(doc.text, spans)
    assert got[0] == "1" and "x + 1" in got and any(t.startswith("if x then") for t in got)


def test_js_selection_and_several_positions() -> None:
    doc, line, ch = doc_at("const o = { a: [1, 2|, 3] };\n", "javascript")
    res = selection_ranges(doc, [lsp.Position(line=line, character=ch), lsp.Position(line=0, character=6)], "utf-16")
    assert len(res) == 2
    first = texts(doc.text, chain(res[0]))
    assert "[1, 2, 3]" in first and "{ a: [1, 2, 3] }" in first
    assert texts(doc.text, chain(res[1]))[0] == "o"


def test_utf16_columns() -> None:
    doc, line, ch = doc_at('local s = "😀" .. |x\n')
    assert ch == 17  # code points; the emoji counts two UTF-16 units
    spans = chain(selection_range(doc, line, ch + 1, "utf-16"))
    assert spans[0] == (0, 18, 0, 19)
    assert spans[1] == (0, 10, 0, 19)  # '"😀" .. x'
