"""Request infrastructure: budgets and cancellation tokens, ``ls.compute`` (off-loop, cached, cancellable,
bounded), LSP line endings and incremental changes, multi-root configuration, budgeted diagnostics."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from lsp_helpers import REAL_MODEL
from lsprotocol import types as lsp

from llmspell_ls.apimodel import load_index
from llmspell_ls.budget import Cancelled, Token, checkpoint, current, running
from llmspell_ls.documents import Documents, apply_changes, normalize_eol
from llmspell_ls.features.common import RawJSON
from llmspell_ls.features.diagnostics import analyze_document, diagnostics
from llmspell_ls.server import create_server


def change(sl: int, sc: int, el: int, ec: int, text: str) -> lsp.TextDocumentContentChangePartial:
    return lsp.TextDocumentContentChangePartial(
        range=lsp.Range(start=lsp.Position(line=sl, character=sc), end=lsp.Position(line=el, character=ec)),
        text=text)


# ------------------------------------------------------------------------------------------- budget
def test_checkpoint_outside_a_computation_does_nothing() -> None:
    assert current() is None
    checkpoint()


def test_checkpoint_raises_once_the_budget_is_spent() -> None:
    tok = Token(budget_ms=0)
    with running(tok):
        assert current() is tok
        time.sleep(0.002)
        with pytest.raises(Cancelled, match="over budget"):
            checkpoint()
    assert current() is None
    assert tok.expired


def test_cancel_is_seen_by_checkpoint_and_tokens_nest() -> None:
    outer, inner = Token(), Token()
    with running(outer):
        with running(inner):
            inner.cancel()
            with pytest.raises(Cancelled, match="cancelled"):
                checkpoint()
        checkpoint()  # the outer computation is not cancelled
        assert current() is outer


# ------------------------------------------------------------------------------------- line endings
@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_every_lsp_line_ending_gives_the_same_lines(eol: str) -> None:
    text = eol.join(["local a = 1", "local b = Agent.bulder()", "print(b)"]) + eol
    doc = Documents().open("file:///e.lua", text, 1, "lua")
    assert doc.lines[1] == "local b = Agent.bulder()"
    assert doc.tree.root_node.children[1].start_point == (1, 0)
    (d,) = [d for d in diagnostics(doc, load_index(REAL_MODEL), "utf-16") if d["code"] == "unknown-member"]
    assert d["range"]["start"] == {"line": 1, "character": 16}


def test_other_unicode_line_breaks_are_not_line_endings() -> None:
    """U+2028, form feed and friends are ordinary characters in LSP (Python's splitlines disagrees)."""
    text = 'local s = "a\u2028b\x0cc"\nAgent.\n'
    doc = Documents().open("file:///u.lua", text, 1, "lua")
    assert len(doc.lines) == 3
    new = apply_changes(doc, [change(1, 6, 1, 6, "builder")], "utf-16")
    assert new == 'local s = "a\u2028b\x0cc"\nAgent.builder\n'


def test_normalize_eol() -> None:
    assert normalize_eol("a\r\nb\rc\n") == "a\nb\nc\n"
    s = "no carriage returns"
    assert normalize_eol(s) is s


def test_incremental_changes_on_a_crlf_document() -> None:
    doc = Documents().open("file:///c.lua", "local a = 1\r\nlocal b = 2\r\n", 1, "lua")
    text = apply_changes(doc, [change(1, 6, 1, 7, "bee"), change(0, 11, 1, 0, "\r\n\r\n")], "utf-16")
    assert text == "local a = 1\n\nlocal bee = 2\n"


def test_changes_clamp_and_never_raise() -> None:
    doc = Documents().open("file:///k.lua", "ab\ncd\n", 1, "lua")
    assert apply_changes(doc, [change(0, 99, 0, 99, "!")], "utf-16") == "ab!\ncd\n"  # past the line's end
    assert apply_changes(doc, [change(9, 0, 9, 0, "x")], "utf-16") == "ab\ncd\nx"  # past the last line
    assert apply_changes(doc, [change(1, 1, 0, 1, "Z")], "utf-16") == "ab\ncZd\n"  # reversed: empty at start
    assert apply_changes(doc, [lsp.TextDocumentContentChangeWholeDocument(text="x\r\ny")], "utf-16") == "x\ny"


def test_changes_use_the_negotiated_position_encoding() -> None:
    doc = Documents().open("file:///w.lua", 'local s = "😀"; Agent.\n', 1, "lua")
    col16 = len('local s = "😀"; Agent.') + 1  # the emoji is two UTF-16 units
    col8 = len('local s = "😀"; Agent.'.encode())
    want = 'local s = "😀"; Agent.builder\n'
    assert apply_changes(doc, [change(0, col16, 0, col16, "builder")], "utf-16") == want
    assert apply_changes(doc, [change(0, col8, 0, col8, "builder")], "utf-8") == want


# ------------------------------------------------------------------------------------------ compute
@pytest.fixture
def server() -> Any:
    ls = create_server(load_index(REAL_MODEL))
    yield ls
    ls.shutdown_work()


async def test_compute_runs_off_the_loop_and_caches_per_version(server: Any) -> None:
    server.docs.open("file:///a.lua", "Agent.\n", 1, "lua")
    seen: list[str] = []

    def fn(doc: Any, token: Token) -> Any:
        seen.append(threading.current_thread().name)
        return {"version": doc.version}

    got = await server.compute("file:///a.lua", ("t",), fn)
    assert isinstance(got, RawJSON) and got.value() == {"version": 1}
    assert (await server.compute("file:///a.lua", ("t",), fn)).value() == {"version": 1}
    assert len(seen) == 1 and seen[0].startswith("llmspell-request")
    server.docs.change("file:///a.lua", "Agent.b\n", 2)
    assert (await server.compute("file:///a.lua", ("t",), fn)).value() == {"version": 2}
    assert (await server.compute("file:///nope.lua", ("t",), fn, empty="[]")).value() == []


async def test_compute_over_budget_answers_empty_and_is_not_cached(server: Any) -> None:
    server.docs.open("file:///a.lua", "Agent.\n", 1, "lua")
    calls = 0

    def slow(doc: Any, token: Token) -> Any:
        nonlocal calls
        calls += 1
        while True:  # a cooperative walk that would never end
            checkpoint()
            time.sleep(0.001)

    assert (await server.compute("file:///a.lua", ("slow",), slow, budget_ms=20)).text == "null"
    assert (await server.compute("file:///a.lua", ("slow",), slow, budget_ms=20)).text == "null"
    assert calls == 2


async def test_compute_answers_even_if_the_function_never_checks(server: Any) -> None:
    server.docs.open("file:///a.lua", "Agent.\n", 1, "lua")
    release = threading.Event()
    tokens: list[Token] = []

    def stubborn(doc: Any, token: Token) -> Any:
        tokens.append(token)
        release.wait(10)
        return {"late": True}

    assert (await server.compute("file:///a.lua", ("s",), stubborn, budget_ms=10, empty="[]")).value() == []
    assert tokens[0].cancelled  # the thread is told to stop at its next check
    release.set()


async def test_cancelling_the_request_cancels_the_token(server: Any) -> None:
    server.docs.open("file:///a.lua", "Agent.\n", 1, "lua")
    started = threading.Event()
    tokens: list[Token] = []
    stopped = threading.Event()

    def walk(doc: Any, token: Token) -> Any:
        tokens.append(token)
        started.set()
        try:
            while True:
                checkpoint()
                time.sleep(0.001)
        finally:
            stopped.set()

    task = asyncio.ensure_future(server.compute("file:///a.lua", ("w",), walk, budget_ms=60_000))
    while not started.is_set():
        await asyncio.sleep(0.001)
    task.cancel()  # what pygls does on $/cancelRequest
    with pytest.raises(asyncio.CancelledError):
        await task
    assert tokens[0].cancelled
    assert await asyncio.get_running_loop().run_in_executor(None, stopped.wait, 10)
    assert server.inflight == 0


async def test_errors_propagate_as_errors(server: Any) -> None:
    server.docs.open("file:///a.lua", "Agent.\n", 1, "lua")

    def boom(doc: Any, token: Token) -> Any:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await server.compute("file:///a.lua", ("b",), boom)


async def test_attrs_results_are_serialized(server: Any) -> None:
    server.docs.open("file:///a.lua", "Agent.\n", 1, "lua")
    got = await server.compute("file:///a.lua", ("p",), lambda d, t: [lsp.Position(line=1, character=2)])
    assert got.value() == [{"line": 1, "character": 2}]


# ------------------------------------------------------------------------------ budgeted diagnostics
def deep(n: int) -> str:
    return "local t = " + "{ a = " * n + "Agent.bulder()" + " }" * n + "\nlocal x = Agent.bulder()\n"


def test_a_pass_cut_short_keeps_what_it_found_and_is_not_cached() -> None:
    index = load_index(REAL_MODEL)
    text = "".join(f"local a{i} = Agent.bulder()\n" for i in range(3000))
    doc = Documents().open("file:///big.lua", text, 1, "lua")
    tok = Token(budget_ms=30)
    with running(tok):
        an = analyze_document(doc, index, "utf-16")
    assert an.partial and 0 < len(an.diagnostics) < 3000
    chunks = doc.shared[("chunks", id(index), "utf-16")]
    done = len(chunks)
    assert done > 0
    full = analyze_document(doc, index, "utf-16")  # no budget: finishes, replaying what was done
    assert not full.partial and len(full.diagnostics) == 3000
    assert [d["range"]["start"]["line"] for d in full.diagnostics] == list(range(3000))


def test_deep_nesting_is_bounded_by_the_budget() -> None:
    index = load_index(REAL_MODEL)
    doc = Documents().open("file:///deep.lua", deep(10_000), 1, "lua")
    tok = Token(budget_ms=100)
    with running(tok):
        an = analyze_document(doc, index, "utf-16")
    assert an.partial or an.diagnostics  # stopped (or finished) instead of running for minutes


# --------------------------------------------------------------------------------------- multi-root
def init_folders(server: Any, *folders: Path) -> None:
    """The workspace part of ``initialize`` (pygls sets up the workspace before our handler runs)."""
    gen = server.protocol.lsp_initialize(lsp.InitializeParams(
        capabilities=lsp.ClientCapabilities(),
        workspace_folders=[lsp.WorkspaceFolder(uri=f.as_uri(), name=f.name) for f in folders]))
    next(gen, None)


def test_each_workspace_folder_has_its_own_root(server: Any, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    (b / "inner").mkdir(parents=True)
    a.mkdir()
    init_folders(server, a, b)
    assert server.workspace_root((b / "inner" / "s.lua").as_uri()) == str(b)
    assert server.workspace_root((a / "s.lua").as_uri()) == str(a)
    assert server.workspace_root("untitled:Untitled-1") in (str(a), str(b), None)


def test_each_folder_llmspell_toml_configures_its_runs(server: Any, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "llmspell.toml").write_text('default_model = "offline/model-a"\n')
    (b / "llmspell.toml").write_text('default_model = "offline/model-b"\n')
    init_folders(server, a, b)
    cfg_a = server.runs._load_config(server.workspace_root((a / "x.lua").as_uri()))
    cfg_b = server.runs._load_config(server.workspace_root((b / "x.lua").as_uri()))
    assert cfg_a.default_model == "offline/model-a"
    assert cfg_b.default_model == "offline/model-b"
