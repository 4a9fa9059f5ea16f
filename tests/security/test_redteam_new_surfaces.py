"""Red-team round on the debugger, cluster, MCP and tracing surfaces, by class of attack, as a hostile
spell author (or a hostile workspace file). Each test asserts what a user sees when the defence holds.

* Debugger: spell code that runs *during inspection* (a ``__tostring`` metamethod on a displayed table,
  an ``evaluate`` / condition / logpoint expression that never ends) ran with the wall clock held and
  no instruction budget: the Variables view, a hover or a breakpoint condition froze the session
  with the run spinning a core for up to the child's 7-day debug timer.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dap.conftest import alive, write
from dap.conftest import dap as dap  # the adapter fixture of tests/dap, requested by name
from dap.dap_client import DapClient

pytestmark = [pytest.mark.timeout(120)]


# ------------------------------------------------------------------------------------------- debugger

LOOPING_TOSTRING = """\
local big = setmetatable({}, {__tostring = function() return string.rep("z", 20000000) end})
local evil = setmetatable({1, 2}, {__tostring = function() while true do end end,
                                   __index = function() while true do end end})
local x = 1
print(x)
"""


def test_debugger_inspection_with_looping_metamethod_answers(dap: DapClient, tmp_path: Path) -> None:
    """Showing a table whose ``__tostring`` never returns must not freeze the Variables view."""
    p = write(tmp_path, "evil.lua", LOOPING_TOSTRING)
    dap.start(p, {p: [{"line": 5}]})
    dap.stopped()
    t0 = time.monotonic()
    loc = dap.locals()  # raises DapError (no response) if the run hangs in __tostring
    assert time.monotonic() - t0 < 15
    assert loc["x"] == "1" and "evil" in loc
    assert 0 < len(loc["big"]) < 1000  # a 20 MB __tostring result is not sent to the editor whole
    # an evaluate reaching the looping __index / an endless expression is stopped with a message
    fid = dap.top_frame()["id"]
    msg = dap.request_error("evaluate", {"expression": "evil.nothing", "frameId": fid, "context": "hover"})
    assert "too long" in msg
    msg = dap.request_error("evaluate", {"expression": "(function() while true do end end)()", "frameId": fid,
                                         "context": "repl"})
    assert "too long" in msg
    # the expression runs in a coroutine of its own: a yield is refused, not taken for a result
    msg = dap.request_error("evaluate", {"expression": "coroutine.yield(5)", "frameId": fid, "context": "repl"})
    assert "cannot wait or yield here" in msg
    # the session still works afterwards
    assert dap.request("evaluate", {"expression": "x + 1", "frameId": fid})["result"] == "2"
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "1" in dap.output()


def test_debugger_looping_condition_and_logpoint_do_not_stall(dap: DapClient, tmp_path: Path) -> None:
    """A breakpoint condition / logpoint expression that never ends is stopped and reported (a broken
    condition stops, as a failing one does); the run then goes on to its end."""
    p = write(tmp_path, "c.lua", "local n = 0\nfor i = 1, 3 do\n  n = n + i\nend\nprint('n', n)\n")
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


def test_debugger_globals_view_of_a_spell_with_300000_globals(dap: DapClient, tmp_path: Path) -> None:
    """The Globals scope listed every global: 300,000 of them made one response larger than a run
    message may be, and the supervisor ended the run ("the spell has ended")."""
    p = write(tmp_path, "g.lua", 'for i = 1, 300000 do _ENV["g" .. i] = i end\nlocal x = 1\nprint(x)\n')
    dap.start(p, {p: [{"line": 3}]})
    dap.stopped()
    globs = dap.scope_vars("Globals")
    assert 1000 <= len(globs) <= 1001 and globs[-1]["value"] == "(more globals not shown)"
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert dap.wait_event("exited")["body"]["exitCode"] == 0


def test_debugger_call_stack_of_a_deep_recursion_answers(dap: DapClient, tmp_path: Path) -> None:
    """Stopped 15,000 calls deep: the Call Stack request walked the whole stack once per frame (225
    million getinfo calls) and never answered; it now pages (startFrame/levels) and says how many."""
    p = write(tmp_path, "d.lua", "local function f(n)\n  if n == 0 then\n    return 0\n  end\n"
                                  "  return 1 + f(n - 1)\nend\nprint(f(15000))\n")
    dap.start(p, {p: [{"line": 3}]})
    dap.stopped()
    r = dap.request("stackTrace", {"threadId": 1, "startFrame": 0, "levels": 20}, timeout=15)
    assert len(r["stackFrames"]) == 20 and r["totalFrames"] == 15002
    assert (r["stackFrames"][0]["name"], r["stackFrames"][0]["line"]) == ("f", 3)
    tail = dap.request("stackTrace", {"threadId": 1, "startFrame": 14990, "levels": 20}, timeout=15)
    assert [(f["name"], f["line"]) for f in tail["stackFrames"]][-2:] == [("f", 5), ("main chunk", 7)]
    assert dap.locals(tail["stackFrames"][-2]["id"])["n"] == "15000"
    dap.request("setBreakpoints", {"source": {"path": str(p)}, "breakpoints": []})
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "15000" in dap.output()


def _tree(pid: int) -> set[int]:
    import os

    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().split(") ")[-1].split()
            except OSError:
                continue
            if int(fields[1]) == parent and int(d) not in found:
                found.add(int(d))
                todo.append(int(d))
    return found


@pytest.mark.parametrize("how", ["editor closes the pipe", "adapter killed"])
def test_debugged_endless_spell_dies_with_its_adapter(tmp_path: Path, how: str) -> None:
    """A spell stopped at a breakpoint (wall clock held) must not outlive the editor or the adapter."""
    import os
    import signal

    p = write(tmp_path, "loop.lua", "local n = 0\nwhile true do\n  n = n + 1\nend\n")
    c = DapClient(cwd=tmp_path)
    try:
        c.start(p, {p: [{"line": 3}]})
        c.stopped()
        run = _tree(c.proc.pid)
        assert run, "the run should be a child process of the adapter"
        assert c.proc.stdin is not None
        if how == "adapter killed":
            os.kill(c.proc.pid, signal.SIGKILL)
        else:
            c.proc.stdin.close()
        c.proc.wait(timeout=20)
        deadline = time.monotonic() + 10
        while any(alive(k) for k in run) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(k) for k in run), "the debugged run outlived its adapter"
    finally:
        for k in _tree(c.proc.pid) if c.proc.poll() is None else set():
            os.kill(k, signal.SIGKILL)
        if c.proc.poll() is None:
            c.proc.kill()


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


def test_mcp_server_gets_no_secret_and_unconfigured_servers_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's process sees none of the runtime's secrets (only what ``env`` names, from the
    vault), and a spell cannot reach a server that llmspell.toml does not configure."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-leak-test-mcp")
    monkeypatch.setenv("DB_PASS", "hunter2-mcp")
    src = """
