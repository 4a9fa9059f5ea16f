"""Fixtures for the MCP tests: a workspace whose llmspell.toml names the fake MCP server
(tests/fakes/mcp_server.py, a real server written with the mcp SDK) over stdio, and the same server
over Streamable HTTP on 127.0.0.1, started by the test and stopped after it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp_helpers import FAKE_SERVER, PYTHON, stdio_toml


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace configured with the fake server over stdio."""
    w = tmp_path / "ws"
    w.mkdir()
    (w / "llmspell.toml").write_text(stdio_toml(), encoding="utf-8")
    return w


@pytest.fixture
def http_server() -> Iterator[str]:
    """The fake server over Streamable HTTP on 127.0.0.1; yields its URL."""
    proc = subprocess.Popen([PYTHON, str(FAKE_SERVER), "--http"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), f"the fake MCP HTTP server did not start: {line!r}"
        yield f"http://127.0.0.1:{int(line.split()[1])}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
