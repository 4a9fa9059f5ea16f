"""IsolatedRunner: the SpellRunner stream, with every run in its own killable process.

The parent holds the clock. A watchdog *thread* (not the event loop, which a slow reader of the stream
could stall) sends SIGUSR1 at the wall-time limit (the child ends cooperatively, with its hooks and a
proper ``finished``), then kills the whole process tree ``kill_grace_ms`` later whatever the spell is
doing. Cancel is the same with SIGTERM. Whatever happens in the child — a crash, an rlimit, a kill —
the stream still starts with ``started`` and ends with exactly one ``finished`` that says why.

Children come from a :class:`Spawner`: :class:`ForkSpawner` forks the calling process directly (the
CLI: single-threaded and already holding the runtime's imports, so ``--run`` pays only a fork), and
:class:`ZygoteSpawner` asks a pre-imported fork server (the language server, which must never fork
itself).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from llmspell.isolation.procs import alive, kill_tree, rss_bytes

if TYPE_CHECKING:
    from llmspell.config import LimitsConfig, RuntimeConfig
    from llmspell.messages import ErrorInfo, RunMessage
    from llmspell.tracing import TraceOptions

MEMORY_POLL_S = 0.02
"""How often a run's resident memory is sampled against ``max_memory_mb``."""

RSS_SLACK_MB = 64
"""Resident memory a run may use above its start (the forked runtime) plus ``max_memory_mb``: the
interpreter's own growth (imports a tool needs, buffers) that is not the spell's data."""

MAX_LINE_BYTES = 32 * 1024 * 1024
"""One message from a child may be at most this long (a result, an event payload); longer ends the run."""


class ChildProc:
    """A running child: its pid, the supervisor's end of the run socket, and how to learn its exit."""

    def __init__(self, pid: int, sock: socket.socket, exit_future: concurrent.futures.Future[int]):
        self.pid = pid
        self.sock = sock
        self.exit_future = exit_future

    async def wait(self, timeout: float) -> int | None:
        """Exit code (negative = signal) or None if it has not ended within ``timeout``.

        ``asyncio.wait`` rather than ``wait_for``: a timed-out wait must not cancel the exit future
        (that would make every later wait raise instead of returning the status)."""
        done, _ = await asyncio.wait([asyncio.wrap_future(self.exit_future)], timeout=timeout)
        return done.pop().result() if done else None


class Spawner(Protocol):
    def spawn(self) -> ChildProc: ...


class ForkSpawner:
    """Fork the current process. Only safe while it is single-threaded (the CLI before any run)."""

    @staticmethod
    def usable() -> bool:
        return hasattr(os, "fork") and threading.active_count() == 1

    def spawn(self) -> ChildProc:
        parent_sock, child_sock = socket.socketpair()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            parent_sock.close()
            from llmspell.isolation.child import child_main

            child_main(child_sock.detach())
        child_sock.close()
        fut: concurrent.futures.Future[int] = concurrent.futures.Future()

        def reap() -> None:
            try:
                _, status = os.waitpid(pid, 0)
                fut.set_result(os.waitstatus_to_exitcode(status))
            except ChildProcessError:
                fut.set_result(0)

        threading.Thread(target=reap, name=f"reap-{pid}", daemon=True).start()
        return ChildProc(pid, parent_sock, fut)


