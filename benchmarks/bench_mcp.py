"""MCP call latency against direct tool invocation (issue 15).

Run: ``.venv/bin/python benchmarks/bench_mcp.py`` (about a minute; prints medians, p95 and ratios).

Two directions, the same builtin tool (``uuid-generator``, a few µs of work) wherever possible:

* **Server** (``llmspell-ls --mcp``): the mcp SDK's ``Client`` over stdio calls the tool, against
  calling it in-process through ``ToolRegistry.execute``. With the default ``limits.isolation =
  "process"`` every call is an isolated run (a zygote fork, a fresh runtime, the JS engine); with
  ``"none"`` the same calls run in the server's process, which shows what the protocol alone costs.
* **Client** (a spell): ``Tool.execute("mcp.self.uuid-generator")`` -- the builtin tool served by
  ``llmspell-ls --mcp`` (isolation none) and configured as ``[mcp.servers.self]`` -- against
  ``Tool.execute("uuid-generator")`` in the same spell, and ``mcp.fake.echo`` (the test suite's
  SDK-written server) for reference. Per-call times are taken inside the spell (``Utils.timestamp``).

The machine is shared with other work while this runs: absolute figures are noisy, ratios less so.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FAKE_SERVER = REPO / "tests" / "fakes" / "mcp_server.py"
PYTHON = sys.executable


def stats(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s), s[max(0, int(len(s) * 0.95) - 1)]


def line(label: str, samples: list[float]) -> tuple[float, float]:
    med, p95 = stats(samples)
    print(f"  {label:<62} median {med * 1e3:8.3f} ms   p95 {p95 * 1e3:8.3f} ms   (n={len(samples)})")
    return med, p95


async def direct_calls(ws: Path, n: int) -> list[float]:
    from llmspell.runtime import Runtime

    rt = Runtime(workspace=ws, state="memory")
    await rt.tools.execute("uuid-generator", {"operation": "generate"})
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await rt.tools.execute("uuid-generator", {"operation": "generate"})
        out.append(time.perf_counter() - t0)
    return out


async def served_calls(ws: Path, n: int) -> tuple[float, list[float]]:
    from mcp import Client, StdioServerParameters

    env = {k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}
    params = StdioServerParameters(command=PYTHON, args=["-m", "llmspell_ls", "--mcp"], cwd=str(ws), env=env)
    async with Client(params, read_timeout_seconds=120) as c:
        t0 = time.perf_counter()
        r = await c.call_tool("uuid-generator", {"operation": "generate"})
        first = time.perf_counter() - t0
        assert not r.is_error, r
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            r = await c.call_tool("uuid-generator", {"operation": "generate"})
            out.append(time.perf_counter() - t0)
            assert not r.is_error, r
    return first, out


SPELL = """
local name, n = ARGS[1], tonumber(ARGS[2])
local params = name:find("echo") and {text = "x"} or {operation = "generate"}
local t0 = Utils.timestamp()
Tool.execute(name, params)
local first = Utils.timestamp() - t0
local d = {}
for i = 1, n do
  local s = Utils.timestamp()
  Tool.execute(name, params)
  d[i] = Utils.timestamp() - s
end
return {first = first, times = d}
"""


async def spell_calls(ws: Path, name: str, n: int) -> tuple[float, list[float]]:
    from llmspell.messages import Finished
    from llmspell.runner import SpellRunner
    from llmspell.runtime import Runtime

    (ws / "bench.lua").write_text(SPELL, encoding="utf-8")
    runner = SpellRunner(lambda: Runtime(workspace=ws, state="memory"))
    fin: Any = None
    async for m in runner.run(ws / "bench.lua", args=[name, str(n)]):
        if isinstance(m, Finished):
            fin = m
    assert fin is not None and fin.status == "success", fin
    return float(fin.result["first"]), [float(x) for x in fin.result["times"]]


async def main() -> None:
    quick = "--quick" in sys.argv
    n_direct, n_iso, n_mcp = (50, 10, 30) if quick else (300, 60, 200)
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as tmp:
        root = Path(tmp)
        served_iso, served_none, client = root / "served-iso", root / "served-none", root / "client"
        for d in (served_iso, served_none, client):
            d.mkdir()
        (served_none / "llmspell.toml").write_text('[limits]\nisolation = "none"\n', encoding="utf-8")
        env_line = 'env = ["PYTHONPATH"]\n' if "PYTHONPATH" in os.environ else ""
        (client / "llmspell.toml").write_text(
            f'[mcp]\nprocess_allow = ["{PYTHON}"]\n\n'
            f'[mcp.servers.self]\ncommand = "{PYTHON}"\nargs = ["-m", "llmspell_ls", "--mcp", "--workspace", '
            f'"{served_none}"]\n{env_line}\n'
            f'[mcp.servers.fake]\ncommand = "{PYTHON}"\nargs = ["{FAKE_SERVER}"]\n', encoding="utf-8")

        print("Server: llmspell-ls --mcp (SDK Client over stdio) vs the tool in-process, uuid-generator")
        direct = await direct_calls(served_iso, n_direct)
        d_med, d_p95 = line("direct: ToolRegistry.execute in-process", direct)
        first_iso, iso = await served_calls(served_iso, n_iso)
        i_med, i_p95 = line("MCP call, isolation = process (one isolated run per call)", iso)
        first_none, none = await served_calls(served_none, n_mcp)
        n_med, n_p95 = line("MCP call, isolation = none (protocol + runtime only)", none)
        print(f"  first call (zygote start / imports): process {first_iso * 1e3:.0f} ms, "
              f"none {first_none * 1e3:.0f} ms")
        print(f"  ratio MCP(process)/direct: median {i_med / d_med:8.1f}x   p95 {i_p95 / d_p95:8.1f}x")
        print(f"  ratio MCP(none)/direct:    median {n_med / d_med:8.1f}x   p95 {n_p95 / d_p95:8.1f}x")

        print("\nClient: a Lua spell's Tool.execute, per call (timed inside the spell)")
        _, sd = await spell_calls(client, "uuid-generator", n_direct)
        s_med, s_p95 = line('Tool.execute("uuid-generator")', sd)
        first_self, ss = await spell_calls(client, "mcp.self.uuid-generator", n_mcp)
        m_med, m_p95 = line('Tool.execute("mcp.self.uuid-generator") (llmspell-ls --mcp)', ss)
        first_fake, sf = await spell_calls(client, "mcp.fake.echo", n_mcp)
        f_med, _ = line('Tool.execute("mcp.fake.echo") (an SDK MCPServer)', sf)
        print(f"  first call (server start + listing): self {first_self * 1e3:.0f} ms, fake {first_fake * 1e3:.0f} ms")
        print(f"  ratio mcp.self/direct: median {m_med / s_med:8.1f}x   p95 {m_p95 / s_p95:8.1f}x")
        print(f"  ratio mcp.fake.echo/direct: median {f_med / s_med:8.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
