"""Secrets by allow-list (issue #10, item 5): attacks first, each asserting the refusal and that the
secret value appears in no output, no event and no request.

Classes: reading the environment from the script (``os.getenv``), through tools (environment-reader,
jq ``$ENV``/``env``/``~/.jq``/``import``), sending a configured key to a spell-chosen endpoint (agent
``base_url``), naming a variable from a spell parameter (``password_env``), the process environment a
run's child keeps (``scrub_environment``) and the workspace default (``/``, ``$HOME``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fakes import collect_run
from fakes.openai_server import FakeOpenAIServer
from llmspell.config import RuntimeConfig, load_config
from llmspell.core.errors import ConfigurationError, SecurityViolationError
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime
from llmspell.security.secrets import SecretVault, scrub_environment, secret_names, spell_visible

pytestmark = [pytest.mark.timeout(60), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

# secrets whose names no name-based guess would catch, and ones it would
SECRETS = {
    "DB_PASS": "db-pass-value-7731",
    "DATABASE_URL": "postgres://app:hunter2-9917@db.internal/app",
    "GITHUB_PAT": "ghp_patvalue4411",
    "OPENAI_API_KEY": "sk-openai-value-5521",
    "LLMSPELL_SEC_PLAIN": "plain-value-8812",
}


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    return SECRETS


def _no_secret(*texts: Any) -> None:
    blob = "\n".join(t if isinstance(t, str) else json.dumps(t, default=str) for t in texts)
    for name, value in SECRETS.items():
        assert value not in blob, f"{name}'s value leaked"
    home = os.environ.get("HOME")
    if home and len(home) > 4:
        assert f'"{home}"' not in blob and f"\t{home}\n" not in blob


async def run(ws: Path, src: str, *, name: str = "spell.lua", **config: Any) -> tuple[str, Any, list[Any]]:
    ws.mkdir(exist_ok=True)
    cfg = load_config(ws, overrides=config or None, environ={})
    runner = SpellRunner(runtime_factory=lambda: Runtime(cfg, state="memory"))
    return await collect_run(runner, ws / name, source=src)


def _dump(fin: Any, msgs: list[Any]) -> str:
    return "\n".join([fin.model_dump_json() if fin is not None else "", *(m.model_dump_json() for m in msgs)])


# ----------------------------------------------------------------------------------- from the script


@pytest.mark.parametrize("var", [*SECRETS, "HOME", "PATH", "USER"])
async def test_lua_getenv_sees_nothing_not_allowed(tmp_path: Path, secrets_env: dict[str, str], var: str) -> None:
    out, fin, msgs = await run(tmp_path / "ws", f'print(tostring(os.getenv("{var}")))')
    assert out == "nil\n"
    _no_secret(out, _dump(fin, msgs))


async def test_lua_getenv_sees_allow_listed_names_and_patterns(tmp_path: Path, secrets_env: dict[str, str]) -> None:
    out, _, _ = await run(tmp_path / "ws", 'print(os.getenv("LLMSPELL_SEC_PLAIN"), os.getenv("DB_PASS"))',
                          security={"env_allow": ["LLMSPELL_SEC_*"]})
    assert out == "plain-value-8812\tnil\n"


def test_policy_is_an_allow_list_not_a_name_guess(tmp_path: Path) -> None:
    from llmspell.config import SecurityConfig
    from llmspell.security.policy import SecurityPolicy

    p = SecurityPolicy.from_config(SecurityConfig(env_allow=["APP_*", "LANG"]), workspace=tmp_path)
    for name in [*SECRETS, "HOME", "PATH", "LD_PRELOAD", "", "app_x"]:
        assert not p.env_visible(name), name
    assert p.env_visible("APP_MODE") and p.env_visible("LANG")
    with pytest.raises(SecurityViolationError, match="env_allow"):
        p.check_env("DATABASE_URL")


# ----------------------------------------------------------------------------------- through tools


async def test_environment_reader_reveals_nothing_not_allowed(tmp_path: Path, secrets_env: dict[str, str]) -> None:
    out, fin, msgs = await run(tmp_path / "ws", """
        for _, name in ipairs({"DB_PASS", "DATABASE_URL", "GITHUB_PAT", "OPENAI_API_KEY", "HOME"}) do
          local ok, r = pcall(Tool.execute, "environment-reader", {operation = "get", variable_name = name})
          print(name, ok and r.success, ok and JSON.stringify(r.result) or tostring(r))
        end
        local l = Tool.execute("environment-reader", {operation = "list"})
        print("list", JSON.stringify(l.result))
        local p = Tool.execute("environment-reader", {operation = "pattern", pattern = "*"})
        print("pattern", JSON.stringify(p.result))
    """)
    assert fin.status == "success", fin
    assert out.count("not visible to spells") == 5
    assert '"count":0' in out.replace(" ", "")
    _no_secret(out, _dump(fin, msgs))


@pytest.mark.parametrize("query", [
    "$ENV", "env", "$ENV.DB_PASS", "env.DATABASE_URL", "[env[]]", "$ENV | to_entries",
    "def f: env; f", "1) | $ENV | (1", "$__loc__ | env",
])
async def test_jq_sees_no_process_environment(tmp_path: Path, secrets_env: dict[str, str], query: str) -> None:
    out, fin, msgs = await run(tmp_path / "ws", f"""
        local r = Tool.execute("json-processor",
                               {{operation = "query", input = {{a = 1}}, query = {json.dumps(query)}}})
        print(r.success, JSON.stringify(r.result), r.error and r.error.message)
    """)
    _no_secret(out, _dump(fin, msgs))


async def test_jq_env_is_the_allow_listed_environment(tmp_path: Path, secrets_env: dict[str, str]) -> None:
    out, _, _ = await run(tmp_path / "ws", """
        local r = Tool.execute("json-processor", {operation = "query", input = {},
                               query = '[$ENV.LLMSPELL_SEC_PLAIN, (env.DB_PASS // "none")]'})
        print(JSON.stringify(r.result))
    """, security={"env_allow": ["LLMSPELL_SEC_PLAIN"]})
    assert out.strip().replace(" ", "") == '["plain-value-8812","none"]'


@pytest.mark.parametrize("query", [
    'import "secret" as s; s::x', 'include "secret"; x', ' import "secret" as $s; $s',
    '"secret" | modulemeta', "get_search_list",
])
async def test_jq_module_directives_read_no_files(tmp_path: Path, query: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jq").write_text('def x: "OUTSIDE-MODULE-TEXT";')
    (outside / "secret.json").write_text('"OUTSIDE-MODULE-TEXT"')
    q = query.replace('"secret"', json.dumps("secret") + ' {search: "' + str(outside) + '"}') \
        if query.lstrip().startswith(("import", "include")) else query
    out, fin, msgs = await run(tmp_path / "ws", f"""
        local ok, r = pcall(Tool.execute, "json-processor",
                            {{operation = "query", input = {{}}, query = {json.dumps(q)}}})
        print(ok, ok and JSON.stringify(r.result) or tostring(r))
    """)
    assert "OUTSIDE-MODULE-TEXT" not in out + _dump(fin, msgs)
    assert str(outside) not in out.replace(q, "")


async def test_jq_ignores_home_dot_jq(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".jq").write_text('def leak: "HOME-JQ-LEAKED"; def env: {"x": "HOME-JQ-LEAKED"};')
    monkeypatch.setenv("HOME", str(home))
    out, fin, msgs = await run(tmp_path / "ws", """
        local ok, r = pcall(Tool.execute, "json-processor", {operation = "query", input = {}, query = "leak"})
        print(ok, ok and JSON.stringify(r.result) or tostring(r))
        local r2 = Tool.execute("json-processor", {operation = "query", input = {}, query = "env"})
        print(JSON.stringify(r2.result))
    """)
    assert "HOME-JQ-LEAKED" not in out + _dump(fin, msgs)
    assert os.environ["HOME"] == str(home)


async def test_password_env_cannot_be_named_by_a_spell(tmp_path: Path, secrets_env: dict[str, str]) -> None:
    out, fin, msgs = await run(tmp_path / "ws", """
        for _, name in ipairs({"DB_PASS", "OPENAI_API_KEY", "GITHUB_PAT"}) do
          local ok, r = pcall(Tool.execute, "email-sender", {to = "a@example.com", subject = "s", body = "b",
            from = "m@example.com", username = "u", password_env = name, smtp_host = "127.0.0.1", smtp_port = 9})
          print(name, ok and r.success, ok and (r.error and r.error.message) or tostring(r))
        end
    """, security={"allow_private_network": True})
    assert out.count("cannot name an environment variable") == 3, out
    _no_secret(out, _dump(fin, msgs))


# ----------------------------------------------------------------------------------- provider keys


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeOpenAIServer, FakeOpenAIServer]]:
    async with FakeOpenAIServer() as configured, FakeOpenAIServer(reply="attacker") as attacker:
        yield configured, attacker


def _provider_cfg(server: FakeOpenAIServer, **security: Any) -> dict[str, Any]:
    return {"providers": {"openai": {"base_url": server.base_url, "api_key_env": "OPENAI_API_KEY",
                                     "max_retries": 0, "timeout_s": 5}},
            "security": security}


async def test_configured_key_goes_to_the_configured_endpoint(tmp_path: Path, secrets_env: dict[str, str],
                                                              servers: Any) -> None:
    configured, _ = servers
    _, fin, _ = await run(tmp_path / "ws", """
        local a = Agent.builder():name("a"):model("openai/plain"):build()
        print(a:execute({text = "hi"}).text)
    """, **_provider_cfg(configured))
    assert fin.status == "success", fin
    assert configured.auth == [f"Bearer {SECRETS['OPENAI_API_KEY']}"]


@pytest.mark.parametrize("lang", ["lua", "js"])
async def test_spell_base_url_gets_no_configured_key(tmp_path: Path, secrets_env: dict[str, str], servers: Any,
                                                     lang: str) -> None:
    configured, attacker = servers
    if lang == "lua":
        src = f"""
            local a = Agent.builder():name("x"):model("openai/plain"):base_url("{attacker.base_url}"):build()
            local ok, r = pcall(function() return a:execute({{text = "hi"}}) end)
            print(ok, ok and r.text or tostring(r))
        """
    else:
        src = f"""
            const a = Agent.builder().name("x").model("openai/plain").baseUrl("{attacker.base_url}").build();
            try {{ const r = await a.execute({{text: "hi"}}); console.log("ok", r.text); }}
            catch (e) {{ console.log("refused", String(e.message || e)); }}
        """
    out, fin, msgs = await run(tmp_path / "ws", src, name=f"spell.{lang}",
                               **_provider_cfg(configured, allow_private_network=True))
    assert all(a is None or SECRETS["OPENAI_API_KEY"] not in a for a in attacker.auth)
    assert configured.hits == [] and attacker.hits == []  # no key: refused before any request
    assert "no API key" in out
    _no_secret(out, _dump(fin, msgs))


async def test_spell_base_url_must_pass_the_network_policy(tmp_path: Path, secrets_env: dict[str, str],
                                                           servers: Any) -> None:
    configured, attacker = servers
    out, fin, msgs = await run(tmp_path / "ws", f"""
        local a = Agent.builder():name("x"):model("openai/plain"):base_url("{attacker.base_url}")
            :api_key("spell-own-key"):build()
        local ok, r = pcall(function() return a:execute({{text = "hi"}}) end)
        print(ok, tostring(r))
    """, **_provider_cfg(configured))
    assert "allow_private_network" in out and attacker.hits == [] and configured.hits == []
    _no_secret(out, _dump(fin, msgs))


async def test_spell_base_url_with_its_own_key_when_the_network_allows(tmp_path: Path, secrets_env: dict[str, str],
                                                                       servers: Any) -> None:
    configured, attacker = servers
    out, _, _ = await run(tmp_path / "ws", f"""
        local a = Agent.builder():name("x"):model("openai/plain"):base_url("{attacker.base_url}")
            :api_key("spell-own-key"):build()
        print(a:execute({{text = "hi"}}).text)
    """, **_provider_cfg(configured, allow_private_network=True))
    assert out == "attacker\n" and attacker.auth == ["Bearer spell-own-key"] and configured.hits == []


async def test_litellm_never_reads_a_key_from_the_environment(secrets_env: dict[str, str], servers: Any) -> None:
    from llmspell.core.errors import ProviderError
    from llmspell.providers.base import ChatMessage, CompletionRequest
    from llmspell.providers.litellm_provider import LiteLLMProvider

    _, attacker = servers
    p = LiteLLMProvider("openai/plain", api_base=attacker.base_url, timeout_s=5, max_retries=0)
    with pytest.raises(ProviderError) as ei:
        await p.complete(CompletionRequest(model="openai/plain", messages=[ChatMessage(role="user", content="x")]))
    assert ei.value.status == 401 and attacker.hits == []
    _no_secret(str(ei.value))


async def test_ai_tools_send_the_key_only_to_the_configured_provider(tmp_path: Path, secrets_env: dict[str, str],
                                                                     servers: Any) -> None:
    """image-describer's model is a spell parameter: a provider the configuration does not name gets no key."""
    configured, _ = servers
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "p.png").write_bytes(b"\x89PNG")
    out, fin, msgs = await run(ws, """
        local ok, r = pcall(Tool.execute, "image-describer", {file_path = "p.png", model = "groq/llama"})
        print(ok, ok and JSON.stringify(r) or tostring(r))
    """, **_provider_cfg(configured))
    _no_secret(out, _dump(fin, msgs))
    vault = SecretVault.for_config(load_config(ws, overrides=_provider_cfg(configured), environ={}))
    assert vault.get("GROQ_API_KEY") is None and vault.get("OPENAI_API_KEY") == SECRETS["OPENAI_API_KEY"]


