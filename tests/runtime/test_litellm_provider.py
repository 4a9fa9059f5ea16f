"""LiteLLMProvider (and an agent using it) against a fake OpenAI-compatible server on 127.0.0.1.

Loopback only, so these run offline in CI. Timeouts and retries are explicit to keep them fast.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before anything imports litellm
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakes import collect_events, offline_runtime
from fakes.openai_server import FakeOpenAIServer
from llmspell.agents.config import AgentConfig
from llmspell.core.errors import ProviderError
from llmspell.core.types import AgentInput
from llmspell.providers.base import ChatMessage, CompletionRequest, tool_spec
from llmspell.providers.litellm_provider import LiteLLMProvider

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

CALC = tool_spec("calculator", "Evaluate an arithmetic expression",
                 {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]})


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_OPENAI_KEY", "test-key")


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as s:
        yield s


def provider(s: FakeOpenAIServer, *, retries: int = 0, timeout: float = 5.0) -> LiteLLMProvider:
    return LiteLLMProvider("openai/plain", api_base=s.base_url, api_key="test-key", timeout_s=timeout,
                           max_retries=retries)


def req(model: str, text: str = "hi", **kw: object) -> CompletionRequest:
    return CompletionRequest(model=f"openai/{model}", messages=[ChatMessage(role="user", content=text)], **kw)


async def test_plain_completion_usage_and_unknown_cost(server: FakeOpenAIServer) -> None:
    c = await provider(server).complete(req("plain", "hello"))
    assert c.text == "Hello from the fake server"
    assert (c.usage.prompt_tokens, c.usage.completion_tokens, c.usage.total_tokens) == (11, 7, 18)
    assert c.usage.cost_usd is None  # unknown model: cost unknown, not an error
    assert c.provider == "litellm" and c.finish_reason == "stop"
    model, body = server.hits[-1]
    assert model == "plain" and body["messages"] == [{"role": "user", "content": "hello"}]


async def test_sse_streaming_with_usage_last(server: FakeOpenAIServer) -> None:
    chunks = [c async for c in provider(server).stream(req("plain"))]
    assert [c.text for c in chunks[:-1]] == ["Hello", " from", " the", " fake", " server"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 16
    assert chunks[-1].finish_reason == "stop"
    assert server.hits[-1][1]["stream_options"] == {"include_usage": True}


async def test_tool_calls_parsed_complete_and_stream(server: FakeOpenAIServer) -> None:
    server.tool_arguments["calculator"] = {"input": "6*7"}
    c = await provider(server).complete(req("tools", tools=[CALC]))
    assert c.finish_reason == "tool_calls"
    assert [(t.name, t.arguments) for t in c.tool_calls] == [("calculator", {"input": "6*7"})]
    last = [x async for x in provider(server).stream(req("tools", tools=[CALC]))][-1]
    assert [(t.name, t.arguments) for t in last.tool_calls] == [("calculator", {"input": "6*7"})]


@pytest.mark.parametrize(("retries", "hits"), [(0, 1), (1, 2)])
async def test_500_maps_to_retryable_error_with_explicit_retries(server: FakeOpenAIServer, retries: int,
                                                                 hits: int) -> None:
    with pytest.raises(ProviderError) as ei:
        await provider(server, retries=retries).complete(req("err500"))
    assert ei.value.status == 500 and ei.value.retryable
    assert server.hits_for("err500") == hits


async def test_429_maps_to_rate_limit(server: FakeOpenAIServer) -> None:
    with pytest.raises(ProviderError) as ei:
        await provider(server).complete(req("err429"))
    assert ei.value.status == 429 and ei.value.retryable and "RateLimitError" in str(ei.value)


async def test_missing_api_key_is_not_retried(server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    p = LiteLLMProvider("openai/plain", api_base=server.base_url, timeout_s=5, max_retries=0)
    with pytest.raises(ProviderError) as ei:
        await p.complete(req("plain"))
    assert ei.value.status == 401 and not ei.value.retryable and "api_key_env" in str(ei.value)


async def test_hang_times_out_as_408(server: FakeOpenAIServer) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ProviderError) as ei:
        await provider(server, timeout=0.3).complete(req("hang"))
    assert ei.value.status == 408 and ei.value.retryable
    assert time.perf_counter() - t0 < 3
    assert server.hits_for("hang") == 1


def _configured(server: FakeOpenAIServer, **extra: object) -> object:
    return offline_runtime(providers={"openai": {"base_url": server.base_url, "api_key_env": "FAKE_OPENAI_KEY",
                                                 "timeout_s": 5, "max_retries": 0}}, **extra)


async def test_agent_tool_loop_against_server(server: FakeOpenAIServer) -> None:
    rt = _configured(server)
    server.tool_arguments["calculator"] = {"input": "6 * 7"}
    a = rt.agents.create(AgentConfig(name="calc", provider="openai", model="tools", allowed_tools=["calculator"]))
    out = await a.execute(AgentInput(text="what is 6 * 7?"))
    assert out.text.startswith("Tool said: ") and '"result": 42' in out.text.replace(" ", " ")
    assert out.metadata["answered_by"] == "litellm" and out.metadata["offline"] is False
    assert out.metadata["tool_call_count"] == 1 and out.usage is not None and out.usage.total_tokens == 36
    first, second = (b for m, b in server.hits if m == "tools")
    assert first["tools"][0]["function"]["name"] == "calculator"
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool"]


async def test_agent_recovers_from_server_failures(server: FakeOpenAIServer) -> None:
    rt = _configured(server)
    retries = collect_events(rt, "recovery.retry")
    server.fail_next("flaky", 503, 503)
    a = rt.agents.create(AgentConfig(name="f", provider="openai", model="flaky",
                                     recovery={"strategy": "retry", "max_attempts": 3, "base_delay_ms": 1}))
    out = await a.execute(AgentInput(text="hello"))
    assert out.text == "Hello from the fake server"
    assert server.hits_for("flaky") == 3 and len(retries) == 2


async def test_agent_streams_from_server(server: FakeOpenAIServer) -> None:
    rt = _configured(server)
    a = rt.agents.create(AgentConfig(name="s", provider="openai", model="plain"))
    chunks = [c async for c in a.stream(AgentInput(text="hi"))]
    assert chunks == ["Hello", " from", " the", " fake", " server"]
    assert a.last_output.usage.total_tokens == 16


async def test_record_against_server_then_replay_offline(server: FakeOpenAIServer, tmp_path: Path) -> None:
    path = tmp_path / "real.jsonl"
    rec = _configured(server, record_path=str(path))
    server.tool_arguments["calculator"] = {"input": "1+1"}
    a = rec.agents.create(AgentConfig(name="r", provider="openai", model="tools", allowed_tools=["calculator"]))
    recorded = [(await a.execute(AgentInput(text="add"))).text,
                "".join([c async for c in a.stream(AgentInput(text="again"))])]
    hits = len(server.hits)
    rep = _configured(server, replay_path=str(path))
    b = rep.agents.create(AgentConfig(name="r", provider="openai", model="tools", allowed_tools=["calculator"]))
    replayed = [(await b.execute(AgentInput(text="add"))).text,
                "".join([c async for c in b.stream(AgentInput(text="again"))])]
    assert replayed == recorded and recorded[0].startswith("Tool said:")
    assert len(server.hits) == hits  # replay never touched the server
