"""LLM agent behaviour offline: history window, usage, tool loop, retries, hooks, events, templates,
agent-as-tool and hierarchical delegation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakes import collect_events, offline_runtime
from llmspell.agents.config import AgentConfig
from llmspell.agents.templates import TEMPLATES, config_from_template
from llmspell.core.errors import (
    AgentError,
    HookCancelledError,
    ProviderError,
    ResourceLimitError,
    ValidationError,
)
from llmspell.core.types import AgentInput, HookResult
from llmspell.providers.scripted import ScriptedProvider

FAST_RETRY = {"strategy": "retry", "max_attempts": 3, "base_delay_ms": 1, "jitter": 0}


def agent_with(rt: Any, provider: ScriptedProvider | None = None, *, name: str = "a", model: str = "offline/test",
               **cfg: Any) -> Any:
    if provider is not None:
        rt.providers.register(model, provider)
    p, m = model.split("/", 1)
    return rt.agents.create(AgentConfig(name=name, provider=p, model=m, **cfg))


async def test_execute_offline_metadata_usage_and_events() -> None:
    rt = offline_runtime()
    events = collect_events(rt, "agent.*")
    a = rt.agents.create(AgentConfig(name="helper", provider="openai", model="gpt-4o-mini",
                                     system_prompt="You are a friendly guide."))
    out = await a.execute(AgentInput(text="Hello there"))
    assert '"Hello there"' in out.text and "a friendly guide" in out.text
    md = out.metadata
    assert md["model"] == "gpt-4o-mini" and md["provider"] == "openai"
    assert md["offline"] is True and md["answered_by"] == "scripted"
    assert md["estimated_tokens"] == out.usage.total_tokens > 0
    assert md["cost_usd"] == 0.0 and md["duration_ms"] >= 0
    await a.execute(AgentInput(text="Again"))
    assert a.usage.total_tokens > out.usage.total_tokens  # accumulated over executes
    types = [e.event_type for e in events]
    assert types == ["agent.started", "agent.completed"] * 2
    started, completed = events[0].data, events[1].data
    assert started["component_name"] == "helper" and started["input_text_length"] == len("Hello there")
    assert {"duration_ms", "output_text_length", "has_tool_calls", "tool_call_count", "model_used"} <= set(completed)
    assert events[0].correlation_id == events[1].correlation_id
    assert a.state == "ready"


async def test_history_window_limits_sent_messages() -> None:
    rt = offline_runtime()
    p = ScriptedProvider()
    a = agent_with(rt, p, system_prompt="You are terse.", max_conversation_length=2)
    for i in range(4):
        await a.execute(AgentInput(text=f"message {i}"))
    sent = p.calls[-1].messages
    assert [m.role for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1].content == "message 2" and sent[-1].content == "message 3"
    assert len(a.history) == 2


async def test_history_is_multi_turn_by_default() -> None:
    rt = offline_runtime()
    p = ScriptedProvider()
    a = agent_with(rt, p)
    first = await a.execute(AgentInput(text="one"))
    second = await a.execute(AgentInput(text="two"))
    assert [m.content for m in p.calls[-1].messages] == ["one", first.text, "two"]
    assert "(Turn 2 of our conversation.)" in second.text


async def test_empty_input_is_a_validation_error() -> None:
    rt = offline_runtime()
    a = agent_with(rt)
    with pytest.raises(ValidationError, match="text"):
        await a.execute(AgentInput(text="  "))


async def test_tool_loop_runs_real_tools_through_registry() -> None:
    rt = offline_runtime()
    events = collect_events(rt)
    a = rt.agents.create(AgentConfig(name="calc", provider="openai", model="gpt-4o-mini",
                                     allowed_tools=["calculator", "hash-calculator"]))
    out = await a.execute(AgentInput(text="Please calculate 17 * (3 + 4)"))
    assert "calculator returned 119" in out.text
    assert out.metadata["tool_call_count"] == 1 and out.metadata["tools_used"] == ["calculator"]
    assert out.metadata["requests"] == 2
    types = [e.event_type for e in events]
    assert types.index("agent.tool_call") < types.index("tool.started") < types.index("tool.completed") \
        < types.index("agent.completed")
    tool_started = next(e for e in events if e.event_type == "tool.started")
    assert tool_started.data["caller"] == "calc"
    assert a.get_metrics()["tool_invocations"] == 1
    # the tool exchange is not kept in history: only the user message and the final answer
    assert [m["role"] for m in a.history] == ["user", "assistant"]


async def test_tool_hooks_apply_inside_the_loop() -> None:
    rt = offline_runtime()
    rt.hooks.register("BeforeToolExecution", lambda ctx: HookResult(kind="cancel", reason="no tools today"))
    a = rt.agents.create(AgentConfig(name="calc", provider="openai", model="gpt-4o-mini", allowed_tools=["calculator"]))
    out = await a.execute(AgentInput(text="calculate 2 + 2"))
    # the refusal goes back to the model, which reports it
    assert "calculator returned error" in out.text and "no tools today" in out.text


async def test_tool_loop_bounded_by_max_tool_calls() -> None:
    rt = offline_runtime()
    p = ScriptedProvider(rules=[{"pattern": ".*", "when": "any",
                                 "tool_calls": [{"name": "uuid-generator", "arguments": {"operation": "generate"}}]}])
    a = agent_with(rt, p, allowed_tools=["uuid-generator"], max_tool_calls=3)
    seen = collect_events(rt, "tool.completed")
    with pytest.raises(ResourceLimitError, match="max_tool_calls=3"):
        await a.execute(AgentInput(text="loop forever"))
    assert len(seen) == 3
    assert len(p.calls) == 4
    assert a.get_metrics()["requests_failed"] == 1


async def test_unknown_tool_request_goes_back_to_model() -> None:
    rt = offline_runtime()
    p = ScriptedProvider(rules=[{"pattern": "x", "tool_calls": [{"name": "not-allowed", "arguments": {}}]}])
    a = agent_with(rt, p, allowed_tools=["calculator", "does-not-exist"])
    out = await a.execute(AgentInput(text="x"))
    assert "not available to this agent" in out.text
    assert out.metadata["missing_tools"] == ["does-not-exist"]


async def test_provider_fails_then_recovers_with_retry_events() -> None:
    rt = offline_runtime()
    retries = collect_events(rt, "recovery.retry")
    a = agent_with(rt, ScriptedProvider(failures=[429, 503]), recovery=FAST_RETRY)
    out = await a.execute(AgentInput(text="hello"))
    assert '"hello"' in out.text
    assert [e.data["attempt"] for e in retries] == [1, 2]
    assert a.recovery_attempts == 2
    assert out.metadata["provider_total_requests"] == 3


async def test_retry_exhausted_and_non_retryable_fail_with_events() -> None:
    rt = offline_runtime()
    failed = collect_events(rt, "agent.failed")
    a = agent_with(rt, ScriptedProvider(failures=[500, 500, 500, 500]), recovery=FAST_RETRY)
    with pytest.raises(ProviderError) as ei:
        await a.execute(AgentInput(text="hello"))
    assert ei.value.status == 500
    assert a.metrics["provider_requests"] == 3
    b = agent_with(rt, ScriptedProvider(failures=[401]), name="b", model="offline/b", recovery=FAST_RETRY)
    with pytest.raises(ProviderError):
        await b.execute(AgentInput(text="hello"))
    assert b.metrics["provider_requests"] == 1
    assert [e.data["error_type"] for e in failed] == ["ProviderError", "ProviderError"]
    assert a.last_error is not None and "500" in a.last_error


async def test_fallback_agent_and_degraded_default() -> None:
    rt = offline_runtime()
    agent_with(rt, ScriptedProvider(rules=[{"reply": "backup answer"}]), name="backup", model="offline/backup")
    a = agent_with(rt, ScriptedProvider(failures=[500] * 5), recovery={**FAST_RETRY, "fallback": "backup"})
    out = await a.execute(AgentInput(text="hi"))
    assert out.text == "backup answer" and out.metadata["fallback_from"] == "a"
    d = agent_with(rt, ScriptedProvider(failures=[500] * 5), name="d", model="offline/d",
                   recovery={**FAST_RETRY, "use_default": True, "default": "sorry, offline"})
    out = await d.execute(AgentInput(text="hi"))
    assert out.text == "sorry, offline" and out.metadata["degraded"] is True


async def test_circuit_breaker_opens_for_agent() -> None:
    rt = offline_runtime()
    opened = collect_events(rt, "recovery.circuit.*")
    a = agent_with(rt, ScriptedProvider(failures=[500] * 10),
                   recovery={"strategy": "circuit_breaker", "failure_threshold": 2, "reset_timeout_s": 60})
    for _ in range(2):
        with pytest.raises(ProviderError):
            await a.execute(AgentInput(text="hi"))
    from llmspell.core.errors import CircuitOpenError

    with pytest.raises(CircuitOpenError):
        await a.execute(AgentInput(text="hi"))
    assert a.metrics["provider_requests"] == 2
    assert [e.event_type for e in opened] == ["recovery.circuit.opened"]


async def test_execution_hooks_modify_cancel_and_replace() -> None:
    rt = offline_runtime()
    p = ScriptedProvider()
    a = agent_with(rt, p)

    def before(ctx: Any) -> HookResult:
        return HookResult(kind="modified", data={**ctx.data, "text": ctx.data["text"].upper()})

    h = rt.hooks.register("BeforeAgentExecution", before)
    await a.execute(AgentInput(text="quiet words"))
    assert p.calls[-1].messages[-1].content == "QUIET WORDS"
    h.unregister()

    h = rt.hooks.register("AfterAgentExecution",
                          lambda ctx: HookResult(kind="modified", data={**ctx.data, "text": "edited"}))
    assert (await a.execute(AgentInput(text="x"))).text == "edited"
    h.unregister()

    calls_before = len(p.calls)
    rt.hooks.register("BeforeAgentExecution", lambda ctx: HookResult(kind="cancel", reason="policy"))
    with pytest.raises(HookCancelledError, match="policy"):
        await a.execute(AgentInput(text="x"))
    assert len(p.calls) == calls_before


async def test_agent_error_hook_retry_recovers() -> None:
    rt = offline_runtime()
    a = agent_with(rt, ScriptedProvider(failures=[400]), recovery="fail_fast")
    seen: list[dict] = []

    def on_error(ctx: Any) -> HookResult:
        seen.append(dict(ctx.data))
        return HookResult(kind="retry", delay_ms=0, max_attempts=2)

    rt.hooks.register("AgentError", on_error)
    out = await a.execute(AgentInput(text="try again"))
    assert '"try again"' in out.text
    assert seen[0]["error_type"] == "provider" and seen[0]["attempt"] == 1


async def test_init_and_shutdown_hooks_and_lifecycle() -> None:
    rt = offline_runtime()
    points: list[str] = []
    for pt in ("BeforeAgentInit", "AfterAgentInit", "BeforeAgentShutdown", "AfterAgentShutdown"):
        rt.hooks.register(pt, lambda ctx, pt=pt: points.append(pt))
    a = agent_with(rt)
    assert a.state == "uninitialized"
    await a.execute(AgentInput(text="hi"))  # first execute initialises
    assert a.state == "ready" and points == ["BeforeAgentInit", "AfterAgentInit"]
    assert await rt.agents.remove("a")
    assert points[2:] == ["BeforeAgentShutdown", "AfterAgentShutdown"]
    assert a.state == "terminated"
    with pytest.raises(AgentError, match="destroyed"):
        await a.execute(AgentInput(text="hi"))
    assert [t["to"] for t in a.state_history][:2] == ["Ready", "Running"]


async def test_max_execution_time() -> None:
    rt = offline_runtime()
    a = agent_with(rt, ScriptedProvider(rules=[{"pattern": ".*", "delay_s": 2}]), max_execution_time_secs=0.05,
                   recovery="fail_fast")
    with pytest.raises(ResourceLimitError, match="max_execution_time"):
        await a.execute(AgentInput(text="slow"))


async def test_streaming_chunks_events_and_output() -> None:
    rt = offline_runtime()
    chunk_events = collect_events(rt, "agent.stream.chunk")
    a = agent_with(rt)
    chunks = [c async for c in a.stream(AgentInput(text="tell me something"))]
    assert len(chunks) > 3
    assert "".join(chunks) == a.last_output.text
    assert [e.data["text"] for e in chunk_events] == chunks
    assert a.last_output.usage.total_tokens > 0


async def test_streaming_with_tool_loop() -> None:
    rt = offline_runtime()
    a = rt.agents.create(AgentConfig(name="s", provider="openai", model="gpt-4o-mini", allowed_tools=["calculator"]))
    chunks = [c async for c in a.stream(AgentInput(text="calculate 6 * 7"))]
    assert "calculator returned 42" in "".join(chunks)


async def test_unique_names() -> None:
    rt = offline_runtime()
    agent_with(rt, name="dup")
    with pytest.raises(AgentError, match="Agent instance 'dup' already exists"):
        agent_with(rt, name="dup")
    with pytest.raises(ValidationError, match="Model is required"):
        rt.agents.create({"name": "nomodel"})


def test_templates_have_prompts_and_tools() -> None:
    assert set(TEMPLATES) == {"research", "code", "data_analysis"}
    cfg = config_from_template("r1", "research", {"temperature": 0.9, "extra_tools": ["calculator"]})
    assert cfg["temperature"] == 0.9 and "calculator" in cfg["allowed_tools"] and "research" in cfg["system_prompt"]
    with pytest.raises(ValidationError, match="research"):
        config_from_template("x", "nope", None)


async def test_template_agent_uses_its_tools() -> None:
    rt = offline_runtime()
    cfg = config_from_template("analyst", "data_analysis", {"provider": "openai", "model": "gpt-4o-mini"})
    a = rt.agents.create(cfg)
    out = await a.execute(AgentInput(text="calculate 10 / 4"))
    assert "calculator returned 2.5" in out.text
    assert "a data analyst" in a.system_prompt.lower()


async def test_agent_as_tool_really_runs_the_agent() -> None:
    rt = offline_runtime()
    inner = agent_with(rt, ScriptedProvider(rules=[{"reply": "inner says: {input}"}]), name="expert",
                       model="offline/expert")
    tool_name = rt.agents.wrap_as_tool("expert", tool_name="ask_expert")
    assert tool_name == "ask_expert"
    out = await rt.tools.execute("ask_expert", {"input": "what is 2+2"})
    assert out.text == "inner says: what is 2+2"
    assert inner.get_metrics()["requests_total"] == 1
    outer = rt.agents.create(AgentConfig(name="outer", provider="openai", model="gpt-4o-mini",
                                         allowed_tools=["ask_expert"]))
    res = await outer.execute(AgentInput(text="Use ask_expert to check 'Lua tables'"))
    assert "ask_expert returned inner says" in res.text
    assert inner.get_metrics()["requests_total"] == 2
    with pytest.raises(ValidationError, match="input"):
        await rt.tools.execute("ask_expert", {"input": ""})
    await rt.agents.remove("expert")
    assert rt.tools.get("ask_expert") is None


async def test_hierarchical_supervisor_delegates_to_workers() -> None:
    rt = offline_runtime()
    sup_provider = ScriptedProvider(rules=[
        {"pattern": "You supervise", "reply": 'Plan: {"writer": "write the intro", "checker": "check facts"}'},
        {"pattern": "Synthesise", "reply": "FINAL from {input}"},
    ])
    agent_with(rt, sup_provider, name="boss", model="offline/boss")
    writer_p = ScriptedProvider(rules=[{"reply": "intro text"}])
    checker_p = ScriptedProvider(rules=[{"reply": "facts ok"}])
    writer = agent_with(rt, writer_p, name="writer", model="offline/writer")
    checker = agent_with(rt, checker_p, name="checker", model="offline/checker")
    comp = rt.agents.create_composite("team", ["boss", "writer", "checker"], {"strategy": "hierarchical"})
    out = await comp.execute(AgentInput(text="Write about Lua"))
    assert [c.last_user_text() for c in writer_p.calls] == ["write the intro"]
    assert [c.last_user_text() for c in checker_p.calls] == ["check facts"]
    assert writer.get_metrics()["requests_total"] == 1 and checker.get_metrics()["requests_total"] == 1
    assert out.metadata["agent_outputs"] == {"writer": "intro text", "checker": "facts ok"}
    synth = sup_provider.calls[-1].last_user_text()
    assert "writer: intro text" in synth and "checker: facts ok" in synth
    assert out.text.startswith("FINAL from Synthesise")
    h = comp.hierarchy()
    assert h["supervisor"] == "boss" and [c["name"] for c in h["children"]] == ["boss", "writer", "checker"]


async def test_hierarchical_without_plan_sends_task_to_every_worker() -> None:
    rt = offline_runtime()
    for n in ("lead", "w1", "w2"):
        agent_with(rt, ScriptedProvider(rules=[{"reply": f"{n}: {{input}}"}]), name=n, model=f"offline/{n}")
    comp = rt.agents.create_composite("t", ["lead", "w1", "w2"], "hierarchical")
    out = await comp.execute(AgentInput(text="task"))
    assert out.metadata["agent_outputs"] == {"w1": "w1: task", "w2": "w2: task"}


@pytest.mark.parametrize(("routing", "expected"), [
    ("sequential", "B(A(x))"),
    ("vote", "same"),
])
async def test_composite_routings(routing: str, expected: str) -> None:
    rt = offline_runtime()
    if routing == "sequential":
        agent_with(rt, ScriptedProvider(rules=[{"reply": "A({input})"}]), name="A", model="offline/A")
        agent_with(rt, ScriptedProvider(rules=[{"reply": "B({input})"}]), name="B", model="offline/B")
        names = ["A", "B"]
    else:
        for n, r in (("v1", "same"), ("v2", "same"), ("v3", "other")):
            agent_with(rt, ScriptedProvider(rules=[{"reply": r}]), name=n, model=f"offline/{n}")
        names = ["v1", "v2", "v3"]
    comp = rt.agents.create_composite("c", names, routing)
    assert (await comp.execute(AgentInput(text="x"))).text == expected


async def test_offline_supervisor_plans_and_synthesises() -> None:
    rt = offline_runtime()
    rt.agents.create(AgentConfig(name="lead", provider="openai", model="gpt-4o-mini"))
    wp = ScriptedProvider(rules=[{"reply": "w says {input}"}])
    agent_with(rt, wp, name="w", model="offline/w")
    comp = rt.agents.create_composite("crew", ["lead", "w"], "hierarchical")
    out = await comp.execute(AgentInput(text="Plan a picnic"))
    assert out.metadata["plan"] == {"w": "Plan a picnic"}  # the scripted supervisor answered with a JSON plan
    assert [c.last_user_text() for c in wp.calls] == ["Plan a picnic"]
    assert 'Combined answer to "Plan a picnic" from 1 worker(s): w said \'w says Plan a picnic\'' in out.text
