"""Helpers for the end-to-end tests (imported as ``e2e_helpers``; pytest puts tests/e2e on sys.path)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmspell.messages import Finished
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime


async def run_collect(path: Path, workspace: Path,
                      runtime: Callable[[], Runtime] | None = None) -> tuple[str, Finished]:
    """Run one spell through the real runner on a fresh runtime in ``workspace`` (or one made by
    ``runtime``): (printed text, finished).

    The whole message stream is consumed, so a spell that never finishes fails the assert here, by name.
    """
    runner = SpellRunner(runtime or (lambda: Runtime(workspace=workspace)))
    out: list[str] = []
    fin: Finished | None = None
    async for m in runner.run(path):
        if m.type == "output":
            out.append(m.text)
        elif m.type == "finished":
            fin = m
    assert fin is not None, f"{path.name}: the run ended without a finished message"
    return "".join(out), fin



async def run_source(ws: Path, src: str, name: str = "spell.lua", **overrides: Any) -> tuple[str, Finished]:
    """Write ``src`` as ``ws/name`` and run it on an in-memory-state runtime with configuration
    ``overrides`` (``local_llm={...}``, ``limits={...}``): (printed text, finished)."""
    ws.mkdir(parents=True, exist_ok=True)
    (ws / name).write_text(src, encoding="utf-8")
    return await run_collect(ws / name, ws, lambda: Runtime(workspace=ws, state="memory", overrides=overrides))

E2E = Path(__file__).resolve().parent

# Examples whose behaviour a dedicated end-to-end module checks (richer than one expected output):
# stem -> that module. The generic example tests skip these, and check that the module names them.
DEDICATED_EXAMPLES: dict[str, str] = {
    "memory": "test_memory_e2e.py",
    "context": "test_memory_e2e.py",
    "template": "test_template_spells.py",
    "artifact": "test_misc_globals.py",
    "config": "test_misc_globals.py",
    "replay": "test_misc_globals.py",
    "logger_utils": "test_misc_globals.py",
    "local_llm": "../runtime/test_local_llm.py",
    "streaming_global": "../runtime/test_streaming.py",
    "rag": "test_rag_e2e.py",
    "traced_run": "../tracing/test_trace_example.py",
    "mcp_tool": "../mcp/test_mcp_examples.py",
    "cluster_map": "../cluster/test_cluster_cli.py",
}


def dedicated_module_names(stem: str, ext: str) -> bool:
    """Whether the dedicated module for example ``stem`` names it (as ``"stem"`` or ``"stem.ext"``)."""
    text = (E2E / DEDICATED_EXAMPLES[stem]).read_text(encoding="utf-8")
    return any(q in text for q in (f'"{stem}"', f"'{stem}'", f'"{stem}.{ext}"', f"'{stem}.{ext}'"))
