"""The debug adapter driven over stdio by a real client: framing, the launch sequence, line
breakpoints, stack/scopes/variables, stepping, output, termination and errors."""

from __future__ import annotations

import os
import time
from pathlib import Path

from dap.conftest import alive, write
from dap.dap_client import DapClient

SPELL = """\
local function add(a, b)
  local s = a + b
  return s
end

total = 0
local t = {x = 1, list = {10, 20, 30}, name = "hi"}
for i = 1, 3 do
  total = add(total, i)
end
print("total", total)
return total
"""


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.update(int(x) for x in f.read().split())
    except OSError:
        pass
    return out


def test_initialize_reports_capabilities_and_filters(dap: DapClient) -> None:
    caps = dap.request("initialize", {"adapterID": "llmspell"})
    assert caps["supportsConfigurationDoneRequest"] is True
    assert caps["supportsConditionalBreakpoints"] and caps["supportsHitConditionalBreakpoints"]
    assert caps["supportsLogPoints"] and caps["supportsSetVariable"] and caps["supportsEvaluateForHovers"]
    assert caps["supportsExceptionFilterOptions"] is True
    filters = {f["filter"]: f for f in caps["exceptionBreakpointFilters"]}
    assert set(filters) == {"error", "raised", "hook", "event"}
    assert filters["hook"]["supportsCondition"] and filters["event"]["supportsCondition"]
    dap.wait_event("initialized")
    assert dap.request("threads")["threads"] == [{"id": 1, "name": "spell"}]


def test_breakpoint_stack_scopes_variables(dap: DapClient, tmp_path: Path) -> None:
    p = write(tmp_path, "sum.lua", SPELL)
    dap.start(p, {p: [{"line": 2}]})
    stop = dap.stopped()
    assert stop["reason"] == "breakpoint" and stop["threadId"] == 1 and stop["hitBreakpointIds"]
    frames = dap.request("stackTrace", {"threadId": 1})["stackFrames"]
    assert [(f["name"], f["line"], f["source"]["path"]) for f in frames] == [
        ("add", 2, str(p)), ("main chunk", 9, str(p))]
    assert dap.locals() == {"a": "0", "b": "1"}
    # the caller's frame: locals include the table, expandable lazily
    main = dap.scope_vars("Locals", frames[1]["id"])
    t = next(v for v in main if v["name"] == "t")
    assert t["variablesReference"] > 0
    got = dap.request("variables", {"variablesReference": t["variablesReference"]})["variables"]
    fields = {v["name"]: v for v in got}
    assert fields["x"]["value"] == "1" and fields["name"]["value"] == '"hi"'
    inner = dap.request("variables", {"variablesReference": fields["list"]["variablesReference"]})["variables"]
    assert [(v["name"], v["value"]) for v in inner] == [("[1]", "10"), ("[2]", "20"), ("[3]", "30")]
    # globals: what the spell defined, not the API
    globs = {v["name"]: v["value"] for v in dap.scope_vars("Globals", frames[1]["id"])}
    assert globs == {"total": "0"}
    ups = {v["name"] for v in dap.scope_vars("Upvalues", frames[1]["id"])}
    assert "Agent" not in ups
    dap.request("setBreakpoints", {"source": {"path": str(p)}, "breakpoints": []})
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    out = dap.output()
    assert "total\t6" in out and "success" in out
    assert dap.wait_event("exited")["body"]["exitCode"] == 0


def test_next_step_in_step_out(dap: DapClient, tmp_path: Path) -> None:
    p = write(tmp_path, "sum.lua", SPELL)
    dap.start(p, {p: [{"line": 9}]})
    assert dap.stopped()["reason"] == "breakpoint"
    assert dap.top_frame()["line"] == 9
    dap.request("stepIn", {"threadId": 1})
    assert dap.next_stop()["reason"] == "step"
    f = dap.top_frame()
    assert (f["name"], f["line"]) == ("add", 2)
    dap.request("next", {"threadId": 1})
    dap.next_stop()
    assert dap.top_frame()["line"] == 3 and dap.locals()["s"] == "1"
    dap.request("stepOut", {"threadId": 1})
    dap.next_stop()
    f = dap.top_frame()
    assert f["name"] == "main chunk" and f["line"] in (8, 9)
    # next over the call: never stops inside add
    dap.request("setBreakpoints", {"source": {"path": str(p)}, "breakpoints": []})
    for _ in range(3):
        dap.request("next", {"threadId": 1})
        dap.next_stop()
        assert dap.top_frame()["name"] == "main chunk"
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")


def test_stop_on_entry_and_continue_to_end(dap: DapClient, tmp_path: Path) -> None:
    p = write(tmp_path, "sum.lua", SPELL)
    dap.start(p, stopOnEntry=True)
    assert dap.stopped()["reason"] == "entry"
    assert dap.top_frame()["line"] == 4  # the first statement: `local function add ... end` (its end line)
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "total\t6" in dap.output()


def test_terminate_kills_the_run_process(dap: DapClient, tmp_path: Path) -> None:
    p = write(tmp_path, "sum.lua", SPELL)
    dap.start(p, {p: [{"line": 2}]})
    dap.stopped()
    kids = _children(dap.proc.pid)
    assert kids, "the run should be a child process of the adapter"
    dap.request("terminate")
    dap.wait_event("terminated")
    deadline = time.monotonic() + 5
    while any(alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(k) for k in kids)
    dap.request("disconnect")
    assert dap.proc.wait(timeout=10) == 0


