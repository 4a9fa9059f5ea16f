"""Small divergences from rs-llmspell, fixed: hash algorithm spellings, json-processor operation aliases,
the default process allow-list (and the containment it keeps), ``Hook.unregister`` on a bad handle."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from llmspell.config import SecurityConfig
from llmspell.core.errors import SecurityViolationError, ValidationError
from llmspell.runtime import Runtime
from llmspell.security.process import DEFAULT_PROCESS_ALLOW, is_code_runner
from llmspell.tools.builtin.hash_calculator import normalize_algorithm


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    ws = tmp_path / "ws"
    ws.mkdir()
    return Runtime(workspace=ws, state="memory")


async def call(rt: Runtime, tool: str, params: dict[str, Any]) -> Any:
    out = await rt.tools.execute(tool, params)
    return out


def data(out: Any) -> Any:
    import json

    d = getattr(out, "data", None)
    if d is not None:
        return d
    return json.loads(out.text)


# ------------------------------------------------------------------------------------ hash-calculator

ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize(("name", "canon"), [
    ("SHA-256", "sha256"), ("sha-256", "sha256"), ("SHA256", "sha256"), ("Sha512", "sha512"), ("MD5", "md5"),
    ("sha_1", "sha1"), (" sha1 ", "sha1"), ("SHA-512", "sha512"),
])
def test_hash_algorithm_spellings(name: str, canon: str) -> None:
    assert normalize_algorithm(name) == canon


@pytest.mark.parametrize("bad", ["sha3", "blake2", "", "sha-384"])
def test_unknown_hash_algorithm_lists_the_valid_ones(bad: str) -> None:
    with pytest.raises(ValueError, match="md5, sha1, sha256, sha512"):
        normalize_algorithm(bad)


async def test_hash_tool_accepts_rs_spellings(rt: Runtime) -> None:
    r = data(await call(rt, "hash-calculator", {"operation": "hash", "algorithm": "SHA-256", "input": "abc"}))
    assert r["hash"] == ABC_SHA256 and r["algorithm"] == "sha256"
    r = data(await call(rt, "hash-calculator", {"operation": "hash", "algorithm": "MD5", "input": "abc"}))
    assert r["hash"] == "900150983cd24fb0d6963f7d28e17f72"
    v = data(await call(rt, "hash-calculator", {"operation": "verify", "algorithm": "Sha-256", "input": "abc",
                                                  "expected_hash": ABC_SHA256.upper()}))
    assert v["verified"] is True


async def test_hash_tool_unknown_algorithm_error_names_parameter_and_choices(rt: Runtime) -> None:
    with pytest.raises(ValidationError) as ei:
        await call(rt, "hash-calculator", {"operation": "hash", "algorithm": "sha3", "input": "abc"})
    msg = str(ei.value)
    assert "algorithm" in msg and "md5, sha1, sha256, sha512" in msg and "sha3" in msg


# ------------------------------------------------------------------------------------ json-processor


@pytest.mark.parametrize("op", ["query", "transform", "jq"])
async def test_json_processor_operation_aliases(rt: Runtime, op: str) -> None:
    out = await call(rt, "json-processor", {"operation": op, "input": {"items": [{"n": 1}, {"n": 5}]},
                                            "query": "[.items[] | select(.n > 2) | .n]"})
    text = out.text
    assert "5" in text and "[1" not in text


async def test_json_processor_unknown_operation_lists_aliases(rt: Runtime) -> None:
    with pytest.raises(ValidationError) as ei:
        await call(rt, "json-processor", {"operation": "mutate", "input": {}, "query": "."})
    assert "transform" in str(ei.value) and "operation" in str(ei.value)


# ------------------------------------------------------------------------------------ process-executor


def test_default_allow_list_is_rs_llmspell_minus_the_uncontainable() -> None:
    assert SecurityConfig().process_allow == list(DEFAULT_PROCESS_ALLOW)
    for name in ("echo", "cat", "ls", "pwd", "date", "wc", "head", "tail", "grep", "sort", "uniq", "whoami"):
        assert name in DEFAULT_PROCESS_ALLOW
    for name in ("find", "sh", "env", "xargs", "rm", "mv", "cp", "curl", "awk", "sed", "python3"):
        assert name not in DEFAULT_PROCESS_ALLOW
    assert not any(is_code_runner(n) for n in DEFAULT_PROCESS_ALLOW)


async def test_echo_and_cat_run_by_default(rt: Runtime) -> None:
    (rt.workspace / "notes.txt").write_text("hello notes\n")
    r = data(await call(rt, "process-executor", {"executable": "echo", "arguments": ["hi", "there"]}))
    assert r["stdout"].strip() == "hi there" and r["exit_code"] == 0
    r = data(await call(rt, "process-executor", {"executable": "cat", "arguments": ["notes.txt"]}))
    assert r["stdout"] == "hello notes\n"
    r = data(await call(rt, "process-executor", {"executable": "wc", "arguments": ["-l", "notes.txt"]}))
    assert r["stdout"].split()[0] == "1"


@pytest.mark.parametrize("params", [
    {"executable": "sh", "arguments": ["-c", "echo pwned"]},
    {"executable": "env", "arguments": ["cat", "/etc/passwd"]},
    {"executable": "xargs", "arguments": ["cat"]},
    {"executable": "find", "arguments": [".", "-exec", "cat", "{}", ";"]},
    {"executable": "cat", "arguments": ["/etc/passwd"]},
    {"executable": "head", "arguments": ["../../../../etc/passwd"]},
    {"executable": "grep", "arguments": ["-r", "root", "/"]},
    {"executable": "grep", "arguments": ["-R", "x", "."]},
    {"executable": "grep", "arguments": ["-nR", "x"]},
    {"executable": "grep", "arguments": ["--dereference-recursive", "x"]},
    {"executable": "ls", "arguments": ["-RL"]},
    {"executable": "ls", "arguments": ["/"]},
    {"executable": "wc", "arguments": ["--files0-from=list"]},
    {"executable": "sort", "arguments": ["--files0=list"]},
    {"executable": "date", "arguments": ["-s", "2000-01-01"]},
    {"executable": "date", "arguments": ["--set=2000-01-01"]},
    {"executable": "tail", "arguments": ["~/.bashrc"]},
    {"executable": "cat", "arguments": ["/tmp/anything"]},
])
async def test_default_programs_stay_contained(rt: Runtime, params: dict[str, Any]) -> None:
    (rt.workspace / "list").write_bytes(b"/etc/passwd\0")
    with pytest.raises(SecurityViolationError):
        await call(rt, "process-executor", params)


async def test_a_planted_link_argument_is_judged_by_its_target(rt: Runtime, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP")
    os.symlink(secret, rt.workspace / "innocent.txt")
    (rt.workspace / "sub").mkdir()
    os.symlink(secret, rt.workspace / "sub" / "l")
    for args in (["innocent.txt"], ["sub/l"], ["--", "innocent.txt"]):
        with pytest.raises(SecurityViolationError, match="leads outside"):
            await call(rt, "process-executor", {"executable": "cat", "arguments": args})


async def test_grep_recursive_inside_the_workspace_works(rt: Runtime) -> None:
    (rt.workspace / "d").mkdir()
    (rt.workspace / "d" / "a.txt").write_text("needle here\n")
    r = data(await call(rt, "process-executor", {"executable": "grep", "arguments": ["-rn", "needle", "d"]}))
    assert "a.txt:1:needle here" in r["stdout"]


@pytest.mark.skipif(shutil.which("date") is None, reason="no date program")
async def test_date_reads_fine(rt: Runtime) -> None:
    r = data(await call(rt, "process-executor", {"executable": "date", "arguments": ["+%Y"]}))
    assert r["stdout"].strip().isdigit()


# ------------------------------------------------------------------------------------ Hook.unregister


async def run_spell_text(ws: Path, src: str, name: str) -> tuple[str, Any]:
    from llmspell.runner import SpellRunner

    path = ws / name
    path.write_text(src, encoding="utf-8")
    runner = SpellRunner(lambda: Runtime(workspace=ws))
    out: list[str] = []
    fin: Any = None
    async for m in runner.run(path):
        if m.type == "output":
            out.append(m.text)
        elif m.type == "finished":
            fin = m
    assert fin is not None
    return "".join(out), fin


async def test_hook_unregister_bad_handles_raise_in_lua_and_js(tmp_path: Path) -> None:
    lua = """
