"""MCP servers' tools in the language server's catalogue, from ``.llmspell/mcp-tools.json``.

The language server never starts an MCP server: opening a folder must not run the programs its
``llmspell.toml`` names. The runtime writes the tools it discovered (with their JSON schemas, in the
API model's tool shape) to ``<workspace>/.llmspell/mcp-tools.json`` on every run that uses MCP and on
``llmspell-ls --mcp-refresh``; this module merges that file into the loaded :class:`ApiIndex`, so
``Tool.execute("mcp.<server>.`` completes tool names and ``{`` completes their parameters.

The file is workspace data (a spell could write it), so it is read as untrusted: bounded size, only
``mcp.``-prefixed names, only the known fields. It is looked at again at most once a second and
re-read only when its modification time or size changed.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from llmspell_ls.apimodel import ApiIndex, NameEntry, Tool, ToolParam

LISTING = os.path.join(".llmspell", "mcp-tools.json")
MAX_BYTES = 8 * 1024 * 1024
CHECK_EVERY_S = 1.0


def _param(p: Any) -> ToolParam | None:
    """A parameter entry with the field types the completion code relies on (else dropped)."""
    if not isinstance(p, dict) or not isinstance(p.get("name"), str):
        return None
    values = p.get("values")
    return ToolParam(name=p["name"], type=str(p.get("type") or "any")[:200],
                     description=str(p.get("description") or "")[:4000], required=p.get("required") is True,
                     default=p.get("default") if isinstance(p.get("default"), (str, int, float, bool)) else None,
                     values=[str(v) for v in values][:500] if isinstance(values, list) else None)


def _tools_of(data: Any) -> list[Tool]:
    # Every field is checked for its type: the file is workspace data, and a wrongly typed field
    # (parameters = 5, a dict as a name) raised in the refresh or later in every completion request.
    out: list[Tool] = []
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("servers"), dict):
        return out
    for server in data["servers"].values():
        tools = server.get("tools") if isinstance(server, dict) else None
        for t in tools if isinstance(tools, list) else []:
            if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not t["name"].startswith("mcp."):
                continue
            raw_params = t.get("parameters")
            params = [q for q in (_param(p) for p in (raw_params if isinstance(raw_params, list) else []))
                      if q is not None]
            raw = t.get("schema")
            schema: dict[str, Any] = raw if isinstance(raw, dict) else {}
            desc = t.get("description")
            level = t.get("security_level")
            out.append(Tool(name=t["name"], description=desc if isinstance(desc, str) else "", category="mcp",
                            security_level=level if isinstance(level, str) else "privileged",
                            parameters=params, schema=schema))
    return out


def _read_regular(path: str) -> bytes | None:
    """The file's bytes if it is a regular file of at most MAX_BYTES. The listing may be a symlink
    (git keeps them) to a FIFO or to /dev/stdin, the LSP pipe itself: a plain open() blocked, and a
    read would have eaten the client's messages. O_NONBLOCK makes the open return; fstat decides."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES:
            return None
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)


class MCPToolsFile:
    """Keeps the MCP part of an index in step with the workspace folders' listing files."""

    def __init__(self) -> None:
        self._stamps: dict[str, tuple[int, int] | None] = {}
        self._checked = 0.0
        self._merged: set[str] = set()
        # Requests run on worker threads and each asks for the index. Without the lock, the second of
        # two concurrent callers saw ``_checked`` just set by the first and went on with the catalogue
        # the first had not merged yet: a completion right after a refresh missed the new tools.
        self._lock = threading.Lock()

    def refresh(self, index: ApiIndex, roots: list[str], *, force: bool = False) -> bool:
        """Merge the listing files of ``roots`` into ``index`` if they changed; True when it did."""
        with self._lock:
            return self._refresh(index, roots, force)

    def due(self) -> bool:
        """A :meth:`refresh` would look at the files (read without the lock: ``_checked`` is only set once
        a look is over, so a caller told False never sees a catalogue being merged)."""
        return time.monotonic() - self._checked >= CHECK_EVERY_S

    def _refresh(self, index: ApiIndex, roots: list[str], force: bool) -> bool:
        now = time.monotonic()
        if not force and now - self._checked < CHECK_EVERY_S:
            return False
        try:
            return self._look(index, roots, force)
        finally:
            self._checked = now

    def _look(self, index: ApiIndex, roots: list[str], force: bool) -> bool:
        stamps: dict[str, tuple[int, int] | None] = {}
        for root in roots:
            try:
                st = os.stat(os.path.join(root, LISTING))
                stamps[root] = (st.st_mtime_ns, st.st_size)
            except OSError:
                stamps[root] = None
        if stamps == self._stamps and not force:
            return False
        self._stamps = stamps
        tools: dict[str, Tool] = {}
        for root, stamp in stamps.items():
            if stamp is None or stamp[1] > MAX_BYTES:
                continue
            raw_bytes = _read_regular(os.path.join(root, LISTING))
            if raw_bytes is None:
                continue
            try:
                data = json.loads(raw_bytes)
            except (ValueError, RecursionError):  # deep nesting raises RecursionError, not ValueError
                continue
            for t in _tools_of(data):
                tools.setdefault(t.name, t)
        self._apply(index, tools)
        return True

    def _apply(self, index: ApiIndex, tools: dict[str, Tool]) -> None:
        catalog = index.catalogs.setdefault("tools", {})
        for name in self._merged:
            index.tools.pop(name, None)
            catalog.pop(name, None)
        for name, t in tools.items():
            if name in index.tools:  # never shadow a builtin
                continue
            index.tools[name] = t
            catalog[name] = NameEntry(name, t.description, "mcp")
        self._merged = set(tools)
        index.__dict__.pop("_completion_cache", None)  # pre-serialized completion items of the old catalogue
