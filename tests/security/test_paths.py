"""Path attacks on every file touch (issue 10, item 4): spells (Lua io/os/require/dofile) and tools.

Each test tries one way out of the workspace and asserts the refusal AND that nothing outside
changed: the outside file keeps its content, nothing was created outside, and the secret's content
is absent from what the spell or tool got back.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import sqlite3
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from .attacks import swapping_symlink

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakes import collect_run
from llmspell.core.errors import LLMSpellError, SecurityViolationError

pytestmark = pytest.mark.asyncio

SECRET = "TOP-SECRET-9f8e7d"


# ----------------------------------------------------------------------------------- fixtures


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    d = tmp_path / "ws"
    d.mkdir()
    return d


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A directory outside the workspace holding the secret."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret.txt").write_text(SECRET)
    return d


@pytest.fixture
def rt(ws: Path) -> Any:
    from llmspell.runtime import Runtime

    return Runtime(workspace=ws, state="memory")


def _unchanged(out: Path, extra: set[str] | None = None) -> None:
    assert (out / "secret.txt").read_text() == SECRET
    names = {p.name for p in out.iterdir()}
    assert names == {"secret.txt"} | (extra or set()), names


async def _tool(rt: Any, name: str, params: dict[str, Any]) -> Any:
    out = await rt.tools.execute(name, params)
    return out


async def _refused(rt: Any, name: str, params: dict[str, Any], exc: type[BaseException] = SecurityViolationError,
                   match: str | None = None) -> None:
    """The tool call fails with ``exc``; and the secret is not in the message."""
    try:
        res = await asyncio.wait_for(_tool(rt, name, params), 20)
    except exc as e:
        assert SECRET not in str(e)
        if match is not None:
            assert match in str(e), str(e)
        return
    raise AssertionError(f"{name} {params} was not refused: {res!r}"[:2000])


def _no_secret(res: Any) -> None:
    text = repr(res) + repr(getattr(res, "text", "")) + repr(getattr(res, "data", ""))
    assert SECRET not in text


async def run_spell(ws: Path, src: str, name: str = "spell.lua") -> tuple[str, Any]:
    from llmspell.runner import SpellRunner
    from llmspell.runtime import Runtime

    spell = ws / name
    spell.write_text(src)
    runner = SpellRunner(lambda: Runtime(workspace=ws, state="memory"))
    text, fin, _ = await asyncio.wait_for(collect_run(runner, spell), 60)
    assert SECRET not in text
    assert fin is None or SECRET not in repr(fin.result)
    return text, fin


# ----------------------------------------------------------------------------------- Lua io / os / require


async def test_lua_io_open_symlink_file_and_dir_escape(ws: Path, out: Path) -> None:
    os.symlink(out / "secret.txt", ws / "f.txt")
    os.symlink(out, ws / "d")
    os.symlink("../outside/secret.txt", ws / "rel.txt")
    text, _ = await run_spell(ws, """
        for _, p in ipairs({"f.txt", "d/secret.txt", "rel.txt"}) do
          local f, err = io.open(p); print("r", p, f, err ~= nil)
          if f then print(f:read("a")) end
          local w, err2 = io.open(p, "w"); print("w", p, w, err2 ~= nil)
          if w then w:write("pwned"); w:close() end
          local a = io.open(p, "a"); if a then a:write("pwned"); a:close() end
        end
        local w = io.open("d/new.txt", "w"); if w then w:write("x"); w:close() end
        print(pcall(io.lines, "d/secret.txt"))
    """)
    assert text.count("outside the allowed paths") >= 1
    assert "r\tf.txt\tnil\ttrue" in text and "w\td/secret.txt\tnil\ttrue" in text
    _unchanged(out)


async def test_lua_dotdot_absolute_and_proc(ws: Path, out: Path) -> None:
    text, _ = await run_spell(ws, f"""
        for _, p in ipairs({{"../outside/secret.txt", "{out}/secret.txt", "/proc/self/environ",
                            "/proc/self/root{out}/secret.txt", "sub/../../outside/secret.txt",
                            "%2e%2e/outside/secret.txt"}}) do
          local f, err = io.open(p); print(p, f)
          if f then print(f:read("a")) end
          print(pcall(dofile, p)); print(loadfile(p))
        end
    """)
    assert "userdata" not in text and "file (" not in text
    _unchanged(out)


async def test_lua_hardlink_is_refused(ws: Path, out: Path) -> None:
    os.link(out / "secret.txt", ws / "hard.txt")
    text, _ = await run_spell(ws, """
        local f, err = io.open("hard.txt"); print(f, err)
        local w, err2 = io.open("hard.txt", "w"); print(w, err2)
        if w then w:write("pwned"); w:close() end
    """)
    assert "hard links" in text
    _unchanged(out)


async def test_lua_fifo_does_not_block_and_devices_refused(ws: Path, out: Path) -> None:
    os.mkfifo(ws / "pipe")
    os.symlink("/dev/zero", ws / "zero")
    text, _fin = await run_spell(ws, """
        print(io.open("pipe")); print(io.open("pipe", "w")); print(pcall(dofile, "pipe"))
        print(io.open("zero")); print(io.open("/dev/zero"))
        print(pcall(require, "pipe"))
        print("done")
    """)
    assert "done" in text and "file (" not in text and "userdata" not in text
    assert "FIFO" in text


async def test_lua_os_remove_rename_through_links(ws: Path, out: Path) -> None:
    os.symlink(out, ws / "d")
    (ws / "mine.txt").write_text("m")
    text, _ = await run_spell(ws, f"""
        print(os.remove("d/secret.txt"))
        print(os.rename("d/secret.txt", "stolen.txt"))
        print(os.rename("mine.txt", "d/planted.txt"))
        print(os.rename("mine.txt", "../outside/planted.txt"))
        print(os.remove("{out}/secret.txt"))
        print(os.remove("d"))
    """)
    assert text.count("outside the allowed paths") >= 4, text
    assert not (ws / "stolen.txt").exists()
    assert (ws / "mine.txt").read_text() == "m"
    _unchanged(out)
    # removing the link itself is fine: the link goes, the target stays
    assert not (ws / "d").exists()


async def test_lua_require_and_dofile_through_link(ws: Path, out: Path) -> None:
    (out / "evil.lua").write_text(f'print("{SECRET}") return 1')
    os.symlink(out / "evil.lua", ws / "mod.lua")
    os.symlink(out, ws / "pkg")
    text, _ = await run_spell(ws, """
        print(pcall(require, "mod")); print(pcall(require, "pkg.evil")); print(pcall(dofile, "mod.lua"))
        print(loadfile("pkg/evil.lua"))
    """)
    assert "outside the allowed paths" in text


async def test_lua_symlink_swap_race_never_reads_outside(ws: Path, out: Path) -> None:
    (ws / "real").mkdir()
    (ws / "real" / "secret.txt").write_text("harmless")
    with swapping_symlink(ws, out):
        text, _ = await run_spell(ws, """
            local n = 0
            for i = 1, 3000 do
              local f = io.open("real/secret.txt")
              if f then local s = f:read("a"); f:close(); if s == "harmless" then n = n + 1 end end
              local w = io.open("real/secret.txt", "w"); if w then w:write("harmless"); w:close() end
            end
            print("reads", n)
        """)
    assert "reads" in text
    _unchanged(out)


# ----------------------------------------------------------------------------------- file-operations


async def test_file_operations_symlink_escapes(rt: Any, ws: Path, out: Path) -> None:
    os.symlink(out / "secret.txt", ws / "f.txt")
    os.symlink(out, ws / "d")
    os.symlink(out / "new.txt", ws / "dangling")
    for params in (
        {"operation": "read", "path": "f.txt"},
        {"operation": "read", "path": "d/secret.txt"},
        {"operation": "write", "path": "f.txt", "input": "pwned"},
        {"operation": "append", "path": "d/secret.txt", "input": "pwned"},
        {"operation": "write", "path": "dangling", "input": "pwned"},
        {"operation": "write", "path": "d/new.txt", "input": "pwned"},
        {"operation": "delete", "path": "d/secret.txt"},
        {"operation": "create_dir", "path": "d/newdir"},
        {"operation": "list_dir", "path": "d"},
        {"operation": "metadata", "path": "d/secret.txt"},
        {"operation": "copy", "source_path": "d/secret.txt", "target_path": "stolen.txt"},
        {"operation": "copy", "source_path": "f.txt", "target_path": "stolen.txt"},
        {"operation": "move", "source_path": "d/secret.txt", "target_path": "stolen.txt"},
        {"operation": "copy", "source_path": "d", "target_path": "stolen"},
    ):
        await _refused(rt, "file-operations", params)
    (ws / "mine.txt").write_text("m")
    await _refused(rt, "file-operations", {"operation": "copy", "source_path": "mine.txt",
                                           "target_path": "d/planted.txt"})
    await _refused(rt, "file-operations", {"operation": "move", "source_path": "mine.txt",
                                           "target_path": "d/planted.txt"})
    assert not (ws / "stolen.txt").exists() and not (ws / "stolen").exists()
    _unchanged(out)


async def test_file_operations_dir_copy_never_follows_links(rt: Any, ws: Path, out: Path) -> None:
    (ws / "src").mkdir()
    (ws / "src" / "ok.txt").write_text("ok")
    os.symlink(out, ws / "src" / "escape_dir")
    os.symlink(out / "secret.txt", ws / "src" / "escape_file")
    await _refused(rt, "file-operations", {"operation": "copy", "source_path": "src", "target_path": "dst"})
    for p in ws.rglob("*"):
        if p.is_file() and not p.is_symlink():
            assert SECRET not in p.read_text(errors="replace")
    _unchanged(out)
    # links that stay inside are copied as links
    os.unlink(ws / "src" / "escape_dir")
    os.unlink(ws / "src" / "escape_file")
    os.symlink("ok.txt", ws / "src" / "alias")
    await _tool(rt, "file-operations", {"operation": "copy", "source_path": "src", "target_path": "dst"})
    assert os.readlink(ws / "dst" / "alias") == "ok.txt" and (ws / "dst" / "ok.txt").read_text() == "ok"


async def test_file_operations_delete_link_keeps_target(rt: Any, ws: Path, out: Path) -> None:
    os.symlink(out, ws / "d")
    await _tool(rt, "file-operations", {"operation": "delete", "path": "d", "recursive": True})
    assert not os.path.lexists(ws / "d")
    _unchanged(out)


@pytest.mark.parametrize("bad", ["../outside/secret.txt", "%2e%2e/outside/secret.txt", "a\x00b",
                                 "/proc/self/environ", "/dev/zero", "sub/../../outside/secret.txt"])
async def test_file_operations_dotdot_absolute_encoded(rt: Any, ws: Path, out: Path, bad: str) -> None:
    try:
        res = await _tool(rt, "file-operations", {"operation": "read", "path": bad})
    except LLMSpellError as e:
        assert SECRET not in str(e)
    else:
        _no_secret(res)
        assert not getattr(res, "success", True) or "%2e" in bad
    _unchanged(out)


async def test_file_operations_fifo_hardlink_device(rt: Any, ws: Path, out: Path) -> None:
    os.mkfifo(ws / "pipe")
    os.link(out / "secret.txt", ws / "hard.txt")
    os.symlink("/dev/zero", ws / "zero")
    await _refused(rt, "file-operations", {"operation": "read", "path": "pipe"}, match="FIFO")
    await _refused(rt, "file-operations", {"operation": "read", "path": "hard.txt"}, match="hard links")
    await _refused(rt, "file-operations", {"operation": "write", "path": "hard.txt", "input": "pwned"})
    await _refused(rt, "file-operations", {"operation": "append", "path": "hard.txt", "input": "pwned"})
    await _refused(rt, "file-operations", {"operation": "read", "path": "zero"})
    await _refused(rt, "file-operations", {"operation": "copy", "source_path": "hard.txt", "target_path": "c.txt"})
    _unchanged(out)


# ----------------------------------------------------------------------------------- other file tools


async def test_reading_tools_refuse_links_out(rt: Any, ws: Path, out: Path) -> None:
    os.symlink(out / "secret.txt", ws / "f.txt")
    os.link(out / "secret.txt", ws / "hard.txt")
    for p in ("f.txt", "hard.txt"):
        for name, params in (
            ("hash-calculator", {"operation": "hash", "input_type": "file", "input": p}),
            ("base64-encoder", {"operation": "encode", "input_file": p}),
            ("file-converter", {"operation": "encoding", "path": p, "target_path": "conv.txt"}),
            ("json-processor", {"operation": "query", "file": p}),
            ("csv-analyzer", {"operation": "analyze", "file": p}),
            ("yaml-processor", {"operation": "parse", "file": p}),
            ("xml-processor", {"operation": "parse", "file": p}),
            ("diff-calculator", {"old_file": p, "new_file": p}),
            ("vector-search", {"operation": "load", "path": p}),
            ("excel-processor", {"operation": "read", "path": p}),
            ("image-processor", {"operation": "metadata", "file_path": p}),
            ("audio-processor", {"operation": "detect", "file_path": p}),
        ):
            try:
                res = await asyncio.wait_for(_tool(rt, name, params), 20)
            except LLMSpellError as e:
                assert SECRET not in str(e), (name, str(e))
                if not isinstance(e, SecurityViolationError) and "parameter" not in str(e) \
                        and "not found" not in str(e).lower() and "unknown" not in str(e).lower():
                    raise AssertionError(f"{name} on {p}: expected a refusal, got {e!r}") from e
            else:
                _no_secret(res)
                raise AssertionError(f"{name} on {p} was not refused: {res!r}"[:1000])
    _unchanged(out)


async def test_writing_tools_refuse_links_out(rt: Any, ws: Path, out: Path) -> None:
    os.symlink(out / "secret.txt", ws / "f.txt")
    os.symlink(out, ws / "d")
    (ws / "in.txt").write_text("hello")
    for name, params in (
        ("base64-encoder", {"operation": "encode", "input": "aGk=", "output_file": "f.txt"}),
        ("base64-encoder", {"operation": "encode", "input": "aGk=", "output_file": "d/new.txt"}),
        ("file-converter", {"operation": "encoding", "path": "in.txt", "target_path": "f.txt"}),
        ("file-converter", {"operation": "encoding", "path": "in.txt", "target_path": "d/new.txt"}),
        ("excel-processor", {"operation": "write", "path": "d/new.xlsx", "rows": [{"a": 1}]}),
        ("archive-handler", {"operation": "create", "path": "d/new.zip", "input": ["in.txt"]}),
        ("archive-handler", {"operation": "create", "path": "f.txt", "input": ["in.txt"]}),
    ):
        await _refused(rt, name, params)
    _unchanged(out)


async def test_file_search_and_watcher_do_not_enter_links(rt: Any, ws: Path, out: Path) -> None:
    (ws / "d").mkdir()
    os.symlink(out, ws / "d" / "up")
    os.symlink(out / "secret.txt", ws / "d" / "s.txt")
    os.link(out / "secret.txt", ws / "d" / "hard.txt")
    os.mkfifo(ws / "d" / "pipe")
    res = await asyncio.wait_for(_tool(rt, "file-search", {"pattern": "SECRET", "path": ".", "recursive": True}), 20)
    _no_secret(res)
    await _refused(rt, "file-search", {"pattern": "x", "path": "d/up"})
    await _refused(rt, "file-watcher", {"operation": "config", "input": ["d/up"]})
    _unchanged(out)


# ----------------------------------------------------------------------------------- archives


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> None:
    with tarfile.open(path, "w") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)


async def test_archive_link_members_are_refused(rt: Any, ws: Path, out: Path) -> None:
    hard = tarfile.TarInfo("hard")
    hard.type = tarfile.LNKTYPE
    hard.linkname = str(out / "secret.txt")
    rel = tarfile.TarInfo("relhard")
    rel.type = tarfile.LNKTYPE
    rel.linkname = "../../outside/secret.txt"
    sym = tarfile.TarInfo("d")
    sym.type = tarfile.SYMTYPE
    sym.linkname = str(out)
    after = tarfile.TarInfo("d/planted.txt")
    after.size = 5
    fifo = tarfile.TarInfo("pipe")
    fifo.type = tarfile.FIFOTYPE
    dev = tarfile.TarInfo("zero")
    dev.type = tarfile.CHRTYPE
    dev.devmajor, dev.devminor = 1, 5
    for i, members in enumerate(([(hard, None)], [(rel, None)], [(sym, None), (after, b"pwned")], [(fifo, None)],
                                 [(dev, None)])):
        _tar(ws / f"a{i}.tar", members)
        await _refused(rt, "archive-handler", {"operation": "extract", "path": f"a{i}.tar", "target_path": f"x{i}"})
    _unchanged(out)


async def test_archive_members_through_existing_link_and_zip_slip(rt: Any, ws: Path, out: Path) -> None:
    (ws / "t").mkdir()
    os.symlink(out, ws / "t" / "link")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("link/planted.txt", "pwned")
    (ws / "a.zip").write_bytes(buf.getvalue())
    await _refused(rt, "archive-handler", {"operation": "extract", "path": "a.zip", "target_path": "t"})
    for name in ("../../outside/planted.txt", "/tmp/../" + str(out)[1:] + "/planted.txt", "..\\..\\planted.txt",
                 "ok/\x00x"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(zipfile.ZipInfo(name), "pwned")
        (ws / "b.zip").write_bytes(buf.getvalue())
        try:
            await _tool(rt, "archive-handler", {"operation": "extract", "path": "b.zip", "target_path": "u"})
        except LLMSpellError:
            pass
    # a zip symlink member (unix mode S_IFLNK) is not created as a link
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zi = zipfile.ZipInfo("zl")
        zi.external_attr = (0o120777 << 16)
        zf.writestr(zi, str(out / "secret.txt"))
    (ws / "c.zip").write_bytes(buf.getvalue())
    try:
        await _tool(rt, "archive-handler", {"operation": "extract", "path": "c.zip", "target_path": "v"})
    except LLMSpellError:
        pass
    assert not (ws / "v" / "zl").is_symlink()
    _unchanged(out)


async def test_archive_create_does_not_follow_links_out(rt: Any, ws: Path, out: Path) -> None:
    (ws / "src").mkdir()
    (ws / "src" / "ok.txt").write_text("ok")
    os.symlink(out / "secret.txt", ws / "src" / "s.txt")
    os.symlink(out, ws / "src" / "dir")
    os.link(out / "secret.txt", ws / "src" / "hard.txt")
    try:
        await _tool(rt, "archive-handler", {"operation": "create", "path": "a.tar", "input": ["src"]})
    except SecurityViolationError:
        pass
    if (ws / "a.tar").exists():
        with tarfile.open(ws / "a.tar") as tf:
            for m in tf.getmembers():
                f = tf.extractfile(m)
                assert f is None or SECRET.encode() not in f.read()
    await _refused(rt, "archive-handler", {"operation": "create", "path": "b.tar", "input": ["src/s.txt"]})
    await _refused(rt, "archive-handler", {"operation": "list", "path": "src/dir/x.tar"})
    _unchanged(out)


async def test_archive_size_is_counted_on_bytes_written(rt: Any, ws: Path, out: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.bin", b"\0" * 200_000)
    data = bytearray(buf.getvalue())
    # lie about the uncompressed size in the central directory
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24:cd + 28] = (10).to_bytes(4, "little")
    (ws / "lie.zip").write_bytes(bytes(data))
    try:
        await _tool(rt, "archive-handler", {"operation": "extract", "path": "lie.zip", "target_path": "o",
                                            "max_size": 1000})
    except LLMSpellError:
        pass
    assert not (ws / "o" / "big.bin").exists() or (ws / "o" / "big.bin").stat().st_size <= 1000


# ----------------------------------------------------------------------------------- backup-manager


async def _backup(rt: Any, ws: Path) -> dict[str, Any]:
    (ws / "data").mkdir(exist_ok=True)
    (ws / "data" / "a.txt").write_text("a")
    r = await _tool(rt, "backup-manager", {"operation": "backup", "source": "data"})
    return dict(r.data if hasattr(r, "data") and isinstance(r.data, dict) else r.metadata.get("result", {}))


def _manifest(ws: Path) -> tuple[Path, dict[str, Any]]:
    m = next((ws / ".llmspell" / "backups").glob("*.json"))
    return m, json.loads(m.read_text())


async def test_backup_manifest_tampering_cannot_delete_or_read_outside(rt: Any, ws: Path, out: Path) -> None:
    await _backup(rt, ws)
    m, man = _manifest(ws)
    for archive in (str(out / "secret.txt"), "../../../outside/secret.txt", "../../outside/secret.txt"):
        man["archive"] = archive
        m.write_text(json.dumps(man))
        for op in ("delete", "verify", "restore"):
            try:
                await _tool(rt, "backup-manager", {"operation": op, "backup_id": man["id"]})
            except LLMSpellError as e:
                assert SECRET not in str(e)
        _unchanged(out)


async def test_backup_manifest_tampering_cannot_restore_outside(rt: Any, ws: Path, out: Path) -> None:
    await _backup(rt, ws)
    m, man = _manifest(ws)
    orig = dict(man)
    for change in ({"source": str(out / "data")}, {"source": "/etc/data"},
                   {"files": [{"name": "../../outside/planted.txt", "size": 1, "sha256": "0" * 64}]},
                   {"files": [{"name": str(out / "planted.txt"), "size": 1, "sha256": "0" * 64}]}):
        man = {**orig, **change}
        m.write_text(json.dumps(man))
        try:
            await _tool(rt, "backup-manager", {"operation": "restore", "backup_id": man["id"]})
        except LLMSpellError as e:
            assert SECRET not in str(e)
        _unchanged(out)
    # a tar whose member escapes, with a manifest that matches it
    bad = ws / ".llmspell" / "backups" / "evil.tar.gz"
    info = tarfile.TarInfo("../../../outside/planted.txt")
    info.size = 5
    with tarfile.open(bad, "w:gz") as tf:
        tf.addfile(info, io.BytesIO(b"pwned"))
    digest = hashlib.sha256(bad.read_bytes()).hexdigest()
    man = {**orig, "id": "evil", "archive": "evil.tar.gz", "archive_sha256": digest,
           "files": [{"name": info.name, "size": 5, "sha256": hashlib.sha256(b"pwned").hexdigest()}]}
    (ws / ".llmspell" / "backups" / "evil.json").write_text(json.dumps(man))
    for params in ({"operation": "restore", "backup_id": "evil"},
                   {"operation": "restore", "backup_id": "evil", "target_path": "r"}):
        try:
            await _tool(rt, "backup-manager", params)
        except LLMSpellError:
            pass
    _unchanged(out)


async def test_backup_ids_and_dirs_cannot_leave(rt: Any, ws: Path, out: Path) -> None:
    (out / "x.json").write_text(json.dumps({"id": "x", "archive": "secret.txt", "archive_sha256": "",
                                            "files": [], "source": str(out), "created": 1}))
    for bid in ("../../outside/x", str(out / "x"), "..", "x/../../x"):
        for op in ("delete", "verify", "restore"):
            try:
                await _tool(rt, "backup-manager", {"operation": op, "backup_id": bid})
            except LLMSpellError as e:
                assert SECRET not in str(e)
    os.symlink(out, ws / "bd")
    for op in ("list", "delete", "backup"):
        await _refused(rt, "backup-manager", {"operation": op, "backup_dir": "bd", "backup_id": "x",
                                              "source": "."})
    _unchanged(out, {"x.json"})
    assert (out / "x.json").exists()


# ----------------------------------------------------------------------------------- database-connector


def _secret_db(path: Path) -> None:
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE s (v TEXT)")
    c.execute("INSERT INTO s VALUES (?)", (SECRET,))
    c.commit()
    c.close()


async def test_database_percent_encoding_and_uri_tricks(rt: Any, ws: Path, out: Path) -> None:
    _secret_db(out / "secret.db")
    before = (out / "secret.db").read_bytes()
    (ws / "%2e%2e").mkdir()
    for db in ("%2e%2e/outside/secret.db", "sqlite:///%2e%2e/outside/secret.db", "file:%2e%2e/outside/secret.db",
               "x.db?mode=ro&vfs=unix-none", "sqlite:///" + str(out / "secret.db"), "../outside/secret.db",
               "file:" + str(out / "secret.db"), "file://" + str(out / "secret.db"), "x.db#frag",
               "%2E%2E/outside/secret.db"):
        for q, qt in (("SELECT v FROM s", "SELECT"), ("CREATE TABLE t (x)", "CREATE")):
            try:
                res = await _tool(rt, "database-connector", {"operation": "query", "database": db, "query": q,
                                                             "query_type": qt})
            except LLMSpellError as e:
                assert SECRET not in str(e)
            else:
                _no_secret(res)
    assert (out / "secret.db").read_bytes() == before
    assert {p.name for p in out.iterdir()} == {"secret.txt", "secret.db"}


async def test_database_attach_vacuum_extension_and_links(rt: Any, ws: Path, out: Path) -> None:
    _secret_db(out / "secret.db")
    before = (out / "secret.db").read_bytes()
    c = sqlite3.connect(ws / "mine.db")
    c.execute("CREATE TABLE t (x)")
    c.commit()
    c.close()
    for q in (f"ATTACH DATABASE '{out / 'secret.db'}' AS o", f"VACUUM INTO '{out / 'copy.db'}'",
              "SELECT load_extension('/tmp/x.so')", f"ATTACH 'file:{out}/secret.db?mode=ro' AS o"):
        for qt in ("SELECT", "EXECUTE"):
            try:
                res = await _tool(rt, "database-connector", {"operation": "query", "database": "mine.db",
                                                             "query": q, "query_type": qt})
            except LLMSpellError as e:
                assert SECRET not in str(e)
            else:
                _no_secret(res)
    os.symlink(out / "secret.db", ws / "link.db")
    os.symlink(out, ws / "d")
    await _refused(rt, "database-connector", {"operation": "query", "database": "link.db", "query": "SELECT v FROM s"})
    await _refused(rt, "database-connector", {"operation": "schema", "database": "d/secret.db"})
    await _refused(rt, "database-connector", {"operation": "execute", "database": "d/new.db",
                                              "query": "CREATE TABLE x (y)", "query_type": "CREATE"})
    os.link(out / "secret.db", ws / "hard.db")
    await _refused(rt, "database-connector", {"operation": "execute", "database": "hard.db",
                                              "query": "DELETE FROM s", "query_type": "DELETE"})
    assert (out / "secret.db").read_bytes() == before
    assert {p.name for p in out.iterdir()} == {"secret.txt", "secret.db"}


async def test_database_still_works_inside(rt: Any, ws: Path) -> None:
    await _tool(rt, "database-connector", {"operation": "execute", "database": "db/app.db",
                                           "query": "CREATE TABLE t (x)", "query_type": "CREATE"})
    await _tool(rt, "database-connector", {"operation": "execute", "database": "db/app.db",
                                           "query": "INSERT INTO t VALUES (42)", "query_type": "INSERT"})
    r = await _tool(rt, "database-connector", {"operation": "query", "database": "sqlite:///db/app.db",
                                               "query": "SELECT x FROM t"})
    assert "42" in repr(r.data if hasattr(r, "data") else r)
    c = sqlite3.connect(ws / "db" / "app.db")
    assert c.execute("SELECT x FROM t").fetchall() == [(42,)]
    c.close()


# ----------------------------------------------------------------------------------- XML / XSD


async def test_xml_external_entities_xinclude_and_xsd_includes(rt: Any, ws: Path, out: Path) -> None:
    secret = out / "secret.txt"
    xsd_inc = out / "inc.xsd"
    xsd_inc.write_text(f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="{SECRET}"/>'
                       "</xs:schema>")
    docs = [
        f'<!DOCTYPE r [<!ENTITY e SYSTEM "file://{secret}">]><r>&e;</r>',
        f'<!DOCTYPE r SYSTEM "file://{out}/x.dtd"><r/>',
        f'<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file://{secret}" parse="text"/></r>',
        f'<!DOCTYPE r [<!ENTITY % p SYSTEM "file://{secret}"> %p;]><r/>',
    ]
    for d in docs:
        for op in ("parse", "query", "validate"):
            params: dict[str, Any] = {"operation": op, "input": d, "xpath": "//text()"}
            try:
                res = await _tool(rt, "xml-processor", params)
            except LLMSpellError as e:
                assert SECRET not in str(e)
            else:
                _no_secret(res)
    for tag in ("include", "import", "redefine"):
        xsd = (f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:{tag} schemaLocation="{xsd_inc}"'
               + (' namespace=""' if tag == "import" else "") + "/></xs:schema>")
        try:
            res = await _tool(rt, "xml-processor", {"operation": "validate", "input": f"<{SECRET}/>", "xsd": xsd})
        except LLMSpellError as e:
            assert SECRET not in str(e).replace(f"<{SECRET}/>", "")
        else:
            assert res.data.get("valid") is not True if isinstance(res.data, dict) else True
    _unchanged(out, {"inc.xsd"})


# ----------------------------------------------------------------------------------- state


async def test_state_dir_symlink_cannot_redirect_the_database(tmp_path: Path, ws: Path, out: Path) -> None:
    from llmspell.runtime import Runtime

    os.symlink(out, ws / ".llmspell")
    try:
        rt = Runtime(workspace=ws)
        await rt.state.set("global", "k", "v") if hasattr(rt.state, "set") else None
    except LLMSpellError:
        pass
    _unchanged(out)


async def test_state_db_file_symlink_cannot_redirect(tmp_path: Path, ws: Path, out: Path) -> None:
    from llmspell.runtime import Runtime

    (ws / ".llmspell").mkdir()
    os.symlink(out / "victim.db", ws / ".llmspell" / "state.db")
    os.symlink(out / "secret.txt", ws / ".llmspell" / "state.db-wal")
    try:
        Runtime(workspace=ws)
    except LLMSpellError:
        pass
    _unchanged(out)
