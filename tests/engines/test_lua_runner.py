"""SpellRunner with the real runtime and the real globals: the RunMessage stream of a Lua spell."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from llmspell.messages import Finished, RunMessage
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime

pytestmark = pytest.mark.asyncio


def runner_for(tmp: Path, **limits: Any) -> SpellRunner:
    overrides = {"limits": limits} if limits else None
    return SpellRunner(lambda: Runtime(workspace=tmp, state="memory", overrides=overrides))


async def collect(runner: SpellRunner, path: Path, **kw: Any) -> list[RunMessage]:
    return [m async for m in runner.run(path, **kw)]


def spell(tmp: Path, src: str, name: str = "spell.lua") -> Path:
    p = tmp / name
    p.write_text(src, encoding="utf-8")
    return p


def fin(msgs: list[RunMessage]) -> Finished:
    last = msgs[-1]
    assert isinstance(last, Finished)
    assert sum(1 for m in msgs if m.type == "finished") == 1
    return last


async def test_stream_shape_output_events_usage(tmp_path: Path) -> None:
    p = spell(tmp_path, """
        print("start")
        local a = Agent.builder():name("a1"):model("offline/scripted"):build()
        local r1 = a:execute({text = "one"})
        local r2 = a:execute({text = "two"})
        print("done", type(r1.text))
        return {answer = 42}
    """)
    msgs = await collect(runner_for(tmp_path), p, args=["x"])
    assert msgs[0].type == "started" and msgs[0].language == "lua" and msgs[0].args == ["x"]
    assert [m.seq for m in msgs] == list(range(1, len(msgs) + 1))
    assert len({m.run_id for m in msgs}) == 1
    outputs = [m.text for m in msgs if m.type == "output"]
    assert outputs == ["start\n", "done\tstring\n"]
    types = [m.event_type for m in msgs if m.type == "event"]
    assert types.count("agent.completed") == 2 and "agent.started" in types
    # events arrive in order with the output around them
    kinds = [m.type for m in msgs]
    assert kinds.index("event") > kinds.index("output")
    f = fin(msgs)
    assert f.status == "success" and f.exit_code == 0 and f.result == {"answer": 42}
    assert f.usage.total_tokens > 0 and f.usage.total_tokens == f.usage.prompt_tokens + f.usage.completion_tokens
    assert f.duration_ms > 0


async def test_script_error_has_location_traceback_kind(tmp_path: Path) -> None:
    p = spell(tmp_path, "local x = 1\nlocal t = nil\nprint(t.field)\n")
    f = fin(await collect(runner_for(tmp_path), p))
    assert f.status == "error" and f.exit_code == 1
    assert f.error is not None and f.error.kind == "script" and f.error.line == 3
    assert f.error.file is not None and f.error.file.endswith("spell.lua")
    assert "attempt to index a nil value (local 't')" in f.error.message
    assert "stack traceback" in (f.error.traceback or "")


async def test_error_raised_inside_the_runtime_is_located_at_the_spells_line(tmp_path: Path) -> None:
    p = spell(tmp_path, "local x = 1\n\nTool.execute('no-such-tool', {})\n")
    f = fin(await collect(runner_for(tmp_path), p))
    assert f.status == "error" and f.error is not None
    assert f.error.line == 3 and f.error.kind == "tool", f.error
    assert "no-such-tool" in f.error.message


async def test_syntax_error(tmp_path: Path) -> None:
    p = spell(tmp_path, "print('a')\nlocal = 3\n", "broken.lua")
    f = fin(await collect(runner_for(tmp_path), p))
    assert f.status == "error" and f.error is not None
    assert f.error.kind == "syntax" and f.error.line == 2 and f.error.file and f.error.file.endswith("broken.lua")


async def test_missing_file_and_wrong_extension(tmp_path: Path) -> None:
    f = fin(await collect(runner_for(tmp_path), tmp_path / "nope.lua"))
    assert f.status == "error" and f.error is not None and f.error.kind == "io"
    f = fin(await collect(runner_for(tmp_path), spell(tmp_path, "x", "notes.txt")))
    assert f.error is not None and f.error.kind == "usage"


async def test_source_overrides_the_file(tmp_path: Path) -> None:
    p = spell(tmp_path, "print('on disk')")
    msgs = await collect(runner_for(tmp_path), p, source="print('unsaved buffer')")
    assert [m.text for m in msgs if m.type == "output"] == ["unsaved buffer\n"]


@pytest.mark.parametrize(("code", "status", "exit_code"), [(0, "success", 0), (3, "error", 3)])
async def test_os_exit(tmp_path: Path, code: int, status: str, exit_code: int) -> None:
    p = spell(tmp_path, f"print('a')\nos.exit({code})\nprint('b')\n")
    msgs = await collect(runner_for(tmp_path), p)
    f = fin(msgs)
    assert f.status == status and f.exit_code == exit_code
    assert [m.text for m in msgs if m.type == "output"] == ["a\n"]


async def test_cancel_by_run_id(tmp_path: Path) -> None:
    p = spell(tmp_path, "print('spinning')\nwhile true do pcall(function() while true do end end) end\n")
    runner = runner_for(tmp_path)
    msgs: list[RunMessage] = []
    cancelled_at = 0.0

    async def consume() -> None:
        async for m in runner.run(p, run_id="r1"):
            msgs.append(m)

    task = asyncio.ensure_future(consume())
    while not any(m.type == "output" for m in msgs):
        await asyncio.sleep(0.01)
    assert runner.active_runs == ["r1"]
    cancelled_at = time.perf_counter()
    assert await runner.cancel("r1") is True
    await task
    latency = time.perf_counter() - cancelled_at
    f = fin(msgs)
    assert f.status == "cancelled" and f.exit_code == 1
    assert latency < 0.5, latency  # includes runtime shutdown; the engine part is measured in the limits tests
    assert await runner.cancel("r1") is False


async def test_wall_time_limit(tmp_path: Path) -> None:
    p = spell(tmp_path, "while true do end")
    f = fin(await collect(runner_for(tmp_path, wall_time_s=0.3), p))
    assert f.status == "timeout" and f.error is not None and "wall time limit exceeded (0.3 s)" in f.error.message


async def test_wall_time_limit_while_blocked_in_the_runtime(tmp_path: Path) -> None:
    p = spell(tmp_path, "local id = Event.subscribe('never.*')\nEvent.receive(id, 60000)\n")
    t0 = time.perf_counter()
    f = fin(await collect(runner_for(tmp_path, wall_time_s=0.3), p))
    assert f.status == "timeout" and time.perf_counter() - t0 < 3


async def test_instruction_budget_is_status_limit(tmp_path: Path) -> None:
    p = spell(tmp_path, "local i = 0\nwhile true do i = i + 1 end\n")
    f = fin(await collect(runner_for(tmp_path, instruction_budget=1_000_000), p))
    assert f.status == "limit" and f.error is not None and f.error.line == 2
    assert "instruction budget exceeded" in f.error.message


async def test_hook_results_are_streamed(tmp_path: Path) -> None:
    p = spell(tmp_path, """
        Hook.register("BeforeAgentExecution", function(ctx)
          return "continue"
        end, "high")
        local a = Agent.builder():name("hooked"):model("offline/scripted"):build()
        a:execute({text = "hi"})
    """)
    msgs = await collect(runner_for(tmp_path), p)
    f = fin(msgs)
    assert f.status == "success", f.error
    hooks = [m for m in msgs if m.type == "hookResult"]
    assert any(h.point == "BeforeAgentExecution" and h.language == "lua" and h.result == "continue"
               for h in hooks), hooks


async def test_shared_runtime_lets_runs_see_each_other(tmp_path: Path) -> None:
    rt = Runtime(workspace=tmp_path, state="memory")
    runner = SpellRunner(runtime=rt)
    a = spell(tmp_path, "State.save('global', 'k', {n = 5})", "a.lua")
    b = spell(tmp_path, "return State.load('global', 'k').n", "b.lua")
    assert fin(await collect(runner, a)).status == "success"
    assert fin(await collect(runner, b)).result == 5


async def test_concurrent_runs(tmp_path: Path) -> None:
    runner = SpellRunner(runtime=Runtime(workspace=tmp_path, state="memory"))
    paths = [spell(tmp_path, f"Event.receive(Event.subscribe('x{i}'), 200)\nreturn {i}", f"s{i}.lua")
             for i in range(8)]
    t0 = time.perf_counter()
    results = await asyncio.gather(*(collect(runner, p) for p in paths))
    wall = time.perf_counter() - t0
    assert [fin(r).result for r in results] == list(range(8))
    assert wall < 1.5, wall


async def test_workflow_progress_is_streamed(tmp_path: Path) -> None:
    p = spell(tmp_path, """
        local wf = Workflow.builder():name("two-steps"):sequential()
          :add_step({name = "a", type = "function", fn = function() return 1 end})
          :add_step({name = "b", type = "function", fn = function() return 2 end})
          :build()
        return wf:execute({}).success
    """)
    msgs = await collect(runner_for(tmp_path), p)
    f = fin(msgs)
    assert f.status == "success" and f.result is True, f.error
    prog = [m for m in msgs if m.type == "progress"]
    assert prog and prog[-1].percentage == 100 and "two-steps" in prog[-1].message
    assert any("step a (1/2) started" in m.message for m in prog)
    assert [m.event_type for m in msgs if m.type == "event" and m.event_type.startswith("workflow.step")].count(
        "workflow.step.completed") == 2


async def test_dynamic_tool_members(tmp_path: Path) -> None:
    p = spell(tmp_path, 'local t = Tool.calculator\nlocal r = Tool["calculator"]:execute({input = "6*7"})\n'
                        'return {t.name, r.result.result, Tool["no-such-tool"] == nil}')
    f = fin(await collect(runner_for(tmp_path), p))
    assert f.status == "success", f.error
    assert f.result == ["calculator", 42, True]


async def test_hook_results_name_the_line_where_the_hook_was_written(tmp_path: Path) -> None:
    """The editor shows ``[hook] BeforeToolExecution spell.lua:2 …``, not a generated id."""
    path = spell(tmp_path, 'print("start")\nHook.register("BeforeToolExecution", function(ctx)\n'
                           '  return "continue"\nend)\nTool.execute("calculator", {input = "1 + 1"})\n')
    msgs = await collect(runner_for(tmp_path), path)
    hooks = [m for m in msgs if m.type == "hookResult" and m.point == "BeforeToolExecution"]
    assert len(hooks) == 1 and hooks[0].result == "continue"
    assert hooks[0].hook.endswith("spell.lua:2"), hooks[0].hook
    assert hooks[0].hook_id  # the registry's id is still there for tools that need identity
