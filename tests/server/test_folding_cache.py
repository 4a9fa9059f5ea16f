"""Folding ranges reused across versions: each top-level statement's folds are kept (keyed by its lines)
and only the edited statements are walked again; the answer always equals a fresh computation."""

from __future__ import annotations

from typing import Any

import pytest
from lsprotocol import types as lsp
from test_folding import LUA

from llmspell_ls.documents import DocState, Documents
from llmspell_ls.features import folding as F

JS = """\
// #region setup
import { a } from "x";
import {
  b,
} from "y";
// #endregion
function f(x) {
  return {
    a: 1,
  };
}
// one
// two
const t = [
  1,
];
"""


def _open(text: str, version: int = 1, prev: DocState | None = None, lang: str = "lua") -> DocState:
    doc = Documents().open(f"file:///w/s.{'lua' if lang == 'lua' else 'js'}", text, version, lang)  # type: ignore[arg-type]
    if prev is not None:
        doc.shared.update(prev.shared)
    return doc


def _folds(doc: DocState, **kw: Any) -> list[lsp.FoldingRange]:
    return F.folding_ranges(doc, "utf-16", F.FoldOptions(**kw))


def _walks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = F._Folder._piece

    def counting(self: F._Folder, stmt: Any, base: int) -> Any:
        calls.append(base)
        return real(self, stmt, base)

    monkeypatch.setattr(F._Folder, "_piece", counting)
    return calls


EDITS = [
    ("inside a function", lambda t: t.replace("    return 2", "    local y = 2\n    return y")),
    ("a new statement first", lambda t: "local first = {\n  x = 1,\n}\n" + t),
    ("a function removed", lambda t: t.replace("for i = 1, 3 do\n  print(i)\nend\n", "")),
    ("a comment run joined", lambda t: t.replace("-- third\n", "-- third\n-- fourth\n")),
    ("a region opened", lambda t: t.replace("local n = 0\n", "-- region Loops\nlocal n = 0\n") + "-- endregion\n"),
    ("a long string broken", lambda t: t.replace("local s = [[first", "local s = [[first\nthird")),
    ("two statements on a line", lambda t: t.replace("local n = 0\n", "local n = 0 local m = {\n1}\n")),
]


@pytest.mark.parametrize(("what", "edit"), EDITS, ids=[e[0] for e in EDITS])
@pytest.mark.parametrize("line_only", [True, False])
def test_after_an_edit_the_same_as_a_fresh_computation(what: str, edit: Any, line_only: bool) -> None:
    first = _open(LUA)
    _folds(first, line_folding_only=line_only)
    text = edit(LUA)
    assert text != LUA
    again = _open(text, 2, first)
    assert _folds(again, line_folding_only=line_only) == _folds(_open(text), line_folding_only=line_only)


def test_javascript_imports_and_regions_after_an_edit() -> None:
    first = _open(JS, lang="javascript")
    _folds(first)
    text = JS.replace('import { a } from "x";\n', 'import { a } from "x";\nimport c from "z";\n')
    got = _folds(_open(text, 2, first, "javascript"))
    assert got == _folds(_open(text, lang="javascript"))
    assert (1, 5, lsp.FoldingRangeKind.Imports) in [(r.start_line, r.end_line, r.kind) for r in got]
    assert any(r.kind == lsp.FoldingRangeKind.Region and (r.start_line, r.end_line) == (0, 6) for r in got)


def test_only_the_edited_statement_is_walked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _walks(monkeypatch)
    first = _open(LUA)
    _folds(first)
    multi_line = len(calls)
    assert multi_line >= 8
    calls.clear()
    again = _open(LUA.replace("    return 2", "    return 22"), 2, first)
    _folds(again)
    assert calls == [7]  # ``local function step`` starts on row 7
    calls.clear()
    shifted = _open("local first = 1\n\n" + again.text, 3, again)  # everything moves down two rows
    _folds(shifted)
    assert calls == []


def test_a_version_cut_short_keeps_the_previous_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmspell_ls.budget import Cancelled, Token, running

    first = _open(LUA)
    _folds(first)
    again = _open(LUA.replace("    return 2", "    return 22"), 2, first)
    tok = Token(0)
    with running(tok):  # over budget at once: a partial answer (nothing yet), marked so (not cached)
        assert _folds(again) == []
    assert tok.cancelled
    with running(Token(None)) as t:  # $/cancelRequest: no partial answer wanted
        assert t is not None
        t.cancel()
        with pytest.raises(Cancelled):
            _folds(again)
    want = _folds(_open(again.text))
    calls = _walks(monkeypatch)
    assert _folds(again) == want
    assert calls == [7]


def test_options_and_encodings_have_their_own_cache() -> None:
    text = "local s = 'é' local t = {\n  1,\n}\n"
    doc = _open(text)
    line = _folds(doc, line_folding_only=True)
    chars = _folds(doc, line_folding_only=False)
    assert line[0].start_character is None and chars[0].start_character == len("local s = 'é' local t = {")
    assert F.folding_ranges(doc, "utf-8", F.FoldOptions(line_folding_only=False))[0].start_character == \
        len("local s = 'é' local t = {".encode())
