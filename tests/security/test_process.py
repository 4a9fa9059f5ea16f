"""process-executor (issue #10, item 6): attacks first. Each asserts the refusal and that nothing outside
changed: the marker file a successful attack would create does not exist, no process is left behind,
no secret reaches the child.

Classes: environment injection into an allowed program, argument injection (git config/alias/transport,
tar/find/sed program execution), code runners listed by mistake, path-qualified program names, the
repository's own config written by the spell, grandchildren outliving the call, unbounded output.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from llmspell.core.errors import SecurityViolationError

from .attacks import refused

pytestmark = [pytest.mark.timeout(60)]

GIT = shutil.which("git")
PY = sys.executable


def make_rt(ws: Path, **security: Any) -> Any:
    from llmspell.runtime import Runtime

    ws.mkdir(exist_ok=True)
    return Runtime(workspace=ws, state="memory", overrides={"security": security} if security else None)


async def run_tool(rt: Any, params: dict[str, Any]) -> dict[str, Any]:
    from llmspell.api.shapes import output_table

    out = await rt.tools.execute("process-executor", params)
    t = output_table(out.text, out.metadata)
    assert t.get("success") is True, t
    return t["result"]  # type: ignore[no-any-return]


@pytest.fixture
def box(tmp_path: Path) -> tuple[Path, Path]:
    """(workspace, marker): the marker lives outside the workspace; an attack that ran would create it."""
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws, tmp_path / "PWNED"


# ----------------------------------------------------------------------------------- environment


@pytest.mark.parametrize("var", ["LD_PRELOAD", "LD_LIBRARY_PATH", "GIT_CONFIG_COUNT", "GIT_EXEC_PATH", "PYTHONSTARTUP",
                                 "PYTHONPATH", "BASH_ENV", "ENV", "NODE_OPTIONS", "PERL5OPT", "RUBYOPT", "IFS",
                                 "PATH", "HOME", "DYLD_INSERT_LIBRARIES", "GLIBC_TUNABLES", "HTTPS_PROXY",
                                 "SSL_CERT_FILE", "BASH_FUNC_date%%", "XDG_CONFIG_HOME", "JAVA_TOOL_OPTIONS"])
@pytest.mark.parametrize("allow", [[], ["*"]])
async def test_environment_cannot_carry_loader_or_interpreter_settings(box: tuple[Path, Path], var: str,
                                                                       allow: list[str]) -> None:
    ws, marker = box
    rt = make_rt(ws, process_allow=["date"], env_allow=allow)
    await refused(rt, {"executable": "date", "environment": {var: f"/x; touch {marker}"}}, "environment variable")
    assert not marker.exists()


async def test_environment_reader_set_cannot_smuggle_a_loader_variable(box: tuple[Path, Path]) -> None:
    ws, marker = box
    rt = make_rt(ws, process_allow=["date"], env_allow=["*"])
    await rt.tools.execute("environment-reader", {"operation": "set", "variable_name": "LD_PRELOAD",
                                                  "value": str(marker)})
    await refused(rt, {"executable": "date"}, "LD_PRELOAD")
    assert not marker.exists()


async def test_child_sees_no_secret_and_no_real_home(box: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ws, _ = box
    monkeypatch.setenv("DB_PASS", "db-pass-value-7731")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:hunter2@h/db")
    monkeypatch.setenv("GITHUB_PAT", "ghp_value4411")
    monkeypatch.setenv("APP_MODE", "dev")
    rt = make_rt(ws, process_allow=["printenv"], env_allow=["APP_*", "GREETING"])
    r = await run_tool(rt, {"executable": "printenv", "environment": {"GREETING": "hi"}})
    env = dict(line.split("=", 1) for line in r["stdout"].splitlines() if "=" in line)
    for secret in ("db-pass-value-7731", "hunter2", "ghp_value4411"):
        assert secret not in r["stdout"]
    assert env["GREETING"] == "hi" and "APP_MODE" not in env  # allowed to pass, not inherited
    assert env["HOME"] != os.path.expanduser("~") and not Path(env["HOME"]).exists()  # fresh, removed after
    assert set(env) <= {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "GREETING"}


async def test_environment_names_outside_env_allow_are_refused(box: tuple[Path, Path]) -> None:
    ws, _ = box
    rt = make_rt(ws, process_allow=["date"])
    await refused(rt, {"executable": "date", "environment": {"GREETING": "hi"}}, "env_allow")


# ----------------------------------------------------------------------------------- code runners


@pytest.mark.parametrize("prog,args", [
    ("sh", ["-c", "touch {m}"]), ("bash", ["-c", "touch {m}"]), ("env", ["touch", "{m}"]),
    ("xargs", ["touch", "{m}"]), ("awk", ["BEGIN{{system(\"touch {m}\")}}"]), ("perl", ["-e", "open F,'>{m}'"]),
    ("python3", ["-c", "open('{m}','w')"]), ("nice", ["touch", "{m}"]), ("timeout", ["5", "touch", "{m}"]),
    ("make", ["-f", "/dev/null"]), ("ssh", ["-o", "ProxyCommand=touch {m}", "x"]),
])
async def test_code_runners_are_refused_even_when_listed(box: tuple[Path, Path], prog: str, args: list[str]) -> None:
    if shutil.which(prog) is None:
        pytest.skip(f"{prog} not installed")
    ws, marker = box
    rt = make_rt(ws, process_allow=[prog])
    msg = await refused(rt, {"executable": prog, "arguments": [a.format(m=marker) for a in args],
                             "input": str(marker)})
    assert "process_allow_interpreters" in msg
    assert not marker.exists()


async def test_a_marked_interpreter_runs(box: tuple[Path, Path]) -> None:
    ws, _ = box
    rt = make_rt(ws, process_allow=[PY], process_allow_interpreters=[PY])
    r = await run_tool(rt, {"executable": PY, "arguments": ["-c", "print(6*7)"]})
    assert r["stdout"].strip() == "42"


# ----------------------------------------------------------------------------------- program names


async def test_path_qualified_names_need_that_path_listed(box: tuple[Path, Path]) -> None:
    ws, marker = box
    evil = ws / "date"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\n")
    evil.chmod(0o755)
    rt = make_rt(ws, process_allow=["date"])
    for name in ["./date", str(evil), shutil.which("date") or "/bin/date", "../ws/date", "/bin/sh"]:
        await refused(rt, {"executable": name}, "process_allow")
    assert not marker.exists()
    ok = make_rt(ws, process_allow=[shutil.which("date") or "/bin/date"])
    r = await run_tool(ok, {"executable": shutil.which("date") or "/bin/date"})
    assert r["exit_code"] == 0


async def test_symlinked_code_runner_is_still_a_code_runner(box: tuple[Path, Path]) -> None:
    ws, marker = box
    link = ws.parent / "bin"
    link.mkdir()
    (link / "harmless").symlink_to(shutil.which("sh") or "/bin/sh")
    rt = make_rt(ws, process_allow=[str(link / "harmless")])
    await refused(rt, {"executable": str(link / "harmless"), "arguments": ["-c", f"touch {marker}"]},
                  "process_allow_interpreters")
    assert not marker.exists()


# ----------------------------------------------------------------------------------- git


def _git_repo(ws: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(ws.parent), "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", str(ws)], check=True, env=env)
    subprocess.run(["git", "-C", str(ws), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                    "--allow-empty", "-m", "init"], check=True, env=env)


@pytest.mark.skipif(GIT is None, reason="git not installed")
@pytest.mark.parametrize("args", [
    ["-c", "alias.x=!touch {m}", "x"], ["-c", "core.pager=touch {m}", "log"], ["--config-env=core.pager=X", "log"],
    ["--exec-path={d}", "status"], ["-C", "{d}", "status"], ["--git-dir={d}/.git", "status"],
    ["clone", "--upload-pack=touch {m}", "x", "y"], ["clone", "-u", "touch {m}", "x", "y"],
    ["clone", "ext::sh -c touch% {m}", "y"], ["fetch", "ext::sh -c touch% {m}"],
    ["clone", "-c", "core.fsmonitor=touch {m}", "https://example.invalid/x", "y"],
    ["config", "core.pager", "touch {m}"], ["x"], ["submodule", "foreach", "touch {m}"],
    ["rebase", "--exec", "touch {m}", "HEAD"], ["rebase", "-x", "touch {m}", "HEAD"],
    ["log", "--output={m}"], ["diff", "--no-index", "/etc/passwd", "x"], ["difftool", "-x", "touch {m}"],
    ["bisect", "run", "touch", "{m}"], ["filter-branch", "--tree-filter", "touch {m}"], ["help", "-w", "log"],
    ["push", "--receive-pack=touch {m}", "origin"], ["archive", "--remote=ext::sh", "HEAD"],
    ["init", "{d}/newrepo"],
])
async def test_git_argument_injection_is_refused(box: tuple[Path, Path], args: list[str]) -> None:
    ws, marker = box
    _git_repo(ws)
    rt = make_rt(ws, process_allow=["git"])
    await refused(rt, {"executable": "git", "arguments": [a.format(m=marker, d=ws.parent) for a in args]})
    assert not marker.exists() and not (ws.parent / "newrepo").exists()


@pytest.mark.skipif(GIT is None, reason="git not installed")
@pytest.mark.parametrize("config", [
    '[core]\n\tfsmonitor = "touch {m}"\n', '[alias]\n\tst = !touch {m}\n', '[core]\n\tpager = touch {m}\n',
    '[filter "x"]\n\tclean = touch {m}\n', '[include]\n\tpath = {d}/evil.cfg\n', '[core]\n\thooksPath = hooks\n',
    '[diff "x"]\n\ttextconv = touch {m}\n', '[credential]\n\thelper = !touch {m}\n',
    '[url "ext::sh -c touch% {m}#"]\n\tinsteadOf = https://\n', '[core]\n\tworktree = {d}\n',
    '[remote "o"]\n\turl = ext::sh -c touch% {m}\n', '[Core]\n\tFsMonitor = "touch {m}"\n',
    '[core "x"]\n\tpager = touch {m}\n',
])
async def test_git_refuses_a_repository_config_the_spell_wrote(box: tuple[Path, Path], config: str) -> None:
    ws, marker = box
    _git_repo(ws)
    with open(ws / ".git" / "config", "a") as f:
        f.write(config.format(m=marker, d=ws.parent))
    (ws / ".gitattributes").write_text("* filter=x diff=x\n")
    (ws / "f.txt").write_text("x")
    rt = make_rt(ws, process_allow=["git"])
    for args in (["status"], ["diff"], ["st"], ["log", "-p"]):
        with pytest.raises(SecurityViolationError):
            await rt.tools.execute("process-executor", {"executable": "git", "arguments": args})
    assert not marker.exists()


@pytest.mark.skipif(GIT is None, reason="git not installed")
async def test_git_hooks_and_parent_repositories_do_not_run(box: tuple[Path, Path]) -> None:
    ws, marker = box
    _git_repo(ws)
    hook = ws / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    rt = make_rt(ws, process_allow=["git"])
    r = await run_tool(rt, {"executable": "git", "arguments": ["checkout", "-q", "-b", "feature"]})
    assert r["exit_code"] == 0, r
    assert not marker.exists()
    # a workspace inside someone's repository: discovery stops at the workspace
    inner = ws / "sub"
    inner.mkdir()
    outer_rt = make_rt(inner, process_allow=["git"])
    r2 = await run_tool(outer_rt, {"executable": "git", "arguments": ["status"]})
    assert r2["exit_code"] != 0 and "not a git repository" in r2["stderr"]


@pytest.mark.skipif(GIT is None, reason="git not installed")
async def test_plain_git_still_works(box: tuple[Path, Path]) -> None:
    ws, _ = box
    _git_repo(ws)
    rt = make_rt(ws, process_allow=["git"])
    r = await run_tool(rt, {"executable": "git", "arguments": ["log", "--oneline", "-n", "1"]})
    assert r["exit_code"] == 0 and "init" in r["stdout"]


# ----------------------------------------------------------------------------------- tar, find, sed


@pytest.mark.parametrize("prog,args", [
    ("tar", ["-cf", "a.tar", "--to-command=touch {m}", "x"]), ("tar", ["-xf", "a.tar", "--to-command=touch {m}"]),
    ("tar", ["-cf", "a.tar", "--use-compress-program=touch {m}", "x"]), ("tar", ["-cIf", "touch {m}", "a.tar", "x"]),
    ("tar", ["-I", "touch {m}", "-cf", "a.tar", "x"]), ("tar", ["cIf", "touch {m}", "a.tar", "x"]),
    ("tar", ["-cf", "a.tar", "--checkpoint=1", "--checkpoint-action=exec=touch {m}", "x"]),
    ("tar", ["-cf", "evil:a.tar", "--rsh-command=/bin/sh", "x"]), ("tar", ["-xPf", "a.tar"]),
    ("tar", ["-cf", "{m}", "x"]), ("tar", ["-cf", "a.tar", "-C", "/etc", "passwd"]),
    ("find", [".", "-exec", "touch", "{m}", ";"]), ("find", [".", "-execdir", "touch", "{m}", "+"]),
    ("find", [".", "-ok", "touch", "{m}", ";"]), ("find", [".", "-fprint", "{m}"]), ("find", ["/etc", "-name", "x"]),
    ("sed", ["-e", "1e touch {m}", "x"]), ("sed", ["-n", "w {m}", "x"]), ("sed", ["s/x/touch {m}/e", "x"]),
    ("sed", ["-i", "s/a/b/", "/etc/hostname"]), ("sed", ["r /etc/passwd", "x"]),
])
async def test_program_argument_rules(box: tuple[Path, Path], prog: str, args: list[str]) -> None:
    ws, marker = box
    (ws / "x").write_text("hello\n")
    rt = make_rt(ws, process_allow=[prog])
    params = {"executable": prog, "arguments": [a.format(m=marker) for a in args]}
    try:
        out = await rt.tools.execute("process-executor", params)
    except SecurityViolationError:
        pass
    else:  # sed's --sandbox refuses e/w/r inside the program: it runs and fails
        from llmspell.api.shapes import output_table

        t = output_table(out.text, out.metadata)
        assert prog == "sed" and t["result"]["exit_code"] != 0, t
        assert "root:" not in t["result"]["stdout"]
    assert not marker.exists()


async def test_harmless_tar_find_sed_still_work(box: tuple[Path, Path]) -> None:
    ws, _ = box
    (ws / "x").write_text("hello\n")
    rt = make_rt(ws, process_allow=["tar", "find", "sed"])
    assert (await run_tool(rt, {"executable": "tar", "arguments": ["-czf", "a.tgz", "x"]}))["exit_code"] == 0
    assert "./x" in (await run_tool(rt, {"executable": "find", "arguments": [".", "-name", "x"]}))["stdout"]
    assert (await run_tool(rt, {"executable": "sed", "arguments": ["s/hello/bye/", "x"]}))["stdout"] == "bye\n"


# ----------------------------------------------------------------------------------- process tree, output


def _procs_with(tag: str) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if tag in cmd:
            out.append(int(pid))
    return out


@pytest.mark.parametrize("mode", ["timeout", "normal_exit"])
async def test_no_grandchild_outlives_the_call(box: tuple[Path, Path], mode: str) -> None:
    ws, _ = box
    tag = f"31415{os.getpid() % 1000}{'7' if mode == 'timeout' else '8'}"
    rt = make_rt(ws, process_allow=[PY], process_allow_interpreters=[PY])
    body = (f"import subprocess, time; subprocess.Popen(['sleep', '{tag}']); "
            + ("time.sleep(60)" if mode == "timeout" else "print('parent done')"))
    t0 = time.monotonic()
    r = await run_tool(rt, {"executable": PY, "arguments": ["-c", body], "timeout": 1.0})
    assert time.monotonic() - t0 < 10
    assert r["timed_out"] is (mode == "timeout")
    for _ in range(50):
        if not _procs_with(tag):
            break
        await asyncio.sleep(0.05)
    assert _procs_with(tag) == []


async def test_output_is_capped_by_policy_and_memory_stays_bounded(box: tuple[Path, Path]) -> None:
    ws, _ = box
    rt = make_rt(ws, process_allow=[PY], process_allow_interpreters=[PY], max_response_bytes=100_000)
    r = await run_tool(rt, {"executable": PY, "max_output_bytes": 50_000_000, "timeout": 20,
                            "arguments": ["-c", "import sys\nfor _ in range(200): sys.stdout.write('x' * 100000)"]})
    assert len(r["stdout"]) == 100_000 and r["truncated"] is True and r["exit_code"] == 0


async def test_working_directory_stays_inside(box: tuple[Path, Path]) -> None:
    ws, _ = box
    rt = make_rt(ws, process_allow=["date"])
    for wd in ["/", str(ws.parent), "../", "/etc"]:
        with pytest.raises(SecurityViolationError):
            await rt.tools.execute("process-executor", {"executable": "date", "working_directory": wd})


async def test_program_search_path_never_reaches_the_workspace(box: tuple[Path, Path],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH with '.' or the workspace in it must not turn a spell-written file into the allowed 'date'."""
    ws, marker = box
    evil = ws / "date"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\n")
    evil.chmod(0o755)
    monkeypatch.setenv("PATH", f".:{ws}:" + os.environ["PATH"])
    monkeypatch.chdir(ws)
    rt = make_rt(ws, process_allow=["date", "printenv"], env_allow=[])
    r = await run_tool(rt, {"executable": "date"})
    assert r["resolved_path"] != str(evil) and not marker.exists()
    p = await run_tool(rt, {"executable": "printenv", "arguments": ["PATH"]})
    assert str(ws) not in p["stdout"] and not p["stdout"].startswith(".")
