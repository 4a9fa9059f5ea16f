"""Catalogue benchmarks: loading every tool class (first import + schema), and the cost of typical
calls of catalogue tools through the registry (offline tools, and an HTTP call to a local server).

Run: ``.venv/bin/python benchmarks/bench_tool_catalogue.py`` (prints medians and p95; ~15 s).
The registry's own start-up, ``Tool.list()`` and no-op call overhead are in bench_tools.py.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakes.servers import FakeHttpServer
from llmspell.runtime import Runtime


def stats_ms(samples: list[float]) -> str:
    s = sorted(samples)
    return (f"median {statistics.median(s) * 1e3:8.3f} ms   p95 {s[max(0, int(len(s) * 0.95) - 1)] * 1e3:8.3f} ms"
            f"   (n={len(s)})")


def load_all_classes_cold(runs: int = 7) -> list[float]:
    """Fresh interpreter each run: import every tool module and build every JSON schema."""
    code = ("import time; t=time.perf_counter()\n"
            "from llmspell.tools.builtin import BUILTIN_TOOLS\n"
            "from llmspell.tools.registry import load_builtin_class\n"
            "[load_builtin_class(s).parameters_schema() for s in BUILTIN_TOOLS.values()]\n"
            "print(time.perf_counter()-t)")
    out = []
    for _ in range(runs):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        out.append(float(r.stdout.strip()))
    return out


async def time_calls(rt: Any, name: str, params: dict[str, Any], n: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        await rt.tools.execute(name, params)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await rt.tools.execute(name, params)
        out.append(time.perf_counter() - t0)
    return out


async def main() -> None:
    print("catalogue: import every tool module + build every schema (cold process)")
    print("  ", stats_ms(load_all_classes_cold()))
    with tempfile.TemporaryDirectory() as d:
        ws = Path(d)
        (ws / "data.csv").write_text("a,b,c\n" + "".join(f"{i},{i * 2},x{i}\n" for i in range(200)))
        rt = Runtime(workspace=ws, state="memory", overrides={"security": {"allow_private_network": True}})
        http = await FakeHttpServer().start()
        http.json("/data", {"items": list(range(100))})
        cases: list[tuple[str, dict[str, Any], int]] = [
            ("csv-analyzer", {"file": "data.csv"}, 200),
            ("json-processor", {"input": {"items": list(range(100))}, "query": "[.items[] | select(. % 2 == 0)]"}, 300),
            ("template-creator", {"input": "{% for i in xs %}{{ i }},{% endfor %}", "context": {"xs": [1, 2, 3]}}, 300),
            ("sql-query", {"query": "SELECT SUM(v) AS s FROM t", "tables": {"t": [{"v": i} for i in range(100)]}}, 300),
            ("text-embedder", {"input": "a short sentence to embed", "backend": "hashing"}, 300),
            ("file-search", {"pattern": "x1", "path": "data.csv"}, 300),
            ("http-requester", {"input": http.url("/data")}, 200),
        ]
        print("per-call latency through ToolRegistry.execute (tool work included)")
        for name, params, n in cases:
            print(f"  {name:18s}", stats_ms(await time_calls(rt, name, params, n)))
        await http.stop()


if __name__ == "__main__":
    asyncio.run(main())
