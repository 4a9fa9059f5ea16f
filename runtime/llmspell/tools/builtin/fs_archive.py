"""Archives and backups: archive-handler (rs-llmspell) and backup-manager (backup with restore).

Both use the standard library's zipfile/tarfile, the reference implementations of these formats,
over files opened through the path gate (security/fs.py). Extraction refuses members that would land
outside the target directory (zip-slip, absolute names, links, special files), writes every file
through the gate and stops at a size limit counted on the bytes written, so an archive cannot write
around the sandbox or fill the disk. Creating an archive never follows a link inside a directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import stat
import tarfile
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import Field

from llmspell.core.errors import LLMSpellError, SecurityViolationError, ToolError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import check_path, gate_of, quiet_gate, refuse

_TAR_MODES = {".tar": "", ".tgz": "gz", ".gz": "gz", ".bz2": "bz2", ".tbz2": "bz2", ".xz": "xz", ".txz": "xz"}


def archive_kind(path: Path) -> tuple[str, str]:
    """('zip', '') or ('tar', compression) from the file name."""
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip", ""
    for suf in (".tar.gz", ".tar.bz2", ".tar.xz"):
        if name.endswith(suf):
            return "tar", suf.rsplit(".", 1)[1]
    if path.suffix.lower() in _TAR_MODES:
        return "tar", _TAR_MODES[path.suffix.lower()]
    raise ToolError(f"archive-handler: unsupported archive type for {path.name} "
                    "(expected .zip, .tar, .tar.gz/.tgz, .tar.bz2 or .tar.xz)")


def _safe_member(ctx: ToolContext, target: str, name: str) -> str:
    """The member's path below ``target`` (lexically); names that would climb out are refused."""
    norm = name.replace("\\", "/")
    pure = PurePosixPath(norm)
    if not norm or "\x00" in norm or pure.is_absolute() or ".." in pure.parts or norm.startswith("/"):
        raise refuse(ctx, f"{ctx.tool_name}: archive member {name!r} would be written outside {target}",
                     operation="file.write", member=name)
    parts = [p for p in pure.parts if p not in ("", ".")]
    if not parts:
        return target
    return os.path.join(target, *parts)


def _open_archive_file(ctx: ToolContext, archive: str) -> Any:
    try:
        return gate_of(ctx).open(archive, "rb")
    except (FileNotFoundError, NotADirectoryError):
        raise ToolError(f"{ctx.tool_name}: no such archive: {archive}") from None
    except IsADirectoryError:
        raise ToolError(f"{ctx.tool_name}: {archive} is a directory, not an archive") from None


def _tar_mode(comp: str) -> Any:
    return f"r:{comp}" if comp else "r:"


