"""OTLP/HTTP export of a collected trace, from the parent process.

Why the parent: the run's process scrubs its environment (so it never sees ``OTEL_*``) and its
network is the spell's policy, not the operator's collector. The collected OTLP JSON spans are
turned back into SDK ``ReadableSpan`` objects and handed to the standard
``OTLPSpanExporter``, so every standard variable applies as the OpenTelemetry specification says
(``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
``..._HEADERS``, ``..._TIMEOUT``, ``..._COMPRESSION``, certificates; ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` for the resource).
"""

from __future__ import annotations

import base64
from typing import Any

from llmspell import __version__
from llmspell.tracing import SCOPE_NAME, otlp_endpoint


def _value(v: dict[str, Any]) -> Any:
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "arrayValue" in v:
        return tuple(_value(x) for x in (v["arrayValue"].get("values") or []))
    if "bytesValue" in v:
        return base64.b64decode(v["bytesValue"])
    return None


def _attrs(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in items or []:
        val = _value(a.get("value") or {})
        if val is not None:
            out[str(a.get("key"))] = val
    return out


def readable_spans(otlp: dict[str, Any]) -> list[Any]:
    """SDK ``ReadableSpan`` objects from an OTLP JSON ``ExportTraceServiceRequest``."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    out: list[Any] = []
    flags = TraceFlags(TraceFlags.SAMPLED)
    for rs in otlp.get("resourceSpans") or []:
        # Resource.create adds OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME of this (the parent's) environment
        resource = Resource.create(_attrs((rs.get("resource") or {}).get("attributes")))
        for ss in rs.get("scopeSpans") or []:
            sc = ss.get("scope") or {}
            scope = InstrumentationScope(sc.get("name") or SCOPE_NAME, sc.get("version") or __version__)
            for s in ss.get("spans") or []:
                tid = int(s["traceId"], 16)
                ctx = SpanContext(tid, int(s["spanId"], 16), is_remote=False, trace_flags=flags)
                parent = (SpanContext(tid, int(s["parentSpanId"], 16), is_remote=False, trace_flags=flags)
                          if s.get("parentSpanId") else None)
                st = s.get("status") or {}
                status = Status(StatusCode(int(st.get("code", 0))), st.get("message") or None) \
                    if int(st.get("code", 0)) == 2 else Status(StatusCode(int(st.get("code", 0))))
                events = [Event(e.get("name", ""), _attrs(e.get("attributes")), int(e.get("timeUnixNano") or 0))
                          for e in s.get("events") or []]
                out.append(ReadableSpan(
                    name=s.get("name", ""), context=ctx, parent=parent, resource=resource,
                    attributes=_attrs(s.get("attributes")), events=events,
                    kind=SpanKind(max(0, int(s.get("kind", 1)) - 1)), status=status,
                    start_time=int(s.get("startTimeUnixNano") or 0), end_time=int(s.get("endTimeUnixNano") or 0),
                    instrumentation_scope=scope,
                ))
    return out


def export_otlp(otlp: dict[str, Any], endpoint: str | None = None) -> str | None:
    """Send the trace to the OTLP/HTTP endpoint (default: from the standard variables).

    Returns None on success or when no endpoint is configured, else a one-line reason (the caller
    shows it; a collector that is down never fails the run)."""
    endpoint = endpoint or otlp_endpoint()
    if not endpoint:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import SpanExportResult
    except ImportError as e:  # pragma: no cover - a partial install
        return f"cannot export traces: {e} (pip install opentelemetry-exporter-otlp-proto-http)"
    spans = readable_spans(otlp)
    if not spans:
        return None
    exporter = OTLPSpanExporter(endpoint=endpoint)
    try:
        result = exporter.export(spans)
    except Exception as e:
        return f"cannot export the trace to {endpoint}: {type(e).__name__}: {e}"
    finally:
        exporter.shutdown()
    if result is not SpanExportResult.SUCCESS:
        return f"the OTLP endpoint {endpoint} did not accept the trace"
    return None
