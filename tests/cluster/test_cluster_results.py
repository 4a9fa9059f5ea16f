"""Workflows on a 2-worker Dask cluster give the results of the in-process run, and say where they ran.

Every test runs the same spell twice through the real runner: without a cluster (in-process, as
before) and with ``[cluster] address`` pointing at this module's shared LocalCluster. Results are
compared as the spell returns them; step events of the cluster run must name a worker of the cluster.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Run, Shared, run_spell

pytestmark = pytest.mark.slow

LUA_MAP = """
local factor = 3
local cfg = {offset = 10, names = {"a", "b", "c", "d", "e", "f"}}
local wf = Workflow.builder()
  :name("squares")
  :map_reduce()
  :map_step({
    name = "square",
    type = "function",
    fn = function(item, ctx)
      local n = 0
      for i = 1, 20000 do n = n + i % 7 end
      print("mapped " .. cfg.names[item])
      return {value = item * item * factor + cfg.offset, name = cfg.names[item], index = ctx.map.index}
    end,
  })
  :reduce_step({name = "total", type = "function", fn = function(results)
      local sum = 0
      for _, r in ipairs(results) do sum = sum + r.value end
      return sum
    end})
  :build()
local r = wf:execute({items = {1, 2, 3, 4, 5, 6}})
return {total = r.outputs.total, mapped = r.outputs.square, ok = r.success}
"""


def _step_events(run: Run, prefix: str) -> list[dict[str, object]]:
    return [m.data for m in run.messages if m.type == "event" and m.event_type.startswith("workflow.step.")
            and str(m.data.get("step_name", "")).startswith(prefix)]


async def test_lua_map_with_upvalues_equals_in_process(tmp_path: Path, shared_cluster: Shared) -> None:
    local = await run_spell(tmp_path / "a", LUA_MAP, cluster=None)
    remote = await run_spell(tmp_path / "b", LUA_MAP, cluster=shared_cluster.address)
    assert local.fin.status == "success", local.fin.error
    assert remote.fin.status == "success", remote.fin.error
    assert remote.fin.result == local.fin.result
    assert local.fin.result["total"] == sum(i * i * 3 + 10 for i in range(1, 7))
    # printed output of worker-side functions reaches the run's stream (in whatever order items ran)
    assert sorted(remote.out.splitlines()) == sorted(local.out.splitlines())
    assert len(remote.out.splitlines()) == 6
    # every map step event names the worker that ran it; both workers took part
    events = _step_events(remote, "square[")
    assert {e["step_name"] for e in events} == {f"square[{i}]" for i in range(1, 7)}
    workers = set(shared_cluster.worker_pids())
    assert all(e.get("worker") in workers for e in events), events
    kinds = sorted({str(m.event_type) for m in remote.messages if m.type == "event"
                    and str(m.data.get("step_name", "")).startswith("square[")})
    assert kinds == ["workflow.step.completed", "workflow.step.started"]
    # the reduce step ran in the run's own process: no worker
    total = [e for e in _step_events(remote, "total")]
    assert total and all("worker" not in e for e in total)
    # and the in-process run has no worker anywhere
    assert all("worker" not in e for e in _step_events(local, "square["))


TOOL_MAP = """
local wf = Workflow.builder()
  :name("calc")
  :map_reduce()
  :items({"1 + 1", "2 * 21", "sqrt(16)", "10 / 4"})
  :map_step({name = "calc", type = "tool", tool = "calculator", input = {input = "{{item}}"}})
  :build()
local r = wf:execute({})
local out = {}
for i, v in ipairs(r.outputs.calc) do out[i] = v.result end
return {results = out, ok = r.success}
"""


async def test_tool_map_equals_in_process(tmp_path: Path, shared_cluster: Shared) -> None:
    local = await run_spell(tmp_path / "a", TOOL_MAP, cluster=None)
    remote = await run_spell(tmp_path / "b", TOOL_MAP, cluster=shared_cluster.address)
    assert local.fin.status == "success", local.fin.error
    assert remote.fin.status == "success", remote.fin.error
    assert remote.fin.result == local.fin.result
    assert local.fin.result["ok"] is True and len(local.fin.result["results"]) == 4
    # the tool ran on a worker: its own events came back with the worker's address
    tool_events = [m for m in remote.messages if m.type == "event" and m.event_type.startswith("tool.")]
    assert tool_events and all(m.data.get("worker") in shared_cluster.worker_pids() for m in tool_events)


PARALLEL = """
local label = "P"
local wf = Workflow.builder()
  :name("fan-out")
  :parallel()
  :add_step({name = "hash", type = "tool", tool = "hash-calculator",
             input = {operation = "hash", algorithm = "sha256", input = "{{input.text}}"}})
  :add_step({name = "encode", type = "tool", tool = "base64-encoder",
             input = {operation = "encode", input = "{{input.text}}"}})
  :add_step({name = "shout", type = "function", fn = function(input)
      return label .. ":" .. string.upper(input.text or "")
    end})
  :build()
