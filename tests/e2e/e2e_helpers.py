"""Helpers for the end-to-end tests (imported as ``e2e_helpers``; pytest puts tests/e2e on sys.path)."""

from __future__ import annotations

from pathlib import Path

from llmspell.messages import Finished
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime


async def run_collect(path: Path, workspace: Path) -> tuple[str, Finished]:
    """Run one spell through the real runner on a fresh runtime in ``workspace``: (stdout text, finished).

    The whole message stream is consumed, so a spell that never finishes fails the assert here, by name.
    """
    runner = SpellRunner(lambda: Runtime(workspace=workspace))
    out: list[str] = []
    fin: Finished | None = None
    async for m in runner.run(path):
        if m.type == "output":
            out.append(m.text)
        elif m.type == "finished":
            fin = m
    assert fin is not None, f"{path.name}: the run ended without a finished message"
    return "".join(out), fin
