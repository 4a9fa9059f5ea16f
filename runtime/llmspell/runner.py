"""SpellRunner: run one spell and yield what happens as a stream of :data:`~llmspell.messages.RunMessage`.

The CLI (``--run``) and the language server (``llmspell/*`` notifications) both render this stream, so
they show the same facts. One run yields ``started``, then ``output`` / ``event`` / ``hookResult`` /
``progress`` as they happen, then exactly one ``finished`` (status, exit code, result, error with
file:line and traceback, duration, token usage and cost summed over the run's agents). Every message
carries the run id and a sequence number (1, 2, 3… per run).

The engine is chosen by extension and imported lazily (``.lua`` → :mod:`llmspell.engines.lua`,
``.js``/``.mjs`` → :mod:`llmspell.engines.js`); each engine package exposes
``create_spell(ctx, source) -> SpellHost``.

Runtimes: pass ``runtime=`` to share one between runs (spells then see each other's events, hooks,
state and agents — the cross-engine bridge); otherwise each run gets its own from ``runtime_factory``
(or ``Runtime(config)``), started before and shut down after the run.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmspell.api.context import SpellContext
from llmspell.core.errors import HookCancelledError, LLMSpellError, ResourceLimitError
from llmspell.core.types import ComponentId, Usage
from llmspell.engines.convert import jsonable
from llmspell.engines.host import SpellCancelled, SpellExit, SpellHost
from llmspell.messages import (
    ErrorInfo,
    EventMessage,
    Finished,
    HookResultMessage,
    Output,
    Progress,
    RunStatus,
    Spans,
    Started,
)
from llmspell.sessions import SESSION_KEY

if TYPE_CHECKING:
    from llmspell.config import RuntimeConfig
    from llmspell.messages import RunMessage
    from llmspell.runtime import Runtime
    from llmspell.tracing import TraceOptions

ENGINES: dict[str, tuple[str, str]] = {
    ".lua": ("lua", "llmspell.engines.lua"),
    ".js": ("javascript", "llmspell.engines.js"),
    ".mjs": ("javascript", "llmspell.engines.js"),
}
"""extension -> (language, engine package with ``create_spell(ctx, source)``)."""

_DONE = object()
SPAN_FLUSH_S = 0.05
"""A traced run sends its finished spans at most this long after they end (a killed run loses no more)."""
SPAN_BATCH = 512


def language_for(path: Path | str) -> str | None:
    """``lua`` / ``javascript`` for a spell file, ``None`` when the extension is not a spell's."""
    entry = ENGINES.get(Path(path).suffix.lower())
    return entry[0] if entry else None


