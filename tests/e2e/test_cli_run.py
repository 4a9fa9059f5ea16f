"""``llmspell-ls --run``: output, summary, JSON Lines, ARGS, exit codes and one-line errors (real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmspell.messages import RUN_MESSAGE_ADAPTER

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def cli(tmp: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    e.update(env or {})
    return subprocess.run(
        [PY, "-c", "import sys; from llmspell_ls.cli import main; sys.exit(main())", *args],
        cwd=tmp, capture_output=True, text=True, timeout=60, env=e,
    )


def write(tmp: Path, name: str, src: str) -> str:
    (tmp / name).write_text(src, encoding="utf-8")
    return name


def test_hello_human_output(tmp_path: Path) -> None:
    f = write(tmp_path, "hello.lua", 'print("Hello", 1.0)\nio.write("no newline")\nreturn {ok = true}\n')
    r = cli(tmp_path, "--run", f)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Hello\t1\nno newline\n"
    lines = r.stderr.splitlines()
    assert lines[-2] == '[llmspell] result: {"ok": true}'
    assert lines[-1].startswith("[llmspell] success · ") and "tokens" in lines[-1]


def test_json_lines(tmp_path: Path) -> None:
    f = write(tmp_path, "a.lua", 'print("x")\nlocal a = Agent.builder():model("offline/scripted"):build()\n'
                                 'a:execute({text = "hi"})\n')
    r = cli(tmp_path, "--run", f, "--json")
    assert r.returncode == 0, r.stderr
    msgs = [RUN_MESSAGE_ADAPTER.validate_python(json.loads(ln)) for ln in r.stdout.splitlines()]
    assert msgs[0].type == "started" and msgs[-1].type == "finished"
    assert {"output", "event"} <= {m.type for m in msgs}
    assert msgs[-1].usage.total_tokens > 0
    assert r.stderr == ""


def test_args_after_double_dash(tmp_path: Path) -> None:
    f = write(tmp_path, "args.lua", "print(ARGS[0], ARGS[1], ARGS[2], ARGS.mode, ARGS.verbose, arg[1])")
    r = cli(tmp_path, "--run", f, "--", "one", "two", "--mode", "fast", "--verbose")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "args.lua\tone\ttwo\tfast\ttrue\tone\n"


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    r = cli(tmp_path, "--run", "nope.lua")
    assert r.returncode == 2
    assert r.stderr == "llmspell-ls: nope.lua: no such file\n"


def test_not_a_spell(tmp_path: Path) -> None:
    write(tmp_path, "x.txt", "hi")
    r = cli(tmp_path, "--run", "x.txt")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "not a spell" in r.stderr


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can read any file")
    f = write(tmp_path, "secret.lua", "print(1)")
    (tmp_path / f).chmod(0)
    r = cli(tmp_path, "--run", f)
    assert r.returncode == 2 and "cannot read" in r.stderr


def _one_error_line(r: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    lines = [ln for ln in r.stderr.splitlines() if not ln.startswith("[llmspell]")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_syntax_error_is_one_line(tmp_path: Path) -> None:
    f = write(tmp_path, "bad.lua", "print('a')\nlocal = 1\n")
    r = cli(tmp_path, "--run", f)
    assert r.returncode == 1
    line = _one_error_line(r)
    assert line.startswith("bad.lua:2: ") and "near '='" in line
    assert r.stdout == ""


def test_runtime_error_is_one_line_at_the_spells_line(tmp_path: Path) -> None:
    f = write(tmp_path, "err.lua", "print('before')\n\nTool.execute('no-such-tool', {})\n")
    r = cli(tmp_path, "--run", f)
    assert r.returncode == 1
    assert r.stdout == "before\n"
    line = _one_error_line(r)
    assert line.startswith("err.lua:3: tool error:") and "no-such-tool" in line


def test_limit_exceeded_is_one_line(tmp_path: Path) -> None:
    f = write(tmp_path, "spin.lua", "local n = 0\nwhile true do n = n + 1 end\n")
    r = cli(tmp_path, "--run", f, env={"LLMSPELL_LIMITS__INSTRUCTION_BUDGET": "1000000"})
    assert r.returncode == 1
    line = _one_error_line(r)
    assert line.startswith("spin.lua:2: instruction budget exceeded")
    assert "[llmspell] limit" in r.stderr


def test_wall_time_is_one_line(tmp_path: Path) -> None:
    f = write(tmp_path, "slow.lua", "while true do end\n")
    r = cli(tmp_path, "--run", f, env={"LLMSPELL_LIMITS__WALL_TIME_S": "0.3"})
    assert r.returncode == 1
    assert "wall time limit exceeded" in _one_error_line(r)


def test_os_exit_status(tmp_path: Path) -> None:
    f = write(tmp_path, "exit.lua", "print('bye')\nos.exit(3)\n")
    r = cli(tmp_path, "--run", f)
    assert r.returncode == 3 and r.stdout == "bye\n" and "Traceback" not in r.stderr


def test_usage_errors(tmp_path: Path) -> None:
    r = cli(tmp_path, "--json")
    assert r.returncode == 2


def test_model_option_sets_the_default_model(tmp_path: Path) -> None:
    f = write(tmp_path, "m.lua", "for _, p in ipairs(Provider.list()) do print(p.name) end\n")
    r = cli(tmp_path, "--run", f, "--model", "offline/other-model")
    assert r.returncode == 0, r.stderr
    assert "offline/other-model" in r.stdout


def test_offline_run_does_not_import_litellm(tmp_path: Path) -> None:
    write(tmp_path, "a.lua", 'local a = Agent.builder():model("offline/scripted"):build()\n'
                             'print(a:execute({text = "hi"}).text ~= nil)\n')
    code = ("import sys, io, contextlib\nfrom llmspell_ls.cli import main\n"
            "rc = main(['--run', 'a.lua'])\n"
            "print('LITELLM', 'litellm' in sys.modules, rc)\n")
    r = subprocess.run([PY, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "LITELLM False 0" in r.stdout, r.stdout + r.stderr


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "dir.lua").mkdir()
    r = cli(tmp_path, "--run", "dir.lua")
    assert r.returncode == 2 and r.stderr == "llmspell-ls: dir.lua: not a file\n"


def test_json_lines_of_a_failing_spell(tmp_path: Path) -> None:
    f = write(tmp_path, "fail.lua", "print('x')\nerror('bad thing')\n")
    r = cli(tmp_path, "--run", f, "--json")
    assert r.returncode == 1 and r.stderr == ""
    last = json.loads(r.stdout.splitlines()[-1])
    assert last["type"] == "finished" and last["status"] == "error"
    assert last["error"]["line"] == 2 and last["error"]["file"] == str((tmp_path / "fail.lua").resolve())
    assert last["error"]["message"] == "fail.lua:2: bad thing"
    assert "stack traceback" in last["error"]["traceback"]


def test_reader_closing_the_pipe_is_not_an_error(tmp_path: Path) -> None:
    """``llmspell-ls --run x.lua --json | head -1``: the run stops quietly, no 'internal error'."""
    spell = write(tmp_path, "chatty.lua", 'for i = 1, 20000 do print("line " .. i) end\n')
    e = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    p = subprocess.Popen([PY, "-m", "llmspell_ls", "--run", spell, "--json"], cwd=tmp_path, env=e,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    first = p.stdout.readline()
    assert b'"type":"started"' in first
    p.stdout.close()  # the reader goes away
    stderr = p.stderr.read().decode()
    status = p.wait(timeout=60)
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr
    assert status == 141
