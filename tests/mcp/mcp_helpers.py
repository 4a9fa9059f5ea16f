"""Helpers of the MCP tests (imported as ``mcp_helpers``): the fake server's paths, llmspell.toml
snippets naming it, and running a spell on a fresh runtime."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from llmspell.messages import Finished
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime

FAKES = Path(__file__).resolve().parents[1] / "fakes"
FAKE_SERVER = FAKES / "mcp_server.py"
PYTHON = sys.executable
"""The venv's interpreter (not resolved: the venv's site-packages hold the mcp SDK)."""


def stdio_toml(*, allow: bool = True, extra: str = "", env: list[str] | None = None) -> str:
    env_line = f"env = {env!r}\n".replace("'", '"') if env else ""
    allow_line = f'process_allow = ["{PYTHON}"]\n' if allow else ""
    return (f"[mcp]\n{allow_line}\n[mcp.servers.fake]\ncommand = \"{PYTHON}\"\n"
            f"args = [\"{FAKE_SERVER}\"]\n{env_line}timeout_s = 30\n{extra}")


async def run_spell(ws: Path, src: str, name: str = "spell.lua",
                    runtime: Callable[[], Runtime] | None = None) -> tuple[str, Finished]:
    """Write ``src`` as ``ws/name`` and run it through the real runner on a fresh runtime of ``ws``:
    (printed text, finished)."""
    (ws / name).write_text(src, encoding="utf-8")
    runner = SpellRunner(runtime or (lambda: Runtime(workspace=ws, state="memory")))
    out: list[str] = []
    fin: Finished | None = None
    async for m in runner.run(ws / name):
        if m.type == "output":
            out.append(m.text)
        elif m.type == "finished":
            fin = m
    assert fin is not None, f"{name}: the run ended without a finished message"
    return "".join(out), fin
