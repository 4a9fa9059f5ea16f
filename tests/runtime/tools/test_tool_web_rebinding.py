"""DNS rebinding: the HTTP helpers connect to the address the policy checked, not to a second lookup.

A resolver stub stands in for DNS on the running loop (``loop.getaddrinfo``, which the policy, the
helpers and httpx's anyio backend all use). A rebinding host answers a public address while it is
being checked and 127.0.0.1 afterwards; the request must never reach the local server.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import pytest
from tool_helpers import call, result

import llmspell.security.policy as policy_mod
import llmspell.tools.builtin._support as support
from fakes.servers import FakeHttpServer
from llmspell.core.errors import SecurityViolationError, ToolError

PUBLIC = "93.184.216.34"


def stub_resolver(monkeypatch: pytest.MonkeyPatch, answers: Callable[[str], str]) -> list[str]:
    """Answer every lookup of a ``*.test`` host with ``answers(host)``; returns the answers given, in order."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    log: list[str] = []

    async def fake(host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        h = host.decode() if isinstance(host, bytes) else str(host)
        if not h.endswith(".test"):
            return await real(host, port, *args, **kw)
        ip = answers(h)
        log.append(ip)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, int(port or 80)))]

    monkeypatch.setattr(loop, "getaddrinfo", fake)
    return log


def _sequence(*ips: str) -> Callable[[str], str]:
    """Answers in turn; the last repeats."""
    calls = {"n": 0}

    def answer(_: str) -> str:
        i = min(calls["n"], len(ips) - 1)
        calls["n"] += 1
        return ips[i]

    return answer


async def test_rebinding_host_cannot_reach_loopback(closed_rt: Any, http: FakeHttpServer,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    http.json("/secret", {"internal": True})
    seen: list[Any] = []
    closed_rt.events.subscribe("security.violation", seen.append)
    log = stub_resolver(monkeypatch, _sequence(PUBLIC, "127.0.0.1"))
    with pytest.raises((SecurityViolationError, ToolError)) as ei:
        await call(closed_rt, "http-requester", {"input": f"http://rebind.test:{http.port}/secret"})
    assert not http.requests, "the rebinding host reached the local server"
    assert isinstance(ei.value, SecurityViolationError) and "loopback" in str(ei.value)
    assert log[0] == PUBLIC and "127.0.0.1" in log[1:]
    await asyncio.sleep(0)
    assert seen and seen[-1].data["address"] == "127.0.0.1"


async def test_rebinding_on_redirect_hop_refused(closed_rt: Any, http: FakeHttpServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Every redirect hop is pinned too. ``start.test`` is the test server (127.0.0.1, counted as public
    here); it redirects to ``hop.test``, which answers public while checked and 127.0.0.3 afterwards."""
    http.redirect("/start", f"http://hop.test:{http.port}/secret")
    http.json("/secret", {"internal": True})
    monkeypatch.setattr(policy_mod, "_blocked_address",
                        lambda ip: None if str(ip) in ("127.0.0.1", PUBLIC) else "loopback")
    monkeypatch.setattr(support, "_refusal_reason", lambda a: None if a in ("127.0.0.1", PUBLIC) else "loopback")
    counts: dict[str, int] = {}

    def answer(host: str) -> str:
        counts[host] = counts.get(host, 0) + 1
        if host == "start.test":
            return "127.0.0.1"
        return PUBLIC if counts[host] == 1 else "127.0.0.3"

    stub_resolver(monkeypatch, answer)
    with pytest.raises(SecurityViolationError, match=r"127\.0\.0\.3"):
        await call(closed_rt, "http-requester", {"input": f"http://start.test:{http.port}/start"})
    assert [r.path for r in http.requests] == ["/start"]


async def test_connection_is_pinned_to_checked_address_and_host_header_kept(
        closed_rt: Any, http: FakeHttpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked answers are 127.0.0.1 (treated as public here); any later lookup answers 127.0.0.2, where
    nothing listens. The request succeeds only if the connection uses the checked address, and the
    server still sees the URL's host name in the Host header."""
    http.echo()
    monkeypatch.setattr(policy_mod, "_blocked_address",
                        lambda ip: None if str(ip) == "127.0.0.1" else "loopback")
    monkeypatch.setattr(support, "_refusal_reason", lambda a: None if a == "127.0.0.1" else "loopback")
    log = stub_resolver(monkeypatch, _sequence("127.0.0.1", "127.0.0.1", "127.0.0.2"))
    r = await result(closed_rt, "http-requester", {"input": f"http://pinned.test:{http.port}/echo"})
    assert r["status_code"] == 200
    assert r["body"]["headers"]["Host"] == f"pinned.test:{http.port}"
    assert log == ["127.0.0.1", "127.0.0.1"]  # the policy's lookup and the pinning one; httpx did none
    assert len(http.requests) == 1


async def test_unresolvable_host_is_a_tool_error(closed_rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()

    async def nxdomain(*_: Any, **__: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(loop, "getaddrinfo", nxdomain)
    with pytest.raises(ToolError, match=r"could not resolve 'nowhere\.test'"):
        await call(closed_rt, "http-requester", {"input": "http://nowhere.test/"})
