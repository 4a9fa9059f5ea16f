"""Breakpoint kinds, coroutines, evaluate/setVariable, error stops and the runtime-aware stops (hook
points, events), each driven over stdio like an editor would."""

from __future__ import annotations

from pathlib import Path

from dap.conftest import write
from dap.dap_client import DapClient

LOOP = """\
local function work(i)
  local sq = i * i
  return sq
end
local acc = 0
for i = 1, 10 do
  acc = acc + work(i)
end
print("acc", acc)
"""


def test_conditional_breakpoint_stops_only_when_true(dap: DapClient, tmp_path: Path) -> None:
    p = write(tmp_path, "loop.lua", LOOP)
    dap.start(p, {p: [{"line": 2, "condition": "i == 7"}]})
    dap.stopped()
    assert dap.locals()["i"] == "7"
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert len([e for e in dap.events if e["event"] == "stopped"]) == 1


def test_hit_condition_counts_hits(dap: DapClient, tmp_path: Path) -> None:
    p = write(tmp_path, "loop.lua", LOOP)
    dap.start(p, {p: [{"line": 2, "hitCondition": "3"}]})
    dap.stopped()
    assert dap.locals()["i"] == "3"
    dap.request("setBreakpoints", {"source": {"path": str(p)}, "breakpoints": [{"line": 2, "hitCondition": "%4"}]})
    dap.request("continue", {"threadId": 1})
    dap.next_stop()
    assert dap.locals()["i"] == "7"  # hits counted afresh for the new breakpoint: 4th hit from i = 4
    dap.request("setBreakpoints", {"source": {"path": str(p)}, "breakpoints": []})
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")


def test_logpoint_prints_and_does_not_stop(dap: DapClient, tmp_path: Path) -> None:
    p = write(tmp_path, "loop.lua", LOOP)
    dap.start(p, {p: [{"line": 3, "logMessage": "i={i} sq={sq} bad={nosuch.x}"}]})
    dap.wait_event("terminated")
    out = dap.output()
    assert "i=1 sq=1 bad={" in out and "i=10 sq=100" in out
    assert not [e for e in dap.events if e["event"] == "stopped"]
    logs = [e["body"] for e in dap.events if e["event"] == "output" and "sq=" in e["body"]["output"]]
    assert len(logs) == 10 and all(b["category"] == "console" for b in logs)


def test_bad_condition_is_reported_and_stops(dap: DapClient, tmp_path: Path) -> None:
    p = write(tmp_path, "loop.lua", LOOP)
    dap.start(p, {p: [{"line": 2, "condition": "i +* 2"}]})
    dap.stopped()
    assert "breakpoint condition failed" in dap.output()
    dap.request("terminate")
    dap.wait_event("terminated")


COROUTINES = """\
local function gen(n)
  for k = 1, n do
    coroutine.yield(k * 10)
  end
  return "done"
end
local co = coroutine.create(gen)
local got = {}
while true do
  local ok, v = coroutine.resume(co, 3)
  if coroutine.status(co) == "dead" then break end
  got[#got + 1] = v
end
local w = coroutine.wrap(function(a) local b = a + 1 coroutine.yield(b) return b * 2 end)
local first = w(1)
local second = w()
print(#got, first, second)
"""


def test_breakpoints_and_stepping_inside_coroutines(dap: DapClient, tmp_path: Path) -> None:
    p = write(tmp_path, "co.lua", COROUTINES)
    dap.start(p, {p: [{"line": 3}]})
    dap.stopped()
    frames = dap.request("stackTrace", {"threadId": 1})["stackFrames"]
    # the coroutine's frame, then the code that resumed it
    assert [(f["name"], f["line"]) for f in frames] == [
        ("function <co.lua:1>", 3), ("main chunk  [resumed a coroutine]", 10)]
    assert dap.locals()["k"] == "1"
    # next inside the coroutine: it yields, so the next line is back in the resumer
    dap.request("next", {"threadId": 1})
    dap.next_stop()
    assert (dap.top_frame()["name"], dap.top_frame()["line"]) == ("main chunk", 11)
    # next over a resume does not stop inside the coroutine (no breakpoint there now)
    dap.request("setBreakpoints", {"source": {"path": str(p)}, "breakpoints": []})
    lines = []
    for _ in range(4):
        dap.request("next", {"threadId": 1})
        dap.next_stop()
        lines.append((dap.top_frame()["name"], dap.top_frame()["line"]))
    assert lines == [("main chunk", 12), ("main chunk", 10), ("main chunk", 11), ("main chunk", 12)]
    # step into the wrapped coroutine's body
    dap.request("setBreakpoints", {"source": {"path": str(p)}, "breakpoints": [{"line": 15}]})
    dap.request("continue", {"threadId": 1})
    dap.next_stop()
    if dap.top_frame()["line"] != 15:
        dap.request("continue", {"threadId": 1})
        dap.next_stop()
    assert dap.top_frame()["line"] == 15
    dap.request("stepIn", {"threadId": 1})
    dap.next_stop()
    f = dap.top_frame()
    assert f["line"] == 14 and dap.locals().get("a") == "1"
    dap.request("setBreakpoints", {"source": {"path": str(p)}, "breakpoints": []})
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "3\t2\t4" in dap.output()