def extract_archive(ctx: ToolContext, archive: str, target: str, max_bytes: int,
                    only: set[str] | None = None) -> list[str]:
    """Extract ``archive`` into ``target`` through the path gate.

    Every member is checked before anything is written: names climbing out, links (symbolic or hard,
    tar or zip), FIFOs, devices and sockets are refused. Files are written with the gate (a link
    already in the target is followed only while it stays inside the roots, and only when it stays
    inside ``target``); bytes written are counted, not the sizes the archive declares. ``only``
    restricts extraction to these member names.
    """
    gate = gate_of(ctx)
    kind, comp = archive_kind(Path(archive))
    gate.mkdir(target, parents=True, exist_ok=True)
    target_real = str(gate.resolve(target, write=True))
    out: list[str] = []
    written = 0

    def dest_of(name: str) -> str:
        dest = _safe_member(ctx, target, name)
        real = str(gate.resolve(dest, write=True))
        if real != target_real and not real.startswith(target_real.rstrip(os.sep) + os.sep):
            raise refuse(ctx, f"{ctx.tool_name}: archive member {name!r} would be written outside {target} "
                         f"(to {real})", operation="file.write", member=name)
        return dest

    def copy(src: Any, dest: str, name: str) -> None:
        nonlocal written
        with gate.open(dest, "wb", parents=True) as fh:
            while chunk := src.read(1 << 16):
                written += len(chunk)
                if written > max_bytes:
                    raise ToolError(f"{ctx.tool_name}: archive expands to more than the limit {max_bytes} bytes")
                fh.write(chunk)
        out.append(name)

    with _open_archive_file(ctx, archive) as raw:
        if kind == "zip":
            with zipfile.ZipFile(raw) as zf:
                infos = [i for i in zf.infolist() if only is None or i.filename in only]
                total = 0
                for info in infos:
                    _safe_member(ctx, target, info.filename)
                    mode = (info.external_attr >> 16) & 0o170000
                    if mode and mode not in (stat.S_IFREG, stat.S_IFDIR):
                        what = "a link" if mode == stat.S_IFLNK else "a special file"
                        raise refuse(ctx, f"{ctx.tool_name}: archive member {info.filename!r} is {what}; "
                                     "only files and directories are extracted", operation="file.write",
                                     member=info.filename)
                    total += info.file_size
                if total > max_bytes:
                    raise ToolError(f"{ctx.tool_name}: archive expands to {total} bytes, more than the limit "
                                    f"{max_bytes}")
                for info in infos:
                    dest = dest_of(info.filename)
                    if info.is_dir():
                        gate.mkdir(dest, parents=True, exist_ok=True)
                        continue
                    with zf.open(info) as src:
                        copy(src, dest, info.filename)
            return out
        with tarfile.open(fileobj=raw, mode=_tar_mode(comp)) as tf:
            members = [m for m in tf.getmembers() if only is None or m.name in only]
            total = 0
            for m in members:
                _safe_member(ctx, target, m.name)
                if m.issym() or m.islnk():
                    raise refuse(ctx, f"{ctx.tool_name}: archive member {m.name!r} is a link; links are not "
                                 "extracted", operation="file.write", member=m.name)
                if not (m.isfile() or m.isdir()):
                    raise refuse(ctx, f"{ctx.tool_name}: archive member {m.name!r} is a special file (FIFO or "
                                 "device); only files and directories are extracted", operation="file.write",
                                 member=m.name)
                total += m.size
            if total > max_bytes:
                raise ToolError(f"{ctx.tool_name}: archive expands to {total} bytes, more than the limit {max_bytes}")
            for m in members:
                dest = dest_of(m.name)
                if m.isdir():
                    gate.mkdir(dest, parents=True, exist_ok=True)
                    continue
                member = tf.extractfile(m)
                if member is None:
                    continue
                with member:
                    copy(member, dest, m.name)
    return out


def list_archive(ctx: ToolContext, archive: str) -> list[dict[str, Any]]:
    kind, comp = archive_kind(Path(archive))
    with _open_archive_file(ctx, archive) as raw:
        if kind == "zip":
            with zipfile.ZipFile(raw) as zf:
                return [{"name": i.filename, "size": i.file_size, "compressed_size": i.compress_size,
                         "is_dir": i.is_dir()} for i in zf.infolist()]
        with tarfile.open(fileobj=raw, mode=_tar_mode(comp)) as tf:
            return [{"name": m.name, "size": m.size, "is_dir": m.isdir()} for m in tf.getmembers()]


def create_archive(ctx: ToolContext, archive: str, files: list[tuple[str, str]]) -> int:
    """Write ``archive`` through the gate from ``(path, name in archive)``; each file read through it.
    A failure (a file refused by the gate, say) removes the partial archive."""
    try:
        return _create_archive(ctx, archive, files)
    except BaseException:
        with contextlib.suppress(OSError, LLMSpellError):
            gate_of(ctx).remove(archive, directory=False)
        raise


def _create_archive(ctx: ToolContext, archive: str, files: list[tuple[str, str]]) -> int:
    gate = gate_of(ctx)
    kind, comp = archive_kind(Path(archive))
    n = 0
    with gate.open(archive, "wb", parents=True) as out:
        if kind == "zip":
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for p, arc in files:
                    with gate.open(p, "rb") as src:
                        st = os.fstat(src.fileno())
                        info = zipfile.ZipInfo(arc, time.localtime(max(st.st_mtime, 315532800))[:6])
                        info.compress_type = zipfile.ZIP_DEFLATED
                        info.external_attr = (stat.S_IFREG | stat.S_IMODE(st.st_mode)) << 16
                        with zf.open(info, "w") as dst:
                            while chunk := src.read(1 << 16):
                                dst.write(chunk)
                    n += 1
            return n
        wmode: Any = f"w:{comp}" if comp else "w"
        with tarfile.open(fileobj=out, mode=wmode) as tf:
            for p, arc in files:
                with gate.open(p, "rb") as src:
                    st = os.fstat(src.fileno())
                    tinfo = tarfile.TarInfo(arc)
                    tinfo.size, tinfo.mtime, tinfo.mode = st.st_size, int(st.st_mtime), stat.S_IMODE(st.st_mode)
                    tf.addfile(tinfo, src)
                n += 1
    return n


