"""Event bus publish -> delivery throughput (events/s), one push subscriber and one pull subscriber.

rs-llmspell advertises 90K events/s; the target here is 250K/s. Each round publishes N events and
measures until the subscriber has handled all of them. Prints median and p95 over the rounds, by wall
clock and by this process's CPU time (on a shared machine the CPU figure is the stable one).

    .venv/bin/python benchmarks/bench_events.py [--events 50000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from llmspell.core.types import Event
from llmspell.events.bus import EventBus

RS_LLMSPELL_EVENTS_PER_S = 90_000
TARGET_EVENTS_PER_S = 250_000


def p95_low(xs: list[float]) -> float:
    """For throughput the slow tail is the low end: the 5th percentile."""
    s = sorted(xs)
    return s[round(0.05 * (len(s) - 1))]


async def push_round(n: int) -> tuple[float, float]:
    bus = EventBus()
    count = 0
    done = asyncio.get_running_loop().create_future()

    def on_event(e: Event) -> None:
        nonlocal count
        count += 1
        if count == n:
            done.set_result(None)

    bus.subscribe("bench.*", on_event)
    publish = bus.publish
    t, c = time.perf_counter(), time.process_time()
    for i in range(n):
        await publish("bench.tick", i)
    await done
    return n / (time.perf_counter() - t), n / max(1e-9, time.process_time() - c)


async def pull_round(n: int) -> tuple[float, float]:
    bus = EventBus()
    sub = bus.subscribe("bench.*", maxsize=n + 1)

    async def consumer() -> int:
        got = 0
        receive = sub.receive
        while got < n:
            ev = await receive(5.0)
            if ev is None:
                break
            got += 1
        return got

    t, c = time.perf_counter(), time.process_time()
    task = asyncio.create_task(consumer())
    publish = bus.publish
    for i in range(n):
        await publish("bench.tick", i)
        if i % 1000 == 999:
            await asyncio.sleep(0)  # let the consumer interleave, as a real producer would
    got = await task
    assert got == n, f"pull subscriber got {got}/{n}"
    return n / (time.perf_counter() - t), n / max(1e-9, time.process_time() - c)


async def async_push_round(n: int) -> tuple[float, float]:
    bus = EventBus()
    count = 0
    done = asyncio.get_running_loop().create_future()

    async def on_event(e: Event) -> None:
        nonlocal count
        count += 1
        if count == n:
            done.set_result(None)

    bus.subscribe("bench.*", on_event, maxsize=n + 1)
    t, c = time.perf_counter(), time.process_time()
    for i in range(n):
        await bus.publish("bench.tick", i)
        if i % 1000 == 999:
            await asyncio.sleep(0)
    await done
    return n / (time.perf_counter() - t), n / max(1e-9, time.process_time() - c)


def report(name: str, xs: list[float], clock: str) -> None:
    med = statistics.median(xs)
    lo = p95_low(xs)
    print(f"{name:<24} {clock:<5} median {med:>10,.0f} ev/s   p95 {lo:>10,.0f} ev/s   "
          f"x{med / RS_LLMSPELL_EVENTS_PER_S:.2f} rs-llmspell (90K)   "
          f"{'meets' if med >= TARGET_EVENTS_PER_S else 'BELOW'} 250K target")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    for name, fn in [("push (sync callback)", push_round), ("push (async callback)", async_push_round),
                     ("pull (receive loop)", pull_round)]:
        await fn(2000)  # warm-up
        rounds = [await fn(a.events) for _ in range(a.rounds)]
        report(name, [r[0] for r in rounds], "wall")
        report(name, [r[1] for r in rounds], "cpu")


if __name__ == "__main__":
    asyncio.run(main())
