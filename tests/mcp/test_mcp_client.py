"""MCP servers' tools in spells and agents (``[mcp.servers.NAME]`` -> tools ``mcp.NAME.TOOL``).

Every test talks to a real MCP server (tests/fakes/mcp_server.py) that the test starts: over stdio
(the runtime starts it from llmspell.toml) or over Streamable HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from mcp_helpers import PYTHON, run_spell, stdio_toml

from llmspell.messages import Finished

pytestmark = [pytest.mark.timeout(120)]


async def run(ws: Path, src: str, name: str = "spell.lua") -> tuple[str, Finished]:
    return await run_spell(ws, src, name)


async def test_tool_list_shows_mcp_tools_with_their_server_schema(ws: Path) -> None:
    out, fin = await run(ws, """
for _, t in ipairs(Tool.list()) do
  if t.name:sub(1, 4) == "mcp." then print(t.name, t.category) end
end
local h = Tool.get("mcp.fake.search")
local s = h:json_schema()
print("required", table.concat(s.required, ","), "enum", table.concat(s.properties.kind.enum, ","))
""")
    assert fin.status == "success", fin.error
    lines = out.splitlines()
    assert "mcp.fake.add\tmcp" in lines and "mcp.fake.search\tmcp" in lines and "mcp.fake.die\tmcp" in lines
    assert "required\tquery\tenum\tnotes,tasks" in lines
    listing = json.loads((ws / ".llmspell" / "mcp-tools.json").read_text())
    tools = {t["name"]: t for t in listing["servers"]["fake"]["tools"]}
    assert tools["mcp.fake.add"]["schema"]["required"] == ["a", "b"]
    assert [p["name"] for p in tools["mcp.fake.search"]["parameters"]] == ["query", "kind", "limit"]


async def test_lua_spell_calls_a_tool_structured_and_text(ws: Path) -> None:
    out, fin = await run(ws, """
local r = Tool.execute("mcp.fake.add", {a = 2, b = 40})
print("add", r.success, r.result.result, r.text)
local e = Tool.execute("mcp.fake.echo", {text = "hello"})
print("echo", e.text)
local h = Tool.get("mcp.fake.search")
print("search", h:execute({query = "milk", limit = 2}).result.hits[2])
""")
    assert fin.status == "success", fin.error
    assert out.splitlines() == ["add\ttrue\t42\t42", "echo\thello", "search\ttasks-1: milk".replace("tasks", "notes")]


async def test_js_spell_calls_a_tool(ws: Path) -> None:
    out, fin = await run(ws, """
const r = await Tool.execute("mcp.fake.add", {a: 20, b: 22});
console.log("js add", r.result.result);
const names = Tool.list().map(t => t.name).filter(n => n.startsWith("mcp.fake."));
console.log("js list", names.length > 5, names.includes("mcp.fake.echo"));
const h = Tool.get("mcp.fake.search");
const hit = (await h.execute({query: "q", kind: "tasks"})).result.hits[0];
console.log("js get", h.name, Tool.exists("mcp.fake.nope"), hit);
""", "spell.js")
    assert fin.status == "success", fin.error
    assert out.splitlines() == ["js add 42", "js list true true", "js get mcp.fake.search false tasks-0: q"]


async def test_bad_arguments_name_the_parameter_before_anything_is_sent(ws: Path) -> None:
    out, fin = await run(ws, """
local function try(params)
  local ok, err = pcall(Tool.execute, "mcp.fake.search", params)
  print(ok, err.kind, err.message)
end
try({limit = 2})
try({query = "x", limit = "many"})
try({query = "x", kind = "mail"})
""")
    assert fin.status == "success", fin.error
    assert out.splitlines() == [
        "false\tvalidation\tmcp.fake.search: parameter 'query' is required",
        "false\tvalidation\tmcp.fake.search: parameter 'limit': expected integer, got \"many\"",
        "false\tvalidation\tmcp.fake.search: parameter 'kind': expected one of notes, tasks, got \"mail\"",
    ]


async def test_is_error_result_is_a_tool_error_with_the_server_text(ws: Path) -> None:
    out, fin = await run(ws, """
