"""``Debug``: levelled logging to the run's stderr, timers, captured entries and value dumps."""

from __future__ import annotations

import math
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from llmspell.api.decl import ApiGlobal, ApiObject, ScriptFunction, api_class, api_global, expose
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


def _key_repr(k: Any) -> str:
    if isinstance(k, str) and k.isidentifier():
        return k
    return f"[{_scalar(k)}]"


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


def dump_value(v: Any, *, compact: bool = False, indent: int = 2, max_depth: int = 10, _depth: int = 0) -> str:
    """Lua-looking rendering: ``{ key = value, ... }``; arrays as ``{ 1, 2 }``."""
    if isinstance(v, (dict, list, tuple)):
        if _depth >= max_depth:
            return "{...}"
        if not v:
            return "{}"

        def sub(x: Any) -> str:
            return dump_value(x, compact=compact, indent=indent, max_depth=max_depth, _depth=_depth + 1)

        if isinstance(v, dict):
            items = [f"{_key_repr(k)} = {sub(x)}" for k, x in v.items()]
        else:
            items = [sub(x) for x in v]
        if compact:
            return "{" + ", ".join(items) + "}"
        pad = " " * (indent * (_depth + 1))
        end = " " * (indent * _depth)
        return "{\n" + ",\n".join(pad + it for it in items) + "\n" + end + "}"
    return _scalar(v)


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

    def _emit(self, level: str, message: Any, module: Any = None, data: Any = None) -> None:
        if not self._enabled or _RANK[level] < _RANK[self._level]:
            return
        msg = message if isinstance(message, str) else dump_value(message, compact=True)
        mod = None if module is None else str(module)
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
        return DebugTimer(str(name))

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
    def dump(self, value: Any, label: str | None = None) -> str:
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
    def dump_compact(self, value: Any, label: str | None = None) -> str:
        """Render a value on one line; does not print it.

        Args:
            value: Any value.
            label: An optional label written before the value.

        Returns:
            The rendering, e.g. ``{name = "x", n = 2}``.
        """
        s = dump_value(value, compact=True)
        return f"{label}: {s}" if label else s
