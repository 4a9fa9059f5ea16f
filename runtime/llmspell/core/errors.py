"""The one error hierarchy of the runtime.

Every error a spell can see derives from :class:`LLMSpellError`. Engines map these to script errors
(Lua errors / rejected JS Promises) and add the spell's ``file:line``; messages are written for the
person reading them, so they say what went wrong *and* what was expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class LLMSpellError(Exception):
    """Base class. ``kind`` is the stable category name shown to scripts (``err.kind`` in JS)."""

    kind = "runtime"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None, cause: BaseException | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if cause is not None:
            self.__cause__ = cause

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "type": type(self).__name__, "message": self.message, "details": self.details}


class AgentError(LLMSpellError):
    kind = "agent"


class ToolError(LLMSpellError):
    kind = "tool"


class ToolNotFoundError(ToolError):
    pass


class ValidationError(LLMSpellError):
    """Bad parameters: the message names the parameter and what was expected."""

    kind = "validation"


class WorkflowError(LLMSpellError):
    kind = "workflow"


class HookError(LLMSpellError):
    kind = "hook"


class HookCancelledError(HookError):
    """A hook returned ``cancel``: the operation did not run."""

    def __init__(self, point: str, reason: str):
        super().__init__(f"cancelled by a {point} hook: {reason}", details={"point": point, "reason": reason})
        self.point = point
        self.reason = reason


class EventError(LLMSpellError):
    kind = "event"


class ScriptError(LLMSpellError):
    """An error raised by script code, located at ``file:line``."""

    kind = "script"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        traceback: str | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message, details=details)
        self.file = file
        self.line = line
        self.traceback = traceback


class ConfigurationError(LLMSpellError):
    kind = "configuration"


class ProviderError(LLMSpellError):
    """An LLM provider failed. ``status`` is the HTTP-like status (429, 500, 408 for timeouts)."""

    kind = "provider"

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False, **kw: Any):
        super().__init__(message, **kw)
        self.status = status
        self.retryable = retryable


class SecurityViolationError(LLMSpellError):
    """A policy refused an operation (path outside the sandbox, private address, disallowed program)."""

    kind = "security"


class ResourceLimitError(LLMSpellError):
    """A spell exceeded a limit (wall time, memory, instruction budget, max tool calls)."""

    kind = "resource_limit"


class CancelledError(LLMSpellError):
    """The run (or a workflow) was cancelled on request."""

    kind = "cancelled"


class CircuitOpenError(LLMSpellError):
    kind = "circuit_open"


class StateError(LLMSpellError):
    kind = "state"


def error_text(e: BaseException) -> str:
    """The message a script or an event should show for ``e``: an LLMSpellError's own message (without
    the class name), else ``str(e)``, else the exception's type name (``TimeoutError()`` has no text)."""
    if isinstance(e, LLMSpellError):
        return e.message
    return str(e) or type(e).__name__


def did_you_mean(candidates: Sequence[str]) -> str:
    """``Did you mean 'a' or 'b'?`` for the names a lookup came close to, or ``""`` when there are none.

    One wording for every "unknown name" error (tools, hook points, ...), so scripts and the language
    server see the same suggestion format whatever the registry.
    """
    if not candidates:
        return ""
    return f"Did you mean {' or '.join(repr(c) for c in candidates)}?"