local ok, err = pcall(Tool.execute, "mcp.fake.fail", {message = "note 7 is locked"})
print(ok, err.kind, err.message)
""")
    assert fin.status == "success", fin.error
    assert out.startswith("false\ttool\tmcp.fake.fail: ") and "note 7 is locked" in out


async def test_dead_server_gives_a_clear_error_then_restarts_on_next_use(ws: Path) -> None:
    out, fin = await run(ws, """
local before = Tool.execute("mcp.fake.pid", {}).result.result
local ok, err = pcall(Tool.execute, "mcp.fake.die", {})
print("die", ok, err.message)
local after = Tool.execute("mcp.fake.pid", {}).result.result
print("restarted", before ~= after, Tool.execute("mcp.fake.echo", {text = "back"}).text)
""")
    assert fin.status == "success", fin.error
    lines = out.splitlines()
    assert lines[0].startswith("die\tfalse\tMCP server 'fake' exited: ")
    assert "exiting on request" in lines[0]  # the server's own last words (its stderr)
    assert "started again on next use" in lines[0]
    assert lines[1] == "restarted\ttrue\tback"


async def test_process_policy_refuses_a_program_not_in_mcp_process_allow(ws: Path) -> None:
    (ws / "llmspell.toml").write_text(stdio_toml(allow=False), encoding="utf-8")
    out, fin = await run(ws, """
local ok, err = pcall(Tool.execute, "mcp.fake.add", {a = 1, b = 2})
print(ok, err.kind, err.message)
local sub = Event.subscribe("tool.failed")
local listed = 0
for _, t in ipairs(Tool.list()) do if t.name:sub(1, 4) == "mcp." then listed = listed + 1 end end
print("listed", listed)
local ev = Event.receive(sub, 1000)
print("event", ev.data.tool, ev.data.error_type)
""")
    assert fin.status == "success", fin.error
    first, second, third = out.splitlines()
    assert third == "event\tmcp.fake.*\tSecurityViolationError"
    assert first.startswith("false\tsecurity\tMCP server 'fake' (mcp.servers.fake.command): program ")
    assert "is not in mcp.process_allow" in first and "llmspell.toml" in first
    assert second == "listed\t0"


async def test_env_passes_only_the_named_variables(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MCP_TOKEN", "tok-123")
    monkeypatch.setenv("FAKE_MCP_OTHER", "should-not-pass")
    (ws / "llmspell.toml").write_text(stdio_toml(env=["FAKE_MCP_TOKEN"]), encoding="utf-8")
    out, fin = await run(ws, """
print(Tool.execute("mcp.fake.getenv", {name = "FAKE_MCP_TOKEN"}).text)
print(Tool.execute("mcp.fake.getenv", {name = "FAKE_MCP_OTHER"}).text)
print(os.getenv("FAKE_MCP_TOKEN"))
""")
    assert fin.status == "success", fin.error
    assert out.splitlines() == ["tok-123", "<unset>", "nil"]  # the spell itself never sees it


async def test_streamable_http_server(ws: Path, http_server: str) -> None:
    (ws / "llmspell.toml").write_text(
        f'[security]\nallow_private_network = true\n\n[mcp.servers.web]\nurl = "{http_server}"\n', encoding="utf-8")
    out, fin = await run(ws, """
print(Tool.execute("mcp.web.add", {a = 1, b = 2}).result.result)
local ok, err = pcall(Tool.execute, "mcp.web.add", {a = 1})
print(err.message)
""")
    assert fin.status == "success", fin.error
    assert out.splitlines() == ["3", "mcp.web.add: parameter 'b' is required"]


async def test_network_policy_refuses_a_private_http_server(ws: Path, http_server: str) -> None:
    (ws / "llmspell.toml").write_text(f'[mcp.servers.web]\nurl = "{http_server}"\n', encoding="utf-8")
    out, fin = await run(ws, """
local ok, err = pcall(Tool.execute, "mcp.web.add", {a = 1, b = 2})
print(ok, err.kind, err.message)
""")
    assert fin.status == "success", fin.error
    assert out.startswith("false\tsecurity\tMCP server 'web' (mcp.servers.web.url in llmspell.toml): host '127.0.0.1'")
    assert "security.allow_private_network" in out


async def test_network_allow_list_refuses_an_unlisted_host(ws: Path, http_server: str) -> None:
    (ws / "llmspell.toml").write_text(
        f'[security]\nallow_private_network = true\nnetwork_allow = ["api.example.com"]\n\n'
        f'[mcp.servers.web]\nurl = "{http_server}"\n', encoding="utf-8")
    out, fin = await run(ws, """