def _expand(ctx: ToolContext, inputs: list[str]) -> list[tuple[str, str]]:
    """Input paths (files or directories) -> (file, name in archive).

    Directories are listed through their fds: links inside them are not followed (skipped), nor are
    FIFOs or devices. A link given by name is followed only while it stays inside (the gate).
    """
    gate = gate_of(ctx)
    files: list[tuple[str, str]] = []
    for item in inputs:
        kind = gate.kind(item)
        if kind is None:
            raise ToolError(f"{ctx.tool_name}: parameter 'input': no such file or directory: {item}")
        real = gate.resolve(item)
        if kind == "directory":
            for e in gate.scandir(item, recursive=True):
                if e.kind == "file":
                    files.append((str(real / e.rel), str(Path(real.name) / e.rel)))
                    os.close(gate.open_fd(str(real / e.rel)))  # hard links etc. refused before writing

        elif kind == "file":
            files.append((str(real), real.name))
        else:
            raise refuse(ctx, f"{ctx.tool_name}: '{item}' is not a regular file or directory", operation="file.read",
                         path=item)
    return files


class ArchiveHandlerTool(BuiltinTool):
    name = "archive-handler"
    description = "Create, list and extract zip and tar (gz/bz2/xz) archives inside the sandbox"
    category = "filesystem"
    tags = ("zip", "tar", "archive", "compress")

    class Params(ToolParams):
        operation: Literal["extract", "create", "list"]
        path: str = Field(description="The archive file")
        target_path: str | None = Field(None, description="Directory to extract into (extract)")
        input: list[str] | None = Field(None, description="Files or directories to put in the archive (create)")
        max_size: int = Field(1 << 30, gt=0, description="Largest total size an extraction may write (bytes)")

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        try:
            return await self._run(params, ctx)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
            raise ToolError(f"archive-handler: {params.path} is not a readable archive: {e}") from e

    async def _run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        if params.operation == "list":
            arch = check_path(ctx, params.path)
            entries = await asyncio.to_thread(list_archive, ctx, params.path)
            return {"path": str(arch), "entries": entries, "count": len(entries)}
        if params.operation == "create":
            if not params.input:
                raise ToolError("archive-handler: parameter 'input' is required for create (a list of paths)")
            arch = check_path(ctx, params.path, write=True)
            files = await asyncio.to_thread(_expand, ctx, params.input)
            n = await asyncio.to_thread(create_archive, ctx, params.path, files)
            return {"path": str(arch), "files_added": n, "size": gate_of(ctx).stat(params.path).st_size}
        arch = check_path(ctx, params.path)
        target = check_path(ctx, params.target_path or str(arch.parent / arch.name.split(".")[0]), write=True)
        files_out = await asyncio.to_thread(extract_archive, ctx, params.path, str(target), params.max_size)
        return {"path": str(arch), "target_path": str(target), "extracted": files_out, "count": len(files_out)}


# ----------------------------------------------------------------------------------- backups


def _sha256(ctx: ToolContext, p: str) -> str:
    h = hashlib.sha256()
    with gate_of(ctx).open(p, "rb") as fh:
        while chunk := fh.read(1 << 16):
            h.update(chunk)
    return h.hexdigest()


_BACKUP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_MANIFEST_BYTES = 16 << 20


