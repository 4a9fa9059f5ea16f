"""The hook points the runtime fires beyond the agent/tool/workflow/state-read-write lifecycle:
resource limits, performance, sessions, state conflicts and migrations, workflow rollback,
configuration changes and custom points — each driven the way a user meets it (a spell, the
runner's stream, the Runtime API) and each checked for what its results change.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from fakes import collect_run
from fakes.servers import FakeHttpServer
from llmspell.core.errors import ConfigurationError, HookCancelledError, SecurityViolationError
from llmspell.core.types import HookContext, HookResult
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime

pytestmark = pytest.mark.asyncio


def make_rt(tmp_path: Path, *, state: str = "memory", **overrides: Any) -> Runtime:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    return Runtime(workspace=ws, state=state, overrides=overrides or None)


async def run(rt: Runtime, src: str, name: str = "spell.lua") -> tuple[list[str], Any, list[Any]]:
    """Run ``src`` on the shared runtime ``rt``: (printed lines, Finished, other messages)."""
    text, fin, msgs = await collect_run(SpellRunner(runtime=rt), rt.workspace / name, source=src)
    assert fin is not None
    return text.splitlines(), fin, msgs


def recorder(rt: Runtime, point: str, result: Any = None) -> list[HookContext]:
    seen: list[HookContext] = []

    def hook(ctx: HookContext) -> Any:
        seen.append(ctx)
        return result(ctx) if callable(result) else result

    rt.hooks.register(point, hook)
    return seen


def hook_results(msgs: list[Any], point: str) -> list[str]:
    return [m.result for m in msgs if m.type == "hookResult" and m.point == point]


# ------------------------------------------------------------------------------------------ ResourceLimitExceeded


async def test_wall_time_limit_fires_resource_limit_and_the_run_still_times_out(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, limits={"wall_time_s": 0.3})
    seen = recorder(rt, "ResourceLimitExceeded", "cancel")  # nothing left to cancel: the timeout stands
    _, fin, msgs = await run(rt, "while true do end")
    assert fin.status == "timeout"
    assert len(seen) == 1
    d = seen[0].data
    assert d["limit"] == "wall_time_s" and d["value"] == 0.3 and d["spell"].endswith("spell.lua")
    assert d["run_id"] == fin.run_id
    assert hook_results(msgs, "ResourceLimitExceeded") == ["cancel"]  # streamed to the editor


async def test_instruction_budget_and_memory_limits_name_their_limit(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, limits={"instruction_budget": 200_000})
    seen = recorder(rt, "ResourceLimitExceeded")
    _, fin, _ = await run(rt, "local x = 0 while true do x = x + 1 end")
    assert fin.status == "limit" and [c.data["limit"] for c in seen] == ["instruction_budget"]
    assert seen[0].data["value"] == 200_000

    rt2 = make_rt(tmp_path, limits={"max_memory_mb": 16})
    seen2 = recorder(rt2, "ResourceLimitExceeded")
    _, fin2, _ = await run(rt2, "local t = {} for i = 1, 1e8 do t[i] = string.rep('x', 64) .. i end")
    assert fin2.status == "limit" and [c.data["limit"] for c in seen2] == ["max_memory_mb"]


async def test_agent_max_tool_calls_fires_resource_limit_seen_by_the_spells_own_hook(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, scripted_rules=[{"pattern": ".*", "when": "any", "tool_calls": [
        {"name": "uuid-generator", "arguments": {"operation": "generate"}}]}])
    lines, fin, _ = await run(rt, """
        local got
        Hook.register("ResourceLimitExceeded", function(ctx) got = ctx.data; return "cancel" end)
        local a = Agent.builder():name("looper"):model("offline/scripted")
            :allowed_tools({"uuid-generator"}):max_tool_calls(2):build()
        local ok, err = pcall(function() return a:execute({text = "loop"}) end)
        print(ok, tostring(err):find("max_tool_calls=2", 1, true) ~= nil)
        print(got.limit, got.value, got.agent, got.tool_calls_made)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["false\ttrue", "max_tool_calls\t2\tlooper\t2"]