def test_endless_loop_can_be_paused_and_terminated(dap: DapClient, tmp_path: Path) -> None:
    p = write(tmp_path, "loop.lua", "local n = 0\nwhile true do\n  n = n + 1\nend\n")
    dap.start(p)
    time.sleep(0.5)
    dap.request("pause", {"threadId": 1})
    assert dap.stopped()["reason"] == "pause"
    f = dap.top_frame()
    assert f["line"] in (2, 3) and f["source"]["path"] == str(p)
    assert int(dap.locals()["n"]) > 0
    kids = _children(dap.proc.pid)
    dap.request("continue", {"threadId": 1})
    time.sleep(0.2)
    dap.request("terminate")
    dap.wait_event("terminated")
    deadline = time.monotonic() + 5
    while any(alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(k) for k in kids)


def test_unknown_request_and_bad_launch(dap: DapClient, tmp_path: Path) -> None:
    dap.request("initialize", {"adapterID": "llmspell"})
    assert "unknown or unsupported request 'frobnicate'" in dap.request_error("frobnicate")
    missing = tmp_path / "nope.lua"
    msg = dap.request_error("launch", {"program": str(missing)})
    assert str(missing) in msg and "no such file" in msg
    msg = dap.request_error("launch", {})
    assert "program" in msg
    js = write(tmp_path, "x.js", "console.log(1)\n")
    msg = dap.request_error("launch", {"program": str(js)})
    assert "x.js" in msg and "JavaScript" in msg and "not supported" in msg
    assert "not running" in dap.request_error("stackTrace", {"threadId": 1})


def test_bad_framing_does_not_kill_the_adapter(dap: DapClient) -> None:
    dap.send_raw(b"Content-Length: 5\r\n\r\n{bad}")
    assert dap.request("threads")["threads"][0]["id"] == 1
    assert "not JSON" in dap.output()


def test_js_spell_runs_with_no_debug(dap: DapClient, tmp_path: Path) -> None:
    js = write(tmp_path, "x.js", "console.log('from js')\n")
    dap.start(js, noDebug=True)
    dap.wait_event("terminated")
    assert "from js" in dap.output()


def test_wall_clock_is_held_while_stopped(dap: DapClient, tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text("[limits]\nwall_time_s = 2\n", encoding="utf-8")
    p = write(tmp_path, "sum.lua", SPELL)
    dap.start(p, {p: [{"line": 2}]})
    dap.stopped()
    time.sleep(3)  # longer than the wall time: a person reading variables
    assert dap.locals() == {"a": "0", "b": "1"}
    dap.request("setBreakpoints", {"source": {"path": str(p)}, "breakpoints": []})
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    out = dap.output()
    assert "success" in out and "wall time" not in out


def test_wall_clock_still_ends_a_running_spell(dap: DapClient, tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text("[limits]\nwall_time_s = 1\n", encoding="utf-8")
    p = write(tmp_path, "loop.lua", "local n = 0\nwhile true do\n  n = n + 1\nend\n")
    dap.start(p, {p: [{"line": 3, "condition": "n == 10"}]})
    dap.stopped()
    dap.request("setBreakpoints", {"source": {"path": str(p)}, "breakpoints": []})
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "wall time limit exceeded" in dap.output()


def test_pause_while_the_spell_waits_on_the_runtime(dap: DapClient, tmp_path: Path) -> None:
    """A spell blocked in an API call (here a sleep) is not running Lua: the pause is served from its
    inbox and stops on the line of the call."""
    p = write(tmp_path, "wait.lua", 'local before = 41 + 1\nUtils.sleep(20)\nprint("woke")\n')
    dap.start(p)
    time.sleep(0.8)
    dap.request("pause", {"threadId": 1})
    stop = dap.stopped()
    assert stop["reason"] == "pause"
    f = dap.top_frame()
    assert (f["line"], f["source"]["path"]) == (2, str(p))
    assert dap.locals()["before"] == "42"
    t0 = time.monotonic()
    dap.request("terminate")
    dap.wait_event("terminated")
    assert time.monotonic() - t0 < 10
    assert "woke" not in dap.output()


def test_cli_flag_starts_the_same_adapter(tmp_path: Path) -> None:
    import sys

    c = DapClient(cwd=tmp_path, argv=[sys.executable, "-m", "llmspell_ls", "--dap"])
    try:
        p = write(tmp_path, "hi.lua", 'print("hi from --dap")\n')
        caps = c.start(p)
        assert caps["supportsConfigurationDoneRequest"] is True
        c.wait_event("terminated")
        assert "hi from --dap" in c.output()
    finally:
        c.close()
    assert c.proc.returncode == 0


def test_pause_and_terminate_right_after_configuration_done(dap: DapClient, tmp_path: Path) -> None:
    """Requests that arrive before the run process exists wait for it instead of failing."""
    p = write(tmp_path, "wait.lua", 'local before = 41 + 1\nUtils.sleep(20)\nprint("woke")\n')
    dap.request("initialize", {"adapterID": "llmspell"})
    dap.request("launch", {"program": str(p)})
    done = dap.send("configurationDone")
    pause = dap.send("pause", {"threadId": 1})
    assert dap.response(done)["success"]
    r = dap.response(pause)
    assert r["success"], r.get("message")
    assert dap.stopped()["reason"] == "pause"
    assert dap.top_frame()["line"] in (1, 2)
    dap.request("continue", {"threadId": 1})
    dap.request("terminate")
    dap.wait_event("terminated")
    assert "woke" not in dap.output()