class BackupManagerTool(BuiltinTool):
    """Backups live in spell-writable space, so a manifest is data to validate, never to trust: the id
    and the archive are plain names inside ``backup_dir`` (the archive must be ``<id>.tar.gz``), every
    file name is a relative path that stays below the restore target, the restore target (the
    manifest's ``source`` folder or ``target_path``) goes through the path gate, only the members the
    manifest lists are extracted (links and special files refused) and each is checked against its
    checksum before it replaces anything."""

    name = "backup-manager"
    description = "Back up files or directories to checksummed archives, list, verify and restore them"
    category = "filesystem"
    tags = ("backup", "restore", "snapshot")

    class Params(ToolParams):
        operation: Literal["backup", "restore", "list", "verify", "delete"]
        source: str | None = Field(None, description="File or directory to back up (backup)")
        backup_dir: str = Field(".llmspell/backups", description="Where backups are stored")
        backup_id: str | None = Field(None, description="Which backup (restore/verify/delete); default latest")
        target_path: str | None = Field(None, description="Restore here instead of the original location")
        label: str | None = Field(None, description="A name to include in the backup id")
        overwrite: bool = Field(True, description="Replace existing files when restoring")

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        return await asyncio.to_thread(self._run, params, ctx)

    def _run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        bdir = check_path(ctx, params.backup_dir, write=params.operation in ("backup", "delete", "restore"))
        if params.operation == "backup":
            if not params.source:
                raise ToolError("backup-manager: parameter 'source' is required for backup")
            return self._backup(ctx, bdir, params)
        if params.operation == "list":
            items = self._list(ctx, bdir)
            return {"backup_dir": str(bdir), "backups": items, "count": len(items)}
        bid = params.backup_id or self._latest(ctx, bdir)
        manifest = self._manifest(ctx, bdir, bid)
        gate = gate_of(ctx)
        archive = str(bdir / manifest["archive"])
        if params.operation == "delete":
            with contextlib.suppress(FileNotFoundError):
                gate.remove(archive, directory=False)
            gate.remove(str(bdir / f"{bid}.json"), directory=False)
            return {"backup_id": bid, "deleted": True}
        if params.operation == "verify":
            try:
                ok = _sha256(ctx, archive) == manifest["archive_sha256"]
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                ok = False
            return {"backup_id": bid, "valid": ok, "files": len(manifest["files"])}
        return self._restore(ctx, archive, manifest, bid, params)

    def _manifest(self, ctx: ToolContext, bdir: Path, bid: str) -> dict[str, Any]:
        """Read and validate ``<bid>.json`` (see the class docstring); any doubt is a refusal."""
        if not isinstance(bid, str) or not _BACKUP_ID.match(bid) or ".." in bid:
            raise refuse(ctx, f"backup-manager: invalid backup id {bid!r} (a plain name is expected)",
                         operation="file.read", backup_id=str(bid))
        try:
            raw = gate_of(ctx).read_bytes(str(bdir / f"{bid}.json"), max_bytes=MAX_MANIFEST_BYTES)
            m = json.loads(raw.decode("utf-8"))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ToolError(f"backup-manager: no backup with id {bid!r} in {bdir}") from None
        except (OSError, ValueError) as e:
            raise ToolError(f"backup-manager: the manifest of {bid!r} is unreadable: {e}") from None

        def bad(why: str) -> SecurityViolationError:
            return refuse(ctx, f"backup-manager: the manifest of backup {bid!r} is invalid or was tampered with "
                          f"({why}); it is not used", operation="file.read", backup_id=bid)

        if not isinstance(m, dict):
            raise bad("not a table")
        if m.get("archive") != f"{bid}.tar.gz":
            raise bad(f"archive {m.get('archive')!r} is not {bid}.tar.gz")
        if not isinstance(m.get("archive_sha256"), str) or not _HEX64.match(m["archive_sha256"]):
            raise bad("archive_sha256")
        if not isinstance(m.get("source"), str) or "\x00" in m["source"] or not os.path.isabs(m["source"]):
            raise bad("source")
        files = m.get("files")
        if not isinstance(files, list):
            raise bad("files")
        for f in files:
            if not (isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("sha256"), str)
                    and _HEX64.match(f["sha256"])):
                raise bad("a files entry")
            n = f["name"].replace("\\", "/")
            if (not n or "\x00" in n or n.startswith("/") or ".." in PurePosixPath(n).parts
                    or n in (".", "")):
                raise bad(f"file name {f['name']!r}")
        return m

    def _backup(self, ctx: ToolContext, bdir: Path, params: Params) -> dict[str, Any]:
        gate = gate_of(ctx)
        src = check_path(ctx, params.source or "")
        kind = gate.kind(params.source or "")
        if kind is None:
            raise ToolError(f"backup-manager: parameter 'source': no such file or directory: {params.source}")
        files = _expand(ctx, [params.source or ""])
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.6f}"[1:].replace(".", "")
        label = "".join(c if c.isalnum() or c in "-_" else "-" for c in (params.label or src.name))[:40]
        bid = f"{stamp}-{label}"
        gate.mkdir(str(bdir), parents=True, exist_ok=True)
        archive = str(bdir / f"{bid}.tar.gz")
        create_archive(ctx, archive, files)
        manifest = {
            "id": bid, "source": str(src), "is_dir": kind == "directory", "created": time.time(),
            "archive": f"{bid}.tar.gz", "archive_sha256": _sha256(ctx, archive),
            "files": [{"name": arc, "size": gate.stat(p).st_size, "sha256": _sha256(ctx, p)} for p, arc in files],
        }
        gate.write_bytes(str(bdir / f"{bid}.json"), json.dumps(manifest, indent=1).encode("utf-8"))
        return {"backup_id": bid, "archive": archive, "files": len(files),
                "size": gate.stat(archive).st_size, "source": str(src)}

    def _restore(self, ctx: ToolContext, archive: str, manifest: dict[str, Any], bid: str,
                 params: Params) -> dict[str, Any]:
        gate = gate_of(ctx)
        try:
            digest = _sha256(ctx, archive)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ToolError(f"backup-manager: the archive of backup {bid} is missing") from None
        if digest != manifest["archive_sha256"]:
            raise ToolError(f"backup-manager: backup {bid} is corrupted (checksum mismatch)")
        # Archive names start with the source's own name; restore into its parent (or target_path).
        dest_root = check_path(ctx, params.target_path, write=True) if params.target_path else \
            check_path(ctx, str(Path(manifest["source"]).parent), write=True)
        entries = [(e["name"].replace("\\", "/"), e["sha256"]) for e in manifest["files"]]
        staging = str(dest_root / f".restore-{bid}")
        restored: list[str] = []
        try:
            extract_archive(ctx, archive, staging, 1 << 34, only={n for n, _ in entries})
            for name, sha in entries:
                try:
                    ok = _sha256(ctx, os.path.join(staging, name)) == sha
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                    ok = False
                if not ok:
                    raise ToolError(f"backup-manager: {name} does not match its checksum")
            for name, _ in entries:
                d = os.path.join(str(dest_root), name)
                check_path(ctx, d, write=True)
                if not params.overwrite and gate.kind(d) is not None:
                    continue
                try:
                    final = gate.rename(os.path.join(staging, name), d, into_dir=False)
                except IsADirectoryError:
                    raise ToolError(f"backup-manager: cannot restore {name}: a directory is in the way") from None
                restored.append(final)
        finally:
            with contextlib.suppress(OSError, LLMSpellError):
                gate.remove(staging, recursive=True)
        return {"backup_id": bid, "restored": restored, "count": len(restored), "target_path": str(dest_root)}

    @staticmethod
    def _list(ctx: ToolContext, bdir: Path) -> list[dict[str, Any]]:
        gate = quiet_gate(ctx)
        out: list[dict[str, Any]] = []
        if gate_of(ctx).kind(str(bdir)) != "directory":
            return out
        for e in gate.scandir(str(bdir)):
            if e.kind != "file" or not e.name.endswith(".json"):
                continue
            try:
                d = json.loads(gate.read_bytes(str(bdir / e.name), max_bytes=MAX_MANIFEST_BYTES).decode("utf-8"))
                item: dict[str, Any] = {"backup_id": str(d["id"]), "source": str(d["source"]),
                                        "created": float(d["created"]), "files": len(d["files"])}
            except (OSError, LLMSpellError, ValueError, KeyError, TypeError):
                continue
            if item["backup_id"] + ".json" != e.name:
                continue
            out.append(item)
        return out

    def _latest(self, ctx: ToolContext, bdir: Path) -> str:
        items = self._list(ctx, bdir)
        if not items:
            raise ToolError(f"backup-manager: no backups in {bdir}")
        return str(max(items, key=lambda d: (d["created"], d["backup_id"]))["backup_id"])


TOOLS = [ArchiveHandlerTool, BackupManagerTool]
