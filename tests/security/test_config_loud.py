"""Configuration fails loudly (issue #10, item 7): unknown keys, wrong types and absurd limits name the
key and where it came from; LLMSPELL_* values are parsed to their types; retries are counted once;
invalid editor settings and command arguments get an error, never silence or a crash."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities, make_test_lsp_client

from fakes.openai_server import FakeOpenAIServer
from llmspell.config import RuntimeConfig, load_config
from llmspell.core.errors import ConfigurationError

pytestmark = [pytest.mark.timeout(60), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def toml(tmp_path: Path, text: str) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    (ws / "llmspell.toml").write_text(text)
    return ws


def refused(ws: Path | None, *parts: str, **kw: Any) -> str:
    with pytest.raises(ConfigurationError) as ei:
        load_config(ws, **{"environ": {}, **kw})
    msg = str(ei.value)
    for p in parts:
        assert p in msg, msg
    return msg


# ----------------------------------------------------------------------------------- llmspell.toml


def test_wrong_type_names_file_key_and_value(tmp_path: Path) -> None:
    ws = toml(tmp_path, '[limits]\nwall_time_s = "abc"\n')
    refused(ws, 'llmspell.toml: limits.wall_time_s: expected a number, got "abc"', str(ws / "llmspell.toml"))


@pytest.mark.parametrize("text,key", [
    ("defualt_model = 'x'\n", "defualt_model: unknown key (did you mean default_model?)"),
    ("[limits]\nwall_time = 5\n", "limits.wall_time: unknown key (did you mean wall_time_s?)"),
    ("[securty]\nnetwork_allow = []\n", "securty: unknown key"),
    ("[security]\nenv_alow = ['X']\n", "security.env_alow: unknown key"),
    ("[providers.openai]\napi_key = 'sk-in-the-file'\n", "providers.openai.api_key: unknown key"),
    ("[state]\nbackend = 'redis'\n", "state.backend"),
    ("[limits]\nisolation = 'vm'\n", "limits.isolation"),
    ("[security]\nprocess_allow = 'git'\n", "security.process_allow: expected a list"),
    ("[security]\nallow_private_network = 'maybe'\n", "security.allow_private_network: expected true or false"),
    ("limits = 5\n", "limits: expected a table"),
    ("[providers.openai]\nbase_url = 'file:///etc/passwd'\n", "providers.openai.base_url"),
    ("[providers.openai]\nmax_retries = 'lots'\n", "providers.openai.max_retries: expected an integer"),
])
def test_unknown_keys_and_wrong_types_are_named(tmp_path: Path, text: str, key: str) -> None:
    ws = toml(tmp_path, text)
    refused(ws, f"llmspell.toml: {key}")


@pytest.mark.parametrize("key,value", [
    ("wall_time_s", 0), ("wall_time_s", -1), ("wall_time_s", 1e12), ("max_memory_mb", 0), ("max_memory_mb", 8),
    ("max_memory_mb", -256), ("instruction_budget", -1), ("max_concurrent_spells", 0), ("js_slice_cpu_s", 0),
    ("memory_high_pct", 0), ("memory_high_pct", 150), ("monitor_interval_ms", -5), ("max_open_files", 3),
    ("kill_grace_ms", -1), ("max_output_bytes", 0), ("slow_operation_ms", -1),
])
def test_negative_or_absurd_limits_are_refused(tmp_path: Path, key: str, value: float) -> None:
    ws = toml(tmp_path, f"[limits]\n{key} = {value}\n")
    refused(ws, f"llmspell.toml: limits.{key}: must be")


@pytest.mark.parametrize("table,key,value", [
    ("providers.openai", "timeout_s", -1), ("providers.openai", "max_retries", -1),
    ("providers.openai", "max_retries", 1000), ("security", "max_response_bytes", 0),
    ("security", "network_timeout_s", 0),
])
def test_negative_provider_and_security_numbers_are_refused(tmp_path: Path, table: str, key: str,
                                                             value: float) -> None:
    ws = toml(tmp_path, f"[{table}]\n{key} = {value}\n")
    refused(ws, f"llmspell.toml: {table}.{key}")


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    ws = toml(tmp_path, "[limits\n")
    refused(ws, "llmspell.toml", "invalid TOML")


def test_the_cli_reports_the_key_and_exits_2(tmp_path: Path) -> None:
    from llmspell_ls.run_command import run_command

    ws = toml(tmp_path, '[limits]\nwall_time_s = "abc"\n')
    (ws / "s.lua").write_text("print('ran')\n")
    out, err = io.StringIO(), io.StringIO()
    code = run_command(str(ws / "s.lua"), [], workspace=str(ws), out=out, err=err)
    assert code == 2 and "limits.wall_time_s: expected a number" in err.getvalue() and "ran" not in out.getvalue()


def test_defaults_are_valid() -> None:
    RuntimeConfig.model_validate({"workspace": "/tmp"})


# ----------------------------------------------------------------------------------- LLMSPELL_*


def test_environment_values_are_parsed_to_their_types(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    cfg = load_config(tmp_path / "ws", environ={
        "LLMSPELL_LIMITS__WALL_TIME_S": "12.5", "LLMSPELL_LIMITS__MAX_MEMORY_MB": "64",
        "LLMSPELL_SECURITY__ALLOW_PRIVATE_NETWORK": "yes", "LLMSPELL_SECURITY__ENV_ALLOW": "A, B_*",
        "LLMSPELL_DEFAULT_MODEL": "true",  # a string field stays a string
        "LLMSPELL_PROVIDERS__OPENAI__MAX_RETRIES": "1",
        "LLMSPELL_EVENTS": "1", "LLMSPELL_SEARCH_PROVIDER": "brave",  # other settings: left alone
    })
    assert cfg.limits.wall_time_s == 12.5 and cfg.limits.max_memory_mb == 64
    assert cfg.security.allow_private_network is True and cfg.security.env_allow == ["A", "B_*"]
    assert cfg.default_model == "true" and cfg.providers["openai"].max_retries == 1


@pytest.mark.parametrize("env,part", [
    ({"LLMSPELL_LIMITS__WALL_TIME_S": "abc"}, 'LLMSPELL_LIMITS__WALL_TIME_S: limits.wall_time_s: expected a number'),
    ({"LLMSPELL_LIMITS__WALL_TIME_S": "-3"}, "LLMSPELL_LIMITS__WALL_TIME_S: limits.wall_time_s: must be > 0"),
    ({"LLMSPELL_LIMITS__WALL_TIME": "3"}, "LLMSPELL_LIMITS__WALL_TIME: unknown key limits.wall_time"),
    ({"LLMSPELL_LIMITS_WALL_TIME_S": "3"}, "LLMSPELL_LIMITS__WALL_TIME_S"),
    ({"LLMSPELL_SECURITY__ALLOW_PRIVATE_NETWORK": "sure"}, "expected true or false"),
    ({"LLMSPELL_PROVIDERS__OPENAI__MAX_RETRIES": "x"}, "providers.openai.max_retries: expected an integer"),
])
def test_bad_environment_values_name_the_variable(tmp_path: Path, env: dict[str, str], part: str) -> None:
    (tmp_path / "ws").mkdir()
    refused(tmp_path / "ws", part, environ=env)


def test_overrides_are_named_as_settings(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    refused(tmp_path / "ws", "settings: limits.wall_time_s: must be > 0", overrides={"limits": {"wall_time_s": 0}})


async def test_update_config_refuses_and_keeps_the_old_config(tmp_path: Path) -> None:
    from llmspell.runtime import Runtime

    rt = Runtime(workspace=tmp_path, state="memory")
    before = rt.config.limits.wall_time_s
    for bad in ({"limits": {"wall_time_s": -1}}, {"limits": {"wall_tim": 3}}, {"nonsense": 1}):
        with pytest.raises(ConfigurationError, match="update_config: "):
            await rt.update_config(bad)
    assert rt.config.limits.wall_time_s == before


# ----------------------------------------------------------------------------------- retries counted once


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as s:
        yield s


def _rt(tmp_path: Path, server: FakeOpenAIServer, retries: int) -> Any:
    from llmspell.runtime import Runtime

    return Runtime(workspace=tmp_path, state="memory", overrides={"providers": {"openai": {
        "base_url": server.base_url, "api_key_env": "LOUD_TEST_KEY", "max_retries": retries, "timeout_s": 5}}})


@pytest.mark.parametrize("retries", [0, 1, 2])
async def test_agent_attempts_are_one_plus_max_retries(tmp_path: Path, server: FakeOpenAIServer, retries: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from llmspell.agents.config import AgentConfig
    from llmspell.core.types import AgentInput

    monkeypatch.setenv("LOUD_TEST_KEY", "k")
    rt = _rt(tmp_path, server, retries)
    a = rt.agents.create(AgentConfig(name="a", provider="openai", model="err500"))
    with pytest.raises(Exception):  # noqa: B017 - the provider's 500, however the agent wraps it
        await a.execute(AgentInput(text="hi"))
    assert server.hits_for("err500") == 1 + retries


async def test_explicit_agent_recovery_counts_total_attempts(tmp_path: Path, server: FakeOpenAIServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from llmspell.agents.config import AgentConfig
    from llmspell.core.types import AgentInput

    monkeypatch.setenv("LOUD_TEST_KEY", "k")
    rt = _rt(tmp_path, server, 2)
    a = rt.agents.create(AgentConfig(name="a", provider="openai", model="err500",
                                     recovery={"strategy": "retry", "max_attempts": 4, "base_delay_ms": 1}))
    with pytest.raises(Exception):  # noqa: B017
        await a.execute(AgentInput(text="hi"))
    assert server.hits_for("err500") == 4


async def test_tool_provider_calls_attempt_one_plus_max_retries(tmp_path: Path, server: FakeOpenAIServer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOUD_TEST_KEY", "k")
    rt = _rt(tmp_path, server, 2)
    with pytest.raises(Exception):  # noqa: B017 - the provider's 500
        await rt.tools.execute("sentiment-analyzer", {"input": "great", "model": "openai/err500"})
    assert server.hits_for("err500") == 3


async def test_lua_spell_agent_against_server_counts_once(tmp_path: Path, server: FakeOpenAIServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from fakes import collect_run
    from llmspell.runner import SpellRunner

    monkeypatch.setenv("LOUD_TEST_KEY", "k")
    rt = _rt(tmp_path, server, 2)
    out, _, _ = await collect_run(SpellRunner(runtime=rt), tmp_path / "s.lua", source="""
        local a = Agent.builder():name("x"):model("openai/err500"):build()
        print(pcall(function() return a:execute({text = "hi"}) end))
    """)
    assert out.startswith("false") and server.hits_for("err500") == 3


# ----------------------------------------------------------------------------------- the language server


WORK = Path(__file__).parent / "_loud_ws"


def client_factory() -> LanguageClient:
    client = make_test_lsp_client()  # records window/showMessage in client.messages
    for method in ("llmspell/runStarted", "llmspell/output", "llmspell/event", "llmspell/hookResult",
                   "llmspell/runFinished"):
        client.feature(method)(lambda params: None)

    @client.feature(lsp.WORKSPACE_CODE_LENS_REFRESH)
    def on_refresh(params: Any) -> None:
        return None

    return client


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "llmspell_ls"], client_factory=client_factory),
)
async def client(lsp_client: LanguageClient, tmp_path: Path):
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=tmp_path.as_uri(),
        initialization_options={"limits": {"wall_time_s": "soon"}, "bogus_key": 1},
        workspace_folders=[lsp.WorkspaceFolder(uri=tmp_path.as_uri(), name="w")]))
    yield
    await lsp_client.shutdown_session()


async def _wait_messages(client: LanguageClient, n: int) -> list[Any]:
    for _ in range(100):
        if len(client.messages) >= n:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.05)
    return list(client.messages)  # type: ignore[attr-defined]


async def test_lsp_invalid_settings_are_shown_not_ignored(client: LanguageClient) -> None:
    msgs = await _wait_messages(client, 1)
    assert msgs and msgs[0].type == lsp.MessageType.Error
    assert "limits.wall_time_s" in msgs[0].message and "initializationOptions" in msgs[0].message
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
        settings={"llmspell": {"limits": {"max_memory_mb": -1}}}))
    msgs = await _wait_messages(client, 2)
    assert "limits.max_memory_mb" in msgs[1].message and "didChangeConfiguration" in msgs[1].message
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings={"llmspell": "fast"}))
    msgs = await _wait_messages(client, 3)
    assert "expected an object" in msgs[2].message


@pytest.mark.parametrize("command,args", [
    ("llmspell.runSpell", []), ("llmspell.runSpell", [42]), ("llmspell.runSpell", [{"url": "x"}]),
    ("llmspell.cancelSpell", []), ("llmspell.cancelSpell", [None]),
])
async def test_lsp_invalid_command_arguments_get_an_error_response(client: LanguageClient, command: str,
                                                                   args: list[Any]) -> None:
    with pytest.raises(Exception) as ei:  # pygls turns the ValueError into a JSON-RPC error
        await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command=command, arguments=args))
    assert "expects" in str(ei.value)
    # and the server is still there
    res = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="llmspell.cancelSpell", arguments=["no-such-run"]))
    assert res is not None
