"""The run's own process: read one request, close the process in, run the spell, stream messages.

Order matters. The process first leaves its parent's session (so a kill of its group reaches all it
starts and a terminal's Ctrl-C does not), asks to die with its supervisor, becomes the subreaper of
whatever it starts, closes every inherited descriptor but the run socket, then reads the request and
only then sets the rlimits (sized from the request's limits) and scrubs the environment, before any
spell code exists. Messages go back as JSON Lines on the socket, written by the loop without
blocking it; a slow reader stalls the spell (bounded queues in the runner), never the supervisor's
kill clock, which lives in the parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from typing import Any, NoReturn

from llmspell.isolation.procs import (
    ProcessLimits,
    become_subreaper,
    limit_malloc_arenas,
    set_parent_death_signal,
    vm_size_bytes,
)

MAX_REQUEST_BYTES = 64 * 1024 * 1024
"""A request carries the spell source (capped by ``limits.max_spell_bytes`` in the parent) and config."""

ADDRESS_SPACE_RESERVE_MB = 1024
"""Address space granted above ``max_memory_mb`` on top of what the process maps at start: libraries
a tool imports lazily (numpy, pyarrow map hundreds of MB they never touch), thread stacks, allocator
slack. This is the backstop against one huge allocation; the supervisor's RSS watch is the budget."""

THREAD_STACK_BYTES = 4 << 20

DEBUG_WALL_S = 7 * 86400.0
"""The run process's own wall timer in a debugged run (the supervisor's held clock is the real limit)."""


def child_main(sock_fd: int, *, new_session: bool = True) -> NoReturn:
    """Entry point after fork; never returns (``os._exit``: no atexit, no interpreter teardown that a
    spell's ``__gc`` could hang)."""
    code = 70
    try:
        code = _child(sock_fd, new_session=new_session)
    except BaseException as e:  # pragma: no cover - last resort, reported on stderr
        with contextlib.suppress(Exception):
            import traceback

            tb = "".join(traceback.format_exception(e))
            os.write(2, f"llmspell run process: internal error before the spell ran:\n{tb}".encode())
    finally:
        os._exit(code)


def _close_inherited(keep: int) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # stray C-level writes must never land in an LSP stdout stream
    os.close(devnull)
    try:
        fds = [int(x) for x in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd > 2 and fd != keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _read_request(sock: socket.socket) -> tuple[dict[str, Any], bytes]:
    """The request line, and any bytes read past it (a debugged run's first commands may share a
    read with the request)."""
    buf = bytearray()
    while b"\n" not in buf:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise EOFError("the supervisor closed the run socket before sending the request")
        buf += chunk
        if len(buf) > MAX_REQUEST_BYTES:
            raise ValueError("run request too large")
    end = buf.index(b"\n")
    line = bytes(buf[:end])
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("run request must be an object")
    return data, bytes(buf[end + 1:])


def _limits_for(config: Any) -> ProcessLimits:
    lim = config.limits
    mem_mb = int(lim.max_memory_mb or 0)
    wall = float(lim.wall_time_s or 0)
    return ProcessLimits(
        address_space_bytes=(vm_size_bytes() + ((mem_mb + ADDRESS_SPACE_RESERVE_MB) << 20)) if mem_mb > 0 else 0,
        # CPU seconds are a backstop behind the wall clock: they also hold if the supervisor is gone
        cpu_seconds=int(wall) + 5 if wall > 0 else 0,
        file_size_bytes=int(lim.max_file_mb) << 20 if lim.max_file_mb else 0,
        open_files=int(lim.max_open_files or 0),
    )


def _child(sock_fd: int, *, new_session: bool) -> int:
    if new_session:
        with contextlib.suppress(OSError):
            os.setsid()
    set_parent_death_signal(signal.SIGKILL)
    become_subreaper()
    for sig in (signal.SIGINT, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _close_inherited(sock_fd)
    sock = socket.socket(fileno=sock_fd)
    req, rest = _read_request(sock)

    from llmspell.config import RuntimeConfig

    try:
        config = RuntimeConfig.model_validate(req["config"]) if req.get("config") is not None else None
        eff = config or RuntimeConfig()
        if req.get("cwd"):
            with contextlib.suppress(OSError):
                os.chdir(req["cwd"])
        limit_malloc_arenas()
        _limits_for(eff).apply()
        _scrub_environment(eff)
    except Exception as e:  # fail closed: no spell runs in a process that is not fully contained
        _report_setup_failure(sock, req, e)
        return 1
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 2000))
    import threading

    with contextlib.suppress(ValueError, RuntimeError):
        threading.stack_size(THREAD_STACK_BYTES)
    return asyncio.run(_pump(sock, req, config, rest))


