"""Requests on a huge document not parsed yet answer from a window of its lines (parsed alone): inlay
hints and semantic tokens of a range from the range's lines, rename of a local from its scope. Each
windowed answer is checked against the answer computed on the whole parsed document."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.documents import DocState, Documents, range_window, window_statements
from llmspell_ls.features import inlay_hints, semantic_tokens

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from lsp.corpus import examples_spell


@cache
def spell(lines: int) -> str:
    return examples_spell(lines)


def whole(text: str, lang: str = "lua") -> DocState:
    return Documents().open(f"file:///spell.{'lua' if lang == 'lua' else 'js'}", text, 1, lang)  # type: ignore[arg-type]


def fresh(text: str, lang: str = "lua") -> DocState:
    """A snapshot never parsed (what a request meets right after didOpen of a huge file)."""
    return DocState(f"file:///spell.{'lua' if lang == 'lua' else 'js'}", lang, 1, text)  # type: ignore[arg-type]


def rng(first: int, last: int) -> lsp.Range:
    return lsp.Range(start=lsp.Position(line=first, character=0), end=lsp.Position(line=last + 1, character=0))


def tokens(data: Any) -> set[tuple[int, ...]]:
    out, row, col = set(), 0, 0
    for i in range(0, len(data), 5):
        row += data[i]
        col = data[i + 1] if data[i] else col + data[i + 1]
        out.add((row, col, *data[i + 2:i + 5]))
    return out


def hints(hs: list[lsp.InlayHint]) -> set[tuple[int, int, str]]:
    return {(h.position.line, h.position.character, str(h.label)) for h in hs}


@pytest.mark.parametrize("enc", ["utf-16", "utf-8"])
def test_semantic_tokens_and_inlay_hints_of_a_range_window_are_the_full_ones(index: ApiIndex, enc: str) -> None:
    """Over every 60-line viewport of a 6,000-line spell: the window's tokens and hints are the full
    answer's (never a token or hint the full answer does not have), and at least half of them."""
    text = spell(6_000)
    full = whole(text)
    n = len(full.lines)
    got_toks = want_toks = got_hints = want_hints = 0
    for first in range(0, n - 60, 173):
        r = rng(first, first + 60)
        w = range_window(fresh(text), first, first + 61)
        assert w.cache.get("_window") is not None
        a = tokens(semantic_tokens.semantic_tokens_range(w, index, enc, r).data)
        b = tokens(semantic_tokens.semantic_tokens_range(full, index, enc, r).data)
        assert a <= b, (first, sorted(a - b)[:5])
        ha = hints(inlay_hints.inlay_hints(w, index, enc, r, light=True))
        hb = hints(inlay_hints.inlay_hints(full, index, enc, r, light=True))
        assert ha <= hb, (first, sorted(ha - hb)[:5])
        got_toks, want_toks = got_toks + len(a), want_toks + len(b)
        got_hints, want_hints = got_hints + len(ha), want_hints + len(hb)
    assert got_toks >= 0.5 * want_toks, (got_toks, want_toks)
    assert got_hints >= 0.5 * want_hints, (got_hints, want_hints)


def test_a_names_bound_before_the_window_get_no_guessed_token(index: ApiIndex) -> None:
    """A local declared far above the window (a typed agent) is unknown to the window: its uses and
    members get no token rather than a wrong one; names bound inside the window get theirs."""
    head = "local agent = Agent.builder():name('a'):build()\n" + "local pad = 1\n" * 500
    body = "local r = agent:execute({text = 'x'})\nlocal b = Agent.builder()\nb:name('y')\nprint(r, b)\n"
    text = head + body
    first = text.count("\n", 0, len(head))
    r = rng(first, first + 4)
    w = range_window(fresh(text), first, first + 4)
    a = tokens(semantic_tokens.semantic_tokens_range(w, index, "utf-16", r).data)
    b = tokens(semantic_tokens.semantic_tokens_range(whole(text), index, "utf-16", r).data)
    assert a <= b
    assert not any(t[0] == first and t[1] in (10, 16) for t in a)  # ``agent``, ``execute``: unknown here
    assert any(t[0] == first + 2 and t[1] == 2 for t in a)  # ``b:name``: typed in the window (a method)


