"""The fast path of ``ls.compute``: cheap requests (completion, hover, signature help) answer on the event
loop when the input is ordinary, and go to the request pool when it is not (a long line, a huge document,
a document on which an inline answer was slow); the chunked stdin reader."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest
from lsp_helpers import REAL_MODEL

from llmspell_ls import server as server_mod
from llmspell_ls.apimodel import load_index
from llmspell_ls.budget import Cancelled, Token
from llmspell_ls.server import ChunkReader, create_server

URI = "file:///a.lua"


@pytest.fixture
def server() -> Any:
    ls = create_server(load_index(REAL_MODEL))
    yield ls
    ls.shutdown_work()


def open_parsed(server: Any, text: str) -> None:
    server.docs.open(URI, text, 1, "lua", parse=False)
    assert server.docs.get(URI).tree is not None  # parsed (as the diagnostics pass does after opening)


def where(seen: list[str]) -> Any:
    def fn(doc: Any, token: Token) -> Any:
        seen.append(threading.current_thread().name)
        return {"version": doc.version}
    return fn


async def test_a_cheap_request_answers_on_the_loop_and_is_cached(server: Any) -> None:
    open_parsed(server, "Agent.\n")
    seen: list[str] = []
    got = await server.compute(URI, ("t", 0, 6), where(seen), cheap=0)
    assert got.value() == {"version": 1}
    assert (await server.compute(URI, ("t", 0, 6), where(seen), cheap=0)).value() == {"version": 1}
    assert seen == [threading.current_thread().name]  # once, on the loop's thread: no pool


async def test_a_cheap_request_on_a_document_never_parsed_goes_to_the_pool(server: Any) -> None:
    server.docs.open(URI, "Agent.\n", 1, "lua", parse=False)  # as the server opens: answering would parse
    seen: list[str] = []
    await server.compute(URI, ("t", 0, 6), where(seen), cheap=0)
    assert server.docs.get(URI).tree is not None
    await server.compute(URI, ("t", 0, 5), where(seen), cheap=0)
    assert seen[0].startswith("llmspell-request")
    assert seen[1] == threading.current_thread().name


async def test_without_cheap_the_pool_computes(server: Any) -> None:
    open_parsed(server, "Agent.\n")
    seen: list[str] = []
    await server.compute(URI, ("t",), where(seen))
    assert seen[0].startswith("llmspell-request")


async def test_a_cheap_request_on_a_long_line_goes_to_the_pool(server: Any) -> None:
    long_line = "local x = " + "Agent.builder()" * (server_mod.INLINE_MAX_LINE_CHARS // 10)
    open_parsed(server, "Agent.\n" + long_line + "\n")
    seen: list[str] = []
    await server.compute(URI, ("t", 1, 5), where(seen), cheap=1)
    await server.compute(URI, ("t", 0, 6), where(seen), cheap=0)  # a short line of the same document
    assert seen[0].startswith("llmspell-request")
    assert seen[1] == threading.current_thread().name


async def test_a_cheap_request_on_a_huge_document_goes_to_the_pool(server: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_mod, "INLINE_MAX_DOC_CHARS", 100)
    open_parsed(server, "Agent.\n" + "local a = 1\n" * 20)
    seen: list[str] = []
    await server.compute(URI, ("t", 0, 6), where(seen), cheap=0)
    assert seen[0].startswith("llmspell-request")


async def test_after_a_slow_inline_answer_the_document_goes_to_the_pool(server: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_mod, "INLINE_SLOW_MS", -1.0)  # every inline answer counts as slow
    open_parsed(server, "Agent.\n")
    seen: list[str] = []
    await server.compute(URI, ("t", 0, 1), where(seen), cheap=0)
    server.docs.change(URI, "Agent.b\n", 2)  # a new version of the same document: still off the loop
    await server.compute(URI, ("t", 0, 2), where(seen), cheap=0)
    assert seen[0] == threading.current_thread().name
    assert seen[1].startswith("llmspell-request")
    assert URI in server.slow_uris


async def test_a_cancelled_inline_computation_is_retried_on_the_pool_and_not_cached(server: Any) -> None:
    open_parsed(server, "Agent.\n")
    seen: list[str] = []

    def gives_up(doc: Any, token: Token) -> Any:
        seen.append(threading.current_thread().name)
        raise Cancelled("over budget")

    assert (await server.compute(URI, ("c", 0, 0), gives_up, empty="[]", cheap=0)).value() == []
    assert (await server.compute(URI, ("c", 0, 0), gives_up, empty="[]", cheap=0)).value() == []
    # on the loop once (stopped there: the document's requests now go to the pool), then the pool each time
    assert seen[0] == threading.current_thread().name
    assert len(seen) == 3 and all(t.startswith("llmspell-request") for t in seen[1:])
    assert URI in server.slow_uris


async def test_an_inline_computation_over_its_budget_answers_from_the_pool(server: Any,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A walk stopped by the short on-loop budget is not answered empty: the pool re-runs it with the
    request's whole budget."""
    import time as _time

    monkeypatch.setattr(server_mod, "INLINE_BUDGET_MS", 1.0)
    open_parsed(server, "Agent.\n")
    seen: list[str] = []

    def walk(doc: Any, token: Token) -> Any:
        seen.append(threading.current_thread().name)
        _time.sleep(0.005)
        token.check()
        return {"done": True}

    # the pool's run gets a generous budget: on a loaded CI machine a 5 ms sleep can overrun the
    # request's usual 80 ms, and this test is about the hand-over, not about that budget
    got = await server.compute(URI, ("w", 0, 0), walk, cheap=0, budget_ms=10_000.0, deadline_ms=None)
    assert got.value() == {"done": True}
    assert seen[0] == threading.current_thread().name and seen[1].startswith("llmspell-request")


