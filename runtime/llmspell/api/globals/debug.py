"""``Debug``: levelled logging to the run's stderr, module filters, timers and profiling reports,
captured entries, value dumps and the spell's stack (rs-llmspell API notes §2.10)."""

from __future__ import annotations

import fnmatch
import gc
import json
import math
import os
import re
import sys
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from llmspell.api.decl import ApiGlobal, ApiObject, ScriptFunction, api_class, api_global, expose
from llmspell.api.plain import Display
from llmspell.core.errors import ValidationError
from llmspell.core.types import new_id

LEVELS = ("trace", "debug", "info", "warn", "error")
_RANK = {name: i for i, name in enumerate(LEVELS)}
_ALIASES = {"warning": "warn", "err": "error", "information": "info"}
_CAPTURE_LIMIT = 1000


def _level(value: Any, fn: str) -> str:
    s = str(value).strip().lower() if value is not None else ""
    s = _ALIASES.get(s, s)
    if s not in _RANK:
        raise ValidationError(f"Debug.{fn}: unknown level {value!r}: expected one of {', '.join(LEVELS)}")
    return s


@api_class("DebugTimer")
class DebugTimer(ApiObject):
    """A running timer from ``Debug.timer(name)``; times are in milliseconds."""

    api_fields = {"id": "string", "name": "string"}

    def __init__(self, name: str):
        self.id = new_id("timer")
        self.name = name
        self._t0 = time.perf_counter()
        self._stopped: float | None = None
        self.laps: list[tuple[str, float]] = []
        self.events: list[dict[str, Any]] = []

    def _ms(self) -> float:
        end = self._stopped if self._stopped is not None else time.perf_counter()
        return (end - self._t0) * 1000.0

    @expose
    def stop(self) -> float:
        """Stop the timer.

        Returns:
            The elapsed time in milliseconds (stopping again returns the same value).
        """
        if self._stopped is None:
            self._stopped = time.perf_counter()
        return self._ms()

    @expose
    def lap(self, name: str | None = None) -> float:
        """Record a lap.

        Args:
            name: A label for the lap.

        Returns:
            Milliseconds since the timer started.
        """
        ms = self._ms()
        self.laps.append((name or f"lap {len(self.laps) + 1}", ms))
        return ms

    @expose
    def elapsed(self) -> float:
        """Milliseconds since the timer started (up to ``stop`` once stopped).

        Returns:
            The elapsed time in milliseconds.
        """
        return self._ms()

    @property
    def stopped(self) -> bool:
        return self._stopped is not None

    def report(self) -> dict[str, Any]:
        """This timer as plain data (for ``jsonReport``)."""
        return {"id": self.id, "name": self.name, "elapsed_ms": round(self._ms(), 3), "stopped": self.stopped,
                "laps": [{"name": n, "ms": round(ms, 3)} for n, ms in self.laps],
                "events": [dict(e) for e in self.events]}


class DumpOptions(BaseModel):
    """Options of ``Debug.dumpWithOptions`` (rs-llmspell's names and defaults)."""

    model_config = ConfigDict(extra="forbid")
    api_record_name: ClassVar[str] = "DumpOptions"

    max_depth: int = Field(default=10, ge=0, description="Tables nested deeper are shown as {...}.")
    indent_size: int = Field(default=2, ge=0, description="Spaces per nesting level (multi-line mode).")
    max_string_length: int = Field(default=200, ge=0, description="Longer strings are cut and end with '...'.")
    max_array_elements: int = Field(default=50, ge=0,
                                    description="Further array elements are summarised as '... (n more)'.")
    max_table_pairs: int = Field(default=50, ge=0,
                                 description="Further key/value pairs are summarised as '... (n more)'.")
    show_types: bool = Field(default=True, description="Append the Lua type of each scalar, e.g. '42 --[[number]]'.")
    show_addresses: bool = Field(default=False,
                                 description="Prefix tables with an identity tag '<table@0x...>' (of the value as "
                                             "the runtime received it: tables are copied on the way in, so these "
                                             "are not Lua addresses).")
    compact_mode: bool = Field(default=False, description="One line instead of one entry per line.")


