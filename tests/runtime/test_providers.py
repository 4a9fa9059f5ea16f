"""Scripted provider, provider registry resolution, and record/replay (all offline)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakes import offline_runtime
from llmspell.agents.config import AgentConfig
from llmspell.config import ProviderSettings, RuntimeConfig
from llmspell.core.errors import ConfigurationError, ProviderError
from llmspell.core.types import AgentInput
from llmspell.providers.base import ChatMessage, CompletionRequest, tool_spec
from llmspell.providers.recording import RecordingProvider, ReplayMissError
from llmspell.providers.registry import ProviderRegistry
from llmspell.providers.scripted import ScriptedProvider, find_expression, safe_eval
from llmspell.tools.registry import ToolRegistry


def req(text: str, *, system: str | None = None, tools: list[dict] | None = None, model: str = "openai/gpt-4o-mini",
        extra: list[ChatMessage] | None = None) -> CompletionRequest:
    msgs = [ChatMessage(role="system", content=system)] if system else []
    msgs.append(ChatMessage(role="user", content=text))
    msgs.extend(extra or [])
    return CompletionRequest(model=model, messages=msgs, tools=tools or [])


def builtin_spec(name: str) -> dict:
    tool = ToolRegistry(None).get(name)
    assert tool is not None
    s = tool.schema()
    return tool_spec(s.name, s.description, s.parameters)


# ---------------------------------------------------------------------------------------- scripted


async def test_scripted_reply_is_deterministic_and_meaningful() -> None:
    r = req("What is Lua used for?", system="You are a helpful assistant that explains concepts clearly.")
    a = await ScriptedProvider("openai/gpt-4o-mini").complete(r)
    b = await ScriptedProvider("openai/gpt-4o-mini").complete(r)
    assert a == b
    assert '"What is Lua used for?"' in a.text
    assert "a helpful assistant that explains concepts clearly" in a.text
    assert a.finish_reason == "stop" and a.tool_calls == []
    other = await ScriptedProvider("openai/gpt-4o-mini").complete(req("Something else"))
    assert other.text != a.text


async def test_scripted_usage_estimate_and_zero_cost() -> None:
    r = req("x" * 40, system="y" * 20)
    c = await ScriptedProvider().complete(r)
    assert c.usage.prompt_tokens == 15  # 60 chars / 4
    assert c.usage.completion_tokens == (len(c.text) + 3) // 4
    assert c.usage.total_tokens == c.usage.prompt_tokens + c.usage.completion_tokens
    assert c.usage.cost_usd == 0.0


async def test_scripted_arithmetic_in_default_reply() -> None:
    c = await ScriptedProvider().complete(req("what is 15 * (2 + 3)?"))
    assert "15 * (2 + 3) = 75" in c.text
    assert find_expression("compute 7 x 6 please") == "7 * 6"
    assert safe_eval("2 ** 10") == 1024
    assert safe_eval("__import__('os')") is None


async def test_rules_reply_template_times_and_order() -> None:
    p = ScriptedProvider(rules=[
        {"pattern": r"(?i)weather", "reply": "Sunny, you asked: {input}", "times": 1},
        {"pattern": r"(?i)weather", "reply": "Rainy now"},
    ])
    assert (await p.complete(req("Weather in Oslo?"))).text == "Sunny, you asked: Weather in Oslo?"
    assert (await p.complete(req("Weather in Oslo?"))).text == "Rainy now"
    assert "I received" in (await p.complete(req("unrelated"))).text
    assert len(p.calls) == 3


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (408, True), (400, False), (401, False)])
async def test_rule_failures_raise_provider_error(status: int, retryable: bool) -> None:
    p = ScriptedProvider(rules=[{"pattern": "boom", "fail": status}])
    with pytest.raises(ProviderError) as ei:
        await p.complete(req("boom"))
    assert ei.value.status == status
    assert ei.value.retryable is retryable
    assert str(status) in str(ei.value)


async def test_fail_n_times_then_succeed() -> None:
    p = ScriptedProvider(failures=[429, 500])
    statuses = []
    for _ in range(2):
        with pytest.raises(ProviderError) as ei:
            await p.complete(req("hi"))
        statuses.append(ei.value.status)
    assert statuses == [429, 500]
    assert (await p.complete(req("hi"))).text
    p2 = ScriptedProvider(rules=[{"pattern": ".*", "fail": 503, "times": 2}])
    for _ in range(2):
        with pytest.raises(ProviderError):
            await p2.complete(req("hi"))
    assert (await p2.complete(req("hi"))).text


async def test_scripted_timeout_rule() -> None:
    p = ScriptedProvider(rules=[{"pattern": "slow", "delay_s": 5}])
    r = req("slow please").model_copy(update={"timeout_s": 0.05})
    with pytest.raises(TimeoutError):
        await p.complete(r)


async def test_heuristic_tool_call_satisfies_schema_then_uses_result() -> None:
    calc = builtin_spec("calculator")
    p = ScriptedProvider()
    r = req("Please calculate 17 * (3 + 4)", tools=[calc, builtin_spec("uuid-generator")])
    c = await p.complete(r)
    assert c.finish_reason == "tool_calls"
    [call] = c.tool_calls
    assert call.name == "calculator"
    # the arguments validate against the real tool's parameter model
    tool = ToolRegistry(None).get("calculator")
    params = tool.validate_params(call.arguments)  # type: ignore[union-attr]
    assert params.input == "17 * (3 + 4)"  # type: ignore[attr-defined]
    assert call.id == (await ScriptedProvider().complete(r)).tool_calls[0].id  # deterministic ids
    follow = r.model_copy(update={"messages": [
        *r.messages,
        ChatMessage(role="assistant", tool_calls=c.tool_calls),
        ChatMessage(role="tool", tool_call_id=call.id, name="calculator",
                    content=json.dumps({"operation": "evaluate", "success": True, "result": {"result": 119}})),
    ]})
    answer = await p.complete(follow)
    assert answer.finish_reason == "stop"
    assert "calculator returned 119" in answer.text


@pytest.mark.parametrize(("text", "tool"), [
    ("sha256 hash of 'hello'", "hash-calculator"),
    ("give me a uuid", "uuid-generator"),
    ("base64 encode 'abc'", "base64-encoder"),
    ("make 'hello world' uppercase", "text-manipulator"),
])
async def test_heuristic_picks_offered_builtin(text: str, tool: str) -> None:
    specs = [builtin_spec(n) for n in ("hash-calculator", "uuid-generator", "base64-encoder", "text-manipulator")]
    c = await ScriptedProvider().complete(req(text, tools=specs))
    assert [t.name for t in c.tool_calls] == [tool]
    real = ToolRegistry(None).get(tool)
    real.validate_params(c.tool_calls[0].arguments)  # type: ignore[union-attr]


async def test_no_tool_call_without_a_reason_or_without_offer() -> None:
    specs = [builtin_spec("calculator")]
    assert (await ScriptedProvider().complete(req("Tell me a story", tools=specs))).tool_calls == []
    assert (await ScriptedProvider().complete(req("please calculate 2+2"))).tool_calls == []


async def test_rule_tool_calls_fill_missing_arguments() -> None:
    p = ScriptedProvider(rules=[{"pattern": "go", "tool_calls": [{"name": "uuid-generator"}]}])
    c = await p.complete(req("go", tools=[builtin_spec("uuid-generator")]))
    assert c.tool_calls[0].name == "uuid-generator"
    assert c.tool_calls[0].arguments["operation"] == "generate"


async def test_stream_yields_words_and_usage_last() -> None:
    p = ScriptedProvider()
    r = req("stream this please")
    chunks = [c async for c in p.stream(r)]
    full = await ScriptedProvider().complete(r)
    assert len(chunks) > 5
    assert "".join(c.text for c in chunks) == full.text
    assert chunks[-1].usage == full.usage and chunks[-1].finish_reason == "stop"
    assert all(c.usage is None for c in chunks[:-1])


# ---------------------------------------------------------------------------------------- registry


def test_registry_offline_by_default_and_names() -> None:
    reg = ProviderRegistry(RuntimeConfig())
    for mid in ("offline/scripted", "scripted/x", "openai/gpt-4o-mini", "gpt-4o-mini", "anthropic/claude-3-5-haiku"):
        e = reg.entry(mid)
        assert e.impl == "scripted" and e.offline
    assert reg.entry("gpt-4o-mini").name == "scripted/openai/gpt-4o-mini"
    names = [p["name"] for p in reg.list()]
    assert "scripted/offline/scripted" in names and "scripted/anthropic/claude-3-5-haiku" in names
    item = reg.list()[0]
    assert set(item) >= {"name", "enabled", "capabilities"}
    assert set(item["capabilities"]) >= {"supports_streaming", "supports_multimodal", "max_context_tokens",
                                         "available_models"}
    assert reg.get("openai/gpt-4o-mini") is reg.get("openai/gpt-4o-mini")


def test_registry_uses_litellm_only_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-test")
    cfg = RuntimeConfig(providers={"openai": ProviderSettings(base_url="http://127.0.0.1:9/v1", api_key_env="MY_KEY",
                                                              timeout_s=3, max_retries=0)},
                        default_model="ollama/llama3")
    reg = ProviderRegistry(cfg)
    p = reg.get("openai/gpt-4o-mini")
    assert p.name == "litellm"
    assert p.api_base == "http://127.0.0.1:9/v1" and p.api_key == "sk-test"  # type: ignore[attr-defined]
    assert p.timeout_s == 3 and p.max_retries == 0  # type: ignore[attr-defined]
    assert reg.get("ollama/llama3").name == "litellm"  # default_model names it (--model)
    # a runtime configured for real models does not answer an unconfigured provider offline (issue 11)
    with pytest.raises(ConfigurationError, match=r"provider anthropic has no credentials: set ANTHROPIC_API_KEY"):
        reg.get("anthropic/claude-3-haiku")
    assert reg.get("anthropic/claude-3-haiku", base_url="http://127.0.0.1:1").name == "litellm"
    assert reg.get("offline/scripted").name == "scripted"


def test_registry_explicit_registration_wins() -> None:
    reg = ProviderRegistry(RuntimeConfig())
    custom = ScriptedProvider(rules=[{"reply": "custom"}])
    reg.get("offline/flaky")
    reg.register("offline/flaky", custom)
    assert reg.get("offline/flaky") is custom


def test_import_llmspell_does_not_import_litellm() -> None:
    code = (
        "import sys, llmspell, llmspell.providers.registry, llmspell.agents.llm, llmspell.api.globals\n"
        "from llmspell.providers.registry import ProviderRegistry\n"
        "from llmspell.config import RuntimeConfig\n"
        "import asyncio\n"
        "from llmspell.providers.base import ChatMessage, CompletionRequest\n"
        "reg = ProviderRegistry(RuntimeConfig())\n"
        "r = CompletionRequest(model='openai/gpt-4o-mini', messages=[ChatMessage(role='user', content='hi')])\n"
        "asyncio.run(reg.get('openai/gpt-4o-mini').complete(r))\n"
        "print('litellm' in sys.modules, 'openai' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False False"


# ---------------------------------------------------------------------------------------- record / replay


async def _conversation(rt) -> list[str]:  # type: ignore[no-untyped-def]
    agent = rt.agents.create(AgentConfig(name="rec", provider="openai", model="gpt-4o-mini",
                                         system_prompt="You are a careful calculator.", allowed_tools=["calculator"]))
    outs = [(await agent.execute(AgentInput(text="please calculate 6 * 7"))).text,
            (await agent.execute(AgentInput(text="And what about Lua?"))).text]
    outs.append("".join([c async for c in agent.stream(AgentInput(text="stream a reply"))]))
    return outs


async def test_record_then_replay_gives_identical_output(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    rec_rt = offline_runtime(record_path=str(path))
    assert isinstance(rec_rt.providers.get("openai/gpt-4o-mini"), RecordingProvider)
    recorded = await _conversation(rec_rt)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["kind"] for x in lines] == ["complete", "complete", "complete", "stream"]
    assert "42" in recorded[0]

    rep_rt = offline_runtime(replay_path=str(path))
    assert rep_rt.providers.get("openai/gpt-4o-mini").name == "replay"
    replayed = await _conversation(rep_rt)
    assert replayed == recorded

    changed = rep_rt.agents.create(AgentConfig(name="other", provider="openai", model="gpt-4o-mini"))
    with pytest.raises(ReplayMissError) as ei:
        await changed.execute(AgentInput(text="a question nobody recorded"))
    assert str(path) in str(ei.value) and "a question nobody recorded" in str(ei.value)


async def test_replay_reproduces_recorded_failures(tmp_path: Path) -> None:
    path = tmp_path / "fail.jsonl"
    inner = ScriptedProvider(failures=[429])
    rec = RecordingProvider(inner, path)
    r = req("hello")
    with pytest.raises(ProviderError):
        await rec.complete(r)
    ok = await rec.complete(r)
    from llmspell.providers.recording import ReplayProvider

    rep = ReplayProvider(path)
    with pytest.raises(ProviderError) as ei:
        await rep.complete(r)
    assert ei.value.status == 429 and ei.value.retryable
    assert (await rep.complete(r)).text == ok.text


def test_replay_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    from llmspell.providers.recording import ReplayProvider

    with pytest.raises(ProviderError, match="replay file not found"):
        ReplayProvider(tmp_path / "nope.jsonl")


async def test_scripted_rules_from_configuration(tmp_path: Path) -> None:
    from llmspell.config import load_config

    (tmp_path / "llmspell.toml").write_text(
        '[[scripted_rules]]\npattern = "(?i)flaky"\nfail = 429\ntimes = 1\n\n'
        '[[scripted_rules]]\npattern = "(?i)capital"\nreply = "Paris"\nmodel = "openai/*"\n',
        encoding="utf-8",
    )
    reg = ProviderRegistry(load_config(tmp_path, environ={}))
    p = reg.get("openai/gpt-4o-mini")
    with pytest.raises(ProviderError) as ei:
        await p.complete(req("flaky call"))
    assert ei.value.status == 429
    assert (await p.complete(req("flaky call"))).text.startswith("[offline")
    assert (await p.complete(req("The capital of France?"))).text == "Paris"
    other = reg.get("anthropic/claude-3-haiku")
    assert (await other.complete(req("The capital of France?", model="anthropic/claude-3-haiku"))).text != "Paris"