async def test_inline_errors_propagate_as_errors(server: Any) -> None:
    open_parsed(server, "Agent.\n")

    def boom(doc: Any, token: Token) -> Any:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await server.compute(URI, ("b", 0, 0), boom, cheap=0)


async def test_inline_answers_through_the_server_are_lsp_results(server: Any) -> None:
    from llmspell_ls.features.completion import completion

    open_parsed(server, "local b = Agent.builder()\nAgent.\n")
    got = await server.compute(URI, ("completion", 1, 6),
                               lambda doc, _t: completion(doc, server.index, 1, 6, server.options), cheap=1)
    res = got.value()
    items = res["items"] if isinstance(res, dict) else res
    assert "builder" in [i["label"] for i in items]


class Trickle(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes per read (a pipe delivering a message in pieces)."""

    def __init__(self, data: bytes, step: int):
        self.data = data
        self.step = step

    def readable(self) -> bool:
        return True

    def read1(self, n: int = -1) -> bytes:
        out, self.data = self.data[:min(n, self.step)], self.data[min(n, self.step):]
        return out


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest.mark.parametrize("step", [1, 7, 1 << 16])
async def test_chunk_reader_gives_lines_and_bodies_however_the_bytes_arrive(step: int) -> None:
    a, b = b'{"id":1}', '{"x":"é"}'.encode()
    r = ChunkReader(Trickle(frame(a) + frame(b) + b"Content-Len", step))
    assert await r.readline() == b"Content-Length: 8\r\n"
    assert await r.readline() == b"\r\n"
    assert await r.readexactly(len(a)) == a
    assert await r.readline() == b"Content-Length: %d\r\n" % len(b)
    assert await r.readline() == b"\r\n"
    assert await r.readexactly(len(b)) == b
    assert await r.readline() == b"Content-Len"  # the end of input mid-line: what there is
    assert await r.readline() == b""
    assert await r.readexactly(3) == b""


async def test_chunk_reader_end_of_input_mid_body() -> None:
    r = ChunkReader(io.BytesIO(b"Content-Length: 10\r\n\r\nabc"))
    await r.readline()
    await r.readline()
    assert await r.readexactly(10) == b""


async def test_chunk_reader_on_a_pipe_is_watched_by_the_loop() -> None:
    import os

    from llmspell_ls.server import stdin_is_own_pipe

    r_fd, w_fd = os.pipe()
    o_r, o_w = os.pipe()
    rf, of = os.fdopen(r_fd, "rb"), os.fdopen(o_w, "wb")
    try:
        assert stdin_is_own_pipe(rf, of)
        assert not stdin_is_own_pipe(rf, rf)  # one file description for both: never non-blocking
        assert not stdin_is_own_pipe(io.BytesIO(b""), of)
        r = ChunkReader(rf, pipe=True)
        os.write(w_fd, frame(b'{"id":1}') + b"Content-")
        assert await r.readline() == b"Content-Length: 8\r\n"
        assert r._stream is not None  # read by the loop, not a thread
        assert await r.readline() == b"\r\n"
        assert await r.readexactly(8) == b'{"id":1}'
        os.write(w_fd, b"Length: 2\r\n\r\n{}")
        os.close(w_fd)
        w_fd = -1
        assert await r.readline() == b"Content-Length: 2\r\n"
        assert await r.readline() == b"\r\n"
        assert await r.readexactly(2) == b"{}"
        assert await r.readline() == b""
    finally:
        if w_fd >= 0:
            os.close(w_fd)
        rf.close()
        of.close()
        os.close(o_r)
