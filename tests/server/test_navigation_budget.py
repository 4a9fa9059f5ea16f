"""Navigation stops when its request is cancelled or over budget: every long loop of definition,
references, highlight, rename, selection range and workspace symbols calls ``budget.checkpoint()``, and
references keeps what it found before the stop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lsp_helpers import doc_at
from lsprotocol import types as lsp

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.budget import Cancelled, Token, running
from llmspell_ls.features import navigation, rename, selection, workspace_symbols

ENC = "utf-16"
USES = 2000
MANY_USES = "local |x = 1\n" + "x = x + 1\n" * (USES // 2)
"""A local with 1 declaration and ``USES`` uses."""


class StopsAfter(Token):
    """A token that turns cancelled at its ``n``-th check (counts the checks it saw)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.checks = 0

    def poll(self) -> bool:
        self.checks += 1
        if self.checks >= self.n:
            self.cancel()
        return super().poll()


def cancelled() -> Token:
    t = Token()
    t.cancel()
    return t


def test_references_without_a_token_find_every_use(index: ApiIndex) -> None:
    doc, line, ch = doc_at(MANY_USES)
    got = navigation.references(doc, index, line, ch, ENC, True)
    assert got is not None and len(got) == USES + 1


def test_references_stop_when_cancelled_midway_and_keep_what_they_found(index: ApiIndex) -> None:
    doc, line, ch = doc_at(MANY_USES)
    counting = StopsAfter(10**9)
    with running(counting):  # how many checks a whole walk makes (the occurrence scan checks too)
        navigation.references(doc, index, line, ch, ENC, True)
    doc, line, ch = doc_at(MANY_USES)  # a fresh version: nothing cached
    found: list[lsp.Location] = []
    token = StopsAfter(counting.checks - 2)
    with running(token), pytest.raises(Cancelled):
        navigation.references(doc, index, line, ch, ENC, True, out=found)
    assert 0 < len(found) < USES + 1
    assert all(loc.range.start.character in (0, 4, 6) for loc in found)  # uses of x only
    assert token.checks == counting.checks - 2  # it stopped at the check that saw the cancel


def test_references_of_a_global_across_documents_stop_when_cancelled(index: ApiIndex) -> None:
    doc, line, ch = doc_at("|helper = 1\n" + "helper = helper + 1\n" * 1000)
    other, _, _ = doc_at("|helper = 2\n", uri="file:///work/other.lua")
    with running(cancelled()), pytest.raises(Cancelled):
        navigation.references(doc, index, line, ch, ENC, True, [other])


@pytest.mark.parametrize("call", [
    lambda d, i, ln, c: navigation.definition(d, i, ln, c, ENC),
    lambda d, i, ln, c: navigation.references(d, i, ln, c, ENC, False),
    lambda d, i, ln, c: navigation.highlights(d, i, ln, c, ENC),
    lambda d, i, ln, c: rename.prepare_rename(d, i, ln, c, ENC),
    lambda d, i, ln, c: rename.rename(d, i, ln, c, "y", ENC),
], ids=["definition", "references", "highlights", "prepare_rename", "rename"])
def test_a_cancelled_request_stops(index: ApiIndex, call: Callable[..., Any]) -> None:
    doc, line, ch = doc_at(MANY_USES)
    assert call(doc, index, line, ch) is not None  # it has an answer ...
    with running(cancelled()), pytest.raises(Cancelled):
        call(doc, index, line, ch)  # ... but stops when cancelled


def test_rename_stops_in_its_checks_when_cancelled_late(index: ApiIndex) -> None:
    doc, line, ch = doc_at(MANY_USES)
    token = StopsAfter(12)  # past target_at, inside the capture checks / edits
    with running(token), pytest.raises(Cancelled):
        rename.rename(doc, index, line, ch, "y", ENC)
    assert token.checks == 12


def test_field_references_stop_when_cancelled(index: ApiIndex) -> None:
    doc, line, ch = doc_at("local M = {}\nfunction M.|run() end\n" + "M.run()\n" * 1000)
    assert len(navigation.references(doc, index, line, ch, ENC, True) or []) == 1001
    with running(StopsAfter(3)), pytest.raises(Cancelled):
        navigation.references(doc, index, line, ch, ENC, True)


def test_selection_range_of_a_deeply_nested_position_stops_when_cancelled() -> None:
    nest = 2000
    doc, line, ch = doc_at("local t = " + "{ a = " * nest + "|1" + " }" * nest + "\n")
    got = selection.selection_ranges(doc, [lsp.Position(line=line, character=ch)], ENC)
    assert len(got) == 1
    with running(StopsAfter(3)), pytest.raises(Cancelled):
        selection.selection_ranges(doc, [lsp.Position(line=line, character=ch)], ENC)


def test_workspace_symbols_stop_when_cancelled(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"s{i}.lua").write_text(f"function helper{i}() end\n")
    got = workspace_symbols.workspace_symbols("helper", [], [str(tmp_path)], ENC, budget_s=60)
    assert sorted(s.name for s in got) == [f"helper{i}" for i in range(5)]
    with running(cancelled()), pytest.raises(Cancelled):
        workspace_symbols.workspace_symbols("helper", [], [str(tmp_path)], ENC, budget_s=60)


def test_api_member_references_stopped_midway_keep_the_uses_found(real_index: ApiIndex) -> None:
    uses = 200
    doc, line, ch = doc_at("Agent.buil|der()\n" + "Agent.builder()\n" * (uses - 1))
    assert len(navigation.references(doc, real_index, line, ch, ENC, False) or []) == uses
    found: list[lsp.Location] = []
    with running(StopsAfter(6)), pytest.raises(Cancelled):
        navigation.references(doc, real_index, line, ch, ENC, False, out=found)
    assert 0 < len(found) < uses
    assert all(loc.range.start.character == 6 for loc in found)  # each one the ``builder`` of a line
