"""JavaScript engine figures: bridge call costs, cancellation latency, ``--run examples/hello.js``.

Run: ``.venv/bin/python benchmarks/bench_js.py [--quick]``. Prints medians and p95; asserts nothing.

* sync call: a trivial synchronous API method called from JS (JS -> host callable -> Dispatcher ->
  JSON back), measured in blocks inside the spell;
* awaited call: ``await`` of a trivial async API method (host starts the coroutine on the loop, the
  spell thread waits on its inbox, settles the Promise, runs the continuation);
* real API: ``Tool.exists("calculator")`` and ``await State.load(...)`` (memory state);
* cancellation latency of ``while (true) {}`` (from ``cancel()`` to the spell thread's end);
* wall time of ``llmspell-ls --run examples/hello.js`` beside ``python -c pass`` (and ``hello.lua``
  when it exists, from the same run of this script).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "runtime"))

from llmspell.api.context import SpellContext  # noqa: E402
from llmspell.api.decl import ApiGlobal, expose  # noqa: E402


class Bench(ApiGlobal):
    api_name = "Bench"

    @expose
    def nop(self, x: int = 0) -> int:
        return x

    @expose
    async def anop(self, x: int = 0) -> int:
        return x


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def line(label: str, xs: list[float], unit: str, scale: float = 1.0) -> None:
    print(f"  {label:<44} median {statistics.median(xs) * scale:9.2f} {unit}   p95 {pct(xs, 95) * scale:9.2f} {unit}"
          f"   (n={len(xs)})")


async def run_js(source: str, runtime: Any, extra_globals: dict[str, Any] | None = None) -> Any:
    import llmspell.api.globals  # noqa: F401
    from llmspell.api.decl import GLOBALS
    from llmspell.engines.js.spell import JSSpell

    g = dict(GLOBALS)
    g.update(extra_globals or {})
    ctx = SpellContext(runtime=runtime, file=Path("bench.js"), language="javascript")
    return await JSSpell(ctx, source, globals=g).run()


BLOCKS_SRC = """
const out = [];
for (let b = 0; b < %(blocks)d; b++) {
  const t0 = Date.now();
  for (let i = 0; i < %(n)d; i++) { %(call)s; }
  out.push((Date.now() - t0) / %(n)d);
}
return out;
"""


async def per_call(runtime: Any, call: str, n: int, blocks: int) -> list[float]:
    """Seconds per call for each block, minus the empty loop's cost."""
    src = BLOCKS_SRC % {"blocks": blocks, "n": n, "call": call}
    empty = BLOCKS_SRC % {"blocks": 3, "n": n, "call": "0"}
    base = statistics.median(await run_js(empty, runtime))
    ms = await run_js(src, runtime, {"Bench": Bench})
    return [max(0.0, (x - base) / 1000.0) for x in ms]


async def cancel_latency(runtime: Any, repeats: int) -> list[float]:
    import llmspell.api.globals  # noqa: F401
    from llmspell.engines.js.spell import JSSpell

    out: list[float] = []
    for _ in range(repeats):
        spell = JSSpell(SpellContext(runtime=runtime, file=Path("spin.js")), "while (true) {}", globals={})
        task = asyncio.ensure_future(spell.run())
        await asyncio.sleep(0.03)
        t0 = time.perf_counter()
        spell.cancel("bench")
        try:
            await task
        except BaseException:
            pass
        while spell.thread is not None and spell.thread.is_alive():
            await asyncio.sleep(0.0002)
        out.append(time.perf_counter() - t0)
    return out


def wall(cmd: list[str], repeats: int, cwd: Path) -> list[float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    xs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        xs.append(time.perf_counter() - t0)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {p.stderr}")
    return xs


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    opts = ap.parse_args()
    blocks, n, repeats = (8, 500, 5) if opts.quick else (20, 2000, 15)

    import tempfile

    from llmspell.runtime import Runtime

    ws = Path(tempfile.mkdtemp(prefix="bench-js-"))
    rt = Runtime(workspace=ws, state="memory")
    await rt.start()
    print("JavaScript engine (quickjs) — benchmarks/bench_js.py")
    print("bridge calls from JS (per call; empty-loop cost subtracted):")
    line("sync call  Bench.nop(1)", await per_call(rt, "Bench.nop(1)", n, blocks), "µs", 1e6)
    line("real sync  Tool.exists('calculator')", await per_call(rt, "Tool.exists('calculator')", n, blocks), "µs", 1e6)
    an = max(50, n // 10)
    line("awaited    await Bench.anop(1)", await per_call(rt, "await Bench.anop(1)", an, blocks), "µs", 1e6)
    line("real async await State.load('b', 'k')", await per_call(rt, "await State.load('b', 'k')", an, blocks),
         "µs", 1e6)
    print("cancellation:")
    line("cancel while (true) {} -> thread ended", await cancel_latency(rt, repeats * 2), "ms", 1e3)
    await rt.shutdown()

    print("command line (wall time of a whole process):")
    py = [sys.executable]
    base = wall([*py, "-c", "pass"], repeats, ws)
    line("python -c pass", base, "ms", 1e3)
    js = wall([*py, "-m", "llmspell_ls", "--run", str(ROOT / "examples" / "hello.js")], repeats, ws)
    line("llmspell-ls --run examples/hello.js", js, "ms", 1e3)
    print(f"  {'ratio hello.js / python -c pass':<44} {statistics.median(js) / statistics.median(base):9.2f} x")
    lua = ROOT / "examples" / "hello.lua"
    if lua.exists():
        lx = wall([*py, "-m", "llmspell_ls", "--run", str(lua)], repeats, ws)
        line("llmspell-ls --run examples/hello.lua (same run)", lx, "ms", 1e3)


if __name__ == "__main__":
    asyncio.run(main())
