"""Hostile inputs get answers (correct for what they cover) instead of stalls: no pass over a document
is quadratic in a line's length, and requests on a huge document answer from what is parsed so far."""

from __future__ import annotations

import pytest

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.documents import Documents
from llmspell_ls.features import undefined

LONG = 300_000


@pytest.mark.parametrize(("lang", "text"), [
    ("javascript", "x" * LONG),                       # a word: every start of it was tried (arrow params)
    ("javascript", "a, " * (LONG // 3)),
    ("lua", "a, " * (LONG // 3)),                     # a comma list without "=" (the `a, b =` form)
    ("lua", "x" * LONG),
    ("lua", "local " + "a " * (LONG // 2)),
])
def test_undefined_global_passes_are_linear_on_long_lines(lang: str, text: str) -> None:
    """Quadratic look-arounds took minutes on such lines (hours at 1 MB): with pytest's timeout this
    test fails unless the regex passes over a slice are linear."""
    heads, bound = undefined._slice_facts(text, lang)
    assert "a" not in heads and "x" not in heads  # nothing here is indexed as a table
    assert ("a" in bound) == text.startswith("local")


def test_bindings_in_comma_lists_still_count(index: ApiIndex) -> None:
    doc = Documents().open("file:///b.lua", "a, b = {}, {}\nprint(a.x, b.y, Foo.z)\n", 1, "lua")
    assert [d["message"] for d in undefined.undefined_globals(doc, index, "utf-16")] == ["undefined global 'Foo'"]


def test_arrow_parameters_still_count(index: ApiIndex) -> None:
    doc = Documents().open("file:///b.js", "const f = p => p.x + Foo.y;\nconst g = (q) => q.z;\n", 1, "javascript")
    assert [d["message"] for d in undefined.undefined_globals(doc, index, "utf-16")] == ["undefined global 'Foo'"]


def test_a_statement_of_megabytes_gets_no_guesses(index: ApiIndex) -> None:
    text = "local t = {" + "a = Foo.x, " * 30_000 + "}\n"  # parses fast (a valid table)
    doc = Documents().open("file:///m.lua", text, 1, "lua")
    assert len(text) > undefined.SLICE_SKIP_CHARS
    assert undefined.undefined_globals(doc, index, "utf-16") == []