class ZygoteSpawner:
    """Children forked by a pre-imported zygote process (started on first use, restarted if it dies)."""

    def __init__(self, *, preload: tuple[str, ...] = ()) -> None:
        self._preload = tuple(preload)
        """Extra modules the zygote imports before forking (the language server: the tracer, since it
        traces every editor run; importing the OpenTelemetry SDK in each run would cost more)."""
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._ctl: socket.socket | None = None
        self._ids = itertools.count(1)
        self._replies: dict[int, concurrent.futures.Future[dict[str, Any]]] = {}
        self._exits: dict[int, concurrent.futures.Future[int]] = {}
        self._early_exits: dict[int, int] = {}

    def start(self) -> None:
        """Start the zygote now (e.g. when the server initializes) so the first run is warm."""
        with self._lock:
            self._ensure()

    def _ensure(self) -> socket.socket:
        if self._ctl is not None and self._proc is not None and self._proc.poll() is None:
            return self._ctl
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ)
        env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        env.setdefault("HF_HUB_OFFLINE", "1")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "llmspell.isolation.zygote", str(theirs.fileno()),
             *(f"--preload={m}" for m in self._preload)],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env,
        )
        theirs.close()
        self._ctl = mine
        threading.Thread(target=self._read, args=(mine,), name="llmspell-zygote", daemon=True).start()
        return mine

    def _read(self, ctl: socket.socket) -> None:
        while True:
            try:
                data = ctl.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            try:
                msg = json.loads(data)
            except ValueError:
                continue
            with self._lock:
                if "exit" in msg:
                    pid, status = int(msg["exit"]), int(msg.get("status", 0))
                    fut = self._exits.pop(pid, None)
                    if fut is None:
                        self._early_exits[pid] = status
                    elif not fut.done():
                        fut.set_result(status)
                elif "id" in msg:
                    reply = self._replies.pop(int(msg["id"] or 0), None)
                    if reply is not None and not reply.done():
                        reply.set_result(msg)
        # the zygote is gone: every run it forked has been killed with it
        with self._lock:
            for fut in self._exits.values():
                if not fut.done():
                    fut.set_result(-int(signal.SIGKILL))
            self._exits.clear()
            for r in self._replies.values():
                if not r.done():
                    r.set_result({"error": "the run zygote exited"})
            self._replies.clear()
            if self._ctl is ctl:
                self._ctl = None

    def spawn(self) -> ChildProc:
        parent_sock, child_sock = socket.socketpair()
        try:
            with self._lock:
                ctl = self._ensure()
                rid = next(self._ids)
                reply: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
                self._replies[rid] = reply
                socket.send_fds(ctl, [json.dumps({"op": "spawn", "id": rid}).encode()], [child_sock.fileno()])
            msg = reply.result(timeout=30)
        finally:
            child_sock.close()
        if "pid" not in msg:
            parent_sock.close()
            raise RuntimeError(f"cannot start the run process: {msg.get('error', 'no reply')}")
        pid = int(msg["pid"])
        fut: concurrent.futures.Future[int] = concurrent.futures.Future()
        with self._lock:
            if pid in self._early_exits:
                fut.set_result(self._early_exits.pop(pid))
            else:
                self._exits[pid] = fut
        return ChildProc(pid, parent_sock, fut)

    def close(self) -> None:
        with self._lock:
            if self._ctl is not None:
                with contextlib.suppress(OSError):
                    self._ctl.close()
                self._ctl = None
            proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.wait(timeout=2)
            if proc.poll() is None:
                proc.kill()