local ok, err = pcall(Tool.execute, "mcp.web.echo", {text = "x"})
print(ok, err.message)
""")
    assert fin.status == "success", fin.error
    assert "host '127.0.0.1' is not in security.network_allow" in out, out


async def test_agent_uses_an_mcp_tool_in_its_loop(ws: Path) -> None:
    from fakes.openai_server import FakeOpenAIServer

    async with FakeOpenAIServer() as server:
        server.tool_arguments["mcp_fake_add"] = {"a": 19, "b": 23}
        (ws / "llmspell.toml").write_text(
            stdio_toml() + f'\n[providers.openai]\nbase_url = "{server.base_url}"\napi_key_env = "FAKE_OPENAI_KEY"\n'
            "timeout_s = 10\nmax_retries = 0\n", encoding="utf-8")
        os.environ["FAKE_OPENAI_KEY"] = "sk-fake"
        try:
            out, fin = await run(ws, """
local a = Agent.builder():name("adder"):model("openai/tools"):allowed_tools({"mcp.fake.add"}):build()
local r = a:execute({text = "what is 19 + 23?"})
print(r.text)
""")
        finally:
            os.environ.pop("FAKE_OPENAI_KEY", None)
        assert fin.status == "success", fin.error
        assert out.startswith("Tool said: ") and '"result": {"result": 42}' in out
        first = next(b for m, b in server.hits if m == "tools")
        fn = first["tools"][0]["function"]
        assert fn["name"] == "mcp_fake_add" and fn["parameters"]["required"] == ["a", "b"]


def test_cli_run_goes_through_the_isolated_child(ws: Path) -> None:
    """``llmspell-ls --run``: the spell, the MCP client and the server's start all happen in the run's
    child process; the result and the listing file come back."""
    import subprocess

    (ws / "spell.lua").write_text(
        'local r = Tool.execute("mcp.fake.add", {a = 3, b = 4})\nprint("sum", r.result.result)\n'
        'local ok, err = pcall(Tool.execute, "mcp.fake.add", {a = 3})\nprint(err.message)\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    p = subprocess.run([PYTHON, "-m", "llmspell_ls", "--run", "spell.lua"], cwd=ws, capture_output=True, text=True,
                       timeout=90, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["sum\t7", "mcp.fake.add: parameter 'b' is required"]
    assert (ws / ".llmspell" / "mcp-tools.json").is_file()


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    from llmspell.config import load_config
    from llmspell.core.errors import ConfigurationError

    (tmp_path / "llmspell.toml").write_text('[mcp.servers.x]\ncommand = "a"\nurl = "http://h/mcp"\n')
    with pytest.raises(ConfigurationError, match=r"mcp\.servers\.x: .*either command .* or url"):
        load_config(tmp_path, environ={})
    (tmp_path / "llmspell.toml").write_text('[mcp.servers.x]\ncommand = "a"\nargz = []\n')
    with pytest.raises(ConfigurationError, match=r"mcp\.servers\.x\.argz: unknown key \(did you mean args\?\)"):
        load_config(tmp_path, environ={})
    (tmp_path / "llmspell.toml").write_text('[mcp.servers.x]\ncommand = "a"\nheaders_env = {Authorization = "T"}\n')
    with pytest.raises(ConfigurationError, match=r"mcp\.servers\.x: headers_env applies to url servers only"):
        load_config(tmp_path, environ={})
    (tmp_path / "llmspell.toml").write_text('[mcp.servers."a.b"]\ncommand = "a"\n')
    with pytest.raises(ConfigurationError, match=r"server name \"a\.b\""):
        load_config(tmp_path, environ={})


if sys.platform != "linux":  # pragma: no cover
    pytest.skip("the isolation runner is Linux-only", allow_module_level=True)



async def test_attack_spell_rewrites_a_server_script_in_the_workspace(ws: Path) -> None:
    """A server started from a script in the workspace runs outside the sandbox, and a spell can write
    the workspace: the spell could rewrite the script and have the next start run its code. So such a
    server is refused unless llmspell.toml says trust_workspace_files = true."""
    from mcp_helpers import FAKE_SERVER

    script = ws / "notes_server.py"
    script.write_text(FAKE_SERVER.read_text(encoding="utf-8"), encoding="utf-8")
    (ws / "llmspell.toml").write_text(
        f'[mcp]\nprocess_allow = ["{PYTHON}"]\n\n[mcp.servers.notes]\ncommand = "{PYTHON}"\n'
        'args = ["notes_server.py"]\n', encoding="utf-8")
    out, fin = await run(ws, """