def _report_setup_failure(sock: socket.socket, req: dict[str, Any], e: Exception) -> None:
    from llmspell.messages import ErrorInfo, Finished

    msg = Finished(run_id=str(req.get("run_id", "")), status="error", exit_code=1, error=ErrorInfo(
        message=f"{req.get('path')}: cannot prepare the run's process: {type(e).__name__}: {e}", kind="internal"))
    with contextlib.suppress(OSError):
        sock.sendall(msg.model_dump_json().encode("utf-8") + b"\n")


def _scrub_environment(config: Any) -> None:
    """Spells (and the C libraries their tools call) see only the variables the config allows."""
    import importlib

    try:
        secrets = importlib.import_module("llmspell.security.secrets")
    except ImportError:  # pragma: no cover - older tree
        return
    fn = getattr(secrets, "scrub_environment", None)
    if fn is not None:
        fn(config)


async def _pump(sock: socket.socket, req: dict[str, Any], config: Any, rest: bytes = b"") -> int:
    from pathlib import Path

    from llmspell.runner import SpellRunner

    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    if req.get("debug") is not None and config is not None and config.limits.wall_time_s:
        # a debugged run's wall-time limit is the supervisor's clock alone: it stops while the spell
        # is stopped at a breakpoint (this process's own timer would not), and still ends the run
        # (SIGUSR1, a cooperative "timeout") once the spell has *run* that long. This process's timer
        # is pushed out of the way (the largest accepted value) rather than removed, because spells
        # and tools read the limit (Utils.sleep refuses to sleep past it).
        config = config.model_copy(update={"limits": config.limits.model_copy(
            update={"wall_time_s": max(float(config.limits.wall_time_s), DEBUG_WALL_S)})})
    runner = SpellRunner(config=config)
    run_id = str(req["run_id"])

    pending: set[asyncio.Task[Any]] = set()

    def stop(reason: str) -> None:
        t = loop.create_task(runner.cancel(run_id, reason=reason))
        pending.add(t)
        t.add_done_callback(pending.discard)

    loop.add_signal_handler(signal.SIGTERM, stop, "cancelled")
    loop.add_signal_handler(signal.SIGUSR1, stop, "timeout")
    send_lock = asyncio.Lock()  # one writer at a time: run messages and debugger messages share the socket

    async def send(msg: Any) -> None:
        async with send_lock:
            await loop.sock_sendall(sock, msg.model_dump_json().encode("utf-8") + b"\n")

    debug_reader = _start_debugger(sock, req, run_id, send, rest) if req.get("debug") is not None else None
    try:
        trace = None
        if req.get("trace") is not None:
            from llmspell.tracing import TraceOptions

            trace = TraceOptions.model_validate(req["trace"])
        async for msg in runner.run(Path(req["path"]), source=req.get("source"), args=list(req.get("args") or []),
                                    run_id=run_id, trace=trace):
            await send(msg)
    except (BrokenPipeError, ConnectionResetError):
        return 0  # the supervisor is gone: nobody to report to
    finally:
        if debug_reader is not None:
            debug_reader.cancel()
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    return 0


MAX_DEBUG_LINE_BYTES = 1 << 20
"""One debug command (an expression, a breakpoint list) from the adapter may be at most this long."""


def _start_debugger(sock: socket.socket, req: dict[str, Any], run_id: str,
                    send: Any, rest: bytes = b"") -> asyncio.Task[None]:
    """A debugged run: the agent the Lua engine attaches to, and a task reading the adapter's commands
    (JSON Lines, parent -> child, on the same run socket) as validated plain data."""
    from llmspell.debugger import set_active
    from llmspell.debugger.agent import DebugAgent
    from llmspell.debugger.commands import DebugCommand, DebugInit
    from llmspell.messages import DebugMessage, Output

    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[Any]] = set()

    def post(event: str, body: dict[str, Any]) -> None:  # from the spell thread (or the loop)
        def go() -> None:
            t = loop.create_task(send(DebugMessage(run_id=run_id, event=event, body=body)))
            pending.add(t)
            t.add_done_callback(pending.discard)

        loop.call_soon_threadsafe(go)

    agent = DebugAgent(DebugInit.model_validate(req["debug"]), post)
    set_active(agent)

    async def read() -> None:
        buf = bytearray()
        chunk = rest  # commands that arrived together with the request
        while True:
            if not chunk:
                try:
                    chunk = await loop.sock_recv(sock, 65536)
                except OSError:
                    return
                if not chunk:
                    return
            buf += chunk
            chunk = b""
            while b"\n" in buf:
                i = buf.index(b"\n")
                line, buf = bytes(buf[:i]), buf[i + 1:]
                try:
                    cmd = DebugCommand.model_validate_json(line)
                except Exception as e:
                    await send(Output(run_id=run_id, stream="stderr",
                                      text=f"[llmspell] debugger: a malformed command was ignored: {e}\n"))
                    continue
                agent.post(cmd)
            if len(buf) > MAX_DEBUG_LINE_BYTES:
                buf.clear()
                await send(Output(run_id=run_id, stream="stderr",
                                  text="[llmspell] debugger: a command longer than 1 MB was ignored\n"))

    return loop.create_task(read())
