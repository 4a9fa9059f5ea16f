"""JavaScript spells on QuickJS: one context per spell, on the spell's own thread.

The shape, and why:

* **Globals come from the declaration.** For every ``ApiGlobal``/``ApiObject`` class the engine sends
  its exposed methods (``js_name``, Lua name, ``is_async``) to the prelude once; the prelude builds one
  prototype per class. Nothing here knows about ``Agent`` or ``Tool``.
* **Sync methods are synchronous, async methods return Promises.** JS calls the host through one
  callable (``__ls_host``). A sync method (builder steps, ``Tool.exists()``) runs right there on the
  spell thread and returns its value; an ``async`` method starts its coroutine on the loop and returns
  a pending id, which the prelude turns into a Promise that :meth:`JSSpell.body`'s host loop settles
  when the coroutine finishes. This needs JS -> Python calls, which the binding forbids while a time
  limit is set, so the engine stops JS with its own interrupt handler instead (see
  :mod:`llmspell.engines.js.interrupt`): cancellation, ``exit()`` and the runner's wall-time limit
  (``cancel("timeout")``) take effect within microseconds even in ``while (true) {}``, and CPU-heavy
  spells are never cut into slices, so ``limits.js_slice_cpu_s`` is not used.
* **Values cross as JSON**, with markers for API objects (a handle into this spell's object table),
  spell functions (an id into the prelude's function table) and functions from elsewhere. Marker keys
  carry a per-spell secret the spell never sees, so ``{"__ls_obj": 1}`` in spell data (or in a tool's
  output) is just data; what may be a function or a handle is decided by the declaration
  (:mod:`llmspell.api.plain`). A ``None``
  result is ``undefined``, ``None`` in an array is ``null``, and a ``None``-valued key is dropped from
  objects (Lua's nil rule: a key whose value is nil does not exist); going to Python, ``undefined``
  keys are dropped and ``undefined`` array items become ``None``, as ``JSON.stringify`` does. A
  declared global named like a JS builtin (``JSON``) is not installed: the builtin stays.
* **Callbacks** (hooks, event handlers, step functions, stream callbacks) are :class:`JSFunction`
  objects; the runtime awaits them, the call is posted to the spell thread through the inbox, and a
  returned Promise is awaited too.
* **Errors**: a host error rejects/throws a JS ``Error`` whose ``name`` is the Python class
  (``ToolNotFoundError``), ``kind`` the category (``tool``) and ``message`` the text, so ``try/catch``
  works; its stack is the *call site* in the spell (for async calls, captured when the call was made).
  An uncaught error ends the spell with a
  :class:`ScriptError` carrying the spell's ``file:line`` and the stack with ``<input>`` replaced by the
  spell's path (the user code is wrapped on its first line, so line numbers match the file).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import itertools
import json
import math
import os
import re
import secrets
import time
from collections.abc import Awaitable
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any

import quickjs

from llmspell.api import plain
from llmspell.api.context import SpellContext
from llmspell.api.decl import (
    GLOBALS,
    VALUE_GLOBALS,
    ApiGlobal,
    ApiObject,
    Dispatcher,
    ScriptFunction,
    camel,
    exposed_methods,
)
from llmspell.core.errors import LLMSpellError, ResourceLimitError, ScriptError, ValidationError
from llmspell.engines.convert import jsonable, parse_script_args
from llmspell.engines.host import HostedFunction, SpellCancelled, SpellExit, SpellHost
from llmspell.engines.js.interrupt import Interrupter

STACK_BYTES = 1 << 20
"""QuickJS stack limit: about 1,600 nested JS calls; well inside a spell thread's 8 MB native stack."""

_PRELUDE: str | None = None
_dumps = json.JSONEncoder(ensure_ascii=False).encode  # one encoder: json.dumps(**kw) builds one per call
_loads = json.JSONDecoder().decode
_SCALARS = (str, int, float, bool, list, dict, type(None))
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})
_CLASS_SPECS: dict[type, dict[str, Any]] = {}
_FRAME_RE = re.compile(r"^\s*at (?:(?P<fn>.*?) \()?<input>(?::(?P<line>\d+))?\)?\s*$")


def display_path(file: Path | None) -> str:
    """The name errors show: relative to the current directory when the file is under it (as Lua)."""
    if file is None:
        return "<spell>"
    p = Path(file)
    try:
        if p.is_absolute():
            rel = os.path.relpath(p, os.getcwd())
            if not rel.startswith(".."):
                return rel
    except (OSError, ValueError):
        pass
    return str(p)


