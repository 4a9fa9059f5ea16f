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
import time
from typing import Any

from llmspell_ls.apimodel import ApiIndex, NameEntry, Tool, ToolParam, _mk

LISTING = os.path.join(".llmspell", "mcp-tools.json")
MAX_BYTES = 8 * 1024 * 1024
CHECK_EVERY_S = 1.0


def _tools_of(data: Any) -> list[Tool]:
    out: list[Tool] = []
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("servers"), dict):
        return out
    for server in data["servers"].values():
        tools = server.get("tools") if isinstance(server, dict) else None
        for t in tools if isinstance(tools, list) else []:
            if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not t["name"].startswith("mcp."):
                continue
            params = [_mk(ToolParam, p) for p in t.get("parameters") or [] if isinstance(p, dict) and "name" in p]
            raw = t.get("schema")
            schema: dict[str, Any] = raw if isinstance(raw, dict) else {}
            out.append(Tool(name=t["name"], description=str(t.get("description") or ""), category="mcp",
                            security_level=str(t.get("security_level") or "privileged"),
                            parameters=params, schema=schema))
    return out


class MCPToolsFile:
    """Keeps the MCP part of an index in step with the workspace folders' listing files."""

    def __init__(self) -> None:
        self._stamps: dict[str, tuple[int, int] | None] = {}
        self._checked = 0.0
        self._merged: set[str] = set()

    def refresh(self, index: ApiIndex, roots: list[str], *, force: bool = False) -> bool:
        """Merge the listing files of ``roots`` into ``index`` if they changed; True when it did."""
        now = time.monotonic()
        if not force and now - self._checked < CHECK_EVERY_S:
            return False
        self._checked = now
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
            try:
                with open(os.path.join(root, LISTING), "rb") as f:
                    data = json.loads(f.read(MAX_BYTES + 1))
            except (OSError, ValueError):
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
