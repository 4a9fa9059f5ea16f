"""The hook registry: registration, ordered execution, observation, and the shared lifecycle helper.

Every registry in the runtime (tools, agents, workflows, state) runs its operations through
:meth:`HookRegistry.around`, so a hook at a Before*/After*/Error point really changes what happens:
``modified`` rewrites the input or output, ``cancel`` aborts with :class:`HookCancelledError`,
``skipped``/``replace`` short-circuit the operation, ``retry`` re-runs it, ``redirect`` hands it to
another component when the caller supports that.

Costs matter because every tool call and agent step passes through here: with no hook registered
for a point, :meth:`execute` is a dict lookup and returns the shared :data:`CONTINUE`; ``around``
with no hooks on its three points just awaits the operation.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import difflib
import inspect
import itertools
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from llmspell.api.decl import ScriptFunction
from llmspell.core.errors import HookCancelledError, HookError, did_you_mean
from llmspell.core.types import (
    CUSTOM_HOOK_PREFIX,
    HOOK_POINT_NAMES,
    ComponentId,
    HookContext,
    HookResult,
    Priority,
    new_id,
)
from llmspell.hooks.results import CONTINUE, context_table, to_hook_result

if TYPE_CHECKING:
    from llmspell.events.bus import EventBus

log = logging.getLogger("llmspell.hooks")

_perf = time.perf_counter
_POINTS = frozenset(HOOK_POINT_NAMES)
_PRIORITY_NAMES = {p.name.lower(): int(p.value) for p in Priority}
_EMIT_POINTS = ("BeforeEventEmit", "AfterEventEmit")
_NO_EVENT_POINTS = frozenset(("BeforeEventEmit", "AfterEventEmit", "EventHandlerError"))

ScopeObserver = Callable[[str, ComponentId, dict[str, Any]], contextlib.AbstractContextManager[Any] | None]
"""``fn(kind, component, info)`` -> a context manager entered around one operation (see
:meth:`HookRegistry.add_scope_observer`)."""

HookMode = Literal["sync", "background"]
HookFn = Callable[[HookContext], Any]


@dataclass(slots=True)
class HookExecution:
    """One hook run, as observers and the editor see it (``result`` is a HookResult kind or ``error``)."""

    point: str
    hook: str
    hook_id: str
    language: str
    component: str
    result: str
    reason: str | None
    duration_us: float
    timestamp: float
    correlation_id: str = ""
    mode: str = "sync"
    location: str = ""
    """Where a script hook was written (``spell.lua:12``), when the engine knows it."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class HookHandle:
    """What ``register`` returns: keeps the id and point, and can unregister the hook."""

    __slots__ = ("_registry", "id", "name", "point")

    def __init__(self, registry: HookRegistry, hook_id: str, point: str, name: str):
        self._registry = registry
        self.id = hook_id
        self.point = point
        self.name = name

    @property
    def active(self) -> bool:
        return self.id in self._registry._entries

    def unregister(self) -> bool:
        return self._registry.unregister(self.id)

    def __repr__(self) -> str:
        return f"HookHandle({self.point}, {self.name}, active={self.active})"


@dataclass(slots=True)
class _Entry:
    id: str
    point: str
    fn: Any
    priority: int
    order: int
    mode: str
    name: str
    language: str
    tags: tuple[str, ...]
    is_script: bool
    is_async: bool
    description: str
    version: str = "1.0.0"
    calls: int = 0
    errors: int = 0


def parse_priority(priority: int | str | Priority | None) -> int:
    """``highest|high|normal|low|lowest`` (any case), an int, or a numeric string; unknown names -> normal.

    rs-llmspell maps unknown names to normal too, so spells written for it keep working.
    """
    if priority is None:
        return 0
    if isinstance(priority, bool):
        return 0
    if isinstance(priority, int):
        return int(priority)
    if isinstance(priority, float):
        return int(priority)
    s = str(priority).strip().lower()
    if s in _PRIORITY_NAMES:
        return _PRIORITY_NAMES[s]
    if s.startswith("priority(") and s.endswith(")"):
        s = s[9:-1]
    try:
        return int(s)
    except ValueError:
        return 0


