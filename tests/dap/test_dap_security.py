"""The debugger widens nothing: evaluate runs in the spell's sandbox, commands to the run process are
validated plain data, and a breakpoint in a required module maps to that file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dap.conftest import write
from dap.dap_client import DapClient


def test_evaluate_stays_in_the_sandbox(dap: DapClient, tmp_path: Path) -> None:
    p = write(tmp_path, "s.lua", "local secret = 1\nprint(secret)\n")
    dap.start(p, {p: [{"line": 2}]})
    dap.stopped()
    fid = dap.top_frame()["id"]
    for expr in ("debug.getinfo(1)", "python.eval('1')", "string.dump(print)", "package.loadlib('x', 'y')"):
        msg = dap.request_error("evaluate", {"expression": expr, "frameId": fid, "context": "repl"})
        assert "attempt to" in msg or "not available" in msg or "nil" in msg, (expr, msg)
    assert dap.request("evaluate", {"expression": "type(debug)", "frameId": fid})["result"] == '"nil"'
    assert dap.request("evaluate", {"expression": "type(python)", "frameId": fid})["result"] == '"nil"'
    # the spell's own os: no shell
    assert dap.request("evaluate", {"expression": "os.execute('id')", "frameId": fid})["result"] == "nil"
    dap.wait_event("output", pred=lambda b: "spells have no shell" in b.get("output", ""))
    dap.request("terminate")
    dap.wait_event("terminated")


def test_malformed_commands_to_the_run_process_are_refused(tmp_path: Path) -> None:
    from llmspell.config import load_config
    from llmspell.isolation import IsolatedRunner

    p = write(tmp_path, "s.lua", "local x = 1\nreturn x\n")
    runner = IsolatedRunner(config=load_config(tmp_path))
    debug = {"breakpoints": [{"path": str(p), "breakpoints": [{"id": 1, "line": 1}]}]}

    async def go() -> list:
        msgs = []
        async for m in runner.run(p, run_id="dbg", debug=debug):
            msgs.append(m)
            if m.type == "debug" and m.event == "stopped":
                # not a command; a command with an unknown field; a command the agent does not know
                assert await runner.send_debug("dbg", {"id": 1, "command": "os.exit", "arguments": {}})
                assert await runner.send_debug("dbg", {"id": 2, "command": "continue", "evil": "__import__"})
                assert await runner.send_debug("dbg", {"id": 3, "command": "setVariable", "arguments": {
                    "variablesReference": 1, "name": "x", "value": "os.exit(3)"}})
                assert await runner.send_debug("dbg", {"id": 4, "command": "continue"})
        return msgs

    msgs = asyncio.run(go())
    notes = "".join(m.text for m in msgs if m.type == "output")
    assert notes.count("a malformed command was ignored") == 2
    replies = {m.body["id"]: m.body for m in msgs if m.type == "debug" and m.event == "response"}
    assert replies[3]["ok"] is False and "number, a quoted string" in replies[3]["message"]
    assert replies[4]["ok"] is True
    fin = msgs[-1]
    assert fin.type == "finished" and fin.status == "success" and fin.result == 1
    assert not asyncio.run(runner.send_debug("dbg", {"id": 5, "command": "continue"}))  # the run is gone


def test_breakpoint_in_a_required_module(dap: DapClient, tmp_path: Path) -> None:
    mod = write(tmp_path, "helpers.lua", "local M = {}\nfunction M.double(v)\n  local d = v * 2\n  return d\nend\n"
                                          "return M\n")
    p = write(tmp_path, "main.lua", 'local h = require("helpers")\nprint("d", h.double(21))\n')
    dap.start(p, {mod: [{"line": 4}]})
    dap.stopped()
    frames = dap.request("stackTrace", {"threadId": 1})["stackFrames"]
    assert (frames[0]["source"]["path"], frames[0]["line"]) == (str(mod), 4)
    assert (frames[1]["source"]["path"], frames[1]["line"]) == (str(p), 2)
    assert dap.locals()["d"] == "42"
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "d\t42" in dap.output()