def test_evaluate_is_read_only_and_sees_the_frame(dap: DapClient, tmp_path: Path) -> None:
    p = write(tmp_path, "loop.lua", "count = 5\n" + LOOP)
    dap.start(p, {p: [{"line": 4, "condition": "i == 2"}]})  # `return sq` (line 3 of LOOP)
    dap.stopped()
    fid = dap.top_frame()["id"]
    r = dap.request("evaluate", {"expression": "sq + i + count", "frameId": fid, "context": "repl"})
    assert r["result"] == "11"
    r = dap.request("evaluate", {"expression": "{i, sq, name = 'x'}", "frameId": fid, "context": "watch"})
    assert r["variablesReference"] > 0
    msg = dap.request_error("evaluate", {"expression": "count = 99", "frameId": fid, "context": "repl"})
    assert "read-only" in msg and "count" in msg
    assert "read-only" in dap.request_error("evaluate", {"expression": "acc = 1", "frameId": fid})
    assert dap.request("evaluate", {"expression": "count", "frameId": fid, "context": "hover"})["result"] == "5"
    assert "do not call functions" in dap.request_error(
        "evaluate", {"expression": "work(3)", "frameId": fid, "context": "hover"})
    err = dap.request_error("evaluate", {"expression": "nosuch.field", "frameId": fid})
    assert "nosuch" in err or "index" in err
    dap.request("setBreakpoints", {"source": {"path": str(p)}, "breakpoints": []})
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    out = dap.output()
    assert "acc\t385" in out  # nothing the evaluations did changed the run


def test_set_variable_local_upvalue_table_field(dap: DapClient, tmp_path: Path) -> None:
    src = """\
local factor = 2
local cfg = {scale = 1}
local function f(x)
  local y = x * factor * cfg.scale
  return y
end
print("r", f(10))
"""
    p = write(tmp_path, "set.lua", src)
    dap.start(p, {p: [{"line": 4}]})
    dap.stopped()
    fid = dap.top_frame()["id"]
    scopes = {s["name"]: s["variablesReference"] for s in dap.request("scopes", {"frameId": fid})["scopes"]}
    r = dap.request("setVariable", {"variablesReference": scopes["Locals"], "name": "x", "value": "5"})
    assert r["value"] == "5"
    dap.request("setVariable", {"variablesReference": scopes["Upvalues"], "name": "factor", "value": "3"})
    ups = {v["name"]: v for v in dap.request("variables", {"variablesReference": scopes["Upvalues"]})["variables"]}
    dap.request("setVariable", {"variablesReference": ups["cfg"]["variablesReference"], "name": "scale",
                                "value": "7"})
    msg = dap.request_error("setVariable", {"variablesReference": scopes["Locals"], "name": "x",
                                            "value": "os.exit(1)"})
    assert "number, a quoted string" in msg
    r = dap.request("setVariable", {"variablesReference": scopes["Locals"], "name": "x", "value": '"s"'})
    assert r["value"] == '"s"'
    dap.request("setVariable", {"variablesReference": scopes["Locals"], "name": "x", "value": "5"})
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "r\t105" in dap.output()  # 5 * 3 * 7