async def test_agent_max_execution_time_fires_resource_limit(tmp_path: Path) -> None:
    from llmspell.agents.config import AgentConfig
    from llmspell.core.errors import ResourceLimitError
    from llmspell.core.types import AgentInput

    rt = make_rt(tmp_path, scripted_rules=[{"pattern": ".*", "reply": "late", "delay_s": 2.0}])
    seen = recorder(rt, "ResourceLimitExceeded")
    a = rt.agents.create(AgentConfig(name="slow", model="offline/scripted", max_execution_time_secs=0.2))
    with pytest.raises(ResourceLimitError, match="max_execution_time"):
        await a.execute(AgentInput(text="hi"))
    assert [c.data["limit"] for c in seen] == ["max_execution_time_secs"]
    assert seen[0].data["value"] == 0.2 and seen[0].data["agent"] == "slow"
    assert seen[0].component_id.type == "Agent"


async def test_response_size_cap_fires_resource_limit(tmp_path: Path) -> None:
    server = await FakeHttpServer().start()
    try:
        server.text("/big", "x" * 5000)
        rt = make_rt(tmp_path, security={"allow_private_network": True, "max_response_bytes": 1000})
        seen = recorder(rt, "ResourceLimitExceeded")
        with pytest.raises(SecurityViolationError, match="max_response_bytes"):
            await rt.tools.execute("http-requester", {"input": server.url("/big")})
        await rt.hooks.drain()
        assert [c.data["limit"] for c in seen] == ["max_response_bytes"]
        assert seen[0].data["value"] == 1000 and seen[0].data["url"] == server.url("/big")
    finally:
        await server.stop()


# ------------------------------------------------------------------------------------------ performance


async def test_slow_agent_and_workflow_step_fire_performance_threshold(tmp_path: Path) -> None:
    # a wide gap between slow (0.5 s) and quick (~ms) operations keeps this stable on a loaded machine
    rt = make_rt(tmp_path, limits={"slow_operation_ms": 250},
                 scripted_rules=[{"pattern": "slow", "reply": "done", "delay_s": 0.5}])
    seen = recorder(rt, "PerformanceThresholdExceeded")
    _, fin, _ = await run(rt, """
        local a = Agent.builder():name("snail"):model("offline/scripted"):build()
        print(a:execute({text = "slow please"}).text)
        print(a:execute({text = "fast"}).text ~= nil)
        local wf = Workflow.builder():name("w"):sequential()
            :add_step({name = "spin", type = "function", fn = function()
                local t = os.clock() while os.clock() - t < 0.5 do end return 1 end})
            :add_step({name = "quick", type = "function", fn = function() return 2 end})
            :build()
        print(wf:execute({}).success)
    """)
    assert fin.status == "success", fin.error
    got = [(c.data["operation"], c.data["component"]) for c in seen]
    assert got == [("agent.execute", "Agent:snail"), ("workflow.step", "Workflow:w")]
    assert seen[1].data["step_name"] == "spin" and seen[1].data["threshold_ms"] == 250
    assert all(c.data["duration_ms"] > 250 for c in seen)


async def test_slow_tool_fires_performance_threshold(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, limits={"slow_operation_ms": 1})
    seen = recorder(rt, "PerformanceThresholdExceeded")
    _, fin, _ = await run(rt, """
        Tool.register("sleepy", function()
            local t = os.clock() while os.clock() - t < 0.02 do end
            return "ok"
        end)
        print(Tool.execute("sleepy", {}).text)
    """)
    assert fin.status == "success", fin.error
    assert [c.data["tool"] for c in seen if c.data["operation"] == "tool.execute"] == ["sleepy"]


# ------------------------------------------------------------------------------------------ memory / cpu monitor


async def test_memory_usage_high_watchdog_written_in_the_spell_stops_it(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, limits={"max_memory_mb": 48, "monitor_interval_ms": 20})
    _, fin, msgs = await run(rt, """
        Hook.register("MemoryUsageHigh", function(ctx)
            State.save("watch", "pct", ctx.data.percent)
            return {type = "cancel", reason = "heap above " .. ctx.data.threshold_percent .. "%"}
        end)
        local t = {}
        for i = 1, 1e7 do
            t[i] = string.rep("y", 32) .. i
            if i % 2000 == 0 then State.load("watch", "pct") end  -- a runtime call lets the hook run
        end
        print("never")
    """)
    assert fin.status == "limit", fin
    assert fin.error.message == "the spell was stopped by a MemoryUsageHigh hook: heap above 80.0%"
    assert rt.state.get_sync("watch", "pct") >= 80
    assert hook_results(msgs, "MemoryUsageHigh") == ["cancel"]


