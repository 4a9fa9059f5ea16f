"""Filesystem tools in temporary workspaces: search, watch, convert, archives, backups, and the
path refusals (outside the workspace, symlink escapes, archive members escaping)."""

from __future__ import annotations

import asyncio
import io
import os
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from tool_helpers import call, result

from llmspell.core.errors import SecurityViolationError, ToolError


def _tree(ws: Path) -> None:
    (ws / "src").mkdir()
    (ws / "src" / "a.py").write_text("import os\nx = 1\n# TODO: fix\ny = 2\n")
    (ws / "src" / "b.md").write_text("Todo list\nnothing\n")
    (ws / "src" / "deep").mkdir()
    (ws / "src" / "deep" / "c.py").write_text("def f():\n    return 'TODO later'\n")
    (ws / "src" / ".git").mkdir()
    (ws / "src" / ".git" / "x.py").write_text("TODO hidden\n")


async def test_file_search_recursive_case_and_extensions(rt: Any, ws: Path) -> None:
    _tree(ws)
    r = await result(rt, "file-search", {"pattern": "TODO", "path": "src", "recursive": True,
                                         "exclude_dirs": [".git"], "context_lines": 1})
    files = sorted(Path(m["file"]).name for m in r["matches"])
    assert files == ["a.py", "c.py"]
    m = next(m for m in r["matches"] if m["file"].endswith("a.py"))
    assert m["line_number"] == 3 and m["context_before"] == ["x = 1"] and m["context_after"] == ["y = 2"]
    r2 = await result(rt, "file-search", {"pattern": "todo", "path": "src", "recursive": True, "case_sensitive": False,
                                          "include_extensions": ["md"]})
    assert [Path(m["file"]).name for m in r2["matches"]] == ["b.md"]
    r3 = await result(rt, "file-search", {"pattern": r"^\s+return", "path": "src", "use_regex": True,
                                          "recursive": False})
    assert r3["total_matches"] == 0  # not recursive: deep/ is not searched
    r4 = await result(rt, "file-search", {"pattern": r"x|y", "path": "src/a.py", "use_regex": True,
                                          "max_matches_per_file": 1})
    assert r4["total_matches"] == 1


async def test_file_search_bad_regex_names_parameter(rt: Any, ws: Path) -> None:
    with pytest.raises(ToolError, match="pattern"):
        await call(rt, "file-search", {"pattern": "(", "path": ".", "use_regex": True})


