"""Spans of a traced run, made in-process by SpellRunner: names, GenAI attributes, parenting, errors,
hook executions and spell events as span events. An InMemorySpanExporter sees the same spans as the
``spans`` run messages (the OTLP JSON the parent writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from llmspell.config import load_config
from llmspell.messages import Finished, Spans
from llmspell.runner import SpellRunner
from llmspell.tracing import TraceOptions
from tracing.trace_helpers import AGENT_TOOL_WORKFLOW, attrs, by_name, one, parent_of


async def traced(tmp_path: Path, source: str, name: str = "spell.lua",
                 exporter: InMemorySpanExporter | None = None) -> tuple[list[dict[str, Any]], Finished, TraceOptions]:
    spell = tmp_path / name
    spell.write_text(source)
    config = load_config(tmp_path)
    procs = [SimpleSpanProcessor(exporter)] if exporter is not None else []
    runner = SpellRunner(config=config, trace_processors=procs)
    opts = TraceOptions()
    spans: list[dict[str, Any]] = []
    fin: Finished | None = None
    async for msg in runner.run(spell, trace=opts):
        if isinstance(msg, Spans):
            spans.extend(msg.spans)
        elif isinstance(msg, Finished):
            fin = msg
    assert fin is not None
    return spans, fin, opts


async def test_agent_with_tool_nests_chat_and_tool_spans_under_invoke_agent(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    spans, fin, opts = await traced(tmp_path, AGENT_TOOL_WORKFLOW, exporter=exporter)
    assert fin.status == "success", fin.error
    root = one(spans, "run spell.lua")
    assert root["spanId"] == opts.root_span_id and "parentSpanId" not in root
    assert {s["traceId"] for s in spans} == {opts.trace_id}
    ra = attrs(root)
    assert ra["llmspell.spell.language"] == "lua" and ra["llmspell.run.status"] == "success"
    assert ra["llmspell.spell.file"].endswith("spell.lua")

    agents = by_name(spans, "invoke_agent math-helper")
    assert len(agents) == 2  # the spell's own call, and the workflow's agent step
    top = next(a for a in agents if a.get("parentSpanId") == root["spanId"])
    aa = attrs(top)
    assert aa["gen_ai.operation.name"] == "invoke_agent"
    assert aa["gen_ai.agent.name"] == "math-helper" and aa["gen_ai.agent.id"]
    kids = [s for s in spans if s.get("parentSpanId") == top["spanId"]]
    assert [s["name"] for s in sorted(kids, key=lambda s: int(s["startTimeUnixNano"]))] == [
        "chat scripted", "execute_tool calculator", "chat scripted"]
    chats = [s for s in kids if s["name"].startswith("chat ")]
    for c in chats:
        ca = attrs(c)
        assert c["kind"] == 3  # SPAN_KIND_CLIENT
        assert ca["gen_ai.operation.name"] == "chat"
        assert ca["gen_ai.provider.name"] == "offline"
        assert ca["gen_ai.request.model"] == "scripted" and ca["gen_ai.response.model"] == "scripted"
        assert ca["gen_ai.usage.input_tokens"] > 0 and ca["gen_ai.usage.output_tokens"] > 0
    # the agent's usage is the sum of its model calls
    assert aa["gen_ai.usage.input_tokens"] == sum(attrs(c)["gen_ai.usage.input_tokens"] for c in chats)
    tool = next(s for s in kids if s["name"] == "execute_tool calculator")
    ta = attrs(tool)
    assert ta["gen_ai.operation.name"] == "execute_tool" and ta["gen_ai.tool.name"] == "calculator"
    assert ta["gen_ai.tool.type"] == "function" and ta["gen_ai.tool.call.id"].startswith("call_")
    assert tool.get("status", {}).get("code", 0) != 2
    # the hook written in the spell ran inside the tool's span
    ev = [e for e in tool.get("events", []) if e["name"] == "hook BeforeToolExecution"]
    assert len(ev) == 1
    ea = attrs(ev[0])
    assert ea["llmspell.hook.point"] == "BeforeToolExecution" and ea["llmspell.hook.result"] == "continue"
    assert ea["llmspell.hook.language"] == "lua" and "spell.lua:2" in ea["llmspell.hook.name"]
    # the spell's own event is an event of the root span (published from the spell's thread)
    assert [e["name"] for e in root.get("events", [])] == ["event user.checkpoint"]
    assert "agent done" in attrs(root["events"][0])["llmspell.event.data"]

    # the SDK's own exporter saw the same spans, with the same parents and kinds
    mem = exporter.get_finished_spans()
    assert sorted(s.name for s in mem) == sorted(s["name"] for s in spans)
    mem_chat = next(s for s in mem if s.name == "chat scripted")
    assert mem_chat.kind is SpanKind.CLIENT
    assert mem_chat.attributes is not None and mem_chat.attributes["gen_ai.operation.name"] == "chat"


async def test_workflow_steps_are_children_of_invoke_workflow(tmp_path: Path) -> None:
    spans, fin, _ = await traced(tmp_path, AGENT_TOOL_WORKFLOW)
    assert fin.status == "success"
    wf = one(spans, "invoke_workflow summary")
    wa = attrs(wf)
    assert wa["gen_ai.operation.name"] == "invoke_workflow" and wa["gen_ai.workflow.name"] == "summary"
    assert wa["llmspell.workflow.type"] == "sequential" and wa["llmspell.workflow.status"] == "completed"
    assert parent_of(spans, wf)["name"] == "run spell.lua"  # type: ignore[index]
    steps = sorted((s for s in spans if s.get("parentSpanId") == wf["spanId"]),
                   key=lambda s: attrs(s)["llmspell.workflow.step.index"])
    assert [s["name"] for s in steps] == ["step ask", "step hash"]
    assert [(attrs(s)["llmspell.workflow.step.type"], attrs(s)["llmspell.workflow.step.index"]) for s in steps] \
        == [("agent", 0), ("tool", 1)]
    # an agent step's agent span and a tool step's tool span nest under their step
    under_ask = [s["name"] for s in spans if s.get("parentSpanId") == steps[0]["spanId"]]
    assert under_ask == ["invoke_agent math-helper"]
    under_hash = [s["name"] for s in spans if s.get("parentSpanId") == steps[1]["spanId"]]
    assert under_hash == ["execute_tool hash-calculator"]
    # children start after and end before their parents
    for s in spans:
        p = parent_of(spans, s)
        if p is not None:
            assert int(p["startTimeUnixNano"]) <= int(s["startTimeUnixNano"])
            assert int(s["endTimeUnixNano"]) <= int(p["endTimeUnixNano"])


async def test_failed_tool_span_has_error_status_and_type(tmp_path: Path) -> None:
    src = '''
local ok, err = pcall(function() return Tool.execute("calculator", {input = "1 +* 2"}) end)
Tool.register("exploder", "always fails", function(p) error("boom from the tool") end)
local ok2, err2 = pcall(function() return Tool.execute("exploder", {}) end)
print(ok2, tostring(err2))
return true
'''
    spans, fin, _ = await traced(tmp_path, src)
    assert fin.status == "success", fin.error
    boom = one(spans, "execute_tool exploder")
    assert boom["status"]["code"] == 2 and "boom from the tool" in boom["status"]["message"]
    assert attrs(boom)["error.type"]
    exc = [e for e in boom.get("events", []) if e["name"] == "exception"]
    assert exc and "boom from the tool" in attrs(exc[0])["exception.message"]
    calc = one(spans, "execute_tool calculator")
    assert calc["status"]["code"] == 2 and attrs(calc)["error.type"]
    # the run itself succeeded: its root is not an error
    assert "status" not in one(spans, "run spell.lua")


async def test_hooks_that_modify_and_cancel_are_span_events(tmp_path: Path) -> None:
    src = '''
Hook.register("BeforeToolExecution", function(ctx)
  if ctx.component_id.name == "hash-calculator" then return {type = "cancel", reason = "no hashing today"} end
  return "continue"
end)
local ok, err = pcall(function() return Tool.execute("hash-calculator", {operation = "hash", input = "x"}) end)
return ok
'''
    spans, fin, _ = await traced(tmp_path, src)
    assert fin.status == "success"
    tool = one(spans, "execute_tool hash-calculator")
    ev = [attrs(e) for e in tool.get("events", []) if e["name"] == "hook BeforeToolExecution"]
    assert ev and ev[0]["llmspell.hook.result"] == "cancel" and ev[0]["llmspell.hook.reason"] == "no hashing today"
    assert tool["status"]["code"] == 2


async def test_failed_run_marks_the_root(tmp_path: Path) -> None:
    spans, fin, _ = await traced(tmp_path, 'local x = nil\nreturn x.y\n')
    assert fin.status == "error"
    root = one(spans, "run spell.lua")
    assert root["status"]["code"] == 2 and attrs(root)["llmspell.run.status"] == "error"


async def test_javascript_spells_are_traced_too(tmp_path: Path) -> None:
    src = '''
const agent = await Agent.builder().name("js-helper").model("offline/scripted")
  .allowedTools(["calculator"]).build();
const r = await agent.execute({text: "Please calculate 2 + 3"});
r.text;
'''
    spans, fin, _ = await traced(tmp_path, src, name="spell.js")
    assert fin.status == "success", fin.error
    agent = one(spans, "invoke_agent js-helper")
    assert attrs(one(spans, "run spell.js"))["llmspell.spell.language"] == "javascript"
    assert any(s["name"] == "execute_tool calculator" and s["parentSpanId"] == agent["spanId"] for s in spans)


@pytest.mark.parametrize("flag", [False, True])
async def test_spell_events_are_optional(tmp_path: Path, flag: bool) -> None:
    spell = tmp_path / "ev.lua"
    spell.write_text('Event.publish("user.ping", {n = 1})\nreturn 1\n')
    runner = SpellRunner(config=load_config(tmp_path))
    spans: list[dict[str, Any]] = []
    async for msg in runner.run(spell, trace=TraceOptions(spell_events=flag)):
        if isinstance(msg, Spans):
            spans.extend(msg.spans)
    root = one(spans, "run ev.lua")
    assert bool(root.get("events")) is flag


def test_status_codes_match_the_sdk() -> None:
    assert StatusCode.ERROR.value == 2 and SpanKind.CLIENT.value + 1 == 3


async def test_agent_as_tool_nests_under_the_calling_agents_tool_span(tmp_path: Path) -> None:
    src = '''
Agent.builder():name("math-helper"):model("offline/scripted"):allowed_tools({"calculator"}):build()
local tname = Agent.wrap_as_tool("math-helper", {tool_name = "mathtool"})
local boss = Agent.builder():name("boss"):model("offline/scripted"):allowed_tools({tname}):build()
local r = boss:execute({text = "Use mathtool: please calculate 3 * 4"})
return r.text
'''
    spans, fin, _ = await traced(tmp_path, src)
    assert fin.status == "success", fin.error
    boss = one(spans, "invoke_agent boss")
    wrapped = one(spans, "execute_tool mathtool")
    assert wrapped["parentSpanId"] == boss["spanId"]
    assert attrs(wrapped)["gen_ai.tool.call.id"].startswith("call_")
    inner = one(spans, "invoke_agent math-helper")
    assert inner["parentSpanId"] == wrapped["spanId"]
    calc = one(spans, "execute_tool calculator")
    assert calc["parentSpanId"] == inner["spanId"]
    assert {parent_of(spans, s)["name"] for s in by_name(spans, "chat scripted")} == {  # type: ignore[index]
        "invoke_agent boss", "invoke_agent math-helper"}


async def test_parallel_workflow_branches_keep_their_own_parents(tmp_path: Path) -> None:
    src = '''
local wf = Workflow.builder():name("fan"):parallel()
  :add_step({name = "a", type = "tool", tool = "calculator", input = {input = "1 + 1"}})
  :add_step({name = "b", type = "tool", tool = "calculator", input = {input = "2 + 2"}})
  :add_step({name = "c", type = "tool", tool = "hash-calculator", input = {operation = "hash", input = "x"}})
  :build()
return wf:execute({}).success
'''
    spans, fin, _ = await traced(tmp_path, src)
    assert fin.status == "success", fin.error
    wf = one(spans, "invoke_workflow fan")
    assert attrs(wf)["llmspell.workflow.type"] == "parallel"
    steps = {s["name"]: s for s in spans if s.get("parentSpanId") == wf["spanId"]}
    assert sorted(steps) == ["step a", "step b", "step c"]
    for s in spans:
        if s["name"].startswith("execute_tool"):
            assert parent_of(spans, s) in steps.values()
    assert len({s["parentSpanId"] for s in spans if s["name"].startswith("execute_tool")}) == 3


async def test_a_failed_model_call_is_an_error_chat_span_and_the_retry_a_second_one(tmp_path: Path) -> None:
    from llmspell.providers.scripted import ScriptedProvider
    from llmspell.runtime import Runtime

    config = load_config(tmp_path)

    def factory() -> Runtime:
        rt = Runtime(config)
        rt.providers.register("offline/flaky", ScriptedProvider("offline/flaky", failures=[503]))
        return rt

    spell = tmp_path / "flaky.lua"
    spell.write_text('local a = Agent.builder():name("flaky"):model("offline/flaky"):build()\n'
                     'return a:execute({text = "hello"}).text\n')
    spans: list[dict[str, Any]] = []
    fin = None
    async for msg in SpellRunner(factory).run(spell, trace=TraceOptions()):
        if isinstance(msg, Spans):
            spans.extend(msg.spans)
        elif isinstance(msg, Finished):
            fin = msg
    assert fin is not None and fin.status == "success", fin
    agent = one(spans, "invoke_agent flaky")
    chats = sorted(by_name(spans, "chat flaky"), key=lambda s: int(s["startTimeUnixNano"]))
    assert len(chats) == 2 and all(c["parentSpanId"] == agent["spanId"] for c in chats)
    failed, ok = chats
    assert failed["status"]["code"] == 2 and attrs(failed)["error.type"] == "provider"
    assert "gen_ai.usage.input_tokens" not in attrs(failed)
    assert "status" not in ok and attrs(ok)["gen_ai.usage.output_tokens"] > 0
    assert attrs(ok)["gen_ai.provider.name"] == "offline"
    assert "status" not in agent


async def test_mcp_tools_are_extension_tools(tmp_path: Path) -> None:
    """A tool of an MCP server (tests/fakes/mcp_server.py over stdio) is an ``extension`` tool span."""
    import sys

    fake = Path(__file__).resolve().parents[1] / "fakes" / "mcp_server.py"
    (tmp_path / "llmspell.toml").write_text(
        f'[mcp]\nprocess_allow = ["{sys.executable}"]\n\n[mcp.servers.fake]\ncommand = "{sys.executable}"\n'
        f'args = ["{fake}"]\ntimeout_s = 30\n', encoding="utf-8")
    spans, fin, _ = await traced(tmp_path, 'return Tool.execute("mcp.fake.add", {a = 2, b = 40}).result.result\n')
    assert fin.status == "success" and fin.result == 42, fin.error
    tool = one(spans, "execute_tool mcp.fake.add")
    ta = attrs(tool)
    assert ta["gen_ai.tool.type"] == "extension" and ta["gen_ai.tool.name"] == "mcp.fake.add"
    assert parent_of(spans, tool)["name"] == "run spell.lua"  # type: ignore[index]
