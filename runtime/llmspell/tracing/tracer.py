"""RunTracer: one run's spans, made with the OpenTelemetry SDK from the runtime's own lifecycle.

Nothing in the agents, tools or workflows knows about tracing. They already run every operation
through :meth:`HookRegistry.around` / :meth:`HookRegistry.scoped`, and the tracer subscribes to
those as a *scope observer*: each scope becomes a span entered in the task that runs the operation,
so OpenTelemetry's context (a contextvar) makes the parenting right by construction: the tool calls
of an agent's loop and its ``chat`` calls run inside its ``invoke_agent`` span, workflow steps run in
tasks created inside the workflow's span, an agent used as a tool nests under ``execute_tool``. An
operation a spell starts from its own thread arrives in a fresh task without a current span and is
parented to the run's root span.

Spans follow the GenAI semantic conventions (status Development, see the reference notes):
``invoke_agent {name}``, ``chat {model}`` (kind CLIENT), ``execute_tool {name}``,
``invoke_workflow {name}`` with one ``step {name}`` child per step execution. Hook executions
(the hook observer) are span events ``hook {point}`` of the span they ran in; events a spell
publishes are span events ``event {type}`` when ``spell_events`` is on.

Finished spans leave as OTLP JSON dicts through ``sink`` (the runner turns them into ``spans`` run
messages); tests can add their own span processors (an ``InMemorySpanExporter``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from llmspell import __version__
from llmspell.core.types import ComponentId
from llmspell.tracing import SCOPE_NAME, TraceOptions

log = logging.getLogger(__name__)

SpanSink = Callable[[dict[str, Any]], None]

MAX_ATTR_CHARS = 1024
"""Event data copied into a span event is cut here (the trace is a timeline, not a data dump)."""

MAX_NAME_CHARS = 256
"""Span and span-event names are cut here. Names and string attributes carry the spell's own strings
(workflow, step, agent, tool and event names): uncapped, a spell's 200 KB names made megabytes per
span in the trace file and in the parent, which keeps up to 50,000 spans and has no memory limit."""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


# ---------------------------------------------------------------------------------- OTLP JSON


def any_value(v: Any) -> dict[str, Any]:
    """A Python attribute value as an OTLP ``AnyValue`` (protobuf JSON mapping: int64 as a string)."""
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, (list, tuple)):
        return {"arrayValue": {"values": [any_value(x) for x in v]}}
    if isinstance(v, bytes):
        import base64

        return {"bytesValue": base64.b64encode(v[:MAX_ATTR_CHARS]).decode("ascii")}
    return {"stringValue": _cut(str(v), MAX_ATTR_CHARS)}


def attributes_json(attrs: Any) -> list[dict[str, Any]]:
    return [{"key": str(k), "value": any_value(v)} for k, v in dict(attrs or {}).items()]


def span_json(span: ReadableSpan) -> dict[str, Any]:
    """One finished span in the OTLP JSON encoding (hex ids, nanosecond strings, kind/status codes)."""
    ctx = span.context
    assert ctx is not None
    out: dict[str, Any] = {
        "traceId": f"{ctx.trace_id:032x}",
        "spanId": f"{ctx.span_id:016x}",
        "name": _cut(span.name, MAX_NAME_CHARS),
        "kind": int(span.kind.value) + 1,  # the API's INTERNAL=0; OTLP's SPAN_KIND_INTERNAL=1
        "startTimeUnixNano": str(span.start_time or 0),
        "endTimeUnixNano": str(span.end_time or 0),
        "attributes": attributes_json(span.attributes),
    }
    if span.parent is not None:
        out["parentSpanId"] = f"{span.parent.span_id:016x}"
    if span.events:
        out["events"] = [{"timeUnixNano": str(e.timestamp), "name": _cut(e.name, MAX_NAME_CHARS),
                          "attributes": attributes_json(e.attributes)} for e in span.events]
    status = span.status
    if status.status_code is not StatusCode.UNSET:
        st: dict[str, Any] = {"code": int(status.status_code.value)}
        if status.description:
            st["message"] = _cut(status.description, MAX_ATTR_CHARS)
        out["status"] = st
    return out


# ---------------------------------------------------------------------------------- SDK plumbing


class _RunIds(IdGenerator):
    """Every span of the run in the parent's trace; the first span (the root) gets the id the parent chose."""

    def __init__(self, trace_id: int, root_span_id: int):
        self._trace_id = trace_id
        self._root: int | None = root_span_id
        self._random = RandomIdGenerator()

    def generate_span_id(self) -> int:
        if self._root is not None:
            sid, self._root = self._root, None
            return sid
        return self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        return self._trace_id


