"""Map workflows on a Dask cluster (issue 14): when does shipping items to workers pay off?

* wall time of a CPU-bound Lua map over 64 items: in-process vs ``local:2`` vs ``local:4`` (the map's
  own execution time as the workflow reports it; cluster start-up reported separately, from the
  ``cluster.started`` event — a warm-up execute starts the cluster before the measured one);
* per-task overhead: duration of an empty map step (``fn = function(x) return x end``), one item at a
  time (``max_concurrency = 1``) so each figure is one round trip, median / p95, in-process and on
  ``local:2``;
* the break-even item cost computed from those: with P = min(workers, cores, the parallelism the
  machine gives right now, measured with two CPU-bound processes) items running at once
  and o the per-task overhead, shipping pays when an item costs more than o / (P - 1); the measured
  64-item runs give the effective overhead too. Start-up is a fixed cost per run, amortised when
  n * c * (1 - 1/P) > start.

Runs go through the real isolated runner (a child process per run, as ``--run`` does). The machine
is shared (2 cores, several other jobs): figures are noisy; compare ratios, not absolutes.

    .venv/bin/python benchmarks/bench_cluster.py [--items 64] [--work 1500000] [--empty 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

CPU_MAP = """
local work = WORK
local function map_wf(name)
  return Workflow.builder():name(name):map_reduce()
    :map_step({name = "burn", type = "function", fn = function(item)
        local s = 0
        for i = 1, work do s = (s + i * item) % 1000003 end
        return s
      end})
    :build()
end
local warm = map_wf("warm"):execute({items = {1, 2}})
local r = map_wf("measured"):execute({items = ITEMS})
local sum = 0
for _, v in ipairs(r.outputs.burn) do sum = (sum + v) % 1000003 end
return {ms = r.metadata.execution_time_ms, checksum = sum, ok = r.success and warm.success}
"""

EMPTY_MAP = """
local wf = Workflow.builder():name("empty"):map_reduce():max_concurrency(1)
  :map_step({name = "noop", type = "function", fn = function(item) return item end})
  :build()