local r = Tool.execute("mcp.h.env", {})
print("ENV", r.text)
for _, name in ipairs({"mcp.other.x", "mcp.h", "mcp..x", "mcp.h.nothere"}) do
  local ok, e = pcall(function() return Tool.execute(name, {}) end)
  print("TRY", name, ok, tostring(e))
end
return 1
"""
    out, fin, _ = _run_with_hostile_server(tmp_path, src)
    assert getattr(fin, "status", None) == "success", fin
    assert "sk-leak-test-mcp" not in out and "hunter2-mcp" not in out
    assert "ENV" in out
    tries = [ln for ln in out.splitlines() if ln.startswith("TRY")]
    assert len(tries) == 4 and all("\tfalse\t" in ln and "not found" in ln for ln in tries), tries


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


# ---------------------------------------------------------------------------------------- cluster

CLUSTER_FLOOD = """
local wf = Workflow.builder():name("flood"):map_reduce():items({1})
  :map_step({name = "f", type = "function", fn = function(x)
      local line = string.rep("y", 1000)
      for i = 1, 20000 do print(line) end
      for i = 1, 20000 do Event.publish("user.flood", {i = i}) end
      return {done = true}
    end})
  :build()
return wf:execute({}).outputs.f
"""


def test_cluster_worker_output_and_events_are_held_to_the_runs_limits(tmp_path: Path) -> None:
    """A shipped function printing 20 MB and publishing 20,000 events on a worker: the run's stream
    limits hold for what comes back over the link, with the same notices as in-process."""
    import asyncio
    import importlib.util
    import sys

    pytest.importorskip("distributed")
    from distributed import LocalCluster

    # the cluster tests' run helper, loaded by path (a bare ``import conftest`` may find another one)
    spec = importlib.util.spec_from_file_location("_cluster_helpers",
                                                  Path(__file__).resolve().parents[1] / "cluster" / "conftest.py")
    assert spec is not None and spec.loader is not None
    helpers = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = helpers  # its dataclasses look their module up
    spec.loader.exec_module(helpers)
    run_spell = helpers.run_spell

    cl = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1")
    try:
        run = asyncio.run(run_spell(tmp_path, CLUSTER_FLOOD, cluster=cl.scheduler_address,
                                    limits={"max_output_bytes": 100_000, "max_stream_events": 1000}))
    finally:
        cl.close()
    assert run.fin.status == "success", run.fin.error
    assert len(run.out) <= 100_000
    assert len(run.events("user.flood")) <= 1000
    notes = "".join(m.text for m in run.messages if m.type == "output" and m.stream != "stdout")
    assert "limits.max_output_bytes" in notes and "limits.max_stream_events" in notes


CLUSTER_DAG = """
local t = {1}
for i = 1, 40 do t = {a = t, b = t} end
local wf = Workflow.builder():name("dag"):map_reduce():items({1})
  :map_step({name = "f", type = "function", fn = function(x)
      return {n = t and 1}
    end})
  :build()
return wf:execute({}).outputs.f
"""


def test_cluster_upvalue_shared_table_bomb_is_refused_at_once(tmp_path: Path) -> None:
    """An upvalue holding the same table twice at each of 40 levels (2^40 paths, 41 tables): the
    check of what a shipped function captures walked every path in Python, holding the run until
    its wall time; it is counted against limits.max_value_items like any value the bridge passes."""
    import asyncio
    import importlib.util
    import sys

    pytest.importorskip("distributed")
    from distributed import LocalCluster

    spec = importlib.util.spec_from_file_location("_cluster_helpers",
                                                  Path(__file__).resolve().parents[1] / "cluster" / "conftest.py")
    assert spec is not None and spec.loader is not None
    helpers = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = helpers
    spec.loader.exec_module(helpers)

    cl = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1")
    try:
        t0 = time.monotonic()
        run = asyncio.run(helpers.run_spell(tmp_path, CLUSTER_DAG, cluster=cl.scheduler_address,
                                            limits={"wall_time_s": 60}))
        took = time.monotonic() - t0
    finally:
        cl.close()
    assert run.fin.status == "error", run.fin
    assert "cannot run on the cluster" in run.fin.error.message
    assert "limits.max_value_items" in run.fin.error.message
    assert took < 30