class _Forward(SpanProcessor):
    """Hands each finished span to the run's sink as OTLP JSON."""

    def __init__(self, sink: SpanSink):
        self._sink = sink

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._sink(span_json(span))
        except Exception:  # a broken sink must not break the run
            log.exception("cannot forward a span")


def _error_type(exc: BaseException) -> str:
    import asyncio

    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    kind = getattr(exc, "kind", None)
    return str(kind) if isinstance(kind, str) and kind else type(exc).__name__


class _SpanScope:
    """A span entered around one operation; ``result`` adds what only the outcome knows."""

    __slots__ = ("_on_result", "_parent", "_token", "span")

    def __init__(self, span: trace.Span, parent: otel_context.Context,
                 on_result: Callable[[trace.Span, Any], None] | None):
        self.span = span
        self._parent = parent
        self._on_result = on_result
        self._token: object | None = None

    def __enter__(self) -> _SpanScope:
        self._token = otel_context.attach(trace.set_span_in_context(self.span, self._parent))
        return self

    def result(self, value: Any) -> None:
        if self._on_result is not None:
            self._on_result(self.span, value)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc is not None:
                etype = _error_type(exc)
                self.span.set_attribute("error.type", etype)
                message = getattr(exc, "message", None) or str(exc) or etype
                self.span.add_event("exception", {"exception.type": type(exc).__name__,
                                                  "exception.message": str(message)[:MAX_ATTR_CHARS]})
                self.span.set_status(Status(StatusCode.ERROR, str(message)[:MAX_ATTR_CHARS]))
        finally:
            if self._token is not None:
                try:
                    otel_context.detach(self._token)  # type: ignore[arg-type]
                except Exception:
                    pass
            self.span.end()


def _model_parts(model: Any) -> tuple[str, str]:
    """``openai/gpt-4o-mini`` -> (``openai``, ``gpt-4o-mini``); a bare name has no provider part."""
    text = str(model or "")
    provider, _, name = text.partition("/")
    return (provider, name) if name else ("", text)


def _usage_attrs(span: trace.Span, usage: Any) -> None:
    if usage is None:
        return
    inp = getattr(usage, "prompt_tokens", None)
    out = getattr(usage, "completion_tokens", None)
    if isinstance(inp, int):
        span.set_attribute("gen_ai.usage.input_tokens", inp)
    if isinstance(out, int):
        span.set_attribute("gen_ai.usage.output_tokens", out)


# ---------------------------------------------------------------------------------- the tracer


