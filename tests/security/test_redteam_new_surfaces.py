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


# ------------------------------------------------------------------------------- MCP listing file

def _refresh_in_thread(root: Path) -> tuple[object, bool]:
    """Run the language server's listing refresh with a deadline; (index, finished)."""
    import threading

    from llmspell_ls.apimodel import load_index
    from llmspell_ls.mcp_catalog import MCPToolsFile

    index = load_index()
    box: dict[str, object] = {}

    def go() -> None:
        try:
            box["ok"] = MCPToolsFile().refresh(index, [str(root)], force=True)
        except BaseException as e:
            box["err"] = e

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(5)
    assert "err" not in box, f"the refresh raised {box.get('err')!r}"
    return index, not t.is_alive()


GOOD_TOOL = {"name": "mcp.notes.search", "description": "find notes", "parameters": [{"name": "query"}]}


def test_mcp_listing_symlinked_to_a_pipe_does_not_hang_the_language_server(tmp_path: Path) -> None:
    """A workspace's ``.llmspell/mcp-tools.json`` may be a symlink (git keeps them) to a FIFO or
    ``/dev/stdin`` (the LSP pipe itself): opening and reading it blocked the server for good."""
    import os

    (tmp_path / ".llmspell").mkdir()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / ".llmspell" / "mcp-tools.json").symlink_to(fifo)
    index, finished = _refresh_in_thread(tmp_path)
    if not finished:  # unblock the stuck reader so the test process can end
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
    assert finished, "reading the listing blocked on a FIFO"
    assert not [n for n in index.tools if n.startswith("mcp.")]  # type: ignore[attr-defined]


def test_mcp_listing_hostile_json_is_ignored_not_raised(tmp_path: Path) -> None:
    """Deep nesting (RecursionError, not ValueError) or wrongly typed fields must not break the
    catalogue: the well-formed tools of the file are kept, the rest dropped."""
    import json

    (tmp_path / ".llmspell").mkdir()
    listing = tmp_path / ".llmspell" / "mcp-tools.json"
    listing.write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    index, finished = _refresh_in_thread(tmp_path)
    assert finished
    bad_tools = [
        {"name": "mcp.x.a", "parameters": 5},
        {"name": "mcp.x.b", "parameters": [{"name": {"nested": 1}}, {"name": "ok", "values": 7}]},
        {"name": "mcp.x.c", "description": ["not", "a string"], "schema": [1]},
    ]
    listing.write_text(json.dumps({"version": 1, "servers": {
        "x": {"tools": [*bad_tools, GOOD_TOOL]}, "y": "not a dict"}}), encoding="utf-8")
    index, finished = _refresh_in_thread(tmp_path)
    assert finished
    tools = index.tools  # type: ignore[attr-defined]
    assert "mcp.notes.search" in tools and tools["mcp.notes.search"].param("query") is not None
    for t in tools.values():
        assert isinstance(t.description, str)
        assert all(isinstance(p.name, str) for p in t.parameters)
        assert all(p.values is None or isinstance(p.values, list) for p in t.parameters)


# ------------------------------------------------------------------------------- cluster link

def test_cluster_link_closes_an_unauthenticated_flood_early(tmp_path: Path) -> None:
    """The run's State/events socket reads a hello line before the token is checked: a peer without
    the token could make the run buffer 64 MB per connection (the authenticated line limit)."""
    import asyncio
    import socket

    from llmspell.cluster.link import RunLink

    async def go() -> tuple[float, bool]:
        async def nothing(_: dict) -> None:
            return None

        link = RunLink(backend=None, token="t0ken", on_notify=nothing)
        host, port = await link.start("127.0.0.1")
        loop = asyncio.get_running_loop()

        def flood() -> tuple[float, bool]:
            s = socket.create_connection((host, port))
            s.settimeout(8)
            t0 = time.monotonic()
            closed = False
            try:
                for _ in range(64):  # 4 MB without a newline
                    s.sendall(b"x" * 65536)
                closed = s.recv(1) == b""
            except OSError:
                closed = True
            finally:
                s.close()
            return time.monotonic() - t0, closed

        try:
            return await loop.run_in_executor(None, flood)
        finally:
            link.close()

    took, closed = asyncio.run(go())
    assert closed and took < 5, (took, closed)