async def test_cpu_usage_high_fires_once_per_crossing_and_cancel_stops_the_spell(tmp_path: Path) -> None:
    # a low threshold and long windows keep a spinning thread above it even on a loaded machine
    rt = make_rt(tmp_path, limits={"wall_time_s": 1.0, "monitor_interval_ms": 150, "cpu_high_pct": 10})
    seen = recorder(rt, "CpuUsageHigh")
    _, fin, _ = await run(rt, "while true do end")
    assert fin.status == "timeout"
    # busy the whole time: one crossing, one notification, not one per window (~6); a scheduler
    # stall on a loaded machine may re-arm it once
    assert 1 <= len(seen) <= 2
    assert seen[0].data["cpu_percent"] >= 10 and seen[0].data["threshold_percent"] == 10

    rt2 = make_rt(tmp_path, limits={"wall_time_s": 10, "monitor_interval_ms": 50, "cpu_high_pct": 20})
    rt2.hooks.register("CpuUsageHigh", lambda ctx: "runaway loop")
    _, fin2, _ = await run(rt2, "while true do end")
    assert fin2.status == "limit" and fin2.duration_ms < 5000
    assert fin2.error.message == "the spell was stopped by a CpuUsageHigh hook: runaway loop"


async def test_idle_spell_does_not_fire_cpu_or_memory_hooks(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, limits={"monitor_interval_ms": 20},
                 scripted_rules=[{"pattern": ".*", "reply": "ok", "delay_s": 0.15}])
    cpu = recorder(rt, "CpuUsageHigh")
    mem = recorder(rt, "MemoryUsageHigh")
    _, fin, _ = await run(rt, """
        local a = Agent.builder():name("w"):model("offline/scripted"):build()
        a:execute({text = "wait for me"})
    """)
    assert fin.status == "success" and cpu == [] and mem == []


# ------------------------------------------------------------------------------------------ sessions


