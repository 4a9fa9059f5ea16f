"""Sending a Lua function to a cluster worker: its source text plus its upvalues as plain data.

lupa objects cannot be pickled (``no default __reduce__ due to non-trivial __cinit__``), and a closure
is more than its code anyway. So on the run's side :func:`ship_lua_function` (on the spell's thread)
reads ``debug.getinfo(f, "S")`` (source, ``linedefined``, ``lastlinedefined``), cuts the function's
text out of the spell, and reads every upvalue with ``debug.getupvalue``: plain data (numbers,
strings, booleans, tables of them) is sent as JSON; a function, a runtime handle (Agent, Tool...), a
coroutine or userdata is refused, naming the step and the upvalue. ``_ENV`` is not sent: on the worker
the function sees the worker's sandbox globals (the API globals, not globals the spell defined).

On the worker, :class:`WorkerLuaSpell` (one sandboxed interpreter per worker and run, built exactly as
a run's spell is: same prelude, same limits, same metering) compiles
``local <upvalue names> = ... return function(...) ... end`` once, with the text on its original line
numbers and under the spell's chunk name, so errors read ``spell.lua:12: ...`` as in-process, and calls
the loader with the upvalue values for each task (every task gets fresh copies: writes to an upvalue
stay on that task, as they would not be seen across processes anyway).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from llmspell.core.errors import ScriptError, WorkflowError
from llmspell.engines.host import SpellCancelled
from llmspell.engines.lua.spell import LuaSpell

_FUNCTION = re.compile(r"\bfunction\b")
_NAMED = re.compile(r"function\s+([A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*)(\s*:\s*[A-Za-z_]\w*)?\s*\(")
_END = re.compile(r"\bend\b")
MAX_DEPTH = 64


def _refuse(step: str, why: str) -> WorkflowError:
    return WorkflowError(f"step '{step}' cannot run on the cluster: {why}", details={"step": step})


def ship_lua_function(spell: LuaSpell, lua_fn: Any, step: str) -> dict[str, Any]:
    """``{chunk, chunkname, names, values, defined_at}`` for a Lua function (call on the spell thread)."""
    lua = spell.lua
    if lua is None:
        raise _refuse(step, "the spell that defined its function has finished")
    debug = lua.globals().debug
    info = debug.getinfo(lua_fn, "Su")
    where = spell._defined_at(lua_fn) or "the step's function"
    if info["what"] != "Lua":
        raise _refuse(step, f"its function ({where}) is not Lua code")
    source = str(info["source"])
    ld, lld = int(info["linedefined"]), int(info["lastlinedefined"])
    text, chunkname = _source_text(spell, source, step, where)
    lines = text.split("\n")
    if ld < 1 or lld > len(lines):
        raise _refuse(step, f"the source of its function ({where}) is not available")
    names: list[str] = []
    values: list[Any] = []
    i = 1
    while True:
        r = debug.getupvalue(lua_fn, i)
        if r is None:
            break
        name, val = (r[0], r[1]) if isinstance(r, tuple) else (r, None)
        i += 1
        name = str(name)
        if name == "_ENV":
            continue
        _check_plain(spell, val, step, where, name, 0, [int(getattr(spell, "_max_items", 0) or 1_000_000)])
        names.append(name)
        values.append(spell.to_py(val) if val is not None else None)
    code = _function_text(lua, lines, ld, lld, int(info["nparams"]), bool(info["isvararg"]))
    if code is None:
        raise _refuse(step, f"the text of its function ({where}) could not be isolated from the spell "
                            "(write it on lines of its own, e.g. fn = function(input, ctx) ... end)")
    prefix = ("local " + ", ".join(names) + " = ... ") if names else ""
    chunk = "\n" * (ld - 1) + prefix + "return " + code
    return {"chunk": chunk, "chunkname": chunkname, "names": names, "values": values, "defined_at": where}


def _source_text(spell: LuaSpell, source: str, step: str, where: str) -> tuple[str, str]:
    if source.startswith("@"):
        name = source[1:]
        if name == spell.display:
            return spell.source, source
        try:
            data = spell._gate().read_bytes(name, max_bytes=16 << 20)
        except Exception as e:
            raise _refuse(step, f"cannot read {name}, where its function ({where}) is written: {e}") from None
        return data.decode("utf-8", "replace"), source
    if source.startswith("="):
        raise _refuse(step, f"its function ({where}) has no source text")
    return source, "=(shipped function)"


def _check_plain(spell: LuaSpell, v: Any, step: str, where: str, name: str, depth: int, left: list[int]) -> None:
    # ``left`` counts values visited, as the bridge's to_py does (limits.max_value_items): a table
    # that holds the same table twice at each of 40 levels is 2^40 visits, and this walk is Python
    # on the spell's thread (no Lua instruction budget), so it held the run until its wall time.
    left[0] -= 1
    if left[0] < 0:
        raise _refuse(step, f"its function ({where}) uses the local '{name}' from the surrounding code, a value "
                            "too large to send (more than limits.max_value_items values)")
    lt = spell._lua_type(v)
    if lt is None:
        return
    what = None
    if lt == "function":
        what = "a function"
    elif lt == "userdata":
        what = "a userdata value (a handle)"
    elif lt == "thread":
        what = "a coroutine"
    elif lt == "table":
        if spell._handle_of(v) is not None:
            what = "a runtime handle (an Agent, Tool, Workflow or other API object)"
        elif depth >= MAX_DEPTH:
            what = "a table nested too deeply (or one that contains itself)"
        else:
            for k, x in v.items():
                kt = spell._lua_type(k)
                if kt is not None or isinstance(k, bool):
                    raise _refuse(step, f"its function ({where}) uses the local '{name}' from the surrounding "
                                        "code, a table with a key that is not a string or a number")
                _check_plain(spell, x, step, where, name, depth + 1, left)
            return
    if what is not None:
        raise _refuse(step, f"its function ({where}) uses the local '{name}' from the surrounding code, which "
                            f"holds {what}; only plain data (numbers, strings, booleans and tables of them) can "
                            "be sent to cluster workers — define it inside the function, or pass it in the "
                            "step's input")


def _function_text(lua: Any, lines: list[str], ld: int, lld: int, nparams: int, vararg: bool) -> str | None:
    """The text of the function expression that starts on line ``ld`` and ends on ``lld``."""
    g = lua.globals()
    load, getinfo = g.load, g.debug.getinfo
    first = lines[ld - 1]
    for m in _FUNCTION.finditer(first):
        head = first[m.start():]
        nm = _NAMED.match(head)
        if nm:  # local function f(...) / function M.f(...) / function M:f(...) -> an anonymous function
            rest = head[nm.end():]
            if nm.group(2):
                head = "function(self" + ("" if rest.lstrip().startswith(")") else ", ") + rest
            else:
                head = "function(" + rest
        body = [head, *lines[ld:lld]] if lld > ld else [head]
        last = body[-1]
        for e in _END.finditer(last):
            cand = "\n".join([*body[:-1], last[:e.end()]])
            r = load("\n" * (ld - 1) + "return " + cand, "=check", "t", lua.table())
            loader = r[0] if isinstance(r, tuple) else r
            if loader is None:
                continue
            try:
                fn = loader()
            except Exception:
                continue
            if lua_type(lua, fn) != "function":
                continue
            fi = getinfo(fn, "Su")
            if (int(fi["nparams"]) == nparams and bool(fi["isvararg"]) == vararg
                    and int(fi["linedefined"]) == ld and int(fi["lastlinedefined"]) == lld):
                return cand
    return None


def lua_type(lua: Any, v: Any) -> str | None:
    from lupa import lua54

    return lua54.lua_type(v)  # type: ignore[no-any-return]


class WorkerLuaSpell(LuaSpell):
    """A worker's long-lived sandboxed Lua interpreter: built like a run's spell, then it serves calls.

    It runs no spell body: after the prelude and the sandbox exist, its thread serves the inbox
    (:meth:`run_shipped` calls) until it is cancelled. A cancel kills the interpreter (the prelude's
    kill is final by design); the worker host then builds a new one for the next task.
    """

    def __init__(self, *a: Any, **kw: Any):
        super().__init__(*a, **kw)
        self._env: Any = None
        self._loaders: dict[str, Any] = {}
        self.ready = False

    def body(self) -> Any:
        self._env, _const = self.boot(self.cancel_flag.is_set)  # the same sandbox as a spell's
        M = self.M
        M.arm()
        self.ready = True
        while True:  # serve run_shipped calls until cancelled (SpellCancelled ends the thread)
            if self.cancel_flag.is_set():
                raise SpellCancelled(self.cancel_reason)
            self._service(self.inbox.get())

    def run_shipped(self, fn: dict[str, Any], args: tuple[Any, ...]) -> Any:
        """On the spell thread: build the shipped function (compiled once per worker) and call it."""
        chunk = str(fn["chunk"])
        key = hashlib.sha256(chunk.encode("utf-8", "replace")).hexdigest()
        loader = self._loaders.get(key)
        if loader is None:
            r = self._env.load(chunk, str(fn.get("chunkname") or "=(shipped function)"))
            if isinstance(r, tuple):
                loader, err = r[0], (r[1] if len(r) > 1 else None)
            else:
                loader, err = r, None
            if loader is None:
                raise ScriptError(f"the shipped function does not compile on the worker: {err}")
            self._loaders[key] = loader
        res = self._invoke(loader, *[self.to_lua(v) for v in fn.get("values") or []])
        if not isinstance(res, tuple) or res[0] != 0:
            if isinstance(res, tuple) and res[0] == 1:
                raise ScriptError(self._norm_message(str(res[1])))
            raise SpellCancelled(self.cancel_reason)
        return self._call_lua(res[1], args)