def test_uncaught_error_stops_with_exception_info(dap: DapClient, tmp_path: Path) -> None:
    src = "local function boom(v)\n  local z = v.missing.field\n  return z\nend\nboom({})\n"
    p = write(tmp_path, "err.lua", src)
    dap.start(p, exceptions={"filters": ["error"]})
    stop = dap.stopped()
    assert stop["reason"] == "exception" and "missing" in stop.get("text", "")
    f = dap.top_frame()
    assert f["line"] == 2 and f["name"] == "boom"
    assert "v" in dap.locals()
    info = dap.request("exceptionInfo", {"threadId": 1})
    assert "missing" in info["description"] and "err.lua:2" in info["details"]["stackTrace"]
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert dap.wait_event("exited")["body"]["exitCode"] == 1
    assert "err.lua:2" in dap.output()


def test_raised_filter_stops_at_caught_errors_error_filter_does_not(dap: DapClient, tmp_path: Path) -> None:
    src = "local ok, e = pcall(function()\n  error('caught one')\nend)\nprint('after', ok)\n"
    p = write(tmp_path, "caught.lua", src)
    dap.start(p, exceptions={"filters": ["raised"]})
    stop = dap.stopped()
    assert stop["reason"] == "exception" and "caught one" in stop["text"]
    assert dap.top_frame()["line"] == 2
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "after\tfalse" in dap.output()


def test_error_filter_ignores_caught_errors(dap: DapClient, tmp_path: Path) -> None:
    src = "local ok, e = pcall(function()\n  error('caught one')\nend)\nprint('after', ok)\n"
    p = write(tmp_path, "caught.lua", src)
    dap.start(p, exceptions={"filters": ["error"]})
    dap.wait_event("terminated")
    assert not [e for e in dap.events if e["event"] == "stopped"]


def test_hook_point_stop_shows_the_hook_context(dap: DapClient, tmp_path: Path) -> None:
    src = 'local r = Tool.execute("calculator", {input = "1 + 2"})\nprint("result", r.text or r.result)\n'
    p = write(tmp_path, "tool.lua", src)
    dap.start(p, exceptions={"filters": [], "filterOptions": [
        {"filterId": "hook", "condition": "BeforeToolExecution"}]})
    stop = dap.stopped()
    assert stop["reason"] == "hook" and "BeforeToolExecution" in stop["description"]
    frames = dap.request("stackTrace", {"threadId": 1})["stackFrames"]
    assert frames[0]["line"] == 1 and frames[0]["source"]["path"] == str(p)
    scopes = dap.request("scopes", {"frameId": frames[0]["id"]})["scopes"]
    assert scopes[0]["name"] == "Hook context"
    ctx = {v["name"]: v for v in dap.request("variables", {"variablesReference": scopes[0]["variablesReference"]})[
        "variables"]}
    assert ctx["point"]["value"] == '"BeforeToolExecution"'
    data = {v["name"]: v["value"] for v in dap.request(
        "variables", {"variablesReference": ctx["data"]["variablesReference"]})["variables"]}
    assert data["tool"] == '"calculator"'
    params = {v["name"]: v for v in dap.request("variables", {"variablesReference": next(
        v["variablesReference"] for v in dap.request(
            "variables", {"variablesReference": ctx["data"]["variablesReference"]})["variables"]
        if v["name"] == "parameters")})["variables"]}
    assert params["input"]["value"] == '"1 + 2"'
    msg = dap.request_error("setVariable", {"variablesReference": ctx["data"]["variablesReference"],
                                            "name": "tool", "value": '"other"'})
    assert "copy" in msg
    # the spell's own frame is shown where it called the tool, with its scopes after the context
    assert [s["name"] for s in scopes] == ["Hook context", "Locals", "Upvalues", "Globals"]
    # nothing ran yet: the tool waits for the user
    assert "result" not in dap.output()
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "result" in dap.output()


