"""What the spell debugger costs a running spell (issue 13).

A 2M-iteration Lua loop, timed inside the spell with ``os.clock`` (CPU seconds of the loop alone, so
process start-up and the fork do not blur the ratio), run through the isolated runner — the same run
process ``--run`` and ``llmspell-ls --dap`` use:

* ``no debugger``          an ordinary run;
* ``attached, no bps``     a debugged run (the debugger agent and its Lua half loaded), no breakpoints;
* ``bp elsewhere``         a breakpoint in another function that is never called;
* ``bp in same function``  a breakpoint in the loop's own function, on a branch never taken (every
                           line of the loop then raises a line event: the fast path's cost);
* ``calls, bp elsewhere``  the loop calls a small function each iteration, breakpoint elsewhere
                           (call/return events decide per call whether line events are needed);
* ``next over heavy(N)``   time for one ``next`` over a call running the same loop.

Prints median / p95 of the loop time per mode and the ratio to ``no debugger``, plus the median wall
time of the whole run. Goal: <= 1.1x with no breakpoints set.

    .venv/bin/python benchmarks/bench_dap.py [--n 7] [--iterations 2000000]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SPELL = """\
local function never_called(x)
  return x + 1
end
local function step(x, i)
  return x + i
end
local N = tonumber(ARGS[1]) or 2000000
local CALLS = ARGS[2] == "calls"
local t0 = os.clock()
local x = 0
if CALLS then
  for i = 1, N do x = step(x, i) end
else
  for i = 1, N do
    x = x + i
    if x < 0 then
      print("never")
    end
  end
end
local dt = os.clock() - t0
print(string.format("LOOP %.6f", dt))
return x
"""
BP_ELSEWHERE = 2
BP_SAME_FUNCTION = 17


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def run_once(path: Path, debug: dict[str, Any] | None, args: list[str]) -> tuple[float, float]:
    from llmspell.config import load_config
    from llmspell.isolation import IsolatedRunner

    runner = IsolatedRunner(config=load_config(path.parent))
    loop_s = -1.0
    t0 = time.perf_counter()
    async for msg in runner.run(path, args=args, debug=debug):
        if msg.type == "output":
            m = re.search(r"LOOP ([0-9.]+)", msg.text)
            if m:
                loop_s = float(m.group(1))
        elif msg.type == "finished" and msg.status != "success":
            raise SystemExit(f"run failed: {msg.error}")
    return loop_s, time.perf_counter() - t0


STEP_SPELL = """\
local function heavy(n)
  local x = 0
  for i = 1, n do x = x + i end
  return x
end
local r = heavy(tonumber(ARGS[1]) or 2000000)
print(r)
"""


async def step_over_once(path: Path, n: str) -> float:
    """Seconds from a ``next`` over ``heavy(n)`` (breakpoint on the call) to the stop on the next line."""
    from llmspell.config import load_config
    from llmspell.isolation import IsolatedRunner

    runner = IsolatedRunner(config=load_config(path.parent))
    debug = {"breakpoints": [{"path": str(path), "breakpoints": [{"id": 1, "line": 6}]}]}
    t_next = took = -1.0
    stops = 0
    async for msg in runner.run(path, args=[n], run_id="bench", debug=debug):
        if msg.type == "debug" and msg.event == "stopped":
            stops += 1
            if stops == 1:
                t_next = time.perf_counter()
                await runner.send_debug("bench", {"id": 1, "command": "next"})
            else:
                took = time.perf_counter() - t_next
                await runner.send_debug("bench", {"id": 2, "command": "continue"})
    return took


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=7)
    ap.add_argument("--iterations", type=int, default=2_000_000)
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "loop.lua"
        path.write_text(SPELL, encoding="utf-8")

        def bps(line: int | None) -> dict[str, Any]:
            items = [] if line is None else [{"id": 1, "line": line}]
            return {"breakpoints": [{"path": str(path), "breakpoints": items}], "filters": {"error": True}}

        n = str(ns.iterations)
        modes: list[tuple[str, dict[str, Any] | None, list[str]]] = [
            ("no debugger", None, [n]),
            ("attached, no bps", bps(None), [n]),
            ("bp elsewhere", bps(BP_ELSEWHERE), [n]),
            ("bp in same function", bps(BP_SAME_FUNCTION), [n]),
            ("calls, no debugger", None, [n, "calls"]),
            ("calls, bp elsewhere", bps(BP_ELSEWHERE), [n, "calls"]),
        ]
        results: dict[str, tuple[list[float], list[float]]] = {m[0]: ([], []) for m in modes}
        for _ in range(ns.n):  # interleaved, so load changes hit every mode alike
            for name, debug, args in modes:
                loop_s, wall = asyncio.run(run_once(path, debug, args))
                results[name][0].append(loop_s)
                results[name][1].append(wall)
        step_path = Path(d) / "step.lua"
        step_path.write_text(STEP_SPELL, encoding="utf-8")
        steps = [asyncio.run(step_over_once(step_path, n)) for _ in range(ns.n)]
    print(f"bench_dap: {ns.iterations} iterations, {ns.n} runs per mode (loop CPU time inside the spell; "
          "machine shared with other jobs, so figures are noisy)")
    base = statistics.median(results["no debugger"][0])
    base_calls = statistics.median(results["calls, no debugger"][0])
    print(f"{'mode':<22} {'median s':>9} {'p95 s':>9} {'ratio':>7} {'run wall s':>11}")
    for name, _, _ in modes:
        loops, walls = results[name]
        ref = base_calls if name.startswith("calls") else base
        med = statistics.median(loops)
        print(f"{name:<22} {med:9.4f} {pct(loops, 95):9.4f} {med / ref:6.2f}x {statistics.median(walls):11.3f}")
    print(f"{'next over heavy(N)':<22} {statistics.median(steps):9.4f} {pct(steps, 95):9.4f}   (from the "
          "next request to the stop on the following line; line events are off inside the call)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
