"""``llmspell-ls --mcp``: the builtin tools over MCP stdio, driven by the mcp SDK's own ``Client``.

The server is the real CLI in a subprocess, its workspace (policy, limits) is the test's folder
(the current directory's ``llmspell.toml``), and every call runs in an isolated child run.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp_helpers import PYTHON

pytestmark = [pytest.mark.timeout(120)]


def server_params(ws: Path) -> Any:
    from mcp import StdioServerParameters

    env = {k: os.environ[k] for k in ("PYTHONPATH", "LITELLM_LOCAL_MODEL_COST_MAP") if k in os.environ}
    return StdioServerParameters(command=PYTHON, args=["-m", "llmspell_ls", "--mcp"], cwd=str(ws), env=env)


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, toml: str = "") -> AsyncIterator[Any]:
    """A client connected to ``llmspell-ls --mcp`` run in a fresh workspace (a context manager, not a
    fixture: the SDK's task groups must be entered and left by the same task)."""
    from mcp import Client

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("inside the workspace\n", encoding="utf-8")
    if toml:
        (ws / "llmspell.toml").write_text(toml, encoding="utf-8")
    async with Client(server_params(ws), read_timeout_seconds=60) as c:
        yield c


def text_of(result: Any) -> str:
    return "".join(getattr(b, "text", "") for b in result.content)


async def test_list_tools_gives_every_builtin_tool_with_its_declared_schema(tmp_path: Path) -> None:
    from llmspell.tools.builtin import BUILTIN_TOOLS
    from llmspell.tools.registry import load_builtin_class

    async with serving(tmp_path) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == set(BUILTIN_TOOLS)
        for name, spec in BUILTIN_TOOLS.items():
            cls = load_builtin_class(spec)
            assert tools[name].input_schema == cls.parameters_schema(), name
            assert tools[name].description == cls.description


async def test_call_tool_returns_text_and_structured_content(tmp_path: Path) -> None:
    async with serving(tmp_path) as client:
        r = await client.call_tool("calculator", {"input": "6 * 7"})
        assert not r.is_error, text_of(r)
        assert r.structured_content["result"]["result"] == 42
        assert '"result": 42' in text_of(r)
        r = await client.call_tool("file-operations", {"operation": "read", "path": "notes.txt"})
        assert not r.is_error and text_of(r) == "inside the workspace\n"


async def test_bad_arguments_are_is_error_results_naming_the_parameter(tmp_path: Path) -> None:
    async with serving(tmp_path) as client:
        r = await client.call_tool("uuid-generator", {"operation": "explode"})
        assert r.is_error
        assert text_of(r).startswith("uuid-generator: parameter 'operation': expected one of ")
        r = await client.call_tool("hash-calculator", {})
        assert r.is_error and "parameter 'operation' is required" in text_of(r)
        r = await client.call_tool("uuid-generatr", {})
        assert r.is_error and text_of(r).startswith("unknown tool 'uuid-generatr'; did you mean uuid-generator")


async def test_path_outside_the_allowed_roots_is_refused(tmp_path: Path) -> None:
    async with serving(tmp_path) as client:
        secret = tmp_path / "outside.txt"
        secret.write_text("not for tools", encoding="utf-8")
        r = await client.call_tool("file-operations", {"operation": "read", "path": str(secret)})
        assert r.is_error
        assert "outside the allowed paths" in text_of(r) and "security.allowed_paths" in text_of(r)
        assert "not for tools" not in text_of(r)
        r = await client.call_tool("file-operations", {"operation": "write", "path": "../escape.txt", "input": "x"})
        assert r.is_error and not (tmp_path / "escape.txt").exists()


async def test_a_blocking_call_is_ended_at_the_wall_time_limit(tmp_path: Path) -> None:
    """A tool call that would block for a minute is stopped at ``limits.wall_time_s`` (2 s here) by the
    run's supervisor, and the client gets an ``isError`` result saying so; the server keeps serving."""
    async with serving(tmp_path, '[limits]\nwall_time_s = 2\n\n[security]\nprocess_allow = ["sleep"]\n') as c:
        t0 = time.monotonic()
        r = await c.call_tool("process-executor", {"executable": "sleep", "arguments": ["60"], "timeout": 120})
        took = time.monotonic() - t0
        assert r.is_error, text_of(r)
        assert text_of(r).startswith("process-executor: wall time limit exceeded (2 s)"), text_of(r)
        assert "limits.wall_time_s" in text_of(r)
        assert took < 30, f"the blocking call was not bounded: {took:.1f} s"
        r = await c.call_tool("calculator", {"input": "1 + 1"})
        assert not r.is_error and r.structured_content["result"]["result"] == 2


async def test_secrets_stay_out_of_tool_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same secrets rule as spells: a variable not in security.env_allow is invisible to tools."""
    from mcp import Client

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "llmspell.toml").write_text('[security]\nenv_allow = ["VISIBLE_ONE"]\n', encoding="utf-8")
    params = server_params(ws)
    params.env = {**(params.env or {}), "VISIBLE_ONE": "yes", "HIDDEN_TOKEN": "s3cret"}
    async with Client(params, read_timeout_seconds=60) as c:
        r = await c.call_tool("environment-reader", {"operation": "get", "variable_name": "VISIBLE_ONE"})
        assert not r.is_error and "yes" in text_of(r)
        r = await c.call_tool("environment-reader", {"operation": "get", "variable_name": "HIDDEN_TOKEN"})
        assert "s3cret" not in text_of(r)


async def test_isolation_none_runs_calls_in_process_under_the_same_policy(tmp_path: Path) -> None:
    async with serving(tmp_path, '[limits]\nisolation = "none"\n') as client:
        r = await client.call_tool("calculator", {"input": "2 ** 10"})
        assert not r.is_error and r.structured_content["result"]["result"] == 1024
        r = await client.call_tool("file-operations", {"operation": "read", "path": str(tmp_path / "elsewhere")})
        assert r.is_error and "outside the allowed paths" in text_of(r)
        r = await client.call_tool("uuid-generator", {"operation": "explode"})
        assert r.is_error and "parameter 'operation'" in text_of(r)
