"""DebugAgent: the debugger inside a debugged run process, between the adapter's commands and Lua.

Threads. Commands arrive on the process's event loop (read from the run socket) and are queued
here; only the spell thread ever touches the LuaRuntime (lupa's lock would block any other thread,
and lupa objects are not thread-safe). The spell thread picks commands up in three places:

* stopped: inside the Lua hook (``PY.pause``), serving inspection commands until a resume command;
* running Lua: the count hook asks :meth:`check` every ~10k instructions; a ``2`` makes it call
  ``D.attention()`` which drains the queue here (new breakpoints, a pause request);
* waiting on the runtime (a tool call, ``Event.receive``): the spell serves its inbox, so every
  command is also posted there as a call to :meth:`_drain_waiting`.

Runtime-aware stops (hook points, events) are requested from the loop by registered hooks / event
subscriptions, and performed on the spell thread by the same drains; the hook waits until the user
resumes, so e.g. a tool does not run before the user continues from ``BeforeToolExecution``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import queue
import re
import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llmspell.debugger.commands import (
    DebugCommand,
    DebugInit,
    EvaluateArgs,
    FileBreakpoints,
    FrameArgs,
    SetVariableArgs,
    StopFilters,
    VariablesArgs,
    parse_plain_value,
)

_LUA_SRC = Path(__file__).with_name("debug.lua")
POLL_S = 0.05
"""While stopped, how often the wait for a command also looks at the cancel flag (terminate)."""

Send = Callable[[str, dict[str, Any]], None]
_HIT = re.compile(r"^\s*(==?|>=?|<=?|%)?\s*\d+\s*$")


class _Stop:
    """A stop requested from the loop (hook point, event, pause while waiting)."""

    def __init__(self, reason: str, description: str, text: str, scope: tuple[str, Any] | None):
        self.reason = reason
        self.description = description
        self.text = text
        self.scope = scope
        self.done: concurrent.futures.Future[None] = concurrent.futures.Future()


class DebugAgent:
    def __init__(self, init: DebugInit, send: Send):
        self.init = init
        self._send = send
        self._commands: queue.SimpleQueue[DebugCommand] = queue.SimpleQueue()
        self._attention = threading.Event()
        self._stops: queue.SimpleQueue[_Stop] = queue.SimpleQueue()
        self._pending_stop: _Stop | None = None
        self.spell: Any = None
        self._lua: Any = None
        self._D: Any = None
        self._lua_type: Callable[[Any], str | None] = lambda v: None
        self._stopped = False
        self._filters = init.filters
        self._hook_handles: list[Any] = []
        self._event_subs: list[Any] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    # ================================================================== loop thread

    def post(self, cmd: DebugCommand) -> None:
        """A command from the adapter (called on the run process's loop)."""
        self._commands.put(cmd)
        self._attention.set()
        self._poke()

    def _poke(self) -> None:
        """Also offer the queue to the spell's inbox (served if it waits on the runtime). Safe from any
        thread: commands that arrived before the spell existed are offered when it attaches."""
        spell = self.spell
        if spell is None or spell.loop is None or spell._closed.is_set():
            return

        def go() -> None:
            fut = asyncio.ensure_future(spell.invoke(self._drain_waiting))
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is spell.loop:
            go()
        else:
            with contextlib.suppress(RuntimeError):
                spell.loop.call_soon_threadsafe(go)

    async def _request_stop(self, reason: str, description: str, text: str, scope: tuple[str, Any]) -> None:
        spell = self.spell
        if spell is None or spell._closed.is_set() or self._stopped:
            return
        st = _Stop(reason, description, text, scope)
        self._stops.put(st)
        self._attention.set()
        self._poke()
        with contextlib.suppress(Exception):
            await asyncio.wrap_future(st.done)

    def send_output(self, text: str, category: str = "console") -> None:
        self._send("output", {"category": category, "output": text})

    # ================================================================== spell thread: wiring

    def check_for(self, spell: Any) -> Callable[[], Any]:
        """The count hook's CHECK in a debugged spell: True = cancelled, 2 = commands are waiting."""
        flag, att = spell.cancel_flag, self._attention

        def check() -> Any:
            if flag.is_set():
                return True
            if att.is_set():
                return 2
            return False

        return check

    def attach(self, spell: Any, lua: Any, M: Any, env: Any, const: Any) -> None:
        """Load the Lua half into the spell's runtime (main thread, before the spell runs)."""
        from lupa import lua54

        self.spell = spell
        self.loop = spell.loop
        self._lua = lua
        self._lua_type = lua54.lua_type
        py = lua.table_from({"pause": self._pause_from_lua, "drain": self._drain_from_hook, "log": self._log})
        table = lua.execute(_LUA_SRC.read_text(encoding="utf-8"), py, M, const, name="=[llmspell]")
        # The Lua half's functions, fetched once here: lupa 2.8 answers the first table access made in
        # a Python callback entered from a coroutine with stale stack values (a tuple), so callbacks
        # call functions only, and call ``noop`` first (a call resets that state).
        D = types.SimpleNamespace(**{str(k): v for k, v in table.items()})
        self._D = D
        D.patch_env(env)
        M.set_debugger(table)
        for fb in self.init.breakpoints:
            for item in self._set_breakpoints(fb)["breakpoints"]:
                if not item["verified"]:
                    self._send("breakpoint", {"reason": "changed", "breakpoint": item})
        self._apply_filters(self.init.filters)
        if self.init.stop_on_entry:
            D.stop_on_entry()
        if self._attention.is_set():  # commands (a pause) came before the spell existed
            self._poke()

    def detach(self) -> None:
        for h in self._hook_handles:
            with contextlib.suppress(Exception):
                h.unregister()
        self._hook_handles.clear()
        spell = self.spell
        events = getattr(getattr(spell, "ctx", None), "runtime", None)
        bus = getattr(events, "events", None)
        if bus is not None:
            for s in self._event_subs:
                with contextlib.suppress(Exception):
                    bus.unsubscribe(s)
        self._event_subs.clear()
        while True:  # nobody will serve these any more: let waiting hooks go on
            try:
                st = self._stops.get_nowait()
            except queue.Empty:
                break
            _finish(st)
        self._D = None

    # ================================================================== spell thread: stopping

    def _pause_from_lua(self, reason: str, description: str, text: str, hit_ids: str) -> str:
        self._D.noop()
        st = self._pending_stop
        self._pending_stop = None
        if st is not None and reason == "pause":
            self._set_scope(st)
            try:
                return self._serve_stop(st.reason, st.description, st.text, "")
            finally:
                _finish(st)
        return self._serve_stop(str(reason), str(description or ""), str(text or ""), str(hit_ids or ""))

    def _set_scope(self, st: _Stop) -> None:
        if st.scope is None or self._D is None:
            return
        name, value = st.scope
        self._D.set_stop_scope(name, self.spell.to_lua(value))

    def _serve_stop(self, reason: str, description: str, text: str, hit_ids: str) -> str:
        self._stopped = True
        body: dict[str, Any] = {"reason": reason, "threadId": 1, "allThreadsStopped": True}
        if description:
            body["description"] = description
        if text:
            body["text"] = text
        if hit_ids:
            body["hitBreakpointIds"] = [int(x) for x in hit_ids.split(",") if x.strip().isdigit()]
        self._send("stopped", body)
        mode = "kill"
        try:
            mode = self._serve_commands()
        finally:
            self._stopped = False
            if mode != "kill":
                self._send("continued", {"threadId": 1, "allThreadsContinued": True})
        return mode

    def _serve_commands(self) -> str:
        flag = self.spell.cancel_flag
        while True:
            if flag.is_set():
                return "kill"
            try:
                cmd = self._commands.get(timeout=POLL_S)
            except queue.Empty:
                continue
            mode = self._handle(cmd, stopped=True)
            if mode is not None:
                return mode

    def _external_stop(self, st: _Stop) -> None:
        from llmspell.engines.host import SpellCancelled

        D = self._D
        if D is None or self._stopped:
            _finish(st)
            return
        try:
            if not D.external_begin(None):
                # nothing of the spell is on a stack any more (it has returned; the runtime is settling)
                D.external_end("continue")
                self.send_output(f"[debugger] {st.description}: arrived after the spell's last line; "
                                 "not stopping\n")
                return
            self._set_scope(st)
            mode = self._serve_stop(st.reason, st.description, st.text, "")
            D.external_end(mode)
        finally:
            _finish(st)
        if mode == "kill":
            raise SpellCancelled(self.spell.cancel_reason)

    def _drain_from_hook(self) -> str | None:
        """Called by ``D.attention()`` from the count hook of the running thread."""
        self._D.noop()
        self._attention.clear()
        pause = self._drain_commands()
        try:
            st = self._stops.get_nowait()
        except queue.Empty:
            st = None
        if st is not None:
            if self._pending_stop is not None:
                _finish(self._pending_stop)
            self._pending_stop = st  # performed at the next spell line with its own reason
            return "pause"
        return "pause" if pause else None

    def _drain_waiting(self) -> None:
        """Served from the spell's inbox while it waits on the runtime: stops happen right here."""
        if self._stopped or self._D is None or self._D.is_stopped():
            return
        self._attention.clear()
        pause = self._drain_commands()
        try:
            st = self._stops.get_nowait()
        except queue.Empty:
            st = None
        if st is None and self._pending_stop is not None:
            st, self._pending_stop = self._pending_stop, None
        if st is None and pause:
            st = _Stop("pause", "Paused while the spell waits on the runtime", "", None)
        if st is not None:
            self._D.clear_pause()
            self._external_stop(st)

    def _drain_commands(self) -> bool:
        pause = False
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return pause
            if cmd.command == "pause":
                pause = True
                self._respond(cmd, {})
                continue
            self._handle(cmd, stopped=False)

    def _log(self, text: str) -> None:
        self._D.noop()
        self.send_output(str(text), "console")

    # ================================================================== commands

    def _respond(self, cmd: DebugCommand, body: dict[str, Any] | None = None, error: str | None = None) -> None:
        msg: dict[str, Any] = {"id": cmd.id, "ok": error is None}
        if error is not None:
            msg["message"] = error
        else:
            msg["body"] = body or {}
        self._send("response", msg)

    def _handle(self, cmd: DebugCommand, *, stopped: bool) -> str | None:
        """Run one command on the spell thread; returns a resume mode when it ends a stop."""
        c = cmd.command
        try:
            if c == "setBreakpoints":
                self._respond(cmd, self._set_breakpoints(FileBreakpoints.model_validate(cmd.arguments)))
                return None
            if c == "setExceptionBreakpoints":
                problems = self._apply_filters(StopFilters.model_validate(cmd.arguments))
                self._respond(cmd, {"problems": problems})
                return None
            if c == "pause":
                self._respond(cmd, {})
                return None
            if not stopped:
                self._respond(cmd, error="the spell is running: pause it (or wait for a breakpoint) first")
                return None
            if c in ("continue", "next", "stepIn", "stepOut"):
                self._respond(cmd, {"allThreadsContinued": True} if c == "continue" else {})
                return c
            D = self._D
            if c == "stackTrace":
                frames = []
                raw_start, raw_levels = cmd.arguments.get("startFrame"), cmd.arguments.get("levels")
                start = raw_start if isinstance(raw_start, int) and raw_start > 0 else 0
                # at most 1,000 frames per answer (a deep recursion); editors page with startFrame/levels
                count = raw_levels if isinstance(raw_levels, int) and 0 < raw_levels <= 1000 else 1000
                got = D.stack_trace(start + 1, start + count)
                listed, total = (got[0], int(got[1])) if isinstance(got, tuple) else (got, 0)
                for f in _py(listed, self._lua_type) or []:
                    path = os.path.abspath(str(f["source"]))
                    frames.append({"id": f["id"], "name": f["name"], "line": f.get("line") or 0, "column": 1,
                                   "source": {"path": path, "name": os.path.basename(path)}})
                self._respond(cmd, {"stackFrames": frames, "totalFrames": total or len(frames)})
            elif c == "scopes":
                a = FrameArgs.model_validate(cmd.arguments)
                scopes = _py(D.scopes(a.frameId), self._lua_type)
                if scopes is None:
                    self._respond(cmd, error=f"no frame {a.frameId} in this stop")
                else:
                    self._respond(cmd, {"scopes": [{**s, "expensive": False} for s in scopes]})
            elif c == "variables":
                v = VariablesArgs.model_validate(cmd.arguments)
                got = _py(D.variables(v.variablesReference), self._lua_type)
                if got is None:
                    self._respond(cmd, error=f"variablesReference {v.variablesReference} is not valid in this stop")
                else:
                    self._respond(cmd, {"variables": [_clean_var(x) for x in got]})
            elif c == "evaluate":
                self._evaluate(cmd, EvaluateArgs.model_validate(cmd.arguments))
            elif c == "setVariable":
                s = SetVariableArgs.model_validate(cmd.arguments)
                ok, value = parse_plain_value(s.value)
                if not ok:
                    self._respond(cmd, error=str(value))
                    return None
                res = D.set_variable(s.variablesReference, s.name, value)
                got, err = (res if isinstance(res, tuple) else (res, None))
                if got is None:
                    self._respond(cmd, error=str(err or "cannot set the variable"))
                else:
                    nv = _clean_var(_py(got, self._lua_type))
                    self._respond(cmd, {"value": nv["value"], "type": nv.get("type"),
                                        "variablesReference": nv["variablesReference"]})
            elif c == "exceptionInfo":
                info = _py(D.exception_info(), self._lua_type)
                if info is None:
                    self._respond(cmd, error="this stop is not at an error")
                else:
                    self._respond(cmd, {"exceptionId": str(info.get("kind") or "error"),
                                        "description": info.get("text"), "breakMode": "always",
                                        "details": {"message": info.get("text"),
                                                    "stackTrace": info.get("traceback")}})
            else:  # pragma: no cover - the Literal in DebugCommand keeps this unreachable
                self._respond(cmd, error=f"unknown command {c}")
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(x) for x in first.get("loc", ()))
            self._respond(cmd, error=f"{c}: {loc}: {first.get('msg')}")
        except Exception as e:
            self._respond(cmd, error=f"{c}: {type(e).__name__}: {e}")
        return None

    def _evaluate(self, cmd: DebugCommand, a: EvaluateArgs) -> None:
        if a.context == "hover" and "(" in a.expression:
            self._respond(cmd, error="hovers do not call functions")
            return
        res = self._D.evaluate(a.frameId, a.expression)
        got, err = (res if isinstance(res, tuple) else (res, None))
        if got is None:
            self._respond(cmd, error=str(err))
            return
        v = _clean_var(_py(got, self._lua_type))
        self._respond(cmd, {"result": v["value"], "type": v.get("type"),
                            "variablesReference": v["variablesReference"]})

    def _set_breakpoints(self, fb: FileBreakpoints) -> dict[str, Any]:
        from llmspell.engines.lua.spell import display_path

        src = "@" + display_path(Path(os.path.normpath(fb.path)))
        items = [{"line": b.line, "id": b.id, **({"condition": b.condition} if b.condition else {}),
                  **({"hit": b.hit} if b.hit else {}), **({"log": b.log} if b.log else {})}
                 for b in fb.breakpoints]
        self._D.set_breakpoints(src, self._lua.table_from([self._lua.table_from(i) for i in items]))
        out = []
        for b in fb.breakpoints:
            problem = self._breakpoint_problem(b)
            item: dict[str, Any] = {"id": b.id, "verified": problem is None, "line": b.line}
            if problem is not None:
                item["message"] = problem
            out.append(item)
        return {"breakpoints": out}

    def _breakpoint_problem(self, b: Any) -> str | None:
        """Why a breakpoint cannot work as written (shown on it in the editor), or None."""
        if b.condition:
            err = self._D.check_expression(b.condition)
            if err:
                return f"condition {b.condition!r}: {err}"
        if b.hit and not _HIT.match(b.hit):
            return f"hit count {b.hit!r}: expected N, ==N, >N, >=N, <N, <=N or %N (N a whole number)"
        if b.log:
            for part in re.findall(r"{(.*?)}", b.log):
                err = self._D.check_expression(part)
                if err:
                    return f"log message part {{{part}}}: {err}"
        return None

    def _apply_filters(self, f: StopFilters) -> list[str]:
        """Exception filters in Lua; hook points and event patterns as a hook / subscription on the
        spell's runtime. Returns problems (unknown hook point names) for the console."""
        from llmspell.hooks.registry import HOOK_POINT_NAMES, validate_point

        self._filters = f
        self._D.set_filters(f.error, f.raised)
        runtime = self.spell.ctx.runtime
        for h in self._hook_handles:
            with contextlib.suppress(Exception):
                h.unregister()
        self._hook_handles = []
        for s in self._event_subs:
            with contextlib.suppress(Exception):
                runtime.events.unsubscribe(s)
        self._event_subs = []
        problems: list[str] = []
        points: list[str] = []
        for p in f.hooks:
            p = p.strip()
            if p in ("", "*"):
                points.extend(HOOK_POINT_NAMES)
                continue
            try:
                points.append(validate_point(p))
            except Exception as e:
                problems.append(f"hook breakpoint: {getattr(e, 'message', e)}")
        for p in dict.fromkeys(points):
            self._hook_handles.append(runtime.hooks.register(p, self._hook_stopper(), priority="highest",
                                                             name="debugger", description="debugger stop"))
        for pat in dict.fromkeys(x.strip() or "*" for x in f.events):
            self._event_subs.append(runtime.events.subscribe(pat, self._event_stopper(pat)))
        for msg in problems:
            self.send_output(msg + "\n", "console")
        return problems

    def _hook_stopper(self) -> Callable[[Any], Any]:
        async def stop_at_hook(ctx: Any) -> None:
            data = {"point": str(ctx.point), "component": _plain(ctx.component_id),
                    "correlation_id": getattr(ctx, "correlation_id", None), "data": _plain(ctx.data)}
            await self._request_stop("hook", f"Hook point {ctx.point}", str(ctx.point), ("Hook context", data))
            return None

        return stop_at_hook

    def _event_stopper(self, pattern: str) -> Callable[[Any], Any]:
        async def stop_at_event(ev: Any) -> None:
            if str(ev.event_type).startswith("hook."):
                return
            data = {"event_type": ev.event_type, "data": _plain(ev.data), "sequence": ev.sequence,
                    "source": ev.source, "correlation_id": ev.correlation_id, "pattern": pattern}
            await self._request_stop("event", f"Event {ev.event_type} (matches {pattern})", str(ev.event_type),
                                     ("Event", data))

        return stop_at_event