class _Watch:
    """Per-run kill switch driven from threads, so neither a blocked loop nor a slow reader delays it."""

    def __init__(self, pid: int, grace_s: float):
        self.pid = pid
        self.grace_s = grace_s
        self.reason: str | None = None
        self.killed_at: float | None = None
        self.signalled_at: float | None = None
        self.done = threading.Event()
        self.peak_rss = 0
        self.memory_at = 0
        self._lock = threading.Lock()
        self._timers: list[threading.Timer] = []
        self._wall: threading.Timer | None = None
        self._deadline: float | None = None
        self._left: float | None = None

    def arm(self, wall_s: float) -> None:
        if wall_s and wall_s > 0:
            self._deadline = time.monotonic() + wall_s
            self._wall = threading.Timer(wall_s, self.stop, args=("timeout",))
            self._wall.daemon = True
            self._wall.start()
            self._timers.append(self._wall)

    def hold(self) -> None:
        """A debugged run stopped at a breakpoint: its wall clock stops with it (the limit is about
        the spell's running time, not how long a person looks at its variables)."""
        with self._lock:
            wall, self._wall = self._wall, None
            if wall is None or self._deadline is None or self.reason is not None:
                return
            wall.cancel()
            self._left = max(0.0, self._deadline - time.monotonic())

    def release(self) -> None:
        """The debugged run continues: the wall clock runs again with the time it had left."""
        with self._lock:
            if self._wall is not None or self._left is None or self.done.is_set() or self.reason is not None:
                return
            left, self._left = self._left, None
            self._deadline = time.monotonic() + left
            self._wall = threading.Timer(left, self.stop, args=("timeout",))
            self._wall.daemon = True
            self._wall.start()
            self._timers.append(self._wall)

    def watch_memory(self, limit_bytes: int, interval_s: float = MEMORY_POLL_S) -> None:
        """Kill the run as soon as its resident memory passes ``limit_bytes`` (polled from a thread).

        Why RSS and not only RLIMIT_AS: address space counts every library a tool maps lazily (numpy,
        pyarrow), so a tight RLIMIT_AS breaks honest spells while RSS is what a user's budget means.
        RLIMIT_AS stays as a coarse backstop against a single huge allocation between two polls."""

        def poll() -> None:
            while not self.done.wait(interval_s):
                rss = rss_bytes(self.pid)
                if rss > self.peak_rss:
                    self.peak_rss = rss
                if rss > limit_bytes:
                    with self._lock:
                        if self.done.is_set():
                            return
                        if self.reason is None:
                            self.reason = "memory"
                            self.signalled_at = time.monotonic()
                        self.memory_at = rss
                    self.kill()
                    return
                if rss == 0 and not alive(self.pid):
                    return

        threading.Thread(target=poll, name=f"llmspell-mem-{self.pid}", daemon=True).start()

    def stop(self, reason: str) -> None:
        """SIGTERM/SIGUSR1 now, the whole tree SIGKILLed after the grace period if still there."""
        with self._lock:
            if self.done.is_set() or self.reason is not None:
                return
            self.reason = reason
            self.signalled_at = time.monotonic()
        sig = signal.SIGUSR1 if reason == "timeout" else signal.SIGTERM
        with contextlib.suppress(OSError):
            os.kill(self.pid, sig)
        t = threading.Timer(self.grace_s, self.kill)
        t.daemon = True
        t.start()
        self._timers.append(t)

    def kill(self) -> None:
        with self._lock:
            if self.done.is_set():
                return
            if self.killed_at is None:
                self.killed_at = time.monotonic()
        kill_tree(self.pid)

    def finish(self) -> None:
        self.done.set()
        for t in self._timers:
            t.cancel()