def _prelude() -> str:
    global _PRELUDE
    if _PRELUDE is None:
        _PRELUDE = resources.files("llmspell.engines.js").joinpath("prelude.js").read_text(encoding="utf-8")
    return _PRELUDE


def _class_spec(cls: type[ApiObject]) -> dict[str, Any]:
    """What the prelude needs to build a prototype: methods as [js_name, lua_name, is_async]."""
    spec = _CLASS_SPECS.get(cls)
    if spec is None:
        methods = exposed_methods(cls)
        spec = {
            "m": [[m.js_name, m.lua_name, m.is_async] for m in methods.values()],
            "g": issubclass(cls, ApiGlobal),
            "i": issubclass(cls, ApiGlobal) and cls.api_index is not ApiGlobal.api_index,
        }
        _CLASS_SPECS[cls] = spec
    return spec


class _PendingCallback:
    """A JS callback returned a Promise: the runtime awaits ``future`` (settled on the spell thread)."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()


class JSFunction(HostedFunction):
    """A function written in the spell; ``await fn(*args)`` runs it on the spell thread."""

    language = "javascript"

    def __init__(self, spell: JSSpell, fn_id: int):
        super().__init__(spell, spell._call_function_on_thread, label=f"<javascript function in {spell.path}>")
        self.fn_id = fn_id

    async def __call__(self, *args: Any) -> Any:
        r = await self.host.invoke(self._call, self.fn_id, args)
        if isinstance(r, _PendingCallback):
            return await asyncio.wrap_future(r.future)
        return r


class JSSpell(SpellHost):
    """A JavaScript spell: see the module docstring for the design."""

    language = "javascript"

    def __init__(
        self,
        ctx: SpellContext,
        source: str,
        *,
        globals: dict[str, type[ApiGlobal]] | None = None,
        value_globals: dict[str, Any] | None = None,
    ):
        """``globals``/``value_globals`` default to the declaration's registries (tests pass their own)."""
        super().__init__(ctx)
        self._globals = globals
        self._value_globals = value_globals
        self.source = source
        self.path = display_path(ctx.file)
        limits = getattr(getattr(ctx.runtime, "config", None), "limits", None)
        self.max_memory_mb: int = int(getattr(limits, "max_memory_mb", 0) or 0)
        """0 = no memory limit (as in Lua)."""
        self.exit_code: int | None = None
        self._js: Any = None
        self._interrupter: Interrupter | None = None
        self._objects: dict[int, Any] = {}
        self._handles: dict[int, int] = {}  # id(obj) -> handle
        self._handle_seq = itertools.count(1)
        self._sent_classes: set[type] = set()
        self._functions: dict[int, JSFunction] = {}
        self._pending: dict[concurrent.futures.Future[Any], int] = {}
        self._op_seq = itertools.count(1)
        self._callbacks: dict[int, _PendingCallback] = {}
        self._cb_seq = itertools.count(1)
        self._done: str | None = None
        self._settle: Any = None
        self._invoke: Any = None
        self._mem_used: int | None = None
        self._mem_t = 0.0
        self._mark = "__ls" + secrets.token_hex(16)
        """Marker keys are ``mark + "o"|"f"|"p"``: unguessable, handed to the prelude once (``init``)."""
        self._k_obj, self._k_fn, self._k_pyfn = self._mark + "o", self._mark + "f", self._mark + "p"
        self._init_sent = False
        self._config = getattr(ctx.runtime, "config", None)

    # ------------------------------------------------------------------------------------ lifecycle

    async def run(self) -> Any:
        try:
            return await super().run()
        finally:
            # Hooks, subscriptions and tools the spell registered must not outlive its interpreter;
            # run on the loop, where the registries live (the globals queue these in ctx.extra).
            from llmspell.api.globals._corehelpers import CLEANUP_KEY, run_spell_cleanup

            if self.ctx.extra.get(CLEANUP_KEY):
                run_spell_cleanup(self.ctx)

    def cancel(self, reason: str = "cancelled") -> None:
        super().cancel(reason)
        interrupter = self._interrupter  # read once: on_closed may clear it from the spell thread
        if interrupter is not None:
            interrupter.trip()

    def body(self) -> Any:
        js = quickjs.Context()
        self._js = js
        if self.max_memory_mb > 0:
            js.set_memory_limit(self.max_memory_mb << 20)
        js.set_max_stack_size(STACK_BYTES)
        self._interrupter = Interrupter(js)
        if self.cancel_flag.is_set():
            raise SpellCancelled(self.cancel_reason)
        js.add_callable("__ls_host", self._host)
        js.eval(_prelude())
        self._settle = js.get("__ls_settle")
        self._invoke = js.get("__ls_invoke")
        finish = js.get("__ls_finish")
        install = js.get("__ls_install")
        js.eval("delete globalThis.__ls_settle; delete globalThis.__ls_invoke; delete globalThis.__ls_finish;"
                " delete globalThis.__ls_install;")
        self._guard(install, self._encode(self._make_globals()))
        source = self.source
        if source.startswith("#!"):  # a hashbang line stays a line (as a comment), so lines still match
            source = "//" + source[2:]
        try:
            main = js.eval("(async () => {" + source + "\n})()")
        except quickjs.JSException as e:
            raise self._failure(e) from None
        self._guard(finish, main)
        return self._loop()

    def memory_used(self) -> int | None:
        """The heap size last sampled on the spell thread (quickjs may not be entered from the loop
        thread, so :meth:`_host` samples it at most every 250 ms when JS calls into the runtime)."""
        return self._mem_used

    def _sample_memory(self) -> None:
        now = time.monotonic()
        if now - self._mem_t >= 0.25 and self._js is not None:
            self._mem_t = now
            try:
                self._mem_used = int(self._js.memory().get("memory_used_size", 0))
            except Exception:
                self._mem_used = None

    def on_closed(self) -> None:
        for fut in list(self._pending):
            fut.cancel()
        self._pending.clear()
        for cb in self._callbacks.values():
            if not cb.future.done():
                cb.future.set_exception(ScriptError(f"{self.path}: the spell ended before its callback finished"))
        self._callbacks.clear()
        self._settle = self._invoke = None
        self._interrupter = None
        self._js = None

    def _make_globals(self) -> dict[str, Any]:
        if self._globals is None:
            import llmspell.api.globals  # noqa: F401 - fills GLOBALS / VALUE_GLOBALS
        out: dict[str, Any] = {}
        for name, cls in (GLOBALS if self._globals is None else self._globals).items():
            out[name] = cls(self.ctx)
        if self._value_globals is None:
            for name, vg in VALUE_GLOBALS.items():
                out[name] = vg.factory(self.ctx)
        else:
            out.update(self._value_globals)
        if "ARGS" not in out:
            out["ARGS"] = {str(k): v for k, v in parse_script_args(self.path, list(self.ctx.args)).items()}
        return out

    # ------------------------------------------------------------------------------------ host loop

    def _loop(self) -> Any:
        settling: concurrent.futures.Future[Any] | None = None
        while True:
            self._run_jobs()
            # An interrupt inside an async function becomes a rejection JS could catch; once the
            # spell is stopping, the flag wins over whatever JS made of it.
            if self.cancel_flag.is_set() or self.exit_code is not None:
                raise self._stopped()
            if self._done is not None and settling is None and not self._pending:
                # As in Lua: let callbacks already on their way (an event published just before the
                # end) run before the spell's interpreter goes away. Host operations still pending
                # are waited for first: a floating ``(async () => { await a; await b })()`` must
                # not be cut off after its first await with a "success".
                settling = self.call_async(_settle_loop())
                settling.add_done_callback(lambda f: self.inbox.put(("done", f)))
            if settling is None and not self._pending and not self._functions:
                raise ScriptError(
                    f"{self.path}: the spell is awaiting a Promise that nothing can settle "
                    "(no host operation is pending and no callback is registered)",
                    file=self.path,
                )
            item = self.inbox.get()
            kind = item[0]
            if kind == "done":
                fut = item[1]
                if fut is settling:
                    assert self._done is not None
                    return self._finish(self._done)
                op_id = self._pending.pop(fut, None)
                if op_id is not None:
                    self._guard(self._settle, op_id, self._reply_for(fut))
            else:
                try:
                    self._service(item)
                except SpellCancelled:
                    raise self._stopped() from None

    def _run_jobs(self) -> None:
        js = self._js
        while True:
            try:
                more = js.execute_pending_job()
            except quickjs.JSException as e:
                raise self._failure(e) from None
            if not more:
                return

    def _guard(self, fn: Any, *args: Any) -> Any:
        """Call into JS; turn interrupts, OOM and uncaught errors into the right Python exception."""
        try:
            return fn(*args)
        except quickjs.JSException as e:
            raise self._failure(e) from None

    def _stopped(self) -> BaseException:
        if self.exit_code is not None:
            return SpellExit(self.exit_code)
        return SpellCancelled(self.cancel_reason)

    def _failure(self, e: BaseException) -> BaseException:
        text = str(e)
        if self.exit_code is not None or self.cancel_flag.is_set():
            return self._stopped()
        if "out of memory" in text.split("\n", 1)[0] or text.startswith("null"):
            _, line = self._locate(text.partition("\n")[2])
            loc = f"{self.path}:{line}: " if line else f"{self.path}: "
            err = ResourceLimitError(
                f"{loc}memory limit exceeded (max_memory_mb = {self.max_memory_mb})",
                details={"limit": "max_memory_mb", "value": self.max_memory_mb},
            )
            err.file = self.path  # type: ignore[attr-defined]
            err.line = line  # type: ignore[attr-defined]
            return err
        head, _, stack = text.partition("\n")
        kind = "syntax" if head.startswith("SyntaxError") else "script"
        return self._script_error(head, stack, kind=kind)

    def _locate(self, stack: str) -> tuple[list[str], int | None]:
        """(spell frames with ``<input>`` mapped to the spell's path, line of the first spell frame)."""
        line: int | None = None
        frames: list[str] = []
        for raw in stack.splitlines():
            m = _FRAME_RE.match(raw)
            if m and (m.group("fn") or "").startswith("__ls_"):
                continue
            if m and line is None and m.group("line"):
                line = int(m.group("line"))
            if raw.strip():
                frames.append("  " + raw.strip().replace("<input>", self.path))
        return frames, line

    def _script_error(self, head: str, stack: str, *, kind: str, name: str | None = None,
                      details: dict[str, Any] | None = None) -> ScriptError:
        frames, line = self._locate(stack)
        where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        err = ScriptError(
            where + head,
            file=self.path,
            line=line,
            traceback="\n".join(frames) or None,
            details={"js_kind": kind, **({"name": name} if name else {}), **(details or {})},
        )
        err.kind = kind
        return err

    def _finish(self, reply: str) -> Any:
        if reply[0] == "E":
            raise self._error_from_js(json.loads(reply[1:]))
        try:
            value = self._decode(reply[1:]) if reply[0] == "J" else None
            value = plain.check_value(value, "", self._config, plain.DISPLAY)
        except ValidationError as e:
            raise ScriptError(f"{self.path}: the spell's return value cannot be passed to the runtime: {e.message}",
                              file=self.path) from None
        return jsonable(value)

    # ------------------------------------------------------------------------------------ JS -> host

    def _host(self, op: str, a: Any = None, b: Any = None, c: Any = None) -> str:
        """The one callable JS can reach. Never raises: a Python exception left pending inside a
        quickjs callable breaks the context, so every failure becomes an ``E`` reply."""
        try:
            self._sample_memory()
            if self.exit_code is not None or self.cancel_flag.is_set():
                if op == "done":
                    return "U"
                return _error_reply(SpellExitRequested() if self.exit_code is not None else SpellStopping())
            if op == "call":
                return self._op_call(a, b, c)
            if op == "init":  # the prelude asks once, before any spell code runs
                if self._init_sent:
                    raise ValidationError("unknown host operation 'init'")
                self._init_sent = True
                return _dumps({"mark": self._mark, "maxItems": plain.max_items(self._config)})
            if op == "out":
                self.ctx.emit_output("stderr" if a == "stderr" else "stdout", str(b))
                return "U"
            if op == "index":
                obj = self._objects.get(a)
                return self._encode(obj.api_index(str(b)) if isinstance(obj, ApiGlobal) else None)
            if op == "done":
                self._done = str(a)
                return "U"
            if op == "cbdone":
                cb = self._callbacks.pop(int(a), None)
                if cb is not None and not cb.future.done():
                    try:
                        cb.future.set_result(self._callback_result(str(b)))
                    except BaseException as e:
                        cb.future.set_exception(e)
                return "U"
            if op == "sleep":
                return self._start(asyncio.sleep(max(0.0, float(a)) / 1000.0))
            if op == "callfn":
                fn = self._objects.get(a)
                if not callable(fn):
                    raise ValidationError("not a callable function handle")
                args = self._decode(b) or []
                if type(args) is not list:
                    args = [args]
                args = [plain.check_value(x, f"argument #{i + 1}", self._config) for i, x in enumerate(args)]
                return self._start(_call_async(fn, args))
            if op == "exit":
                code = a if isinstance(a, int) and not isinstance(a, bool) else (0 if a in (None, True) else 1)
                self.exit_code = int(code)
                interrupter = self._interrupter
                if interrupter is not None:
                    interrupter.trip()
                return "U"
            raise ValidationError(f"unknown host operation {op!r}")
        except BaseException as e:
            if isinstance(e, SpellCancelled):
                self.cancel(self.cancel_reason)
            return _error_reply(e)

    def _op_call(self, handle: Any, lua_name: Any, args_json: Any) -> str:
        obj = self._objects.get(handle)
        if obj is None:
            raise ValidationError("this API object does not belong to this spell")
        args = self._decode(args_json) if args_json else []
        if type(args) is not list:
            args = [args]
        r = Dispatcher.call(obj, lua_name, args)
        if not isinstance(r, _SCALARS) and inspect.isawaitable(r):
            m = exposed_methods(type(obj)).get(lua_name)
            if m is not None and m.blocking:  # reads as a plain call in JS: wait here, like Lua
                return self._encode(self.run_sync(r if inspect.iscoroutine(r) else _await(r)))
            return self._start(r)
        return self._encode(r)

    def _start(self, aw: Awaitable[Any]) -> str:
        coro = aw if inspect.iscoroutine(aw) else _await(aw)
        fut = self.call_async(coro)
        op_id = next(self._op_seq)
        self._pending[fut] = op_id
        fut.add_done_callback(lambda f: self.inbox.put(("done", f)))
        return f"P{op_id}"

    def _reply_for(self, fut: concurrent.futures.Future[Any]) -> str:
        if fut.cancelled():
            return _error_reply(asyncio.CancelledError("the operation was cancelled"))
        exc = fut.exception()
        if exc is not None:
            return _error_reply(exc)
        try:
            return self._encode(fut.result())
        except BaseException as e:
            return _error_reply(e)

    # ------------------------------------------------------------------------------------ host -> JS

    def _call_function_on_thread(self, fn_id: int, args: tuple[Any, ...]) -> Any:
        """Runs on the spell thread (posted through the inbox by :class:`JSFunction`)."""
        token = next(self._cb_seq)
        try:
            reply = self._invoke(fn_id, self._encode(list(args)), token)
        except quickjs.JSException as e:
            exc = self._failure(e)
            if isinstance(exc, (SpellCancelled, SpellExit, ResourceLimitError)):
                self.cancel(self.cancel_reason)
                raise SpellCancelled(self.cancel_reason) from None
            raise exc from None
        if reply == "P":
            cb = _PendingCallback()
            self._callbacks[token] = cb
            return cb
        return self._callback_result(reply)

    def _callback_result(self, reply: str) -> Any:
        if self.cancel_flag.is_set() or self.exit_code is not None:
            raise SpellCancelled(self.cancel_reason)
        if reply[0] == "E":
            raise self._error_from_js(json.loads(reply[1:]))
        value = self._decode(reply[1:])
        if type(value) in _PLAIN_TYPES:
            return value
        return plain.check_value(value, "the value returned by a JavaScript callback", self._config)

    def _error_from_js(self, info: dict[str, Any]) -> BaseException:
        """An error JS reported (uncaught in the spell, or thrown by a callback)."""
        name = info.get("type") or "Error"
        stack = info.get("stack") or ""
        if name == "InternalError" and info.get("message") == "out of memory":
            return self._failure(quickjs.JSException(f"InternalError: out of memory\n{stack}"))
        err = self._script_error(f"{name}: {info.get('message')}", stack, kind=info.get("kind") or "script",
                                 name=name)
        if err.line is None and info.get("site"):
            _, line = self._locate(info["site"])
            if line is not None:
                err.line = line
                err.message = f"{self.path}:{line}: {name}: {info.get('message')} (in a callback passed at line {line})"
                err.args = (err.message,)
        return err

    def js_function(self, fn_id: int) -> JSFunction:
        f = self._functions.get(fn_id)
        if f is None:
            f = self._functions[fn_id] = JSFunction(self, fn_id)
        return f

    # ------------------------------------------------------------------------------------ conversion

    def _handle(self, obj: Any) -> int:
        h = self._handles.get(id(obj))
        if h is None or self._objects.get(h) is not obj:
            h = next(self._handle_seq)
            self._handles[id(obj)] = h
            self._objects[h] = obj
        return h

    def _decode(self, text: str) -> Any:
        """JSON from JS -> Python, resolving object/function markers (secret keys only)."""
        try:
            if self._mark not in text:
                return _loads(text)
            return json.loads(text, object_hook=self._revive)
        except RecursionError:
            raise ValidationError(f"value nested too deeply to pass to the runtime (more than {plain.MAX_DEPTH} "
                                  "levels)") from None

    def _revive(self, d: dict[str, Any]) -> Any:
        k_obj = self._k_obj
        if k_obj in d:
            obj = self._objects.get(d[k_obj])
            if obj is None:
                raise ValidationError("an API object from another spell cannot be used here")
            return obj
        if self._k_fn in d:
            return self.js_function(int(d[self._k_fn]))
        return d

    def _encode(self, value: Any) -> str:
        """Python -> tagged JSON for the prelude (``U``, ``J`` or ``M`` with markers and class specs)."""
        if value is None:
            return "U"
        t = type(value)
        if t is bool:
            return "Jtrue" if value else "Jfalse"
        if t is int:
            return "J" + str(value)
        if t is str:
            return "J" + _dumps(value)
        st: dict[str, Any] = {"m": False, "d": {}}
        v = self._conv(value, st, 0)
        if not st["m"]:
            return "J" + _dumps(v)
        return "M" + _dumps({"v": v, "d": st["d"] or None})

    def _conv(self, v: Any, st: dict[str, Any], depth: int) -> Any:
        if v is None or isinstance(v, (str, bool, int)):
            return v
        if isinstance(v, float):
            return v if math.isfinite(v) else None
        if depth > 200:
            raise ValidationError("value nested too deeply to pass to JavaScript (over 200 levels)")
        if isinstance(v, dict):
            return {str(k): self._conv(x, st, depth + 1) for k, x in v.items() if x is not None}
        if isinstance(v, (list, tuple, set, frozenset)):
            return [self._conv(x, st, depth + 1) for x in v]
        if isinstance(v, ApiObject):
            st["m"] = True
            cls = type(v)
            name = cls.api_name or cls.__name__
            if cls not in self._sent_classes:
                self._sent_classes.add(cls)
                st["d"][name] = _class_spec(cls)
            fields = {camel(k): self._conv(x, st, depth + 1) for k, x in v.api_field_values().items() if x is not None}
            if isinstance(v, ApiGlobal):  # namespaces (``Memory.episodic``) are fields holding globals
                for key in type(v).api_namespaces:
                    fields[key] = self._conv(v.api_namespace(key), st, depth + 1)
            return {self._k_obj: self._handle(v), "c": name, "f": fields}
        if isinstance(v, JSFunction) and v.host is self:
            st["m"] = True
            return {self._k_fn: v.fn_id}
        if isinstance(v, ScriptFunction) or (callable(v) and not isinstance(v, type)):
            st["m"] = True
            return {self._k_pyfn: self._handle(v)}
        if hasattr(v, "model_dump"):
            return self._conv(v.model_dump(mode="json", by_alias=True), st, depth + 1)
        if isinstance(v, Enum):
            return self._conv(v.value, st, depth + 1)
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        if isinstance(v, Path):
            return str(v)
        return str(v)


class SpellExitRequested(LLMSpellError):
    kind = "cancelled"

    def __init__(self) -> None:
        super().__init__("the spell called exit(); no further API calls run")


class SpellStopping(LLMSpellError):
    kind = "cancelled"

    def __init__(self) -> None:
        super().__init__("the spell is being stopped; no further API calls run")


def _error_reply(e: BaseException) -> str:
    if isinstance(e, LLMSpellError):
        info: dict[str, Any] = {"type": type(e).__name__, "kind": e.kind, "message": e.message}
        if e.details:
            info["details"] = e.details
    elif isinstance(e, (asyncio.CancelledError, concurrent.futures.CancelledError)):
        info = {"type": "CancelledError", "kind": "cancelled", "message": str(e) or "cancelled"}
    else:
        info = {"type": type(e).__name__, "kind": "runtime", "message": str(e) or type(e).__name__}
    return "E" + json.dumps(info, ensure_ascii=False, default=str)


async def _await(aw: Awaitable[Any]) -> Any:
    return await aw


async def _settle_loop() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def _call_async(fn: Any, args: list[Any]) -> Any:
    r = fn(*args)
    if inspect.isawaitable(r):
        r = await r
    return r

