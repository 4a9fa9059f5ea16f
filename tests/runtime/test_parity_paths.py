"""Relative names read from the directory a run started in (rs-llmspell resolves relative paths from the
process's current directory; its spells, run from the project root, name files that way), but only
inside the allowed paths; and webhook-caller's soft failure when nothing answers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmspell.core.errors import SecurityViolationError
from llmspell.runtime import Runtime
from llmspell.security.policy import SecurityPolicy


@contextlib.contextmanager
def cwd(p: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(p)
    try:
        yield
    finally:
        os.chdir(old)


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    """A project root with a spell folder below it; the spell folder is the workspace."""
    root = tmp_path / "proj"
    ws = root / "apps" / "one"
    ws.mkdir(parents=True)
    (ws / "data.lua").write_text("return {n = 3}")
    return root, ws


def test_read_falls_back_to_the_current_directory_inside_the_roots(project: tuple[Path, Path]) -> None:
    root, ws = project
    g = SecurityPolicy(workspace=ws).gate
    with cwd(root):
        assert g.read_text("apps/one/data.lua") == "return {n = 3}"
        assert g.read_text("data.lua") == "return {n = 3}"  # the workspace's own name still wins


def test_writes_never_fall_back(project: tuple[Path, Path]) -> None:
    root, ws = project
    g = SecurityPolicy(workspace=ws).gate
    with cwd(root):
        g.write_text("apps/one/data.lua", "new")
    assert (ws / "apps" / "one" / "data.lua").read_text() == "new"
    assert (ws / "data.lua").read_text() == "return {n = 3}"


def test_a_current_directory_outside_the_roots_gives_nothing(project: tuple[Path, Path]) -> None:
    root, ws = project
    (root / "secret.txt").write_text("SECRET")
    g = SecurityPolicy(workspace=ws).gate
    with cwd(root):
        with pytest.raises(FileNotFoundError):
            g.read_text("secret.txt")  # root itself is not an allowed path
        with pytest.raises(SecurityViolationError):
            g.read_text("../../secret.txt")


def test_the_fallback_never_follows_a_link_out(project: tuple[Path, Path], tmp_path: Path) -> None:
    root, ws = project
    (tmp_path / "outside.txt").write_text("SECRET")
    os.symlink(tmp_path / "outside.txt", ws / "link.txt")
    g = SecurityPolicy(workspace=ws).gate
    with cwd(root), pytest.raises((SecurityViolationError, FileNotFoundError)) as ei:
        g.read_text("apps/one/link.txt")
    assert "SECRET" not in str(ei.value)


async def test_lua_dofile_from_the_project_root(project: tuple[Path, Path]) -> None:
    from llmspell.runner import SpellRunner

    root, ws = project
    spell = ws / "main.lua"
    spell.write_text('local d = dofile("apps/one/data.lua")\nlocal f = assert(io.open("apps/one/data.lua"))\n'
                     'print(d.n, #f:read("a"))\n')
    out: list[str] = []
    fin: Any = None
    with cwd(root):
        async for m in SpellRunner(lambda: Runtime(workspace=ws)).run(spell):
            if m.type == "output":
                out.append(m.text)
            elif m.type == "finished":
                fin = m
    assert fin is not None and fin.status == "success", fin and fin.error
    assert "".join(out).strip() == "3\t14"


async def test_webhook_to_an_unresolvable_host_is_a_soft_failure(tmp_path: Path) -> None:
    rt = Runtime(workspace=tmp_path, state="memory")
    out = await rt.tools.execute("webhook-caller", {"input": "https://no-such-host.invalid/hook",
                                                    "payload": {"a": 1}, "max_retries": 3, "backoff_ms": 0})
    assert out.success is False
    assert "could not resolve 'no-such-host.invalid'" in (out.error or "")
    assert "after" not in (out.error or ""), "an unresolvable host is not retried"
    import json

    body = json.loads(out.text)
    assert body["success"] is False and body["result"]["webhook_url"] == "https://no-such-host.invalid/hook"