wf:execute({items = {1, 2}})  -- warm-up: starts the cluster, compiles the function on the workers
local r = wf:execute({items = ITEMS})
return r.success
"""


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def run(ws: Path, src: str, cluster: str | None) -> tuple[Any, list[Any]]:
    from llmspell.config import load_config
    from llmspell.isolation import IsolatedRunner

    (ws / "bench.lua").write_text(src, encoding="utf-8")
    over: dict[str, Any] = {"state": {"backend": "memory"}, "limits": {"wall_time_s": 1800}}
    if cluster:
        over["cluster"] = {"address": cluster}
    runner = IsolatedRunner(config=load_config(ws, overrides=over))
    msgs = [m async for m in runner.run(ws / "bench.lua")]
    fin = msgs[-1]
    if fin.status != "success":
        raise SystemExit(f"{cluster or 'in-process'}: {fin.status}: {fin.error}")
    return fin, msgs


def _burn(n: int) -> None:
    s = 0
    for i in range(n):
        s += i * i % 7


def parallel_capacity(n: int = 3_000_000) -> float:
    """How many cores this machine gives us right now: the time of one process doing two units of
    CPU work over the time of two processes doing one unit each, side by side (2.0 on two idle cores)."""
    import multiprocessing as mp
    import time

    ctx = mp.get_context("fork")
    t0 = time.perf_counter()
    _burn(2 * n)
    one = time.perf_counter() - t0
    procs = [ctx.Process(target=_burn, args=(n,)) for _ in range(2)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return one / (time.perf_counter() - t0)


def start_ms(msgs: list[Any]) -> float | None:
    for m in msgs:
        if m.type == "event" and m.event_type == "cluster.started":
            return float(m.data["start_ms"])
    return None


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--work", type=int, default=1_500_000, help="loop iterations per item (the item's cost)")
    ap.add_argument("--empty", type=int, default=60, help="items of the empty map (per-task overhead)")
    a = ap.parse_args()
    cores = os.cpu_count() or 1
    items = "{" + ", ".join(str(i % 7 + 1) for i in range(a.items)) + "}"
    cpu_src = CPU_MAP.replace("WORK", str(a.work)).replace("ITEMS", items)
    cap = parallel_capacity()
    print(f"machine: {cores} cores (shared with other jobs: figures are noisy); two CPU-bound processes "
          f"side by side ran x{cap:.2f} as fast as one (the parallelism available now)", flush=True)
    print(f"CPU-bound Lua map: {a.items} items x {a.work:,} loop iterations", flush=True)
    with tempfile.TemporaryDirectory() as d:
        ws = Path(d)
        walls: dict[str, float] = {}
        starts: dict[str, float | None] = {}
        checks = set()
        for mode in (None, "local:2", "local:4"):
            fin, msgs = await run(ws, cpu_src, mode)
            name = mode or "in-process"
            walls[name] = float(fin.result["ms"])
            starts[name] = start_ms(msgs)
            checks.add(fin.result["checksum"])
            st = f"   (cluster start {starts[name] / 1000:.2f} s, not included)" if starts[name] else ""
            print(f"  {name:<11} map wall {walls[name] / 1000:7.2f} s{st}")
        assert len(checks) == 1, f"the runs disagree: {checks}"
        base = walls["in-process"]
        for name in ("local:2", "local:4"):
            print(f"  speed-up {name}: x{base / walls[name]:.2f}")
        per_item = base / a.items
        print(f"  item cost in-process: {per_item:.1f} ms")

        empty_items = "{" + ", ".join(str(i) for i in range(a.empty)) + "}"
        empty_src = EMPTY_MAP.replace("ITEMS", empty_items)
        over: dict[str, list[float]] = {}
        for mode in (None, "local:2"):
            fin, msgs = await run(ws, empty_src, mode)
            durs = [float(m.data["duration_ms"]) for m in msgs
                    if m.type == "event" and m.event_type == "workflow.step.completed"
                    and str(m.data.get("step_name", "")).startswith("noop[")]
            durs = durs[2:]  # the warm-up's two items
            over[mode or "in-process"] = durs
        print(f"per-task overhead (empty map step, one at a time, {a.empty} items):")
        for name, durs in over.items():
            print(f"  {name:<11} median {statistics.median(durs):7.2f} ms   p95 {pct(durs, 95):7.2f} ms")
        o = statistics.median(over["local:2"]) - statistics.median(over["in-process"])
        print("break-even (P = items running at once: min(workers, cores, measured parallelism)):")
        for name, workers in (("local:2", 2), ("local:4", 4)):
            p = max(1.0, min(float(workers), cores, cap))
            if p > 1.05:
                eff = walls[name] * p / a.items - per_item  # what each item really cost beyond its work
                amort = (starts[name] or 0) / (per_item * (1 - 1 / p))
                print(f"  {name}: P = {p:.2f}: an item must cost more than {o / (p - 1):.1f} ms (median overhead) "
                      f"/ {eff / (p - 1):.1f} ms (effective overhead in the {a.items}-item run, {eff:.1f} ms/item); "
                      f"the cluster start pays off after ~{amort:.0f} items of {per_item:.0f} ms")
            else:
                print(f"  {name}: no spare core right now (measured parallelism x{cap:.2f}): shipping cannot pay "
                      "off on this machine at the moment")
        ideal = min(2, cores)
        if ideal > 1:
            eff2 = walls["local:2"] * ideal / a.items - per_item
            print(f"  on {ideal} idle cores (P = {ideal}): break-even item cost {o / (ideal - 1):.1f} ms from the "
                  f"median overhead; the start ({(starts['local:2'] or 0) / 1000:.1f} s) pays off after "
                  f"~{(starts['local:2'] or 0) / (per_item * (1 - 1 / ideal)):.0f} items of {per_item:.0f} ms "
                  f"(effective overhead measured now: {eff2:.1f} ms/item)")

if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
