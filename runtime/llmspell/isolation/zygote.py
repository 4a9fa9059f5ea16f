"""The zygote: a single-threaded, pre-imported process that forks one child per run.

Why: forking the language server itself is unsafe (it has threads, an event loop, open documents and
its stdout is the LSP stream), and starting a fresh interpreter per run costs a second of imports.
The zygote imports the runtime and both engines once; each run is then a ``fork`` (a few ms).

Protocol on a SOCK_SEQPACKET control socket (message boundaries kept by the kernel):
  supervisor -> zygote: ``{"op": "spawn", "id": N}`` with one descriptor (the run socket) attached
  zygote -> supervisor: ``{"id": N, "pid": P}`` (or ``{"id": N, "error": "..."}``), and later
                        ``{"exit": P, "status": S}`` (``os.waitstatus_to_exitcode``) when a run ends.
EOF on the control socket (the supervisor died) kills every run tree and ends the zygote.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import select
import signal
import socket
import sys
import time

from llmspell.isolation.procs import kill_tree, set_parent_death_signal

PRELOAD = (
    "llmspell.runner",
    "llmspell.runtime",
    "llmspell.engines.lua",
    "llmspell.engines.lua.spell",
    "llmspell.engines.js",
    "llmspell.engines.js.spell",
    "llmspell.api.globals",
    "llmspell.tools.registry",
    "llmspell.isolation.child",
    "llmspell.agents.registry",
    "llmspell.providers.scripted",
    "llmspell.recovery.apply",
    "llmspell.security.policy",
    "llmspell.state.store",
    "llmspell.workflows.engine",
    "sqlite3",
    "lupa.lua54",
    "quickjs",
)


def preload(language: str | None = None) -> None:
    """Import what every run needs, so forks start warm (only one engine's modules when ``language``
    is given: the CLI knows which). Failures are left for the run to report."""
    import importlib

    skip = {"lua": ("llmspell.engines.js", "quickjs"), "javascript": ("llmspell.engines.lua", "lupa")}.get(
        language or "", ())
    for name in PRELOAD:
        if any(name.startswith(s) for s in skip):
            continue
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def warm_up() -> None:
    """Run one tiny Lua and one tiny JS spell in-process, then make sure no thread survived.

    Why: a forked run inherits everything the zygote has already done; the first run in a process
    pays ~70 ms of lazy imports and first-use caches (API metatables, pydantic validators, SQLite)
    that a second run does not. Doing it once here moves that cost out of every run. The warm-up
    uses an in-memory state store in a throw-away directory: it never touches a user's workspace."""
    import asyncio
    import tempfile
    import threading
    from pathlib import Path

    from llmspell.config import RuntimeConfig
    from llmspell.runner import SpellRunner

    with tempfile.TemporaryDirectory(prefix="llmspell-zygote-") as d:
        cfg = RuntimeConfig.model_validate({"workspace": d, "state": {"backend": "memory"}})
        (Path(d) / "warm.lua").write_text('local t = JSON.parse(JSON.stringify({a = 1}))\nreturn t.a\n')
        (Path(d) / "warm.js").write_text("const t = JSON.parse(JSON.stringify({a: 1}));\nt.a;\n")

        async def go() -> None:
            runner = SpellRunner(config=cfg)
            for name in ("warm.lua", "warm.js"):
                async for _ in runner.run(Path(d) / name):
                    pass

        with contextlib.suppress(Exception):
            asyncio.run(go())
    deadline = time.monotonic() + 5
    while threading.active_count() > 1 and time.monotonic() < deadline:
        for t in threading.enumerate():
            if t is not threading.current_thread():
                t.join(0.1)
    if threading.active_count() > 1:  # never fork with threads alive: start over clean instead
        raise RuntimeError("threads survived the zygote warm-up: " +
                           ", ".join(t.name for t in threading.enumerate()))


def serve(ctl_fd: int) -> int:
    ctl = socket.socket(fileno=ctl_fd)
    children: set[int] = set()
    rfd, wfd = os.pipe()
    os.set_blocking(wfd, False)
    os.set_blocking(rfd, False)
    signal.set_wakeup_fd(wfd)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children.clear()
                return
            if pid == 0:
                return
            children.discard(pid)
            with contextlib.suppress(OSError):
                ctl.send(json.dumps({"exit": pid, "status": os.waitstatus_to_exitcode(status)}).encode())

    while True:
        try:
            ready, _, _ = select.select([ctl.fileno(), rfd], [], [], 1.0)
        except InterruptedError:
            ready = []
        ctl_ready = ctl.fileno() in ready
        if rfd in ready:
            with contextlib.suppress(OSError):
                os.read(rfd, 4096)
        reap()
        if not ctl_ready:
            continue
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctl, 65536, 4)
        except OSError:
            msg, fds = b"", []
        if not msg:
            for pid in list(children):
                kill_tree(pid)
            return 0
        try:
            req = json.loads(msg)
        except ValueError:
            req = {}
        if req.get("op") != "spawn" or len(fds) != 1:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(OSError):
                ctl.send(json.dumps({"id": req.get("id"), "error": "bad spawn request"}).encode())
            continue
        run_fd = fds[0]
        try:
            pid = os.fork()
        except OSError as e:
            os.close(run_fd)
            with contextlib.suppress(OSError):
                ctl.send(json.dumps({"id": req.get("id"), "error": f"fork failed: {e}"}).encode())
            continue
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            from llmspell.isolation.child import child_main

            child_main(run_fd)
        os.close(run_fd)
        children.add(pid)
        with contextlib.suppress(OSError):
            ctl.send(json.dumps({"id": req.get("id"), "pid": pid}).encode())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m llmspell.isolation.zygote",
                                description="Pre-imported fork server for isolated spell runs (internal).")
    p.add_argument("ctl_fd", type=int, help="inherited SOCK_SEQPACKET control socket")
    p.add_argument("--preload", action="append", default=[], metavar="MODULE",
                   help="also import MODULE before forking (e.g. llmspell.tracing.tracer)")
    ns = p.parse_args(argv)
    set_parent_death_signal(signal.SIGKILL)
    preload()
    for name in ns.preload:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    warm_up()
    return serve(ns.ctl_fd)


if __name__ == "__main__":
    sys.exit(main())
