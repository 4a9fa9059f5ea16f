"""System tools: process-executor (allow-list, no shell, timeouts), environment-reader (secrets hidden),
system-monitor."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from tool_helpers import call, result

from llmspell.core.errors import SecurityViolationError

PY = sys.executable


async def test_process_executor_runs_allowed_program_without_shell(runtime_factory: Any, ws: Path) -> None:
    # an interpreter runs only when also marked in process_allow_interpreters; variables pass when env_allow names them
    rt = runtime_factory(process_allow=[PY], process_allow_interpreters=[PY], env_allow=["GREETING"])
    r = await result(rt, "process-executor", {
        "executable": PY, "arguments": ["-c", "import sys,os; print(sys.argv[1]); print(os.getcwd()); "
                                              "print(os.environ.get('GREETING')); sys.exit(3)", "$(whoami);ls"],
        "environment": {"GREETING": "hi"}})
    lines = r["stdout"].splitlines()
    assert lines[0] == "$(whoami);ls"  # passed literally: there is no shell
    assert Path(lines[1]).resolve() == ws.resolve() and lines[2] == "hi"
    assert r["exit_code"] == 3 and r["success"] is False and not r["timed_out"]


async def test_process_executor_stdin_and_timeout(runtime_factory: Any) -> None:
    rt = runtime_factory(process_allow=[PY], process_allow_interpreters=[PY])
    r = await result(rt, "process-executor", {"executable": PY, "arguments": ["-c", "print(input()[::-1])"],
                                              "input": "abc"})
    assert r["stdout"].strip() == "cba" and r["success"]
    t = await result(rt, "process-executor", {"executable": PY, "arguments": ["-c", "import time; time.sleep(30)"],
                                              "timeout": 0.5})
    assert t["timed_out"] and not t["success"]


async def test_process_executor_refuses_unlisted_program(runtime_factory: Any) -> None:
    rt = runtime_factory(process_allow=[PY])
    seen: list[Any] = []
    rt.events.subscribe("security.violation", seen.append)
    with pytest.raises(SecurityViolationError, match="process_allow"):
        await call(rt, "process-executor", {"executable": "sh", "arguments": ["-c", "echo pwned"]})
    with pytest.raises(SecurityViolationError, match="shell syntax"):
        await call(rt, "process-executor", {"executable": "ls; rm -rf /"})
    closed = runtime_factory(process_allow=[])
    with pytest.raises(SecurityViolationError, match="disabled"):
        await call(closed, "process-executor", {"executable": PY})
    await asyncio.sleep(0)
    assert [e.data["operation"] for e in seen] == ["process", "process"]


async def test_process_executor_working_directory_is_sandboxed(runtime_factory: Any, tmp_path: Path) -> None:
    rt = runtime_factory(process_allow=[PY])
    with pytest.raises(SecurityViolationError):
        await call(rt, "process-executor", {"executable": PY, "arguments": ["-V"], "working_directory": str(tmp_path)})


async def test_environment_reader_shows_only_allow_listed_names(runtime_factory: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """An allow-list (security.env_allow), not a guess from the name: DATABASE_URL is as hidden as *_API_KEY."""
    monkeypatch.setenv("LLMSPELL_TEST_PLAIN", "visible")
    monkeypatch.setenv("LLMSPELL_TEST_API_KEY", "sk-secret")
    monkeypatch.setenv("LLMSPELL_TEST_DATABASE_URL", "postgres://u:pw-secret@h/db")
    rt = runtime_factory(env_allow=["LLMSPELL_TEST_PLAIN"])
    seen: list[Any] = []
    rt.events.subscribe("security.violation", seen.append)
    g = await result(rt, "environment-reader", {"operation": "get", "variable_name": "LLMSPELL_TEST_PLAIN"})
    assert g == {"variable_name": "LLMSPELL_TEST_PLAIN", "value": "visible", "found": True}
    for hidden in ("LLMSPELL_TEST_API_KEY", "LLMSPELL_TEST_DATABASE_URL", "HOME"):
        with pytest.raises(SecurityViolationError, match="env_allow"):
            await call(rt, "environment-reader", {"operation": "get", "variable_name": hidden})
    p = await result(rt, "environment-reader", {"operation": "pattern", "pattern": "LLMSPELL_TEST_*"})
    assert p["variables"] == {"LLMSPELL_TEST_PLAIN": "visible"}
    all_vars = await result(rt, "environment-reader", {"operation": "list"})
    assert all_vars["variables"] == {"LLMSPELL_TEST_PLAIN": "visible"}
    await asyncio.sleep(0)
    assert len(seen) == 3 and seen[0].data["operation"] == "env"
    allowed = runtime_factory(env_allow=["LLMSPELL_TEST_*"])
    ok = await result(allowed, "environment-reader", {"operation": "get", "variable_name": "LLMSPELL_TEST_API_KEY"})
    assert ok["value"] == "sk-secret"


async def test_environment_set_is_scoped_to_the_runtime(runtime_factory: Any) -> None:
    import os

    rt = runtime_factory(process_allow=[PY], process_allow_interpreters=[PY], env_allow=["LLMSPELL_T_SET"])
    s = await result(rt, "environment-reader", {"operation": "set", "variable_name": "LLMSPELL_T_SET", "value": "1"})
    assert s["scope"] == "runtime" and "LLMSPELL_T_SET" not in os.environ
    g = await result(rt, "environment-reader", {"operation": "get", "variable_name": "LLMSPELL_T_SET"})
    assert g["value"] == "1"
    r = await result(rt, "process-executor", {"executable": PY, "arguments": [
        "-c", "import os; print(os.environ['LLMSPELL_T_SET'])"]})
    assert r["stdout"].strip() == "1"
    with pytest.raises(SecurityViolationError):
        await call(rt, "environment-reader", {"operation": "set", "variable_name": "MY_PASSWORD", "value": "x"})
    other = runtime_factory(env_allow=["LLMSPELL_T_SET"])
    assert (await result(other, "environment-reader", {"operation": "get", "variable_name": "LLMSPELL_T_SET"}))[
        "found"] is False


async def test_system_monitor(rt: Any) -> None:
    r = await result(rt, "system-monitor", {})
    assert r["cpu"]["core_count"] >= 1 and 0 <= r["cpu"]["usage_percent"] <= 100
    assert r["memory"]["total_bytes"] > r["memory"]["available_bytes"] > 0
    assert r["disk"]["workspace"]["total_bytes"] > 0 and r["stats"]["process_count"] > 0
    mem = await result(rt, "system-monitor", {"operation": "memory"})
    assert set(mem) == {"memory"}
