"""Whole-document requests over their budget answer a correct part of the full answer (issue 12:
"a request over its budget returns what it has"): folding ranges, document symbols and semantic tokens
stopped mid-way, or computed on a window of a huge document not parsed yet, hold only items of the full
answer; selection ranges of 10,000 nested tables are a bounded chain of the true one; the partial
answer is never cached, and is never given to a cancelled request or one computed on the event loop."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.budget import Cancelled, Token, answer_partial, running
from llmspell_ls.documents import DocState, Documents, settled_children
from llmspell_ls.features import folding, selection, semantic_tokens, symbols

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
from lsp.corpus import examples_spell  # noqa: E402  (the benchmark's spells)

TEXT = examples_spell(4000)
BIG = examples_spell(20_000)
NESTED = "local t = " + "{ a = " * 10_000 + "Agent." + " }" * 10_000 + "\n"


def fresh(text: str = TEXT) -> DocState:
    return Documents().open("file:///w/spell.lua", text, 1, "lua", parse=False)


class StopAfter(Token):
    """A budget token that expires after ``n`` polls (a deterministic "over budget" part way)."""

    def __init__(self, n: int):
        super().__init__(None)
        self.n = n

    def poll(self) -> bool:
        if self.cancelled:
            return True
        self.n -= 1
        if self.n < 0:
            self.reason = "over budget"
            return True
        return False


def fold_keys(fs: list[lsp.FoldingRange]) -> set[tuple[int, int, Any]]:
    return {(f.start_line, f.end_line, f.kind) for f in fs}


def absolute(data: list[int]) -> list[tuple[int, ...]]:
    out, row, col = [], 0, 0
    for i in range(0, len(data), 5):
        row += data[i]
        col = data[i + 1] if data[i] else col + data[i + 1]
        out.append((row, col, *data[i + 2:i + 5]))
    return out


# ------------------------------------------------------------------------------------------ the helpers
def test_answer_partial_marks_the_token_and_refuses_cancelled_or_inline_computations() -> None:
    answer_partial()  # outside a budgeted computation: nothing to do
    tok = Token(0)
    with running(tok):
        answer_partial()
    assert tok.cancelled  # the answer is sent, not cached
    tok = Token(None)
    tok.cancel()
    with running(tok), pytest.raises(Cancelled):
        answer_partial()  # $/cancelRequest: nothing partial wanted
    tok = Token(0)
    tok.inline = True
    with running(tok), pytest.raises(Cancelled):
        answer_partial()  # on the loop: re-run on the pool with the whole budget


def test_settled_children_of_trees_and_windows() -> None:
    doc = fresh()
    w = doc.window(0, 0, 0, 300)
    kids, whole = settled_children(w)
    assert not whole and kids
    full = doc.tree.root_node.children
    # the window's settled statements are the document's first ones, same spans
    assert [(k.start_byte, k.end_byte) for k in kids] == [(k.start_byte, k.end_byte) for k in full[:len(kids)]]
    assert kids[-1].end_point[0] < 300
    assert settled_children(doc.window(2000, 0, 10, 10)) == ([], False)  # not from the first line
    all_kids, whole = settled_children(doc)
    assert whole and len(all_kids) == len(full)


# ------------------------------------------------------------------------------------------ folding
@pytest.mark.parametrize("polls", [0, 1, 3, 8])
def test_folding_over_budget_is_a_prefix_of_the_full_answer(polls: int) -> None:
    want = folding.folding_ranges(fresh(BIG), "utf-16")
    doc = fresh(BIG)
    doc.tree  # noqa: B018 - parsed outside the budget: the walk is what runs out
    tok = StopAfter(polls)
    with running(tok):
        got = folding.folding_ranges(doc, "utf-16")
    assert tok.cancelled  # partial: not cached
    assert len(got) < len(want)
    assert fold_keys(got) <= fold_keys(want)
    assert [f.start_line for f in got] == [f.start_line for f in want[:len(got)]]  # a prefix
    again = folding.folding_ranges(doc, "utf-16")  # the next request finishes (from the kept progress)
    assert fold_keys(again) == fold_keys(want)


def test_folding_of_a_prefix_window_holds_only_true_folds() -> None:
    want = fold_keys(folding.folding_ranges(fresh(), "utf-16"))
    w = fresh().window(0, 0, 0, 1000)
    got = fold_keys(folding.folding_ranges(w, "utf-16"))
    assert got and got <= want
    assert max(e for _, e, _ in got) < 1000


def test_comment_runs_cut_by_the_budget_are_left_out() -> None:
    text = "".join(f"-- c{i}\n" for i in range(5)) + "local x = {\n 1,\n}\n" * 3 + "-- a\n-- b\n"
    tok = StopAfter(0)
    doc = fresh(text)
    doc.tree  # noqa: B018
    with running(tok):
        got = folding.folding_ranges(doc, "utf-16")
    assert got == []
    assert fold_keys(folding.folding_ranges(fresh(text), "utf-16")) == {(0, 4, "comment"), (5, 6, None),
                                                                           (8, 9, None), (11, 12, None),
                                                                           (14, 15, "comment")}


# ------------------------------------------------------------------------------------------ symbols
def sym_keys(syms: list[lsp.DocumentSymbol]) -> set[tuple[str, int, int]]:
    return {(s.name, s.range.start.line, s.range.end.line) for s in syms}


def test_symbols_over_budget_are_a_subset_of_the_full_answer(real_index: ApiIndex) -> None:
    text = examples_spell(1500)
    want = sym_keys(symbols.document_symbols(fresh(text), real_index, "utf-16"))
    doc = fresh(text)
    doc.tree  # noqa: B018
    tok = StopAfter(20)
    with running(tok):
        got = sym_keys(symbols.document_symbols(doc, real_index, "utf-16"))
    assert tok.cancelled
    assert got < want


def test_symbols_of_a_prefix_window_are_true_symbols(real_index: ApiIndex) -> None:
    text = examples_spell(1500)
    want = sym_keys(symbols.document_symbols(fresh(text), real_index, "utf-16"))
    got = sym_keys(symbols.document_symbols(fresh(text).window(0, 0, 0, 600), real_index, "utf-16"))
    assert got and got < want
    assert max(e for _, _, e in got) < 600


# ------------------------------------------------------------------------------------------ semantic tokens
def test_semantic_tokens_of_a_prefix_window_are_true_tokens(real_index: ApiIndex) -> None:
    line = "local x = " + "Agent.builder():name('x')" * 4000 + "\nAgent.\n"  # one 100 KB line
    want = set(absolute(semantic_tokens.semantic_tokens_full(fresh(line), real_index, "utf-16").data))
    w = fresh(line).window(0, 0, 0, 3000)  # its first 32 KB: the last statement there is cut
    got = absolute(semantic_tokens.semantic_tokens_full(w, real_index, "utf-16").data)
    assert got and set(got) <= want


# ------------------------------------------------------------------------------------------ selection
def test_selection_in_10000_nested_tables_is_a_bounded_true_chain() -> None:
    doc = fresh(NESTED)
    col = NESTED.index("Agent.") + 2
    got = selection.selection_range(doc, 0, col, "utf-16")
    chain = []
    sel: lsp.SelectionRange | None = got
    while sel is not None:
        chain.append(sel.range)
        sel = sel.parent
    assert len(chain) <= selection.MAX_DEPTH + 1
    assert (chain[0].start.character, chain[0].end.character) == (col - 2, col + 3)  # ``Agent``
    for inner, outer in itertools.pairwise(chain):
        assert (outer.start.line, outer.start.character) <= (inner.start.line, inner.start.character)
        assert (outer.end.line, outer.end.character) >= (inner.end.line, inner.end.character)
    assert chain[-1] == lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=1, character=0))
    # the innermost tables are the true ones: each wraps the one inside by "{ a = " and " }"
    tables = [r for r in chain if NESTED[r.start.character] == "{"]
    assert len(tables) > 20
    for inner, outer in itertools.pairwise(tables):
        assert inner.start.character - outer.start.character in (0, 6)


def test_selection_on_a_window_keeps_only_ranges_of_the_whole_parse() -> None:
    line = "local x = " + "Agent.builder():name('x')" * 40_000 + "\n"  # 1 MB
    col = 10 + 25 * 20_000 + 8
    full = fresh(line)

    def ranges(d: DocState) -> list[tuple[int, int, int, int]]:
        out = []
        sel: lsp.SelectionRange | None = selection.selection_range(d, 0, col, "utf-16")
        while sel is not None:
            r = sel.range
            out.append((r.start.line, r.start.character, r.end.line, r.end.character))
            sel = sel.parent
        return out

    got = ranges(fresh(line).window(0, col, 400, 40))
    want = ranges(full)
    assert len(got) >= 3 and set(got) <= set(want)


@pytest.mark.parametrize("seed", range(200))
def test_split_lines_in_pieces_is_split(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    from llmspell_ls import documents

    monkeypatch.setattr(documents, "SPLIT_CHUNK", 5)
    r = random.Random(seed)
    text = "".join(r.choice(["a", "\n", "bb", "\n\n", "é"]) for _ in range(r.randint(0, 80)))
    assert documents.split_lines(text) == text.split("\n")


@pytest.mark.parametrize("text", ["a\nb", "é\nx°y\n\nz", "", "\n", TEXT, "local s = '°' -- é\n" * 50])
def test_scope_offsets_of_a_window_are_the_resolvers(text: str) -> None:
    from llmspell_ls.analysis.scopes import line_offsets
    from llmspell_ls.documents import scope_offsets, split_lines

    lines = split_lines(text)
    doc = fresh(text)
    assert scope_offsets(lines, [doc.offset(r, 0) for r in range(len(lines))] + [len(text) + 1]) == \
        line_offsets(text)
    if text and not text.isascii():
        w = doc.window(len(lines) // 2, 0, 10, 10)
        assert w.cache["_scope_offsets"] == line_offsets(text)


def test_a_background_parse_pauses_for_requests_but_not_for_those_waiting_for_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    from types import SimpleNamespace

    from llmspell_ls import server as srv_mod

    doc = fresh("local x = 1\n")
    server = SimpleNamespace(inflight=1, docs=SimpleNamespace(_docs={doc.uri: doc}))
    tok = srv_mod._ParseToken(server, doc)  # type: ignore[arg-type]
    monkeypatch.setattr(srv_mod, "YIELD_MAX_S", 0.05)
    t0 = time.monotonic()
    assert tok.poll() is False  # a request in flight: the parse pauses (up to YIELD_MAX_S)
    assert time.monotonic() - t0 >= 0.04
    doc.waiting = 1  # ... unless the request waits for this parse
    srv_mod.LAST_READ[0] = time.monotonic()  # even right after a read from the client
    t0 = time.monotonic()
    assert tok.poll() is False
    assert time.monotonic() - t0 < 0.02
    server.docs._docs.clear()  # closed: the parse stops
    assert tok.poll() is True