def test_event_stop_shows_the_event(dap: DapClient, tmp_path: Path) -> None:
    # subscribers are called asynchronously: the spell stops as soon as it runs Lua again (within
    # ~10k instructions) or waits on the runtime, whichever comes first
    src = ('Event.publish("order.created", {id = 7})\nlocal x = 0\nfor i = 1, 1000000 do\n  x = x + i\nend\n'
           'print("published", x)\n')
    p = write(tmp_path, "ev.lua", src)
    dap.start(p, exceptions={"filters": [], "filterOptions": [{"filterId": "event", "condition": "order.*"}]})
    stop = dap.stopped()
    assert stop["reason"] == "event" and "order.created" in stop["description"]
    f = dap.top_frame()
    assert f["source"]["path"] == str(p) and 1 <= f["line"] <= 4
    scopes = dap.request("scopes", {"frameId": dap.top_frame()["id"]})["scopes"]
    assert scopes[0]["name"] == "Event"
    ev = {v["name"]: v for v in dap.request("variables", {"variablesReference": scopes[0]["variablesReference"]})[
        "variables"]}
    assert ev["event_type"]["value"] == '"order.created"'
    data = {v["name"]: v["value"] for v in dap.request(
        "variables", {"variablesReference": ev["data"]["variablesReference"]})["variables"]}
    assert data["id"] == "7"
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "published" in dap.output()


def test_unknown_hook_point_is_reported(dap: DapClient, tmp_path: Path) -> None:
    p = write(tmp_path, "x.lua", "print('hi')\n")
    dap.start(p, exceptions={"filters": [], "filterOptions": [{"filterId": "hook", "condition": "BeforeToolExecutio"}]})
    dap.wait_event("terminated")
    out = dap.output()
    assert "Unknown hook point: BeforeToolExecutio" in out and "hi" in out


def test_output_events_and_hook_results_are_output(dap: DapClient, tmp_path: Path) -> None:
    src = 'Hook.register("BeforeToolExecution", function(ctx) return "continue" end)\n' \
          'Tool.execute("calculator", {input = "2 * 3"})\nio.stderr:write("to stderr\\n")\nprint("to stdout")\n'
    p = write(tmp_path, "o.lua", src)
    dap.start(p)
    dap.wait_event("terminated")
    cats = {}
    for e in dap.events:
        if e["event"] == "output":
            cats.setdefault(e["body"]["category"], []).append(e["body"]["output"])
    assert any("to stdout" in t for t in cats["stdout"])
    assert any("to stderr" in t for t in cats["stderr"])
    console = "".join(cats["console"])
    assert "[hook] BeforeToolExecution" in console and "[event] tool." in console


def test_breakpoint_after_nested_calls_into_breakpointed_functions(dap: DapClient, tmp_path: Path) -> None:
    """Line events go off in functions without breakpoints; returning through them into one that has
    breakpoints must bring them back (E -> G -> F, breakpoints in F and later in E)."""
    src = """\
local function F(x)
  return x + 1
end
local function G(x)
  local y = F(x)
  return y * 2
end
local function E()
  local r = G(1)
  local s = G(r)
  return s
end
local co = coroutine.wrap(function() return E() end)
print("E", E(), co())
"""
    p = write(tmp_path, "nest.lua", src)
    dap.start(p, {p: [{"line": 2, "condition": "false"}, {"line": 11}]})
    dap.stopped()
    f = dap.top_frame()
    assert (f["name"], f["line"]) == ("E", 11) and dap.locals()["s"] == "10"
    dap.request("continue", {"threadId": 1})
    dap.next_stop()  # the same function run inside a coroutine
    assert dap.top_frame()["line"] == 11
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "E\t10\t10" in dap.output()


def test_raised_filter_stops_where_a_coroutine_dies(dap: DapClient, tmp_path: Path) -> None:
    src = """\
local co = coroutine.create(function(n)
  local half = n / 2
  error("bad half " .. half)
end)
local ok, err = coroutine.resume(co, 8)
print("resumed", ok)
"""
    p = write(tmp_path, "coerr.lua", src)
    dap.start(p, exceptions={"filters": ["raised"]})
    stop = dap.stopped()
    assert stop["reason"] == "exception" and "bad half 4" in stop["text"]
    f = dap.top_frame()
    assert f["line"] == 3 and dap.locals()["half"] == "4.0"
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "resumed\tfalse" in dap.output()


