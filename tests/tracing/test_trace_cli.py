"""``--trace FILE`` (OTLP JSON written by the parent), OTLP/HTTP export to a receiver on 127.0.0.1,
killed and timed-out runs, and no OpenTelemetry import when tracing is off."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from llmspell.config import load_config
from llmspell.isolation import ForkSpawner, IsolatedRunner
from llmspell.messages import Finished, Spans
from llmspell.tracing.collect import TraceCollector
from tracing.trace_helpers import AGENT_TOOL_WORKFLOW, attrs, by_name, cli_env, one, parent_of, run_cli, spans_of

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def _hex_ids_to_base64(otlp: dict[str, Any]) -> dict[str, Any]:
    """OTLP JSON carries ids as hex; the generic protobuf JSON mapping wants base64 for bytes."""
    out = json.loads(json.dumps(otlp))
    for s in spans_of(out):
        for k in ("traceId", "spanId", "parentSpanId"):
            if k in s:
                s[k] = base64.b64encode(bytes.fromhex(s[k])).decode()
    return out


def test_trace_file_is_otlp_json(tmp_path: Path) -> None:
    spell = tmp_path / "traced.lua"
    spell.write_text(AGENT_TOOL_WORKFLOW)
    out = tmp_path / "run.json"
    proc = run_cli(spell, "--trace", str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"spans written to {out}" in proc.stderr
    otlp = json.loads(out.read_text())
    # the shape of an ExportTraceServiceRequest in the OTLP JSON encoding
    rs = otlp["resourceSpans"][0]
    assert {"key": "service.name", "value": {"stringValue": "llmspell"}} in rs["resource"]["attributes"]
    assert rs["scopeSpans"][0]["scope"]["name"] == "llmspell"
    spans = spans_of(otlp)
    assert len({s["traceId"] for s in spans}) == 1
    for s in spans:
        assert HEX32.match(s["traceId"]) and HEX16.match(s["spanId"])
        assert "parentSpanId" not in s or HEX16.match(s["parentSpanId"])
        assert isinstance(s["startTimeUnixNano"], str) and int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"])
        assert s["kind"] in (1, 3)
        for a in s["attributes"]:
            assert set(a) == {"key", "value"} and len(a["value"]) == 1
    # the protobuf definitions accept it (field names, value types, enums)
    req = json_format.ParseDict(_hex_ids_to_base64(otlp), ExportTraceServiceRequest())
    pspans = req.resource_spans[0].scope_spans[0].spans
    assert len(pspans) == len(spans)
    names = {p.name for p in pspans}
    assert {"run traced.lua", "invoke_agent math-helper", "chat scripted", "execute_tool calculator",
            "invoke_workflow summary", "step ask", "step hash", "execute_tool hash-calculator"} <= names
    root = one(spans, "run traced.lua")
    assert "parentSpanId" not in root and attrs(root)["llmspell.run.status"] == "success"
    tool = by_name(spans, "execute_tool calculator")[0]
    assert parent_of(spans, tool)["name"] == "invoke_agent math-helper"  # type: ignore[index]


def test_trace_needs_run(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "llmspell_ls", "--trace", str(tmp_path / "x.json")],
                          env=cli_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--trace" in proc.stderr and "need --run FILE" in proc.stderr


def test_timed_out_run_leaves_a_trace_with_the_root_marked(tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text("[limits]\nwall_time_s = 1\n")
    spell = tmp_path / "slow.lua"
    spell.write_text(textwrap.dedent('''
        local r = Tool.execute("calculator", {input = "1 + 1"})
        while true do end
    '''))
    out = tmp_path / "run.json"
    proc = run_cli(spell, "--trace", str(out))
    assert proc.returncode == 1 and "timeout" in proc.stderr
    spans = spans_of(json.loads(out.read_text()))
    root = one(spans, "run slow.lua")
    assert root["status"]["code"] == 2 and "wall time" in root["status"]["message"]
    assert attrs(root)["llmspell.run.status"] == "timeout" and attrs(root)["error.type"] == "timeout"
    assert parent_of(spans, one(spans, "execute_tool calculator")) is root


async def test_killed_run_keeps_finished_spans_and_an_error_root(tmp_path: Path) -> None:
    """SIGKILL the run's process mid-spell: the spans it already sent stay, the root is closed by the
    parent with the reason the supervisor gives."""
    spell = tmp_path / "killed.lua"
    spell.write_text(textwrap.dedent('''
        local agent = Agent.builder():name("helper"):model("offline/scripted"):allowed_tools({"calculator"}):build()
        agent:execute({text = "Please calculate 2 + 2"})
        while true do end
    '''))
    runner = IsolatedRunner(config=load_config(tmp_path), spawner=ForkSpawner())
    collector = TraceCollector(spell, "lua")
    killed = False
    fin: Finished | None = None
    async for msg in runner.run(spell, trace=collector.options):
        collector.observe(msg)
        if isinstance(msg, Spans) and not killed and any(s["name"].startswith("invoke_agent") for s in msg.spans):
            os.kill(runner._watches[msg.run_id].pid, signal.SIGKILL)
            killed = True
        if isinstance(msg, Finished):
            fin = msg
    assert killed and fin is not None and fin.status == "error"
    assert "SIGKILL" in (fin.error.message if fin.error else "")
    spans = spans_of(collector.otlp_json())
    root = one(spans, "run killed.lua")
    assert root["spanId"] == collector.options.root_span_id
    assert root["status"]["code"] == 2 and "SIGKILL" in root["status"]["message"]
    assert attrs(root)["error.type"] == "crash"
    agent = one(spans, "invoke_agent helper")
    assert agent["parentSpanId"] == root["spanId"]
    assert int(root["endTimeUnixNano"]) >= int(agent["endTimeUnixNano"])


# ------------------------------------------------------------------------------ OTLP/HTTP


class Receiver:
    """A minimal OTLP/HTTP traces receiver: POST /v1/traces with a protobuf ExportTraceServiceRequest."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.content_types: list[str] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            import gzip

            body = gzip.decompress(body)
        msg = ExportTraceServiceRequest()
        msg.ParseFromString(body)
        self.requests.append(msg)
        self.content_types.append(request.headers.get("Content-Type", ""))
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/traces", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def receiver() -> Any:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


