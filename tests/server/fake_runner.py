"""A stand-in runner for the run plumbing tests (selected with ``LLMSPELL_LS_RUNNER=fake_runner:make``).

It follows the SpellRunner contract (``run(path, *, source, args, run_id)`` async iterator; ``cancel``)
but scripts its stream from the spell's first line, so tests can exercise every message kind, a runner
that crashes mid-run and one that never ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from llmspell.messages import EventMessage, Finished, HookResultMessage, Output, Progress, Started


class FakeRunner:
    def __init__(self) -> None:
        self.cancelled: set[str] = set()

    async def cancel(self, run_id: str) -> bool:
        self.cancelled.add(run_id)
        return True

    async def run(self, path: Path, *, source: str | None = None, args: list[str] | None = None,
                  run_id: str | None = None) -> AsyncIterator[Any]:
        rid = run_id or "fake"
        mode = (source or "").split("\n", 1)[0].strip("-/ ")
        yield Started(run_id=rid, seq=1, file=str(path), language="lua")
        yield Output(run_id=rid, seq=2, text=f"source has {len(source or '')} chars\n")
        yield Progress(run_id=rid, seq=3, message="half way", percentage=50)
        yield EventMessage(run_id=rid, seq=4, event_type="fake.event", data={"k": 1})
        yield HookResultMessage(run_id=rid, seq=5, point="BeforeToolExecution", hook="h1", result="continue")
        if mode == "crash":
            raise RuntimeError("the runner broke")
        if mode == "forever":
            while rid not in self.cancelled:
                await asyncio.sleep(0.01)
            yield Finished(run_id=rid, seq=6, status="cancelled", exit_code=130)
            return
        yield Finished(run_id=rid, seq=6, status="success", result={"ok": True})


def make() -> FakeRunner:
    return FakeRunner()
