"""Cost and strength of run isolation (issue 10): in-process runs ("before") against a child process
per run ("after"), side by side in one invocation.

* ``--run hello.lua`` wall time, whole CLI process: median / p95 over ``--n`` runs, each mode;
* 8 concurrent ``--run`` of a short spell (wall time of the batch), each mode;
* the language server's path: 8 concurrent short runs through one ``IsolatedRunner`` on a warm zygote
  vs one in-process ``SpellRunner``;
* cancel -> process gone: from ``runner.cancel()`` until the run's pid no longer exists, for a spell in
  a Lua loop and one stuck in a single C call (median / p95);
* peak RSS of a run that exceeds a 64 MB memory limit (5M SQLite rows into a tool result), each mode,
  from ``wait4``'s ``ru_maxrss`` of the CLI process (which includes its reaped run process).

    .venv/bin/python benchmarks/bench_isolation.py [--n 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
CLI = [PY, "-c", "import sys; from llmspell_ls.cli import main; sys.exit(main())"]


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def env_for(mode: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    e["LLMSPELL_LIMITS__ISOLATION"] = mode
    e.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    return e


def cli_once(ws: Path, spell: str, mode: str, give_up_s: float = 0) -> tuple[float, int, int]:
    """(wall seconds, exit status, peak RSS KB of the CLI process and what it reaped). With
    ``give_up_s``, a run still going after that long is killed (exit status -9 in the figures)."""
    t0 = time.perf_counter()
    p = subprocess.Popen([*CLI, "--run", spell], cwd=ws, env=env_for(mode), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    if give_up_s:
        # WNOWAIT: look without reaping, so wait4 below still gets the exit status and rusage
        while os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            if time.perf_counter() - t0 >= give_up_s:
                p.kill()
                break
            time.sleep(0.05)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t0, p.returncode, ru.ru_maxrss


def bench_startup(ws: Path, n: int) -> None:
    print(f"--run hello.lua, whole process, n={n} (interleaved)")
    times: dict[str, list[float]] = {"none": [], "process": []}
    for _ in range(n):
        for mode in times:
            times[mode].append(cli_once(ws, "hello.lua", mode)[0] * 1000)
    for mode, xs in times.items():
        label = "in-process (before)" if mode == "none" else "child process (after)"
        print(f"  {label:24} median {statistics.median(xs):7.1f} ms   p95 {pct(xs, 95):7.1f} ms")
    ratio = statistics.median(times["process"]) / statistics.median(times["none"])
    print(f"  ratio after/before (median): {ratio:.2f}x")


def bench_concurrent_cli(ws: Path, rounds: int) -> None:
    print(f"8 concurrent --run hello.lua (batch wall time), {rounds} rounds")
    for mode in ("none", "process"):
        xs = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            ps = [subprocess.Popen([*CLI, "--run", "hello.lua"], cwd=ws, env=env_for(mode),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(8)]
            for p in ps:
                p.wait()
            xs.append((time.perf_counter() - t0) * 1000)
        label = "in-process (before)" if mode == "none" else "child process (after)"
        print(f"  {label:24} median {statistics.median(xs):7.1f} ms   p95 {pct(xs, 95):7.1f} ms")


async def _drain(runner, spell: Path, run_id: str) -> str:  # type: ignore[no-untyped-def]
    status = "?"
    async for m in runner.run(spell, run_id=run_id):
        if m.type == "finished":
            status = m.status
    return status


def bench_server_path(ws: Path, rounds: int) -> None:
    from llmspell.config import load_config
    from llmspell.isolation import IsolatedRunner, ZygoteSpawner
    from llmspell.runner import SpellRunner

    print(f"language-server path: 8 concurrent short runs on one runner, {rounds} rounds")
    spell = ws / "hello.lua"
    cfg = load_config(ws)
    spawner = ZygoteSpawner()
    spawner.start()
    iso = IsolatedRunner(config=cfg, spawner=spawner)
    inproc = SpellRunner(config=cfg)

    async def batch(runner) -> float:  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        got = await asyncio.gather(*[_drain(runner, spell, f"r{i}-{time.time_ns()}") for i in range(8)])
        assert all(s == "success" for s in got), got
        return (time.perf_counter() - t0) * 1000

    async def main() -> None:
        await batch(iso)  # warm the zygote
        for label, runner in (("in-process SpellRunner", inproc), ("IsolatedRunner + zygote", iso)):
            xs = [await batch(runner) for _ in range(rounds)]
            print(f"  {label:24} median {statistics.median(xs):7.1f} ms   p95 {pct(xs, 95):7.1f} ms")
        xs = []
        for i in range(rounds * 2):
            t0 = time.perf_counter()
            await _drain(iso, spell, f"one-{i}")
            xs.append((time.perf_counter() - t0) * 1000)
        print(f"  one isolated run, warm zygote: median {statistics.median(xs):.1f} ms   p95 {pct(xs, 95):.1f} ms")

    asyncio.run(main())
    spawner.close()


def bench_cancel(ws: Path, n: int) -> None:
    from llmspell.config import load_config
    from llmspell.isolation import IsolatedRunner, ZygoteSpawner
    from llmspell.isolation.procs import alive

    spells = {
        "Lua loop": "while true do end\n",
        "one long C call": 'local s = ("a"):rep(1e5):find(".-.-.-.-.-b")\n',
    }
    (ws / "llmspell.toml").write_text("[limits]\nwall_time_s = 120\n")
    cfg = load_config(ws)
    spawner = ZygoteSpawner()
    spawner.start()
    runner = IsolatedRunner(config=cfg, spawner=spawner)
    print(f"cancel -> process gone, n={n} each")

    async def one(spell: Path, rid: str) -> float:
        task = asyncio.ensure_future(_drain(runner, spell, rid))
        while rid not in runner._watches:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.3)
        pid = runner._watches[rid].pid
        t0 = time.perf_counter()
        await runner.cancel(rid)
        while alive(pid):
            await asyncio.sleep(0.0005)
        dt = (time.perf_counter() - t0) * 1000
        status = await task
        assert status == "cancelled", status
        return dt

    async def main() -> None:
        for label, src in spells.items():
            spell = ws / ("cancel_" + label.replace(" ", "_") + ".lua")
            spell.write_text(src)
            xs = [await one(spell, f"c{i}") for i in range(n)]
            print(f"  {label:24} median {statistics.median(xs):7.1f} ms   p95 {pct(xs, 95):7.1f} ms   "
                  f"max {max(xs):.1f} ms")

    asyncio.run(main())
    spawner.close()
    (ws / "llmspell.toml").unlink()


def bench_memory(ws: Path) -> None:
    print("peak RSS, a run exceeding max_memory_mb = 64 (5M SQLite rows into a tool result; "
          "security.max_result_rows raised so the rows really arrive; given up after 90 s)")
    mdir = ws / "mem"
    mdir.mkdir(exist_ok=True)
    (mdir / "llmspell.toml").write_text("[limits]\nmax_memory_mb = 64\nwall_time_s = 60\n"
                                        "[security]\nmax_result_rows = 10000000\n")
    sqlite3.connect(mdir / "t.db").close()
    (mdir / "rows.lua").write_text(
        'local r = Tool.invoke("database-connector", {operation = "query", database = "t.db", limit = 5000000,\n'
        "  query = \"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5000000) "
        "SELECT x, 'padding padding padding' AS p FROM c\"})\nprint(#r.result.rows)\n")
    for mode in ("none", "process"):
        wall, code, kb = cli_once(mdir, "rows.lua", mode, give_up_s=90)
        label = "in-process (before)" if mode == "none" else "child process (after)"
        print(f"  {label:24} peak RSS {kb / 1024:7.0f} MB   exit {code}   wall {wall:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=15)
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-iso-") as d:
        ws = Path(d)
        (ws / "hello.lua").write_text('print("Hello from a spell")\nreturn 42\n')
        bench_startup(ws, ns.n)
        bench_concurrent_cli(ws, max(3, ns.n // 3))
        bench_server_path(ws, max(3, ns.n // 3))
        bench_cancel(ws, max(5, ns.n // 2))
        bench_memory(ws)


if __name__ == "__main__":
    main()
