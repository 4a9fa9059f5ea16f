"""Workflows as a user sees them: data flowing between steps, real concurrency, conditions, loops,
map-reduce, error strategies, pause/resume across runtimes, cancel, progress, hooks and events."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from llmspell.api.decl import ScriptFunction
from llmspell.core.errors import WorkflowError
from llmspell.core.traits import BaseAgent
from llmspell.core.types import AgentInput, AgentOutput, HookResult
from llmspell.runtime import Runtime
from llmspell.workflows.engine import CHECKPOINT_SCOPE


class PyFn(ScriptFunction):
    """Stands in for a script function (sync or async Python callable)."""

    def __init__(self, fn: Any):
        self.fn = fn
        self.calls = 0

    async def __call__(self, *args: Any) -> Any:
        self.calls += 1
        r = self.fn(*args)
        if asyncio.iscoroutine(r):
            r = await r
        return r


class EchoAgent(BaseAgent):
    def __init__(self, name: str):
        super().__init__(name)
        self.prompts: list[str] = []

    async def execute(self, input: AgentInput) -> AgentOutput:
        self.prompts.append(input.text)
        return AgentOutput(text=f"[{self.name}] {input.text.upper()}")


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime(workspace=tmp_path, state="memory")


def collect(rt: Runtime, pattern: str = "workflow.*") -> list[Any]:
    seen: list[Any] = []
    rt.events.subscribe(pattern, lambda e: seen.append(e))
    return seen


# ------------------------------------------------------------------------------------------ sequential


async def test_sequential_data_flows_between_steps(rt: Runtime) -> None:
    fn = PyFn(lambda inp, ctx: {"short": inp["result"]["hash"][:8], "topic": ctx["input"]["text"]})
    wf = rt.workflows.create({"name": "pipeline", "steps": [
        {"name": "gen", "type": "tool", "tool": "uuid-generator", "input": {"operation": "generate"}},
        {"name": "hash", "type": "tool", "tool": "hash-calculator",
         "input": {"operation": "hash", "input": "{{step.gen.result.uuid}}"}},
        {"name": "pick", "type": "function", "fn": fn},
        {"name": "shout", "type": "tool", "tool": "text-manipulator",
         "input": {"operation": "uppercase", "input": "{{input.text}}: {{step.pick.short}} / $prev"}},
    ]})
    r = await wf.run({"text": "report"})
    uid = r["outputs"]["gen"]["result"]["uuid"]
    import hashlib

    h = hashlib.sha256(uid.encode()).hexdigest()
    assert r["outputs"]["hash"]["result"]["hash"] == h
    assert r["outputs"]["pick"] == {"short": h[:8], "topic": "report"}
    shouted = r["outputs"]["shout"]["result"]["result"]
    assert shouted.startswith(f"REPORT: {h[:8].upper()} / ") and '"SHORT"' in shouted
    # rs-llmspell's result shape, plus our top-level fields
    assert r["text"].startswith("Sequential workflow 'pipeline' completed successfully. 4 steps executed.")
    extra = r["metadata"]["extra"]
    assert extra["workflow_type"] == "sequential" and extra["workflow_name"] == "pipeline"
    assert extra["total_steps"] == 4 and extra["successful_steps"] == 4 and extra["failed_steps"] == 0
    assert extra["success_rate"] == 100.0 and extra["execution_id"] == r["execution_id"]
    assert r["metadata"]["execution_time_ms"] > 0
    assert r["success"] is True and r["status"] == "completed"
    assert [s["name"] for s in r["steps"]] == ["gen", "hash", "pick", "shout"]
    assert wf.id.startswith("workflow_") and rt.workflows.get(wf.id) is wf


async def test_unresolvable_placeholder_stays_literal_and_whole_value_keeps_type(rt: Runtime) -> None:
    seen: list[Any] = []
    wf = rt.workflows.create({"name": "w", "steps": [
        {"name": "a", "type": "function", "fn": PyFn(lambda i, c: {"n": [1, 2, 3]})},
        {"name": "b", "type": "function", "input": {"list": "{{step.a.n}}", "text": "{{nope.x}} {{step.a.n}}"},
         "fn": PyFn(lambda i, c: seen.append(i))},
    ]})
    await wf.run()
    assert seen[0] == {"list": [1, 2, 3], "text": "{{nope.x}} [1, 2, 3]"}


async def test_agent_step_gets_resolved_prompt_and_agent_outputs(rt: Runtime) -> None:
    agent = EchoAgent("writer")
    rt.agents.add(agent)
    wf = rt.workflows.create({"name": "w", "steps": [
        {"name": "calc", "type": "tool", "tool": "calculator", "input": {"input": "6*7"}},
        {"name": "write", "type": "agent", "agent": "writer", "input": "the answer is {{step.calc.result.result}}"},
    ]})
    r = await wf.run()
    assert agent.prompts == ["the answer is 42"]
    assert r["outputs"]["write"] == "[writer] THE ANSWER IS 42"
    assert r["metadata"]["extra"]["agent_outputs"] == {"writer": "[writer] THE ANSWER IS 42"}
    bad = rt.workflows.create({"name": "w2",
                               "steps": [{"name": "x", "type": "agent", "agent": "ghost", "input": "hi"}]})
    with pytest.raises(WorkflowError, match="Agent 'ghost' not found"):
        await bad.run()


async def test_nested_workflow_step(rt: Runtime) -> None:
    inner = rt.workflows.create({"name": "inner", "steps": [
        {"name": "up", "type": "tool", "tool": "text-manipulator", "input": {"operation": "uppercase",
                                                                             "input": "{{input.word}}"}}]})
    outer = rt.workflows.create({"name": "outer", "steps": [
        {"name": "sub", "type": "workflow", "workflow": inner, "input": {"word": "{{input.text}}"}},
        {"name": "after", "type": "function", "fn": PyFn(lambda i, c: i["outputs"]["up"]["result"]["result"])},
    ]})
    r = await outer.run("nested")
    assert r["outputs"]["after"] == "NESTED"
    assert r["outputs"]["sub"]["text"].startswith("Sequential workflow 'inner' completed successfully")


# ------------------------------------------------------------------------------------------ parallel


async def test_parallel_steps_really_overlap(rt: Runtime) -> None:
    spans: dict[str, tuple[float, float]] = {}

    def sleeper(name: str) -> PyFn:
        async def f(inp: Any, ctx: Any) -> str:
            t0 = time.perf_counter()
            await asyncio.sleep(0.15)
            spans[name] = (t0, time.perf_counter())
            return name

        return PyFn(f)

    steps = [{"name": n, "type": "function", "fn": sleeper(n)} for n in ("a", "b", "c")]
    wf = rt.workflows.create({"name": "par", "type": "parallel", "steps": steps})
    r = await wf.run()
    assert r["outputs"] == {"a": "a", "b": "b", "c": "c"}
    latest_start = max(s for s, _ in spans.values())
    earliest_end = min(e for _, e in spans.values())
    assert latest_start < earliest_end, "all three steps were running at the same moment"
    assert r["text"].startswith("Parallel workflow 'par' completed successfully")
    assert r["metadata"]["extra"]["total_branches"] == 3

    spans.clear()
    steps = [{"name": n, "type": "function", "fn": sleeper(n)} for n in ("a", "b", "c")]
    wf1 = rt.workflows.create({"name": "par1", "type": "parallel", "steps": steps, "max_concurrency": 1})
    await wf1.run()
    ordered = sorted(spans.values())
    assert all(ordered[i][1] <= ordered[i + 1][0] + 1e-3 for i in range(2)), "max_concurrency=1 serialises"


async def test_parallel_branches_and_fail_fast_cancels_siblings(rt: Runtime) -> None:
    finished: list[str] = []

    async def slow(i: Any, c: Any) -> str:
        await asyncio.sleep(1.0)
        finished.append("slow")
        return "slow"

    def boom(i: Any, c: Any) -> None:
        raise ValueError("boom")

    wf = rt.workflows.create({"name": "p", "type": "parallel", "branches": [
        {"name": "one", "steps": [{"name": "s1", "fn": PyFn(lambda i, c: 1)},
                                  {"name": "s2", "fn": PyFn(lambda i, c: i + 1)}]},
        {"name": "two", "steps": [{"name": "slow", "fn": PyFn(slow)}]},
        {"name": "three", "steps": [{"name": "bad", "fn": PyFn(boom)}]},
    ]})
    t0 = time.perf_counter()
    with pytest.raises(WorkflowError, match="failed at step 'bad': boom"):
        await wf.run()
    assert finished == [], "the failing branch cancelled the slow sibling before it finished"
    assert time.perf_counter() - t0 < 1.0


# ------------------------------------------------------------------------------------------ conditional


async def test_conditional_shared_data_then_else_and_branches(rt: Runtime) -> None:
    cfg = {"name": "cond", "branches": [
        {"name": "premium", "condition": {"type": "shared_data_equals", "key": "tier", "value": "gold"},
         "steps": [{"name": "vip", "fn": PyFn(lambda i, c: "vip")}]},
        {"name": "flagged", "condition": {"type": "shared_data_exists", "key": "flag"},
         "steps": [{"name": "flag", "fn": PyFn(lambda i, c: "flag")}]},
    ], "default_branch": [{"name": "basic", "fn": PyFn(lambda i, c: "basic")}]}
    wf = rt.workflows.create(dict(cfg, type="conditional"))
    r = await wf.run()
    assert r["outputs"] == {"basic": "basic"} and r["metadata"]["extra"]["selected_branch"] == "default"
    wf.shared_data["flag"] = 1
    assert (await wf.run())["outputs"] == {"flag": "flag"}
    wf.shared_data["tier"] = "gold"
    r = await wf.run()
    assert r["outputs"] == {"vip": "vip"} and r["metadata"]["extra"]["selected_branch"] == "premium"
    assert r["text"].startswith("Conditional workflow 'cond' completed successfully")


async def test_conditional_function_predicate_sees_input(rt: Runtime) -> None:
    wf = rt.workflows.create({"name": "c", "type": "conditional", "branches": [
        {"name": "long", "condition": PyFn(lambda ctx: len(ctx["input"]["text"]) > 5),
         "steps": [{"name": "x", "fn": PyFn(lambda i, c: "long")}]}],
        "default_branch": [{"name": "x", "fn": PyFn(lambda i, c: "short")}]})
    assert (await wf.run("abc"))["outputs"]["x"] == "short"
    assert (await wf.run("abcdefgh"))["outputs"]["x"] == "long"


# ------------------------------------------------------------------------------------------ loop


async def test_loop_range_is_end_exclusive_and_exposes_loop_values(rt: Runtime) -> None:
    seen: list[Any] = []

    def body(i: Any, c: Any) -> Any:
        seen.append(i)
        return i["v"] * 10

    wf = rt.workflows.create({"name": "l", "type": "loop", "iterator": {"range": {"start": 1, "end": 4}},
                              "body": [{"name": "b", "input": {"v": "{{loop.value}}", "i": "{{loop.iteration}}"},
                                        "fn": PyFn(body)}]})
    r = await wf.run()
    assert seen == [{"v": 1, "i": 1}, {"v": 2, "i": 2}, {"v": 3, "i": 3}]
    assert [it["outputs"]["b"] for it in r["iterations"]] == [10, 20, 30]
    extra = r["metadata"]["extra"]
    assert extra["completed_iterations"] == 3 and extra["break_reason"] == "completed"
    assert wf.shared_data["loop_value"] == 3 and wf.shared_data["iteration"] == 3


async def test_loop_collection_while_max_iterations_and_break(rt: Runtime) -> None:
    out: list[Any] = []
    wf = rt.workflows.create({"name": "c", "type": "loop", "iterator": {"collection": ["a", "b", "c"]},
                              "max_iterations": 2,
                              "body": [{"name": "s", "input": "{{loop.value}}",
                                        "fn": PyFn(lambda i, c: out.append(i))}]})
    r = await wf.run()
    assert out == ["a", "b"] and r["metadata"]["extra"]["break_reason"] == "max_iterations"

    counter = {"n": 0}

    def bump(i: Any, c: Any) -> int:
        counter["n"] += 1
        return counter["n"]

    w2 = rt.workflows.create({"name": "w", "type": "loop",
                              "iterator": {"while_condition": PyFn(lambda ctx: counter["n"] < 5)},
                              "body": [{"name": "s", "fn": PyFn(bump)}]})
    r = await w2.run()
    assert counter["n"] == 5 and r["metadata"]["extra"]["break_reason"] == "condition"

    w3 = rt.workflows.create({"name": "b", "type": "loop", "iterator": {"range": {"start": 0, "end": 100}},
                              "break_conditions": ["loop_index >= 2"],
                              "body": [{"name": "s", "fn": PyFn(lambda i, c: c["loop"]["index"])}]})
    r = await w3.run()
    assert len(r["iterations"]) == 3 and r["metadata"]["extra"]["break_reason"].startswith("break_condition")


# ------------------------------------------------------------------------------------------ map-reduce


async def test_map_reduce_maps_concurrently_then_reduces(rt: Runtime) -> None:
    active = {"now": 0, "max": 0}

    async def square(x: Any, ctx: Any) -> int:
        active["now"] += 1
        active["max"] = max(active["max"], active["now"])
        await asyncio.sleep(0.05)
        active["now"] -= 1
        return int(x) * int(x)

    wf = rt.workflows.create({"name": "mr", "type": "map_reduce", "max_concurrency": 3,
                              "map": {"name": "square", "fn": PyFn(square)},
                              "reduce": {"name": "total", "fn": PyFn(lambda results, ctx: sum(results))}})
    r = await wf.run({"items": [1, 2, 3, 4, 5, 6]})
    assert r["outputs"]["square"] == [1, 4, 9, 16, 25, 36] and r["outputs"]["total"] == 91
    assert active["max"] == 3
    # map over a tool with {{item}}
    w2 = rt.workflows.create({"name": "mr2", "type": "map_reduce", "items": ["a", "b"],
                              "map": {"name": "up", "type": "tool", "tool": "text-manipulator",
                                      "input": {"operation": "uppercase", "input": "{{item}}"}}})
    r = await w2.run()
    assert [o["result"]["result"] for o in r["outputs"]["up"]] == ["A", "B"]


# ------------------------------------------------------------------------------------------ errors


async def test_error_strategies(rt: Runtime) -> None:
    def boom(i: Any, c: Any) -> None:
        raise RuntimeError("kaput")

    steps = [{"name": "ok", "fn": PyFn(lambda i, c: 1)}, {"name": "bad", "fn": PyFn(boom)},
             {"name": "after", "fn": PyFn(lambda i, c: 3)}]
    events = collect(rt)
    wf = rt.workflows.create({"name": "ff", "steps": steps})
    with pytest.raises(WorkflowError, match="Workflow 'ff' failed at step 'bad': kaput") as ei:
        await wf.run()
    assert "after" not in wf.outputs and ei.value.details["result"]["status"] == "failed"
    assert [e.event_type for e in events][-2:] == ["workflow.step.failed", "workflow.failed"]

    wc = rt.workflows.create({"name": "cont", "steps": steps, "error_strategy": "continue"})
    r = await wc.run()
    assert r["outputs"] == {"ok": 1, "after": 3} and r["success"] is False and r["status"] == "completed"
    assert r["metadata"]["extra"]["failed_steps"] == 1 and "completed with errors" in r["text"]
    assert next(s for s in r["steps"] if s["name"] == "bad")["error"] == "kaput"

    attempts = {"n": 0}

    def flaky(i: Any, c: Any) -> str:
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise RuntimeError(f"transient {attempts['n']}")
        return "finally"

    retries = collect(rt, "recovery.retry")
    wr = rt.workflows.create({"name": "r", "error_strategy": "retry", "retry_backoff_ms": 5,
                              "steps": [{"name": "flaky", "fn": PyFn(flaky)}]})
    r = await wr.run()
    assert r["outputs"]["flaky"] == "finally" and attempts["n"] == 3 and len(retries) == 2
    assert r["steps"][0]["attempts"] == 3

    attempts["n"] = -10
    with pytest.raises(WorkflowError, match="transient"):
        await wr.run()
    assert attempts["n"] == -7  # exactly three attempts


async def test_tool_soft_failure_fails_the_step(rt: Runtime) -> None:
    wf = rt.workflows.create({"name": "t", "steps": [{"name": "c", "tool": "calculator", "input": {"input": "1/0"}}]})
    with pytest.raises(WorkflowError, match="tool 'calculator' failed: Evaluation failed: division by zero"):
        await wf.run()


async def test_unanswered_webhook_is_a_result_the_next_step_reads(tmp_path: Path) -> None:
    """rs-llmspell's webhook-caller returns (success = false) when the endpoint never answers, and its
    workflows carry on; a tool that raises still fails the step (above)."""
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rt = Runtime(workspace=tmp_path, state="memory", overrides={"security": {"allow_private_network": True}})
    wf = rt.workflows.create({"name": "notify", "steps": [
        {"name": "hook", "tool": "webhook-caller", "input": {"input": f"http://127.0.0.1:{port}/x", "payload": {}}},
        {"name": "after", "tool": "calculator", "input": {"input": "2+2"}},
    ]})
    r = await wf.run()
    hook = r["outputs"]["hook"]
    assert hook["success"] is False and "127.0.0.1" in hook["result"]["webhook_url"]
    assert r["outputs"]["after"]["result"]["result"] == 4


async def test_timeout(rt: Runtime) -> None:
    wf = rt.workflows.create({"name": "slow", "timeout_ms": 50,
                              "steps": [{"name": "s", "fn": PyFn(lambda i, c: asyncio.sleep(5))}]})
    t0 = time.perf_counter()
    with pytest.raises(WorkflowError, match="timed out after 50 ms"):
        await wf.run()
    assert time.perf_counter() - t0 < 1.0


# ------------------------------------------------------------------------------------------ control


async def test_cancel_stops_promptly(rt: Runtime) -> None:
    events = collect(rt)
    started = asyncio.Event()

    async def long_step(i: Any, c: Any) -> None:
        started.set()
        await asyncio.sleep(30)

    after = PyFn(lambda i, c: "never")
    wf = rt.workflows.create({"name": "c", "steps": [{"name": "long", "fn": PyFn(long_step)},
                                                     {"name": "after", "fn": after}]})
    task = asyncio.create_task(wf.run())
    await started.wait()
    t0 = time.perf_counter()
    await wf.cancel()
    r = await asyncio.wait_for(task, 2)
    assert time.perf_counter() - t0 < 1.0
    assert r["status"] == "cancelled" and r["success"] is False and after.calls == 0
    assert events[-1].event_type == "workflow.cancelled" and wf.status == "cancelled"


async def test_pause_then_resume_in_a_new_runtime(tmp_path: Path) -> None:
    rt1 = Runtime(workspace=tmp_path)  # default: sqlite under .llmspell/
    wf = rt1.workflows.create({"name": "durable", "steps": [
        {"name": "s1", "type": "tool", "tool": "uuid-generator", "input": {"operation": "generate"}},
        {"name": "s2", "type": "tool", "tool": "hash-calculator",
         "input": {"operation": "hash", "input": "{{step.s1.result.uuid}}"}},
        {"name": "s3", "type": "tool", "tool": "text-manipulator",
         "input": {"operation": "uppercase", "input": "{{input.text}}-{{shared.tag}}"}},
    ]})
    wf.shared_data["tag"] = "t1"
    cps: list[str] = []
    checkpoint_hooks: list[Any] = []

    async def pause_after_s1(ctx: Any) -> None:
        if ctx.data["step_name"] == "s1":
            cps.append(await wf.pause())

    rt1.hooks.register("AfterWorkflowStage", pause_after_s1)
    rt1.hooks.register("WorkflowCheckpoint", lambda c: checkpoint_hooks.append(dict(c.data)))
    paused = await wf.run({"text": "go"})
    assert paused["status"] == "paused" and paused["checkpoint_id"] == cps[0]
    assert list(paused["outputs"]) == ["s1"] and checkpoint_hooks[0]["checkpoint_id"] == cps[0]
    uid = paused["outputs"]["s1"]["result"]["uuid"]
    rt1.state.close()

    rt2 = Runtime(workspace=tmp_path)
    events = collect(rt2)
    assert await rt2.state.get(CHECKPOINT_SCOPE, cps[0]) is not None
    r = await rt2.workflows.resume(cps[0])
    import hashlib

    assert r["status"] == "completed" and r["success"] is True
    assert r["outputs"]["s1"]["result"]["uuid"] == uid  # s1 did not run again
    assert r["outputs"]["s2"]["result"]["hash"] == hashlib.sha256(uid.encode()).hexdigest()
    assert r["outputs"]["s3"]["result"]["result"] == "GO-T1"
    assert r["workflow_id"] == wf.id and r["execution_id"] == paused["execution_id"]
    started = [e.data["step_name"] for e in events if e.event_type == "workflow.step.started"]
    assert started == ["s2", "s3"] and events[0].event_type == "workflow.resumed"
    assert [s["name"] for s in r["steps"]] == ["s1", "s2", "s3"]
    rt2.state.close()


async def test_resume_function_steps_needs_the_rebuilt_workflow(tmp_path: Path) -> None:
    def make_steps() -> list[dict[str, Any]]:
        return [{"name": "a", "fn": PyFn(lambda i, c: "A")}, {"name": "b", "fn": PyFn(lambda i, c: c["prev"] + "B")}]

    rt1 = Runtime(workspace=tmp_path)
    wf = rt1.workflows.create({"name": "fnwf", "steps": make_steps()})
    holder: list[str] = []

    async def pause_now(ctx: Any) -> None:
        if ctx.data["step_name"] == "a":
            holder.append(await wf.pause())

    rt1.hooks.register("AfterWorkflowStage", pause_now)
    assert (await wf.run())["status"] == "paused"
    rt1.state.close()

    rt2 = Runtime(workspace=tmp_path)
    with pytest.raises(WorkflowError, match="function step, and script functions are not saved in checkpoints"):
        await rt2.workflows.resume(holder[0])
    rebuilt = rt2.workflows.create({"name": "fnwf", "steps": make_steps()})  # the spell builds it again
    r = await rebuilt.resume(holder[0])
    assert r["outputs"] == {"a": "A", "b": "AB"} and r["status"] == "completed"
    rt2.state.close()


async def test_pause_when_idle_writes_checkpoint_and_loop_resume(rt: Runtime) -> None:
    seen: list[int] = []
    wf = rt.workflows.create({"name": "lp", "type": "loop", "iterator": {"range": {"start": 0, "end": 5}},
                              "body": [{"name": "s", "fn": PyFn(lambda i, c: seen.append(c["loop"]["value"]))}]})
    holder: list[str] = []

    async def pause_at_2(ctx: Any) -> None:
        if wf.shared_data.get("loop_value") == 2 and not holder:
            holder.append(await wf.pause())

    rt.hooks.register("AfterWorkflowStage", pause_at_2)
    r = await wf.run()
    assert r["status"] == "paused" and seen == [0, 1, 2]
    r = await wf.resume(holder[0])
    assert seen == [0, 1, 2, 3, 4] and r["metadata"]["extra"]["completed_iterations"] == 5
    idle_cp = await wf.pause()
    assert (await rt.state.get(CHECKPOINT_SCOPE, idle_cp))["workflow_id"] == wf.id


# ------------------------------------------------------------------------------------------ observability


async def test_progress_events_callback_and_hooks(rt: Runtime) -> None:
    events = collect(rt)
    progress: list[dict[str, Any]] = []
    rt.hooks.register("BeforeWorkflowStart",
                      lambda c: HookResult(kind="modified", data={**c.data, "input": {"text": "from-hook"}}))
    rt.hooks.register("BeforeWorkflowStage",
                      lambda c: HookResult(kind="skipped") if c.data["step_name"] == "skipme" else None)
    transitions: list[tuple[Any, Any]] = []
    rt.hooks.register("WorkflowStageTransition", lambda c: transitions.append((c.data["from"], c.data["to"])))
    done: list[Any] = []
    rt.hooks.register("AfterWorkflowComplete", lambda c: done.append(c.data["result"]["status"]))
    wf = rt.workflows.create({"name": "obs", "steps": [
        {"name": "one", "input": "{{input.text}}", "fn": PyFn(lambda i, c: i)},
        {"name": "skipme", "fn": PyFn(lambda i, c: "should not run")},
        {"name": "two", "type": "tool", "tool": "uuid-generator"},
    ]})
    wf.on_progress = lambda p: progress.append(p)
    r = await wf.run({"text": "original"})
    assert r["outputs"]["one"] == "from-hook" and "skipme" not in r["outputs"]
    assert next(s for s in r["steps"] if s["name"] == "skipme")["skipped"] is True
    types = [e.event_type for e in events]
    assert types[0] == "workflow.started" and types[-1] == "workflow.completed"
    st = [e.data for e in events if e.event_type == "workflow.step.started"]
    assert [(d["step_name"], d["step_type"], d["step_index"]) for d in st] == [
        ("one", "function", 0), ("skipme", "function", 1), ("two", "tool", 2)]
    assert all(d["workflow_id"] == wf.id for d in st)
    assert types.count("workflow.step.completed") == 3
    assert [(p["step_name"], p["status"]) for p in progress][:2] == [("one", "started"), ("one", "completed")]
    assert progress[-1]["completed_steps"] == 3 and progress[-1]["total_steps"] == 3
    assert transitions == [("one", "skipme"), ("skipme", "two")] and done == ["completed"]


async def test_stage_error_hook_can_replace_a_failed_step(rt: Runtime) -> None:
    def boom(i: Any, c: Any) -> None:
        raise RuntimeError("broken")

    rt.hooks.register("WorkflowError", lambda c: HookResult(kind="replace", data={"output": "fallback"})
                      if c.data.get("step_name") == "bad" else None)
    wf = rt.workflows.create({"name": "rep", "steps": [{"name": "bad", "fn": PyFn(boom)}]})
    r = await wf.run()
    assert r["outputs"]["bad"] == "fallback" and r["success"] is True


def test_validate_reports_unknown_tools(rt: Runtime) -> None:
    wf = rt.workflows.create({"name": "v", "steps": [{"name": "x", "tool": "no-such-tool"},
                                                     {"name": "y", "tool": "uuid_generator"}]})
    v = wf.validate()
    assert v["valid"] is False and v["errors"] == ["step 'x': tool 'no-such-tool' not found"]


def test_bad_definitions_are_clear(rt: Runtime) -> None:
    from llmspell.core.errors import ValidationError

    with pytest.raises(ValidationError, match="Unknown step type 'magic'"):
        rt.workflows.create({"name": "w", "steps": [{"name": "x", "type": "magic"}]})
    with pytest.raises(ValidationError, match="a tool step needs 'tool'"):
        rt.workflows.create({"name": "w", "steps": [{"name": "x", "type": "tool"}]})
    with pytest.raises(ValidationError, match="'name' is required"):
        rt.workflows.create({"steps": []})
    with pytest.raises(ValidationError, match="error_strategy: expected one of"):
        rt.workflows.create({"name": "w", "steps": [], "error_strategy": "explode"})


async def test_parallel_and_map_reduce_pause_resume(rt: Runtime) -> None:
    ran: list[str] = []

    async def step(name: str) -> Any:
        ran.append(name)
        await asyncio.sleep(0.01)
        return name.upper()

    wf = rt.workflows.create({"name": "pp", "type": "parallel", "max_concurrency": 1, "branches": [
        {"name": "b1", "steps": [{"name": "a", "fn": PyFn(lambda i, c: step("a"))},
                                 {"name": "b", "fn": PyFn(lambda i, c: step("b"))}]},
        {"name": "b2", "steps": [{"name": "c", "fn": PyFn(lambda i, c: step("c"))}]},
    ]})
    holder: list[str] = []

    async def pause_after_a(ctx: Any) -> None:
        if ctx.data["step_name"] == "a" and not holder:
            holder.append(await wf.pause())

    h = rt.hooks.register("AfterWorkflowStage", pause_after_a)
    r = await wf.run()
    assert r["status"] == "paused" and ran == ["a"]
    r = await wf.resume(holder[0])
    assert r["status"] == "completed" and sorted(ran) == ["a", "b", "c"] and ran.count("a") == 1
    assert r["outputs"] == {"a": "A", "b": "B", "c": "C"}
    h.unregister()

    mapped: list[int] = []

    def double(x: int, c: Any) -> int:
        mapped.append(x)
        return x * 2

    mr = rt.workflows.create({"name": "mrp", "type": "map_reduce", "max_concurrency": 1,
                              "map": {"name": "m", "fn": PyFn(double)},
                              "reduce": {"name": "r", "fn": PyFn(lambda xs, c: sum(xs))}})
    holder.clear()

    async def pause_after_first_item(ctx: Any) -> None:
        if ctx.data["step_name"] == "m[1]" and not holder:
            holder.append(await mr.pause())

    rt.hooks.register("AfterWorkflowStage", pause_after_first_item)
    r = await mr.run({"items": [1, 2, 3]})
    assert r["status"] == "paused" and mapped == [1]
    r = await mr.resume(holder[0])
    assert mapped == [1, 2, 3] and r["outputs"]["m"] == [2, 4, 6] and r["outputs"]["r"] == 12
