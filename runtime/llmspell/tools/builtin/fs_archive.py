"""Archives and backups: archive-handler (rs-llmspell) and backup-manager (backup with restore).

Both use the standard library's zipfile/tarfile, the reference implementations of these formats.
Extraction refuses members that would land outside the target directory (zip-slip, absolute
names, links) and stops at a size limit, so an archive cannot write around the sandbox or fill the
disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tarfile
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import Field

from llmspell.core.errors import SecurityViolationError, ToolError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import check_path, refuse

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


def _safe_member(ctx: ToolContext, target: Path, name: str) -> Path:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts:
        raise refuse(ctx, f"{ctx.tool_name}: archive member {name!r} would be written outside {target}",
                     operation="file.write", member=name)
    dest = (target / pure).resolve()
    if not dest.is_relative_to(target.resolve()):
        raise refuse(ctx, f"{ctx.tool_name}: archive member {name!r} would be written outside {target}",
                     operation="file.write", member=name)
    return dest


def extract_archive(ctx: ToolContext, archive: Path, target: Path, max_bytes: int) -> list[str]:
    kind, comp = archive_kind(archive)
    target.mkdir(parents=True, exist_ok=True)
    out: list[str] = []
    total = 0
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:
                _safe_member(ctx, target, info.filename)
                total += info.file_size
            if total > max_bytes:
                raise ToolError(f"{ctx.tool_name}: archive expands to {total} bytes, more than the limit {max_bytes}")
            for info in infos:
                dest = _safe_member(ctx, target, info.filename)
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as fh:
                    while chunk := src.read(1 << 16):
                        fh.write(chunk)
                out.append(info.filename)
        return out
    mode: Any = f"r:{comp}" if comp else "r:"
    with tarfile.open(archive, mode) as tf:
        members = tf.getmembers()
        for m in members:
            _safe_member(ctx, target, m.name)
            if m.issym() or m.islnk():
                raise refuse(ctx, f"{ctx.tool_name}: archive member {m.name!r} is a link; links are not extracted",
                             operation="file.write", member=m.name)
            total += m.size
        if total > max_bytes:
            raise ToolError(f"{ctx.tool_name}: archive expands to {total} bytes, more than the limit {max_bytes}")
        tf.extractall(target, members=members, filter="data")
        out = [m.name for m in members if m.isfile()]
    return out


def list_archive(archive: Path) -> list[dict[str, Any]]:
    kind, comp = archive_kind(archive)
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            return [{"name": i.filename, "size": i.file_size, "compressed_size": i.compress_size,
                     "is_dir": i.is_dir()} for i in zf.infolist()]
    mode: Any = f"r:{comp}" if comp else "r:"
    with tarfile.open(archive, mode) as tf:
        return [{"name": m.name, "size": m.size, "is_dir": m.isdir()} for m in tf.getmembers()]


def create_archive(archive: Path, files: list[tuple[Path, str]]) -> int:
    kind, comp = archive_kind(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    if kind == "zip":
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for p, arc in files:
                zf.write(p, arc)
                n += 1
        return n
    wmode: Any = f"w:{comp}" if comp else "w"
    with tarfile.open(archive, wmode) as tf:
        for p, arc in files:
            tf.add(p, arc, recursive=False)
            n += 1
    return n


def _expand(ctx: ToolContext, inputs: list[str], base: Path | None = None) -> list[tuple[Path, str]]:
    """Input paths (files or directories) -> (file, name in archive), symlinks not followed."""
    files: list[tuple[Path, str]] = []
    for item in inputs:
        p = check_path(ctx, item)
        if not p.exists():
            raise ToolError(f"{ctx.tool_name}: parameter 'input': no such file or directory: {item}")
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not f.is_symlink():
                    files.append((f, str(Path(p.name) / f.relative_to(p))))
        else:
            files.append((p, p.name))
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
            entries = await asyncio.to_thread(list_archive, arch)
            return {"path": str(arch), "entries": entries, "count": len(entries)}
        if params.operation == "create":
            if not params.input:
                raise ToolError("archive-handler: parameter 'input' is required for create (a list of paths)")
            arch = check_path(ctx, params.path, write=True)
            files = _expand(ctx, params.input)
            n = await asyncio.to_thread(create_archive, arch, files)
            return {"path": str(arch), "files_added": n, "size": arch.stat().st_size}
        arch = check_path(ctx, params.path)
        target = check_path(ctx, params.target_path or str(arch.parent / arch.name.split(".")[0]), write=True)
        files_out = await asyncio.to_thread(extract_archive, ctx, arch, target, params.max_size)
        return {"path": str(arch), "target_path": str(target), "extracted": files_out, "count": len(files_out)}


# ----------------------------------------------------------------------------------- backups


def _sha256(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        while chunk := fh.read(1 << 16):
            h.update(chunk)
    return h.hexdigest()


class BackupManagerTool(BuiltinTool):
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
        bdir = check_path(ctx, params.backup_dir, write=params.operation in ("backup", "delete"))
        if params.operation == "backup":
            if not params.source:
                raise ToolError("backup-manager: parameter 'source' is required for backup")
            return await asyncio.to_thread(self._backup, ctx, bdir, params)
        if params.operation == "list":
            return {"backup_dir": str(bdir), "backups": self._list(bdir), "count": len(self._list(bdir))}
        bid = params.backup_id or self._latest(bdir)
        manifest_path = bdir / f"{bid}.json"
        if "/" in bid or "\\" in bid or not manifest_path.is_file():
            raise ToolError(f"backup-manager: no backup with id {bid!r} in {bdir}")
        manifest = json.loads(manifest_path.read_text("utf-8"))
        archive = bdir / manifest["archive"]
        if params.operation == "delete":
            archive.unlink(missing_ok=True)
            manifest_path.unlink()
            return {"backup_id": bid, "deleted": True}
        if params.operation == "verify":
            ok = archive.is_file() and _sha256(archive) == manifest["archive_sha256"]
            return {"backup_id": bid, "valid": ok, "files": len(manifest["files"])}
        return await asyncio.to_thread(self._restore, ctx, archive, manifest, bid, params)

    def _backup(self, ctx: ToolContext, bdir: Path, params: Params) -> dict[str, Any]:
        src = check_path(ctx, params.source or "")
        if not src.exists():
            raise ToolError(f"backup-manager: parameter 'source': no such file or directory: {params.source}")
        files = _expand(ctx, [str(src)])
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.6f}"[1:].replace(".", "")
        label = "".join(c if c.isalnum() or c in "-_" else "-" for c in (params.label or src.name))[:40]
        bid = f"{stamp}-{label}"
        bdir.mkdir(parents=True, exist_ok=True)
        archive = bdir / f"{bid}.tar.gz"
        create_archive(archive, files)
        manifest = {
            "id": bid, "source": str(src), "is_dir": src.is_dir(), "created": time.time(),
            "archive": archive.name, "archive_sha256": _sha256(archive),
            "files": [{"name": arc, "size": p.stat().st_size, "sha256": _sha256(p)} for p, arc in files],
        }
        (bdir / f"{bid}.json").write_text(json.dumps(manifest, indent=1), "utf-8")
        return {"backup_id": bid, "archive": str(archive), "files": len(files),
                "size": archive.stat().st_size, "source": str(src)}

    def _restore(self, ctx: ToolContext, archive: Path, manifest: dict[str, Any], bid: str,
                 params: Params) -> dict[str, Any]:
        if _sha256(archive) != manifest["archive_sha256"]:
            raise ToolError(f"backup-manager: backup {bid} is corrupted (checksum mismatch)")
        original = Path(manifest["source"])
        # Archive names start with the source's own name; restore into its parent (or target_path).
        dest_root = check_path(ctx, params.target_path, write=True) if params.target_path else \
            check_path(ctx, str(original.parent), write=True)
        staging = dest_root / f".restore-{bid}"
        try:
            extract_archive(ctx, archive, staging, 1 << 34)
            restored: list[str] = []
            for entry in manifest["files"]:
                s = staging / entry["name"]
                if _sha256(s) != entry["sha256"]:
                    raise ToolError(f"backup-manager: {entry['name']} does not match its checksum")
                d = check_path(ctx, str(dest_root / entry["name"]), write=True)
                if d.exists() and not params.overwrite:
                    continue
                d.parent.mkdir(parents=True, exist_ok=True)
                s.replace(d)
                restored.append(str(d))
        except SecurityViolationError:
            raise
        finally:
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
        return {"backup_id": bid, "restored": restored, "count": len(restored), "target_path": str(dest_root)}

    @staticmethod
    def _list(bdir: Path) -> list[dict[str, Any]]:
        out = []
        if bdir.is_dir():
            for m in sorted(bdir.glob("*.json")):
                try:
                    d = json.loads(m.read_text("utf-8"))
                except ValueError:
                    continue
                out.append({"backup_id": d["id"], "source": d["source"], "created": d["created"],
                            "files": len(d["files"])})
        return out

    def _latest(self, bdir: Path) -> str:
        items = self._list(bdir)
        if not items:
            raise ToolError(f"backup-manager: no backups in {bdir}")
        return str(max(items, key=lambda d: (d["created"], d["backup_id"]))["backup_id"])


TOOLS = [ArchiveHandlerTool, BackupManagerTool]
