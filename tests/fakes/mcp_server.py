"""A small real MCP server (written with the mcp SDK) for the MCP client tests.

``python mcp_server.py`` serves over stdio; ``python mcp_server.py --http`` binds 127.0.0.1 on a free
port, prints ``PORT <n>`` on stdout and serves Streamable HTTP at ``/mcp`` (the test starts it and
stops it). Tools: ``add`` (structured result), ``echo``, ``search`` (an enum and a default),
``fail`` (an ``isError`` result), ``getenv`` (what the server's environment holds), ``pid`` and
``die`` (the process exits, to test restarts). With ``FAKE_MCP_REQUIRE_TOKEN`` set, HTTP requests
without ``Authorization: Bearer <that token>`` get 401.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Literal

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("fake")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@server.tool()
def search(query: str, kind: Literal["notes", "tasks"] = "notes", limit: int = 3) -> dict[str, object]:
    """Search the fake notes or tasks."""
    return {"query": query, "kind": kind, "hits": [f"{kind}-{i}: {query}" for i in range(limit)]}


@server.tool()
def fail(message: str) -> str:
    """Fail with the given message (an isError result)."""
    raise ToolError(message)


@server.tool()
def getenv(name: str) -> str:
    """The value of an environment variable in the server's process, or <unset>."""
    return os.environ.get(name, "<unset>")


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def die() -> str:
    """Exit the server's process at once."""
    print("fake MCP server: exiting on request", file=sys.stderr, flush=True)
    os._exit(3)


def serve_http() -> None:
    import anyio
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    app = server.streamable_http_app()
    token = os.environ.get("FAKE_MCP_REQUIRE_TOKEN")
    if token:  # answer 401 to requests without "Authorization: Bearer <token>"
        from starlette.responses import PlainTextResponse

        inner = app

        async def app(scope, receive, send):  # type: ignore[no-untyped-def]
            headers = dict(scope.get("headers") or [])
            if scope["type"] == "http" and headers.get(b"authorization") != f"Bearer {token}".encode():
                await PlainTextResponse("missing or wrong token", status_code=401)(scope, receive, send)
                return
            await inner(scope, receive, send)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    anyio.run(uvicorn.Server(config).serve, [sock])


if __name__ == "__main__":
    if "--http" in sys.argv[1:]:
        serve_http()
    else:
        server.run()
