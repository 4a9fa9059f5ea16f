"""Hook dispatch overhead: ``HookRegistry.execute`` per hook point with no hooks and with one sync
Python hook, and ``around()`` (the lifecycle helper every tool/agent call goes through).

Targets: <= 5 us with no hooks, <= 20 us with one Python hook (rs-llmspell advertises < 5% overhead and
gives no per-call figure). Prints median and p95 (microseconds per call) over batches.

    .venv/bin/python benchmarks/bench_hooks.py [--calls 1000] [--batches 20] [--points all|sample]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from llmspell.core.types import HOOK_POINT_NAMES, ComponentId, HookContext
from llmspell.events.bus import EventBus
from llmspell.hooks.registry import HookRegistry

CLOCK = time.perf_counter
TARGET_NONE_US = 5.0
TARGET_ONE_US = 20.0


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[round(0.95 * (len(s) - 1))]


async def per_call_us(fn: Any, calls: int, batches: int) -> list[float]:
    out = []
    for _ in range(batches):
        t = CLOCK()
        for _ in range(calls):
            await fn()
        out.append((CLOCK() - t) / calls * 1e6)
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--points", choices=["all", "sample"], default="all")
    ap.add_argument("--cpu", action="store_true",
                    help="measure this process's CPU time instead of wall time (stable on a shared machine)")
    a = ap.parse_args()
    global CLOCK
    if a.cpu:
        CLOCK = time.process_time
    print(f"clock: {'process CPU time' if a.cpu else 'wall (perf_counter)'}")
    points = list(HOOK_POINT_NAMES) if a.points == "all" else [
        "BeforeAgentExecution", "BeforeToolExecution", "AfterToolExecution", "BeforeWorkflowStage",
        "BeforeStateWrite", "SystemStartup", "BeforeEventEmit", "CpuUsageHigh",
    ]
    reg = HookRegistry(EventBus())
    comp = ComponentId(type="Tool", name="calculator")
    medians_none: list[float] = []
    medians_one: list[float] = []
    print(f"{'point':<30} {'0 hooks med':>12} {'p95':>8} {'1 hook med':>12} {'p95':>8}   (us per execute)")
    for p in points:
        ctx = HookContext(point=p, component_id=comp, data={"x": 1})

        async def run(ctx: HookContext = ctx) -> Any:
            return await reg.execute(ctx)

        none = await per_call_us(run, a.calls, a.batches)
        h = reg.register(p, lambda c: None)
        one = await per_call_us(run, a.calls, a.batches)
        h.unregister()
        m0, m1 = statistics.median(none), statistics.median(one)
        medians_none.append(m0)
        medians_one.append(m1)
        print(f"{p:<30} {m0:>12.2f} {p95(none):>8.2f} {m1:>12.2f} {p95(one):>8.2f}")
    print(f"{'ALL POINTS (median of medians)':<30} {statistics.median(medians_none):>12.2f} {'':>8} "
          f"{statistics.median(medians_one):>12.2f}")
    print(f"target: <= {TARGET_NONE_US} us with none -> "
          f"{'meets' if max(medians_none) <= TARGET_NONE_US else 'BELOW'}; <= {TARGET_ONE_US} us with one -> "
          f"{'meets' if max(medians_one) <= TARGET_ONE_US else 'BELOW'}")

    # around(): the cost a tool call pays for the hook machinery
    async def op(d: dict[str, Any]) -> int:
        return 1

    kw: dict[str, Any] = dict(before="BeforeToolExecution", after="AfterToolExecution", error="ToolError",
                              component=comp, data={"x": 1}, operation=op, to_data=lambda o: {"result": o},
                              from_data=lambda d: d.get("result"))

    async def around() -> Any:
        return await reg.around(**kw)

    base = await per_call_us(lambda: op({}), a.calls, a.batches)
    none = await per_call_us(around, a.calls, a.batches)
    reg.register("BeforeToolExecution", lambda c: None)
    reg.register("AfterToolExecution", lambda c: None)
    two = await per_call_us(around, a.calls, a.batches)
    b = statistics.median(base)
    print(f"around(): op alone {b:.2f} us; no hooks +{statistics.median(none) - b:.2f} us "
          f"(p95 {p95(none) - b:.2f}); before+after Python hooks +{statistics.median(two) - b:.2f} us "
          f"(p95 {p95(two) - b:.2f})")


if __name__ == "__main__":
    asyncio.run(main())
