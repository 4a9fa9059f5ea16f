"""Fixtures for the builtin tool tests: a runtime on a temporary workspace, local servers, helpers."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tool_helpers import make_runtime

from fakes.servers import FakeHttpServer, FakeSmtpServer


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    d = tmp_path / "ws"
    d.mkdir()
    return d


@pytest.fixture
def rt(ws: Path) -> Any:
    """A runtime whose policy allows loopback (the tests' servers) and nothing else extra."""
    return make_runtime(ws, allow_private_network=True)


@pytest.fixture
def closed_rt(ws: Path) -> Any:
    """A runtime with the default (closed) security policy."""
    return make_runtime(ws)


@pytest.fixture
def runtime_factory(ws: Path) -> Callable[..., Any]:
    return lambda **security: make_runtime(ws, **security)


@pytest.fixture
def violations(rt: Any) -> list[Any]:
    seen: list[Any] = []
    rt.events.subscribe("security.violation", seen.append)
    return seen


@pytest.fixture
async def http() -> AsyncIterator[FakeHttpServer]:
    server = await FakeHttpServer().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def smtp() -> Iterator[FakeSmtpServer]:
    server = FakeSmtpServer().start()
    try:
        yield server
    finally:
        server.stop()