_PLAIN = DumpOptions(show_types=False)
_COMPACT = DumpOptions(show_types=False, compact_mode=True)
_VERBOSE = DumpOptions(max_depth=50, max_string_length=10_000, max_array_elements=1000, max_table_pairs=1000,
                       show_types=True)


def _key_repr(k: Any) -> str:
    if isinstance(k, str) and k.isidentifier():
        return k
    return f"[{_scalar(k)}]"


def _lua_type(v: Any) -> str:
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (dict, list, tuple)):
        return "table"
    if isinstance(v, ScriptFunction) or callable(v):
        return "function"
    return "userdata"


def _scalar(v: Any, max_string: int = 200) -> str:
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isfinite(v) and v.is_integer():
            return str(int(v))
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        s = v if len(v) <= max_string else v[:max_string] + "..."
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, ScriptFunction) or callable(v):
        return "<function>"
    if isinstance(v, ApiObject):
        return f"<{v.api_name or type(v).__name__}>"
    return f"<{type(v).__name__}>"


def render(v: Any, opts: DumpOptions, _depth: int = 0) -> str:
    """Lua-looking rendering under ``opts``: ``{ key = value, ... }``; arrays as ``{ 1, 2 }``."""
    if isinstance(v, (dict, list, tuple)):
        tag = f"<table@{id(v):#x}> " if opts.show_addresses else ""
        if _depth >= opts.max_depth:
            return tag + "{...}"
        if not v:
            return tag + "{}"
        if isinstance(v, dict):
            pairs = list(v.items())
            shown = pairs[:opts.max_table_pairs]
            items = [f"{_key_repr(k)} = {render(x, opts, _depth + 1)}" for k, x in shown]
            more = len(pairs) - len(shown)
        else:
            shown_l = list(v)[:opts.max_array_elements]
            items = [render(x, opts, _depth + 1) for x in shown_l]
            more = len(v) - len(shown_l)
        if more > 0:
            items.append(f"... ({more} more)")
        if opts.compact_mode:
            return tag + "{" + ", ".join(items) + "}"
        pad = " " * (opts.indent_size * (_depth + 1))
        end = " " * (opts.indent_size * _depth)
        return tag + "{\n" + ",\n".join(pad + it for it in items) + "\n" + end + "}"
    s = _scalar(v, opts.max_string_length)
    return f"{s} --[[{_lua_type(v)}]]" if opts.show_types else s


def dump_value(v: Any, *, compact: bool = False, indent: int = 2, max_depth: int = 10, _depth: int = 0) -> str:
    """Lua-looking rendering: ``{ key = value, ... }``; arrays as ``{ 1, 2 }`` (no limits on size)."""
    opts = DumpOptions(show_types=False, compact_mode=compact, indent_size=indent, max_depth=max_depth,
                       max_string_length=sys.maxsize, max_array_elements=sys.maxsize, max_table_pairs=sys.maxsize)
    return render(v, opts, _depth)


# ------------------------------------------------------------------------------------------ module filters

FILTER_TYPES = ("exact", "wildcard", "regex", "hierarchical")
_TYPE_RANK = {"exact": 3, "hierarchical": 2, "wildcard": 1, "regex": 1}


@dataclass
class FilterRule:
    """One module filter. ``hierarchical`` matches the module and everything below it (``agent`` matches
    ``agent``, ``agent.llm``, ``agent::llm`` and ``agent/llm``); ``wildcard`` is a glob (``*``, ``?``)
    over the whole module name; ``regex`` is searched in the module name."""

    pattern: str
    pattern_type: str
    enabled: bool
    order: int
    compiled: re.Pattern[str] | None = None

    def matches(self, module: str) -> bool:
        if self.pattern_type == "exact":
            return module == self.pattern
        if self.pattern_type == "wildcard":
            return fnmatch.fnmatchcase(module, self.pattern)
        if self.pattern_type == "regex":
            assert self.compiled is not None
            return self.compiled.search(module) is not None
        p = self.pattern.rstrip(".:/")
        return module == p or any(module.startswith(p + sep) for sep in (".", "::", "/"))

    def specificity(self) -> tuple[int, int, int]:
        return (_TYPE_RANK[self.pattern_type], len(self.pattern), self.order)

    def describe(self) -> str:
        verb = "show" if self.enabled else "hide"
        what = {"exact": f"module '{self.pattern}'",
                "wildcard": f"modules matching '{self.pattern}'",
                "regex": f"modules matching /{self.pattern}/",
                "hierarchical": f"module '{self.pattern}' and its submodules"}[self.pattern_type]
        return f"{verb} {what}"


