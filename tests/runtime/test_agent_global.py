"""The script-facing ``Agent`` and ``Provider`` globals: call shapes and result shapes (rs-llmspell §2.1, §2.9)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakes import collect_events, offline_runtime
from llmspell.api.context import SpellContext
from llmspell.api.decl import Dispatcher, ScriptFunction, exposed_methods
from llmspell.api.globals.agent import AgentBuilder, AgentGlobal, AgentInstance
from llmspell.api.globals.provider import ProviderGlobal
from llmspell.core.errors import AgentError, ValidationError
from llmspell.providers.scripted import ScriptedProvider


class Collect(ScriptFunction):
    language = "lua"

    def __init__(self) -> None:
        self.calls: list[Any] = []

    async def __call__(self, *args: Any) -> Any:
        self.calls.append(args)
        return None


def globals_(**config: Any) -> tuple[Any, AgentGlobal, ProviderGlobal]:
    rt = offline_runtime(**config)
    ctx = SpellContext(runtime=rt)
    return rt, AgentGlobal(ctx), ProviderGlobal(ctx)


async def build(agent_g: AgentGlobal, *calls: tuple[str, Any]) -> AgentInstance:
    b = Dispatcher.call(agent_g, "builder", [])
    for method, arg in calls:
        assert Dispatcher.call(b, method, [arg]) is b  # every setter returns the builder
    return await Dispatcher.call(b, "build", [])  # type: ignore[no-any-return]


async def test_builder_build_execute_output_table() -> None:
    __rt, Agent, _ = globals_()
    agent = await build(Agent, ("name", "helper"), ("model", "openai/gpt-4o-mini"),
                        ("system_prompt", "You are a concise assistant."), ("temperature", 0.2),
                        ("max_tokens", 200))
    assert isinstance(agent, AgentInstance) and agent.name == "helper"
    assert agent.get_state() == "Ready"
    r = await Dispatcher.call(agent, "execute", [{"text": "Explain Lua in one line"}])
    assert set(r) == {"text", "metadata"}
    assert '"Explain Lua in one line"' in r["text"]
    md = r["metadata"]
    assert {"model", "provider", "estimated_tokens", "usage", "cost_usd", "duration_ms", "offline"} <= set(md)
    assert md["model"] == "gpt-4o-mini" and md["provider"] == "openai"
    cfg = agent.get_config()
    assert cfg["temperature"] == 0.2 and cfg["max_tokens"] == 200 and "api_key" not in cfg


async def test_bare_model_defaults_to_openai_and_provider_method() -> None:
    _, Agent, _ = globals_()
    a = await build(Agent, ("name", "bare"), ("model", "gpt-4o-mini"))
    assert a.agent.model == "openai/gpt-4o-mini"
    b = await build(Agent, ("name", "anth"), ("provider", "anthropic"), ("model", "claude-3-haiku-20240307"))
    assert b.agent.model == "anthropic/claude-3-haiku-20240307"


async def test_execute_with_string_is_a_conversion_error() -> None:
    _, Agent, _ = globals_()
    a = await build(Agent, ("model", "openai/gpt-4o-mini"))
    with pytest.raises(ValidationError) as ei:
        await a.execute("hello")  # type: ignore[arg-type]
    msg = str(ei.value)
    assert "string" in msg and "table" in msg and "'text'" in msg
    with pytest.raises(ValidationError, match="text"):
        await a.execute({"parameters": {}})  # type: ignore[arg-type]


async def test_build_errors() -> None:
    _, Agent, _ = globals_()
    with pytest.raises(ValidationError, match="Model is required"):
        await Agent.builder().name("x").build()
    await build(Agent, ("name", "same"), ("model", "openai/gpt-4o-mini"))
    with pytest.raises(AgentError, match="Agent instance 'same' already exists"):
        await build(Agent, ("name", "same"), ("model", "openai/gpt-4o-mini"))
    with pytest.raises(AgentError, match=r"Agent\.builder\(\)"):
        Agent.create({"name": "old"})


async def test_auto_names_and_listing() -> None:
    _, Agent, _ = globals_()
    a = await build(Agent, ("model", "openai/gpt-4o-mini"))
    assert a.name.startswith("agent_") and len(a.name) == len("agent_") + 8
    await build(Agent, ("name", "second"), ("model", "openai/gpt-4o-mini"))
    assert Agent.list() == [{"name": a.name}, {"name": "second"}]
    assert Agent.list_instances() == [a.name, "second"]
    assert {"type": "llm"} in Agent.discover()
    got = Agent.get("second")
    assert isinstance(got, AgentInstance) and got.agent is not a.agent
    assert Agent.get("missing") is None
    info = Agent.get_info("llm")
    assert set(info) == {"name", "description", "category", "complexity", "required_parameters",
                         "optional_parameters"}
    details = Agent.get_details("second")
    assert details is not None and {"id", "name", "description", "config", "capabilities", "state"} <= set(details)
    assert Agent.get_details("missing") is None
    assert "second" in Agent.discover_by_capability("tool_calling")
    await got.destroy()
    assert Agent.list_instances() == [a.name]


async def test_register_config_table() -> None:
    _, Agent, _ = globals_()
    name = await Agent.register({"name": "reg", "model": {"provider": "openai", "model_id": "gpt-4o-mini",
                                                          "temperature": 0.5},
                                 "custom_config": {"system_prompt": "You are a poet."},
                                 "allowed_tools": ["calculator"], "resource_limits": {"max_tool_calls": 5}})
    assert name == "reg"
    a = Agent.get("reg")
    assert a is not None and a.agent.system_prompt == "You are a poet." and a.agent.config.max_tool_calls == 5
    with pytest.raises(ValidationError, match="model"):
        await Agent.register({"name": "bad"})


async def test_tools_from_script_api() -> None:
    __rt, Agent, _ = globals_()
    a = await build(Agent, ("name", "t"), ("model", "openai/gpt-4o-mini"), ("allow_tool", "calculator"),
                    ("allow_tool", "hash-calculator"))
    assert a.discover_tools() == ["calculator", "hash-calculator"]
    assert a.has_tool("calculator") and not a.has_tool("uuid-generator")
    assert a.get_tool_metadata("calculator")["name"] == "calculator"  # type: ignore[index]
    assert set(a.get_all_tool_metadata()) == {"calculator", "hash-calculator"}
    r = await Dispatcher.call(a, "invokeTool", ["calculator", {"input": "2 + 3"}])
    assert r["success"] is True and r["result"]["result"] == 5
    out = await a.execute({"text": "please calculate 2 ** 8"})
    assert "256" in out["text"] and out["metadata"]["tool_call_count"] == 1


async def test_invoke_stream_calls_callback_per_chunk() -> None:
    __rt, Agent, _ = globals_()
    a = await build(Agent, ("name", "s"), ("model", "openai/gpt-4o-mini"))
    cb = Collect()
    r = await Dispatcher.call(a, "invokeStream", [{"text": "stream me"}, cb])
    assert r["success"] is True and r["chunks_received"] == len(cb.calls) > 3
    assert "".join(c[0]["text"] for c in cb.calls) == r["text"]
    assert [c[0]["index"] for c in cb.calls] == list(range(len(cb.calls)))


async def test_json_answer_is_flattened_like_rs_llmspell() -> None:
    rt, Agent, _ = globals_()
    rt.providers.register("offline/json", ScriptedProvider(rules=[{"reply": '{"success": true, "result": 42}'}]))
    a = await build(Agent, ("model", "offline/json"))
    r = await a.execute({"text": "x"})
    assert r["success"] is True and r["result"] == 42 and "_raw_text" in r


async def test_wrap_as_tool_templates_and_composites() -> None:
    rt, Agent, _ = globals_()
    await build(Agent, ("name", "expert"), ("model", "openai/gpt-4o-mini"))
    tool = Agent.wrap_as_tool("expert", {"tool_name": "expert_tool", "category": "analysis"})
    assert tool == "expert_tool"
    out = await rt.tools.execute("expert_tool", {"input": "hello"})
    assert '"hello"' in out.text
    assert Agent.list_templates() == ["code", "data_analysis", "research"]
    r = await Agent.create_from_template("coder", "code", {"model": "openai/gpt-4o-mini", "temperature": 0.7})
    assert isinstance(r, AgentInstance) and "file-operations" in r.discover_tools()
    assert r.agent.config.temperature == 0.7
    with pytest.raises(ValidationError, match="unknown agent template"):
        await Agent.create_from_template("z", "nope", None)
    await build(Agent, ("name", "w1"), ("model", "openai/gpt-4o-mini"))
    Agent.create_composite("team", ["expert", "w1"], "hierarchical")
    h = Agent.get_hierarchy("team")
    assert h["supervisor"] == "expert" and [c["name"] for c in h["children"]] == ["expert", "w1"]
    team = Agent.get("team")
    assert team is not None
    res = await team.execute({"text": "do the thing"})
    assert set(res["metadata"]["agent_outputs"]) == {"w1"}
    with pytest.raises(ValidationError, match="unknown agent"):
        Agent.create_composite("bad", ["nobody"], "sequential")


async def test_contexts_and_shared_memory() -> None:
    rt, Agent, _ = globals_()
    cid = Agent.create_context({"data": {"topic": "lua"}, "session_id": "s1"})
    Agent.update_context(cid, "user", "ana")
    assert Agent.get_context_data(cid, "topic") == "lua" and Agent.get_context_data(cid, "user") == "ana"
    child = Agent.create_child_context(cid, "global", "copy")
    assert Agent.get_context_data(child, "user") == "ana"
    iso = Agent.create_child_context(cid, "global", "isolate")
    assert Agent.get_context_data(iso, "user") is None
    a = await build(Agent, ("model", "openai/gpt-4o-mini"))
    events = collect_events(rt, "agent.started")
    r = await a.execute_with_context({"text": "hi"}, cid)
    assert "text" in r and events[0].data["session_id"] == "s1"
    Agent.remove_context(cid)
    with pytest.raises(ValidationError, match="unknown context"):
        Agent.get_context_data(cid, "topic")
    Agent.set_shared_memory({"type": "session", "id": "s1"}, "k", {"v": 1})
    assert Agent.get_shared_memory({"type": "session", "id": "s1"}, "k") == {"v": 1}
    assert Agent.get_shared_memory("global", "k") is None


async def test_lifecycle_metrics_and_state_persistence() -> None:
    __rt, Agent, _ = globals_()
    a = await build(Agent, ("name", "life"), ("model", "openai/gpt-4o-mini"))
    await a.execute({"text": "one"})
    m = a.get_metrics()
    assert m is not None and set(m) == {"agent_id", "requests_total", "requests_failed", "requests_active",
                                        "tool_invocations", "memory_bytes", "cpu_percent"}
    assert m["requests_total"] == 1
    perf = a.get_performance()
    assert perf is not None and perf["success_rate"] == 1.0
    a.pause()
    assert a.get_state() == "Paused"
    a.set_error("broken")
    assert a.get_state() == "Error" and not a.is_healthy() and a.get_last_error() == "broken"
    a.recover()
    assert a.get_state() == "Ready" and a.get_recovery_attempts() == 1
    sm = a.get_state_metrics()
    assert sm["current_state"] == "Ready" and sm["error_count"] == 1
    assert {"from", "to", "timestamp", "elapsed", "reason"} <= set(a.get_state_history()[0])
    await a.save_state()
    a.clear_history()
    assert a.get_history() == []
    assert await a.load_state() is True
    assert [m["role"] for m in a.get_history()] == ["user", "assistant"]
    await a.delete_state()
    assert await a.load_state() is False
    assert a.get_usage()["total_tokens"] > 0


async def test_provider_global_shapes() -> None:
    _, Agent, Provider = globals_()
    await build(Agent, ("model", "openai/gpt-4o-mini"))
    items = Provider.list()
    names = [p["name"] for p in items]
    assert "scripted/openai/gpt-4o-mini" in names
    assert all(len(n.split("/")) == 3 and p["enabled"] is True for n, p in zip(names, items, strict=True))
    one = Provider.get("scripted/openai/gpt-4o-mini")
    assert one is not None and "available_models" not in one["capabilities"]
    assert Dispatcher.call(Provider, "getCapabilities", ["scripted/openai/gpt-4o-mini"])["supports_streaming"]
    assert Dispatcher.call(Provider, "isAvailable", ["scripted/openai/gpt-4o-mini"]) is True
    assert Provider.get("nope/nope/nope") is None and Provider.get_capabilities("nope") is None
    assert Provider.is_available("anthropic") is False


def test_declaration_markers_for_the_api_model() -> None:
    from llmspell.api.introspect import build_model

    model = build_model()
    agent = next(g for g in model.globals if g.name == "Agent")
    fns = {f.name: f for f in agent.functions}
    assert fns["create"].deprecated and "Agent.builder()" in fns["create"].deprecated
    assert fns["create_from_template"].params[1].names == "agent_templates"
    assert fns["builder"].returns == "AgentBuilder" and fns["get"].returns == "AgentInstance|nil"
    builder = next(c for c in model.classes if c.name == "AgentBuilder")
    bf = {f.name: f for f in builder.functions}
    assert all(f.returns_self for n, f in bf.items() if n != "build")
    assert bf["allow_tool"].params[0].names == "tools"
    # build() is declared expose(blocking=True): every engine waits for it, so the model says "not async"
    assert not bf["build"].is_async and exposed_methods(AgentBuilder)["build"].blocking
    inst = next(c for c in model.classes if c.name == "AgentInstance")
    ifn = {f.name: f for f in inst.functions}
    assert ifn["execute"].is_async and ifn["execute"].params[0].type == "AgentInput"
    assert ifn["invokeStream"].params[1].type == "function" and ifn["invokeStream"].js_name == "invokeStream"
    assert ifn["invokeTool"].params[1].schema_from == "tool_name"
    provider = next(g for g in model.globals if g.name == "Provider")
    assert {f.name for f in provider.functions} == {"list", "get", "getCapabilities", "isAvailable"}
    rs_builder = {"name", "description", "model", "provider", "system_prompt", "temperature", "max_tokens",
                  "max_conversation_length", "base_url", "api_key", "allow_tool", "allowed_tools",
                  "max_execution_time", "max_memory_mb", "max_tool_calls", "max_recursion_depth", "type",
                  "custom_config", "resource_limits", "build"}
    assert rs_builder <= set(exposed_methods(AgentBuilder))


async def test_with_the_real_runtime_container() -> None:
    from llmspell.runtime import Runtime

    rt = Runtime(state="memory")
    assert type(rt.providers).__name__ == "ProviderRegistry" and type(rt.agents).__name__ == "AgentRegistry"
    Agent = AgentGlobal(SpellContext(runtime=rt))
    seen = collect_events(rt, "*")
    a = await build(Agent, ("name", "real"), ("model", "openai/gpt-4o-mini"), ("allow_tool", "calculator"))
    r = await a.execute({"text": "please calculate 9 * 9"})
    assert "calculator returned 81" in r["text"]
    types = [e.event_type for e in seen]
    for t in ("agent.started", "agent.tool_call", "tool.started", "tool.completed", "agent.completed"):
        assert t in types
