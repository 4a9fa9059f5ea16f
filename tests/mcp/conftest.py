"""Fixtures for the MCP tests: a workspace whose llmspell.toml names the fake MCP server
(tests/fakes/mcp_server.py, a real server written with the mcp SDK) over stdio, and the same server
over Streamable HTTP on 127.0.0.1, started by the test and stopped after it."""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def _http(**env: str) -> Iterator[str]:
    proc = subprocess.Popen([PYTHON, str(FAKE_SERVER), "--http"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", **env})
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


@pytest.fixture
def http_server() -> Iterator[str]:
    """The fake server over Streamable HTTP on 127.0.0.1; yields its URL."""
    with _http() as url:
        yield url


HTTP_TOKEN = "tok-fixture-7"


@pytest.fixture
def http_server_with_token() -> Iterator[str]:
    """The same, answering 401 unless ``Authorization: Bearer <HTTP_TOKEN>`` is sent."""
    with _http(FAKE_MCP_REQUIRE_TOKEN=HTTP_TOKEN) as url:
        yield url
