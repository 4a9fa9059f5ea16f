"""Red-team round on issue #10: new instances of the issue's classes that the other security tests did not
cover. Each test asserts the safe behaviour. Attacks that held are listed in the module's last comment.

* process-executor: GNU getopt and git's parse-options accept any unambiguous prefix of a long option,
  so ``tar --use-compress-prog=CMD``, ``tar --checkpoint-act=exec=CMD`` and ``git grep --open=CMD`` ran a
  shell command although the full names were refused; ``sort --compress-program``, ``split --filter`` and
  ``sed --follow`` (for ``--follow-symlinks``) had no rule at all.
* service-checker (tcp): the host was checked, then resolved again by ``open_connection`` (DNS rebinding
  reached 127.0.0.1); the dns check reported a second, unchecked answer.
* Lua ``os.exit(1e308)`` / ``os.exit(0/0)`` / ``os.exit(math.huge)`` ended the run with a Python
  ``ValueError`` text instead of Lua's own error at the spell's line.
* JS: a floating ``(async () => { await a; await b })()`` was cut off after its first await and the run
  reported success (the rest of the spell silently never ran).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmspell.core.errors import SecurityViolationError

from .attacks import refused

pytestmark = [pytest.mark.timeout(90)]

PY = sys.executable
LIMITS = "[limits]\nwall_time_s = 5\nmax_memory_mb = 128\n"
SECRETS = {"DB_PASS": "hunter2-secret", "OPENAI_API_KEY": "sk-leak-test",
           "DATABASE_URL": "postgres://u:pw@h/db"}


def run_cli(ws: Path, name: str, src: str, extra_toml: str = "") -> tuple[dict[str, Any], str]:
    """Run a spell as a user does (``llmspell-ls --run --json``) with secrets in the CLI's environment."""
    (ws / "llmspell.toml").write_text(LIMITS + extra_toml, encoding="utf-8")
    (ws / name).write_text(src, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")} | SECRETS
    r = subprocess.run([PY, "-c", "import sys; from llmspell_ls.cli import main; sys.exit(main())",
                        "--run", name, "--json", "--workspace", str(ws)],
                       cwd=ws, capture_output=True, text=True, timeout=60, env=env)
    msgs = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert msgs and msgs[-1]["type"] == "finished", (r.stdout[-2000:], r.stderr[-2000:])
    for secret in SECRETS.values():
        assert secret not in r.stdout and secret not in r.stderr
    output = "".join(m.get("text", "") for m in msgs if m["type"] == "output")
    return msgs[-1], output


def make_rt(ws: Path, **security: Any) -> Any:
    from llmspell.runtime import Runtime

    ws.mkdir(exist_ok=True)
    return Runtime(workspace=ws, state="memory", overrides={"security": security} if security else None)


@pytest.fixture
def box(tmp_path: Path) -> tuple[Path, Path]:
    """(workspace, marker outside it): a command that ran would create the marker."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "data.txt").write_text("limits\nb\na\n", encoding="utf-8")
    return ws, tmp_path / "PWNED"


async def ok(rt: Any, params: dict[str, Any]) -> dict[str, Any]:
    from llmspell.api.shapes import output_table

    out = await rt.tools.execute("process-executor", params)
    t = output_table(out.text, out.metadata)
    assert t.get("success") is True, t
    return t["result"]  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------- (2) process-executor


@pytest.mark.skipif(shutil.which("tar") is None, reason="tar not installed")
async def test_tar_abbreviated_long_options_cannot_run_a_program(box: tuple[Path, Path]) -> None:
    ws, marker = box
    rt = make_rt(ws, process_allow=["tar"])
    try:
        for args in (
            [f"--use-compress-prog=touch {marker}", "-cf", "x.tar", "data.txt"],
            [f"--use-compress=touch {marker}", "-cf", "x.tar", "data.txt"],
            ["-cf", "y.tar", "--checkpoint=1", f"--checkpoint-act=exec=touch {marker}", "data.txt"],
            [f"--to-comm=touch {marker}", "-xf", "y.tar"],
            [f"--info-scr=touch {marker}", "-cf", "z.tar", "data.txt"],
            [f"--rsh-comm=touch {marker}", "-cf", "z.tar", "data.txt"],
            ["--files-fr=list.txt", "-cf", "z.tar"],
            ["--absolute", "-cf", "z.tar", "data.txt"],
        ):
            await refused(rt, {"executable": "tar", "arguments": args, "timeout": 5}, "not allowed")
        assert not marker.exists()
        # full names of harmless options that are prefixes of dangerous ones still work
        res = await ok(rt, {"executable": "tar", "arguments": ["-cf", "ok.tar", "--exclude=*.lua", "--checkpoint=1",
                                                              "--overwrite", "data.txt"], "timeout": 5})
        assert res["exit_code"] == 0, res
    finally:
        await rt.shutdown()


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
async def test_git_abbreviated_long_options_cannot_run_a_program(box: tuple[Path, Path]) -> None:
    ws, marker = box
    rt = make_rt(ws, process_allow=["git"])
    try:
        await ok(rt, {"executable": "git", "arguments": ["init", "-q"]})
        await ok(rt, {"executable": "git", "arguments": ["add", "data.txt"]})
        for args in (
            ["grep", f"--open=touch {marker};", "-e", "limits"],
            ["grep", f"--open-files=touch {marker};", "-e", "limits"],
            ["grep", f"--open-files-in-pag=touch {marker};", "-e", "limits"],
            ["fetch", f"--upload-pa=touch {marker};", "origin"],
            ["rebase", f"--exe=touch {marker}", "HEAD"],
            ["diff", "--no-ind", "data.txt", "data.txt"],
            ["clone", "--conf=core.fsmonitor=x", "https://example.invalid/r", "sub"],
        ):
            await refused(rt, {"executable": "git", "arguments": args, "timeout": 5}, "not allowed")
        assert not marker.exists()
        res = await ok(rt, {"executable": "git", "arguments": ["grep", "-n", "-e", "limits"]})
        assert "data.txt:1:limits" in res["stdout"], res
    finally:
        await rt.shutdown()


async def test_sort_split_and_sed_option_rules(box: tuple[Path, Path]) -> None:
    ws, marker = box
    progs = [p for p in ("sort", "split", "sed") if shutil.which(p)]
    rt = make_rt(ws, process_allow=progs)
    try:
        if "sort" in progs:
            for a in ("--compress-program=sh", "--compress-prog=sh", "--comp=sh"):
                await refused(rt, {"executable": "sort", "arguments": [a, "-S", "1", "data.txt"]}, "not allowed")
            res = await ok(rt, {"executable": "sort", "arguments": ["data.txt"]})
            assert res["stdout"].splitlines() == ["a", "b", "limits"]
        if "split" in progs:
            for a in (f"--filter=touch {marker}", f"--filt=touch {marker}"):
                await refused(rt, {"executable": "split", "arguments": [a, "data.txt"]}, "not allowed")
        if "sed" in progs:
            await refused(rt, {"executable": "sed", "arguments": ["--follow", "-i", "s/a/b/", "data.txt"]},
                          "not allowed")
        assert not marker.exists()
    finally:
        await rt.shutdown()


def test_abbreviation_rule_unit() -> None:
    from llmspell.security.process import check_arguments

    root = Path("/nonexistent-root")

    def why(prog: str, args: list[str]) -> str | None:
        return check_arguments(prog, f"/usr/bin/{prog}", args, root, root, lambda p: True)[1]

    assert why("tar", ["--to-c=sh"]) and why("tar", ["--use=sh"]) and why("tar", ["--unlink"])
    assert why("tar", ["--exclude=x", "-cf", "a.tar", "b"]) is None
    assert why("tar", ["-cf", "a.tar", "--", "--to-command=x"]) is None  # a file name after --
    assert why("git", ["log", "--exe=x"]) and why("git", ["grep", "--op=x"])
    assert why("git", ["log", "--oneline", "-n", "3"]) is None
    assert why("wget", ["--use-ask=x"]) and why("zip", ["-TT", "x"]) and why("zip", ["--unzip-com=x"])


# ------------------------------------------------------------------------------- (4) network: DNS rebinding


async def test_service_checker_tcp_connects_to_the_checked_address(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy's lookup says public; a second lookup (the connect's) would say 127.0.0.1."""
    import asyncio
    import socket

    hits: list[str] = []

    def on_connect(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        hits.append("hit")
        w.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    answers = {"n": 0}
    real = asyncio.get_running_loop().getaddrinfo

    async def rebinding(host: Any, p: Any, *a: Any, **kw: Any) -> Any:
        if host == "rebind.example":
            answers["n"] += 1
            ip = "93.184.216.34" if answers["n"] <= 1 else "127.0.0.1"  # the first answer is the check's
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, p or 0))]
        return await real(host, p, *a, **kw)

    rt = make_rt(tmp_path / "ws")
    monkeypatch.setattr(type(asyncio.get_running_loop()), "getaddrinfo",
                        lambda self, *a, **kw: rebinding(*a, **kw))
    try:
        from llmspell.api.shapes import output_table

        for params in ({"target": f"rebind.example:{port}", "check_type": "tcp", "timeout_seconds": 1},
                       {"target": "rebind.example", "check_type": "dns"}):
            answers["n"] = 0
            try:
                out = await rt.tools.execute("service-checker", params)
            except SecurityViolationError:
                continue  # the second answer was put through the policy too: refused
            t = output_table(out.text, out.metadata)
            assert t["result"].get("available") is False or params["check_type"] == "dns", t
            assert "127.0.0.1" not in json.dumps(t), t
        assert not hits, "the connection reached 127.0.0.1 after the policy checked a public address"
    finally:
        server.close()
        await rt.shutdown()


