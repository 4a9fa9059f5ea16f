"""OpenTelemetry traces of spell runs (GenAI semantic conventions), off unless asked for.

Why this package is split the way it is: a run executes in its own child process
(:mod:`llmspell.isolation`), so spans are *made* there (:mod:`llmspell.tracing.tracer`, the only
module that imports the OpenTelemetry SDK) and cross back as plain OTLP JSON inside ``spans`` run
messages; the parent keeps them (:mod:`llmspell.tracing.collect`), writes ``--trace FILE`` and
exports over OTLP/HTTP (:mod:`llmspell.tracing.export`). Importing this package, the options model
below, or the collector never imports ``opentelemetry``: an untraced run pays nothing.

The parent chooses the trace id and the root span's id before the child exists, so a run that is
killed before its root span ends still leaves a well-formed trace (the collector closes the root
with the run's final status).
"""

from __future__ import annotations

import os
import secrets
import time

from pydantic import BaseModel, Field

SCOPE_NAME = "llmspell"
"""The instrumentation scope of every span a run makes."""

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


class TraceOptions(BaseModel):
    """What the parent tells a run's process about its trace (plain data in the run request)."""

    trace_id: str = Field(default_factory=lambda: secrets.token_hex(16), pattern=r"^[0-9a-f]{32}$")
    root_span_id: str = Field(default_factory=lambda: secrets.token_hex(8), pattern=r"^[0-9a-f]{16}$")
    start_ns: int = Field(default_factory=time.time_ns)
    """When the parent asked for the run: where a root the run's process never sent starts, when no span
    arrived either (the process's own root starts when the run does, after the spawn)."""
    service_name: str = "llmspell"
    spell_events: bool = True
    """Events a spell publishes (``Event.publish``) become span events of the span they happen in."""


def otlp_endpoint(environ: dict[str, str] | os._Environ[str] | None = None) -> str | None:
    """The OTLP/HTTP traces endpoint the standard variables name, or None (no export).

    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is used as given; ``OTEL_EXPORTER_OTLP_ENDPOINT`` gets
    ``/v1/traces`` appended (the OTLP exporter specification). ``OTEL_SDK_DISABLED=true`` or
    ``OTEL_TRACES_EXPORTER=none`` turn export off."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return None
    traces = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if traces:
        return traces
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if base:
        return base.rstrip("/") + "/v1/traces"
    return None


def service_name(environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("OTEL_SERVICE_NAME", "").strip() or "llmspell"


__all__ = ["ENDPOINT_VARS", "SCOPE_NAME", "TraceOptions", "otlp_endpoint", "service_name"]
