"""A tiny MCP server for examples/mcp_tool.lua: notes kept in memory, written with the mcp SDK.

Run by llmspell when a spell first uses one of its tools (see the llmspell.toml snippet in
mcp_tool.lua); it speaks MCP over stdin/stdout and ends when llmspell closes it.
"""

from __future__ import annotations

from mcp.server import MCPServer

server = MCPServer("notes")
NOTES: list[dict[str, str]] = []


@server.tool()
def add_note(title: str, body: str) -> dict[str, object]:
    """Store a note; returns its number."""
    NOTES.append({"title": title, "body": body})
    return {"id": len(NOTES), "count": len(NOTES)}


@server.tool()
def search(query: str, limit: int = 5) -> dict[str, object]:
    """Notes whose title or body contains the query (case-insensitive)."""
    q = query.lower()
    hits = [n for n in NOTES if q in n["title"].lower() or q in n["body"].lower()]
    return {"query": query, "hits": hits[:limit]}


if __name__ == "__main__":
    server.run()