async def test_file_search_skips_symlinks_leaving_the_tree(rt: Any, ws: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN=abc\n")
    (ws / "d").mkdir()
    (ws / "d" / "ok.txt").write_text("TOKEN here\n")
    os.symlink(secret, ws / "d" / "link.txt")
    r = await result(rt, "file-search", {"pattern": "TOKEN", "path": "d"})
    assert [Path(m["file"]).name for m in r["matches"]] == ["ok.txt"]
    assert r["files_skipped"] == 1


async def test_path_outside_workspace_is_refused_and_reported(rt: Any, violations: list[Any],
                                                              tmp_path: Path) -> None:
    with pytest.raises(SecurityViolationError, match="outside the allowed paths"):
        await call(rt, "file-search", {"pattern": "x", "path": str(tmp_path)})
    with pytest.raises(SecurityViolationError):
        await call(rt, "file-search", {"pattern": "x", "path": "../"})
    await asyncio.sleep(0)
    assert len(violations) == 2 and violations[0].data["operation"] == "file.read"


async def test_symlink_escape_is_refused(rt: Any, ws: Path, tmp_path: Path, violations: list[Any]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text("data")
    os.symlink(outside, ws / "escape")
    with pytest.raises(SecurityViolationError):
        await call(rt, "file-converter", {"operation": "encoding", "path": "escape/f.txt"})
    assert violations


async def test_file_watcher_reports_created_file(rt: Any, ws: Path) -> None:
    (ws / "watched").mkdir()
    cfg = await result(rt, "file-watcher", {"operation": "config", "input": ["watched"], "timeout_ms": 1500})
    assert cfg["valid"] and cfg["config"]["timeout_ms"] == 1500

    async def writer() -> None:
        await asyncio.sleep(0.4)
        (ws / "watched" / "new.txt").write_text("hello")
        (ws / "watched" / "skip.log").write_text("x")

    task = asyncio.create_task(writer())
    r = await result(rt, "file-watcher", {"operation": "watch", "input": ["watched"], "pattern": "*.txt",
                                          "timeout_ms": 5000, "debounce_ms": 50})
    await task
    assert not r["timed_out"]
    assert any(e["path"].endswith("new.txt") and e["kind"] in ("created", "modified") for e in r["events"])
    assert not any(e["path"].endswith(".log") for e in r["events"])


async def test_file_watcher_times_out_without_changes(rt: Any, ws: Path) -> None:
    r = await result(rt, "file-watcher", {"operation": "watch", "input": ["."], "timeout_ms": 200})
    assert r["timed_out"] and r["count"] == 0


async def test_file_converter_encoding_line_endings_indentation(rt: Any, ws: Path) -> None:
    (ws / "latin.txt").write_bytes("caf\u00e9 cr\u00e8me br\u00fbl\u00e9e\n".encode("latin-1"))
    r = await result(rt, "file-converter", {"operation": "encoding", "path": "latin.txt", "from_encoding": "latin-1",
                                            "target_path": "utf8.txt"})
    assert (ws / "utf8.txt").read_text("utf-8") == "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e\n"
    assert r["to_encoding"] == "utf-8"
    (ws / "unix.txt").write_text("a\nb\n")
    await result(rt, "file-converter", {"operation": "line_endings", "path": "unix.txt", "line_ending": "crlf"})
    assert (ws / "unix.txt").read_bytes() == b"a\r\nb\r\n"
    (ws / "tabs.py").write_text("if x:\n\treturn 1\n\t  y\n")
    await result(rt, "file-converter", {"operation": "indentation", "path": "tabs.py", "tab_size": 4})
    assert (ws / "tabs.py").read_text() == "if x:\n    return 1\n      y\n"
    await result(rt, "file-converter", {"operation": "indentation", "path": "tabs.py", "convert_to_spaces": False})
    assert (ws / "tabs.py").read_text() == "if x:\n\treturn 1\n\t  y\n"


@pytest.mark.parametrize("name", ["out.zip", "out.tar.gz", "out.tar.bz2", "out.tar"])
async def test_archive_create_list_extract_roundtrip(rt: Any, ws: Path, name: str) -> None:
    _tree(ws)
    r = await result(rt, "archive-handler", {"operation": "create", "path": name, "input": ["src/a.py", "src/deep"]})
    assert r["files_added"] == 2
    listing = await result(rt, "archive-handler", {"operation": "list", "path": name})
    names = sorted(e["name"] for e in listing["entries"] if not e["is_dir"])
    assert names == ["a.py", "deep/c.py"]
    ex = await result(rt, "archive-handler", {"operation": "extract", "path": name, "target_path": "out"})
    assert ex["count"] == 2
    assert (ws / "out" / "deep" / "c.py").read_text() == (ws / "src" / "deep" / "c.py").read_text()


async def test_archive_zip_slip_is_refused(rt: Any, ws: Path, violations: list[Any]) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr("../../evil.txt", "pwned")
    (ws / "bad.zip").write_bytes(buf.getvalue())
    with pytest.raises(SecurityViolationError, match="outside"):
        await call(rt, "archive-handler", {"operation": "extract", "path": "bad.zip", "target_path": "x"})
    assert not (ws.parent / "evil.txt").exists() and not (ws / "x" / "ok.txt").exists()
    assert violations


async def test_archive_tar_with_symlink_member_is_refused(rt: Any, ws: Path) -> None:
    with tarfile.open(ws / "link.tar", "w") as tf:
        info = tarfile.TarInfo("link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(SecurityViolationError, match="link"):
        await call(rt, "archive-handler", {"operation": "extract", "path": "link.tar", "target_path": "t"})


async def test_archive_corrupt_file_is_a_tool_error(rt: Any, ws: Path) -> None:
    (ws / "junk.zip").write_bytes(b"PK not really")
    with pytest.raises(ToolError, match="not a readable archive"):
        await call(rt, "archive-handler", {"operation": "list", "path": "junk.zip"})


async def test_archive_size_limit(rt: Any, ws: Path) -> None:
    with zipfile.ZipFile(ws / "big.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * 100_000)
    with pytest.raises(ToolError, match="limit"):
        await call(rt, "archive-handler", {"operation": "extract", "path": "big.zip", "max_size": 1000})


async def test_backup_and_restore(rt: Any, ws: Path) -> None:
    _tree(ws)
    b = await result(rt, "backup-manager", {"operation": "backup", "source": "src", "label": "before"})
    assert b["files"] == 4
    (ws / "src" / "a.py").write_text("broken")
    (ws / "src" / "deep" / "c.py").unlink()
    listing = await result(rt, "backup-manager", {"operation": "list"})
    assert listing["count"] == 1 and listing["backups"][0]["backup_id"] == b["backup_id"]
    v = await result(rt, "backup-manager", {"operation": "verify"})
    assert v["valid"] is True
    r = await result(rt, "backup-manager", {"operation": "restore", "backup_id": b["backup_id"]})
    assert r["count"] == 4
    assert (ws / "src" / "a.py").read_text().startswith("import os")
    assert (ws / "src" / "deep" / "c.py").exists()
    alt = await result(rt, "backup-manager", {"operation": "restore", "target_path": "restored"})
    assert alt["count"] == 4 and (ws / "restored" / "src" / "b.md").read_text() == "Todo list\nnothing\n"
    # a corrupted archive is detected before anything is written
    arch = next((ws / ".llmspell" / "backups").glob("*.tar.gz"))
    arch.write_bytes(arch.read_bytes()[:-10] + b"0123456789")
    assert (await result(rt, "backup-manager", {"operation": "verify"}))["valid"] is False
    with pytest.raises(ToolError, match="corrupted"):
        await call(rt, "backup-manager", {"operation": "restore"})
    d = await result(rt, "backup-manager", {"operation": "delete", "backup_id": b["backup_id"]})
    assert d["deleted"] and (await result(rt, "backup-manager", {"operation": "list"}))["count"] == 0


async def test_backup_source_outside_is_refused(rt: Any, tmp_path: Path) -> None:
    with pytest.raises(SecurityViolationError):
        await call(rt, "backup-manager", {"operation": "backup", "source": str(tmp_path)})
