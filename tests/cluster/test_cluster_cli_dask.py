"""Pointing at a real cluster as the README says: ``dask scheduler`` and ``dask worker tcp://...`` as
separate processes (the documented commands), then ``--cluster tcp://host:port``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cluster_cli import _cli

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[2]
DASK = str(Path(sys.executable).with_name("dask"))

SPELL = """
local scale = 7
local wf = Workflow.builder():name("remote"):map_reduce():items({1, 2, 3, 4, 5})
  :map_step({name = "times", type = "function", fn = function(item)
      State.set("remote", "k" .. item, item * scale)
      return item * scale
    end})
  :build()
local r = wf:execute({})
print(table.concat(r.outputs.times, ","), #State.list_keys("remote"))
return r.outputs.times
"""


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "runtime"), str(ROOT / "server")])}
    log = open(tmp_path / "dask.log", "wb")  # closed in the finally below
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)]
    addr = f"tcp://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        procs.append(subprocess.Popen([DASK, "worker", addr, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
                                      stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True))
        from distributed import Client

        with Client(addr, timeout=60) as c:
            c.wait_for_workers(2, timeout=60)
        yield addr
    finally:
        for p in reversed(procs):
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        log.close()


@pytest.mark.slow
def test_run_on_dask_scheduler_and_workers_started_by_hand(tmp_path: Path, dask_cluster: str) -> None:
    (tmp_path / "spell.lua").write_text(SPELL, encoding="utf-8")
    plain = _cli("--run", str(tmp_path / "spell.lua"))
    remote = _cli("--run", str(tmp_path / "spell.lua"), "--cluster", dask_cluster)
    assert plain.returncode == 0, plain.stderr
    assert remote.returncode == 0, remote.stderr
    assert remote.stdout == plain.stdout == "7,14,21,28,35\t5\n"
    # the same through llmspell.toml's [cluster] address
    (tmp_path / "llmspell.toml").write_text(f'[cluster]\naddress = "{dask_cluster}"\n', encoding="utf-8")
    (tmp_path / "spell2.lua").write_text(SPELL.replace('"remote"', '"remote2"'), encoding="utf-8")
    via_toml = _cli("--run", str(tmp_path / "spell2.lua"), "--json")
    assert via_toml.returncode == 0, via_toml.stderr
    assert '"event_type":"cluster.started"' in via_toml.stdout and dask_cluster in via_toml.stdout
