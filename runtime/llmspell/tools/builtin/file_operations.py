"""file-operations: read, write, list, copy, move, delete files inside the allowed paths.

Unlike most tools, rs-llmspell's file-operations answers with plain text (the file content for
``read``, a message otherwise) and puts the response envelope in ``r.metadata.response``; scripts
rely on ``r.text``, so that shape is kept here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from llmspell.core.errors import ToolError, ValidationError
from llmspell.core.types import ToolOutput
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams, text_output

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

    # Blocking file system work runs in a worker thread so the loop stays responsive.
    def _run_sync(self, op: str, p: FileOperationsParams, ctx: ToolContext) -> ToolOutput:
        if op in ("copy", "move"):
            src_raw = p.source_path or p.path
            if not src_raw or not p.target_path:
                raise ValidationError(f"{self.name}: operation '{op}' needs parameters 'source_path' and 'target_path'")
            src = ctx.check_path(src_raw, write=(op == "move"))
            dst = ctx.check_path(p.target_path, write=True)
            if not src.exists():
                raise ToolError(f"{self.name}: source does not exist: {src}")
            dst.parent.mkdir(parents=True, exist_ok=True)
            if op == "copy":
                if src.is_dir():
                    shutil.copytree(src, dst, dirs_exist_ok=True)
                else:
                    shutil.copy2(src, dst)
                msg = f"Copied {src} to {dst}"
            else:
                shutil.move(str(src), str(dst))
                msg = f"Moved {src} to {dst}"
            return self._out(op, msg, {"source": str(src), "target": str(dst)}, dst)

        if not p.path:
            raise ValidationError(f"{self.name}: operation '{op}' needs parameter 'path'")
        write = op in ("write", "append", "delete", "create_dir")
        path = ctx.check_path(p.path, write=write)

        if op == "read":
            if not path.is_file():
                raise ToolError(f"{self.name}: cannot read {path}: " +
                                ("it is a directory" if path.is_dir() else "no such file"))
            size = path.stat().st_size
            if size > MAX_READ_BYTES:
                raise ToolError(f"{self.name}: {path} is {size} bytes; the read limit is {MAX_READ_BYTES}")
            content = path.read_text(encoding=p.encoding, errors="replace")
            return self._out(op, content, {"input": content, "size": size}, path,
                             message=f"Read {size} bytes from {path}")
        if op in ("write", "append"):
            data = p.input if p.input is not None else p.content
            if data is None:
                raise ValidationError(f"{self.name}: operation '{op}' needs parameter 'input' (the content)")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a" if op == "append" else "w", encoding=p.encoding) as f:
                    f.write(data)
            except OSError as e:  # rs-llmspell reports write failures softly
                msg = f"Failed to {op} {path}: {e.strerror or e}"
                return self._out(op, msg, None, path, success=False, error=msg)
            n = len(data.encode(p.encoding, errors="replace"))
            if op == "write":
                return self._out(op, f"Wrote {n} bytes to {path}", {"size": n}, path)
            return self._out(op, f"Appended {n} bytes to {path}", {"appended_size": n}, path)
        if op == "delete":
            if path.is_dir():
                if p.recursive:
                    shutil.rmtree(path)
                else:
                    path.rmdir()
                return self._out(op, f"Deleted directory: {path}", {"deleted": str(path)}, path)
            if not path.exists():
                raise ToolError(f"{self.name}: cannot delete {path}: no such file")
            path.unlink()
            return self._out(op, f"Deleted file: {path}", {"deleted": str(path)}, path)
        if op == "create_dir":
            path.mkdir(parents=p.recursive, exist_ok=True)
            return self._out(op, f"Created directory: {path}", {"recursive": p.recursive}, path)
        if op == "list_dir":
            if not path.is_dir():
                raise ToolError(f"{self.name}: cannot list {path}: not a directory")
            entries = _list(path, p.recursive)
            lines = "\n".join(e["path"] if p.recursive else e["name"] for e in entries)
            return self._out(op, lines, {"entries": entries, "count": len(entries)}, path,
                             message=f"Listed {len(entries)} entries in {path}")
        if op == "metadata":
            if not path.exists():
                raise ToolError(f"{self.name}: no such file or directory: {path}")
            st = path.stat()
            info = {"path": str(path), "size": st.st_size, "is_file": path.is_file(), "is_dir": path.is_dir(),
                    "is_symlink": path.is_symlink(), "modified": st.st_mtime, "created": st.st_ctime,
                    "permissions": oct(st.st_mode & 0o777), "readonly": not os.access(path, os.W_OK)}
            lines = "\n".join(f"{k}: {v}" for k, v in info.items())
            return self._out(op, lines, info, path, message=f"Metadata for {path}")
        if op == "exists":
            ex = path.exists()
            return self._out(op, f"Path {path} {'exists' if ex else 'does not exist'}", {"exists": ex}, path)
        raise ValidationError(f"{self.name}: unknown operation '{op}'")  # pragma: no cover - Literal guards

    def _out(self, op: str, text: str, result: Any, path: Path, *, message: str | None = None,
             success: bool = True, error: str | None = None) -> ToolOutput:
        md: dict[str, Any] = {"file_path": str(path)}
        try:
            if path.is_file():
                md["file_size"] = path.stat().st_size
        except OSError:
            pass
        response: dict[str, Any] = {"operation": op, "success": success, "message": message or text,
                                    "metadata": md}
        if result is not None:
            response["result"] = result
        if error is not None:
            response["error"] = {"message": error}
        return text_output(text, metadata={"operation": op, "response": response}, data=result,
                           success=success, error=error)


def _list(path: Path, recursive: bool) -> list[dict[str, Any]]:
    it = sorted(path.rglob("*") if recursive else path.iterdir())
    out = []
    for e in it:
        try:
            is_dir = e.is_dir()
            size = 0 if is_dir else e.stat().st_size
        except OSError:
            continue
        out.append({"name": e.name, "path": str(e), "type": "directory" if is_dir else "file", "size": size})
    return out