# ------------------------------------------------------------------------------------------ process figures


def _rss_bytes() -> int | None:
    """Current resident set size (Linux /proc), else None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _peak_rss_bytes() -> int | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _spell_host() -> Any:
    """The engine host of the spell whose call we are serving, found on this thread's Python stack.

    Script calls arrive through the engine's bridge method on the spell's own thread, so one of our
    callers is a method of the host; nothing is found when the global is used outside an engine.
    """
    from llmspell.engines.host import SpellHost

    f = sys._getframe(1)
    while f is not None:
        obj = f.f_locals.get("self")
        if isinstance(obj, SpellHost):
            return obj
        f = f.f_back  # type: ignore[assignment]
    return None


# Compiled and run on each call, from inside a bridge call: lupa runs a chunk on the Lua thread that is
# calling into Python (the spell's coroutine, a coroutine of the spell, or the main thread for callbacks
# the runtime runs), so walking this thread from the helper's caller upward gives the spell's frames. A
# C frame still holding a thread in "normal" state (a resume whose coroutine is the caller) contributes
# that thread's frames first. Frames of the prelude and of this helper (both named [llmspell]) and of C
# functions are left out. Tail calls leave no frame (as in Lua's own tracebacks), and a coroutine's
# stack ends at its function (the code that resumed it is not included, as in Lua).
_LUA_STACK_HELPER = r"""
local getinfo, getlocal, status = debug.getinfo, debug.getlocal, coroutine.status
local PRELUDE = "=[llmspell]"
local function frames_of(th, first, seen)
  local out, level = {}, first
  while true do
    local info
    if th then info = getinfo(th, level, "Slnf") else info = getinfo(level, "Slnf") end
    if not info then return out end
    if info.what == "C" then
      local i = 1
      while true do
        local n, v
        if th then n, v = getlocal(th, level, i) else n, v = getlocal(level, i) end
        if not n then break end
        if type(v) == "thread" and not seen[v] and status(v) == "normal" then
          seen[v] = true
          local inner = frames_of(v, 0, seen)
          for k = #inner, 1, -1 do table.insert(out, 1, inner[k]) end
          break
        end
        i = i + 1
      end
    elseif info.source ~= PRELUDE then
      local src = info.source
      if type(src) == "string" and src:sub(1, 1) == "@" then src = src:sub(2) else src = info.short_src end
      out[#out + 1] = {file = src, line = info.currentline, name = info.name,
                       what = info.what, defined = info.linedefined}
    end
    level = level + 1
  end
