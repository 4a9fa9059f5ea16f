"""Tool registry benchmarks: start-up, Tool.list(), and per-call overhead through the registry.

Run: ``.venv/bin/python benchmarks/bench_tools.py`` (prints medians and p95; takes ~20 s).

Compared with rs-llmspell's published figures: tool-registry start-up < 10 ms, ``Tool.list()``
< 20 ms, tool invocation overhead 2-4 ms. "Overhead" is the time of a call through
``ToolRegistry.execute`` (ToolValidation hook check, pydantic validation, permission check,
tool.started/completed events, Before/AfterToolExecution hooks) minus nothing: the tool itself is a
no-op, so the figure is the lifecycle's own cost.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from llmspell.core.types import HookResult
from llmspell.runtime import Runtime
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.registry import ToolRegistry


class NoopParams(ToolParams):
    input: str = ""


class NoopTool(BuiltinTool):
    name = "noop"
    description = "Does nothing (benchmark)"
    Params = NoopParams

    async def run(self, params: NoopParams, ctx: ToolContext) -> dict[str, Any]:
        return {"ok": True}


def stats_us(samples: list[float]) -> str:
    s = sorted(samples)
    med = statistics.median(s) * 1e6
    p95 = s[int(len(s) * 0.95) - 1] * 1e6
    return f"median {med:9.1f} µs   p95 {p95:9.1f} µs   (n={len(s)})"


def time_sync(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


async def time_async(fn: Callable[[], Awaitable[Any]], n: int, warmup: int = 200) -> list[float]:
    for _ in range(warmup):
        await fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t0)
    return out


COLD = r"""
import json, time, tempfile
from llmspell.runtime import Runtime
rt = Runtime(workspace=tempfile.mkdtemp(), state="memory")
from llmspell.tools.registry import ToolRegistry
t0 = time.perf_counter(); reg = ToolRegistry(rt); t1 = time.perf_counter()
n = len(reg.list()); t2 = time.perf_counter()
reg.list(); t3 = time.perf_counter()
print(json.dumps({"startup": t1 - t0, "first_list": t2 - t1, "warm_list": t3 - t2, "tools": n}))
"""


def cold_runs(n: int = 7) -> dict[str, list[float]]:
    acc: dict[str, list[float]] = {"startup": [], "first_list": [], "warm_list": []}
    tools = 0
    for _ in range(n):
        r = subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, check=True)
        d = json.loads(r.stdout.strip().splitlines()[-1])
        tools = d.pop("tools")
        for k, v in d.items():
            acc[k].append(v)
    print(f"  (catalogue size: {tools} tools)")
    return acc


async def per_call(rt: Runtime, label: str, n: int = 5000) -> None:
    samples = await time_async(lambda: rt.tools.execute("noop", {"input": "x"}), n)
    print(f"  {label:<58} {stats_us(samples)}")


async def lua_run(tmp: Path, n: int) -> float:
    from llmspell.runner import SpellRunner

    src = f"""
        for i = 1, {n} do Tool.execute("noop", {{input = "x"}}) end
        return 0
    """
    rt = Runtime(workspace=tmp, state="memory")
    rt.tools.register(NoopTool(rt))
    runner = SpellRunner(runtime=rt)
    t0 = time.perf_counter()
    async for m in runner.run(tmp / "bench.lua", source=src):
        if m.type == "finished" and m.status != "success":
            raise RuntimeError(m.error)
    return time.perf_counter() - t0


async def lua_calls(tmp: Path, n: int = 2000) -> float:
    """Mean per call: (run with n calls - run with none) / n, best of 3, so spell start-up cancels out."""
    base = min([await lua_run(tmp, 0) for _ in range(3)])
    full = min([await lua_run(tmp, n) for _ in range(3)])
    return (full - base) / n


async def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    print("Tool registry start-up and listing (fresh process each run; rs-llmspell: start-up < 10 ms, "
          "Tool.list < 20 ms)")
    cold = cold_runs()
    print(f"  {'ToolRegistry(runtime) in a fresh process':<58} {stats_us(cold['startup'])}")
    print(f"  {'first Tool.list() (from the manifest, no tool imported)':<58} {stats_us(cold['first_list'])}")
    print(f"  {'second Tool.list()':<58} {stats_us(cold['warm_list'])}")
    rt = Runtime(workspace=tmp, state="memory")
    print(f"  {'ToolRegistry(runtime), warm process':<58} {stats_us(time_sync(lambda: ToolRegistry(rt), 2000))}")
    print(f"  {'Tool.list(), warm':<58} {stats_us(time_sync(rt.tools.list, 2000))}")

    print("\nPer-call cost of a no-op tool through ToolRegistry.execute (rs-llmspell: 2-4 ms)")
    rt.tools.register(NoopTool(rt))
    direct_tool = rt.tools.get("noop")
    assert direct_tool is not None
    ctx = ToolContext(rt, "noop")

    async def direct() -> Any:
        return await NoopTool.call(direct_tool, NoopTool.validate_params({"input": "x"}), ctx)  # type: ignore[arg-type]

    d = await time_async(direct, 5000)
    print(f"  {'baseline: validate + run, no registry':<58} {stats_us(d)}")
    await per_call(rt, "registry, no hooks, no subscribers")
    received = []
    rt.events.subscribe("tool.*", lambda e: received.append(1))
    await per_call(rt, "registry + events (one push subscriber on tool.*)")
    rt.hooks.register("BeforeToolExecution", lambda c: None)
    rt.hooks.register("AfterToolExecution", lambda c: None)
    await per_call(rt, "registry + events + Before/After Python hooks (continue)")
    rt.hooks.register("ToolValidation", lambda c: HookResult(kind="continue"))
    await per_call(rt, "... + ToolValidation hook")
    assert received, "events were delivered"

    print("\nWorkflow step overhead (sequential workflow of 10 no-op tool steps, same hooks and events)")
    wf = rt.workflows.create({"name": "bench", "steps": [
        {"name": f"s{i}", "type": "tool", "tool": "noop", "input": {"input": "{{input.text}}"}} for i in range(10)]})
    samples = await time_async(lambda: wf.run({"text": "x"}), 300, warmup=20)
    per_step = [x / 10 for x in samples]
    print(f"  {'per step (incl. the tool call through the registry)':<58} {stats_us(per_step)}")

    print("\nFrom Lua (a spell calling Tool.execute in a loop; includes the thread hop to the loop)")
    per = await lua_calls(tmp)
    label = 'Tool.execute("noop", {...}) from Lua, mean per call'
    print(f"  {label:<58} {per * 1e6:9.1f} µs")


if __name__ == "__main__":
    asyncio.run(main())
