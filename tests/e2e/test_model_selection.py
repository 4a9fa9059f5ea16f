"""``--model`` and provider credentials, end to end through ``llmspell-ls --run`` (the run's child process).

The rule (see ``llmspell.providers.registry``): a runtime that configures no real model at all answers
every provider with the offline scripted provider and says so (``[offline provider/model]`` and
``metadata.offline``); once the configuration names real models (``--model``, ``[providers.*]``,
``[local_llm]``), an explicit model whose provider has no credentials fails at build, naming the
provider, the key variable, the configuration table and ``offline/scripted``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakes.openai_server import FakeOpenAIServer

PY = sys.executable


def _env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("LLMSPELL_") and not k.endswith("_API_KEY")}
    e.update(extra)
    return e


async def cli(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [PY, "-c", "import sys; from llmspell_ls.cli import main; sys.exit(main())", *args],
        cwd=tmp, capture_output=True, text=True, timeout=90, env=_env(**env))


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(reply="Hello from the configured endpoint") as s:
        yield s


def configure(tmp: Path, server: FakeOpenAIServer) -> None:
    (tmp / "llmspell.toml").write_text(
        f'[providers.openai]\nbase_url = "{server.base_url}"\nmax_retries = 0\ntimeout_s = 10\n', encoding="utf-8")


NO_MODEL_LUA = """
local a = Agent.builder():name("plain"):build()
local r = a:execute({text = "hi"})
print(r.text)
print(r.metadata.provider, r.metadata.model, r.metadata.offline)
"""

NO_MODEL_JS = """
const a = Agent.builder().name("plain").build();
const r = await a.execute({ text: "hi" });
console.log(r.text);
console.log([r.metadata.provider, r.metadata.model, r.metadata.offline].join("\\t"));
"""


@pytest.mark.parametrize("lang", ["lua", "js"])
async def test_model_option_is_the_default_for_agents_without_model(tmp_path: Path, server: FakeOpenAIServer,
                                                                   lang: str) -> None:
    configure(tmp_path, server)
    (tmp_path / f"s.{lang}").write_text(NO_MODEL_LUA if lang == "lua" else NO_MODEL_JS, encoding="utf-8")
    r = await cli(tmp_path, "--run", f"s.{lang}", "--model", "openai/gpt-x", OPENAI_API_KEY="sk-test-key")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["Hello from the configured endpoint", "openai\tgpt-x\tfalse"]
    assert [m for m, _ in server.hits] == ["gpt-x"]
    assert server.auth == ["Bearer sk-test-key"]


async def test_default_model_from_the_configuration_file(tmp_path: Path, server: FakeOpenAIServer) -> None:
    configure(tmp_path, server)
    text = (tmp_path / "llmspell.toml").read_text(encoding="utf-8")
    (tmp_path / "llmspell.toml").write_text('default_model = "openai/gpt-from-toml"\n' + text, encoding="utf-8")
    (tmp_path / "s.lua").write_text(NO_MODEL_LUA, encoding="utf-8")
    r = await cli(tmp_path, "--run", "s.lua", OPENAI_API_KEY="sk-test-key")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] == "openai\tgpt-from-toml\tfalse"


async def test_without_model_anywhere_build_still_says_model_is_required(tmp_path: Path) -> None:
    (tmp_path / "s.lua").write_text(NO_MODEL_LUA, encoding="utf-8")
    r = await cli(tmp_path, "--run", "s.lua")
    assert r.returncode != 0
    assert "Model is required" in r.stderr and "--model provider/model" in r.stderr


@pytest.mark.parametrize("lang", ["lua", "js"])
async def test_explicit_model_of_a_provider_without_credentials_fails_clearly(tmp_path: Path,
                                                                              server: FakeOpenAIServer,
                                                                              lang: str) -> None:
    configure(tmp_path, server)
    src = ('local a = Agent.builder():model("anthropic/claude-3-haiku"):build()\n'
           'print(a:execute({text = "hi"}).text)\n') if lang == "lua" else (
        'const a = Agent.builder().model("anthropic/claude-3-haiku").build();\n'
        'console.log((await a.execute({ text: "hi" })).text);\n')
    (tmp_path / f"s.{lang}").write_text(src, encoding="utf-8")
    r = await cli(tmp_path, "--run", f"s.{lang}", "--model", "openai/gpt-x", OPENAI_API_KEY="sk-test-key")
    assert r.returncode != 0
    assert r.stdout == ""  # no reply at all, offline or otherwise
    err = r.stderr
    assert 'model "anthropic/claude-3-haiku": provider anthropic has no credentials' in err
    assert "ANTHROPIC_API_KEY" in err and "[providers.anthropic]" in err and '"offline/scripted"' in err
    assert f"s.{lang}:1" in err
    assert server.hits == []


async def test_configured_provider_without_its_key_fails_at_build(tmp_path: Path, server: FakeOpenAIServer) -> None:
    configure(tmp_path, server)
    (tmp_path / "s.lua").write_text(
        'local ok, e = pcall(function() return Agent.builder():model("openai/gpt-x"):build() end)\n'
        'print(ok, tostring(e))\n', encoding="utf-8")
    r = await cli(tmp_path, "--run", "s.lua")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("false")
    assert "provider openai has no credentials: the environment variable OPENAI_API_KEY is not set" in r.stdout
    assert "offline/scripted" in r.stdout and server.hits == []


async def test_configuration_less_runtime_answers_offline_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "s.lua").write_text(
        'local a = Agent.builder():model("anthropic/claude-3-haiku"):build()\n'
        'local r = a:execute({text = "hi"})\n'
        'print(r.text:sub(1, 34), r.metadata.offline, r.metadata.answered_by)\n', encoding="utf-8")
    r = await cli(tmp_path, "--run", "s.lua", ANTHROPIC_API_KEY="sk-not-configured")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[offline anthropic/claude-3-haiku]\ttrue\tscripted\n"


async def test_removed_agent_apis_say_what_to_write(tmp_path: Path) -> None:
    (tmp_path / "old.lua").write_text(
        'local a = Agent.createAsync({name = "helper", model = "openai/gpt-4o-mini", '
        'system_prompt = "Be brief."})\n', encoding="utf-8")
    r = await cli(tmp_path, "--run", "old.lua")
    assert r.returncode != 0
    assert "Agent.createAsync() was removed" in r.stderr
    assert ('Agent.builder():name("helper"):model("openai/gpt-4o-mini"):system_prompt("Be brief."):build()'
            in r.stderr)
    (tmp_path / "old.js").write_text("Agent.createAsync({});\n", encoding="utf-8")
    r = await cli(tmp_path, "--run", "old.js")
    assert r.returncode != 0
    assert 'Agent.builder().model("openai/gpt-4o-mini").build()' in r.stderr
    (tmp_path / "complete.lua").write_text(
        'local a = Agent.builder():model("offline/scripted"):build()\nprint(a:complete("hi"))\n', encoding="utf-8")
    r = await cli(tmp_path, "--run", "complete.lua")
    assert r.returncode != 0
    assert "agent:complete() is not an agent method" in r.stderr
    assert "agent:execute({text = prompt}).text" in r.stderr
