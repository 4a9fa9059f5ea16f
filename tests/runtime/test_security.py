"""Each refusal of the security policy, with a message that says what to change; and its reporting."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from llmspell.config import SecurityConfig
from llmspell.core.errors import SecurityViolationError
from llmspell.events.bus import EventBus
from llmspell.hooks.registry import HookRegistry
from llmspell.security.policy import SecurityPolicy, report_violations_to


def policy(tmp_path: Path, **kw: Any) -> SecurityPolicy:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    return SecurityPolicy.from_config(SecurityConfig(**kw), workspace=ws)


def test_paths_inside_workspace_are_allowed(tmp_path: Path) -> None:
    p = policy(tmp_path)
    ws = tmp_path / "ws"
    assert p.check_path("notes/a.txt") == (ws / "notes" / "a.txt").resolve()
    assert p.check_path(ws / "x.txt", write=True) == (ws / "x.txt").resolve()
    assert p.check_path(ws) == ws.resolve()


@pytest.mark.parametrize("bad", ["../outside.txt", "/etc/passwd", "sub/../../outside.txt"])
def test_paths_outside_are_refused_naming_path_and_roots(tmp_path: Path, bad: str) -> None:
    p = policy(tmp_path)
    with pytest.raises(SecurityViolationError) as ei:
        p.check_path(bad)
    msg = str(ei.value)
    assert bad in msg and str((tmp_path / "ws").resolve()) in msg and "allowed_paths" in msg
    assert ei.value.details["operation"] == "file.read"


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    p = policy(tmp_path)
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("x")
    (tmp_path / "ws" / "link").symlink_to(secret)
    with pytest.raises(SecurityViolationError, match="outside the allowed paths"):
        p.check_path("link/key", write=True)


def test_prefix_sibling_is_not_inside(tmp_path: Path) -> None:
    p = policy(tmp_path)
    (tmp_path / "ws2").mkdir()
    with pytest.raises(SecurityViolationError):
        p.check_path(tmp_path / "ws2" / "f")


def test_allowed_paths_and_allow_path(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "spells").mkdir()
    p = policy(tmp_path, allowed_paths=[str(tmp_path / "data")])
    assert p.check_path(tmp_path / "data" / "f.csv")
    with pytest.raises(SecurityViolationError):
        p.check_path(tmp_path / "spells" / "s.lua")
    p.allow_path(tmp_path / "spells")
    assert p.check_path(tmp_path / "spells" / "s.lua")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("file:///etc/passwd", "scheme 'file'"),
        ("ftp://example.com/x", "scheme 'ftp'"),
        ("http://127.0.0.1:8080/", "loopback"),
        ("http://localhost/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://192.168.0.10/", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://224.0.0.1/", "multicast"),
        ("http://0.0.0.0/", "unspecified"),
        ("http:///nohost", "no host"),
    ],
)
async def test_urls_refused(tmp_path: Path, url: str, fragment: str) -> None:
    p = policy(tmp_path)
    with pytest.raises(SecurityViolationError, match=fragment):
        await p.check_url(url)


async def test_public_and_private_when_allowed(tmp_path: Path) -> None:
    await policy(tmp_path).check_url("https://93.184.216.34/index.html")
    await policy(tmp_path, allow_private_network=True).check_url("http://127.0.0.1:9/")


async def test_network_allow_list(tmp_path: Path) -> None:
    p = policy(tmp_path, network_allow=["*.example.com", "api.test.org"], allow_private_network=True)
    await p.check_url("https://docs.example.com/a")
    await p.check_url("https://API.test.org/v1")
    with pytest.raises(SecurityViolationError, match=r"not in security\.network_allow"):
        await p.check_url("https://evil.com/")


def test_executables(tmp_path: Path) -> None:
    with pytest.raises(SecurityViolationError, match="running programs is disabled"):
        policy(tmp_path, process_allow=[]).check_executable("ls")
    p = policy(tmp_path, process_allow=["ls", sys.executable])
    assert p.check_executable("ls") == shutil.which("ls")
    with pytest.raises(SecurityViolationError, match="process_allow_interpreters"):
        p.check_executable(sys.executable)  # an interpreter runs anything: it must be marked as such
    marked = policy(tmp_path, process_allow=[sys.executable], process_allow_interpreters=[sys.executable])
    assert marked.check_executable(sys.executable) == sys.executable
    with pytest.raises(SecurityViolationError, match=r"not in security\.process_allow"):
        p.check_executable("rm")
    with pytest.raises(SecurityViolationError, match="no shell syntax"):
        p.check_executable("ls; rm -rf /")
    with pytest.raises(SecurityViolationError, match=r"not in security\.process_allow"):
        p.check_executable("/bin/sh")
    with pytest.raises(SecurityViolationError, match="not found on PATH"):
        policy(tmp_path, process_allow=["no-such-program-xyz"]).check_executable("no-such-program-xyz")


def test_env_visibility(tmp_path: Path) -> None:
    p = policy(tmp_path, env_allow=["GITHUB_TOKEN", "APP_*"])
    # an allow-list: nothing is visible unless named, however harmless or innocent its name looks
    for name in ["HOME", "PATH", "OPENAI_API_KEY", "db_password", "DATABASE_URL", "DB_PASS", "SLACK_TOKEN"]:
        assert not p.env_visible(name)
    assert p.env_visible("GITHUB_TOKEN") and p.env_visible("APP_MODE")
    with pytest.raises(SecurityViolationError, match="env_allow"):
        p.check_env("OPENAI_API_KEY")
    assert p.max_response_bytes == 10 * 1024 * 1024 and p.network_timeout_s == 30.0


async def test_every_refusal_is_reported(tmp_path: Path) -> None:
    p = policy(tmp_path)
    bus = EventBus()
    hooks = HookRegistry(bus)
    hooked: list[dict[str, Any]] = []
    hooks.register("SecurityViolation", lambda ctx: hooked.append(ctx.data))
    report_violations_to(p, bus, hooks)
    events: list[Any] = []
    bus.subscribe("security.violation", events.append)
    with pytest.raises(SecurityViolationError):
        p.check_path("/etc/passwd")
    with pytest.raises(SecurityViolationError):
        await p.check_url("gopher://x")
    with pytest.raises(SecurityViolationError):
        p.check_executable("rm")  # not in the default process_allow
    await hooks.drain()
    assert [e.data["operation"] for e in events] == ["file.read", "network", "process"]
    assert "outside the allowed paths" in events[0].data["reason"]
    assert len(hooked) == 3 and p.violations == 3


def test_reporting_callback_failure_keeps_the_refusal(tmp_path: Path) -> None:
    p = policy(tmp_path)

    def broken(*a: Any) -> None:
        raise RuntimeError("reporter down")

    p.on_violation = broken
    with pytest.raises(SecurityViolationError):
        p.check_path(os.sep)
