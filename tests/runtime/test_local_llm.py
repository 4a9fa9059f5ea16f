"""LocalLLM and local models: status/list/info/pull against a fake Ollama server and a fake
OpenAI-compatible server on 127.0.0.1, chat through ``ollama/`` and ``local/`` agents, and the clear
errors without a backend (never an offline reply in a local model's name)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from e2e.e2e_helpers import run_source
from fakes.ollama_server import FakeOllamaServer
from fakes.openai_server import FakeOpenAIServer
from llmspell.config import RuntimeConfig
from llmspell.core.errors import ConfigurationError, ProviderError
from llmspell.messages import Finished
from llmspell.providers import local
from llmspell.providers.registry import ProviderRegistry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllamaServer]:
    async with FakeOllamaServer() as s:
        yield s


@pytest.fixture
async def oai() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(reply="Hello from the llama.cpp stand-in") as s:
        yield s


def backends(**named: dict[str, Any]) -> dict[str, Any]:
    return {"local_llm": {"backends": named}}


async def run(ws: Path, src: str, name: str = "spell.lua", **overrides: Any) -> tuple[str, Finished]:
    return await run_source(ws, src, name, **overrides)


# ------------------------------------------------------------------------------------------ units


def test_split_spec_and_parsers() -> None:
    assert local.split_spec("llama3.1:8b@ollama") == ("llama3.1:8b", "ollama")
    assert local.split_spec("llama3") == ("llama3", None)
    assert local._param_count("8.0B") == 8_000_000_000
    assert local._param_count("770M") == 770_000_000
    assert local._param_count(123) == 123 and local._param_count("lots") is None
    assert local._epoch("2024-05-01T10:00:00.000000000Z") == 1714557600
    assert local._epoch("not a date") is None


def test_ollama_rows_have_rs_llmspell_fields() -> None:
    from fakes.ollama_server import LLAMA3

    row = local.ollama_model(LLAMA3, "ollama")
    assert row["id"] == "llama3:latest" and row["backend"] == "ollama" and row["size_bytes"] == 4661224676
    assert row["quantization"] == "Q4_0" and row["modified_at"] == 1714557600 and row["format"] == "gguf"


def test_resolve_model_ids() -> None:
    cfg = RuntimeConfig.model_validate(backends(
        ollama={"base_url": "http://127.0.0.1:11434/", "default_model": "llama3"},
        llamacpp={"base_url": "http://127.0.0.1:8080/v1", "timeout_s": 7})).local_llm
    t = local.resolve(cfg, "ollama", "llama3.1:8b")
    assert t is not None and t.litellm_model == "ollama_chat/llama3.1:8b" and t.base_url == "http://127.0.0.1:11434"
    t = local.resolve(cfg, "local", "qwen@llamacpp")
    assert t is not None and t.kind == "openai" and t.litellm_model == "openai/qwen" and t.timeout_s == 7
    t = local.resolve(cfg, "local", "")  # the default backend's default model
    assert t is not None and (t.backend, t.model, t.timeout_s) == ("ollama", "llama3", 60.0)
    t = local.resolve(cfg, "llamacpp", "qwen")
    assert t is not None and t.backend == "llamacpp"
    assert local.resolve(cfg, "openai", "gpt-4o") is None
    with pytest.raises(ConfigurationError, match=r'no local LLM backend named "candle"'):
        local.resolve(cfg, "local", "tiny@candle")


def test_resolve_without_backends_explains_the_configuration() -> None:
    cfg = RuntimeConfig().local_llm
    with pytest.raises(ConfigurationError) as e:
        local.resolve(cfg, "local", "llama3")
    assert "no local LLM backend" in e.value.message
    assert '[local_llm.backends.ollama] base_url = "http://localhost:11434"' in e.value.message


def test_several_backends_without_default_need_a_name() -> None:
    cfg = RuntimeConfig.model_validate(backends(a={"base_url": "http://127.0.0.1:1"},
                                                b={"base_url": "http://127.0.0.1:2"})).local_llm
    with pytest.raises(ConfigurationError, match="several local backends are configured"):
        local.resolve(cfg, "local", "m")


@pytest.mark.parametrize(("data", "needle"), [
    (backends(ollama={"base_url": "ftp://x"}), "expected an http:// or https:// URL"),
    (backends(ollama={}), "base_url"),
    (backends(ollama={"base_url": "http://x", "kind": "candle"}), "kind"),
    (backends(ollama={"base_url": "http://x", "timeout_s": 0}), "timeout_s"),
    ({"local_llm": {"default_backend": "nope"}}, 'default_backend "nope" is not one of the backends'),
    ({"local_llm": {"backend": {}}}, "backend"),
])
def test_config_is_validated(data: dict[str, Any], needle: str) -> None:
    with pytest.raises(Exception, match=needle):
        RuntimeConfig.model_validate(data)


def test_registry_routes_local_models_and_refuses_without_backend() -> None:
    reg = ProviderRegistry(RuntimeConfig.model_validate(backends(ollama={"base_url": "http://127.0.0.1:9"})))
    e = reg.entry("ollama/llama3")
    assert e.impl == "litellm" and not e.offline
    inst: Any = e.instance
    assert inst.model == "ollama_chat/llama3" and inst.api_base == "http://127.0.0.1:9" and inst.max_retries == 0
    assert inst.local_backend == "ollama"
    bare = ProviderRegistry(RuntimeConfig())
    with pytest.raises(ConfigurationError, match="no local LLM backend"):
        bare.get("local/llama3")
    # a config-less runtime answers rs-llmspell's model names offline, and says so (ollama/ too)
    assert bare.get("openai/gpt-4o-mini").name == "scripted"
    assert bare.entry("ollama/llama3.2:3b").offline
    real = ProviderRegistry(RuntimeConfig.model_validate({"providers": {"openai": {}}}))
    with pytest.raises(ConfigurationError, match="no local LLM backend"):
        real.get("ollama/llama3")


# ------------------------------------------------------------------------------------------ LocalLLM global


async def test_status_without_configuration_reports_each_backend(tmp_path: Path) -> None:
    out, fin = await run(tmp_path, """
        local s = LocalLLM.status()
        print(s.ollama.running, s.ollama.models, s.candle.ready, s.candle.models)
        print(s.ollama.reason)
        print(s.ollama.error, s.ollama.configured, s.candle.configured)
        print(#LocalLLM.list())
    """)
    assert fin.status == "success", fin.error
    lines = out.splitlines()
    assert lines[0] == "false\t0\tfalse\t0"
    assert lines[1].startswith("Not configured: set [local_llm.backends.ollama]")
    assert lines[2] == "nil\tfalse\tfalse"  # not configured is not an error (rs-llmspell's example stays clean)
    assert lines[3] == "0"  # rs-llmspell: no backend -> an empty list (status says why)


@pytest.mark.parametrize("lang", ["lua", "js"])
async def test_status_list_info_pull_against_ollama(tmp_path: Path, ollama: FakeOllamaServer, lang: str) -> None:
    if lang == "lua":
        src = """
            local s = LocalLLM.status()
            print(s.ollama.running, s.ollama.models, s.ollama.version, s.ollama.base_url)
            for _, m in ipairs(LocalLLM.list("ollama")) do print(m.id, m.backend, m.size_bytes, m.quantization) end
            local i = LocalLLM.info("llama3")
            print(i.id, i.format, i.parameter_count, i.quantization, i.context_length, i.architecture)
            local p = LocalLLM.pull("phi3:mini@ollama")
            print(p.model_id, p.status, p.percent_complete, p.bytes_total)
            print(#LocalLLM.list())
        """
    else:
        src = """
            const s = await LocalLLM.status();
            console.log([s.ollama.running, s.ollama.models, s.ollama.version, s.ollama.base_url].join("\\t"));
            for (const m of await LocalLLM.list("ollama")) {
              console.log([m.id, m.backend, m.size_bytes, m.quantization].join("\\t"));
            }
            const i = await LocalLLM.info("llama3");
            const row = [i.id, i.format, i.parameter_count, i.quantization, i.context_length, i.architecture];
            console.log(row.join("\\t"));
            const p = await LocalLLM.pull("phi3:mini@ollama");
            console.log([p.model_id, p.status, p.percent_complete, p.bytes_total].join("\\t"));
            console.log((await LocalLLM.list()).length);
        """
    out, fin = await run(tmp_path, src, f"spell.{lang}", **backends(ollama={"base_url": ollama.base_url}))
    assert fin.status == "success", fin.error
    lines = out.splitlines()
    assert lines[0] == f"true\t2\t0.5.7\t{ollama.base_url}"
    assert lines[1] == "llama3:latest\tollama\t4661224676\tQ4_0"
    assert lines[2] == "tinyllama:1.1b\tollama\t637700138\tQ4_0"
    assert lines[3] == "llama3:latest\tgguf\t8030261248\tQ4_0\t8192\tllama"
    assert lines[4] == "phi3:mini\tcomplete\t100\t2000000"
    assert lines[5] == "3"  # the pulled model is listed now
    assert ("/api/pull", {"model": "phi3:mini", "stream": True}) in ollama.hits


async def test_unknown_model_and_unconfigured_backend_errors(tmp_path: Path, ollama: FakeOllamaServer) -> None:
    out, fin = await run(tmp_path, """
        print(pcall(LocalLLM.info, "nope"))
        print(pcall(LocalLLM.info, "llama3@candle"))
        print(pcall(LocalLLM.list, "candle"))
        print(pcall(LocalLLM.pull, "never-heard-of-it"))
        print(pcall(LocalLLM.info, 42))
    """, **backends(ollama={"base_url": ollama.base_url}))
    assert fin.status == "success", fin.error
    lines = out.splitlines()
    assert "model 'nope' not found in any backend (asked: ollama)" in lines[0]
    assert 'no local LLM backend named "candle"' in lines[1] and "[local_llm.backends" in lines[1]
    assert 'no local LLM backend named "candle"' in lines[2]
    assert lines[3].startswith("false") and "pull model manifest: file does not exist" in lines[3]
    assert "LocalLLM.info: model_id: expected a model name" in lines[4] and lines[4].endswith("got number")


async def test_endpoint_down_status_reports_and_calls_fail_clearly(tmp_path: Path) -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    url = f"http://127.0.0.1:{port}"
    out, fin = await run(tmp_path, """
        local s = LocalLLM.status()
        print(s.ollama.running, s.ollama.models)
        print(s.ollama.error)
        print(s.ollama.reason == s.ollama.error, s.ollama.configured)
        print(pcall(LocalLLM.list))
        local a = Agent.builder():name("down"):model("ollama/llama3"):build()
        print(pcall(function() return a:execute({text = "hi"}) end))
    """, **backends(ollama={"base_url": url, "timeout_s": 3}))
    assert fin.status == "success", fin.error
    lines = out.splitlines()
    assert lines[0] == "false\t0"
    assert f"local LLM backend ollama at {url} is not reachable" in lines[1] and "ollama serve" in lines[1]
    assert lines[2] == "true\ttrue"
    assert lines[3].startswith("false") and "is not reachable" in lines[3]
    assert lines[4].startswith("false") and f"local LLM backend ollama at {url} is not reachable" in lines[4]
    assert "[offline" not in out


async def test_openai_compatible_backend(tmp_path: Path, oai: FakeOpenAIServer) -> None:
    out, fin = await run(tmp_path, """
        local s = LocalLLM.status()
        print(s.llamacpp.running, s.llamacpp.models, s.llamacpp.kind)
        local m = LocalLLM.list()[1]
        print(m.id, m.backend)
        print(LocalLLM.info("qwen2.5-0.5b-instruct").backend)
        print(select(2, pcall(LocalLLM.pull, "x@llamacpp")))
        local a = Agent.builder():name("lc"):model("local/qwen2.5-0.5b-instruct@llamacpp"):build()
        print(a:execute({text = "hi"}).text)
    """, **backends(llamacpp={"base_url": oai.base_url}))
    assert fin.status == "success", fin.error
    lines = out.splitlines()
    assert lines[0] == "true\t1\topenai"
    assert lines[1] == "qwen2.5-0.5b-instruct\tllamacpp"
    assert lines[2] == "llamacpp"
    assert "has no pull API" in lines[3]
    assert lines[4] == "Hello from the llama.cpp stand-in"
    assert oai.hits[-1][0] == "qwen2.5-0.5b-instruct"


# ------------------------------------------------------------------------------------------ chat


@pytest.mark.parametrize("lang", ["lua", "js"])
async def test_agents_chat_through_ollama(tmp_path: Path, ollama: FakeOllamaServer, lang: str) -> None:
    if lang == "lua":
        src = """
            local a = Agent.builder():name("o"):model("ollama/llama3"):build()
            local r = a:execute({text = "hi"})
            print(r.text, r.metadata.offline, r.metadata.answered_by)
            local b = Agent.builder():name("l"):model("local/tinyllama:1.1b@ollama"):build()
            local parts = {}
            local s = b:invokeStream({text = "hi"}, function(c) parts[#parts + 1] = c.text end)
            print(s.chunks_received, table.concat(parts))
        """
    else:
        src = """
            const a = Agent.builder().name("o").model("ollama/llama3").build();
            const r = await a.execute({ text: "hi" });
            console.log([r.text, r.metadata.offline, r.metadata.answered_by].join("\\t"));
            const b = Agent.builder().name("l").model("local/tinyllama:1.1b@ollama").build();
            let text = "", n = 0;
            for await (const c of b.stream({ text: "hi" })) { n++; text += c.text; }
            console.log(n + "\\t" + text);
        """
    out, fin = await run(tmp_path, src, f"spell.{lang}", **backends(ollama={"base_url": ollama.base_url}))
    assert fin.status == "success", fin.error
    lines = out.splitlines()
    assert lines[0] == "Hello from fake Ollama (llama3)\tfalse\tlitellm"
    assert lines[1] == "5\tHello from fake Ollama (tinyllama:1.1b)"
    chats = [b for p, b in ollama.hits if p == "/api/chat"]
    assert [c["model"] for c in chats] == ["llama3", "tinyllama:1.1b"]
    assert chats[0]["messages"][-1]["content"] == "hi"


@pytest.mark.parametrize("lang", ["lua", "js"])
async def test_local_agent_without_backend_fails_at_build(tmp_path: Path, lang: str) -> None:
    src = ('local ok, e = pcall(function() return Agent.builder():model("local/llama3"):build() end)\n'
           "print(ok, tostring(e))\n") if lang == "lua" else (
        'try { Agent.builder().model("local/llama3").build(); console.log("built"); }\n'
        'catch (e) { console.log("false", e.message); }\n')
    out, fin = await run(tmp_path, src, f"spell.{lang}")
    assert fin.status == "success", fin.error
    assert out.startswith("false") and "no local LLM backend" in out and "[local_llm.backends.ollama]" in out
    assert "[offline" not in out


def test_local_llm_in_the_run_process(tmp_path: Path) -> None:
    """Through ``llmspell-ls --run`` (the child process) with the backend in llmspell.toml."""

    async def main() -> tuple[subprocess.CompletedProcess[str], list[str]]:
        async with FakeOllamaServer() as s:
            (tmp_path / "llmspell.toml").write_text(
                f'[local_llm.backends.ollama]\nbase_url = "{s.base_url}"\ntimeout_s = 10\n', encoding="utf-8")
            (tmp_path / "chat.lua").write_text(
                'print(LocalLLM.status().ollama.models)\n'
                'print(Agent.builder():model("ollama/llama3"):build():execute({text = "hey"}).text)\n',
                encoding="utf-8")
            env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
            r = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-c", "import sys; from llmspell_ls.cli import main; sys.exit(main())",
                                 "--run", "chat.lua"], cwd=tmp_path, capture_output=True, text=True, timeout=90,
                env=env)
            return r, s.paths()

    r, paths = asyncio.run(main())
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2\nHello from fake Ollama (llama3)\n"
    assert "/api/chat" in paths


def test_provider_error_type_for_unreachable() -> None:
    e = local._connect_error("ollama", "http://127.0.0.1:1", ConnectionRefusedError("refused"))
    assert isinstance(e, ProviderError) and e.status == 503 and "ollama serve" in e.message


# ------------------------------------------------------------------------------------------ examples

EXAMPLES = ROOT / "examples"


@pytest.mark.parametrize("name", ["local_llm.lua", "local_llm.js"])
async def test_example_offline_explains_the_configuration(tmp_path: Path, name: str) -> None:
    out, fin = await run(tmp_path, (EXAMPLES / name).read_text(encoding="utf-8"), name)
    assert fin.status == "success", fin.error
    sep = "\t" if name.endswith(".lua") else " "
    assert f"ollama:{sep}not running{sep}models: 0" in out
    assert "Not configured: set [local_llm.backends.ollama]" in out
    assert f"local models:{sep}0" in out and f"local agent built:{sep}false" in out
    assert f"error kind:{sep}configuration" in out and f"mentions the config:{sep}true" in out
    assert fin.result == {"models": 0} or fin.result == {"backend": None, "models": 0}


@pytest.mark.parametrize("name", ["local_llm.lua", "local_llm.js"])
async def test_example_chats_with_a_running_backend(tmp_path: Path, ollama: FakeOllamaServer, name: str) -> None:
    out, fin = await run(tmp_path, (EXAMPLES / name).read_text(encoding="utf-8"), name,
                         **backends(ollama={"base_url": ollama.base_url}))
    assert fin.status == "success", fin.error
    sep = "\t" if name.endswith(".lua") else " "
    assert f"ollama:{sep}running{sep}models: 2" in out and f"local models:{sep}2" in out
    assert "llama3:latest (ollama) 4445.3 MB Q4_0" in out
    assert f"model:{sep}llama3:latest{sep}gguf{sep}8030261248{sep}parameters" in out
    assert f"answer:{sep}Hello from fake Ollama (llama3:latest)" in out
    assert fin.result == {"backend": "ollama", "models": 2}