# ------------------------------------------------------------------------------- (6) policy changed by a spell

WIDEN = r'[limits]\nwall_time_s = 3000\n[security]\nenv_allow = [\"*\"]\n'  # a Lua string body


def test_lua_cannot_rewrite_the_workspace_configuration(tmp_path: Path) -> None:
    """The next run in the workspace (and the language server) starts from llmspell.toml: a spell that
    rewrote it widened its own policy (env_allow = ["*"] read DB_PASS on the next run)."""
    src = f"""
local results = {{}}
results[#results + 1] = select(2, io.open("llmspell.toml", "w"))
results[#results + 1] = select(2, io.open("./x/../llmspell.toml", "a"))
results[#results + 1] = select(2, os.remove("llmspell.toml"))
results[#results + 1] = select(2, os.rename("llmspell.toml", "old.toml"))
local f = assert(io.open("new.toml", "w")); f:write("{WIDEN}"); f:close()
results[#results + 1] = select(2, os.rename("new.toml", "llmspell.toml"))
for _, r in ipairs(results) do print(r) end
"""
    fin, out = run_cli(tmp_path, "w.lua", src)
    assert fin["status"] == "success", fin
    assert out.count("cannot be changed by a spell") == 5, out
    assert (tmp_path / "llmspell.toml").read_text(encoding="utf-8") == LIMITS
    fin, out = run_cli(tmp_path, "r.lua", 'print(tostring(os.getenv("DB_PASS")))\n')
    assert out.strip() == "nil", out