def validate_point(point: Any) -> str:
    """Return ``point`` if it names a hook point, else raise HookError with a suggestion."""
    if isinstance(point, str):
        if point in _POINTS:
            return point
        if point.startswith(CUSTOM_HOOK_PREFIX) and len(point) > len(CUSTOM_HOOK_PREFIX):
            return point
    raise HookError(f"Unknown hook point: {point}{_suggest(point)}", details={"point": str(point)})


def _suggest(point: Any) -> str:
    if not isinstance(point, str) or not point:
        return ". Expected one of the 43 hook points (e.g. BeforeToolExecution) or 'Custom:<name>'"
    folded = point.replace("_", "").replace("-", "").lower()
    for name in HOOK_POINT_NAMES:
        if name.lower() == folded:
            return ". " + did_you_mean([name])
    if folded.startswith("custom"):
        return f". Custom points are written 'Custom:<name>', e.g. 'Custom:{point[6:].strip(':()_') or 'my_point'}'"
    close = difflib.get_close_matches(point, HOOK_POINT_NAMES, n=3, cutoff=0.6)
    if close:
        return ". " + did_you_mean(close)
    return ". Expected one of the 43 hook points (e.g. BeforeToolExecution) or 'Custom:<name>'"


def _component_str(c: ComponentId) -> str:
    return f"{c.type}:{c.name}"


def _as_data(v: Any) -> dict[str, Any]:
    """Hook data that is not a table (``{type='replace', data='text'}``) arrives as ``{'value': v}``."""
    if isinstance(v, dict):
        return v
    if v is None:
        return {}
    return {"value": v}