local f = io.open("notes_server.py", "w")
f:write("import os\\nopen('pwned', 'w').write('ran outside the sandbox')\\n")
f:close()
local ok, err = pcall(Tool.execute, "mcp.notes.echo", {text = "x"})
print(ok, err.kind, err.message)
""")
    assert fin.status == "success", fin.error
    assert out.startswith("false\tsecurity\tMCP server 'notes': 'notes_server.py' lies inside ")
    assert "mcp.servers.notes.trust_workspace_files" in out
    assert not (ws / "pwned").exists()


async def test_trusted_workspace_server_starts(ws: Path) -> None:
    from mcp_helpers import FAKE_SERVER

    (ws / "notes_server.py").write_text(FAKE_SERVER.read_text(encoding="utf-8"), encoding="utf-8")
    (ws / "llmspell.toml").write_text(
        f'[mcp]\nprocess_allow = ["{PYTHON}"]\n\n[mcp.servers.notes]\ncommand = "{PYTHON}"\n'
        'args = ["notes_server.py"]\ntrust_workspace_files = true\n', encoding="utf-8")
    out, fin = await run(ws, 'print(Tool.execute("mcp.notes.echo", {text = "trusted"}).text)')
    assert fin.status == "success", fin.error
    assert out == "trusted\n"


async def test_http_headers_from_the_vault(ws: Path, http_server_with_token: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``headers_env``: a remote server's credentials come from a variable the spell never sees."""
    monkeypatch.setenv("FAKE_MCP_AUTH", "Bearer tok-fixture-7")
    (ws / "llmspell.toml").write_text(
        f'[security]\nallow_private_network = true\n\n[mcp.servers.web]\nurl = "{http_server_with_token}"\n'
        'headers_env = {Authorization = "FAKE_MCP_AUTH"}\n\n'
        f'[mcp.servers.anon]\nurl = "{http_server_with_token}"\n', encoding="utf-8")
    out, fin = await run(ws, """
print(Tool.execute("mcp.web.echo", {text = "authorised"}).text)
print(os.getenv("FAKE_MCP_AUTH"))
local ok, err = pcall(Tool.execute, "mcp.anon.echo", {text = "x"})
print(ok, err.message)
""")
    assert fin.status == "success", fin.error
    lines = out.splitlines()
    assert lines[:2] == ["authorised", "nil"]
    assert lines[2].startswith("false\tMCP server 'anon' could not be started (http://127.0.0.1:")
    assert lines[2].endswith("(HTTP 401)"), lines[2]


async def test_a_directory_argument_in_the_workspace_is_data(ws: Path) -> None:
    """A filesystem-style server given the workspace as its root still starts (only files are code)."""
    (ws / "llmspell.toml").write_text(stdio_toml().replace('.py"]', f'.py", "{ws}", "."]', 1), encoding="utf-8")
    out, fin = await run(ws, 'print(Tool.execute("mcp.fake.echo", {text = "served"}).text)')
    assert fin.status == "success", fin.error
    assert out == "served\n"


async def test_workflow_tool_steps_use_mcp_tools(ws: Path) -> None:
    out, fin = await run(ws, """
local wf = Workflow.builder():name("mcp-steps"):sequential()
  :add_step({name = "sum", type = "tool", tool = "mcp.fake.add", input = {a = 4, b = 5}})
  :add_step({name = "say", type = "tool", tool = "mcp.fake.echo", input = {text = "done"}})
  :build()
local r = wf:execute({})
print(r.success, r.outputs.sum.result.result, r.outputs.say.text)
""")
    assert fin.status == "success", fin.error
    assert out == "true\t9\tdone\n"