# ----------------------------------------------------------------------------------- the vault and the scrub


def test_vault_holds_only_configured_names_and_never_prints_them(secrets_env: dict[str, str]) -> None:
    cfg = RuntimeConfig.model_validate({"providers": {"openai": {"api_key_env": "OPENAI_API_KEY"}},
                                        "security": {"tool_env": ["GITHUB_PAT"]}})
    v = SecretVault.for_config(cfg)
    assert v.get("OPENAI_API_KEY") == SECRETS["OPENAI_API_KEY"] and v.get("GITHUB_PAT") == SECRETS["GITHUB_PAT"]
    assert v.get("DB_PASS") is None and v.get("DATABASE_URL") is None
    _no_secret(repr(v), str(v))
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(v)
    assert set(secret_names(cfg)) >= {"OPENAI_API_KEY", "GITHUB_PAT"}


def test_scrub_environment_in_a_child_process(tmp_path: Path) -> None:
    """What the lead's run process does first: scrub, then build the runtime. libjq (C) sees the scrubbed
    environ; the vault still gives providers and tools their configured secrets."""
    code = r"""
import json, os
from llmspell.config import RuntimeConfig
from llmspell.security.secrets import scrub_environment
cfg = RuntimeConfig.model_validate({"workspace": os.environ["WS"],
    "providers": {"openai": {"api_key_env": "OPENAI_API_KEY"}},
    "security": {"env_allow": ["LLMSPELL_SEC_PLAIN"], "tool_env": ["SMTP_PASSWORD"]}})
vault = scrub_environment(cfg)
import jq
raw = jq.compile("$ENV").input_value(None).first()
from llmspell.runtime import Runtime
rt = Runtime(cfg, state="memory")
print(json.dumps({"environ": sorted(os.environ), "jq": raw, "vault_key": vault.get("OPENAI_API_KEY"),
                  "rt_key": rt.secrets.get("OPENAI_API_KEY"), "smtp": rt.secrets.get("SMTP_PASSWORD"),
                  "visible": rt.policy.spell_environ()}))
"""
    env = {**os.environ, **SECRETS, "SMTP_PASSWORD": "smtp-pw-3390", "LD_PRELOAD": "", "GIT_CONFIG_COUNT": "1",
           "PYTHONINSPECT": "", "WS": str(tmp_path)}
    env.pop("PYTHONINSPECT")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    names = set(got["environ"])
    for gone in ["DB_PASS", "DATABASE_URL", "GITHUB_PAT", "OPENAI_API_KEY", "SMTP_PASSWORD", "LD_PRELOAD",
                 "GIT_CONFIG_COUNT", "WS"]:
        assert gone not in names, gone
    assert "PATH" in names and "LLMSPELL_SEC_PLAIN" in names
    for value in [*SECRETS.values(), "smtp-pw-3390"]:
        if value != SECRETS["LLMSPELL_SEC_PLAIN"]:
            assert value not in json.dumps(got["jq"])
    assert got["vault_key"] == got["rt_key"] == SECRETS["OPENAI_API_KEY"] and got["smtp"] == "smtp-pw-3390"
    assert got["visible"] == {"LLMSPELL_SEC_PLAIN": SECRETS["LLMSPELL_SEC_PLAIN"]}