class IsolatedRunner:
    """Same interface as :class:`llmspell.runner.SpellRunner` (``run``, ``cancel``, ``set_config``,
    ``active_runs``); see the module docstring for what is different."""

    def __init__(self, *, config: RuntimeConfig | None = None, spawner: Spawner | None = None):
        self._config = config
        self._spawner = spawner
        self._watches: dict[str, _Watch] = {}
        self._starting: set[str] = set()
        """Runs between ``run()`` and their process existing (waiting for a slot, being spawned)."""
        self._pending_cancel: set[str] = set()
        self._sem: asyncio.Semaphore | None = None
        self._debug_writers: dict[str, asyncio.StreamWriter] = {}

    def set_config(self, config: RuntimeConfig) -> None:
        self._config = config

    @property
    def active_runs(self) -> list[str]:
        return [*self._starting, *self._watches]

    def _spawner_now(self) -> Spawner:
        if self._spawner is None:
            self._spawner = ForkSpawner() if ForkSpawner.usable() else ZygoteSpawner()
        elif isinstance(self._spawner, ForkSpawner) and not ForkSpawner.usable():
            self._spawner = ZygoteSpawner()
        return self._spawner

    async def cancel(self, run_id: str, reason: str = "cancelled") -> bool:
        w = self._watches.get(run_id)
        if w is not None:
            w.stop(reason)
            return True
        if run_id in self._starting:  # applied as soon as its process exists
            self._pending_cancel.add(run_id)
            return True
        return False

    async def send_debug(self, run_id: str, command: dict[str, Any]) -> bool:
        """Send one debugger command to a debugged run's process (see :mod:`llmspell.debugger`).
        False when the run is not (or no longer) there."""
        writer = self._debug_writers.get(run_id)
        if writer is None or writer.is_closing():
            return False
        try:
            writer.write(json.dumps(command).encode("utf-8") + b"\n")
            await writer.drain()
        except (OSError, RuntimeError):
            return False
        return True

    async def run(self, path: Path | str, *, source: str | None = None, args: list[str] | None = None,
                  run_id: str | None = None, trace: TraceOptions | None = None,
                  debug: dict[str, Any] | None = None) -> AsyncIterator[RunMessage]:
        """``debug`` (a :class:`llmspell.debugger.commands.DebugInit` as data) makes this a debugged
        run: the stream then also carries ``debug`` messages and :meth:`send_debug` reaches it."""
        from llmspell.messages import RUN_MESSAGE_ADAPTER, DebugMessage, ErrorInfo, Finished, Output, Started
        from llmspell.runner import language_for

        path = Path(path)
        args = list(args or [])
        run_id = run_id or uuid.uuid4().hex[:12]
        t0 = time.perf_counter()
        m0 = time.monotonic()
        seq = itertools.count(1)
        language = language_for(path) or "lua"

        def started() -> Started:
            return Started(run_id=run_id, seq=next(seq), file=str(path), language=language,  # type: ignore[arg-type]
                           args=args)

        def finished(status: Any, error: ErrorInfo | None, exit_code: int = 1, ended: float | None = None) -> Finished:
            end = time.perf_counter() if ended is None else ended
            return Finished(run_id=run_id, seq=next(seq), status=status, exit_code=exit_code, error=error,
                            duration_ms=round((end - t0) * 1000, 3))

        config = self._config
        if config is None:
            # no workspace configured (an editor with no folder open): the spell's folder is the
            # workspace; the child never loads configuration from its scrubbed environment itself
            try:
                from llmspell.config import load_config

                config = load_config(path.resolve().parent)
            except Exception as e:
                yield started()
                msg = getattr(e, "message", None) or str(e)
                yield finished("error", ErrorInfo(message=msg, kind="configuration", file=str(path)))
                return
        limits = config.limits
        too_big = _oversized(path, source, limits.max_spell_bytes)
        if too_big is not None:
            yield started()
            yield finished("error", ErrorInfo(message=too_big, kind="usage", file=str(path)))
            return
        if self._sem is None:
            self._sem = asyncio.Semaphore(max(1, int(limits.max_concurrent_spells or 1)))
        self._starting.add(run_id)  # from here a cancel is kept until the process exists
        try:
            async with self._sem:
                try:
                    spawner = self._spawner_now()
                    if isinstance(spawner, ForkSpawner):
                        child = spawner.spawn()  # must fork from this (the only) thread
                    else:  # a cold zygote takes a moment to answer: never block this loop on it
                        child = await asyncio.get_running_loop().run_in_executor(None, spawner.spawn)
                except Exception as e:
                    yield started()
                    yield finished("error", ErrorInfo(message=f"{path}: cannot start the run process: {e}",
                                                      kind="internal", file=str(path)))
                    return
                watch = _Watch(child.pid, max(0.0, limits.kill_grace_ms / 1000.0))
                self._watches[run_id] = watch
                if run_id in self._pending_cancel:
                    watch.stop("cancelled")
                request = {
                    "run_id": run_id, "path": str(path), "source": source, "args": args, "cwd": os.getcwd(),
                    "config": config.model_dump(mode="json"),
                    "trace": trace.model_dump(mode="json") if trace is not None else None,
                }
                if debug is not None:
                    request["debug"] = debug
                saw_started = False
                fin: Finished | None = None
                protocol_error: str | None = None
                try:
                    loop = asyncio.get_running_loop()
                    child.sock.setblocking(False)
                    await loop.sock_sendall(child.sock, json.dumps(request).encode("utf-8") + b"\n")
                    watch.arm(float(limits.wall_time_s or 0))
                    if limits.max_memory_mb and limits.max_memory_mb > 0:
                        base = rss_bytes(child.pid)
                        watch.watch_memory(base + ((int(limits.max_memory_mb) + RSS_SLACK_MB) << 20))
                    reader, writer = await asyncio.open_connection(sock=child.sock, limit=MAX_LINE_BYTES)
                    if debug is not None:
                        self._debug_writers[run_id] = writer
                    try:
                        while True:
                            try:
                                line = await reader.readline()
                            except (ValueError, asyncio.LimitOverrunError):
                                protocol_error = f"a run message exceeded {MAX_LINE_BYTES >> 20} MB"
                                break
                            if not line:
                                break
                            try:
                                msg = RUN_MESSAGE_ADAPTER.validate_json(line)
                            except Exception:
                                protocol_error = "the run process sent a malformed message"
                                break
                            msg.run_id = run_id
                            if isinstance(msg, Started):
                                if saw_started:
                                    continue
                                saw_started = True
                            elif not saw_started:
                                saw_started = True
                                yield started()
                            if isinstance(msg, Finished):
                                fin = msg
                                break
                            if isinstance(msg, DebugMessage):
                                if msg.event == "stopped":
                                    watch.hold()
                                elif msg.event == "continued":
                                    watch.release()
                            msg.seq = next(seq)
                            yield msg
                    finally:
                        self._debug_writers.pop(run_id, None)
                        writer.close()
                except OSError:
                    pass
                finally:
                    if fin is None or protocol_error is not None:
                        watch.kill()
                    # a finished child normally exits at once; anything still there (a __gc loop at close,
                    # a grandchild) is killed after a short grace
                    code = await child.wait(0.5 if fin is not None else 2.0)
                    if code is None:
                        watch.kill()
                        code = await child.wait(2.0)
                    watch.finish()
                    self._watches.pop(run_id, None)
                    with contextlib.suppress(OSError):
                        child.sock.close()
                if not saw_started:
                    yield started()
                if fin is not None and protocol_error is None:
                    if watch.reason == "timeout" and fin.status == "cancelled":
                        fin.status = "timeout"
                        fin.error = ErrorInfo(message=f"wall time limit exceeded ({limits.wall_time_s:g} s)",
                                              kind="timeout")
                    fin.run_id = run_id
                    fin.seq = next(seq)
                    yield fin
                    return
                if protocol_error is not None:
                    yield Output(run_id=run_id, seq=next(seq), stream="stderr", text=f"[llmspell] {protocol_error}\n")
                status, error = _death(watch, code, limits, path)
                # the run ended when it was stopped, not when a slow reader got round to this message
                ended = None if watch.signalled_at is None else t0 + (watch.signalled_at - m0)
                yield finished(status, error, ended=ended)
        finally:  # also when the consumer gave up while this run waited for a slot
            self._starting.discard(run_id)
            self._pending_cancel.discard(run_id)


