"""Config: reads the effective configuration (never secrets), answers from the real policy, and only
narrows the sandbox; widening is a security error naming the llmspell.toml key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fakes import collect_run
from llmspell.api.globals.config_ import REDACTED, redact
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime


def make_rt(tmp_path: Path, **overrides: Any) -> Runtime:
    ws = tmp_path / "ws"
    ws.mkdir(parents=True, exist_ok=True)
    return Runtime(workspace=ws, state="memory", overrides=overrides or None)


async def run(rt: Runtime, src: str, name: str = "spell.lua") -> tuple[list[str], Any]:
    text, fin, _ = await collect_run(SpellRunner(runtime=rt), rt.workspace / name, source=src)
    assert fin is not None
    return text.splitlines(), fin


def test_redact_hides_secret_keys_values_and_url_passwords() -> None:
    data = {
        "providers": {"openai": {"api_key_env": "OPENAI_API_KEY", "api_key": "sk-live", "base_url":
                                 "https://user:hunter2@proxy.example/v1"}},
        "tool_env": ["SMTP_PASSWORD"],
        "nested": [{"token": "abc"}, {"note": "sk-abcdef123"}, {"password": ""}],
        "plain": "hello",
    }
    out = redact(data)
    assert out["providers"]["openai"]["api_key_env"] == "OPENAI_API_KEY"  # a name, not a secret
    assert out["providers"]["openai"]["api_key"] == REDACTED
    assert out["providers"]["openai"]["base_url"] == f"https://{REDACTED}@proxy.example/v1"
    assert out["tool_env"] == ["SMTP_PASSWORD"]
    assert out["nested"] == [{"token": REDACTED}, {"note": REDACTED}, {"password": ""}]
    assert out["plain"] == "hello"
    assert data["providers"]["openai"]["api_key"] == "sk-live"  # a copy


async def test_reading_the_configuration(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, limits={"wall_time_s": 42},
                 providers={"openai": {"api_key_env": "MY_OPENAI_KEY", "base_url": "https://api.example.com/v1"}},
                 security={"process_allow": ["echo"]})
    lines, fin = await run(rt, """
        print(Config.getDefaultEngine(), table.concat(Config.listProviders(), ","))
        print(Config.get("limits.wall_time_s"), Config.get().limits.wall_time_s, Config.get("no.such.key"))
        print(Config.get("tools.system.allow_process_execution"), Config.getTools().system.allowed_commands[1])
        local p = Config.getProvider("openai")
        print(p.name, p.api_key_env, p.base_url, Config.getProvider("nope"))
        print(Config.getProvider("offline").default_model)
        local s = Config.getSecurity()
        print(s.allow_file_access, s.allow_process_spawn, s.max_execution_time_ms, #s.allowed_roots)
        print(Config.getSection("runtime").wall_time_s, Config.getSection("engines").default,
              Config.getSection("artifacts").max_artifact_bytes)
        local perms = Config.getPermissions()
        print(perms.read, perms.modify_security, perms.access_secrets, perms.narrowing_only)
        local j = JSON.parse(Config.toJson())
        print(j.limits.wall_time_s, j.default_engine)
        local ok, err = pcall(Config.getSection, "bogus")
        print(ok, err.kind, tostring(err):find("Unknown configuration section: 'bogus'", 1, true) ~= nil)
    """)
    assert fin.status == "success", fin.error
    assert lines == [
        "lua\toffline,openai",
        "42\t42\tnil",
        "true\techo",
        "openai\tMY_OPENAI_KEY\thttps://api.example.com/v1\tnil",
        "offline/scripted",
        "true\ttrue\t42000\t1",
        "42\tlua\t104857600",
        "true\tfalse\tfalse\ttrue",
        "42\tlua",
        "false\tconfiguration\ttrue",
    ]
    await rt.shutdown()


async def test_secrets_never_reach_the_spell(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("MY_OPENAI_KEY", "sk-very-secret-value")
    rt = make_rt(tmp_path, providers={"openai": {"api_key_env": "MY_OPENAI_KEY"}})
    lines, fin = await run(rt, """
        print(Config.toJson())
        print(JSON.stringify(Config.get()))
        print(JSON.stringify(Config.getProvider("openai")))
    """)
    assert fin.status == "success", fin.error
    text = "\n".join(lines)
    assert "sk-very-secret-value" not in text
    assert "MY_OPENAI_KEY" in text  # the variable's name is fine
    await rt.shutdown()


async def test_access_questions_answer_from_the_real_policy_without_reporting(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, security={"network_allow": ["*.example.com"]})
    violations = []
    rt.events.subscribe("security.*", violations.append)
    lines, fin = await run(rt, """
        print(Config.isFileAccessAllowed(), Config.isFileAccessAllowed("notes/a.txt"),
              Config.isFileAccessAllowed("/etc/passwd"), Config.isFileAccessAllowed("../outside"))
        print(Config.isNetworkAccessAllowed(), Config.isNetworkAccessAllowed("api.example.com"),
              Config.isNetworkAccessAllowed("https://evil.org/x"), Config.isNetworkAccessAllowed("10.0.0.1"))
        local ok, err = pcall(Config.isFileAccessAllowed, 5)
        print(ok, err.kind)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["true\ttrue\tfalse\tfalse", "true\ttrue\tfalse\tfalse", "false\tvalidation"]
    assert rt.policy.violations == 0 and not violations  # asking is not a violation
    await rt.shutdown()


async def test_private_network_answers(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, security={"allow_private_network": True})
    lines, fin = await run(rt, 'print(Config.isNetworkAccessAllowed("127.0.0.1"), '
                               'Config.isNetworkAccessAllowed("localhost"))')
    assert fin.status == "success", fin.error
    assert lines == ["true\ttrue"]
    rt2 = make_rt(tmp_path / "b")
    lines, fin = await run(rt2, 'print(Config.isNetworkAccessAllowed("127.0.0.1"), '
                                'Config.isNetworkAccessAllowed("localhost"), Config.isNetworkAccessAllowed("[::1]"))')
    assert lines == ["false\tfalse\tfalse"]
    await rt.shutdown()
    await rt2.shutdown()


async def test_widening_is_refused_naming_llmspell_toml(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, security={"network_allow": ["a.example.com"], "process_allow": ["echo"]})
    toml = str(rt.workspace / "llmspell.toml")
    lines, fin = await run(rt, """
        local function try(f, ...)
          local ok, err = pcall(f, ...)
          print(ok and "ok" or (err.kind .. ": " .. err.message))
        end
        try(Config.addAllowedPath, "/etc")
        try(Config.addAllowedPath, "sub/dir")          -- already inside: nothing to widen
        try(Config.setProvider, "custom", {base_url = "https://evil.example"})
        try(Config.setSecurity, {allow_private_network = true})
        try(Config.setSecurity, {network_allow = {"a.example.com", "b.example.com"}})
        try(Config.setSecurity, {process_allow = {"echo", "rm"}})
        try(Config.setSecurity, {max_response_bytes = 1e12})
        try(Config.setSecurity, {max_tool_security_level = "privileged"})
        try(Config.setSecurity, {allow_process_spawn = true})
        try(Config.setSecurity, {bogus = 1})
        try(Config.setSecurity, {allow_network_access = false})
    """)
    assert fin.status == "success", fin.error
    assert lines[0].startswith("security: Config.addAllowedPath: /etc is outside the allowed folders")
    assert "security.allowed_paths" in lines[0] and toml in lines[0]
    assert lines[1] == "ok"
    assert lines[2].startswith("security: Config.setProvider: provider 'custom' cannot be changed")
    assert "[providers.custom]" in lines[2]
    assert "allow_private_network = true would widen the policy" in lines[3]
    assert "network_allow would gain b.example.com" in lines[4] and "security.network_allow" in lines[4]
    assert "process_allow would gain rm" in lines[5]
    assert "max_response_bytes" in lines[6] and "above the configured" in lines[6]
    assert lines[7] == "ok"  # privileged is already the level: not wider
    assert lines[8] == "ok"  # already enabled
    assert lines[9].startswith("validation: Config.setSecurity: unknown security key 'bogus'")
    assert lines[10].startswith("validation: Config.setSecurity: 'allow_network_access' = false cannot be expressed")
    assert rt.config.security.network_allow == ["a.example.com"] and rt.config.security.process_allow == ["echo"]
    await rt.shutdown()


async def test_narrowing_applies_to_the_run_and_snapshots_restore(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, security={"process_allow": ["echo", "ls"]})
    (rt.workspace / "data").mkdir()
    lines, fin = await run(rt, """
        local ts = Config.snapshot()
        print(type(ts))
        Config.setSecurity({network_allow = {"api.example.com"}, process_allow = {"echo"},
                            max_response_bytes = 1000, max_tool_security_level = "restricted"})
        print(Config.isNetworkAccessAllowed("other.org"), Config.isNetworkAccessAllowed("api.example.com"))
        print(table.concat(Config.getTools().system.allowed_commands, ","), Config.getSecurity().max_response_bytes)
        Config.setSecurity({allow_process_spawn = false})
        print(Config.getSecurity().allow_process_spawn)
        Config.restoreSnapshot(ts)
        print(Config.isNetworkAccessAllowed("other.org"), table.concat(Config.getTools().system.allowed_commands, ","))
        local ok, err = pcall(Config.restoreSnapshot, 12345)
        print(ok, err.kind, tostring(err):find("Snapshot not found: 12345", 1, true) ~= nil)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["number", "false\ttrue", "echo\t1000", "false", "true\techo,ls", "false\tconfiguration\ttrue"]
    await rt.shutdown()


async def test_narrowing_is_enforced_by_the_tools(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, security={"allowed_paths": [str(tmp_path / "extra")]})
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "f.txt").write_text("x")
    lines, fin = await run(rt, f"""
        local p = {json.dumps(str(tmp_path / "extra" / "f.txt"))}
        print(Config.isFileAccessAllowed(p))
        Config.setSecurity({{allowed_paths = {{}}}})
        print(Config.isFileAccessAllowed(p))
        local ok, err = pcall(Tool.execute, "file-operations", {{operation = "read", path = p}})
        print(ok and "read" or err.kind)
        local ok2, err2 = pcall(Config.setSecurity, {{allowed_paths = {{{json.dumps(str(tmp_path / "extra"))}}}}})
        print(ok2, err2 and err2.kind)
    """)
    assert fin.status == "success", fin.error
    assert lines[0] == "true" and lines[1] == "false"
    assert lines[2] in ("security", "tool")
    assert lines[3] == "false\tsecurity"
    await rt.shutdown()


async def test_config_in_js(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    lines, fin = await run(rt, """
        console.log(Config.getDefaultEngine(), Config.get("limits.wall_time_s"), Config.isFileAccessAllowed("/etc"));
        console.log(Config.getPermissions().modify_security, typeof Config.toJson());
        try { await Config.addAllowedPath("/etc"); } catch (e) { console.log(e.kind); }
        await Config.setSecurity({network_allow: ["x.example.com"]});
        console.log(Config.isNetworkAccessAllowed("y.example.com"));
    """, name="spell.js")
    assert fin.status == "success", fin.error
    assert lines == ["lua 300 false", "false string", "security", "false"]
    await rt.shutdown()