class RunTracer:
    """The spans of one run (see the module docstring). ``attach(runtime)`` subscribes it to the
    runtime's hooks and events and returns the functions that unsubscribe it; ``finish`` ends the root."""

    def __init__(self, options: TraceOptions, *, file: str, language: str, run_id: str, sink: SpanSink,
                 processors: Iterable[SpanProcessor] = ()):
        self.options = options
        self.provider = TracerProvider(
            resource=Resource({"service.name": options.service_name}),
            id_generator=_RunIds(int(options.trace_id, 16), int(options.root_span_id, 16)),
            shutdown_on_exit=False,
        )
        self.provider.add_span_processor(_Forward(sink))
        for p in processors:
            self.provider.add_span_processor(p)
        self.tracer = self.provider.get_tracer(SCOPE_NAME, __version__)
        self.root = self.tracer.start_span(
            f"run {Path(file).name}", kind=SpanKind.INTERNAL,
            attributes={"llmspell.spell.file": str(file), "llmspell.spell.language": language,
                        "llmspell.run.id": run_id},
        )
        self.root_context = trace.set_span_in_context(self.root)
        self._finished = False

    # -------------------------------------------------------------- subscriptions

    def attach(self, runtime: Any) -> list[Callable[[], Any]]:
        removers: list[Callable[[], Any]] = []
        hooks = getattr(runtime, "hooks", None)
        if hooks is not None and hasattr(hooks, "add_scope_observer"):
            removers.append(hooks.add_scope_observer(self.scope))
            removers.append(hooks.add_observer(self.on_hook))
        events = getattr(runtime, "events", None)
        if events is not None and self.options.spell_events:
            sub = events.subscribe("*", self.on_event)
            removers.append(lambda: events.unsubscribe(sub))
        return removers

    def _current(self) -> trace.Span:
        """The span an observation belongs to: the operation running now, else the run's root."""
        span = trace.get_current_span()
        if span.is_recording() and span.get_span_context().trace_id == self.root.get_span_context().trace_id:
            return span
        return self.root

    def _parent(self) -> otel_context.Context:
        cur = otel_context.get_current()
        span = trace.get_current_span(cur)
        if span.is_recording() and span.get_span_context().trace_id == self.root.get_span_context().trace_id:
            return cur
        return self.root_context

    def _start(self, name: str, kind: SpanKind, attrs: dict[str, Any],
               on_result: Callable[[trace.Span, Any], None] | None = None) -> _SpanScope:
        parent = self._parent()
        clean = {k: v for k, v in attrs.items() if v is not None and v != ""}
        span = self.tracer.start_span(name, context=parent, kind=kind, attributes=clean)
        return _SpanScope(span, parent, on_result)

    def scope(self, kind: str, component: ComponentId, info: dict[str, Any]) -> AbstractContextManager[Any] | None:
        """The scope observer: a span for the operations the conventions name, None for the rest."""
        if self._finished:
            return None
        if kind == "BeforeAgentExecution":
            name = str(info.get("agent") or component.name or "agent")
            provider, model = _model_parts(info.get("model"))
            return self._start(f"invoke_agent {name}", SpanKind.INTERNAL, {
                "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name,
                "gen_ai.agent.id": info.get("agent_id"), "gen_ai.request.model": model,
                "gen_ai.provider.name": info.get("provider") or provider,
            }, _agent_result)
        if kind == "chat":
            provider, model = _model_parts(info.get("model"))
            return self._start(f"chat {model}", SpanKind.CLIENT, {
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": info.get("provider") or provider,
                "gen_ai.request.model": model, "gen_ai.request.temperature": info.get("temperature"),
                "gen_ai.request.max_tokens": info.get("max_tokens"),
                "gen_ai.request.stream": info.get("stream"), "gen_ai.agent.name": info.get("agent"),
            }, _chat_result)
        if kind == "BeforeToolExecution":
            name = str(info.get("tool") or component.name or "tool")
            return self._start(f"execute_tool {name}", SpanKind.INTERNAL, {
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
                "gen_ai.tool.call.id": info.get("call_id"),
                "gen_ai.tool.type": "extension" if name.startswith("mcp.") else "function",
                "gen_ai.tool.description": str(info.get("description") or "")[:MAX_ATTR_CHARS],
                "llmspell.tool.caller": info.get("caller"),
            }, _tool_result)
        if kind == "workflow":
            name = str(info.get("workflow_name") or info.get("workflow_id") or "workflow")
            return self._start(f"invoke_workflow {name}", SpanKind.INTERNAL, {
                "gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": name,
                "llmspell.workflow.id": info.get("workflow_id"),
                "llmspell.workflow.type": info.get("workflow_type"),
            }, _workflow_result)
        if kind == "BeforeWorkflowStage":
            step = str(info.get("step_name") or "step")
            index = info.get("step_index")
            return self._start(f"step {step}", SpanKind.INTERNAL, {
                "llmspell.workflow.step.name": step, "llmspell.workflow.step.type": info.get("step_type"),
                "llmspell.workflow.step.index": index if isinstance(index, int) else None,
                "llmspell.workflow.name": info.get("workflow_name"),
            })
        return None

    def on_hook(self, ex: Any) -> None:
        """A hook ran: an event on the span of the operation it belongs to."""
        if self._finished:
            return
        attrs: dict[str, Any] = {
            "llmspell.hook.point": str(ex.point), "llmspell.hook.name": str(getattr(ex, "location", "") or ex.hook),
            "llmspell.hook.id": str(getattr(ex, "hook_id", "")), "llmspell.hook.language": str(ex.language),
            "llmspell.hook.result": str(ex.result), "llmspell.hook.duration_us": float(ex.duration_us),
        }
        if ex.reason:
            attrs["llmspell.hook.reason"] = str(ex.reason)[:MAX_ATTR_CHARS]
        self._current().add_event(f"hook {ex.point}", attrs)

    def on_event(self, ev: Any) -> None:
        """An event the spell published: an event on the current span (runtime events are spans already)."""
        if self._finished or (getattr(ev, "metadata", None) or {}).get("origin") != "spell":
            return
        try:
            data = json.dumps(ev.data, default=str)
        except (TypeError, ValueError):
            data = str(ev.data)
        self._current().add_event(f"event {ev.event_type}", {
            "llmspell.event.type": str(ev.event_type), "llmspell.event.data": data[:MAX_ATTR_CHARS]})

    # -------------------------------------------------------------- the end

    def finish(self, status: str, error: Any = None) -> None:
        """End the root span with the run's status (once) and flush the spans."""
        if self._finished:
            return
        self._finished = True
        self.root.set_attribute("llmspell.run.status", status)
        if status != "success":
            self.root.set_attribute("error.type", str(getattr(error, "kind", None) or status))
            self.root.set_status(Status(StatusCode.ERROR, str(getattr(error, "message", None) or status)))
        self.root.end()
        self.provider.force_flush(1000)

    def shutdown(self) -> None:
        try:
            self.provider.shutdown()
        except Exception:
            pass


