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
