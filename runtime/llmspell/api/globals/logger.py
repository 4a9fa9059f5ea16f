"""``Logger``: levelled log lines with optional structured data on the run's stderr.

rs-llmspell 0.14 registers ``Logger`` as an empty table (``globals/core.rs``: "TODO"); its API
reference documents ``Logger.info/debug/warn/error(msg, data?)``, which is what this implements,
plus ``trace``, ``log(level, ...)`` and a level threshold.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from llmspell.api.decl import ApiGlobal, api_global, expose
from llmspell.api.globals.debug import LEVELS, dump_value
from llmspell.core.errors import ValidationError

_RANK = {name: i for i, name in enumerate(LEVELS)}
_ALIASES = {"warning": "warn", "err": "error", "information": "info", "fatal": "error"}


def _level(value: Any, fn: str) -> str:
    s = value.strip().lower() if isinstance(value, str) else ""
    s = _ALIASES.get(s, s)
    if s not in _RANK:
        raise ValidationError(f"Logger.{fn}: unknown level {value!r}: expected one of {', '.join(LEVELS)}")
    return s


@api_global("Logger")
class LoggerGlobal(ApiGlobal):
    """Log lines on the run's stderr (the editor's output panel; ``--run`` prints them), each
    ``[LEVEL] message {"data":"as compact JSON"}``. Levels, lowest first: trace, debug, info, warn,
    error; lines below the threshold (default ``info``) are dropped.
    """

    def __init__(self, ctx: Any):
        super().__init__(ctx)
        self._level = "info"
        self.lines = 0

    def _emit(self, level: str, message: Any, data: Any, fn: str) -> None:
        if _RANK[level] < _RANK[self._level]:
            return
        if message is None:
            raise ValidationError(f"Logger.{fn}: missing the message (Logger.{fn}(message, data?))")
        msg = message if isinstance(message, str) else dump_value(message, compact=True)
        line = f"[{level.upper()}] {msg}"
        if data is not None:
            line += " " + json.dumps(data, ensure_ascii=False, default=str, separators=(",", ":"), sort_keys=True)
        self.lines += 1
        self.ctx.emit_output("stderr", line + "\n")

    @expose
    def info(self, message: str, data: dict[str, Any] | None = None) -> None:
        """Log at info level.

        Args:
            message: The text (other values are shown compactly).
            data: Optional table shown after the message.
        """
        self._emit("info", message, data, "info")

    @expose
    def debug(self, message: str, data: dict[str, Any] | None = None) -> None:
        """Log at debug level (dropped unless ``Logger.set_level("debug")``).

        Args:
            message: The text.
            data: Optional table shown after the message.
        """
        self._emit("debug", message, data, "debug")

    @expose
    def trace(self, message: str, data: dict[str, Any] | None = None) -> None:
        """Log at trace level (dropped unless ``Logger.set_level("trace")``).

        Args:
            message: The text.
            data: Optional table shown after the message.
        """
        self._emit("trace", message, data, "trace")

    @expose
    def warn(self, message: str, data: dict[str, Any] | None = None) -> None:
        """Log at warn level.

        Args:
            message: The text.
            data: Optional table shown after the message.
        """
        self._emit("warn", message, data, "warn")

    @expose
    def error(self, message: str, data: dict[str, Any] | None = None) -> None:
        """Log at error level (this does not raise; use ``error()`` for that).

        Args:
            message: The text.
            data: Optional table shown after the message.
        """
        self._emit("error", message, data, "error")

    @expose
    def log(self, level: str, message: str, data: dict[str, Any] | None = None) -> None:
        """Log at a level given by name.

        Args:
            level: trace, debug, info, warn or error.
            message: The text.
            data: Optional table shown after the message.
        """
        self._emit(_level(level, "log"), message, data, "log")

    @expose
    def set_level(self, level: str) -> None:
        """Drop lines below a level from now on.

        Args:
            level: trace, debug, info, warn or error.
        """
        self._level = _level(level, "set_level")

    @expose
    def get_level(self) -> str:
        """The current threshold.

        Returns:
            trace, debug, info, warn or error.
        """
        return self._level

    @expose
    def timestamp(self) -> str:
        """The current time as an RFC 3339 string (UTC), for log records a spell builds itself.

        Returns:
            e.g. ``"2026-01-02T03:04:05.678Z"``.
        """
        return datetime.now(tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