async def test_a_run_is_a_session_start_and_end(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    starts = recorder(rt, "SessionStart")
    ends = recorder(rt, "SessionEnd")
    lines, fin, msgs = await run(rt, "print(Session.get_current()) error('boom')")
    sid = f"session_{fin.run_id}"
    assert lines == [sid] and fin.status == "error"
    assert starts[0].data["run_id"] == fin.run_id and starts[0].data["language"] == "lua"
    assert starts[0].data["file"].endswith("spell.lua") and starts[0].data["session_id"] == sid
    assert ends[0].data["session_id"] == sid and ends[0].data["status"] == "error"
    assert rt.sessions.require(sid).status == "error"
    assert hook_results(msgs, "SessionStart") == ["continue"] and hook_results(msgs, "SessionEnd") == ["continue"]


async def test_session_start_cancel_refuses_the_run(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    rt.hooks.register("SessionStart", lambda ctx: "outside office hours")
    lines, fin, _ = await run(rt, "print('ran')")
    assert lines == [] and fin.status == "error"
    assert "outside office hours" in fin.error.message


async def test_session_create_save_load_across_runtimes(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, state="sqlite")
    saves = recorder(rt, "SessionSave")
    lines, fin, _ = await run(rt, """
        local id = Session.create({name = "research", tags = {"a", "b"}})
        State.save("session:" .. id, "topic", "bees")
        State.save("session:" .. id, "notes", {1, 2})
        Session.save(id)
        local s = Session.get(id)
        print(s.name, s.status, s.parent_session_id == Session.get_current(), #Session.list({tags = {"b"}}))
        Session.complete(id)
        print(Session.get(id).status)
        State.save("global", "sid", id)
        local ok, err = pcall(Session.get, "nope")
        print(ok, tostring(err):find("Invalid session ID", 1, true) ~= nil)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["research\tactive\ttrue\t1", "completed", "false\ttrue"]
    assert saves[0].data["state"] == {"topic": "bees", "notes": [1, 2]}
    await rt.shutdown()

    rt2 = make_rt(tmp_path, state="sqlite")
    restores = recorder(rt2, "SessionRestore", lambda ctx: {"type": "modified", "data": {
        **ctx.data, "state": {**ctx.data["state"], "restored": True}}})
    lines, fin, _ = await run(rt2, """
        local id = State.load("global", "sid")
        State.delete("session:" .. id, "topic")
        print(Session.load(id) == id, Session.get(id).name)
        print(State.load("session:" .. id, "topic"), State.load("session:" .. id, "restored"))
    """)
    assert fin.status == "success", fin.error
    assert lines == ["true\tresearch", "bees\ttrue"]
    assert restores[0].data["session"]["tags"] == ["a", "b"]
    await rt2.shutdown()


async def test_session_save_cancel_and_modified(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    rt.hooks.register("SessionSave", lambda ctx: ("no secrets" if "secret" in ctx.data["state"] else {
        "type": "modified", "data": {"state": {"only": "this"}}}))
    lines, fin, _ = await run(rt, """
        local id = Session.create()
        State.save(Session.state_scope(id), "secret", "x")
        print(pcall(Session.save, id))
        State.delete(Session.state_scope(id), "secret")
        State.save(Session.state_scope(id), "k", 1)
        print(Session.save(id).state.only)
    """)
    assert fin.status == "success", fin.error
    assert lines[0].startswith("false\t") and "no secrets" in lines[0]
    assert lines[1] == "this"


async def test_workflow_checkpoint_fires_session_checkpoint(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    seen = recorder(rt, "SessionCheckpoint")
    lines, fin, _ = await run(rt, """
        local wf
        wf = Workflow.builder():name("cp"):sequential()
            :add_step({name = "one", type = "function", fn = function() return wf:pause() end})
            :add_step({name = "two", type = "function", fn = function() return 2 end})
            :build()
        local r = wf:execute({})
        print(r.status, Session.get(Session.get_current()).checkpoints[1] == r.checkpoint_id)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["paused\ttrue"]
    assert len(seen) == 1 and seen[0].data["session_id"] == f"session_{fin.run_id}"
    assert seen[0].data["checkpoint_id"].startswith("checkpoint_")


# ------------------------------------------------------------------------------------------ StateConflict


CAS_WRITER = """
local me, other, rounds = ARGS[1], ARGS[2], 25
local conflicts = 0
for i = 1, rounds do
    while true do
        local v = State.load("shared", "counter")
        if i == 1 then
            -- make the first round collide for sure: both read, then both try to write
            State.save("sync", me, true)
            while not State.load("sync", other) do end
        end
        if State.compare_and_swap("shared", "counter", v, (v or 0) + 1) then break end
        conflicts = conflicts + 1
    end
end
State.save("conflicts", me, conflicts)
"""


async def test_two_concurrent_writers_with_compare_and_swap_lose_nothing(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    conflicts = recorder(rt, "StateConflict")
    runner = SpellRunner(runtime=rt)
    p = rt.workspace / "writer.lua"
    p.write_text(CAS_WRITER, encoding="utf-8")
    (_, fa, _), (_, fb, _) = await asyncio.gather(collect_run(runner, p, args=["a", "b"]),
                                                  collect_run(runner, p, args=["b", "a"]))
    assert fa.status == "success" and fb.status == "success", (fa.error, fb.error)
    assert rt.state.get_sync("shared", "counter") == 50  # no lost update
    n = rt.state.get_sync("conflicts", "a") + rt.state.get_sync("conflicts", "b")
    assert n >= 1 and len(conflicts) == n
    c = conflicts[0].data
    assert c["scope"] == "shared" and c["key"] == "counter" and c["actual"] != c["expected"]
    assert c["new"] == (c["expected"] or 0) + 1


async def test_state_conflict_hook_merges_or_cancels(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    lines, fin, _ = await run(rt, """
        Hook.register("StateConflict", function(ctx)
            if ctx.data.key == "locked" then return {type = "cancel", reason = "locked by policy"} end
            local merged = {}
            for _, x in ipairs(ctx.data.actual) do merged[#merged + 1] = x end
            for _, x in ipairs(ctx.data.new) do merged[#merged + 1] = x end
            return {type = "modified", data = {value = merged}}
        end)
        State.save("s", "tags", {"from_b"})
        print(State.compare_and_swap("s", "tags", {}, {"from_a"}))
        print(table.concat(State.load("s", "tags"), ","))
        State.save("s", "locked", 1)
        local ok, err = pcall(State.compare_and_swap, "s", "locked", 2, 3)
        print(ok, tostring(err):find("locked by policy", 1, true) ~= nil, State.load("s", "locked"))
        print(State.compare_and_swap("s", "fresh", nil, true), State.compare_and_swap("s", "fresh", false, 1))
    """)
    assert fin.status == "success", fin.error
    assert lines == ["true", "from_b,from_a", "false\ttrue\t1", "true\tfalse"]


async def test_compare_and_swap_is_atomic_on_sqlite(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, state="sqlite")
    results = await asyncio.gather(*[rt.state.compare_and_swap("s", "k", None, i) for i in range(20)])
    assert results.count(True) == 1
    assert rt.state.get_sync("s", "k") == results.index(True)
    rt.state.close()


# ------------------------------------------------------------------------------------------ StateMigration


async def test_state_migrate_with_script_hook_and_python_migration(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    rt.state.register_migration(2, lambda scope, key, v: {**v, "v": 2} if isinstance(v, dict) else v,
                                scopes=["users"])
    lines, fin, msgs = await run(rt, """
        State.save("users", "ann", {name = "Ann"})
        State.save("users", "bob", {name = "Bob"})
        State.save("other", "n", 5)
        local st = State.get_migration_status()
        print(st.current_version, st.migration_available, st.latest_version)
        Hook.register("StateMigration", function(ctx)
            if ctx.data.scope == "users" then
                local v = ctx.data.value
                v.name = string.upper(v.name)
                return {type = "modified", data = {value = v}}
            end
            return "skip"
        end)
        local r = State.migrate(2)
        print(r.success, r.status, r.from_version, r.to_version, r.items_migrated, type(r.duration_ms))
        local ann = State.load("users", "ann")
        print(ann.name, ann.v, State.load("other", "n"), State.get_migration_status().current_version)
        local down = State.migrate(1)
        print(down.success, down.error)
        print(table.concat(State.get_schema_versions(), ","))
    """)
    assert fin.status == "success", fin.error
    assert lines == ["1\ttrue\t2", "true\tcompleted\t1\t2\t2\tnumber", "ANN\t2\t5\t2",
                     "false\tcannot migrate down from version 2 to 1", "1,2"]
    assert hook_results(msgs, "StateMigration").count("modified") == 2
    assert rt.state.schema_version() == 2


async def test_state_migration_cancel_writes_nothing(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, state="sqlite")
    await rt.state.set("a", "x", 1)
    await rt.state.set("a", "y", 2)
    rt.hooks.register("StateMigration", lambda ctx: "unsafe" if ctx.data["key"] == "y" else
                      HookResult(kind="modified", data={"value": 100}))
    r = await rt.state.migrate(3)
    assert r["success"] is False and r["status"] == "cancelled" and "unsafe" in r["error"]
    assert rt.state.get_sync("a", "x") == 1 and rt.state.schema_version() == 1
    rt.hooks.clear()
    seen = recorder(rt, "StateMigration")
    r = await rt.state.migrate(3)
    assert r["success"] and r["items_migrated"] == 0 and rt.state.schema_version() == 3
    assert [(c.data["from_version"], c.data["to_version"]) for c in seen] == [(1, 2), (1, 2), (2, 3), (2, 3)]
    rt.state.close()


# ------------------------------------------------------------------------------------------ WorkflowRollback


async def test_rollback_strategy_restores_start_fires_hook_and_fails(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    seen = recorder(rt, "WorkflowRollback")
    lines, fin, msgs = await run(rt, """
        local wf
        wf = Workflow.builder():name("rb"):sequential():error_strategy("rollback")
            :add_step({name = "one", type = "function", fn = function()
                wf:set_shared_data("stage", "one done"); return 1 end})
            :add_step({name = "boom", type = "function", fn = function() error("disk full") end})
            :build()
        wf:set_shared_data("stage", "initial")
        local ok, err = pcall(function() return wf:execute({}) end)
        print(ok, tostring(err):find("rolled back to start", 1, true) ~= nil)
        print(wf:get_shared_data("stage"), wf:get_output("one") == nil)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["false\ttrue", "initial\ttrue"]
    d = seen[0].data
    assert d["failed_step"] == "boom" and d["restored_to"] == "start" and "disk full" in d["error"]
    assert d["shared_data"] == {"stage": "initial"}
    assert any(m.type == "event" and m.event_type == "workflow.rolled_back" for m in msgs)


async def test_rollback_to_last_checkpoint_and_replace_result(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    lines, fin, _ = await run(rt, """
        Hook.register("WorkflowRollback", function(ctx)
            return {type = "replace", data = {text = "recovered from " .. ctx.data.failed_step,
                                              restored = ctx.data.restored_to, stage = ctx.data.shared_data.stage}}
        end)
        local wf
        wf = Workflow.sequential({name = "rb2", error_strategy = "rollback", steps = {
            {name = "a", type = "function", fn = function() wf:set_shared_data("stage", "a"); wf:pause(); return 1 end},
            {name = "b", type = "function", fn = function() wf:set_shared_data("stage", "b"); return 2 end},
            {name = "c", type = "function", fn = function() error("bad input") end},
        }})
        local p = wf:execute({})
        local r = wf:resume(p.checkpoint_id)
        print(r.text, r.restored == p.checkpoint_id, r.stage, wf:get_shared_data("stage"))
    """)
    assert fin.status == "success", fin.error
    assert lines == ["recovered from c\ttrue\ta\ta"]


# ------------------------------------------------------------------------------------------ ConfigurationChange


async def test_update_config_fires_configuration_change_and_applies(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    seen = recorder(rt, "ConfigurationChange")
    events: list[Any] = []
    rt.events.subscribe("config.changed", events.append)
    new = await rt.update_config({"limits": {"wall_time_s": 0.3}, "security": {"process_allow": ["echo"]},
                                  "default_model": "offline/other"})
    assert new.limits.wall_time_s == 0.3 and rt.config.default_model == "offline/other"
    assert rt.policy.process_allow == ["echo"]  # the policy was rebuilt
    with pytest.raises(SecurityViolationError) as info:  # and still reports refusals through hooks/events
        rt.policy.check_path("/etc/passwd")
    assert "passwd" in str(info.value)
    assert seen[0].data["changes"]["limits"] == {"wall_time_s": 0.3}
    assert seen[0].data["current"]["limits"]["wall_time_s"] == 300.0
    await asyncio.sleep(0)
    assert len(events) == 1
    _, fin, _ = await run(rt, "while true do end")  # the next run sees the new limit
    assert fin.status == "timeout"


async def test_configuration_change_cancel_modified_and_invalid(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)

    def guard(ctx: HookContext) -> Any:
        ch = ctx.data["changes"]
        if "security" in ch:
            return "security settings are managed centrally"
        if ch.get("limits", {}).get("wall_time_s", 0) > 60:
            return {"type": "modified", "data": {"changes": {"limits": {"wall_time_s": 60}}}}
        return None

    rt.hooks.register("ConfigurationChange", guard)
    with pytest.raises(ConfigurationError, match="security settings are managed centrally"):
        await rt.update_config({"security": {"allow_private_network": True}})
    assert rt.config.security.allow_private_network is False
    await rt.update_config({"limits": {"wall_time_s": 1000}})
    assert rt.config.limits.wall_time_s == 60
    with pytest.raises(ConfigurationError, match="wall_time_s"):
        await rt.update_config({"limits": {"wall_time_s": "soon"}})
    with pytest.raises(ConfigurationError, match="state cannot change"):
        await rt.update_config({"state": {"backend": "sqlite"}})
    assert rt.config.limits.wall_time_s == 60


# ------------------------------------------------------------------------------------------ Custom points


async def test_custom_points_fired_from_lua_and_js(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    rt.hooks.register("Custom:review", lambda ctx: HookResult(kind="modified", data={
        "text": ctx.data["text"] + " (reviewed)"}), priority="high")
    lines, fin, msgs = await run(rt, """
        Hook.register("Custom:review", function(ctx)
            if ctx.data.text:find("TODO") then return {type = "cancel", reason = "has TODO"} end
        end)
        local r = Hook.fire("Custom:review", {text = "draft"})
        print(r.type, r.data.text)
        local r2 = Hook.fire("Custom:review", {text = "TODO"})
        print(r2.type, r2.reason)
        print(Hook.fire("Custom:nobody", 5).data.value)
        print(pcall(Hook.fire, "BeforeToolExecution", {}))
    """)
    assert fin.status == "success", fin.error
    assert lines[:3] == ["modified\tdraft (reviewed)", "cancel\thas TODO", "5"]
    assert lines[3].startswith("false\t") and "only custom points" in lines[3]
    assert hook_results(msgs, "Custom:review")[:2] == ["modified", "continue"]

    js_lines, fin, _ = await run(rt, """
        Hook.register("Custom:js", (ctx) => ({type: "replace", data: {n: ctx.data.n * 2}}));
        const r = await Hook.fire("Custom:js", {n: 21});
        console.log(r.type, r.data.n);
    """, name="spell.js")
    assert fin.status == "success", fin.error
    assert js_lines == ["replace 42"]


async def test_hook_cancelled_errors_name_the_point(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    rt.hooks.register("SessionStart", lambda ctx: "no")
    with pytest.raises(HookCancelledError, match="SessionStart"):
        await rt.sessions.start(name="x")


async def test_compare_and_swap_goes_through_state_write_hooks(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    after = recorder(rt, "AfterStateWrite")
    rt.hooks.register("BeforeStateWrite", lambda ctx: "read-only scope" if ctx.data["scope"] == "ro" else
                      HookResult(kind="modified", data={**ctx.data, "value": str(ctx.data["value"]).strip()}))
    assert await rt.state.compare_and_swap("s", "name", None, "  Ann  ") is True
    assert rt.state.get_sync("s", "name") == "Ann"
    assert [c.data["value"] for c in after] == ["Ann"]
    with pytest.raises(HookCancelledError, match="read-only scope"):
        await rt.state.compare_and_swap("ro", "k", None, 1)
    assert rt.state.get_sync("ro", "k") is None


async def test_cpu_watch_is_per_spell_an_idle_neighbour_is_not_reported(tmp_path: Path) -> None:
    rt = make_rt(tmp_path, limits={"monitor_interval_ms": 30, "cpu_high_pct": 30, "wall_time_s": 10},
                 scripted_rules=[{"pattern": ".*", "reply": "ok", "delay_s": 0.4}])
    seen = recorder(rt, "CpuUsageHigh", lambda ctx: "stop" if ctx.data["spell"].endswith("busy.lua") else None)
    runner = SpellRunner(runtime=rt)
    busy = rt.workspace / "busy.lua"
    busy.write_text("while true do end", encoding="utf-8")
    idle = rt.workspace / "idle.lua"
    idle.write_text('Agent.builder():name("i"):model("offline/scripted"):build():execute({text = "x"})',
                    encoding="utf-8")
    (_, fb, _), (_, fi, _) = await asyncio.gather(collect_run(runner, busy), collect_run(runner, idle))
    assert fb.status == "limit" and fi.status == "success", (fb, fi)
    assert {c.data["spell"].rsplit("/", 1)[-1] for c in seen} == {"busy.lua"}


async def test_run_sessions_are_bounded_in_memory(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    rt.sessions.keep_ended = 3
    ids = []
    for _ in range(5):
        lines, _, _ = await run(rt, "print(Session.get_current())")
        ids.append(lines[0])
    kept = [r.id for r in rt.sessions.list()]
    assert kept == ids[-3:]


async def test_rollback_modified_with_a_plain_value_wraps_it(tmp_path: Path) -> None:
    rt = make_rt(tmp_path)
    rt.hooks.register("WorkflowRollback", lambda ctx: HookResult(kind="modified", data="fallback answer"))
    lines, fin, _ = await run(rt, """
        local wf = Workflow.builder():name("rb3"):sequential():error_strategy("rollback")
            :add_step({name = "x", type = "function", fn = function() error("nope") end}):build()
        local r = wf:execute({})
        print(r.status, r.success, r.output, r.rollback.failed_step, r.rollback.restored_to)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["rolled_back\tfalse\tfallback answer\tx\tstart"]
