"""``.llmspell/mcp-tools.json``: the MCP tools a run discovered, for the language server.

The language server must never start the programs a workspace names on its own (opening a folder
would run them), so it does not talk to MCP servers. Instead every run that discovers a server's
tools (and ``llmspell-ls --mcp-refresh``) writes them here through the path gate, in the API model's
tool shape (``name``, ``description``, ``category``, ``security_level``, ``parameters``, ``schema``);
the server merges the file into its tool catalogue, so completion and hover know
``Tool.execute("mcp.notes.search", {query = ...})`` after the first run. Servers no longer configured
are dropped from the file; servers not (re)discovered by this run keep their previous entry.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

LISTING_PATH = Path(".llmspell") / "mcp-tools.json"
MAX_LISTING_BYTES = 8 * 1024 * 1024
VERSION = 1


def tool_entry(tool: Any) -> dict[str, Any]:
    """One MCP tool in the API model's ``ToolInfo`` shape."""
    from llmspell.tools.catalog import parameters_from_schema

    schema = dict(tool.input_schema)
    return {
        "name": tool.name,
        "description": tool.description,
        "category": "mcp",
        "security_level": tool.security_level,
        "version": "1.0.0",
        "parameters": [p.model_dump() for p in parameters_from_schema(schema)],
        "schema": schema,
    }


def read_listing(gate: Any, workspace: Path) -> dict[str, Any]:
    try:
        data = json.loads(gate.read_text(str(workspace / LISTING_PATH), max_bytes=MAX_LISTING_BYTES))
    except (OSError, ValueError, Exception):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("servers"), dict):
        return {}
    return data


def write_listing(runtime: Any, listed: dict[str, list[Any]], configured: set[str]) -> Path | None:
    """Merge ``listed`` (server -> tools) into the workspace's listing file; returns its path."""
    policy = getattr(runtime, "policy", None)
    workspace = getattr(runtime, "workspace", None)
    if policy is None or workspace is None:
        return None
    gate = policy.gate
    ws = Path(workspace)
    servers: dict[str, Any] = {k: v for k, v in read_listing(gate, ws).get("servers", {}).items()
                               if k in configured and isinstance(v, dict)}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for server, tools in listed.items():
        servers[server] = {"updated": now, "tools": [tool_entry(t) for t in tools]}
    body = json.dumps({"version": VERSION, "servers": dict(sorted(servers.items()))}, indent=1,
                      ensure_ascii=False, sort_keys=False) + "\n"
    final = ws / LISTING_PATH
    tmp = final.with_name(final.name + ".tmp")
    gate.write_text(str(tmp), body, parents=True)
    gate.rename(str(tmp), str(final), into_dir=False)
    return final
