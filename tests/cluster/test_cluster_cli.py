"""``--cluster`` from the command line and under the isolated runner: the example end to end on a
``local:2`` cluster, no worker process outliving a cancel or the wall-time kill, and the errors a user
gets for a missing extra, a malformed or unreachable address, a mistyped key, a JavaScript function."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import run_spell

from llmspell.isolation.procs import alive

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "cluster_map.lua"  # the "cluster_map" example (run here, not by test_examples_lua)


def _cli(*args: str, env: dict[str, str] | None = None, pre: str = "", timeout: float = 180) -> \
        subprocess.CompletedProcess[str]:
    code = f"import sys\n{pre}\nfrom llmspell_ls.cli import main\nsys.exit(main(sys.argv[1:]))"
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          env=e, cwd=str(ROOT))


@pytest.mark.slow
def test_example_on_local_cluster_matches_in_process(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain = _cli("--run", str(EXAMPLE), "--workspace", str(tmp_path / "a"))
    assert plain.returncode == 0, plain.stderr
    clustered = _cli("--run", str(EXAMPLE), "--workspace", str(tmp_path / "b"), "--cluster", "local:2", "--json")
    assert clustered.returncode == 0, clustered.stderr
    msgs = [json.loads(line) for line in clustered.stdout.splitlines()]
    out = "".join(m["text"] for m in msgs if m["type"] == "output" and m["stream"] == "stdout")
    assert sorted(out.splitlines()) == sorted(plain.stdout.splitlines())  # same lines (printed at the end, in order)
    assert out == plain.stdout
    fin = msgs[-1]
    assert fin["type"] == "finished" and fin["status"] == "success" and fin["result"] == {"sum": 68945, "items": 8}
    started = [m["data"] for m in msgs if m["type"] == "event" and m["event_type"] == "cluster.started"]
    assert len(started) == 1 and len(started[0]["workers"]) == 2
    steps = [m["data"] for m in msgs if m["type"] == "event" and m["event_type"].startswith("workflow.step.")
             and m["data"]["step_name"].startswith("count[")]
    assert len(steps) == 16 and all(s["worker"] in started[0]["workers"] for s in steps)
    pids = list(started[0]["workers"].values())
    assert not [p for p in pids if alive(p)], "a worker process outlived the run"


LONG_MAP = """
local wf = Workflow.builder():name("long"):map_reduce():items({1, 2, 3, 4})
  :map_step({name = "spin", type = "function", fn = function(item)
      local t0 = os.clock()
      while os.clock() - t0 < 300 do end
      return item
    end})
  :build()