def _oversized(path: Path, source: str | None, cap: int) -> str | None:
    if not cap or cap <= 0:
        return None
    try:
        size = len(source.encode("utf-8", "replace")) if source is not None else path.stat().st_size
    except OSError:
        return None  # the child reports unreadable files with its own message
    if size > cap:
        return (f"{path}: the spell is {size / 1048576:.1f} MB; the largest accepted is "
                f"{cap / 1048576:.1f} MB (limits.max_spell_bytes)")
    return None


def _death(watch: _Watch, code: int | None, limits: LimitsConfig, path: Path) -> tuple[str, ErrorInfo]:
    """Status and error for a child that ended without its own ``finished``."""
    from llmspell.messages import ErrorInfo

    if watch.reason == "memory":
        return "limit", ErrorInfo(
            message=f"memory limit exceeded: the spell's process reached {watch.memory_at / 1048576:.0f} MB "
                    f"resident (max_memory_mb = {limits.max_memory_mb}, plus the runtime itself); it was killed",
            kind="resource_limit")
    if watch.reason == "timeout":
        return "timeout", ErrorInfo(message=f"wall time limit exceeded ({limits.wall_time_s:g} s); "
                                            "the spell's process was killed", kind="timeout")
    if watch.reason is not None:
        return "cancelled", ErrorInfo(message="the spell was cancelled", kind="cancelled")
    if code is not None and code < 0:
        sig = -code
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        if sig == signal.SIGXCPU:
            return "limit", ErrorInfo(message="CPU time limit exceeded; the spell's process was killed",
                                      kind="resource_limit")
        hint = (f" (possibly out of its memory limit: max_memory_mb = {limits.max_memory_mb})"
                if sig in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGKILL) else "")
        return "error", ErrorInfo(message=f"{path}: the spell's process died from {name}{hint}", kind="crash")
    return "error", ErrorInfo(message=f"{path}: the spell's process ended (exit {code}) without a result",
                              kind="crash")
