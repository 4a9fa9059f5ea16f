"""``import llmspell`` cost: wall time of a fresh interpreter importing it (minus a bare interpreter),
median and p95 over runs, the top self-time modules from ``-X importtime``, and whether litellm (or
other heavy packages) got imported. Target: <= 150 ms, litellm never imported.

    .venv/bin/python benchmarks/bench_import.py [--runs 10] [--module llmspell]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

TARGET_MS = 150.0
HEAVY = ("litellm", "openai", "httpx", "aiohttp", "lupa", "quickjs", "tree_sitter", "pygls", "tiktoken")


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[round(0.95 * (len(s) - 1))]


def wall_ms(code: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return (time.perf_counter() - t) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--module", action="append", default=None,
                    help="module(s) to import (default: llmspell, plus the core runtime pieces)")
    a = ap.parse_args()
    modules = a.module or ["llmspell", "llmspell.runtime", "llmspell.events.bus", "llmspell.hooks.registry",
                           "llmspell.state.store", "llmspell.api.globals"]
    wall_ms("pass")
    bare = [wall_ms("pass") for _ in range(a.runs)]
    base = statistics.median(bare)
    print(f"bare interpreter: median {base:.1f} ms (subtracted below)")
    for mod in modules:
        xs = [wall_ms(f"import {mod}") - base for _ in range(a.runs)]
        probe = subprocess.run(
            [sys.executable, "-c",
             f"import sys, {mod}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        med = statistics.median(xs)
        verdict = "meets" if med <= TARGET_MS else "OVER"
        litellm = "litellm IMPORTED" if "litellm" in probe.split(",") else "litellm not imported"
        print(f"import {mod:<26} median {med:7.1f} ms  p95 {p95(xs):7.1f} ms  ({verdict} {TARGET_MS:.0f} ms)  "
              f"{litellm}; heavy modules loaded: {probe or 'none'}")
    # where the time goes, for the first module
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {modules[0]}"],
                       capture_output=True, text=True, check=True)
    rows = []
    for line in r.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line[len("import time:"):].split("|")
        try:
            rows.append((int(parts[1]), int(parts[0]), parts[2].rstrip()))
        except (ValueError, IndexError):
            continue
    rows.sort(reverse=True)
    print(f"-X importtime for {modules[0]}: top cumulative (us)")
    for cum, self_us, name in rows[:8]:
        print(f"  {cum:>8} cumulative {self_us:>8} self  {name}")


if __name__ == "__main__":
    main()