# ------------------------------------------------------------------------------------------ traces

HUGE_NAMES = """
local big = string.rep("w", 200000)
for i = 1, 10 do
  local wf = Workflow.builder():name(big .. i):sequential()
    :add_step({name = big, type = "tool", tool = "hash-calculator", input = {operation = "hash", input = "x"}})
    :build()
  wf:execute({})
  Event.publish("user." .. big, {n = i})
end
return 1
"""


def test_trace_span_names_and_attributes_are_capped(tmp_path: Path) -> None:
    """Workflow, step and event names are the spell's strings: uncapped, ten 200 KB names made a
    16 MB trace (and the parent, which keeps up to 50,000 spans, has no memory limit)."""
    import json

    from tracing.trace_helpers import run_cli, spans_of

    spell = tmp_path / "names.lua"
    spell.write_text(HUGE_NAMES, encoding="utf-8")
    out = tmp_path / "run.json"
    proc = run_cli(spell, "--trace", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    size = out.stat().st_size
    spans = spans_of(json.loads(out.read_text(encoding="utf-8")))
    assert any(s["name"].startswith("invoke_workflow www") for s in spans)
    assert size < 1_000_000, f"trace file is {size} bytes"
    for s in spans:
        assert len(s["name"]) <= 300
        for a in s.get("attributes", []):
            assert len(a["value"].get("stringValue", "")) <= 1100
        for e in s.get("events", []):
            assert len(e["name"]) <= 300


# ------------------------------------------------------------------------------------ MCP client

HOSTILE_SERVER = Path(__file__).with_name("hostile_mcp_server.py")


def _run_with_hostile_server(ws: Path, src: str) -> tuple[str, object, float]:
    import asyncio
    import sys

    from llmspell.runner import SpellRunner
    from llmspell.runtime import Runtime

    py = sys.executable
    (ws / "llmspell.toml").write_text(
        f'[limits]\nwall_time_s = 60\n[mcp]\nprocess_allow = ["{py}"]\n'
        f'[mcp.servers.h]\ncommand = "{py}"\nargs = ["{HOSTILE_SERVER}"]\ntimeout_s = 3\n', encoding="utf-8")
    (ws / "spell.lua").write_text(src, encoding="utf-8")

    async def go() -> tuple[str, object]:
        runner = SpellRunner(lambda: Runtime(workspace=ws, state="memory"))
        out, fin = [], None
        async for m in runner.run(ws / "spell.lua"):
            if m.type == "output":
                out.append(m.text)
            elif m.type == "finished":
                fin = m
        return "".join(out), fin

    t0 = time.monotonic()
    out, fin = asyncio.run(go())
    return out, fin, time.monotonic() - t0


def test_mcp_hostile_server_schemas_and_silence_give_clear_errors(tmp_path: Path) -> None:
    """A server's schema with a ``$ref`` loop raised a bare RecursionError at the spell; a remote
    ``$ref`` is never fetched; a call that never answers ends at the server's timeout."""
    src = """
for _, t in ipairs({"selfref", "remote", "hang"}) do
  local ok, e = pcall(function() return Tool.execute("mcp.h." .. t, {a = {b = 1}}) end)
  print(t, ok, tostring(e))
end
return 1
"""
    out, fin, took = _run_with_hostile_server(tmp_path, src)
    assert getattr(fin, "status", None) == "success", fin
    lines = {ln.split("\t")[0]: ln for ln in out.splitlines() if "\t" in ln}
    assert "refers to itself without end" in lines["selfref"] and "RecursionError" not in lines["selfref"]
    assert "cannot be resolved" in lines["remote"] and "not fetched" in lines["remote"]
    assert "false" in lines["hang"] and "timed out" in lines["hang"]
    assert took < 30