@pytest.mark.parametrize("call", [
    '"file-operations", {{operation = "write", path = "llmspell.toml", content = "{w}"}}',
    '"file-operations", {{operation = "append", path = "llmspell.toml", content = "{w}"}}',
    '"file-operations", {{operation = "write", path = "sub/../llmspell.toml", content = "{w}"}}',
    '"file-operations", {{operation = "delete", path = "llmspell.toml"}}',
    '"file-operations", {{operation = "move", source_path = "new.toml", target_path = "llmspell.toml"}}',
    '"file-operations", {{operation = "copy", source_path = "new.toml", target_path = "llmspell.toml"}}',
    '"file-operations", {{operation = "move", source_path = "llmspell.toml", target_path = "old.toml"}}',
], ids=["write", "append", "dotdot", "delete", "move_onto", "copy_onto", "move_away"])
def test_file_tools_cannot_rewrite_the_workspace_configuration(tmp_path: Path, call: str) -> None:
    """The gate refuses every write, removal or rename of <workspace>/llmspell.toml, for every tool."""
    (tmp_path / "sub").mkdir(exist_ok=True)
    src = f"""
local f = io.open("new.toml", "w"); f:write("{WIDEN}"); f:close()
print(pcall(Tool.execute, {call.format(w=WIDEN)}))
"""
    run_cli(tmp_path, "w.lua", src)
    assert (tmp_path / "llmspell.toml").read_text(encoding="utf-8") == LIMITS
    _, out = run_cli(tmp_path, "r.lua", 'print(tostring(os.getenv("DB_PASS")))\n')
    assert out.strip() == "nil", out


# ------------------------------------------------------------------------------- (5) exits and runs


@pytest.mark.parametrize("code", ["1e308", "0/0", "math.huge", "-math.huge"])
def test_lua_os_exit_with_no_integer_value_is_a_lua_error(tmp_path: Path, code: str) -> None:
    fin, _ = run_cli(tmp_path, "x.lua", f"os.exit({code})\n")
    err = fin["error"] or {}
    text = json.dumps(err)
    assert "ValueError" not in text and "invalid literal" not in text, err
    assert "no integer representation" in err.get("message", ""), err
    assert err.get("line") == 1, err


def test_lua_os_exit_integer_codes_still_work(tmp_path: Path) -> None:
    fin, _ = run_cli(tmp_path, "x.lua", "os.exit(3.0)\n")
    assert fin["exit_code"] == 3, fin


def test_js_floating_async_function_runs_to_its_end(tmp_path: Path) -> None:
    src = """(async () => {
  await State.save("s", "a", 1); console.log("one");
  await State.save("s", "b", 2); console.log("two");
  await State.save("s", "c", 3); console.log("three");
})();
"""
    fin, out = run_cli(tmp_path, "x.js", src)
    assert fin["status"] == "success", fin
    assert out.split() == ["one", "two", "three"], out


# Attacks tried in this round that held (no test added beyond the existing suites):
# live handles/functions in State.save, Event.publish, JSON.stringify, agent input, Hook.fire, Session.create,
# Debug.logWithData, workflow step input, Tool.register schema, Provider.get, set_shared_memory,
# update_context (all refused by name and place); JS Proxy ownKeys/get traps, getters, toJSON returning a
# function, Symbol keys, BigInt, typed arrays, sparse arrays of 1e9 items; getmetatable(""), string.dump,
# debug, package.loaders, python global; error objects whose __tostring loops/recurses; __gc/__close loops;
# a 40 MB single output line, a 100 MB return value or event (capped / 32 MB line limit, one finished);
# hooks forging agent usage and cost; Provider/Agent/Debug introspection echoing the provider key;
# a setsid grandchild of process-executor outliving a successful run; template macro big-int squaring.