def _decoded(req: ExportTraceServiceRequest) -> tuple[dict[str, Any], list[Any]]:
    rs = req.resource_spans[0]
    res = {a.key: a.value.string_value for a in rs.resource.attributes}
    return res, [s for ss in rs.scope_spans for s in ss.spans]


def _pattrs(span: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in span.attributes:
        kind = a.value.WhichOneof("value")
        out[a.key] = getattr(a.value, kind)
    return out


async def test_otlp_http_export_to_a_local_receiver(tmp_path: Path, receiver: Receiver) -> None:
    spell = tmp_path / "exported.lua"
    spell.write_text(AGENT_TOOL_WORKFLOW)
    env = cli_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_SERVICE_NAME="spells-under-test")
    proc = await asyncio.to_thread(run_cli, spell, env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(receiver.requests) == 1 and receiver.content_types == ["application/x-protobuf"]
    res, spans = _decoded(receiver.requests[0])
    assert res["service.name"] == "spells-under-test"
    by_id = {s.span_id: s for s in spans}
    names = [s.name for s in spans]
    assert names.count("invoke_agent math-helper") == 2 and "invoke_workflow summary" in names
    root = next(s for s in spans if s.name == "run exported.lua")
    assert root.parent_span_id == b""
    assert len({s.trace_id for s in spans}) == 1 and len(spans[0].trace_id) == 16
    tool = next(s for s in spans if s.name == "execute_tool calculator")
    assert by_id[tool.parent_span_id].name == "invoke_agent math-helper"
    chat = next(s for s in spans if s.name == "chat scripted")
    ca = _pattrs(chat)
    assert ca["gen_ai.operation.name"] == "chat" and ca["gen_ai.provider.name"] == "offline"
    assert ca["gen_ai.usage.input_tokens"] > 0 and chat.kind == 3
    step = next(s for s in spans if s.name == "step hash")
    assert by_id[step.parent_span_id].name == "invoke_workflow summary"
    assert _pattrs(step)["llmspell.workflow.step.index"] == 1
    hook_events = [e for e in tool.events if e.name == "hook BeforeToolExecution"]
    assert len(hook_events) == 1


async def test_traces_endpoint_variable_is_used_as_given(tmp_path: Path, receiver: Receiver) -> None:
    spell = tmp_path / "t.lua"
    spell.write_text('return Tool.execute("calculator", {input = "6 * 7"}).result.result\n')
    env = cli_env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.url + "/v1/traces",
                  OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9/unused")
    proc = await asyncio.to_thread(run_cli, spell, env=env)
    assert proc.returncode == 0, proc.stderr
    _, spans = _decoded(receiver.requests[0])
    assert sorted(s.name for s in spans) == ["execute_tool calculator", "run t.lua"]


def test_unreachable_collector_is_one_line_and_not_a_failure(tmp_path: Path) -> None:
    spell = tmp_path / "t.lua"
    spell.write_text("return 1\n")
    env = cli_env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:9/v1/traces", OTEL_EXPORTER_OTLP_TIMEOUT="2")
    proc = run_cli(spell, env=env)
    assert proc.returncode == 0
    assert "[llmspell] cannot export the trace to http://127.0.0.1:9/v1/traces" in proc.stderr \
        or "did not accept the trace" in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------------------ off means off


def test_untraced_runs_never_import_opentelemetry(tmp_path: Path) -> None:
    spell = tmp_path / "plain.lua"
    spell.write_text(AGENT_TOOL_WORKFLOW)
    code = textwrap.dedent(f'''
        import asyncio, sys
        from pathlib import Path
        from llmspell.config import load_config
        from llmspell.isolation import ForkSpawner, IsolatedRunner
        from llmspell.runner import SpellRunner

        async def main():
            spell = Path({str(spell)!r})
            cfg = load_config(spell.parent)
            statuses = []
            for runner in (IsolatedRunner(config=cfg, spawner=ForkSpawner()), SpellRunner(config=cfg)):
                async for msg in runner.run(spell):
                    assert msg.type != "spans"
                    if msg.type == "finished":
                        statuses.append(msg.status)
            return statuses

        print(asyncio.run(main()))
        print(sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry"))
    ''')
    proc = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["['success', 'success']", "[]"]


async def test_cancelled_run_marks_the_root_cancelled(tmp_path: Path) -> None:
    spell = tmp_path / "cancel.lua"
    spell.write_text('Tool.execute("calculator", {input = "1 + 1"})\nwhile true do end\n')
    runner = IsolatedRunner(config=load_config(tmp_path), spawner=ForkSpawner())
    collector = TraceCollector(spell, "lua")
    async for msg in runner.run(spell, trace=collector.options):
        collector.observe(msg)
        if isinstance(msg, Spans) and any(s["name"] == "execute_tool calculator" for s in msg.spans):
            await runner.cancel(msg.run_id)
    assert collector.status == "cancelled"
    spans = spans_of(collector.otlp_json())
    root = one(spans, "run cancel.lua")
    assert root["status"] == {"code": 2, "message": "the spell was cancelled"}
    assert attrs(root)["llmspell.run.status"] == "cancelled" and attrs(root)["error.type"] == "cancelled"
    assert parent_of(spans, one(spans, "execute_tool calculator")) is root


def test_collector_bounds_the_spans_it_keeps() -> None:
    from llmspell.messages import ErrorInfo
    from llmspell.tracing import collect

    c = TraceCollector("x.lua")
    span = {"traceId": c.options.trace_id, "spanId": "00000000000000aa", "name": "execute_tool t",
            "startTimeUnixNano": "1", "endTimeUnixNano": "2", "attributes": []}
    for _ in range(3):
        c.add([dict(span)] * (collect.MAX_SPANS // 2))
    c.finish(Finished(run_id="r", status="error", error=ErrorInfo(message="boom", kind="script")))
    assert len(c.spans) == collect.MAX_SPANS + 1  # + the root the parent wrote
    root = c.spans[0]
    assert root["spanId"] == c.options.root_span_id and root["status"]["message"] == "boom"
    assert attrs(root)["llmspell.trace.dropped_spans"] == collect.MAX_SPANS // 2
    assert attrs(root)["error.type"] == "script"
