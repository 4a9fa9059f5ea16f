"""TraceCollector: the parent's side of a traced run (no OpenTelemetry import here).

It makes the run's :class:`~llmspell.tracing.TraceOptions` (trace id, root span id, start time),
keeps the ``spans`` messages the run's process sends, and when the run ends closes the trace:
the root span gets the run's final status (the supervisor knows a timeout or a kill that the child
never saw), and a root the child never finished (killed, crashed, never started) is written from
what the parent chose, with an error status saying why. :meth:`otlp_json` is the OTLP JSON
encoding of an ``ExportTraceServiceRequest``, which ``--trace FILE`` writes and the editor's
"Show trace" reads.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from llmspell import __version__
from llmspell.tracing import SCOPE_NAME, TraceOptions, service_name

MAX_SPANS = 50_000
"""Spans kept per run (a runaway loop must not grow the parent without bound); the rest are counted."""


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


class TraceCollector:
    """Collects one run's spans; see the module docstring."""

    def __init__(self, file: str | Path, language: str = "lua", *, spell_events: bool = True,
                 environ: dict[str, str] | None = None):
        self.file = str(file)
        self.language = language
        self.options = TraceOptions(service_name=service_name(environ), spell_events=spell_events)
        self.spans: list[dict[str, Any]] = []
        self.dropped = 0
        self.run_id: str | None = None
        self.status: str | None = None
        self.closed = False

    def add(self, spans: list[dict[str, Any]]) -> None:
        room = MAX_SPANS - len(self.spans)
        if room < len(spans):
            self.dropped += len(spans) - max(0, room)
            spans = spans[:max(0, room)]
        self.spans.extend(spans)

    def observe(self, msg: Any) -> bool:
        """Feed every run message here; True when it was a ``spans`` message (not for display)."""
        kind = getattr(msg, "type", None)
        if kind == "spans":
            self.add(list(msg.spans))
            return True
        if kind == "started":
            self.run_id = msg.run_id
        elif kind == "finished":
            self.finish(msg)
        return False

    def finish(self, fin: Any) -> None:
        """Close the trace with the run's final ``finished`` message."""
        if self.closed:
            return
        self.closed = True
        status = str(getattr(fin, "status", "error"))
        self.status = status
        error = getattr(fin, "error", None)
        root_id = self.options.root_span_id
        root = next((s for s in self.spans if s.get("spanId") == root_id), None)
        if root is None:
            end = self.options.start_ns + int(float(getattr(fin, "duration_ms", 0.0) or 0.0) * 1e6)
            # the parent's clock started before the child's: never end before a span it already sent
            end = max([end, *(int(sp.get("endTimeUnixNano") or 0) for sp in self.spans)])
            # ... and start where the run's process started (its first span), not at the spawn request
            start = min([self.options.start_ns if not self.spans else end,
                         *(int(sp.get("startTimeUnixNano") or end) for sp in self.spans)])
            root = {
                "traceId": self.options.trace_id, "spanId": root_id, "name": f"run {Path(self.file).name}",
                "kind": 1, "startTimeUnixNano": str(start),
                "endTimeUnixNano": str(max(end, start)),
                "attributes": [_attr("llmspell.spell.file", self.file),
                               _attr("llmspell.spell.language", self.language),
                               _attr("llmspell.run.id", getattr(fin, "run_id", "") or self.run_id or "")],
            }
            self.spans.insert(0, root)
        attrs = [a for a in root.get("attributes", []) if a.get("key") not in ("llmspell.run.status", "error.type")]
        attrs.append(_attr("llmspell.run.status", status))
        if status != "success":
            attrs.append(_attr("error.type", (getattr(error, "kind", None) or status)))
            message = getattr(error, "message", None) or status
            root["status"] = {"code": 2, "message": str(message)[:1024]}
        else:
            root.pop("status", None)
        if self.dropped:
            attrs.append(_attr("llmspell.trace.dropped_spans", self.dropped))
        root["attributes"] = attrs

    def otlp_json(self) -> dict[str, Any]:
        """The trace as an OTLP JSON ``ExportTraceServiceRequest`` (root first, then by start time)."""
        root_id = self.options.root_span_id
        spans = sorted(self.spans, key=lambda s: (s.get("spanId") != root_id, int(s.get("startTimeUnixNano") or 0)))
        return {"resourceSpans": [{
            "resource": {"attributes": [
                _attr("service.name", self.options.service_name),
                _attr("telemetry.sdk.name", "opentelemetry"),
                _attr("telemetry.sdk.language", "python"),
                _attr("service.version", __version__),
            ]},
            "scopeSpans": [{"scope": {"name": SCOPE_NAME, "version": __version__}, "spans": spans}],
        }]}

    def write(self, path: str | Path) -> Path:
        """Write :meth:`otlp_json` to ``path`` (atomically: a reader never sees half a trace)."""
        target = Path(path)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        tmp.write_text(json.dumps(self.otlp_json(), separators=(",", ":")) + "\n", encoding="utf-8")
        os.replace(tmp, target)
        return target
