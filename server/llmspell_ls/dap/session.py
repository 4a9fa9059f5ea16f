"""One debug session: DAP requests in, a debugged isolated run out.

The spell runs in the same killable child process as ``--run`` (:class:`llmspell.isolation.IsolatedRunner`,
started with ``debug=``). Debugger commands travel to it as JSON lines on the run socket and come back
as ``debug`` messages inside the run stream, next to the program's output, events and hook results
(which become DAP ``output`` events). The session itself never touches Lua.

Order of a launch: ``initialize`` (capabilities, then the ``initialized`` event) -> ``launch`` (checks
the program; nothing runs yet) -> ``setBreakpoints`` / ``setExceptionBreakpoints`` -> ``configurationDone``.
The run starts when both launch and configurationDone have arrived, with every breakpoint known then,
so a breakpoint on the spell's first lines is never missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llmspell_ls.dap.connection import DebugAdapterConnection
from llmspell_ls.dap.protocol import (
    CAPABILITIES,
    LaunchArguments,
    Request,
    SetBreakpointsArguments,
    SetExceptionBreakpointsArguments,
)

THREAD_ID = 1
START_WAIT_S = 30.0
"""How long a command may wait for a starting run's process (a cold start under load takes seconds)."""
JS_NOT_SUPPORTED = "debugging JavaScript spells is not supported yet; use Run spell (or noDebug: true)"
FORWARDED = {"stackTrace", "scopes", "variables", "evaluate", "setVariable", "exceptionInfo",
             "continue", "next", "stepIn", "stepOut"}
"""Requests answered by the run process (while the spell is stopped)."""

_COMMENT = re.compile(r"^\s*(--.*)?$")


class RequestError(Exception):
    """A request that gets an error response with this message."""


