"""Filesystem tools: file-search, file-watcher, file-converter (rs-llmspell names and parameters).

Every path goes through the path gate (security/fs.py): walks read directories through their fds and
never enter a symlinked directory; files are opened by the gate, which follows a link only while it
stays inside the allowed roots, so a link planted in the workspace cannot expose files outside it.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from llmspell.core.errors import LLMSpellError, ToolError
from llmspell.security.fs import PathGate
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import check_path, gate_of, quiet_gate


def _ext_set(exts: list[str] | None) -> set[str] | None:
    if not exts:
        return None
    return {e.lower().lstrip(".") for e in exts}


def walk_files(gate: PathGate, root: Path, *, recursive: bool, max_depth: int,
               exclude_dirs: set[str] | None = None) -> Iterator[tuple[Path, bool]]:
    """Files under ``root`` read through directory fds (yields (path, skipped_link)).

    Directories are never entered through a symlink; a symlinked *file* is yielded (and later opened
    through the gate, which follows it only while it stays inside) unless its target leaves.
    """
    kind = gate.kind(root)
    if kind != "directory":
        yield root, False
        return
    depth = max_depth + 1 if recursive else 1
    for e in gate.scandir(root, recursive=recursive, max_depth=max(depth, 1)):
        parts = Path(e.rel).parts
        if exclude_dirs and any(part in exclude_dirs for part in parts[:-1]):
            continue
        if e.kind == "file":
            yield root / e.rel, False
        elif e.kind == "symlink":
            try:
                ok = gate.kind(root / e.rel) == "file"
            except (OSError, LLMSpellError):
                ok = False
            yield root / e.rel, not ok
        elif e.kind == "other":
            yield root / e.rel, True


class FileSearchTool(BuiltinTool):
    name = "file-search"
    description = "Search file contents for text or a regular expression, with context lines"
    category = "filesystem"
    tags = ("search", "grep", "files")

    class Params(ToolParams):
        pattern: str = Field(description="Text (or regex with use_regex) to find")
        path: str = Field(description="File or directory to search")
        recursive: bool = Field(False, description="Descend into subdirectories")
        case_sensitive: bool = True
        use_regex: bool = False
        context_lines: int = Field(2, ge=0, le=50)
        include_extensions: list[str] | None = Field(None, description="Only these extensions (e.g. ['py','md'])")
        exclude_extensions: list[str] | None = None
        exclude_dirs: list[str] | None = Field(None, description="Directory names to skip (e.g. ['.git'])")
        max_file_size: int = Field(10485760, ge=0, description="Skip files larger than this (bytes)")
        max_matches_per_file: int = Field(0, ge=0, description="0 = unlimited")
        max_depth: int = Field(20, ge=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        root = check_path(ctx, params.path)
        if not gate_of(ctx).exists(root):
            raise ToolError(f"file-search: path does not exist: {params.path}")
        flags = 0 if params.case_sensitive else re.IGNORECASE
        try:
            rx = re.compile(params.pattern if params.use_regex else re.escape(params.pattern), flags)
        except re.error as e:
            raise ToolError(f"file-search: parameter 'pattern': invalid regular expression: {e}") from e
        return await asyncio.to_thread(self._search, quiet_gate(ctx), root, rx, params)

    def _search(self, gate: PathGate, root: Path, rx: re.Pattern[str], params: Params) -> dict[str, Any]:
        inc, exc = _ext_set(params.include_extensions), _ext_set(params.exclude_extensions)
        matches: list[dict[str, Any]] = []
        searched = with_matches = skipped = 0
        for p, bad_link in walk_files(gate, root, recursive=params.recursive, max_depth=params.max_depth,
                                      exclude_dirs=set(params.exclude_dirs or ())):
            if bad_link:
                skipped += 1
                continue
            ext = p.suffix.lower().lstrip(".")
            if (inc is not None and ext not in inc) or (exc is not None and ext in exc):
                continue
            try:
                data = gate.read_bytes(p, max_bytes=params.max_file_size)
            except (OSError, LLMSpellError):  # too large, vanished, a FIFO, a hard link, a link leaving
                skipped += 1
                continue
            if b"\0" in data[:8192]:  # binary
                continue
            searched += 1
            lines = data.decode("utf-8", errors="replace").splitlines()
            n = 0
            for i, line in enumerate(lines):
                m = rx.search(line)
                if not m:
                    continue
                n += 1
                c = params.context_lines
                matches.append({
                    "file": str(p), "line_number": i + 1, "line": line,
                    "match_start": m.start(), "match_end": m.end(), "matched": m.group(0),
                    "context_before": lines[max(0, i - c):i], "context_after": lines[i + 1:i + 1 + c],
                })
                if params.max_matches_per_file and n >= params.max_matches_per_file:
                    break
            if n:
                with_matches += 1
        return {"pattern": params.pattern, "path": str(root), "matches": matches, "total_matches": len(matches),
                "files_searched": searched, "files_with_matches": with_matches, "files_skipped": skipped}


class FileWatcherTool(BuiltinTool):
    name = "file-watcher"
    description = "Watch files or directories and report the changes that happen within a time limit"
    category = "filesystem"
    tags = ("watch", "files", "events")

    class Params(ToolParams):
        operation: Literal["watch", "config"] = Field(description="watch: wait for changes; config: validate")
        input: list[str] = Field(description="Paths to watch", min_length=1)
        recursive: bool = True
        pattern: str | None = Field(None, description="Glob on the file name, e.g. '*.txt'")
        debounce_ms: int = Field(100, ge=1)
        timeout_seconds: float = Field(300, gt=0)
        timeout_ms: int | None = Field(None, gt=0, description="Overrides timeout_seconds")
        max_events: int = Field(1000, ge=1)
        stop_after_first: bool = Field(True, description="Return after the first batch of changes")

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        paths = [check_path(ctx, p) for p in params.input]
        for p in paths:
            if not gate_of(ctx).exists(p):
                raise ToolError(f"file-watcher: parameter 'input': path does not exist: {p}")
        timeout = params.timeout_ms / 1000 if params.timeout_ms else params.timeout_seconds
        cfg = {"paths": [str(p) for p in paths], "recursive": params.recursive, "pattern": params.pattern,
               "debounce_ms": params.debounce_ms, "timeout_ms": int(timeout * 1000), "max_events": params.max_events}
        if params.operation == "config":
            return {"config": cfg, "valid": True}
        import watchfiles

        kinds = {watchfiles.Change.added: "created", watchfiles.Change.modified: "modified",
                 watchfiles.Change.deleted: "deleted"}
        stop = asyncio.Event()
        events: list[dict[str, Any]] = []
        roots = {p.resolve() for p in paths}

        def wanted(change: Any, path: str) -> bool:
            pp = Path(path)
            if params.pattern and not fnmatch.fnmatch(pp.name, params.pattern):
                return False
            return params.recursive or any(pp.parent == r or pp == r for r in roots)

        async def _watch() -> None:
            async for batch in watchfiles.awatch(*paths, watch_filter=wanted, debounce=params.debounce_ms,
                                                 step=min(50, params.debounce_ms), stop_event=stop,
                                                 recursive=params.recursive, rust_timeout=int(timeout * 1000) + 1000):
                for change, path in sorted(batch, key=lambda c: c[1]):
                    events.append({"path": path, "kind": kinds.get(change, str(change))})
                    if len(events) >= params.max_events:
                        return
                if params.stop_after_first and events:
                    return

        task = asyncio.create_task(_watch())
        timed_out = False
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            timed_out = True
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, 2)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        return {"events": events[: params.max_events], "count": min(len(events), params.max_events),
                "timed_out": timed_out, "config": cfg}


_ENDINGS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}
MAX_CONVERT_BYTES = 50 * 1024 * 1024


class FileConverterTool(BuiltinTool):
    name = "file-converter"
    description = "Convert a text file's encoding, line endings or indentation"
    category = "filesystem"
    tags = ("encoding", "line endings", "tabs")

    class Params(ToolParams):
        operation: Literal["encoding", "line_endings", "indentation"]
        path: str = Field(description="Source file")
        target_path: str | None = Field(None, description="Where to write (default: overwrite path)")
        from_encoding: str | None = Field(None, description="Source encoding (detected when omitted)")
        to_encoding: str = "utf-8"
        line_ending: Literal["lf", "crlf", "cr"] = "lf"
        convert_to_spaces: bool = True
        tab_size: int = Field(4, ge=1, le=16)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        gate = gate_of(ctx)
        src = check_path(ctx, params.path)
        dst = check_path(ctx, params.target_path or params.path, write=True)
        try:
            raw = await asyncio.to_thread(gate.read_bytes, params.path, max_bytes=MAX_CONVERT_BYTES)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise ToolError(f"file-converter: cannot read {src}: {e.strerror}") from e
        enc = params.from_encoding
        if enc is None:
            from charset_normalizer import from_bytes

            best = from_bytes(raw).best()
            enc = best.encoding if best is not None else "utf-8"
        try:
            text = raw.decode(enc)
        except (LookupError, UnicodeDecodeError) as e:
            raise ToolError(f"file-converter: cannot decode {src} as {enc}: {e}") from e
        out_enc = "utf-8"
        if params.operation == "encoding":
            out_enc = params.to_encoding
            new = text
        elif params.operation == "line_endings":
            new = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", _ENDINGS[params.line_ending])
            out_enc = enc
        else:
            out_enc = enc
            new = "".join(_reindent(line, params.convert_to_spaces, params.tab_size)
                          for line in text.splitlines(keepends=True))
        try:
            data = new.encode(out_enc)
        except (LookupError, UnicodeEncodeError) as e:
            raise ToolError(f"file-converter: cannot encode as {out_enc}: {e}") from e
        await asyncio.to_thread(gate.write_bytes, params.target_path or params.path, data, parents=True)
        return {"source": str(src), "target": str(dst), "operation": params.operation,
                "from_encoding": enc, "to_encoding": out_enc, "bytes_written": len(data)}


def _reindent(line: str, to_spaces: bool, tab: int) -> str:
    body = line.lstrip(" \t")
    lead = line[: len(line) - len(body)]
    width = 0
    for ch in lead:
        width = (width // tab + 1) * tab if ch == "\t" else width + 1
    if to_spaces:
        return " " * width + body
    return "\t" * (width // tab) + " " * (width % tab) + body


TOOLS = [FileSearchTool, FileWatcherTool, FileConverterTool]