class _Run:
    """Book-keeping of one run (the host is set once the engine created it)."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.host: SpellHost | None = None
        self.cancel_requested = False
        self.cancel_reason = "cancelled"
        self.limit_error: ResourceLimitError | None = None
        """Set when a MemoryUsageHigh / CpuUsageHigh hook stopped the spell (``cancel`` result)."""


class SpellRunner:
    """Runs spells; see the module docstring for the stream it yields."""

    def __init__(
        self,
        runtime_factory: Callable[[], Runtime] | None = None,
        *,
        config: RuntimeConfig | None = None,
        runtime: Runtime | None = None,
        trace_processors: list[Any] | None = None,
    ):
        self._factory = runtime_factory
        self._trace_processors = list(trace_processors or [])
        """Extra OpenTelemetry span processors for traced runs (tests: an InMemorySpanExporter's)."""
        self._config = config
        self._shared = runtime
        self._runs: dict[str, _Run] = {}
        self._sem: asyncio.Semaphore | None = None

    # ------------------------------------------------------------------------------------ public

    def set_config(self, config: RuntimeConfig) -> None:
        """Use ``config`` for runs that start from now on; running spells keep the one they began with."""
        self._config = config

    @property
    def active_runs(self) -> list[str]:
        return list(self._runs)

    async def cancel(self, run_id: str, reason: str = "cancelled") -> bool:
        """Cancel a running spell (takes effect within milliseconds). False when no such run.

        ``reason`` is ``cancelled`` or ``timeout`` (the isolated runner's supervisor delivers the wall
        time this way, so the run still ends with its hooks and a ``timeout`` status)."""
        run = self._runs.get(run_id)
        if run is None:
            return False
        run.cancel_requested = reason != "timeout"
        run.cancel_reason = reason
        if run.host is not None:
            run.host.cancel(reason)
        return True

    async def run(
        self,
        path: Path | str,
        *,
        source: str | None = None,
        args: list[str] | None = None,
        run_id: str | None = None,
        trace: TraceOptions | None = None,
    ) -> AsyncIterator[RunMessage]:
        """Run the spell at ``path`` (``source`` overrides the file's text, e.g. an unsaved editor buffer).

        ``trace``: make OpenTelemetry spans of the run (:mod:`llmspell.tracing`) and stream them as
        ``spans`` messages; without it nothing imports OpenTelemetry."""
        path = Path(path)
        args = list(args or [])
        run_id = run_id or uuid.uuid4().hex[:12]
        run = _Run(run_id)
        self._runs[run_id] = run
        seq = itertools.count(1)
        t0 = time.perf_counter()
        language = language_for(path)
        try:
            yield Started(run_id=run_id, seq=next(seq), file=str(path),
                          language=language or "lua", args=args)  # type: ignore[arg-type]
            if language is None:
                yield self._finished(run_id, seq, t0, "error", error=ErrorInfo(
                    message=f"{path}: not a spell (expected a .lua or .js file)", kind="usage", file=str(path)))
                return
            if source is None:
                try:
                    source = path.read_bytes().decode("utf-8", "replace")
                except OSError as e:
                    reason = e.strerror or str(e)
                    yield self._finished(run_id, seq, t0, "error", error=ErrorInfo(
                        message=f"{path}: cannot read the spell: {reason}", kind="io", file=str(path)))
                    return
            if language == "lua" and source.startswith("#"):
                source = "--" + source  # a first line "#!/usr/bin/env llmspell" is skipped, as lua(1) does
            async for msg in self._run_spell(run, path, source, args, language, seq, t0, trace):
                yield msg
        finally:
            self._runs.pop(run_id, None)

    # ------------------------------------------------------------------------------------ internals

    def _finished(self, run_id: str, seq: itertools.count[int], t0: float, status: RunStatus, *,
                  exit_code: int | None = None, result: Any = None, error: ErrorInfo | None = None,
                  usage: Usage | None = None) -> Finished:
        if exit_code is None:
            exit_code = 0 if status == "success" else 1
        usage = usage or Usage()
        return Finished(run_id=run_id, seq=next(seq), status=status, exit_code=exit_code, result=result,
                        error=error, duration_ms=round((time.perf_counter() - t0) * 1000, 3), usage=usage,
                        cost_usd=usage.cost_usd)

    def _make_runtime(self) -> tuple[Runtime, bool]:
        if self._shared is not None:
            return self._shared, False
        if self._factory is not None:
            return self._factory(), True
        from llmspell.runtime import Runtime

        return Runtime(self._config), True

    async def _run_spell(self, run: _Run, path: Path, source: str, args: list[str], language: str,
                         seq: itertools.count[int], t0: float,
                         trace: TraceOptions | None = None) -> AsyncIterator[RunMessage]:
        run_id = run.run_id
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        usage = Usage()
        try:
            runtime, owned = self._make_runtime()
        except LLMSpellError as e:
            yield self._finished(run_id, seq, t0, "error", error=ErrorInfo(message=e.message, kind=e.kind))
            return
        except Exception as e:
            yield self._finished(run_id, seq, t0, "error",
                                 error=ErrorInfo(message=f"cannot create the runtime: {e}", kind="configuration"))
            return
        cleanups: list[Callable[[], Any]] = []

        def put(msg_cls: type[Any], **kw: Any) -> Any:
            msg = msg_cls(run_id=run_id, seq=next(seq), **kw)
            queue.put_nowait(msg)
            return msg

        lim = getattr(getattr(runtime, "config", None), "limits", None)
        flow = _Flow(int(getattr(lim, "max_output_bytes", 0) or 0), int(getattr(lim, "max_stream_events", 0) or 0))
        loop_thread = threading.current_thread()

        def emit_output(stream: str, text: str) -> None:  # called on the spell thread
            text, note = flow.admit_output(text)
            held = False
            if text and threading.current_thread() is not loop_thread:
                # back-pressure: a spell printing faster than the reader takes it waits here (its
                # wall-time clock keeps running in the supervisor); a cancelled spell stops waiting
                host_ = run.host
                while not flow.slots.acquire(timeout=0.05):
                    if host_ is not None and host_.cancel_flag.is_set():
                        text = ""
                        break
                else:
                    held = True
            if text or note:
                loop.call_soon_threadsafe(_put_output, stream, text, note, held)

        def _put_output(stream: str, text: str, note: str | None, held: bool) -> None:
            if text:
                msg = put(Output, stream=stream, text=text)
                if held:
                    flow.held.add(id(msg))
            if note:
                put(Output, stream="stderr", text=note)

        def on_event(ev: Any) -> None:
            nonlocal usage
            data = ev.data
            et = ev.event_type
            note = flow.admit_event(queue.qsize())
            if note is not None:
                put(Output, stream="stderr", text=note)
            if flow.events_dropping:
                return
            put(EventMessage, event_type=et, data=jsonable(data), sequence=ev.sequence,
                correlation_id=ev.correlation_id, source=ev.source)
            spell_made = (getattr(ev, "metadata", None) or {}).get("origin") == "spell"
            if et == "agent.completed" and not spell_made and isinstance(data, dict) \
                    and isinstance(data.get("usage"), dict):
                try:
                    usage = usage.add(Usage.model_validate(data["usage"]))
                except Exception:
                    pass

        def on_hook(ex: Any) -> None:
            put(HookResultMessage, point=str(ex.point), hook=str(getattr(ex, "location", "") or ex.hook),
                hook_id=str(getattr(ex, "hook_id", "")), language=str(ex.language),
                component=str(ex.component), result=str(ex.result), reason=ex.reason,
                duration_us=float(ex.duration_us))

        def on_progress(info: dict[str, Any]) -> None:
            total = info.get("total_steps") or 0
            idx = info.get("step_index")
            status = info.get("status", "")
            name = info.get("workflow_name") or info.get("workflow_id") or "workflow"
            pct = None
            if total:
                done = (int(idx) + (1 if status in ("completed", "failed") else 0)) if idx is not None else 0
                pct = max(0, min(100, int(100 * done / total)))
            step = info.get("step_name")
            pos = f" ({int(idx) + 1}/{total})" if total and idx is not None else ""
            put(Progress, message=f"{name}: step {step}{pos} {status}".strip(), percentage=pct)

        span_batch: list[dict[str, Any]] = []
        flush_timer: list[asyncio.TimerHandle] = []

        def flush_spans() -> None:
            for h in flush_timer:
                h.cancel()
            flush_timer.clear()
            if span_batch:
                batch = span_batch[:]
                span_batch.clear()
                put(Spans, spans=batch)

        def span_sink(span: dict[str, Any]) -> None:
            """Finished spans leave in batches: at most SPAN_FLUSH_S after the first one, or
            SPAN_BATCH at once (one message per span would cost a line, a parse and a validation each)."""
            if threading.current_thread() is not loop_thread:
                loop.call_soon_threadsafe(span_sink, span)
                return
            span_batch.append(span)
            if len(span_batch) >= SPAN_BATCH:
                flush_spans()
            elif not flush_timer:
                flush_timer.append(loop.call_later(SPAN_FLUSH_S, flush_spans))

        tracer: Any = None
        if trace is not None:
            try:
                from llmspell.tracing.tracer import RunTracer

                tracer = RunTracer(trace, file=str(path), language=language, run_id=run_id, sink=span_sink,
                                   processors=self._trace_processors)
                cleanups.extend(tracer.attach(runtime))
            except Exception as e:  # tracing is an observer: a run never fails because of it
                tracer = None
                put(Output, stream="stderr", text=f"[llmspell] tracing is off for this run: {type(e).__name__}: {e}\n")

        status: RunStatus = "error"
        exit_code: int | None = None
        result: Any = None
        error: ErrorInfo | None = None
        host: SpellHost | None = None
        task: asyncio.Task[Any] | None = None
        timer: asyncio.TimerHandle | None = None
        monitor: asyncio.Task[Any] | None = None
        session_id = f"session_{run_id}"
        session_started = False
        tail: list[Any] = []
        try:
            try:
                if hasattr(runtime, "start"):
                    await runtime.start()
                hooks = getattr(runtime, "hooks", None)
                if hooks is not None and hasattr(hooks, "add_observer"):
                    cleanups.append(hooks.add_observer(on_hook))
                workflows = getattr(runtime, "workflows", None)
                if workflows is not None and hasattr(workflows, "add_progress_listener"):
                    cleanups.append(workflows.add_progress_listener(on_progress))
                ctx = SpellContext(runtime=runtime, file=path, language=language, args=args, run_id=run_id,
                                   emit_output=emit_output)
                sessions = getattr(runtime, "sessions", None)
                if sessions is not None:
                    # a run is a session: SessionStart may refuse it (cancel) before the spell runs
                    try:
                        await sessions.start(session_id=session_id, name=path.name,
                                             extra={"run_id": run_id, "file": str(path), "language": language})
                    except HookCancelledError as e:
                        error = ErrorInfo(message=e.message, kind=e.kind, file=str(path))
                        raise _Abort() from None
                    session_started = True
                    ctx.extra[SESSION_KEY] = session_id
                # subscribed after the session started: the stream's first event is the spell's own
                # (SessionStart hooks still show as hookResult messages)
                events = getattr(runtime, "events", None)
                if events is not None:
                    sub = events.subscribe("*", on_event)
                    cleanups.append(lambda: events.unsubscribe(sub))
                engine = importlib.import_module(ENGINES[path.suffix.lower()][1])
                host = engine.create_spell(ctx, source)
            except LLMSpellError as e:
                error = ErrorInfo(message=e.message, kind=e.kind)
                raise _Abort() from None
            run.host = host
            limits = runtime.config.limits
            if self._sem is None:
                self._sem = asyncio.Semaphore(max(1, int(limits.max_concurrent_spells or 1)))
            async with self._sem:
                if run.cancel_requested or run.cancel_reason != "cancelled":
                    host.cancel(run.cancel_reason)
                task = asyncio.ensure_future(host.run())
                task.add_done_callback(lambda _t: queue.put_nowait(_DONE))
                if limits.wall_time_s and limits.wall_time_s > 0:
                    timer = loop.call_later(limits.wall_time_s, host.cancel, "timeout")
                rh = getattr(runtime, "hooks", None)
                if hasattr(rh, "has_hooks") and hasattr(rh, "fire") and (limits.monitor_interval_ms or 0) > 0:
                    monitor = asyncio.ensure_future(_monitor(run, runtime, host, path, task))
                while True:
                    item = await queue.get()
                    if item is _DONE:
                        break
                    flow.release(item)
                    yield item
                while not queue.empty():
                    item = queue.get_nowait()
                    if item is not _DONE:
                        flow.release(item)
                        yield item
            status, exit_code, result, error = _outcome(task, limits.wall_time_s, limits.max_memory_mb)
            if run.limit_error is not None and status == "cancelled" and not run.cancel_requested:
                status, exit_code = "limit", 1
                error = ErrorInfo(message=run.limit_error.message, kind=run.limit_error.kind)
            if error is not None and error.file:
                error.file = _absolute(error.file)
        except _Abort:
            status = "error"
        finally:
            if timer is not None:
                timer.cancel()
            if monitor is not None:
                monitor.cancel()
            if task is not None and not task.done():
                # the consumer stopped listening (or we were cancelled): stop the spell too
                status = "cancelled"
                if host is not None:
                    host.cancel("cancelled")
                try:
                    await asyncio.wait_for(asyncio.shield(task), 2.0)
                except BaseException:
                    pass
            if host is not None:  # hooks/subscriptions/tools the spell registered die with it
                for fn in reversed(host.ctx.extra.pop("cleanups", []) or []):
                    try:
                        fn()
                    except Exception:
                        pass
            # end-of-run hooks run after the spell's own hooks are gone (its interpreter has ended),
            # while the run's observers still stream their executions
            try:
                if status in ("limit", "timeout") and run.limit_error is None:
                    from llmspell.hooks.system import fire_resource_limit

                    lim, val = _limit_of(status, error, _limits_of(runtime))
                    await fire_resource_limit(runtime, ComponentId(type="System", name="runner"), limit=lim,
                                              value=val, spell=str(path), run_id=run_id,
                                              message=error.message if error else None)
                if session_started:
                    await runtime.sessions.end(session_id, status, run_id=run_id, file=str(path),
                                               duration_ms=round((time.perf_counter() - t0) * 1000, 3))
            except Exception:  # a broken end hook must not replace the run's own outcome
                pass
            if tracer is not None:
                try:
                    tracer.finish(status, error)
                except Exception:
                    pass
                flush_spans()
            while not queue.empty():
                item = queue.get_nowait()
                if item is not _DONE:
                    flow.release(item)
                    tail.append(item)
            for fn in cleanups:
                try:
                    fn()
                except Exception:
                    pass
            if owned and hasattr(runtime, "shutdown"):
                try:
                    await runtime.shutdown()
                except Exception:
                    pass
            if tracer is not None:
                tracer.shutdown()
        while not queue.empty():  # events published by the shutdown itself are not part of the run
            queue.get_nowait()
        for item in tail:
            yield item
        yield self._finished(run_id, seq, t0, status, exit_code=exit_code, result=result, error=error, usage=usage)


class _Abort(Exception):
    pass


class _Flow:
    """Bounds on what one run streams: printed bytes (``limits.max_output_bytes``), events
    (``limits.max_stream_events``), and output messages in flight to a slow reader (the spell waits).
    Beyond a cap the rest is dropped with one visible note, never silently and never by growing."""

    PENDING_OUTPUT = 256
    PENDING_EVENTS = 10_000

    def __init__(self, max_output_bytes: int, max_events: int):
        self.max_output = max_output_bytes
        self.max_events = max_events
        self.out_bytes = 0
        self.dropped_bytes = 0
        self.events = 0
        self.events_dropping = False
        self.lock = threading.Lock()
        self.slots = threading.Semaphore(self.PENDING_OUTPUT)
        self.held: set[int] = set()

    def admit_output(self, text: str) -> tuple[str, str | None]:
        if not self.max_output:
            return text, None
        with self.lock:
            if self.out_bytes >= self.max_output:
                self.dropped_bytes += len(text)
                return "", None
            n = len(text.encode("utf-8", "replace"))
            if self.out_bytes + n <= self.max_output:
                self.out_bytes += n
                return text, None
            keep = max(0, self.max_output - self.out_bytes)
            cut = text.encode("utf-8", "replace")[:keep].decode("utf-8", "ignore")
            self.out_bytes = self.max_output
            self.dropped_bytes += n - keep
            return cut, (f"\n[llmspell] output beyond {self.max_output} bytes is dropped "
                         "(limits.max_output_bytes)\n")

    def admit_event(self, pending: int) -> str | None:
        if self.events_dropping:
            return None
        self.events += 1
        if self.max_events and self.events > self.max_events:
            self.events_dropping = True
            return f"[llmspell] events beyond {self.max_events} are not streamed (limits.max_stream_events)\n"
        if pending > self.PENDING_EVENTS:
            self.events_dropping = True
            return (f"[llmspell] the reader fell {pending} messages behind: further events are not streamed "
                    "(output still is)\n")
        return None

    def release(self, item: Any) -> None:
        if self.held:
            key = id(item)
            if key in self.held:
                self.held.discard(key)
                self.slots.release()


def _limits_of(runtime: Any) -> Any:
    return runtime.config.limits


def _limit_of(status: str, error: ErrorInfo | None, limits: Any) -> tuple[str, Any]:
    """(limit name, its configured value) for a run that ended with ``timeout`` / ``limit``."""
    if status == "timeout":
        return "wall_time_s", limits.wall_time_s
    msg = (error.message if error else "").lower()
    if "memory" in msg:
        return "max_memory_mb", limits.max_memory_mb
    if "instruction" in msg:
        return "instruction_budget", limits.instruction_budget
    return "resource_limit", None


def _thread_cpu_clock(host: SpellHost) -> Callable[[], float]:
    """CPU seconds of the spell's own thread (so one busy spell does not make every other running
    spell look busy); the process's CPU time where per-thread clocks are unavailable."""
    thread = host.thread
    getclock = getattr(time, "pthread_getcpuclockid", None)
    if thread is not None and thread.ident is not None and getclock is not None:
        try:
            clk = getclock(thread.ident)
            time.clock_gettime(clk)
            return lambda: time.clock_gettime(clk)
        except (OSError, OverflowError):
            pass
    return time.process_time


async def _monitor(run: _Run, runtime: Any, host: SpellHost, path: Path, task: asyncio.Task[Any]) -> None:
    """Sample the running spell every ``limits.monitor_interval_ms``: MemoryUsageHigh when the
    interpreter heap crosses ``memory_high_pct`` of ``max_memory_mb``, CpuUsageHigh when the spell's
    thread used more than ``cpu_high_pct`` of a core over the window. Each fires once per crossing
    (it re-arms when the value falls back). A ``cancel`` result stops the spell with a
    ResourceLimitError naming the hook, so a hook can be a watchdog. One task per run; a tick with no
    hook at either point costs two clock reads and two dict lookups.
    """
    hooks = runtime.hooks
    mem_high = cpu_high = False
    await asyncio.sleep(0)  # let host.run() start the spell thread first
    cpu_clock = _thread_cpu_clock(host)
    wall0, cpu0 = time.monotonic(), cpu_clock()
    comp = ComponentId(type="System", name="monitor")
    while not task.done():
        limits = runtime.config.limits  # re-read: update_config may change it mid-run
        interval = max(0.01, (limits.monitor_interval_ms or 250) / 1000.0)
        await asyncio.sleep(interval)
        if task.done():
            return
        try:
            wall1, cpu1 = time.monotonic(), cpu_clock()
        except OSError:  # the spell thread has just ended
            return
        window_ms = (wall1 - wall0) * 1000.0
        cpu_pct = 100.0 * (cpu1 - cpu0) / max(1e-6, wall1 - wall0)
        wall0, cpu0 = wall1, cpu1
        results: list[tuple[str, Any]] = []
        if hooks.has_hooks("MemoryUsageHigh") and limits.max_memory_mb:
            used = host.memory_used()
            if used is not None:
                limit_b = int(limits.max_memory_mb) << 20
                pct = 100.0 * used / limit_b
                if pct >= limits.memory_high_pct and not mem_high:
                    mem_high = True
                    results.append(("MemoryUsageHigh", await hooks.fire("MemoryUsageHigh", comp, {
                        "run_id": run.run_id, "spell": str(path), "used_bytes": used, "limit_bytes": limit_b,
                        "percent": round(pct, 2), "threshold_percent": limits.memory_high_pct})))
                elif pct < limits.memory_high_pct:
                    mem_high = False
        if hooks.has_hooks("CpuUsageHigh"):
            if cpu_pct >= limits.cpu_high_pct and not cpu_high:
                cpu_high = True
                results.append(("CpuUsageHigh", await hooks.fire("CpuUsageHigh", comp, {
                    "run_id": run.run_id, "spell": str(path), "cpu_percent": round(cpu_pct, 1),
                    "threshold_percent": limits.cpu_high_pct, "window_ms": round(window_ms, 1)})))
            elif cpu_pct < limits.cpu_high_pct:
                cpu_high = False
        for point, res in results:
            if res.kind == "cancel" and not task.done():
                run.limit_error = ResourceLimitError(
                    f"the spell was stopped by a {point} hook: {res.reason or 'cancelled'}",
                    details={"point": point})
                host.cancel("limit")
                return


def _absolute(file: str) -> str:
    """Error locations name files as Lua shows them (relative to the current directory); the stream
    carries absolute paths so that editors can map them to documents (a ``require``d module, say)."""
    try:
        p = Path(file)
        if not p.is_absolute() and p.exists():
            return str(p.resolve())
    except (OSError, ValueError):
        pass
    return file


def _outcome(task: asyncio.Task[Any], wall_s: float,
             max_mb: int) -> tuple[RunStatus, int | None, Any, ErrorInfo | None]:
    """(status, exit_code, result, error) from the finished spell task."""
    try:
        result = task.result()
    except SpellExit as e:
        if e.code == 0:
            return "success", 0, None, None
        return "error", e.code, None, ErrorInfo(message=f"the spell exited with status {e.code} (os.exit)", kind="exit")
    except SpellCancelled as e:
        reason = str(e.args[0]) if e.args else "cancelled"
        if reason == "timeout":
            return "timeout", 1, None, ErrorInfo(message=f"wall time limit exceeded ({wall_s:g} s)", kind="timeout")
        return "cancelled", 1, None, ErrorInfo(message="the spell was cancelled", kind="cancelled")
    except asyncio.CancelledError:
        return "cancelled", 1, None, ErrorInfo(message="the spell was cancelled", kind="cancelled")
    except ResourceLimitError as e:
        return "limit", 1, None, ErrorInfo(message=e.message, kind=e.kind, file=getattr(e, "file", None),
                                           line=getattr(e, "line", None))
    except LLMSpellError as e:
        return "error", 1, None, ErrorInfo(message=e.message, kind=getattr(e, "kind", "runtime"),
                                           file=getattr(e, "file", None), line=getattr(e, "line", None),
                                           traceback=getattr(e, "traceback", None))
    except MemoryError:
        return "limit", 1, None, ErrorInfo(message=f"memory limit exceeded (max_memory_mb = {max_mb})",
                                           kind="resource_limit")
    except BaseException as e:
        return "error", 1, None, ErrorInfo(message=f"{type(e).__name__}: {e}", kind="runtime")
    return "success", 0, jsonable(result), None
