"""Debug Adapter Protocol messages (the subset llmspell-ls speaks), as pydantic models.

DAP's base protocol frames JSON with ``Content-Length`` headers like LSP, but the messages are not
JSON-RPC: every message has ``seq`` and ``type`` (``request`` / ``response`` / ``event``). Requests
carry ``command`` and ``arguments``; responses echo ``request_seq`` and ``command`` with ``success``.
Argument models validate exactly what the session reads, so a malformed request gets an error
response naming the field instead of a crash deep inside the session.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ProtocolMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    seq: int
    type: str


class Request(ProtocolMessage):
    type: Literal["request"] = "request"
    command: str
    arguments: dict[str, Any] | None = None


class Response(ProtocolMessage):
    type: Literal["response"] = "response"
    request_seq: int
    success: bool
    command: str
    message: str | None = None
    body: Any = None


class Event(ProtocolMessage):
    type: Literal["event"] = "event"
    event: str
    body: Any = None


class _Args(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class LaunchArguments(_Args):
    """What a launch configuration may say (see /docs and the contract in ARCHITECTURE)."""

    program: str
    args: list[str] = Field(default_factory=list)
    cwd: str | None = None
    stopOnEntry: bool = False
    workspace: str | None = None
    model: str | None = None
    noDebug: bool = False


class Source(_Args):
    path: str | None = None
    name: str | None = None


class SourceBreakpoint(_Args):
    line: int
    column: int | None = None
    condition: str | None = None
    hitCondition: str | None = None
    logMessage: str | None = None


class SetBreakpointsArguments(_Args):
    source: Source
    breakpoints: list[SourceBreakpoint] = Field(default_factory=list)
    lines: list[int] | None = None


class ExceptionFilterOptions(_Args):
    filterId: str
    condition: str | None = None


class SetExceptionBreakpointsArguments(_Args):
    filters: list[str] = Field(default_factory=list)
    filterOptions: list[ExceptionFilterOptions] = Field(default_factory=list)


EXCEPTION_FILTERS: list[dict[str, Any]] = [
    {"filter": "error", "label": "Uncaught errors", "default": True,
     "description": "Stop where an error that nothing catches is raised (the spell would end with it)."},
    {"filter": "raised", "label": "All errors", "default": False,
     "description": "Stop where any error is raised, also one a pcall catches."},
    {"filter": "hook", "label": "Hook points", "default": False, "supportsCondition": True,
     "conditionDescription": "hook point names, comma-separated (e.g. BeforeToolExecution); empty = every point",
     "description": "Stop when the runtime reaches a hook point, showing the hook context."},
    {"filter": "event", "label": "Events", "default": False, "supportsCondition": True,
     "conditionDescription": "event patterns, comma-separated (e.g. agent.*); empty = every event",
     "description": "Stop when an event matching a pattern is published, showing its data."},
]


CAPABILITIES: dict[str, Any] = {
    "supportsConfigurationDoneRequest": True,
    "supportsConditionalBreakpoints": True,
    "supportsHitConditionalBreakpoints": True,
    "supportsLogPoints": True,
    "supportsEvaluateForHovers": True,
    "supportsSetVariable": True,
    "supportsTerminateRequest": True,
    "supportsExceptionInfoRequest": True,
    "supportsExceptionFilterOptions": True,
    "exceptionBreakpointFilters": EXCEPTION_FILTERS,
    "supportsDelayedStackTraceLoading": False,
    "supportsSteppingGranularity": False,
    "supportsRestartRequest": False,
}
