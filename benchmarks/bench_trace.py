"""Overhead of tracing (issue 15) on a spell making 1,000 tool calls.

Three modes of the same spell, run through the isolated runner the CLI and the language server use
(a warm zygote forks each run, so process start-up is the same for all), interleaved run by run:

* ``off``: no tracing (nothing imports OpenTelemetry);
* ``--trace FILE``: spans made in the run's process, streamed back, written as OTLP JSON by the parent;
* ``OTLP/HTTP``: the same spans exported with the standard OTLPSpanExporter to a receiver on
  127.0.0.1 started here (accepts POST /v1/traces, counts bytes).

Time is measured from ``run()`` until the trace is written / exported (so the parent's work is
included). Prints median / p95 per mode and the ratio of medians to ``off``, plus spans and bytes.
Then the same spell in-process (``SpellRunner``) measured in CPU seconds of this process (spell
thread + loop + trace file), which a loaded machine disturbs much less than wall time.
The zygote preloads the tracer as the language server's does (the CLI, which forks itself, imports
the SDK in the run's process instead: about 50-150 ms once per traced run). Noisy on a shared machine:
compare ratios within one invocation.

    .venv/bin/python benchmarks/bench_trace.py [--n 9] [--calls 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import statistics
import tempfile
import threading
import time
from pathlib import Path

SPELL = """
local total = 0
for i = 1, {calls} do
  local r = Tool.execute("calculator", {{input = "1 + " .. i}})
  total = total + r.result.result
end
return total
"""


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


class _Receiver(http.server.BaseHTTPRequestHandler):
    received = 0
    requests = 0

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        type(self).received += len(body)
        type(self).requests += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


async def one_run(runner: object, spell: Path, mode: str, out: Path, endpoint: str) -> tuple[float, int, int]:
    from llmspell.tracing.collect import TraceCollector

    t0 = time.perf_counter()
    collector = TraceCollector(spell, "lua") if mode != "off" else None
    kw = {"trace": collector.options} if collector is not None else {}
    status = None
    async for msg in runner.run(spell, **kw):  # type: ignore[attr-defined]
        if collector is not None and collector.observe(msg):
            continue
        if msg.type == "finished":
            status = msg.status
    size = 0
    if collector is not None and mode == "file":
        collector.write(out)
        size = out.stat().st_size
    elif collector is not None and mode == "otlp":
        from llmspell.tracing.export import export_otlp

        problem = export_otlp(collector.otlp_json(), endpoint)
        assert problem is None, problem
    elapsed = (time.perf_counter() - t0) * 1000.0
    assert status == "success", status
    return elapsed, len(collector.spans) if collector is not None else 0, size


async def in_process_cpu(spell: Path, n: int, out: Path) -> None:
    """CPU time of one run in this process, tracing off vs --trace FILE (interleaved)."""
    from llmspell.config import load_config
    from llmspell.runner import SpellRunner
    from llmspell.tracing.collect import TraceCollector

    cpu: dict[str, list[float]] = {"off": [], "file": []}
    for i in range(n + 1):
        for mode in ("off", "file"):
            collector = TraceCollector(spell, "lua") if mode == "file" else None
            runner = SpellRunner(config=load_config(spell.parent))
            c0 = time.process_time()
            async for msg in runner.run(spell, **({"trace": collector.options} if collector else {})):
                if collector is not None:
                    collector.observe(msg)
            if collector is not None:
                collector.write(out)
            if i:  # the first round warms imports
                cpu[mode].append((time.process_time() - c0) * 1000.0)
    base = statistics.median(cpu["off"])
    for mode, label in (("off", "in-process CPU, tracing off"), ("file", "in-process CPU, --trace FILE")):
        med = statistics.median(cpu[mode])
        print(f"{label:<28} median {med:8.1f} ms   p95 {pct(cpu[mode], 95):8.1f} ms   ratio {med / base:5.2f}x")


async def main(n: int, calls: int) -> None:
    from llmspell.config import load_config
    from llmspell.isolation import IsolatedRunner, ZygoteSpawner

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    spawner = ZygoteSpawner(preload=("llmspell.tracing.tracer",))  # as the language server does
    try:
        with tempfile.TemporaryDirectory() as d:
            ws = Path(d)
            spell = ws / "calls.lua"
            spell.write_text(SPELL.format(calls=calls))
            runner = IsolatedRunner(config=load_config(ws), spawner=spawner)
            modes = ["off", "file", "otlp"]
            times: dict[str, list[float]] = {m: [] for m in modes}
            spans = size = 0
            for m in modes:  # warm-up: zygote start, first imports
                await one_run(runner, spell, m, ws / "run.json", endpoint)
            _Receiver.received = _Receiver.requests = 0
            for _ in range(n):
                for m in modes:
                    ms, s, b = await one_run(runner, spell, m, ws / "run.json", endpoint)
                    times[m].append(ms)
                    spans = s or spans
                    size = b or size
            print(f"spell: {calls} tool calls (calculator) per run; {n} runs per mode, interleaved; "
                  f"isolated runner on a warm zygote (tracer preloaded)")
            base = statistics.median(times["off"])
            labels = {"off": "tracing off", "file": "--trace FILE (OTLP JSON)", "otlp": "OTLP/HTTP to 127.0.0.1"}
            for m in modes:
                med = statistics.median(times[m])
                print(f"{labels[m]:<28} median {med:8.1f} ms   p95 {pct(times[m], 95):8.1f} ms   "
                      f"ratio {med / base:5.2f}x")
            each = _Receiver.received / max(1, _Receiver.requests) / 1024
            print(f"spans per traced run: {spans}; trace file {size / 1024:.0f} KB; "
                  f"OTLP/HTTP: {_Receiver.requests} requests, {each:.0f} KB each")
            per_span_us = (statistics.median(times["file"]) - base) * 1000.0 / max(1, spans)
            print(f"overhead per span (--trace FILE): {per_span_us:.1f} us")
            await in_process_cpu(spell, n, ws / "inproc.json")
    finally:
        spawner.close()
        server.shutdown()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=9, help="runs per mode")
    ap.add_argument("--calls", type=int, default=1000, help="tool calls per run")
    a = ap.parse_args()
    asyncio.run(main(a.n, a.calls))
