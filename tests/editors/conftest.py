"""Shared pieces of the editor suites (real Neovim, real VS Code through code-server).

Why a `need()` helper: in CI (``CI=true``) a missing editor, browser or server must fail the run
with a message that says what to install; a developer without them gets a visible skip instead.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ARTIFACTS = REPO / "test-artifacts"

#: The spell both suites open. Line 1 carries the "Run spell" lens; line 7 has the unknown member
#: the server must flag (inside `if false` so the run itself still succeeds); the last line is
#: empty so the tests can type `Agent.` there and complete it from the pop-up. The hook makes the
#: run report a hook result.
SPELL = """\
-- llmspell editor test spell
print("hello from the spell")
Hook.register("BeforeAgentExecution", function(ctx) return "continue" end)
local agent = Agent.builder():name("writer"):model("offline/scripted"):build()
local reply = agent:execute({ text = "Say hello" })
print("agent said: " .. tostring(reply.text))
if false then Agent.bulder() end

"""
BULDER_LINE = next(i for i, line in enumerate(SPELL.splitlines()) if "bulder" in line)
"""0-based line of the unknown member."""

#: A spell that never ends on its own; only cancellation stops it.
LONG_SPELL = """\
-- llmspell long-running spell
print("spinning")
while true do end
"""

#: A spell that fails at line 3; the error must show in the run output and as a diagnostic.
FAILING_SPELL = """\
-- llmspell failing spell
print("before the failure")
error("boom")
"""

#: The spell the debugger suites step through. A breakpoint on DEBUG_BREAK_LINE (1-based) stops
#: inside add() with the locals a = 41, b = 1, sum = 42; one step over reaches the next line with
#: label = "sum of 41 and 1"; continuing prints "total is 42" and ends the spell.
DEBUG_SPELL = """\
-- llmspell debugger test spell
local function add(a, b)
  local sum = a + b
  local label = "sum of " .. a .. " and " .. b
  return sum, label
end
local x = 41
local total = add(x, 1)
print("total is " .. total)
"""
DEBUG_BREAK_LINE = 4


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(ok: bool, what: str) -> None:
    """Fail (CI) or skip (locally) when a piece of the editor setup is missing."""
    if ok:
        return
    msg = f"{what} (install with scripts/setup-editors.sh)"
    if in_ci():
        pytest.fail(f"editor test prerequisite missing: {msg}", pytrace=False)
    pytest.skip(msg)


def fail(msg: str) -> NoReturn:
    pytest.fail(msg, pytrace=False)


def server_command() -> list[str]:
    """The real language server, as an editor would start it.

    ``EDITORS_TEST_SERVER`` (an executable) overrides it, for developing the plugins against a
    work-in-progress server; it is never set in CI.
    """
    override = os.environ.get("EDITORS_TEST_SERVER")
    if override:
        if in_ci():
            pytest.fail("EDITORS_TEST_SERVER is for local development; CI must test the real llmspell-ls",
                        pytrace=False)
        return [override]
    exe = VENV_BIN / "llmspell-ls"
    need(exe.exists() or shutil.which("llmspell-ls") is not None,
         "the llmspell-ls console script (pip install -e .)")
    need(importlib.util.find_spec("llmspell_ls.server") is not None,
         "llmspell_ls.server (the language server module) is not importable")
    return [str(exe if exe.exists() else shutil.which("llmspell-ls"))]


@pytest.fixture
def spell_workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "spell.lua").write_text(SPELL, encoding="utf-8")
    (ws / "long.lua").write_text(LONG_SPELL, encoding="utf-8")
    (ws / "debug.lua").write_text(DEBUG_SPELL, encoding="utf-8")
    return ws


@pytest.fixture
def editor_env(tmp_path: Path) -> dict[str, str]:
    """Environment with HOME and XDG dirs in a temp dir, so no editor writes the user's files."""
    home = tmp_path / "home"
    env = dict(os.environ)
    env["HOME"] = str(home)
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                     ("XDG_STATE_HOME", "state"), ("XDG_CACHE_HOME", "cache")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    return env
