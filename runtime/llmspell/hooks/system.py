"""Firing the system, performance and resource hook points from the places that detect them.

These points are notifications of something the runtime measured (a limit hit, a slow operation, a
heap filling up), so the helpers here are cheap when nobody listens: each is one ``has_hooks``
dict lookup before anything is built. Which results take effect is decided by the caller and
documented at each call site; the helpers only return the aggregate :class:`HookResult`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from llmspell.core.types import ComponentId, HookResult
from llmspell.hooks.results import CONTINUE

RESOURCE_LIMIT = "ResourceLimitExceeded"
PERFORMANCE = "PerformanceThresholdExceeded"


def _hooks(runtime: Any) -> Any:
    """The runtime's hook registry, or None (test doubles without one, or without ``fire``)."""
    hooks = getattr(runtime, "hooks", None)
    if hooks is None or not hasattr(hooks, "has_hooks") or not hasattr(hooks, "fire"):
        return None
    return hooks


async def fire_resource_limit(runtime: Any, component: ComponentId, *, limit: str, value: Any,
                              **extra: Any) -> HookResult:
    """Fire ResourceLimitExceeded with ``{limit, value, ...extra}``.

    The operation that hit the limit is already failing, so a ``cancel`` has nothing left to cancel
    and every result keeps the failure: the point exists so that a hook can log, alert or record.
    """
    hooks = _hooks(runtime)
    if hooks is None or not hooks.has_hooks(RESOURCE_LIMIT):
        return CONTINUE
    result: HookResult = await hooks.fire(RESOURCE_LIMIT, component, {"limit": limit, "value": value, **extra},
                                          operation="resource_limit")
    return result


def fire_resource_limit_soon(runtime: Any, component: ComponentId, *, limit: str, value: Any,
                             **extra: Any) -> None:
    """:func:`fire_resource_limit` from synchronous code (a refusal raised inline): runs as a task."""
    hooks = _hooks(runtime)
    if hooks is None or not hooks.has_hooks(RESOURCE_LIMIT):
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    task = loop.create_task(fire_resource_limit(runtime, component, limit=limit, value=value, **extra))
    hooks._tasks.add(task)
    task.add_done_callback(hooks._tasks.discard)


def slow_threshold_ms(runtime: Any) -> float:
    """``limits.slow_operation_ms`` of the runtime's config (0 when absent or disabled)."""
    try:
        return float(runtime.config.limits.slow_operation_ms or 0.0)
    except AttributeError:
        return 0.0


async def check_slow(runtime: Any, component: ComponentId, duration_ms: float, *, operation: str,
                     **extra: Any) -> HookResult:
    """Fire PerformanceThresholdExceeded when ``duration_ms`` passed ``limits.slow_operation_ms``.

    Data: ``{component, operation, duration_ms, threshold_ms, ...extra}``. The operation has finished
    when this runs, so the result is informational (a hook cannot undo the time spent).
    """
    hooks = _hooks(runtime)
    if hooks is None or not hooks.has_hooks(PERFORMANCE):
        return CONTINUE
    threshold = slow_threshold_ms(runtime)
    if threshold <= 0 or duration_ms <= threshold:
        return CONTINUE
    result: HookResult = await hooks.fire(PERFORMANCE, component, {
        "component": f"{component.type}:{component.name}", "operation": operation,
        "duration_ms": round(duration_ms, 3), "threshold_ms": threshold, **extra,
    }, operation=operation)
    return result