def test_a_cut_long_line_keeps_what_was_parsed_before_the_cut(index: ApiIndex) -> None:
    unit = "Agent.builder():name('x')"
    text = "local x = " + unit * 40_000 + "\nAgent.\n"
    w = range_window(fresh(text), 0, 2)
    kids, _limit = window_statements(w)
    assert kids and kids[-1].end_byte < len(text) // 10  # the window's statements: ~32 KB of the line
    r = rng(0, 2)
    a = tokens(semantic_tokens.semantic_tokens_range(w, index, "utf-16", r).data)
    b = tokens(semantic_tokens.semantic_tokens_range(whole(text), index, "utf-16", r).data)
    assert a and a <= b
    ha = hints(inlay_hints.inlay_hints(w, index, "utf-16", r, light=True))
    assert ha <= hints(inlay_hints.inlay_hints(whole(text), index, "utf-16", r, light=True))


def test_javascript_range_window(index: ApiIndex) -> None:
    unit = ("const a{k} = Agent.builder().name('x{k}').build();\n"
            "const r{k} = await a{k}.execute({{text: 'hi'}});\nconsole.log(r{k}.text, a{k});\n")
    text = "".join(unit.format(k=k) for k in range(600))
    full = whole(text, "javascript")
    for first in (0, 301, 900, 1700):
        r = rng(first, first + 40)
        w = range_window(fresh(text, "javascript"), first, first + 41)
        a = tokens(semantic_tokens.semantic_tokens_range(w, index, "utf-16", r).data)
        b = tokens(semantic_tokens.semantic_tokens_range(full, index, "utf-16", r).data)
        assert a <= b and len(a) >= len(b) // 2, (first, len(a), len(b))


# ------------------------------------------------------------------ rename of a local from its block alone
import re  # noqa: E402

from llmspell_ls.features import rename  # noqa: E402


def outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except rename.RenameError as e:
        return f"refused: {e}"


@pytest.mark.parametrize("new_name", ["renamed_local", "r", "print"])
def test_rename_of_a_local_from_its_block_is_the_full_rename(index: ApiIndex, new_name: str) -> None:
    """Every name on every 11th line of a 3,000-line spell: renamed from its block alone, the edits (or
    the refusal and its message) are the whole document's; the names it cannot place in a block are
    globals, fields or the chunk's own locals (the whole document decides)."""
    text = spell(3_000)
    full = whole(text)
    lines = full.lines
    answered = 0
    for row in range(0, len(lines), 11):
        for m in re.finditer(r"[A-Za-z_]\w*", lines[row]):
            col = m.start() + 1
            try:
                got = outcome(rename.rename_in_scope, fresh(text), index, row, col, new_name, "utf-16")
            except rename.OutOfScope:
                t = rename.target_at(full, index, row, col, "utf-16")
                assert t is None or t.kind != "local" or t.occs[t.index].scope[1] >= len(full.source.rstrip()), \
                    (row, col, lines[row])  # a local is found from its block, unless it is the chunk's
                continue
            want = outcome(rename.rename, full, index, row, col, new_name, "utf-16")
            assert got == want, (row, col, lines[row])
            assert outcome(rename.prepare_rename_in_scope, fresh(text), index, row, col, "utf-16") == \
                outcome(rename.prepare_rename, full, index, row, col, "utf-16")
            answered += 1
    assert answered > 150


def test_a_local_of_the_chunk_or_a_global_is_not_renamed_from_a_block(index: ApiIndex) -> None:
    text = "local top = 1\ndo\n  local inner = top\n  print(inner, top, G)\nend\nprint(top)\n"
    doc = fresh(text)
    with pytest.raises(rename.OutOfScope):
        rename.rename_in_scope(doc, index, 0, 7, "x", "utf-16")   # the chunk's local: to the end of the file
    with pytest.raises(rename.OutOfScope):
        rename.rename_in_scope(doc, index, 3, 16, "x", "utf-16")  # ``top`` inside the block: declared above
    with pytest.raises(rename.OutOfScope):
        rename.rename_in_scope(doc, index, 3, 20, "x", "utf-16")  # a global
    got = rename.rename_in_scope(doc, index, 2, 9, "x", "utf-16")
    assert got == rename.rename(whole(text), index, 2, 9, "x", "utf-16")
    assert got is not None and len(got.changes["file:///spell.lua"]) == 2


def test_a_block_cut_by_a_syntax_error_is_not_used(index: ApiIndex) -> None:
    text = "do\n  local a = 1\n  print(a +)\nend\nprint(1)\n"
    with pytest.raises(rename.OutOfScope):
        rename.rename_in_scope(fresh(text), index, 1, 9, "b", "utf-16")