def _agent_result(span: trace.Span, out: Any) -> None:
    _usage_attrs(span, getattr(out, "usage", None))
    md = getattr(out, "metadata", None)
    if isinstance(md, dict) and md.get("model"):
        span.set_attribute("gen_ai.response.model", str(md["model"]))


def _chat_result(span: trace.Span, comp: Any) -> None:
    _usage_attrs(span, getattr(comp, "usage", None))
    model = getattr(comp, "model", None)
    if model:
        span.set_attribute("gen_ai.response.model", _model_parts(model)[1])
    finish = getattr(comp, "finish_reason", None)
    if finish:
        span.set_attribute("gen_ai.response.finish_reasons", [str(finish)])


def _tool_result(span: trace.Span, out: Any) -> None:
    if getattr(out, "success", True) is False:
        err = getattr(out, "error", None) or "the tool reported failure"
        span.set_attribute("error.type", "tool_error")
        span.set_status(Status(StatusCode.ERROR, str(err)[:MAX_ATTR_CHARS]))


def _workflow_result(span: trace.Span, result: Any) -> None:
    if isinstance(result, dict):
        status = result.get("status") or (result.get("metadata") or {}).get("status")
        if status:
            span.set_attribute("llmspell.workflow.status", str(status))
        if status == "failed":
            span.set_attribute("error.type", "workflow_failed")
            span.set_status(Status(StatusCode.ERROR, str(result.get("error") or "failed")[:MAX_ATTR_CHARS]))

