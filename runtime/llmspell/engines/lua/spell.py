"""A Lua spell: one ``lupa.lua54`` interpreter on its own thread, globals generated from the declaration.

How a call travels (see prelude.lua for the Lua half):

    agent:execute{text="hi"}             Lua closure made by define_class (generic, per method)
      -> BRIDGE(hid, "execute", t)       one Python function for every call
      -> Dispatcher.call(obj, ...)       the declared method; async ones are awaited on the loop
         while blocked, the spell thread serves its inbox (hooks, event handlers written in Lua)
      <- (0, result) | (1, kind, message, type, details) | (2,)   status first: no Python exception
                                                                   or object ever reaches Lua

Scripts only ever hold Lua values: results are converted to tables, API objects become tables with a
per-class metatable and a handle id that lives in a weak table inside the prelude, functions passed
to the runtime become :class:`HostedFunction` objects that are called back on this thread.
"""

from __future__ import annotations

import inspect
import itertools
import math
import os
import re
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmspell.api import plain
from llmspell.api.context import SpellContext
from llmspell.api.decl import ApiGlobal, ApiObject, Dispatcher, ScriptFunction, ValueGlobal, exposed_methods
from llmspell.core.errors import (
    LLMSpellError,
    ResourceLimitError,
    ScriptError,
    ValidationError,
)
from llmspell.engines.convert import arg_coercers, jsonable, parse_script_args
from llmspell.engines.host import HostedFunction, SpellCancelled, SpellExit, SpellHost

_PRELUDE_PATH = Path(__file__).with_name("prelude.lua")
_PRELUDE: str | None = None
_MODULE_NAME = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
_LOC = re.compile(r"^(.*?):(\d+): ")
MAX_SOURCE_BYTES = 16 << 20  # dofile / loadfile / require: larger files are refused
_PROC_FD = os.path.isdir("/proc/self/fd")
_PLAIN = frozenset({int, float, str, bool, type(None)})
_PLAIN_ARGS = frozenset({int, str, bool, type(None)})  # floats go through to_py (NaN/inf -> None)
_Coroutine = types.CoroutineType
HOOK_STEP = 10_000
"""VM instructions between two checks of the cancel flag / instruction budget (~0.05–0.1 ms)."""


def _prelude() -> str:
    global _PRELUDE
    if _PRELUDE is None:
        _PRELUDE = _PRELUDE_PATH.read_text(encoding="utf-8")
    return _PRELUDE


