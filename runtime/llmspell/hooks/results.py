"""Converting what a hook returns into a :class:`HookResult`, and the context a script hook sees.

The conversion follows rs-llmspell's Lua adapter (API notes §4.3) so hooks written for it behave the
same here: ``"continue"``; ``"skip"``/``"skipped"``; any other string cancels with that string as the
reason; a table with ``type`` = modified/cancel/redirect/replace/retry/skipped; anything else continues.
"""

from __future__ import annotations

from typing import Any

from llmspell.core.errors import HookError
from llmspell.core.types import HookContext, HookResult

CONTINUE = HookResult.model_construct(kind="continue", data=None, reason=None, target=None, delay_ms=1000,
                                      max_attempts=3)
"""The shared ``continue`` result; treat it as read-only."""


def _result(kind: str, data: Any = None, reason: str | None = None, target: str | None = None,
            delay_ms: int = 1000, max_attempts: int = 3) -> HookResult:
    return HookResult.model_construct(kind=kind, data=data, reason=reason, target=target, delay_ms=delay_ms,
                                      max_attempts=max_attempts)


def to_hook_result(value: Any, *, point: str = "") -> HookResult:
    """Interpret a hook's return value (Python or already-converted script value)."""
    if value is None:
        return CONTINUE
    if isinstance(value, HookResult):
        return value
    if isinstance(value, str):
        if value == "continue":
            return CONTINUE
        if value in ("skip", "skipped"):
            return _result("skipped", reason="Skipped by hook")
        return _result("cancel", reason=value)
    if isinstance(value, dict):
        kind = value.get("type")
        if kind == "modified":
            return _result("modified", data=value.get("data"))
        if kind == "cancel":
            return _result("cancel", reason=str(value.get("reason") or "cancelled"))
        if kind == "redirect":
            target = value.get("target")
            if not isinstance(target, str) or not target:
                raise HookError(
                    f"a {point or 'hook'} hook returned {{type='redirect'}} without 'target': "
                    "add target = '<name>' to the returned table"
                )
            return _result("redirect", target=target, data=value.get("data"))
        if kind == "replace":
            return _result("replace", data=value.get("data"))
        if kind == "retry":
            return _result(
                "retry",
                delay_ms=_as_int(value.get("delay_ms"), 1000),
                max_attempts=_as_int(value.get("max_attempts"), 3),
                reason=value.get("reason"),
            )
        if kind in ("skipped", "skip"):
            return _result("skipped", reason=str(value.get("reason") or "Skipped by hook"))
        return CONTINUE
    return CONTINUE


def _as_int(v: Any, default: int) -> int:
    if isinstance(v, bool) or v is None:
        return default
    try:
        return max(0, int(v))
    except (TypeError, ValueError):
        return default


def context_table(ctx: HookContext) -> dict[str, Any]:
    """The table a script hook receives (rs-llmspell's ``hook_context_to_lua_table``, §4.2)."""
    return {
        "point": ctx.point,
        "correlation_id": ctx.correlation_id,
        "component_id": {"type": ctx.component_id.type, "name": ctx.component_id.name},
        "language": ctx.language,
        "metadata": dict(ctx.metadata),
        "data": ctx.data,
        "operation": ctx.operation,
        "timestamp": ctx.timestamp,
    }