end
local seen = {}
seen[coroutine.running()] = true
return frames_of(nil, 2, seen)
"""


def _lua_frames(host: Any) -> list[dict[str, Any]] | None:
    lua = getattr(host, "lua", None)
    if lua is None:
        return None
    # compiled on each call: lupa runs a chunk on the Lua thread that is calling into Python right now,
    # while a function object would keep running on the thread it was created on
    try:
        raw = lua.execute(_LUA_STACK_HELPER, name="=[llmspell]")
    except Exception:
        return None
    frames: list[dict[str, Any]] = []
    for i in range(1, len(raw) + 1):
        t = raw[i]
        frames.append({"file": t["file"], "line": t["line"], "function": t["name"] or
                       ("main chunk" if t["what"] == "main" else f"function <{t['file']}:{t['defined']}>")})
    return frames


def _lua_memory(host: Any) -> int | None:
    lua = getattr(host, "lua", None)
    if lua is None:
        return None
    try:
        kb = lua.eval("collectgarbage('count')")
    except Exception:
        return None
    return int(float(kb) * 1024)


@api_global("Debug")
class DebugGlobal(ApiGlobal):
    """Debugging helpers: levelled messages on the run's stderr (shown in the editor's output), timers,
    captured entries, and readable dumps of values.

    Levels, lowest first: trace, debug, info, warn, error. Messages below the current level (default
    ``info``) are dropped.
    """

    def __init__(self, ctx: Any):
        super().__init__(ctx)
        self._level = "info"
        self._enabled = True
        self._captured: deque[dict[str, Any]] = deque(maxlen=_CAPTURE_LIMIT)
        self._filters: list[FilterRule] = []
        self._filter_order = 0
        self._default_enabled = True
        self._timers: dict[str, DebugTimer] = {}
        self._started = time.perf_counter()
        self._filtered_out = 0

    def _module_enabled(self, module: str | None) -> bool:
        """The most specific matching rule decides (exact, then hierarchical, then wildcard/regex; a longer
        pattern beats a shorter one; the newer of equals wins); no match -> the default."""
        if not self._filters:
            return self._default_enabled
        mod = module or ""
        best: FilterRule | None = None
        for r in self._filters:
            if r.matches(mod) and (best is None or r.specificity() > best.specificity()):
                best = r
        return self._default_enabled if best is None else best.enabled

    def _emit(self, level: str, message: Any, module: Any = None, data: Any = None) -> None:
        if not self._enabled or _RANK[level] < _RANK[self._level]:
            return
        mod = None if module is None else str(module)
        if not self._module_enabled(mod):
            self._filtered_out += 1
            return
        msg = message if isinstance(message, str) else dump_value(message, compact=True)
        now = time.time()
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(now, tz=UTC).isoformat().replace("+00:00", "Z"),
            "level": level,
            "message": msg,
        }
        if mod is not None:
            entry["module"] = mod
        if data is not None:
            entry["metadata"] = data
        self._captured.append(entry)
        line = f"[{level.upper()}]" + (f" [{mod}]" if mod else "") + f" {msg}"
        if data is not None:
            line += " " + dump_value(data, compact=True)
        self.ctx.emit_output("stderr", line + "\n")

    @expose
    def log(self, level: str, message: str, module: str | None = None) -> None:
        """Log a message at a level.

        Args:
            level: trace, debug, info, warn or error.
            message: The text (other values are dumped compactly).
            module: An optional module/component name shown in brackets.
        """
        self._emit(_level(level, "log"), message, module)

    @expose
    def trace(self, message: str, module: str | None = None) -> None:
        """Log at trace level.

        Args:
            message: The text.
            module: An optional module name.
        """
        self._emit("trace", message, module)

    @expose
    def debug(self, message: str, module: str | None = None) -> None:
        """Log at debug level.

        Args:
            message: The text.
            module: An optional module name.
        """
        self._emit("debug", message, module)

    @expose
    def info(self, message: str, module: str | None = None) -> None:
        """Log at info level.

        Args:
            message: The text.
            module: An optional module name.
        """
        self._emit("info", message, module)

    @expose
    def warn(self, message: str, module: str | None = None) -> None:
        """Log at warn level.

        Args:
            message: The text.
            module: An optional module name.
        """
        self._emit("warn", message, module)

    @expose
    def error(self, message: str, module: str | None = None) -> None:
        """Log at error level (this does not raise; use ``error()`` for that).

        Args:
            message: The text.
            module: An optional module name.
        """
        self._emit("error", message, module)

    @expose(lua="logWithData")
    def log_with_data(self, level: str, message: str, data: Any, module: str | None = None) -> None:
        """Log a message with structured data.

        Args:
            level: trace, debug, info, warn or error.
            message: The text.
            data: A table (or any value) shown after the message and kept in captured entries.
            module: An optional module name.
        """
        self._emit(_level(level, "logWithData"), message, module, data)

    @expose
    def timer(self, name: str) -> DebugTimer:
        """Start a timer.

        Args:
            name: A label for the timer.

        Returns:
            A DebugTimer: ``t:stop()``, ``t:lap(name)``, ``t:elapsed()`` (milliseconds), field ``t.id``.
        """
        t = DebugTimer(str(name))
        self._timers[t.id] = t
        return t

    @expose(lua="setLevel")
    def set_level(self, level: str) -> None:
        """Set the lowest level that is shown.

        Args:
            level: trace, debug, info, warn or error.
        """
        self._level = _level(level, "setLevel")

    @expose(lua="getLevel")
    def get_level(self) -> str:
        """The current level.

        Returns:
            trace, debug, info, warn or error.
        """
        return self._level

    @expose(lua="setEnabled")
    def set_enabled(self, enabled: bool) -> None:
        """Turn all Debug output on or off.

        Args:
            enabled: false silences every level.
        """
        self._enabled = bool(enabled)

    @expose(lua="isEnabled")
    def is_enabled(self) -> bool:
        """Whether Debug output is on.

        Returns:
            true when enabled.
        """
        return self._enabled

    @expose(lua="getCapturedEntries")
    def get_captured_entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Messages logged so far in this spell (up to the last 1000).

        Args:
            limit: Return only the most recent ``limit`` entries.

        Returns:
            A list of ``{timestamp, level, message, module?, metadata?}``, oldest first.
        """
        items = list(self._captured)
        if limit is not None and int(limit) >= 0:
            items = items[len(items) - int(limit):] if int(limit) else []
        return items

    @expose(lua="clearCaptured")
    def clear_captured(self) -> None:
        """Forget the captured entries."""
        self._captured.clear()

    @expose
    def dump(self, value: Annotated[Any, Display()], label: str | None = None) -> str:
        """Render a value readably (multi-line, indented); does not print it.

        Args:
            value: Any value.
            label: An optional label written before the value.

        Returns:
            The rendering, e.g. ``{\\n  name = "x",\\n  n = 2\\n}``.
        """
        s = dump_value(value)
        return f"{label}: {s}" if label else s

    @expose(lua="dumpCompact")
    def dump_compact(self, value: Annotated[Any, Display()], label: str | None = None) -> str:
        """Render a value on one line; does not print it.

        Args:
            value: Any value.
            label: An optional label written before the value.

        Returns:
            The rendering, e.g. ``{name = "x", n = 2}``.
        """
        s = dump_value(value, compact=True)
        return f"{label}: {s}" if label else s

    @expose(lua="dumpVerbose")
    def dump_verbose(self, value: Annotated[Any, Display()], label: str | None = None) -> str:
        """Render a value with types and generous limits (depth 50, 1000 entries); does not print it.

        Args:
            value: Any value.
            label: An optional label written before the value.

        Returns:
            The rendering, each scalar followed by its type, e.g. ``n = 2 --[[number]]``.
        """
        s = render(value, _VERBOSE)
        return f"{label}: {s}" if label else s

    @expose(lua="dumpWithOptions")
    def dump_with_options(self, value: Annotated[Any, Display()], options: DumpOptions | None = None,
                          label: str | None = None) -> str:
        """Render a value with explicit limits; does not print it.

        Args:
            value: Any value.
            options: ``{max_depth = 10, indent_size = 2, max_string_length = 200, max_array_elements = 50,
                max_table_pairs = 50, show_types = true, show_addresses = false, compact_mode = false}``
                (omitted keys keep these defaults).
            label: An optional label written before the value.

        Returns:
            The rendering.
        """
        if options is None:
            opts = DumpOptions()
        elif isinstance(options, DumpOptions):
            opts = options
        elif isinstance(options, dict):
            unknown = sorted(str(k) for k in options if k not in DumpOptions.model_fields)
            if unknown:
                raise ValidationError(f"Debug.dumpWithOptions: unknown option(s) {', '.join(unknown)}: expected "
                                      f"{', '.join(DumpOptions.model_fields)}")
            try:
                opts = DumpOptions.model_validate(options)
            except Exception as e:
                raise ValidationError(f"Debug.dumpWithOptions: invalid options: {e}") from None
        else:
            raise ValidationError(f"Debug.dumpWithOptions: expected an options table, got {_lua_type(options)}")
        s = render(value, opts)
        return f"{label}: {s}" if label else s

    # ------------------------------------------------------------------ module filters

    def _add_rule(self, pattern: Any, pattern_type: str, enabled: Any, fn: str) -> bool:
        if not isinstance(pattern, str) or not pattern:
            raise ValidationError(f"Debug.{fn}: expected a non-empty module pattern string, got {pattern!r}")
        compiled = None
        if pattern_type == "regex":
            try:
                compiled = re.compile(pattern)
            except re.error as e:
                raise ValidationError(f"Debug.{fn}: invalid regex {pattern!r}: {e}") from None
        self._filters = [r for r in self._filters if not (r.pattern == pattern and r.pattern_type == pattern_type)]
        self._filter_order += 1
        self._filters.append(FilterRule(pattern, pattern_type, bool(enabled), self._filter_order, compiled))
        return True

    @expose(lua="addModuleFilter")
    def add_module_filter(self, pattern: str, enabled: bool = True) -> bool:
        """Show (``enabled = true``) or hide messages of a module.

        A pattern with ``*`` or ``?`` is a wildcard over the whole module name (``"workflow.*"``); any other
        pattern is hierarchical: ``"agent"`` matches ``agent``, ``agent.llm``, ``agent::llm`` and ``agent/llm``.
        When several rules match, the most specific wins (see ``getFilterSummary``); messages no rule
        matches (including those without a module) follow ``setDefaultFilterEnabled``.

        Args:
            pattern: The module name or pattern.
            enabled: true to show, false to hide.

        Returns:
            true.
        """
        kind = "wildcard" if isinstance(pattern, str) and any(c in pattern for c in "*?[") else "hierarchical"
        return self._add_rule(pattern, kind, enabled, "addModuleFilter")

    @expose(lua="addAdvancedFilter")
    def add_advanced_filter(self, pattern: str, pattern_type: str, enabled: bool = True) -> bool:
        """Add a module filter with an explicit pattern type.

        Args:
            pattern: The pattern.
            pattern_type: ``exact`` (the whole name), ``wildcard`` (glob: ``*``, ``?``), ``regex`` (searched in
                the name) or ``hierarchical`` (the module and its submodules).
            enabled: true to show, false to hide.

        Returns:
            true.
        """
        t = str(pattern_type).strip().lower() if pattern_type is not None else ""
        if t not in FILTER_TYPES:
            raise ValidationError(f"Debug.addAdvancedFilter: unknown pattern type {pattern_type!r}: expected one of "
                                  f"{', '.join(FILTER_TYPES)}")
        return self._add_rule(pattern, t, enabled, "addAdvancedFilter")

    @expose(lua="removeModuleFilter")
    def remove_module_filter(self, pattern: str) -> bool:
        """Remove the rules with this pattern (of any type).

        Args:
            pattern: The pattern given when the rule was added.

        Returns:
            true when a rule was removed.
        """
        before = len(self._filters)
        self._filters = [r for r in self._filters if r.pattern != pattern]
        return len(self._filters) < before

    @expose(lua="clearModuleFilters")
    def clear_module_filters(self) -> None:
        """Remove every module filter (the default stays as set)."""
        self._filters.clear()

    @expose(lua="setDefaultFilterEnabled")
    def set_default_filter_enabled(self, enabled: bool) -> None:
        """Whether messages that no filter matches are shown (default true).

        Args:
            enabled: false shows only modules a filter enables.
        """
        self._default_enabled = bool(enabled)

    @expose(lua="getFilterSummary")
    def get_filter_summary(self) -> dict[str, Any]:
        """The module filters, most specific first (the order in which they decide).

        Returns:
            ``{default_enabled, total_rules, rules = {{pattern, pattern_type, enabled, description}}}``.
        """
        rules = sorted(self._filters, key=lambda r: r.specificity(), reverse=True)
        return {"default_enabled": self._default_enabled, "total_rules": len(rules),
                "rules": [{"pattern": r.pattern, "pattern_type": r.pattern_type, "enabled": r.enabled,
                           "description": r.describe()} for r in rules]}

    # ------------------------------------------------------------------ profiling

    @expose(lua="recordEvent")
    def record_event(self, timer_id: str, name: str, metadata: Any = None) -> bool:
        """Mark a point in time on a timer (shown by ``performanceReport`` and ``jsonReport``).

        Args:
            timer_id: ``t.id`` of a timer from ``Debug.timer``.
            name: The event name.
            metadata: Optional data kept with the event.

        Returns:
            true.
        """
        t = self._timers.get(str(timer_id))
        if t is None:
            raise ValidationError(f"Debug.recordEvent: no timer with id {timer_id!r} in this spell "
                                  "(use the id field of Debug.timer(name))")
        ev: dict[str, Any] = {"name": str(name), "ms": round(t.elapsed(), 3)}
        if metadata is not None:
            ev["metadata"] = metadata
        t.events.append(ev)
        return True

    @expose(lua="memoryStats")
    def memory_stats(self) -> dict[str, Any]:
        """Memory figures measured now.

        Returns:
            ``{used_bytes, allocated_bytes, resident_bytes, collections, source}``: used_bytes is the spell
            interpreter's heap (Lua: ``collectgarbage("count")``; otherwise memory traced by tracemalloc when
            it is on, else the resident size), allocated_bytes the process's peak resident size,
            resident_bytes its current resident size, collections the Python garbage collections so far.
        """
        rss = _rss_bytes()
        peak = _peak_rss_bytes()
        used: int | None = None
        source = "process"
        host = _spell_host()
        if host is not None and getattr(host, "language", "") == "lua":
            used = _lua_memory(host)
            source = "lua" if used is not None else source
        if used is None:
            import tracemalloc

            if tracemalloc.is_tracing():
                used, source = tracemalloc.get_traced_memory()[0], "tracemalloc"
            else:
                used = rss
        return {"used_bytes": used if used is not None else 0,
                "allocated_bytes": peak if peak is not None else (rss or 0),
                "resident_bytes": rss if rss is not None else (peak or 0),
                "collections": sum(int(g.get("collections", 0)) for g in gc.get_stats()),
                "source": source}

    @expose(lua="memorySnapshot")
    def memory_snapshot(self) -> dict[str, Any]:
        """``memoryStats()`` plus when it was taken and what the spell holds.

        Returns:
            ``{timestamp, uptime_ms, active_timers, captured_entries, used_bytes, allocated_bytes,
            resident_bytes, collections, source}``.
        """
        return {"timestamp": datetime.now(tz=UTC).isoformat().replace("+00:00", "Z"),
                "uptime_ms": round((time.perf_counter() - self._started) * 1000, 3),
                "active_timers": sum(1 for t in self._timers.values() if not t.stopped),
                "captured_entries": len(self._captured), **self.memory_stats()}

    def _report_data(self) -> dict[str, Any]:
        return {"uptime_ms": round((time.perf_counter() - self._started) * 1000, 3),
                "timers": [t.report() for t in self._timers.values()],
                "memory": self.memory_stats(),
                "log": {"captured_entries": len(self._captured), "filtered_out": self._filtered_out,
                        "level": self._level, "enabled": self._enabled}}

    @expose(lua="performanceReport")
    def performance_report(self) -> str:
        """A readable report of the timers started in this spell (with laps and recorded events) and memory.

        Returns:
            The report text (not printed).
        """
        d = self._report_data()
        lines = [f"Performance report ({len(d['timers'])} timer(s), spell running {d['uptime_ms']:.1f} ms)"]
        for t in d["timers"]:
            state = "stopped" if t["stopped"] else "running"
            lines.append(f"  {t['name']}: {t['elapsed_ms']:.3f} ms ({state})")
            for lap in t["laps"]:
                lines.append(f"    lap {lap['name']}: {lap['ms']:.3f} ms")
            for ev in t["events"]:
                extra = f" {dump_value(ev['metadata'], compact=True)}" if "metadata" in ev else ""
                lines.append(f"    event {ev['name']} at {ev['ms']:.3f} ms{extra}")
        m = d["memory"]
        lines.append(f"  memory: used {m['used_bytes']} bytes ({m['source']}), resident {m['resident_bytes']} bytes, "
                     f"peak {m['allocated_bytes']} bytes, {m['collections']} GC collections")
        return "\n".join(lines)

    @expose(lua="jsonReport")
    def json_report(self) -> str:
        """The performance report as JSON text.

        Returns:
            ``{"uptime_ms", "timers": [{id, name, elapsed_ms, stopped, laps, events}], "memory": {...},
            "log": {captured_entries, filtered_out, level, enabled}}`` encoded as a string.
        """
        return json.dumps(self._report_data(), default=str)

    @expose(lua="flameGraph")
    def flame_graph(self) -> str:
        """The timers as folded stacks (``timer;lap value`` per line, microseconds), the input format of
        flamegraph.pl / speedscope.

        Returns:
            The folded-stack text (laps are counted from the previous lap).
        """
        out: list[str] = []
        for t in self._timers.values():
            prev = 0.0
            name = t.name.replace(";", ",").replace(" ", "_")
            for lap, ms in t.laps:
                out.append(f"{name};{lap.replace(';', ',').replace(' ', '_')} {max(0, round((ms - prev) * 1000))}")
                prev = ms
            rest = t.elapsed() - prev
            out.append(f"{name} {max(0, round(rest * 1000))}")
        return "\n".join(out)

    # ------------------------------------------------------------------ stack

    def _frames(self) -> list[dict[str, Any]] | None:
        host = _spell_host()
        if host is None or getattr(host, "language", "") != "lua":
            return None
        return _lua_frames(host)

    def _no_stack_reason(self) -> str:
        lang = getattr(self.ctx, "language", "")
        if lang in ("javascript", "js"):
            return ("the JavaScript engine does not expose the caller's frames to the runtime; "
                    "use new Error().stack in the spell")
        return "the spell's stack is not available here (Debug was not called from a running Lua spell)"

    @expose(lua="stackTrace")
    def stack_trace(self, options: dict[str, Any] | None = None) -> str:
        """The spell's current call stack, innermost first (Lua: from the interpreter's debug information).

        Args:
            options: ``{max_depth = 50}``.

        Returns:
            Lua's traceback layout (a ``stack traceback:`` line, then one tab-indented line per frame such as
            ``spell.lua:12: in function 'f'`` ... ``spell.lua:20: in main chunk``), or a line saying why no
            stack is available (JavaScript: use ``new Error().stack``).
        """
        frames = self._frames()
        if frames is None:
            return f"stack traceback unavailable: {self._no_stack_reason()}"
        depth = int((options or {}).get("max_depth", 50)) if isinstance(options, dict) else 50
        lines = ["stack traceback:"]
        for f in frames[:depth]:
            fn = f["function"]
            where = "in main chunk" if fn == "main chunk" else (
                f"in {fn}" if fn.startswith("function <") else f"in function '{fn}'")
            lines.append(f"\t{f['file']}:{f['line']}: {where}")
        return "\n".join(lines)

    @expose(lua="stackTraceJson")
    def stack_trace_json(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """The spell's current call stack as data.

        Args:
            options: ``{max_depth = 50}``.

        Returns:
            ``{available, frames = {{file, line, function}}, reason?}``, innermost frame first.
        """
        frames = self._frames()
        if frames is None:
            return {"available": False, "frames": [], "reason": self._no_stack_reason()}
        depth = int((options or {}).get("max_depth", 50)) if isinstance(options, dict) else 50
        return {"available": True, "frames": frames[:depth]}
