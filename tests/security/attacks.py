"""Pieces several attack suites share: the process-executor refusal check and the symlink swapper."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmspell.core.errors import SecurityViolationError


async def refused(rt: Any, params: dict[str, Any], match: str | None = None) -> str:
    """process-executor refuses ``params`` with a security violation (containing ``match``)."""
    with pytest.raises(SecurityViolationError) as ei:
        await rt.tools.execute("process-executor", params)
    if match:
        assert match in str(ei.value), str(ei.value)
    return str(ei.value)


@contextlib.contextmanager
def swapping_symlink(ws: Path, target: Path) -> Iterator[None]:
    """While the block runs, a thread keeps swapping the folder ``ws/real`` with a symlink to
    ``target`` (outside): a check-then-open anywhere would sooner or later read or write there."""
    stop = threading.Event()

    def swapper() -> None:
        while not stop.is_set():
            try:
                os.rename(ws / "real", ws / "hold")
                os.symlink(target, ws / "real")
                os.unlink(ws / "real")
                os.rename(ws / "hold", ws / "real")
            except OSError:
                pass

    t = threading.Thread(target=swapper, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
