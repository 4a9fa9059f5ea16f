"""The run stream: what happens while a spell runs, as one pydantic union.

The CLI (``--run``, ``--json``) and the language server (``llmspell/*`` notifications) are two thin
renderers of the same stream, so both show exactly the same facts.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from llmspell.core.types import Usage


class _Msg(BaseModel):
    run_id: str
    seq: int = 0
    timestamp: float = Field(default_factory=time.time)


class Started(_Msg):
    type: Literal["started"] = "started"
    file: str
    language: Literal["lua", "javascript"]
    args: list[str] = Field(default_factory=list)


class Output(_Msg):
    type: Literal["output"] = "output"
    stream: Literal["stdout", "stderr"] = "stdout"
    text: str


class EventMessage(_Msg):
    type: Literal["event"] = "event"
    event_type: str
    data: Any = None
    sequence: int = 0
    correlation_id: str | None = None
    source: str | None = None


class HookResultMessage(_Msg):
    type: Literal["hookResult"] = "hookResult"
    point: str
    hook: str
    """A readable name: where a script hook was written (``spell.lua:12``), else its registered name."""
    hook_id: str = ""
    language: str = "python"
    component: str = ""
    result: str
    reason: str | None = None
    duration_us: float = 0.0


class Progress(_Msg):
    type: Literal["progress"] = "progress"
    message: str
    percentage: int | None = None


class ErrorInfo(BaseModel):
    message: str
    kind: str = "runtime"
    file: str | None = None
    line: int | None = None
    column: int | None = None
    traceback: str | None = None


RunStatus = Literal["success", "error", "cancelled", "timeout", "limit"]


class Finished(_Msg):
    type: Literal["finished"] = "finished"
    status: RunStatus
    exit_code: int = 0
    result: Any = None
    error: ErrorInfo | None = None
    duration_ms: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = None


class Spans(_Msg):
    """Finished OpenTelemetry spans of a traced run, each in the OTLP JSON encoding (see
    :mod:`llmspell.tracing`). Only traced runs send them; renderers that do not trace ignore them."""

    type: Literal["spans"] = "spans"
    spans: list[dict[str, Any]] = Field(default_factory=list)


class DebugMessage(_Msg):
    """Debugger traffic of a debugged run (``stopped``, ``continued``, ``response``, ``output``); only
    runs started with ``debug=`` produce it, and only the debug adapter reads it."""

    type: Literal["debug"] = "debug"
    event: str
    body: dict[str, Any] = Field(default_factory=dict)


RunMessage = Annotated[
    Started | Output | EventMessage | HookResultMessage | Progress | Spans | DebugMessage | Finished,
    Field(discriminator="type"),
]
RUN_MESSAGE_ADAPTER: TypeAdapter[RunMessage] = TypeAdapter(RunMessage)
