"""Shared pieces of the cluster tests: one 2-worker Dask LocalCluster per module (start-up costs
seconds, so the in-process-runner tests share it through ``tcp://``), and a helper that runs a spell
source through the real runner and keeps the whole message stream."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed", reason="the cluster extra (dask, distributed) is part of the test extra")


@dataclass
class Shared:
    address: str
    cluster: Any
    client: Any

    def worker_pids(self) -> dict[str, int]:
        import os

        return {str(k): int(v) for k, v in self.client.run(os.getpid).items()}


@pytest.fixture(scope="module")
def shared_cluster() -> Iterator[Shared]:
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                               host="127.0.0.1", silence_logs=logging.CRITICAL)
    client = Client(cluster)
    try:
        yield Shared(cluster.scheduler_address, cluster, client)
    finally:
        client.close()
        cluster.close()


@dataclass
class Run:
    out: str
    fin: Any
    messages: list[Any] = field(default_factory=list)

    def events(self, event_type: str | None = None) -> list[Any]:
        return [m for m in self.messages if m.type == "event" and (event_type is None or m.event_type == event_type)]


async def run_spell(ws: Path, src: str, *, cluster: str | None, name: str = "spell.lua",
                    on_message: Callable[[Any, Any, str], Any] | None = None, **overrides: Any) -> Run:
    """Run ``src`` (written as ``ws/name``) in-process on an in-memory-state runtime, on ``cluster``
    (an address) or without one; ``on_message(msg, runner, run_id)`` sees each message as it comes."""
    from llmspell.runner import SpellRunner
    from llmspell.runtime import Runtime

    ws.mkdir(parents=True, exist_ok=True)
    (ws / name).write_text(src, encoding="utf-8")
    if cluster is not None:
        overrides["cluster"] = {"address": cluster, **overrides.pop("cluster_extra", {})}
    runner = SpellRunner(lambda: Runtime(workspace=ws, state="memory", overrides=overrides))
    msgs: list[Any] = []
    run_id = "r" + name.replace(".", "")
    async for m in runner.run(ws / name, run_id=run_id):
        msgs.append(m)
        if on_message is not None:
            r = on_message(m, runner, run_id)
            if hasattr(r, "__await__"):
                await r
    fin = msgs[-1]
    assert fin.type == "finished", "the run ended without a finished message"
    out = "".join(m.text for m in msgs if m.type == "output" and m.stream == "stdout")
    return Run(out, fin, msgs)
