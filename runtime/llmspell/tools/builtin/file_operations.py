"""file-operations: read, write, list, copy, move, delete files inside the allowed paths.

Unlike most tools, rs-llmspell's file-operations answers with plain text (the file content for
``read``, a message otherwise) and puts the response envelope in ``r.metadata.response``; scripts
rely on ``r.text``, so that shape is kept here.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from llmspell.core.errors import LLMSpellError, ToolError, ValidationError
from llmspell.core.types import ToolOutput
from llmspell.security.fs import PathGate
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams, text_output
from llmspell.tools.builtin._support import gate_of

Operation = Literal[
    "read", "write", "append", "delete", "create_dir", "mkdir", "list_dir", "ls", "dir",
    "copy", "cp", "move", "mv", "rename", "metadata", "stat", "info", "exists",
]
_ALIASES = {"mkdir": "create_dir", "ls": "list_dir", "dir": "list_dir", "cp": "copy", "mv": "move",
            "rename": "move", "stat": "metadata", "info": "metadata"}
MAX_READ_BYTES = 50 * 1024 * 1024


class FileOperationsParams(ToolParams):
    operation: Operation = Field(description="What to do: read, write, append, delete, create_dir, list_dir, "
                                             "copy, move, metadata, exists (aliases: mkdir, ls, cp, mv, stat)")
    path: str | None = Field(None, description="File or directory path (relative paths are workspace-relative)")
    input: str | None = Field(None, description="Content to write or append")
    content: str | None = Field(None, description="Alias of `input` (content to write or append)")
    source_path: str | None = Field(None, description="Source path for copy/move")
    target_path: str | None = Field(None, description="Target path for copy/move")
    recursive: bool = Field(False, description="create_dir: create parents; delete/list_dir: recurse")
    encoding: str = Field("utf-8", description="Text encoding for read/write")


class FileOperationsTool(BuiltinTool):
    name = "file-operations"
    description = "Read, write, append, list, copy, move and delete files and directories within allowed paths"
    category = "filesystem"
    security_level = "restricted"
    tags = ("file", "filesystem", "io")
    Params = FileOperationsParams

    async def run(self, params: FileOperationsParams, ctx: ToolContext) -> ToolOutput:
        op = _ALIASES.get(params.operation, params.operation)
        return await asyncio.to_thread(self._run_sync, op, params, ctx)

    # Blocking file system work runs in a worker thread so the loop stays responsive. Every touch goes
    # through the path gate (security/fs.py): the check is the open, names are never re-resolved.
    def _run_sync(self, op: str, p: FileOperationsParams, ctx: ToolContext) -> ToolOutput:
        gate = gate_of(ctx)
        if op in ("copy", "move"):
            src_raw = p.source_path or p.path
            if not src_raw or not p.target_path:
                raise ValidationError(f"{self.name}: operation '{op}' needs parameters 'source_path' and 'target_path'")
            src = gate.resolve(src_raw, write=(op == "move"), follow=(op == "copy"))
            dst = gate.resolve(p.target_path, write=True)
            s_src, s_dst = gate.display(src), gate.display(dst)
            kind = gate.kind(src_raw) if op == "copy" else _lkind(gate, src_raw)
            if kind is None:
                raise ToolError(f"{self.name}: source does not exist: {s_src}")
            try:
                if op == "copy":
                    target: str | Path = p.target_path
                    if kind != "directory" and gate.kind(p.target_path) == "directory":
                        target = Path(dst) / Path(src_raw).name  # like cp: into the directory
                    final = gate.copy(src_raw, target, overwrite=True)
                    msg = f"Copied {s_src} to {gate.display(final)}"
                else:
                    final = gate.rename(src_raw, p.target_path, into_dir=True)
                    msg = f"Moved {s_src} to {gate.display(final)}"
            except OSError as e:
                raise ToolError(f"{self.name}: cannot {op} {s_src} to {s_dst}: {e.strerror or e}") from e
            return self._out(op, msg, {"source": s_src, "target": gate.display(final)}, Path(final), gate)

        if not p.path:
            raise ValidationError(f"{self.name}: operation '{op}' needs parameter 'path'")
        write = op in ("write", "append", "delete", "create_dir")
        path = gate.resolve(p.path, write=write, follow=op not in ("delete", "metadata"))
        shown = gate.display(path)  # a mapped /tmp path is shown under the spell's own name

        if op == "read":
            try:
                fd = gate.open_fd(p.path)
            except IsADirectoryError:
                raise ToolError(f"{self.name}: cannot read {shown}: it is a directory") from None
            except (FileNotFoundError, NotADirectoryError):
                raise ToolError(f"{self.name}: cannot read {shown}: no such file") from None
            with os.fdopen(fd, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size > MAX_READ_BYTES:
                    raise ToolError(f"{self.name}: {shown} is {size} bytes; the read limit is {MAX_READ_BYTES}")
                raw = f.read(MAX_READ_BYTES + 1)
            if len(raw) > MAX_READ_BYTES:
                raise ToolError(f"{self.name}: {shown} is larger than the read limit of {MAX_READ_BYTES} bytes")
            content = raw.decode(p.encoding, errors="replace")
            size = len(raw)
            return self._out(op, content, {"input": content, "size": size}, path, gate,
                             message=f"Read {size} bytes from {shown}")
        if op in ("write", "append"):
            data = p.input if p.input is not None else p.content
            if data is None:
                raise ValidationError(f"{self.name}: operation '{op}' needs parameter 'input' (the content)")
            try:
                with gate.open(p.path, "a" if op == "append" else "w", encoding=p.encoding, parents=True) as f:
                    f.write(data)
            except OSError as e:  # rs-llmspell reports write failures softly
                msg = f"Failed to {op} {shown}: {e.strerror or e}"
                return self._out(op, msg, None, path, gate, success=False, error=msg)
            n = len(data.encode(p.encoding, errors="replace"))
            if op == "write":
                return self._out(op, f"Wrote {n} bytes to {shown}", {"size": n}, path, gate)
            return self._out(op, f"Appended {n} bytes to {shown}", {"appended_size": n}, path, gate)
        if op == "delete":
            try:
                what = gate.remove(p.path, recursive=p.recursive)
            except (FileNotFoundError, NotADirectoryError):
                raise ToolError(f"{self.name}: cannot delete {shown}: no such file") from None
            except OSError as e:
                raise ToolError(f"{self.name}: cannot delete {shown}: {e.strerror or e}") from e
            if what == "directory":
                return self._out(op, f"Deleted directory: {shown}", {"deleted": shown}, path, gate)
            return self._out(op, f"Deleted file: {shown}", {"deleted": shown}, path, gate)
        if op == "create_dir":
            try:
                gate.mkdir(p.path, parents=p.recursive, exist_ok=True)
            except OSError as e:
                raise ToolError(f"{self.name}: cannot create {shown}: {e.strerror or e}") from e
            return self._out(op, f"Created directory: {shown}", {"recursive": p.recursive}, path, gate)
        if op == "list_dir":
            try:
                listing = gate.scandir(p.path, recursive=p.recursive)
            except (FileNotFoundError, NotADirectoryError):
                raise ToolError(f"{self.name}: cannot list {shown}: not a directory") from None
            kinds = {"directory": "directory", "symlink": "symlink"}
            entries: list[dict[str, Any]] = [{"name": e.name, "path": os.path.join(shown, e.rel),
                                              "type": kinds.get(e.kind, "file"), "size": e.size} for e in listing]
            if p.recursive:
                entries.sort(key=lambda e: e["path"])
            lines = "\n".join(e["path"] if p.recursive else e["name"] for e in entries)
            return self._out(op, lines, {"entries": entries, "count": len(entries)}, path, gate,
                             message=f"Listed {len(entries)} entries in {shown}")
        if op == "metadata":
            try:
                lst = gate.stat(p.path, follow=False)
                st = gate.stat(p.path) if stat.S_ISLNK(lst.st_mode) else lst
            except (FileNotFoundError, NotADirectoryError):
                raise ToolError(f"{self.name}: no such file or directory: {shown}") from None
            info = {"path": shown, "size": st.st_size, "is_file": stat.S_ISREG(st.st_mode),
                    "is_dir": stat.S_ISDIR(st.st_mode), "is_symlink": stat.S_ISLNK(lst.st_mode),
                    "modified": st.st_mtime, "created": st.st_ctime,
                    "permissions": oct(st.st_mode & 0o777), "readonly": not st.st_mode & stat.S_IWUSR}
            lines = "\n".join(f"{k}: {v}" for k, v in info.items())
            return self._out(op, lines, info, path, gate, message=f"Metadata for {shown}")
        if op == "exists":
            ex = gate.exists(p.path)
            return self._out(op, f"Path {shown} {'exists' if ex else 'does not exist'}", {"exists": ex}, path, gate)
        raise ValidationError(f"{self.name}: unknown operation '{op}'")  # pragma: no cover - Literal guards

    def _out(self, op: str, text: str, result: Any, path: Path, gate: PathGate, *, message: str | None = None,
             success: bool = True, error: str | None = None) -> ToolOutput:
        md: dict[str, Any] = {"file_path": gate.display(path)}
        try:
            st = gate.stat(path, follow=False)
            if stat.S_ISREG(st.st_mode):
                md["file_size"] = st.st_size
        except (OSError, LLMSpellError):
            pass
        response: dict[str, Any] = {"operation": op, "success": success, "message": message or text,
                                    "metadata": md}
        if result is not None:
            response["result"] = result
        if error is not None:
            response["error"] = {"message": error}
        return text_output(text, metadata={"operation": op, "response": response}, data=result,
                           success=success, error=error)


def _lkind(gate: PathGate, path: str) -> str | None:
    """What the name itself is (a link is "symlink"), or None when missing."""
    try:
        st = gate.stat(path, follow=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return "symlink" if stat.S_ISLNK(st.st_mode) else "directory" if stat.S_ISDIR(st.st_mode) else "file"
