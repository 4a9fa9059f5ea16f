"""Cost of the path gate (security/fs.py): opening a file beneath the workspace through the gate vs a
plain ``os.open`` of the same path, for a shallow and a deep path, on the openat2 fast path and on the
O_NOFOLLOW walk. Each sample opens, fstats and closes the file once; prints median and p95 per open.

    .venv/bin/python benchmarks/bench_path_gate.py [--opens 2000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from llmspell.security import fs as fsmod
from llmspell.security.fs import PathGate


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[round(0.95 * (len(s) - 1))]


def per_open_us(fn: Callable[[], None], n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--opens", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp).resolve()
        deep = ws.joinpath(*[f"d{i}" for i in range(8)])
        deep.mkdir(parents=True)
        (ws / "a.txt").write_text("x")
        (deep / "b.txt").write_text("x")
        gates = {"openat2": PathGate([ws], ws, use_openat2=True), "walk": PathGate([ws], ws, use_openat2=False)}
        if not fsmod._openat2_available():
            print("openat2 is not available here: both gate rows use the O_NOFOLLOW walk")
        print(f"{'case':<34} {'median':>9} {'p95':>9}   (microseconds per open+fstat+close)")
        for label, rel in (("shallow (a.txt)", "a.txt"), ("deep (8 dirs)", str((deep / 'b.txt').relative_to(ws)))):
            absolute = str(ws / rel)

            def plain(p: str = absolute) -> None:
                fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
                os.fstat(fd)
                os.close(fd)

            cases: list[tuple[str, Callable[[], None]]] = [(f"plain os.open  {label}", plain)]
            for gname, g in gates.items():
                def gated(g: PathGate = g, r: str = rel) -> None:
                    os.close(g.open_fd(r))  # open_fd itself fstats (S_ISREG, link count)

                cases.append((f"gate {gname:<8}  {label}", gated))
            for name, fn in cases:
                per_open_us(fn, 200)  # warm-up
                xs = [per_open_us(fn, a.opens) for _ in range(a.rounds)]
                print(f"{name:<34} {statistics.median(xs):>9.1f} {p95(xs):>9.1f}")


if __name__ == "__main__":
    main()
