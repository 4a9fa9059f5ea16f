"""Failures on the cluster: a worker killed under a task, cancel, and what the spell is told.

The worker kill is real (SIGKILL to the worker process, whose nanny starts a new one); the shared
cluster runs with ``allowed-failures = 0`` as ``local:N`` clusters do, so the step's own retry policy
decides whether the item runs again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Shared, run_spell

pytestmark = pytest.mark.slow

SLOW_ITEM = """
local wf = Workflow.builder()
  :name("slow-map")
  :map_reduce()
  :items({1, 2, 3, 4})
  :map_step({name = "slow", type = "function", retry_count = RETRIES, fn = function(item)
      if item == 3 then
        local t0 = os.clock()
        while os.clock() - t0 < 2 do end
      end
      return item * 10
    end})
  :build()
wf:retry_backoff_ms(50)
local r = wf:execute({})
return r.outputs.slow
"""


class Killer:
    """Kills the worker that starts item 3 of ``slow`` (first attempt only)."""

    def __init__(self) -> None:
        self.pids: dict[str, int] = {}
        self.killed: str | None = None

    def __call__(self, m: Any, runner: Any, run_id: str) -> None:
        if m.type != "event":
            return
        if m.event_type == "cluster.started":
            self.pids = dict(m.data["workers"])
        elif (m.event_type == "workflow.step.started" and m.data.get("step_name") == "slow[3]"
              and self.killed is None):
            self.killed = m.data["worker"]
            # half a second in: item 3 is spinning, and the worker's earlier results (item 1) have
            # reached the scheduler (a result still in flight dies with the worker, like any task)
            threading.Timer(0.5, os.kill, (self.pids[self.killed], signal.SIGKILL)).start()


async def test_worker_killed_mid_task_is_retried_on_another(tmp_path: Path, shared_cluster: Shared) -> None:
    kill = Killer()
    src = SLOW_ITEM.replace("RETRIES", "1").replace("wf:retry_backoff_ms(50)\n", "")
    run = await run_spell(tmp_path, src, cluster=shared_cluster.address, on_message=kill)
    assert kill.killed is not None, "item 3 never started"
    assert run.fin.status == "success", run.fin.error
    assert run.fin.result == [10, 20, 30, 40]
    done = [m.data for m in run.events("workflow.step.completed") if m.data.get("step_name") == "slow[3]"]
    assert len(done) == 1 and done[0]["worker"] != kill.killed  # the dead worker's address is gone
    retries = [m.data for m in run.events("recovery.retry") if "slow[3]" in m.data.get("component", "")]
    assert retries and "died" in retries[0]["error"], retries
    _wait_for_workers(shared_cluster, 2)


async def test_worker_killed_without_retries_fails_naming_item_and_step(tmp_path: Path,
                                                                        shared_cluster: Shared) -> None:
    _wait_for_workers(shared_cluster, 2)
    kill = Killer()
    src = SLOW_ITEM.replace("RETRIES", "0").replace("wf:retry_backoff_ms(50)\n", "")
    run = await run_spell(tmp_path, src, cluster=shared_cluster.address, on_message=kill)
    assert kill.killed is not None
    assert run.fin.status == "error"
    msg = run.fin.error.message
    assert "item 3 of map step 'slow'" in msg and f"the worker running it ({kill.killed}) died" in msg, msg
    _wait_for_workers(shared_cluster, 2)


LONG_MAP = """
local wf = Workflow.builder()
  :name("long-map")
  :map_reduce()
  :items({1, 2, 3, 4, 5, 6})
  :map_step({name = "spin", type = "function", fn = function(item)
      local t0 = os.clock()
      while os.clock() - t0 < 120 do end
      return item
    end})
  :build()
wf:execute({})
"""


async def test_cancel_stops_every_task(tmp_path: Path, shared_cluster: Shared) -> None:
    """Cancel while two items spin on the two workers: the run ends cancelled at once, the scheduler has
    nothing left processing, and both worker threads are free again (a new task runs on each)."""
    _wait_for_workers(shared_cluster, 2)
    started: set[str] = set()
    t_cancel: list[float] = []

    async def on(m: Any, runner: Any, run_id: str) -> None:
        if m.type == "event" and m.event_type == "workflow.step.started":
            started.add(m.data["worker"])
            if len(started) == 2 and not t_cancel:
                t_cancel.append(time.monotonic())
                await runner.cancel(run_id)

    run = await asyncio.wait_for(run_spell(tmp_path, LONG_MAP, cluster=shared_cluster.address, on_message=on), 60)
    assert t_cancel, "no two items started"
    assert run.fin.status == "cancelled", run.fin.error
    assert time.monotonic() - t_cancel[0] < 15
    client = shared_cluster.client
    deadline = time.monotonic() + 15
    while any(client.processing().values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not any(client.processing().values()), client.processing()
    for w in started:  # each worker's single thread is free: a trivial task runs there now
        assert client.submit(lambda: 7, workers=[w], pure=False).result(timeout=10) == 7


def _wait_for_workers(shared: Shared, n: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(shared.client.scheduler_info(n_workers=-1)["workers"]) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(shared.client.scheduler_info(n_workers=-1)["workers"]) >= n


STEP_TIMEOUT = """
local wf = Workflow.builder():name("bounded"):map_reduce():items({1, 2})
  :map_step({name = "spin", type = "function", timeout_ms = 1500, fn = function(item)
      local t0 = os.clock()
      while os.clock() - t0 < 120 do end
      return item
    end})
  :build()
wf:execute({})
"""


async def test_step_timeout_stops_the_worker_task(tmp_path: Path, shared_cluster: Shared) -> None:
    """A step's timeout_ms holds on the cluster: the step fails as timed out, naming the item, and the
    worker's interpreter is stopped (its thread runs the next task at once)."""
    _wait_for_workers(shared_cluster, 2)
    run = await asyncio.wait_for(run_spell(tmp_path, STEP_TIMEOUT, cluster=shared_cluster.address), 90)
    assert run.fin.status == "error"
    msg = run.fin.error.message
    assert "failed at step 'spin[" in msg and "timed out" in msg, msg
    client = shared_cluster.client
    deadline = time.monotonic() + 15
    while any(client.processing().values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not any(client.processing().values()), client.processing()
    for w in shared_cluster.worker_pids():
        assert client.submit(lambda: 7, workers=[w], pure=False).result(timeout=10) == 7