wf:execute({})
"""


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return int(data[data.rfind(b")") + 2:].split()[1])


async def _run_isolated(tmp_path: Path, *, cancel: bool, wall_time_s: float = 300) -> tuple[Any, list[int]]:
    from llmspell.config import load_config
    from llmspell.isolation import IsolatedRunner

    (tmp_path / "spell.lua").write_text(LONG_MAP, encoding="utf-8")
    cfg = load_config(tmp_path, overrides={"cluster": {"address": "local:2"}, "state": {"backend": "memory"},
                                           "limits": {"wall_time_s": wall_time_s}})
    runner = IsolatedRunner(config=cfg)
    procs: list[int] = []
    started: set[str] = set()
    fin = None
    async for m in runner.run(tmp_path / "spell.lua", run_id="iso"):
        if m.type == "event" and m.event_type == "cluster.started":
            for pid in m.data["workers"].values():
                procs += [pid, _ppid(pid)]  # the worker and its nanny
        elif m.type == "event" and m.event_type == "workflow.step.started":
            started.add(m.data["worker"])
            if cancel and len(started) == 2:
                await runner.cancel("iso")
        elif m.type == "finished":
            fin = m
    return fin, procs


def _all_gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


@pytest.mark.slow
async def test_cancel_under_isolation_leaves_no_worker_process(tmp_path: Path) -> None:
    fin, procs = await asyncio.wait_for(_run_isolated(tmp_path, cancel=True), 120)
    assert fin is not None and fin.status == "cancelled", fin
    assert len(procs) == 4
    assert _all_gone(procs) == [], "worker or nanny processes survived the cancel"


@pytest.mark.slow
async def test_wall_time_under_isolation_leaves_no_worker_process(tmp_path: Path) -> None:
    fin, procs = await asyncio.wait_for(_run_isolated(tmp_path, cancel=False, wall_time_s=25), 120)
    assert fin is not None and fin.status == "timeout", fin
    assert len(procs) == 4, "the cluster did not start within the wall time"
    assert _all_gone(procs) == [], "worker or nanny processes survived the wall-time kill"


def test_missing_extra_is_named(tmp_path: Path) -> None:
    (tmp_path / "s.lua").write_text("print(1)", encoding="utf-8")
    r = _cli("--run", str(tmp_path / "s.lua"), "--cluster", "local:2", pre="sys.modules['distributed'] = None")
    assert r.returncode == 2
    assert "llmspell-ls[cluster]" in r.stderr and "cluster extra" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("addr", ["local:0", "nowhere", "tcp://host-without-port", "local:two"])
def test_malformed_address_is_a_usage_error(tmp_path: Path, addr: str) -> None:
    (tmp_path / "s.lua").write_text("print(1)", encoding="utf-8")
    r = _cli("--run", str(tmp_path / "s.lua"), "--cluster", addr)
    assert r.returncode == 2, r.stderr
    assert "cluster.address" in r.stderr and ("local:N" in r.stderr or "1 <= N" in r.stderr), r.stderr
    assert repr(addr) in r.stderr or addr in r.stderr


def test_cluster_needs_run() -> None:
    r = _cli("--cluster", "local:2")
    assert r.returncode == 2 and "--cluster" in r.stderr


def test_unknown_key_in_cluster_section(tmp_path: Path) -> None:
    from llmspell.config import load_config
    from llmspell.core.errors import ConfigurationError

    (tmp_path / "llmspell.toml").write_text('[cluster]\nadress = "local:2"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError) as e:
        load_config(tmp_path)
    assert "cluster.adress" in e.value.message and "address" in e.value.message
    (tmp_path / "llmspell.toml").write_text('[cluster]\naddress = "local:3"\n', encoding="utf-8")
    assert load_config(tmp_path).cluster.address == "local:3"


MAP = """
local wf = Workflow.builder():name("w"):map_reduce():items({1, 2})
  :map_step({name = "double", type = "tool", tool = "calculator", input = {input = "{{item}} * 2"}})
  :build()
local r = wf:execute({})
return r.success
"""


async def test_unreachable_scheduler_fails_the_run_clearly(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = await run_spell(tmp_path, MAP, cluster=f"tcp://127.0.0.1:{port}", cluster_extra={"start_timeout_s": 2})
    assert run.fin.status == "error"
    msg = run.fin.error.message
    assert f"tcp://127.0.0.1:{port}" in msg and "cannot reach the Dask scheduler" in msg, msg


JS_MAP = """
const wf = Workflow.builder().name("w").mapReduce().items([1, 2])
  .mapStep({ name: "double", type: "function", fn: (x) => x * 2 })
  .build();
const r = await wf.execute({});
return r.outputs.double;
"""


async def test_javascript_function_steps_are_refused_by_name(tmp_path: Path) -> None:
    local = await run_spell(tmp_path / "a", JS_MAP, cluster=None, name="spell.js")
    assert local.fin.status == "success" and local.fin.result == [2, 4]
    # the address is never contacted: the step is refused before anything is sent
    run = await run_spell(tmp_path / "b", JS_MAP, cluster="tcp://127.0.0.1:9", name="spell.js",
                          cluster_extra={"start_timeout_s": 2})
    assert run.fin.status == "error"
    msg = run.fin.error.message
    assert "step 'double' cannot run on the cluster" in msg and "javascript" in msg.lower(), msg
