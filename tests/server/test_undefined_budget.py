"""The undefined-global pass under a budget: sliced between top-level statements, checkpoints between
slices, resumable after ``Cancelled``, slice results reused across versions; same findings as one piece."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.budget import Cancelled, Token, running
from llmspell_ls.documents import DocState, Documents
from llmspell_ls.features import undefined as U
from llmspell_ls.features.diagnostics import analyze_document

BLOCK = ('local function step_{i}(x)\n'
         '  local t = {{a = x, b = "{i}"}}\n'
         '  return t.a + helper_{i}(x)\n'
         'end\n'
         'helper_{i} = function(y) return y * 2 end\n')


def big(n: int = 3000, head: str = "", tail: str = "") -> str:
    return head + "".join(BLOCK.format(i=i) for i in range(n)) + tail


def open_(text: str, version: int = 1, prev: DocState | None = None) -> DocState:
    doc = Documents().open("file:///w/big.lua", text, version, "lua")  # type: ignore[arg-type]
    if prev is not None:
        doc.shared.update(prev.shared)
    return doc


def messages(diags: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(d["range"]["start"]["line"], d["message"]) for d in diags]


class Counting(Token):
    def __init__(self, budget_ms: float | None = None):
        super().__init__(budget_ms)
        self.polls = 0

    def poll(self) -> bool:
        self.polls += 1
        return super().poll()


def test_slices_cover_the_text_and_cut_at_top_level_statements() -> None:
    doc = open_(big())
    sl = U.text_slices(doc)
    assert len(sl) > 10
    assert sl[0][0] == 0 and sl[-1][1] == len(doc.text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(sl))
    assert all(e - s <= U.SLICE_MAX_CHARS for s, e in sl)
    for s, _ in sl[1:]:
        assert doc.text[s - 1] == "\n"
        assert doc.text[s:].startswith(("local function", "helper_")), doc.text[s:s + 30]


def test_no_cut_inside_a_long_string_or_comment(real_index: ApiIndex) -> None:
    # a long string whose lines start at column 0 and look like statements: never a cut inside it
    fake = "".join(f"local fake_{i} = Nope.x\n" for i in range(6000))
    text = big(200) + "local s = [[\n" + fake + "]]\n--[[\n" + fake + "]]\n" + big(200)
    doc = open_(text)
    inside = [(text.index("[[\n"), text.index("]]\n")), (text.index("--[[\n"), text.rindex("]]\n"))]
    for s, _ in U.text_slices(doc)[1:]:
        assert not any(a < s <= b for a, b in inside), text[s:s + 30]
    assert U.undefined_globals(doc, real_index, "utf-16") == []  # ``Nope`` only inside the string/comment


def test_same_findings_as_one_piece(monkeypatch: pytest.MonkeyPatch, real_index: ApiIndex) -> None:
    # ``Late`` is bound in the last slice and used in the first (flow-insensitive: defined);
    # ``Foo`` and ``Bar`` are indexed in different slices and bound nowhere
    text = big(1500, head="print(Late.x)\n", tail="Foo.bar()\nLate = {}\n") + big(1500, tail="local z = Bar:baz()\n")
    sliced = U.undefined_globals(open_(text), real_index, "utf-16")
    monkeypatch.setattr(U, "SLICE_MAX_CHARS", 10**9)
    monkeypatch.setattr(U, "SLICE_SKIP_CHARS", 10**9)
    whole = U.undefined_globals(open_(text), real_index, "utf-16")
    assert len(U.text_slices(open_(text))) == 1
    assert messages(sliced) == messages(whole) == [
        (1 + 5 * 1500, "undefined global 'Foo'"), (3 + 5 * 3000, "undefined global 'Bar'")]


def test_a_checkpoint_between_slices(real_index: ApiIndex) -> None:
    doc = open_(big(tail="Foo.x()\n"))
    tok = Counting()
    with running(tok):
        got = U.undefined_globals(doc, real_index, "utf-16")
    assert messages(got) == [(5 * 3000, "undefined global 'Foo'")]
    assert tok.polls >= len(U.text_slices(doc))


def test_cut_short_by_the_budget_then_resumed(real_index: ApiIndex) -> None:
    doc = open_(big(tail="Foo.x()\n"))
    doc.tree  # noqa: B018 - the parse is not part of the pass
    expired = Token(0)
    with running(expired), pytest.raises(Cancelled):
        U.undefined_globals(doc, real_index, "utf-16")
    passes = 0
    seen = [U.progress(doc)]
    while True:
        passes += 1
        assert passes < 500
        tok = Token(5)  # a few ms per pass
        with running(tok):
            try:
                got = U.undefined_globals(doc, real_index, "utf-16")
                break
            except Cancelled:
                seen.append(U.progress(doc))
    assert messages(got) == [(5 * 3000, "undefined global 'Foo'")]
    assert seen == sorted(seen)  # every pass cut short kept what it did


def test_an_edit_recomputes_only_its_slice(monkeypatch: pytest.MonkeyPatch, real_index: ApiIndex) -> None:
    text = big(tail="Foo.x()\n")
    first = open_(text)
    U.undefined_globals(first, real_index, "utf-16")
    calls: list[int] = []
    real = U._bound_names
    monkeypatch.setattr(U, "_bound_names", lambda code, lang: calls.append(len(code)) or real(code, lang))
    at = text.index("helper_1500 = ")
    edited = open_(text[:at] + "local extra = 1\n" + text[at:], 2, first)
    got = U.undefined_globals(edited, real_index, "utf-16")
    assert messages(got) == [(5 * 3000 + 1, "undefined global 'Foo'")]
    assert 1 <= len(calls) <= 2 < len(U.text_slices(edited))


def test_bound_names_are_only_looked_for_when_an_indexed_name_is_unknown(monkeypatch: pytest.MonkeyPatch,
                                                                         real_index: ApiIndex) -> None:
    calls: list[int] = []
    real = U._bound_names
    monkeypatch.setattr(U, "_bound_names", lambda code, lang: calls.append(len(code)) or real(code, lang))
    text = "".join(f'local a{i} = Agent.builder()\nprint(string.format("%d", {i}))\n' for i in range(8000))
    doc = open_(text)
    assert len(U.text_slices(doc)) > 1
    assert U.undefined_globals(doc, real_index, "utf-16") == []  # only API and library tables indexed
    assert calls == []


@pytest.mark.parametrize("lang", ["lua", "javascript"])
def test_a_200000_character_name_stays_linear(lang: str) -> None:
    # every binding pattern is anchored (look-behind or keyword): a long name is not re-scanned from each
    # of its characters (this would run for hours and hit the test timeout)
    code = "Agent." + "x" * 200_000 + "\nlocal a = Agent.builder():\n" + "y" * 200_000 + " => 1\n"
    names = U._bound_names(code, lang)
    assert "a" in names and "y" * 200_000 in names  # ``y… =>``: a JS arrow parameter, a Lua ``y… =``


def test_the_diagnostics_pass_is_partial_when_the_undefined_pass_is_cut(monkeypatch: pytest.MonkeyPatch,
                                                                         real_index: ApiIndex) -> None:
    doc = open_(big(300, tail="Foo.x()\nBar.y()\n"))
    enc = "utf-16"
    doc.tree  # noqa: B018
    tok = Token()
    real = U.text_slices

    def slices_then_expire(d: DocState) -> list[tuple[int, int]]:
        tok.cancel("over budget")  # the statement checks are done: the budget runs out in this pass
        return real(d)

    monkeypatch.setattr(U, "text_slices", slices_then_expire)
    with running(tok):
        an = analyze_document(doc, real_index, enc)
    assert an.partial and not [d for d in an.diagnostics if d["code"] == U.CODE]
    monkeypatch.setattr(U, "text_slices", real)
    an = analyze_document(doc, real_index, enc)  # the next pass completes
    assert not an.partial
    assert [m for _, m in messages([d for d in an.diagnostics if d["code"] == U.CODE])] == [
        "undefined global 'Foo'", "undefined global 'Bar'"]
