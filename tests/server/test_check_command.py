"""``llmspell-ls --check`` and ``--stubs`` from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from llmspell_ls.check_command import check_command


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmspell_ls", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def test_check_prints_linter_lines_and_fails_on_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.lua"
    bad.write_text('local a = Agent.bulder()\nTool.execute("calculatr", { input = "1" })\n')
    res = run_cli("--check", str(bad))
    assert res.returncode == 1, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == (f"{bad}:1:17: error unknown-member: 'Agent' has no member 'bulder'; "
                        "did you mean 'builder'?")
    assert lines[1].startswith(f"{bad}:2:15: warning unknown-tool: unknown tool 'calculatr'")


def test_check_passes_clean_and_warning_only_files(tmp_path: Path, capsys) -> None:
    ok = tmp_path / "ok.js"
    ok.write_text("const r = await Tool.execute('calculator', { input: '1' });\nconsole.log(r);\n")
    warn = tmp_path / "warn.js"
    warn.write_text("const r = Tool.execute('calculator', { input: '1' });\n")
    assert check_command([str(ok), str(warn)]) == 0
    out = capsys.readouterr().out
    assert "ok.js" not in out and "warn.js:1:16: warning missing-await:" in out


def test_check_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    res = run_cli("--check", str(tmp_path / "nope.lua"))
    assert res.returncode == 2
    assert res.stderr.strip().startswith("llmspell-ls:") and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_check_rejects_non_spells(tmp_path: Path) -> None:
    p = tmp_path / "x.txt"
    p.write_text("hi")
    assert check_command([str(p)]) == 2


def test_stubs_command_writes_the_layout(tmp_path: Path) -> None:
    res = run_cli("--stubs", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    for rel in ("llmspell-api.json", "lua/config.json", "lua/library/llmspell.lua", "js/llmspell.d.ts"):
        assert (tmp_path / "out" / rel).is_file()


def test_diagnostic_comments_silence_one_line(tmp_path: Path, capsys) -> None:
    """LuaLS's ``@diagnostic disable-next-line`` / ``disable-line`` work in Lua and JS spells."""
    lua = tmp_path / "quiet.lua"
    lua.write_text(
        "local b = Agent.builder()\n"
        "---@diagnostic disable-next-line: call-style\n"
        "b.model('x')\n"                                   # silenced (named code)
        "b.name('y')\n"                                    # still reported
        "local a = Agent.bulder() ---@diagnostic disable-line\n"   # silenced (all codes)
        "---@diagnostic disable-next-line: unknown-tool\n"
        "local c = Agent.bulder()\n"                       # other code: still reported
    )
    js = tmp_path / "quiet.js"
    js.write_text("// @diagnostic disable-next-line: unknown-tool\nawait Tool.execute('nope', {});\n"
                  "await Tool.execute('nope2', {});\n")
    assert check_command([str(lua), str(js)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [o.split(": ", 1)[0].rsplit(":", 2)[-2] for o in out if "quiet.lua" in o] == ["4", "7"]
    assert [o for o in out if "quiet.js" in o] == [f"{js}:3:21: warning unknown-tool: unknown tool 'nope2'"]


def test_examples_are_lint_clean() -> None:
    """Every shipped example passes ``--check`` (deliberate misuses carry a diagnostic comment)."""
    ex = Path(__file__).resolve().parents[2] / "examples"
    examples = sorted(str(p) for pattern in ("*.lua", "*.js") for p in ex.glob(pattern))
    assert len(examples) >= 24
    res = run_cli("--check", *examples)
    assert res.returncode == 0 and res.stdout == "", res.stdout