def test_scrub_keeps_process_needs_but_spells_still_do_not_see_them() -> None:
    env = {"PATH": "/usr/bin", "HOME": "/home/x", "LANG": "C.UTF-8", "DB_PASS": "p", "LD_PRELOAD": "/x.so",
           "BASH_ENV": "/x", "NODE_OPTIONS": "--require /x", "APP_MODE": "dev"}
    cfg = RuntimeConfig.model_validate({"workspace": "/tmp", "security": {"env_allow": ["APP_*"]}})
    scrub_environment(cfg, env)
    assert env == {"PATH": "/usr/bin", "HOME": "/home/x", "LANG": "C.UTF-8", "APP_MODE": "dev"}
    assert [n for n in env if spell_visible(n, cfg.security.env_allow)] == ["APP_MODE"]


# ----------------------------------------------------------------------------------- the workspace default


@pytest.mark.parametrize("where", ["root", "home", "home_parent"])
def test_no_default_workspace_at_root_or_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    home = tmp_path / "users" / "me"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    cwd = {"root": Path("/"), "home": home, "home_parent": home.parent}[where]
    monkeypatch.chdir(cwd)
    with pytest.raises(ConfigurationError, match="--workspace"):
        load_config(environ={})
    with pytest.raises(ConfigurationError, match="--workspace"):
        _ = RuntimeConfig().workspace_path
    with pytest.raises(ConfigurationError):
        Runtime(state="memory")
    # an explicit choice is the operator's
    assert load_config(home, environ={}).workspace_path == home.resolve()


def test_default_workspace_elsewhere_is_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    monkeypatch.chdir(proj)
    assert load_config(environ={}).workspace_path == proj.resolve()


def test_workspace_cannot_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    cfg = load_config(proj, environ={"LLMSPELL_WORKSPACE": "/"})
    assert cfg.workspace_path == proj.resolve()
