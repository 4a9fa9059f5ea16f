"""``llmspell-ls --dap`` / ``python -m llmspell_ls.dap``: the debug adapter over stdio.

stdin is read by the event loop itself (a pipe transport), not by a thread: the adapter stays
single-threaded, so the isolated runner can fork the run process straight from it, as ``--run``
does, instead of starting a zygote. stdout carries only DAP frames: file descriptor 1 is pointed at
stderr once the adapter holds its own copy, so a stray print anywhere cannot corrupt the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from typing import Any

from llmspell_ls.dap.connection import ProtocolError
from llmspell_ls.dap.protocol import Request
from llmspell_ls.dap.session import DebugSession


class _StdinProtocol(asyncio.Protocol):
    def __init__(self, on_data: Any, on_eof: Any):
        self.on_data = on_data
        self.on_eof = on_eof

    def data_received(self, data: bytes) -> None:
        self.on_data(data)

    def eof_received(self) -> bool:
        self.on_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_eof()


async def serve(in_fd: int, out_fd: int) -> int:
    loop = asyncio.get_running_loop()

    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(out_fd, view)
            except BlockingIOError:
                import select

                select.select([], [out_fd], [])
                continue
            view = view[n:]

    session = DebugSession(write)
    eof = asyncio.Event()

    def on_data(data: bytes) -> None:
        session.conn.receive_data(data)
        while True:
            try:
                msg = session.conn.next_message()
            except ProtocolError as e:
                session.output(f"[llmspell] debug adapter: {e}\n", "stderr")
                continue
            if msg is None:
                return
            if isinstance(msg, Request):
                session.dispatch(msg)

    def on_eof() -> None:
        eof.set()

    try:
        await loop.connect_read_pipe(lambda: _StdinProtocol(on_data, on_eof), os.fdopen(in_fd, "rb", buffering=0))
    except (ValueError, OSError):
        # not a pipe (a file, a tty): read in a thread; the runner then uses its zygote, not fork
        def pump() -> None:
            while True:
                try:
                    data = os.read(in_fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    loop.call_soon_threadsafe(eof.set)
                    return
                loop.call_soon_threadsafe(on_data, data)

        threading.Thread(target=pump, name="dap-stdin", daemon=True).start()
    waiters = [asyncio.ensure_future(eof.wait()), asyncio.ensure_future(session.closed.wait())]
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for w in waiters:
        w.cancel()
    if eof.is_set() and not session.closed.is_set():
        with contextlib.suppress(Exception):
            await session._end_run()
    # let the last responses go out (the disconnect response is written synchronously already)
    await asyncio.sleep(0)
    return 0


def main(argv: list[str] | None = None) -> int:
    in_fd = os.dup(sys.stdin.fileno())
    out_fd = os.dup(sys.stdout.fileno())
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints go to stderr, never into DAP frames
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        return asyncio.run(serve(in_fd, out_fd))
    except KeyboardInterrupt:
        return 130