def _finish(st: _Stop) -> None:
    if not st.done.done():
        st.done.set_result(None)


def _plain(v: Any) -> Any:
    from llmspell.engines.convert import jsonable

    try:
        return jsonable(v)
    except Exception:
        return str(v)


def _clean_var(v: dict[str, Any]) -> dict[str, Any]:
    out = {"name": str(v.get("name", "")), "value": str(v.get("value", "")),
           "variablesReference": int(v.get("variablesReference") or 0)}
    if v.get("type"):
        out["type"] = str(v["type"])
    if v.get("evaluateName"):
        out["evaluateName"] = str(v["evaluateName"])
    if v.get("presentationHint"):
        out["presentationHint"] = v["presentationHint"]
    return out


def _py(v: Any, lua_type: Callable[[Any], str | None], depth: int = 0) -> Any:
    """A table the Lua half built (plain strings/numbers/booleans) as Python lists/dicts."""
    if depth > 20:
        return None
    if lua_type(v) != "table":
        return v
    items = list(v.items())
    if items and all(isinstance(k, int) for k, _ in items):
        items.sort(key=lambda kv: kv[0])
        if [k for k, _ in items] == list(range(1, len(items) + 1)):
            return [_py(x, lua_type, depth + 1) for _, x in items]
    if not items:
        return []
    return {str(k): _py(x, lua_type, depth + 1) for k, x in items}