local r = wf:execute({text = "parallel spells"})
local o = r.outputs
return {outputs = {hash = o.hash.result, encode = o.encode.result, shout = o.shout}, ok = r.success,
        steps = #r.steps}
"""


async def test_parallel_branches_equal_in_process(tmp_path: Path, shared_cluster: Shared) -> None:
    local = await run_spell(tmp_path / "a", PARALLEL, cluster=None)
    remote = await run_spell(tmp_path / "b", PARALLEL, cluster=shared_cluster.address)
    assert local.fin.status == "success", local.fin.error
    assert remote.fin.status == "success", remote.fin.error
    assert json.dumps(remote.fin.result, sort_keys=True) == json.dumps(local.fin.result, sort_keys=True)
    assert local.fin.result["outputs"]["shout"] == "P:PARALLEL SPELLS"
    for name in ("hash", "encode", "shout"):
        evs = _step_events(remote, name)
        assert evs and all(e.get("worker") in shared_cluster.worker_pids() for e in evs), (name, evs)


ERROR_AT_ITEM = """
local wf = Workflow.builder()
  :name("picky")
  :map_reduce()
  :items({10, 20, 30, 40})
  :map_step({name = "check", type = "function", fn = function(item)
      if item == 30 then
        error("thirty is not allowed")
      end
      return item
    end})
  :build()
wf:execute({})
"""


async def test_error_names_item_and_step(tmp_path: Path, shared_cluster: Shared) -> None:
    local = await run_spell(tmp_path / "a", ERROR_AT_ITEM, cluster=None)
    remote = await run_spell(tmp_path / "b", ERROR_AT_ITEM, cluster=shared_cluster.address)
    assert remote.fin.status == "error"
    msg = remote.fin.error.message
    assert "item 3 of map step 'check'" in msg, msg
    # the spell's own file and line, as the in-process run reports them
    assert msg.endswith("b/spell.lua:8: thirty is not allowed"), msg
    assert local.fin.error.message.endswith("a/spell.lua:8: thirty is not allowed"), local.fin.error.message
    assert "check[3]" in local.fin.error.message and "check[3]" in msg
    failed = [m.data for m in remote.messages if m.type == "event" and m.event_type == "workflow.step.failed"]
    assert failed and failed[0]["step_name"] == "check[3]" and failed[0].get("worker") in shared_cluster.worker_pids()


FN_UPVALUE = """
local function helper(x) return x + 1 end
local wf = Workflow.builder():name("w"):map_reduce():items({1, 2})
  :map_step({name = "inc", type = "function", fn = function(item) return helper(item) end})
  :build()
wf:execute({})
"""

HANDLE_UPVALUE = """
local tool = Tool.get("calculator")
local wf = Workflow.builder():name("w"):map_reduce():items({1, 2})
  :map_step({name = "calc", type = "function", fn = function(item) return tool ~= nil end})
  :build()
wf:execute({})
"""


@pytest.mark.parametrize(("src", "step", "local", "what"), [
    (FN_UPVALUE, "inc", "helper", "a function"),
    (HANDLE_UPVALUE, "calc", "tool", "a runtime handle"),
])
async def test_upvalue_that_is_not_plain_data_is_refused(tmp_path: Path, shared_cluster: Shared, src: str,
                                                         step: str, local: str, what: str) -> None:
    remote = await run_spell(tmp_path, src, cluster=shared_cluster.address)
    assert remote.fin.status == "error"
    msg = remote.fin.error.message
    assert f"step '{step}' cannot run on the cluster" in msg, msg
    assert f"uses the local '{local}'" in msg and what in msg, msg
    assert "spell.lua:" in msg  # where the function is written


STATE_CAS = """
local wf = Workflow.builder():name("counter"):map_reduce()
  :items({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
  :map_step({name = "bump", type = "function", fn = function(item)
      State.set("cluster", "item_" .. item, item * 2)
      local tries = 0
      while true do
        local cur = State.get("cluster", "count")
        tries = tries + 1
        if State.compare_and_swap("cluster", "count", cur, (cur or 0) + 1) then break end
      end
      return tries
    end})
  :build()
local r = wf:execute({})
local keys = State.list_keys("cluster")
return {count = State.get("cluster", "count"), keys = #keys, item_7 = State.get("cluster", "item_7")}
"""


async def test_state_writes_from_two_workers_go_through_the_run(tmp_path: Path, shared_cluster: Shared) -> None:
    """Twelve items on two workers increment one counter with compare-and-swap, through the run's
    State: no increment is lost, every item's own key is there, and the spell reads them afterwards."""
    remote = await run_spell(tmp_path, STATE_CAS, cluster=shared_cluster.address)
    assert remote.fin.status == "success", remote.fin.error
    assert remote.fin.result == {"count": 12, "keys": 13, "item_7": 14}
    workers = {e.get("worker") for e in _step_events(remote, "bump[")}
    assert len(workers) == 2, workers  # both workers wrote
    changed = [m.data for m in remote.events("state.changed")]
    assert len(changed) >= 24 and {c.get("worker") for c in changed} == workers


AGENT_MAP = """
local agent = Agent.builder():name("summariser"):model("offline/scripted")
  :system_prompt("You summarise."):build()
local wf = Workflow.builder():name("ask-all"):map_reduce()
  :items({"alpha", "beta", "gamma"})
  :map_step({name = "ask", type = "agent", agent = "summariser"})
  :build()
local r = wf:execute({})
return {answers = r.outputs.ask, ok = r.success}
"""


async def test_agent_map_equals_in_process(tmp_path: Path, shared_cluster: Shared) -> None:
    """The agent is rebuilt on the workers from its configuration (no api_key) and answers the same.
    Its conversation history is per process (each worker's copy remembers only its own turns), so the
    offline reply's turn counter is left out of the comparison."""
    import re

    local = await run_spell(tmp_path / "a", AGENT_MAP, cluster=None)
    remote = await run_spell(tmp_path / "b", AGENT_MAP, cluster=shared_cluster.address)
    assert local.fin.status == "success", local.fin.error
    assert remote.fin.status == "success", remote.fin.error

    def strip(r: dict[str, object]) -> str:
        return re.sub(r" \(Turn \d+ of our conversation\.\)", "", json.dumps(r, sort_keys=True))

    assert strip(remote.fin.result) == strip(local.fin.result)
    assert len(local.fin.result["answers"]) == 3 and all("gamma" in a or "alpha" in a or "beta" in a
                                                         for a in local.fin.result["answers"])
    agent_events = [m for m in remote.messages if m.type == "event" and m.event_type.startswith("agent.")]
    assert agent_events and all(m.data.get("worker") in shared_cluster.worker_pids() for m in agent_events)


HOOKED = """
Hook.register("BeforeWorkflowStage", function(ctx)
  if ctx.data.step_type ~= "function" then return "continue" end
  local data = {}
  for k, v in pairs(ctx.data) do data[k] = v end
  data.input = ctx.data.input * 100
  return {type = "modified", data = data}
end)
local wf = Workflow.builder():name("hooked"):map_reduce():items({1, 2, 3})
  :map_step({name = "plus", type = "function", fn = function(item) return item + 1 end})
  :build()
return wf:execute({}).outputs.plus
"""


async def test_stage_hooks_apply_to_shipped_steps(tmp_path: Path, shared_cluster: Shared) -> None:
    """The spell's BeforeWorkflowStage hook runs in the run's process around each shipped item and its
    modified input is what the worker gets; its executions stream as hookResult messages."""
    local = await run_spell(tmp_path / "a", HOOKED, cluster=None)
    remote = await run_spell(tmp_path / "b", HOOKED, cluster=shared_cluster.address)
    assert local.fin.result == [101, 201, 301], local.fin.error
    assert remote.fin.status == "success", remote.fin.error
    assert remote.fin.result == local.fin.result
    hooks = [m for m in remote.messages if m.type == "hookResult" and m.point == "BeforeWorkflowStage"]
    assert len(hooks) == 3 and all(h.result == "modified" for h in hooks)