class DebugSession:
    def __init__(self, write: Callable[[bytes], None]):
        self.conn = DebugAdapterConnection()
        self._write = write
        self.launch: LaunchArguments | None = None
        self.program: Path | None = None
        self.config: Any = None
        self.config_done = False
        self.breakpoints: dict[str, list[dict[str, Any]]] = {}
        self.filters: dict[str, Any] = {"error": True, "raised": False, "hooks": [], "events": []}
        self.runner: Any = None
        self.run_id: str | None = None
        self.run_task: asyncio.Task[None] | None = None
        self.stopped = False
        self.finished = asyncio.Event()
        self.closed = asyncio.Event()
        self._ids = itertools.count(1)
        self._bp_ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sent_terminated = False

    # ------------------------------------------------------------------ plumbing

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self._write(data)

    def event(self, name: str, body: Any = None) -> None:
        self.conn.send_event(name, body)
        self.flush()

    def respond(self, req: Request, body: Any = None) -> None:
        self.conn.send_response(req, body)
        self.flush()

    def fail(self, req: Request, message: str) -> None:
        self.conn.send_response(req, success=False, message=message)
        self.flush()

    def output(self, text: str, category: str = "console") -> None:
        if text:
            self.event("output", {"category": category, "output": text})

    def dispatch(self, req: Request) -> None:
        """Handle one request; requests that wait on the run process run as tasks so that a slow
        one (an evaluate calling a long function) never holds up pause or terminate."""
        t = asyncio.ensure_future(self._handle(req))
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _handle(self, req: Request) -> None:
        handler = getattr(self, "on_" + req.command, None)
        if handler is None:
            self.fail(req, f"unknown or unsupported request '{req.command}'")
            return
        try:
            body = await handler(req, req.arguments or {})
        except RequestError as e:
            self.fail(req, str(e))
            return
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(x) for x in first.get("loc", ())) or "arguments"
            self.fail(req, f"{req.command}: {loc}: {first.get('msg')}")
            return
        except Exception as e:  # never a traceback instead of a response
            self.fail(req, f"{req.command}: internal error: {type(e).__name__}: {e}")
            return
        self.respond(req, body)
        if req.command == "initialize":
            self.event("initialized")

    # ------------------------------------------------------------------ requests before the run

    async def on_initialize(self, req: Request, args: dict[str, Any]) -> Any:
        return CAPABILITIES

    async def on_launch(self, req: Request, args: dict[str, Any]) -> Any:
        a = LaunchArguments.model_validate(args)
        cwd = Path(a.cwd).expanduser() if a.cwd else Path.cwd()
        if not cwd.is_dir():
            raise RequestError(f"launch: cwd {cwd}: no such folder")
        program = Path(a.program).expanduser()
        if not program.is_absolute():
            program = cwd / program
        program = Path(os.path.normpath(program))
        if not program.exists():
            raise RequestError(f"launch: program {program}: no such file")
        if not program.is_file():
            raise RequestError(f"launch: program {program}: not a file")
        if not os.access(program, os.R_OK):
            raise RequestError(f"launch: program {program}: cannot read the file (permission denied)")
        from llmspell.runner import language_for

        lang = language_for(program)
        if lang is None:
            raise RequestError(f"launch: program {program}: not a spell (expected a .lua or .js file)")
        if lang == "javascript" and not a.noDebug:
            raise RequestError(f"launch: {program}: {JS_NOT_SUPPORTED}")
        try:
            from llmspell.config import load_config

            overrides = {"default_model": a.model} if a.model else None
            self.config = load_config(Path(a.workspace).expanduser() if a.workspace else program.parent,
                                      overrides=overrides)
        except Exception as e:
            msg = getattr(e, "message", None) or str(e)
            raise RequestError(f"launch: {msg.splitlines()[0] if msg else type(e).__name__}") from None
        os.chdir(cwd)  # the run process starts here (relative paths in the spell, display paths)
        self.launch = a
        self.program = program
        self._maybe_start()
        return None

    async def on_setBreakpoints(self, req: Request, args: dict[str, Any]) -> Any:
        a = SetBreakpointsArguments.model_validate(args)
        if not a.source.path:
            raise RequestError("setBreakpoints: source.path is required (breakpoints are set in files)")
        path = os.path.normpath(os.path.abspath(a.source.path))
        bps = a.breakpoints or [_line_bp(n) for n in (a.lines or [])]
        lines = _source_lines(path)
        specs: list[dict[str, Any]] = []
        shown: list[dict[str, Any]] = []
        for b in bps:
            line = _code_line(lines, b.line)
            spec: dict[str, Any] = {"id": next(self._bp_ids), "line": line}
            if b.condition and b.condition.strip():
                spec["condition"] = b.condition
            if b.hitCondition and b.hitCondition.strip():
                spec["hit"] = b.hitCondition.strip()
            if b.logMessage:
                spec["log"] = b.logMessage
            specs.append(spec)
            item: dict[str, Any] = {"id": spec["id"], "verified": True, "line": line,
                                    "source": {"path": path, "name": os.path.basename(path)}}
            if lines is not None and line > len(lines):
                item["verified"] = False
                item["message"] = f"line {b.line} is past the end of {os.path.basename(path)}"
            shown.append(item)
        self.breakpoints[path] = specs
        if self._running():
            body = await self._child("setBreakpoints", {"path": path, "breakpoints": specs})
            checked = {b.get("id"): b for b in body.get("breakpoints") or []}
            for item in shown:
                got = checked.get(item["id"])
                if got is not None and not got.get("verified", True):
                    item["verified"] = False
                    item["message"] = got.get("message")
        return {"breakpoints": shown}

    async def on_setExceptionBreakpoints(self, req: Request, args: dict[str, Any]) -> Any:
        a = SetExceptionBreakpointsArguments.model_validate(args)
        chosen: dict[str, str | None] = {f: None for f in a.filters}
        for o in a.filterOptions:
            chosen[o.filterId] = o.condition
        unknown = [f for f in chosen if f not in ("error", "raised", "hook", "event")]
        if unknown:
            raise RequestError(f"setExceptionBreakpoints: unknown filter {unknown[0]!r} "
                               "(expected error, raised, hook or event)")

        def names(cond: str | None) -> list[str]:
            parts = [p.strip() for p in (cond or "").split(",") if p.strip()]
            return parts or ["*"]

        self.filters = {
            "error": "error" in chosen, "raised": "raised" in chosen,
            "hooks": names(chosen["hook"]) if "hook" in chosen else [],
            "events": names(chosen["event"]) if "event" in chosen else [],
        }
        if self._running():
            body = await self._child("setExceptionBreakpoints", self.filters)
            for p in body.get("problems") or []:
                self.output(p + "\n")
        return {"breakpoints": [{"verified": True} for _ in chosen]}

    async def on_configurationDone(self, req: Request, args: dict[str, Any]) -> Any:
        self.config_done = True
        self._maybe_start()
        return None

    async def on_threads(self, req: Request, args: dict[str, Any]) -> Any:
        return {"threads": [{"id": THREAD_ID, "name": "spell"}]}

    # ------------------------------------------------------------------ requests answered by the run

    async def _forward(self, req: Request, args: dict[str, Any]) -> Any:
        if not self._running():
            raise RequestError(f"{req.command}: the spell is not running")
        if not self.stopped:
            raise RequestError(f"{req.command}: the spell is running; pause it or wait for a breakpoint")
        # ``stopped`` turns false with the run process's ``continued`` message, which is sent before
        # the spell moves on (so a quick next stop is never overwritten by this response arriving)
        return await self._child(req.command, args)

    on_stackTrace = on_scopes = on_variables = on_evaluate = on_setVariable = on_exceptionInfo = _forward
    on_continue = on_next = on_stepIn = on_stepOut = _forward

    async def on_pause(self, req: Request, args: dict[str, Any]) -> Any:
        if not self._running():
            raise RequestError("pause: the spell is not running")
        if not self.stopped:
            await self._child("pause", {})
        return None

    async def on_terminate(self, req: Request, args: dict[str, Any]) -> Any:
        await self._end_run()
        return None

    async def on_disconnect(self, req: Request, args: dict[str, Any]) -> Any:
        await self._end_run()
        self.closed.set()
        return None

    # ------------------------------------------------------------------ the run

    def _running(self) -> bool:
        return self.run_task is not None and not self.run_task.done()

    def _maybe_start(self) -> None:
        if self.run_task is not None or self.launch is None or not self.config_done:
            return
        self.run_task = asyncio.ensure_future(self._run())

    async def _end_run(self) -> None:
        if self.run_task is None:
            self._terminated()
            return
        for _ in range(100):  # the run task has not reached its first line yet
            if self.run_id is not None or self.run_task.done():
                break
            await asyncio.sleep(0.01)
        if not self.run_task.done() and self.runner is not None and self.run_id is not None:
            await self.runner.cancel(self.run_id)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self.run_task), 10)

    def _terminated(self) -> None:
        if not self._sent_terminated:
            self._sent_terminated = True
            self.event("terminated")

    async def _child(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        rid = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            # a command right after configurationDone may come before the run process exists: wait
            # for it (bounded), as long as the run is still starting
            deadline = asyncio.get_running_loop().time() + START_WAIT_S
            while True:
                ok = self.runner is not None and self.run_id is not None and await self.runner.send_debug(
                    self.run_id, {"id": rid, "command": command, "arguments": args})
                if ok or not self._running() or self.finished.is_set() \
                        or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.02)
            if not ok:
                raise RequestError(f"{command}: the spell has ended")
            reply = await fut
        finally:
            self._pending.pop(rid, None)
        if not reply.get("ok"):
            raise RequestError(str(reply.get("message") or f"{command} failed"))
        body = reply.get("body")
        return body if isinstance(body, dict) else {}

    def _fail_pending(self) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_result({"ok": False, "message": "the spell has ended"})
        self._pending.clear()

    async def _run(self) -> None:
        from llmspell.isolation import IsolatedRunner
        from llmspell.messages import DebugMessage, EventMessage, Finished, HookResultMessage, Output, Progress

        assert self.launch is not None and self.program is not None
        a = self.launch
        self.runner = IsolatedRunner(config=self.config)
        self.run_id = os.urandom(6).hex()
        debug = None
        if not a.noDebug:
            debug = {"breakpoints": [{"path": p, "breakpoints": b} for p, b in self.breakpoints.items()],
                     "filters": self.filters, "stop_on_entry": a.stopOnEntry}
        code = 1
        try:
            async for msg in self.runner.run(self.program, args=list(a.args), run_id=self.run_id, debug=debug):
                if isinstance(msg, Output):
                    self.output(msg.text, "stdout" if msg.stream == "stdout" else "stderr")
                elif isinstance(msg, DebugMessage):
                    self._on_debug(msg)
                elif isinstance(msg, EventMessage):
                    self.output(f"[event] {msg.event_type} {_short_json(msg.data)}\n")
                elif isinstance(msg, HookResultMessage):
                    if msg.hook != "debugger":
                        reason = f" ({msg.reason})" if msg.reason else ""
                        self.output(f"[hook] {msg.point} {msg.hook}: {msg.result}{reason}\n")
                elif isinstance(msg, Progress):
                    self.output(f"[progress] {msg.message}\n")
                elif isinstance(msg, Finished):
                    code = _exit_code(msg)
                    self.output(_summary(msg, self.program))
        except Exception as e:
            self.output(f"[llmspell] the debug run failed: {type(e).__name__}: {e}\n", "stderr")
        finally:
            self.stopped = False
            self._fail_pending()
            self.finished.set()
            self.event("exited", {"exitCode": code})
            self._terminated()

    def _on_debug(self, msg: Any) -> None:
        body = msg.body
        if msg.event == "response":
            fut = self._pending.get(int(body.get("id") or 0))
            if fut is not None and not fut.done():
                fut.set_result(body)
        elif msg.event == "stopped":
            self.stopped = True
            self.event("stopped", body)
        elif msg.event == "continued":
            self.stopped = False
            self.event("continued", body)
        elif msg.event == "breakpoint":
            bp = dict(body.get("breakpoint") or {})
            path = next((p for p, specs in self.breakpoints.items() if any(s["id"] == bp.get("id") for s in specs)),
                        None)
            if path is not None:
                bp["source"] = {"path": path, "name": os.path.basename(path)}
            self.event("breakpoint", {"reason": "changed", "breakpoint": bp})
        elif msg.event == "output":
            self.output(str(body.get("output", "")), str(body.get("category") or "console"))


