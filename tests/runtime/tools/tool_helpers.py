"""Helpers shared by the tool tests (imported as ``tool_helpers``; conftest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def make_runtime(workspace: Path, **security: Any) -> Any:
    from llmspell.runtime import Runtime

    return Runtime(workspace=workspace, state="memory", overrides={"security": security} if security else None)


async def call(rt: Any, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run a tool through the registry and return the table a script would get (rs-llmspell §1.2)."""
    from llmspell.api.shapes import output_table

    out = await rt.tools.execute(name, params)
    return output_table(out.text, out.metadata)


async def result(rt: Any, name: str, params: dict[str, Any]) -> Any:
    """``r.result`` of an envelope-returning tool, asserting ``r.success``."""
    r = await call(rt, name, params)
    assert r.get("success") is True, r
    return r.get("result")