def _refuse_attr(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("access to Python objects is not allowed in spells")


def display_path(file: Path | None) -> str:
    """The name errors show: relative to the current directory when the file is under it."""
    if file is None:
        return "<spell>"
    try:
        p = Path(file)
        if p.is_absolute():
            rel = os.path.relpath(p, os.getcwd())
            if not rel.startswith(".."):
                return rel
        return str(p)
    except (OSError, ValueError):
        return str(file)


class LuaFunction(HostedFunction):
    """A Lua function handed to the runtime; calls run on the spell's thread via its inbox."""

    def __init__(self, spell: LuaSpell, fn: Any, defined_at: str = ""):
        super().__init__(spell, lambda *a: spell._call_lua(fn, a), defined_at)
        self.lua_fn = fn
        self.defined_at = defined_at
        """``file:line`` where the function was written (empty when unknown)."""

    def describe(self) -> str:
        return self.defined_at or f"<lua function in {self.host.ctx.spell_name}>"


class LuaSpell(SpellHost):
    """One Lua spell. ``api_globals``/``value_globals`` default to the whole declaration."""

    language = "lua"

    def __init__(
        self,
        ctx: SpellContext,
        source: str,
        *,
        api_globals: dict[str, type[ApiGlobal]] | None = None,
        value_globals: dict[str, ValueGlobal] | None = None,
    ):
        super().__init__(ctx)
        self.source = source
        self.display = display_path(ctx.file)
        self._api_globals = api_globals
        self._value_globals = value_globals
        self._objs: dict[int, Any] = {}
        self._ids: dict[int, int] = {}
        self._next_hid = 1
        self._classes: set[type] = set()
        self._kill: tuple[str, str | None, str | None, int | None] | None = None
        self._max_items = plain.max_items(getattr(ctx.runtime, "config", None))
        self._left = self._max_items
        self.lua: Any = None
        self.M: Any = None
        spell_dir = Path(ctx.file).resolve().parent if ctx.file else None
        self.spell_dir: Path | None = spell_dir
        self._gate_cache: tuple[Any, Any] | None = None
        self._pending_fd = -1
        self._debugger: Any = None

    # ================================================================== lifecycle (spell thread)

    def boot(self, check: Callable[[], Any]) -> tuple[Any, Any]:
        """Build the sandboxed interpreter and the spell's environment; returns ``(env, const)``.

        Cluster workers (``llmspell.cluster.lua_ship``) boot through this too, so the sandbox
        (lupa options, attribute filter, prelude, ``python`` removed) is defined in one place.
        ``check`` is what the prelude's count hook polls (the cancel flag, or the debugger's check).
        """
        from lupa import lua54

        self._lua_error = lua54.LuaError
        self._lua_memory_error = lua54.LuaMemoryError
        self._lua_type = lua54.lua_type
        limits = self.ctx.runtime.config.limits
        max_mem = int(limits.max_memory_mb) << 20 if limits.max_memory_mb else None
        lua = lua54.LuaRuntime(
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_refuse_attr,
            max_memory=max_mem,
        )
        self.lua = lua
        self._table_from = lua.table_from
        self._lua_table = lua.table
        const = lua.table_from({
            "step": HOOK_STEP,
            "budget": int(limits.instruction_budget or 0),
            "package_path": f"{self.spell_dir or '.'}/?.lua;{self.spell_dir or '.'}/?/init.lua",
        })
        M = lua.execute(
            _prelude(), self._bridge, self._index, check, self._note_kill, self._emit,
            self._open_path, self._read_source, self._getenv, const, name="=[llmspell]",
        )
        self.M = M
        self._make_object = M.make_object
        self._handle_of = M.handle_of
        self._invoke = M.invoke
        self._define_class = M.define_class
        self._anchor = M.anchor
        self._defined_at = M.defined_at
        self._make_function = M.make_function
        lua.globals().python = None  # lupa registers it even with register_builtins=False
        return M.make_env(self._build_api()), const

    def body(self) -> Any:
        from llmspell.debugger import active as _active_debugger

        dbg = self._debugger = _active_debugger()  # only a debugged run process has one
        check = self.cancel_flag.is_set if dbg is None else dbg.check_for(self)
        env, const = self.boot(check)
        lua, M = self.lua, self.M
        if dbg is not None:
            dbg.attach(self, lua, M, env, const)
        M.arm()
        if self.cancel_flag.is_set():  # cancelled before it started
            raise SpellCancelled(self.cancel_reason)
        try:
            res = M.run_main(self.source, "@" + self.display, env, *self.ctx.args)
        except self._lua_memory_error:
            self._raise_memory(None)
        except self._lua_error as e:
            if self._kill is not None or self.cancel_flag.is_set():
                self._raise_killed()
            raise ScriptError(str(e) or "Lua error", file=self.display) from None
        status = res[0] if isinstance(res, tuple) else res
        if status == "ok":
            packed = res[1]
            n = packed["n"] or 0
            try:
                values = [self.to_py(packed[i]) for i in range(1, n + 1)]
            except ValidationError as e:
                raise ScriptError(f"{self.display}: the spell's return value: {e.message}", file=self.display) from None
            result: Any = None if n == 0 else values[0] if n == 1 else values
            self._settle()
            return jsonable(result)
        if status == "killed":
            self._raise_killed()
        if status == "syntax":
            msg = self._norm_message(str(res[1]))
            file, line = self._locate(msg)
            err = ScriptError(msg, file=file, line=line)
            err.kind = "syntax"
            raise err
        # "error", text, kind, file, line, traceback, raw
        _, text, kind, file, line, tb, raw = (list(res) + [None] * 7)[:7]
        text = str(text)
        if "not enough memory" in text and kind == "script":
            self._raise_memory(tb)
        if file is None:
            file, line = self._locate(text)
        if file is None and tb:
            file, line = self._locate_tb(str(tb))
        if kind == "script" and self._lua_type(raw) == "table" and text.startswith("table: "):
            try:
                text = f"error object: {jsonable(self.to_py(raw))}"
            except ValidationError:
                text = "error object (a table too large or too deeply nested to show)"
        err = ScriptError(self._norm_message(text), file=self._norm_file(file), line=int(line) if line else None,
                          traceback=self._clean_tb(str(tb)) if tb else None)
        err.kind = str(kind or "script")
        raise err

    def memory_used(self) -> int | None:
        """lupa's allocator counter (a plain read, safe while the spell thread runs Lua)."""
        lua = self.lua
        if lua is None:
            return None
        try:
            return int(lua.get_memory_used())
        except Exception:  # no max_memory configured: lupa does not count
            return None

    def on_closed(self) -> None:
        if self._debugger is not None:
            self._debugger.detach()
        self._release_fd()
        self._objs.clear()
        self._ids.clear()
        self.M = None
        self._make_object = self._handle_of = self._invoke = self._anchor = self._defined_at = None
        self._table_from = self._lua_table = None
        self.lua = None

    def _settle(self) -> None:
        """Let callbacks already on their way (events published just before the end) run."""
        if self.loop is None or self.loop.is_closed():
            return
        try:
            self.run_sync(_settle_loop())
        except SpellCancelled:
            self._raise_killed()

    # ================================================================== kill outcomes

    def _note_kill(self, kind: str, message: str | None, file: str | None, line: int | None) -> None:
        if self._kill is None:
            self._kill = (str(kind), None if message is None else str(message), file, line)

    def _raise_killed(self) -> None:
        kind, message, file, line = self._kill or ("cancel", None, None, None)
        if self.cancel_flag.is_set() and kind != "exit":
            raise SpellCancelled(self.cancel_reason)
        if kind == "exit":
            raise SpellExit(int(message or 0))
        if kind == "limit":
            loc = f"{self._norm_file(file)}:{line}: " if file and line else ""
            err = ResourceLimitError(loc + (message or "resource limit exceeded"))
            err.file = self._norm_file(file)  # type: ignore[attr-defined]
            err.line = line  # type: ignore[attr-defined]
            raise err
        raise SpellCancelled(self.cancel_reason)

    def _raise_memory(self, tb: Any) -> None:
        mb = self.ctx.runtime.config.limits.max_memory_mb
        file, line = self._locate_tb(str(tb)) if tb else (None, None)
        loc = f"{file}:{line}: " if file and line else ""
        err = ResourceLimitError(f"{loc}memory limit exceeded (max_memory_mb = {mb})")
        err.file = file  # type: ignore[attr-defined]
        err.line = line  # type: ignore[attr-defined]
        raise err

    # ================================================================== locations

    def _norm_file(self, file: str | None) -> str | None:
        if file and file.startswith("...") and self.display.endswith(file[3:]):
            return self.display
        return file

    def _norm_message(self, text: str) -> str:
        """Lua shortens long chunk names to ``...tail``; put the full spell path back."""
        m = _LOC.match(text)
        if m and m.group(1).startswith("...") and self.display.endswith(m.group(1)[3:]):
            return self.display + text[len(m.group(1)):]
        return text

    def _locate(self, text: str) -> tuple[str | None, int | None]:
        m = _LOC.match(text)
        if m and not m.group(1).startswith("[C]"):
            return self._norm_file(m.group(1)), int(m.group(2))
        return None, None

    def _locate_tb(self, tb: str) -> tuple[str | None, int | None]:
        for ln in tb.splitlines():
            ln = ln.strip()
            if ln.startswith("[C]") or ln.startswith("[llmspell]"):
                continue
            f, line = self._locate(ln)
            if f:
                return f, line
        return None, None

    @staticmethod
    def _clean_tb(tb: str) -> str:
        keep = [ln for ln in tb.splitlines() if "[llmspell]" not in ln and ln.strip() != "[C]: in ?"]
        if len(keep) > 2 and keep[1].strip() == "stack traceback:" and keep[2].strip() == "[C]: in function 'error'":
            del keep[2]  # the runtime's own error() call, not the spell's
        return "\n".join(keep)

    # ================================================================== globals

    def _build_api(self) -> Any:
        if self._api_globals is None or self._value_globals is None:
            import llmspell.api.globals  # noqa: F401  (registers the declaration)
            from llmspell.api.decl import GLOBALS, VALUE_GLOBALS

            api_globals = GLOBALS if self._api_globals is None else self._api_globals
            value_globals = VALUE_GLOBALS if self._value_globals is None else self._value_globals
        else:
            api_globals, value_globals = self._api_globals, self._value_globals
        api: dict[str, Any] = {}
        for name, cls in api_globals.items():
            api[name] = self._global_table(cls(self.ctx), name)
        for name, vg in value_globals.items():
            api[name] = self.to_lua(vg.factory(self.ctx))
        if "ARGS" not in api:
            parsed = parse_script_args(self.display, list(self.ctx.args))
            api["ARGS"] = self.to_lua(parsed)
            if "arg" not in api:
                api["arg"] = self.to_lua({k: v for k, v in parsed.items() if isinstance(k, int)})
        return self._table_from(api)

    def _global_table(self, obj: ApiGlobal, display: str) -> Any:
        """The script-side table of a global; its namespaces (``Memory.episodic``) become fields
        holding tables of the same kind."""
        cls = type(obj)
        hid = self._handle(obj)
        names = self._table_from(sorted(exposed_methods(cls)))
        dynamic = cls.api_index is not ApiGlobal.api_index
        table = self.M.make_global(hid, display, names, self._fields(obj), dynamic)
        for key in cls.api_namespaces:
            table[key] = self._global_table(obj.api_namespace(key), f"{display}.{key}")
        return table

    def _handle(self, obj: Any) -> int:
        key = id(obj)
        hid = self._ids.get(key)
        if hid is None:
            hid = self._next_hid
            self._next_hid += 1
            self._ids[key] = hid
            self._objs[hid] = obj
        return hid

    def _fields(self, obj: ApiObject) -> Any:
        if not type(obj).api_fields:
            return None
        try:
            values = obj.api_field_values()
        except Exception:
            return None
        return self.to_lua({k: v for k, v in values.items() if v is not None})

    def _class_key(self, cls: type[ApiObject]) -> str:
        key = f"{cls.__module__}.{cls.__qualname__}"
        if cls not in self._classes:
            self._classes.add(cls)
            self._define_class(key, cls.api_name or cls.__name__, self._table_from(sorted(exposed_methods(cls))))
        return key

    # ================================================================== conversion

    def to_lua(self, v: Any, _depth: int = 0) -> Any:
        """Python -> Lua (API notes §1.1): None→nil, dict/list→tables (nil values dropped), models via
        ``model_dump(mode="json")``, API objects → handle tables, callables → Lua functions."""
        t = type(v)
        if v is None or t is str or t is int or t is float or t is bool:
            return v
        if _depth > 100:
            raise ValueError("value nested too deeply to convert to Lua (a cycle?)")
        if t is dict or isinstance(v, dict):
            d = {}
            for k, x in v.items():
                if x is None:
                    continue
                if not isinstance(k, (str, int, float)) or isinstance(k, bool):
                    k = str(k)
                d[k] = self.to_lua(x, _depth + 1)
            return self._table_from(d)
        if t is list or t is tuple or isinstance(v, (list, tuple, set, frozenset)):
            return self._table_from([self.to_lua(x, _depth + 1) for x in v])
        if isinstance(v, (str, int, float)):  # str/int/float subclasses (StrEnum, IntEnum)
            if isinstance(v, bool):
                return bool(v)
            return v.value if hasattr(v, "value") and isinstance(v.value, (str, int, float)) else v
        if isinstance(v, ApiObject):
            return self._make_object(self._handle(v), self._class_key(type(v)), self._fields(v))
        if isinstance(v, LuaFunction) and v.host is self:
            return v.lua_fn
        if hasattr(v, "model_dump"):
            return self.to_lua(v.model_dump(mode="json"), _depth + 1)
        if callable(v) and not isinstance(v, type):
            return self._make_function(self._handle(v))
        if isinstance(v, bytes):
            return v
        return self.to_lua(jsonable(v), _depth + 1)

    def to_py(self, v: Any, _depth: int = 0) -> Any:
        """Lua -> Python (API notes §1.1, with the quirks fixed): sequences → lists (nil holes → None),
        other tables → dicts (integer keys kept), ``{}`` → ``{}``, NaN/inf → None, functions →
        :class:`LuaFunction`, handle tables → the Python object they stand for."""
        lt = self._lua_type(v)
        if _depth == 0:
            self._left = self._max_items
        self._left -= 1
        if self._left < 0:
            raise ValidationError(f"value too large to pass to the runtime (more than {self._max_items} items; "
                                  "limits.max_value_items)")
        if lt is None:
            tv = type(v)
            if tv is float and not math.isfinite(v):
                return None
            if tv in _PLAIN or tv is bytes:
                return v
            return plain.Opaque("Python object")  # never hand a foreign object back to the runtime
        if lt == "table":
            hid = self._handle_of(v)
            if hid is not None:
                return self._objs.get(hid)
            if _depth >= plain.MAX_DEPTH:
                raise ValidationError(f"value nested too deeply to pass to the runtime (more than {plain.MAX_DEPTH} "
                                      "levels, or a table that contains itself)")
            items = list(itertools.islice(v.items(), self._left + 1))  # never more than the budget
            if len(items) > self._left:
                raise ValidationError(f"value too large to pass to the runtime (more than {self._max_items} items; "
                                      "limits.max_value_items)")
            if not items:
                return {}
            n = len(items)
            all_int = True
            mx = 0
            for k, _ in items:
                if type(k) is not int or k < 1:
                    all_int = False
                    break
                if k > mx:
                    mx = k
            if all_int and (mx == n or (mx <= 2 * n and any(k == 1 for k, _ in items))):
                arr: list[Any] = [None] * mx
                for k, x in items:
                    arr[k - 1] = self.to_py(x, _depth + 1)
                return arr
            out: dict[Any, Any] = {}
            for k, x in items:
                if type(k) is float:
                    k = int(k) if k.is_integer() else str(k)
                elif not isinstance(k, (str, int)) or isinstance(k, bool):
                    k = str(k) if isinstance(k, bool) else None
                    if k is None:
                        continue
                out[k] = self.to_py(x, _depth + 1)
            return out
        if lt == "function":
            if type(v).__name__ == "_LuaCoroutineFunction":  # lupa's view of a Lua thread (coroutine)
                return plain.Opaque("coroutine")
            # lupa ties a reference to the Lua thread it came from; re-anchor it on the main thread so
            # the runtime can call it after the spell's coroutine has finished
            fn = self._anchor(v)
            return LuaFunction(self, fn, self._defined_at(fn) or "")
        # a coroutine or userdata: an inert stand-in, refused by name where plain data is expected
        return plain.Opaque("coroutine" if lt == "thread" else f"Lua {lt}")

    # ================================================================== calls Lua -> Python

    def _bridge(self, hid: int, name: str, *args: Any) -> Any:
        try:
            obj = self._objs[hid]
            to_py = self.to_py
            pyargs = list(args)
            for i, a in enumerate(args):
                if type(a) not in _PLAIN_ARGS:
                    try:
                        pyargs[i] = to_py(a)
                    except ValidationError as e:
                        what = getattr(obj, "api_name", "") or "function"
                        raise ValidationError(f"{what}.{name}: argument #{i + 1}: {e.message}") from None
            if name == "__call":
                pyargs = [plain.check_value(a, f"argument #{i + 1}", self.ctx.runtime.config, base=1)
                          for i, a in enumerate(pyargs)]
                r = obj(*pyargs)
            else:
                for i, fix in arg_coercers(type(obj), name):
                    if i < len(pyargs):
                        pyargs[i] = fix(pyargs[i])
                r = Dispatcher.call(obj, name, pyargs)
            tr = type(r)
            if tr in _PLAIN:
                return 0, r
            if tr is _Coroutine:
                r = self.run_sync(r)
            elif inspect.isawaitable(r):
                r = self.run_sync(_await(r))
            if type(r) is tuple:
                return (0, *[self.to_lua(x) for x in r])
            return 0, self.to_lua(r)
        except SpellCancelled:
            return (2,)
        except SpellExit as e:
            self._note_kill("exit", str(e.code), None, None)
            return (2,)
        except BaseException as e:  # every error becomes a Lua error at the spell's line
            return self._error_tuple(e)

    def _index(self, hid: int, key: str) -> Any:
        try:
            r = self._objs[hid].api_index(key)
            if inspect.isawaitable(r):
                r = self.run_sync(r if inspect.iscoroutine(r) else _await(r))
            return 0, self.to_lua(r)
        except SpellCancelled:
            return (2,)
        except BaseException as e:
            return self._error_tuple(e)

    def _error_tuple(self, e: BaseException) -> tuple[Any, ...]:
        if self._kill is not None or self.cancel_flag.is_set():
            return (2,)
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise e
        if isinstance(e, LLMSpellError):
            details = None
            if e.details:
                try:
                    details = self.to_lua(jsonable(e.details))
                except Exception:
                    details = None
            return 1, e.kind, e.message, type(e).__name__, details
        if type(e).__name__ == "ValidationError" and hasattr(e, "errors"):  # pydantic
            return 1, "validation", _pydantic_message(e), "ValidationError", None
        if isinstance(e, self._lua_error):
            return 1, "script", str(e), "LuaError", None
        return 1, "runtime", f"{type(e).__name__}: {e}", type(e).__name__, None

    # ================================================================== calls runtime -> Lua

    def _call_lua(self, fn: Any, args: tuple[Any, ...]) -> Any:
        """Run a Lua function on this thread (from the inbox) and convert its first result."""
        if self.M is None:
            raise ScriptError(f"{self.display}: the spell has finished, so its Lua callbacks can no longer run")
        largs = [self.to_lua(a) for a in args]
        try:
            res = self._invoke(fn, *largs)
        except self._lua_memory_error:
            self._note_kill("limit", f"memory limit exceeded (max_memory_mb = "
                                     f"{self.ctx.runtime.config.limits.max_memory_mb})", None, None)
            raise SpellCancelled("limit") from None
        except self._lua_error:
            raise SpellCancelled(self.cancel_reason) from None
        if not isinstance(res, tuple):
            res = (res,)
        st = res[0]
        if st == 0:
            if len(res) < 2:
                return None
            try:
                value = self.to_py(res[1])
                if type(value) in _PLAIN:
                    return value
                return plain.check_value(value, "", getattr(self.ctx.runtime, "config", None), base=1)
            except ValidationError as e:
                where = self._defined_at(fn) or self.display
                raise ValidationError(f"the value returned by the Lua function at {where}"
                                      f"{e.message if e.message.startswith(' (at') else ': ' + e.message}",
                                      details=e.details) from None
        if st == 2:
            raise SpellCancelled(self.cancel_reason)
        text, kind, file, line, tb = (list(res[1:6]) + [None] * 5)[:5]
        file = self._norm_file(file)
        if file is None:
            file, line = self._locate(str(text))
        err = ScriptError(self._norm_message(str(text)), file=file, line=int(line) if line else None,
                          traceback=self._clean_tb(str(tb)) if tb else None)
        err.kind = str(kind or "script")
        raise err

    # ================================================================== sandbox services

    def _emit(self, stream: str, text: str) -> None:
        self.ctx.emit_output(stream, text)

    def _gate(self) -> Any:
        """The path gate over the policy's roots plus the spell's folder (cached per policy object)."""
        policy = self.ctx.runtime.policy
        cached = self._gate_cache
        if cached is not None and cached[0] is policy:
            return cached[1]
        if hasattr(policy, "gate_with"):
            gate = policy.gate_with(self.spell_dir)
        else:  # a stand-in policy (tests): the same gate over its roots
            from llmspell.security.fs import PathGate

            roots = [*getattr(policy, "allowed_roots", [self.ctx.runtime.workspace]), self.spell_dir]
            ws = self.ctx.runtime.workspace
            gate = PathGate([r for r in roots if r is not None], ws, protected=[Path(ws) / "llmspell.toml"])
        self._gate_cache = (policy, gate)
        return gate

    def _release_fd(self) -> None:
        fd, self._pending_fd = self._pending_fd, -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass

    def _open_path(self, path: Any, write: Any, other: Any = None) -> tuple[int, str]:
        """io.open: open through the gate and hand Lua ``/proc/self/fd/N`` (the very file the gate opened;
        reopening that magic link does not walk the path again). ``write`` may also be "remove" or
        "rename" (os.remove / os.rename, done here on the gate's directory fds)."""
        self._release_fd()
        if write == "tmpname":
            return self._tmpname()
        try:
            if not isinstance(path, (str, bytes)):
                return 1, f"bad argument #1 (string expected, got {self._lua_type(path) or type(path).__name__})"
            gate = self._gate()
            if write == "remove":
                gate.remove(str(path), recursive=False)
                return 0, ""
            if write == "rename":
                if not isinstance(other, (str, bytes)):
                    return 1, "bad argument #2 to 'rename' (string expected)"
                gate.rename(str(path), str(other), into_dir=False, parents=False)
                return 0, ""
            mode = str(write) if isinstance(write, str) else ("w" if write else "r")
            writing = any(c in mode for c in "wa+")
            fd = gate.open_fd(str(path), write=writing, read=("r" in mode or "+" in mode) if writing else None,
                              append="a" in mode, create=("w" in mode or "a" in mode))
            if not _PROC_FD:
                os.close(fd)
                return 0, str(gate.resolve(str(path), write=writing))
            self._pending_fd = fd  # closed at the next call or when the spell ends; Lua reopens it now
            return 0, f"/proc/self/fd/{fd}"
        except LLMSpellError as e:
            return 1, f"{path}: {e.message}"
        except OSError as e:
            return 1, f"{path}: {e.strerror or e}"
        except Exception as e:
            return 1, f"{path}: {e}"

    def _tmpname(self) -> tuple[int, str]:
        """os.tmpname: create ``/tmp/lua_XXXXXX`` through the gate (so it lands where the policy maps
        /tmp) and return the name the spell uses."""
        import secrets as _secrets

        policy = self.ctx.runtime.policy
        if getattr(policy, "temp_dir", None) == "none":
            return 1, ("os.tmpname: temporary files are disabled (security.temp_dir = \"none\"); "
                       "write inside the workspace instead")
        gate = self._gate()
        err = ""
        for _ in range(16):
            name = f"/tmp/lua_{_secrets.token_hex(4)}"
            try:
                os.close(gate.open_fd(name, write=True, exclusive=True))
                return 0, name
            except FileExistsError:
                continue
            except LLMSpellError as e:
                return 1, f"os.tmpname: {e.message}"
            except OSError as e:
                err = str(e.strerror or e)
        return 1, f"os.tmpname: unable to generate a unique file name{': ' + err if err else ''}"

    def _read_source(self, kind: str, name: str) -> tuple[int, str] | tuple[int, str, str]:
        try:
            if kind == "module":
                return self._find_module(str(name))
            gate = self._gate()
            data = gate.read_bytes(str(name), max_bytes=MAX_SOURCE_BYTES)
            return 0, data.decode("utf-8", "replace"), "@" + display_path(gate.resolve(str(name)))
        except LLMSpellError as e:
            return 1, f"{name}: {e.message}"
        except FileNotFoundError:
            return 1, f"cannot open {name}"
        except OSError as e:
            return 1, f"cannot open {name}: {e.strerror or e}"
        except Exception as e:
            return 1, f"cannot open {name}: {e}"

    def _find_module(self, name: str) -> tuple[int, str] | tuple[int, str, str]:
        if not _MODULE_NAME.match(name):
            return 1, f"module '{name}' not found: invalid module name"
        rel = name.replace(".", "/")
        roots = [r for r in (self.spell_dir, Path(self.ctx.runtime.workspace)) if r is not None]
        gate = self._gate()
        tried: list[str] = []
        seen: set[Path] = set()
        for root in roots:
            for cand in (root / f"{rel}.lua", root / rel / "init.lua"):
                if cand in seen:
                    continue
                seen.add(cand)
                tried.append(display_path(cand))
                if gate.kind(str(cand)) == "file":
                    data = gate.read_bytes(str(cand), max_bytes=MAX_SOURCE_BYTES)
                    return 0, data.decode("utf-8", "replace"), "@" + display_path(cand)
        return 1, f"module '{name}' not found:" + "".join(f"\n\tno file '{t}'" for t in tried)

    def _getenv(self, name: str) -> str | None:
        policy = self.ctx.runtime.policy
        visible = getattr(policy, "env_visible", None)
        if visible is not None and not visible(name):
            return None
        return os.environ.get(name)


async def _await(aw: Any) -> Any:
    return await aw


async def _settle_loop() -> None:
    import asyncio

    for _ in range(3):
        await asyncio.sleep(0)


def _pydantic_message(e: Any) -> str:
    parts = []
    try:
        for err in e.errors()[:5]:
            loc = ".".join(str(x) for x in err.get("loc", ()))
            parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    except Exception:
        return str(e)
    return "invalid parameters: " + "; ".join(parts)


def create_spell(ctx: SpellContext, source: str) -> LuaSpell:
    return LuaSpell(ctx, source)


__all__ = ["LuaFunction", "LuaSpell", "ScriptFunction", "create_spell", "display_path"]