def test_breakpoint_in_a_hook_callback_shows_the_waiting_call(dap: DapClient, tmp_path: Path) -> None:
    src = """\
Hook.register("BeforeToolExecution", function(ctx)
  local name = ctx.component_id and ctx.component_id.name or "?"
  return "continue"
end)
local r = Tool.execute("calculator", {input = "2 + 2"})
print("done")
"""
    p = write(tmp_path, "cb.lua", src)
    dap.start(p, {p: [{"line": 3}]})
    assert dap.stopped()["reason"] == "breakpoint"
    frames = dap.request("stackTrace", {"threadId": 1})["stackFrames"]
    assert [(f["name"], f["line"]) for f in frames] == [
        ("function <cb.lua:1>", 3), ("main chunk  [waiting for the runtime]", 5)]
    assert dap.locals()["name"] == '"calculator"'
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "done" in dap.output() and "[hook] BeforeToolExecution cb.lua:1: continue" in dap.output()


def test_broken_condition_hit_count_and_log_are_flagged_on_the_breakpoint(dap: DapClient, tmp_path: Path) -> None:
    p = write(tmp_path, "loop.lua", LOOP)
    dap.start(p, {p: [{"line": 2, "condition": "i +* 2"}, {"line": 3, "hitCondition": "often"}]}, stopOnEntry=True)
    dap.stopped()
    first = dap.wait_event("breakpoint", pred=lambda b: not b["breakpoint"]["verified"])
    second = dap.wait_event("breakpoint", after=first["_index"] + 1, pred=lambda b: not b["breakpoint"]["verified"])
    changed = {ev["body"]["breakpoint"]["line"]: ev["body"]["breakpoint"] for ev in (first, second)}
    assert "condition 'i +* 2'" in changed[2]["message"] and changed[2]["source"]["path"] == str(p)
    assert "hit count 'often'" in changed[3]["message"]
    # set while running: the response carries the verdict
    r = dap.request("setBreakpoints", {"source": {"path": str(p)}, "breakpoints": [
        {"line": 3, "logMessage": "sq={sq sq}"}, {"line": 2, "condition": "i == 3"}]})
    assert [b["verified"] for b in r["breakpoints"]] == [False, True]
    assert "log message part {sq sq}" in r["breakpoints"][0]["message"]
    dap.request("continue", {"threadId": 1})
    dap.next_stop()
    assert dap.locals()["i"] == "3"
    dap.request("terminate")
    dap.wait_event("terminated")


def test_step_over_a_call_still_hits_a_breakpoint_inside_it(dap: DapClient, tmp_path: Path) -> None:
    src = """\
local function inner(v)
  local w = v + 1
  return w
end
local function outer(v)
  local s = 0
  for i = 1, 50 do s = s + i end
  return inner(v) + s
end
local a = outer(1)
local b = outer(2)
print(a, b)
"""
    p = write(tmp_path, "over.lua", src)
    dap.start(p, {p: [{"line": 10}, {"line": 2, "condition": "v == 2"}]})
    dap.stopped()
    assert dap.top_frame()["line"] == 10
    dap.request("next", {"threadId": 1})  # over outer(1): inner's breakpoint condition is false
    dap.next_stop()
    assert (dap.top_frame()["name"], dap.top_frame()["line"]) == ("main chunk", 11)
    dap.request("next", {"threadId": 1})  # over outer(2): the breakpoint in inner hits
    assert dap.next_stop()["reason"] == "breakpoint"
    assert (dap.top_frame()["name"], dap.top_frame()["line"]) == ("inner", 2)
    # out of inner: outer finishes on the same line (Lua raises no new line event there), so the
    # next line is the main chunk's
    dap.request("stepOut", {"threadId": 1})
    dap.next_stop()
    assert (dap.top_frame()["name"], dap.top_frame()["line"]) == ("main chunk", 12)
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated")
    assert "1277\t1278" in dap.output()


def test_logpoint_right_after_a_false_condition_in_the_same_function(dap: DapClient, tmp_path: Path) -> None:
    """Evaluating a condition re-installs the hook; the very next line (a logpoint) must still be seen."""
    src = """\
local function add(a, b)
  local sum = a + b
  local label = "sum of " .. a .. " and " .. b
  return sum, label
end
print("total is " .. add(41, 1))
"""
    p = write(tmp_path, "add.lua", src)
    dap.start(p, {p: [{"line": 2, "condition": "a > 100"}, {"line": 3, "logMessage": "sum is {sum}"}]})
    dap.wait_event("terminated")
    out = dap.output()
    assert "sum is 42" in out and "total is 42" in out, out
    assert not [e for e in dap.events if e["event"] == "stopped"]