def _line_bp(n: int) -> Any:
    from llmspell_ls.dap.protocol import SourceBreakpoint

    return SourceBreakpoint(line=n)


def _source_lines(path: str) -> list[str] | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None


def _code_line(lines: list[str] | None, line: int) -> int:
    """A breakpoint on a blank or comment-only line moves to the next line with code (Lua raises
    no line event there, so it would never be hit)."""
    if lines is None:
        return line
    i = line
    while 1 <= i <= len(lines) and _COMMENT.match(lines[i - 1]) and not lines[i - 1].strip().startswith("--["):
        i += 1
    return i if i <= len(lines) else line


def _short_json(data: Any, limit: int = 300) -> str:
    try:
        text = json.dumps(data, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = str(data)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _exit_code(fin: Any) -> int:
    if fin.status == "success":
        return int(fin.exit_code or 0)
    return int(fin.exit_code or 1)


def _summary(fin: Any, program: Path) -> str:
    lines = []
    if fin.error is not None and fin.status != "success" and fin.error.kind != "exit":
        loc = f"{fin.error.file}:{fin.error.line}: " if fin.error.file and fin.error.line else ""
        msg = fin.error.message
        lines.append(msg if re.match(r"^\S+:\d+: ", msg or "") else f"{loc}{msg}")
    if fin.result is not None:
        lines.append(f"result: {_short_json(fin.result)}")
    lines.append(f"[llmspell] {program.name}: {fin.status} ({fin.duration_ms:.0f} ms, exit {fin.exit_code})")
    return "\n".join(lines) + "\n"
