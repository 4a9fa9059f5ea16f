"""Red-team round on the debugger, cluster, MCP and tracing surfaces, by class of attack, as a hostile
spell author (or a hostile workspace file). Each test asserts what a user sees when the defence holds.

* Debugger: spell code that runs *during inspection* (a ``__tostring`` metamethod on a displayed table,
  an ``evaluate`` / condition / logpoint expression that never ends) ran with the wall clock held and
  no instruction budget: the Variables view, a hover or a breakpoint condition froze the session
  with the run spinning a core for up to the child's 7-day debug timer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dap.dap_client import DapClient

pytestmark = [pytest.mark.timeout(120)]


@pytest.fixture
def dap(tmp_path: Path) -> Iterator[DapClient]:
    c = DapClient(cwd=tmp_path)
    try:
        yield c
    finally:
        c.close()


def _write(ws: Path, name: str, src: str) -> Path:
    p = ws / name
    p.write_text(src, encoding="utf-8")
    return p


# ------------------------------------------------------------------------------------------- debugger

LOOPING_TOSTRING = """\
local evil = setmetatable({1, 2}, {__tostring = function() while true do end end,
                                   __index = function() while true do end end})
local x = 1
print(x)
"""


def test_debugger_inspection_with_looping_metamethod_answers(dap: DapClient, tmp_path: Path) -> None:
    """Showing a table whose ``__tostring`` never returns must not freeze the Variables view."""
    p = _write(tmp_path, "evil.lua", LOOPING_TOSTRING)
    dap.start(p, {p: [{"line": 4}]})
    dap.stopped()
    t0 = time.monotonic()
    loc = dap.locals()  # raises DapError (no response) if the run hangs in __tostring
    assert time.monotonic() - t0 < 15
    assert loc["x"] == "1" and "evil" in loc
    # an evaluate reaching the looping __index / an endless expression is stopped with a message
    fid = dap.top_frame()["id"]
    msg = dap.request_error("evaluate", {"expression": "evil.nothing", "frameId": fid, "context": "hover"})
    assert "too long" in msg
    msg = dap.request_error("evaluate", {"expression": "(function() while true do end end)()", "frameId": fid,
                                         "context": "repl"})
    assert "too long" in msg
    # the session still works afterwards
    assert dap.request("evaluate", {"expression": "x + 1", "frameId": fid})["result"] == "2"
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "1" in dap.output()


def test_debugger_looping_condition_and_logpoint_do_not_stall(dap: DapClient, tmp_path: Path) -> None:
    """A breakpoint condition / logpoint expression that never ends is stopped and reported (a broken
    condition stops, as a failing one does); the run then goes on to its end."""
    p = _write(tmp_path, "c.lua", "local n = 0\nfor i = 1, 3 do\n  n = n + i\nend\nprint('n', n)\n")
    loop = "(function() local k = 0 while true do k = k + 1 end end)()"
    dap.start(p, {p: [{"line": 3, "condition": loop}]})
    dap.stopped()
    assert "breakpoint condition failed: stopped: spell code run by the debugger took too long" in dap.output()
    dap.request("setBreakpoints", {"source": {"path": str(p)}, "breakpoints": [
        {"line": 5, "logMessage": "log {" + loop + "} n={n}"}]})
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated", timeout=60)
    out = dap.output()
    assert "n\t6" in out
    assert "took too long" in out.split("breakpoint condition failed")[-1] and "n=6" in out