local h = Hook.register("BeforeToolExecution", function() return "continue" end)
print("first", Hook.unregister(h))
print("again", Hook.unregister(h))
for _, bad in ipairs({"nope", 42, {}}) do
  local ok, err = pcall(Hook.unregister, bad)
  print(ok, err)
end
print(pcall(Hook.unregister))
"""
    out, fin = await run_spell_text(tmp_path, lua, "h.lua")
    assert fin.status == "success", fin.error
    lines = out.strip().splitlines()
    assert lines[0] == "first\ttrue" and lines[1] == "again\tfalse"
    assert "no registered hook has the id 'nope'" in lines[2] and lines[2].startswith("false")
    assert "expected the HookHandle Hook.register returned (or its id), got a number" in lines[3]
    assert "got a table" in lines[4]
    assert "Hook.unregister: missing argument #1 'handle'" in lines[5]
    js = """
const h = Hook.register("BeforeToolExecution", () => "continue");
console.log("first", Hook.unregister(h), "again", Hook.unregister(h));
try { Hook.unregister(null); console.log("no error"); } catch (e) { console.log(e.name, e.message); }
"""
    out, fin = await run_spell_text(tmp_path, js, "h.js")
    assert fin.status == "success", fin.error
    assert "first true again false" in out
    assert "ValidationError Hook.unregister: parameter 'handle': expected the HookHandle" in out
    assert "got null" in out
