from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dap.dap_client import DapClient


@pytest.fixture
def dap(tmp_path: Path) -> Iterator[DapClient]:
    c = DapClient(cwd=tmp_path)
    try:
        yield c
    finally:
        c.close()


def write(ws: Path, name: str, src: str) -> Path:
    p = ws / name
    p.write_text(src, encoding="utf-8")
    return p


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a killed child its parent has not reaped yet is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1].split()[0] not in ("Z", "X")
    except OSError:
        return False
