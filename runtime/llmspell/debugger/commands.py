"""What the debug adapter may send to a debugged run process, as validated plain data.

The adapter (parent) writes one JSON object per line on the run socket; the run process validates
each against these models before anything touches the spell, so a malformed or hostile line is an
error response, never a Python object or code path the adapter did not mean. Values a user types
(``setVariable``) stay strings here and are parsed by :func:`parse_plain_value` into plain Lua values.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_EXPRESSION_CHARS = 10_000

Command = Literal[
    "setBreakpoints", "setExceptionBreakpoints", "continue", "next", "stepIn", "stepOut", "pause",
    "stackTrace", "scopes", "variables", "evaluate", "setVariable", "exceptionInfo",
]


class _Plain(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BreakpointSpec(_Plain):
    id: int
    line: int = Field(ge=1)
    condition: str | None = Field(default=None, max_length=MAX_EXPRESSION_CHARS)
    hit: str | None = Field(default=None, max_length=100)
    log: str | None = Field(default=None, max_length=MAX_EXPRESSION_CHARS)


class FileBreakpoints(_Plain):
    path: str = Field(max_length=4096)
    """Absolute path of the source file (as the editor names it)."""
    breakpoints: list[BreakpointSpec] = Field(default_factory=list, max_length=10_000)


class StopFilters(_Plain):
    """Exception-breakpoint filters: ``error`` (uncaught), ``raised`` (any), and the runtime-aware
    ``hooks`` (hook point names; ``["*"]`` = every point) and ``events`` (event patterns)."""

    error: bool = True
    raised: bool = False
    hooks: list[str] = Field(default_factory=list, max_length=200)
    events: list[str] = Field(default_factory=list, max_length=200)


class DebugInit(_Plain):
    """Sent with the run request: what holds from the spell's first instruction."""

    breakpoints: list[FileBreakpoints] = Field(default_factory=list)
    filters: StopFilters = Field(default_factory=StopFilters)
    stop_on_entry: bool = False


class DebugCommand(_Plain):
    id: int
    command: Command
    arguments: dict[str, Any] = Field(default_factory=dict)


class FrameArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")
    frameId: int


class VariablesArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")
    variablesReference: int


class EvaluateArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")
    expression: str = Field(max_length=MAX_EXPRESSION_CHARS)
    frameId: int | None = None
    context: str | None = None


class SetVariableArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")
    variablesReference: int
    name: str = Field(max_length=1000)
    value: str = Field(max_length=MAX_EXPRESSION_CHARS)


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^[+-]?0[xX][0-9a-fA-F]+$")


def parse_plain_value(text: str) -> tuple[bool, Any]:
    """A value typed into the Variables view: a number, a quoted string, true, false or nil.

    Returns (ok, value); on failure value is the message. Only plain values: no expressions, so
    setting a variable can never run code."""
    s = text.strip()
    if s == "nil":
        return True, None
    if s in ("true", "false"):
        return True, s == "true"
    if _NUMBER.match(s):
        try:
            if s.lower().lstrip("+-").startswith("0x"):
                return True, int(s, 16)
            if re.match(r"^[+-]?\d+$", s):
                return True, int(s)
            return True, float(s)
        except ValueError:
            pass
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        if s[0] == '"':
            try:
                v = json.loads(s)
                if isinstance(v, str):
                    return True, v
            except ValueError:
                pass
        return True, s[1:-1]
    return False, (f"cannot set {text!r}: a value must be a number, a quoted string, true, false or nil "
                   "(expressions are not evaluated)")