class HookRegistry:
    """All hooks of one runtime, by point, in priority order (lower runs first, then registration order)."""

    def __init__(self, events: EventBus | None = None, *, recent_limit: int = 1000):
        self._events = events
        self._entries: dict[str, _Entry] = {}
        self._points: dict[str, tuple[_Entry, ...]] = {}
        self._lock = threading.Lock()
        self._order = itertools.count()
        self._observers: list[Callable[[HookExecution], Any]] = []
        self._scope_observers: list[ScopeObserver] = []
        self._recent: deque[HookExecution] = deque(maxlen=recent_limit)
        self._tasks: set[asyncio.Future[Any]] = set()
        self.sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
        """How ``around`` waits between retries (tests replace it)."""
        self.executions = 0
        self.errors = 0
        if events is not None:
            events._hooks = self

    # ------------------------------------------------------------------------------------ registration

    def register(
        self,
        point: str,
        hook: HookFn | ScriptFunction,
        *,
        priority: int | str = "normal",
        mode: HookMode = "sync",
        name: str | None = None,
        language: str | None = None,
        tags: tuple[str, ...] | list[str] = (),
        description: str | None = None,
    ) -> HookHandle:
        """Register ``hook`` at ``point``.

        ``hook`` is a Python callable (sync or async) taking a :class:`HookContext`, or a script
        function (it receives the context as a table). It returns a HookResult, a result table, a
        string or nothing (= continue), per rs-llmspell's rules. ``mode="background"`` hooks run as
        tasks and never change the outcome.
        """
        point = validate_point(point)
        if mode not in ("sync", "background"):
            raise HookError(f"hook mode must be 'sync' or 'background', got {mode!r}")
        if not callable(hook):
            raise HookError(f"a hook for {point} must be a function, got {type(hook).__name__}")
        is_script = isinstance(hook, ScriptFunction)
        lang = language or (hook.language if isinstance(hook, ScriptFunction) else "python")
        hid = new_id()
        entry = _Entry(
            id=hid,
            point=point,
            fn=hook,
            priority=parse_priority(priority),
            order=next(self._order),
            mode=mode,
            name=name or f"{lang}_{hid}",
            language=lang,
            tags=tuple(dict.fromkeys(("cross-language", lang, *tags))) if is_script else tuple(tags),
            is_script=is_script,
            is_async=(not is_script) and _is_async(hook),
            description=description or f"{lang} hook for {point}",
        )
        with self._lock:
            entries = dict(self._entries)
            entries[hid] = entry
            self._entries = entries
            self._rebuild(point)
        return HookHandle(self, hid, point, entry.name)

    def unregister(self, handle_or_id: HookHandle | str | Any) -> bool:
        """Remove a hook by handle or id; False when it is not (or no longer) registered."""
        hid = handle_or_id.id if isinstance(handle_or_id, HookHandle) else handle_or_id
        if not isinstance(hid, str):
            return False
        with self._lock:
            if hid not in self._entries:
                return False
            entries = dict(self._entries)
            entry = entries.pop(hid)
            self._entries = entries
            self._rebuild(entry.point)
        return True

    def clear(self) -> None:
        with self._lock:
            self._entries = {}
            self._points = {}
            self._sync_bus()

    def _rebuild(self, point: str) -> None:
        """Recompute one point's chain. Dicts are replaced, never mutated, so registering from a spell
        thread cannot disturb a chain the loop is iterating (callers hold ``_lock``)."""
        chain = sorted((e for e in self._entries.values() if e.point == point), key=lambda e: (e.priority, e.order))
        points = dict(self._points)
        if chain:
            points[point] = tuple(chain)
        else:
            points.pop(point, None)
        self._points = points
        self._sync_bus()

    def _sync_bus(self) -> None:
        if self._events is not None:
            self._events._emit_hooks = any(p in self._points for p in _EMIT_POINTS)

    def has_hooks(self, point: str) -> bool:
        return point in self._points

    def list(self, filter: str | dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Registered hooks in execution order, in rs-llmspell's shape plus ``point``/``id``/``mode``.

        ``filter``: nothing, a point name, or ``{hook_point?, language?, priority?, tag?}`` (tag matches
        by substring, as in rs-llmspell).
        """
        point_f = lang_f = tag_f = None
        prio_f: int | None = None
        if isinstance(filter, str):
            point_f = filter
        elif isinstance(filter, dict):
            point_f = filter.get("hook_point") or filter.get("point")
            lang_f = filter.get("language")
            if filter.get("priority") is not None:
                prio_f = parse_priority(filter["priority"])
            tag_f = filter.get("tag")
        out = []
        entries = sorted(self._entries.values(), key=lambda e: (e.priority, e.order))
        for e in entries:
            if point_f and e.point != point_f:
                continue
            if lang_f and e.language != lang_f:
                continue
            if prio_f is not None and e.priority != prio_f:
                continue
            if tag_f and not any(tag_f in t for t in e.tags):
                continue
            out.append({
                "id": e.id,
                "name": e.name,
                "point": e.point,
                "priority": f"Priority({e.priority})",
                "priority_value": e.priority,
                "language": e.language,
                "version": e.version,
                "description": e.description,
                "tags": list(e.tags),
                "mode": e.mode,
                "calls": e.calls,
                "errors": e.errors,
            })
        return out

    # ------------------------------------------------------------------------------------ observation

    def add_observer(self, fn: Callable[[HookExecution], Any]) -> Callable[[], None]:
        """Call ``fn(execution)`` synchronously after every hook run; returns a function that removes it."""
        self._observers.append(fn)

        def remove() -> None:
            self.remove_observer(fn)

        return remove

    def remove_observer(self, fn: Callable[[HookExecution], Any]) -> None:
        try:
            self._observers.remove(fn)
        except ValueError:
            pass

    def add_scope_observer(self, fn: ScopeObserver) -> Callable[[], None]:
        """Watch the runtime's operations as scopes (how tracing sees a run; see :data:`ScopeObserver`).

        ``fn(kind, component, info)`` is called when an operation starts, in the task that runs it;
        it returns a context manager (or None) that is entered around the whole operation, hooks
        included, and told the outcome: ``result(value)`` when it has one, ``__exit__`` with the
        exception otherwise. Kinds: the ``before`` point of :meth:`around` (BeforeAgentExecution,
        BeforeToolExecution, BeforeWorkflowStage, ...) and the names passed to :meth:`scoped`
        (``workflow``, ``chat``). Returns a function that removes the observer."""
        self._scope_observers.append(fn)

        def remove() -> None:
            try:
                self._scope_observers.remove(fn)
            except ValueError:
                pass

        return remove

    async def scoped(self, kind: str, component: ComponentId, info: dict[str, Any],
                     operation: Callable[[], Awaitable[Any]]) -> Any:
        """Await ``operation()`` inside the scopes of the scope observers (just awaits it when none)."""
        observers = self._scope_observers
        if not observers:
            return await operation()
        with contextlib.ExitStack() as stack:
            scopes = []
            for fn in list(observers):
                try:
                    cm = fn(kind, component, info)
                    if cm is not None:
                        scopes.append(stack.enter_context(cm))
                except Exception:  # an observer must never break the operation
                    log.exception("scope observer failed")
            out = await operation()
            for sc in scopes:
                report = getattr(sc, "result", None)
                if report is not None:
                    try:
                        report(out)
                    except Exception:
                        log.exception("scope observer failed")
            return out

    def recent(self, limit: int | None = None) -> builtins.list[HookExecution]:
        """The most recent hook runs, oldest first (bounded)."""
        items = list(self._recent)
        return items[-limit:] if limit else items

    def _observe(self, e: _Entry, ctx: HookContext, kind: str, reason: str | None, t0: float) -> None:
        obs = HookExecution(
            ctx.point, e.name, e.id, e.language, _component_str(ctx.component_id), kind, reason,
            (_perf() - t0) * 1e6, time.time(), ctx.correlation_id, e.mode,
            getattr(e.fn, "defined_at", "") or "",
        )
        self._recent.append(obs)
        for fn in self._observers:
            try:
                fn(obs)
            except Exception:  # an observer must never break a hook chain
                log.exception("hook observer failed")
        ev = self._events
        if (ev is not None and ctx.point not in _NO_EVENT_POINTS
                and ev.has_subscribers("hook.executed", ignore_catch_all=True)):
            ev.publish_nowait(
                "hook.executed",
                {"point": ctx.point, "hook": e.name, "hook_id": e.id, "result": kind, "reason": reason,
                 "component": obs.component, "duration_us": obs.duration_us},
                correlation_id=ctx.correlation_id or None, source="hooks",
            )

    # ------------------------------------------------------------------------------------ execution

    async def _run(self, e: _Entry, ctx: HookContext) -> HookResult:
        t0 = _perf()
        e.calls += 1
        self.executions += 1
        try:
            if e.is_script:
                res = to_hook_result(await e.fn(context_table(ctx)), point=ctx.point)
            else:
                r = e.fn(ctx)
                if e.is_async or inspect.isawaitable(r):
                    r = await r
                res = r if type(r) is HookResult else to_hook_result(r, point=ctx.point)
        except HookCancelledError as exc:
            res = HookResult.model_construct(kind="cancel", data=None, reason=exc.reason, target=None,
                                             delay_ms=1000, max_attempts=3)
        except Exception as exc:
            e.errors += 1
            self.errors += 1
            log.warning("hook %s at %s failed: %s", e.name, ctx.point, exc)
            self._observe(e, ctx, "error", f"{type(exc).__name__}: {exc}", t0)
            return CONTINUE
        self._observe(e, ctx, res.kind, res.reason, t0)
        return res

    async def execute(self, ctx: HookContext) -> HookResult:
        """Run the hooks of ``ctx.point`` in priority order and return the aggregate result.

        ``modified`` replaces ``ctx.data`` for later hooks and is returned unless a later hook stops
        the chain; the first cancel/redirect/replace/retry/skipped stops it and is returned. A hook
        that raises is observed as ``error`` and counts as continue.
        """
        entries = self._points.get(ctx.point)
        if not entries:
            return CONTINUE
        agg = CONTINUE
        for e in entries:
            if e.mode == "background":
                self._spawn(e, ctx.model_copy(deep=False))
                continue
            res = await self._run(e, ctx)
            kind = res.kind
            if kind == "continue":
                continue
            if kind == "modified":
                ctx.data = _as_data(res.data)
                agg = res
                continue
            return res
        return agg

    def _spawn(self, e: _Entry, ctx: HookContext) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        t = loop.create_task(self._run(e, ctx))
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait for background hooks still running (tests, shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)

    async def fire(self, point: str, component: ComponentId, data: dict[str, Any] | None = None, *,
                   operation: str | None = None, correlation_id: str | None = None) -> HookResult:
        """Run a notification-style point (SystemStartup, WorkflowCheckpoint...) when it has hooks."""
        if point not in self._points:
            return CONTINUE
        return await self.execute(HookContext(point=point, component_id=component, data=data or {},
                                              operation=operation, correlation_id=correlation_id or new_id()))

    # ------------------------------------------------------------------------------------ lifecycle helper

    async def around(
        self,
        *,
        before: str,
        after: str,
        error: str | None,
        component: ComponentId,
        data: dict[str, Any],
        operation: Callable[[dict[str, Any]], Awaitable[Any]],
        to_data: Callable[[Any], dict[str, Any]],
        from_data: Callable[[dict[str, Any]], Any],
        operation_name: str | None = None,
        redirect: Callable[[str, dict[str, Any]], Awaitable[Any]] | None = None,
        correlation_id: str | None = None,
        scope_info: dict[str, Any] | None = None,
    ) -> Any:
        """Run ``operation(data)`` between the ``before``, ``after`` and ``error`` hook points.

        Before: continue -> run; modified -> run with the modified data; cancel -> HookCancelledError;
        skipped -> ``from_data({})`` without running; replace -> ``from_data(result data)`` without
        running; redirect -> ``redirect(target, data)`` (HookError when the caller gave none);
        retry -> wait ``delay_ms`` then run.
        Error (the operation raised): hooks see ``data + {error, error_type, attempt}``; retry -> wait
        and run again while attempts < ``max_attempts``; replace -> recovered with ``from_data(data)``;
        redirect -> recovered through ``redirect`` (a fallback); anything else re-raises.
        After: hooks see ``to_data(output)``; modified/replace -> ``from_data(new data)``; cancel ->
        HookCancelledError; retry -> run the operation again (e.g. an output validator rejecting an
        answer) up to ``max_attempts``; redirect -> ``redirect(target, data)``.
        Non-table hook data arrives as ``{"value": x}``.
        Scope observers see the whole of it as one scope of kind ``before`` (``data`` plus
        ``scope_info``, which hooks never see: a tool call id, an agent id).
        """
        if self._scope_observers:
            info = {**data, **scope_info} if scope_info else data
            return await self.scoped(before, component, info, lambda: self._around(
                before, after, error, component, data, operation, to_data, from_data, operation_name,
                redirect, correlation_id))
        return await self._around(before, after, error, component, data, operation, to_data, from_data,
                                  operation_name, redirect, correlation_id)

    async def _around(
        self,
        before: str,
        after: str,
        error: str | None,
        component: ComponentId,
        data: dict[str, Any],
        operation: Callable[[dict[str, Any]], Awaitable[Any]],
        to_data: Callable[[Any], dict[str, Any]],
        from_data: Callable[[dict[str, Any]], Any],
        operation_name: str | None,
        redirect: Callable[[str, dict[str, Any]], Awaitable[Any]] | None,
        correlation_id: str | None,
    ) -> Any:
        pts = self._points
        if before not in pts and after not in pts and (error is None or error not in pts):
            return await operation(data)
        corr = correlation_id or _new_corr()
        if before in pts:
            ctx = _ctx(before, component, data, operation_name, corr)
            res = await self.execute(ctx)
            kind = res.kind
            if kind == "modified":
                data = ctx.data
            elif kind == "cancel":
                raise HookCancelledError(before, res.reason or "cancelled")
            elif kind == "skipped":
                return from_data({})
            elif kind == "replace":
                return from_data(_as_data(res.data))
            elif kind == "redirect":
                return await self._redirect(before, res, data, redirect, component, operation_name)
            elif kind == "retry":
                await self.sleep(res.delay_ms / 1000.0)
        after_attempts = 0
        while True:
            out = await self._run_op(error, component, data, operation, from_data, redirect, operation_name,
                                     corr)
            if isinstance(out, _Recovered):
                return out.value
            if after not in pts:
                return out
            ctx = _ctx(after, component, to_data(out), operation_name, corr)
            res = await self.execute(ctx)
            kind = res.kind
            if kind == "continue" or kind == "skipped":
                return out
            if kind == "modified":
                return from_data(ctx.data)
            if kind == "replace":
                return from_data(_as_data(res.data))
            if kind == "cancel":
                raise HookCancelledError(after, res.reason or "cancelled")
            if kind == "redirect":
                return await self._redirect(after, res, data, redirect, component, operation_name)
            # retry: run the operation again
            after_attempts += 1
            if after_attempts >= max(1, res.max_attempts):
                return out
            await self.sleep(res.delay_ms / 1000.0)

    async def _run_op(
        self,
        error: str | None,
        component: ComponentId,
        data: dict[str, Any],
        operation: Callable[[dict[str, Any]], Awaitable[Any]],
        from_data: Callable[[dict[str, Any]], Any],
        redirect: Callable[[str, dict[str, Any]], Awaitable[Any]] | None,
        operation_name: str | None,
        corr: str,
    ) -> Any:
        attempt = 1
        while True:
            try:
                return await operation(data)
            except HookCancelledError:
                raise
            except Exception as exc:
                if error is None or error not in self._points:
                    raise
                edata = {**data, "error": str(exc), "error_type": getattr(exc, "kind", type(exc).__name__),
                         "attempt": attempt}
                ctx = _ctx(error, component, edata, operation_name, corr)
                res = await self.execute(ctx)
                kind = res.kind
                if kind == "retry" and attempt < max(1, res.max_attempts):
                    attempt += 1
                    await self.sleep(res.delay_ms / 1000.0)
                    continue
                if kind == "replace":
                    return _Recovered(from_data(_as_data(res.data)))
                if kind == "redirect" and redirect is not None and res.target:
                    return _Recovered(await redirect(res.target, data))
                raise

    async def _redirect(
        self,
        point: str,
        res: HookResult,
        data: dict[str, Any],
        redirect: Callable[[str, dict[str, Any]], Awaitable[Any]] | None,
        component: ComponentId,
        operation_name: str | None,
    ) -> Any:
        if redirect is None or not res.target:
            what = operation_name or _component_str(component)
            raise HookError(
                f"a {point} hook redirected to '{res.target}', but {what} cannot be redirected",
                details={"point": point, "target": res.target},
            )
        if isinstance(res.data, dict):
            data = res.data
        return await redirect(res.target, data)


_HC_FIELDS = set(HookContext.model_fields)  # shared: every field is set, so pydantic's .add() is a no-op
_new = object.__new__
_osa = object.__setattr__
_set_fields = vars(BaseModel)["__pydantic_fields_set__"].__set__
_set_extra = vars(BaseModel)["__pydantic_extra__"].__set__
_set_private = vars(BaseModel)["__pydantic_private__"].__set__
_corr_counter = itertools.count(1)
_u = uuid.uuid4().hex
_CORR_PREFIX = f"{_u[0:8]}-{_u[8:12]}-{_u[12:16]}-{_u[16:20]}-"


def _new_corr() -> str:
    """A unique correlation id without ``uuid4()`` per call (a random prefix plus a counter)."""
    return f"{_CORR_PREFIX}{next(_corr_counter):012x}"


def _ctx(point: str, component: ComponentId, data: dict[str, Any], operation: str | None, corr: str) -> HookContext:
    """A HookContext built without validation (all fields given): ``around`` builds up to three per call."""
    c = _new(HookContext)
    _osa(c, "__dict__", {
        "point": point, "component_id": component, "correlation_id": corr, "data": dict(data), "metadata": {},
        "language": "python", "timestamp": time.time(), "operation": operation,
    })
    _set_fields(c, _HC_FIELDS)
    _set_extra(c, None)
    _set_private(c, None)
    return c


class _Recovered:
    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


def _is_async(fn: Any) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    return callable(fn) and inspect.iscoroutinefunction(type(fn).__call__)
