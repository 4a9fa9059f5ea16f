"""One live connection to one MCP server: start it, list its tools, call them, notice its death.

The SDK's ``Client`` is an async context manager built on anyio task groups, which must be entered
and left by the same task; so each connection has a *holder* task that enters ``async with
Client(...)``, reports ready and waits for a stop signal. Calls come from any task of the same loop
(the runtime's), and the session multiplexes them.

A stdio server that exits (crash, ``os._exit``, killed) closes its pipe; the SDK then fails every
pending and later request with "Connection closed". That is turned into one clear error naming the
server and the last lines the server wrote on stderr (captured in an anonymous temporary file), the
connection is dropped, and the next use starts the server again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from typing import Any

from llmspell.core.errors import ToolError

STDERR_TAIL_BYTES = 2000
"""How much of a dead server's stderr the error message quotes (its last lines)."""


class MCPServerExited(ToolError):
    """The server's process ended (or its connection closed); the next use restarts it."""


class MCPConnection:
    """A started server (stdio subprocess or Streamable HTTP session) and its client session."""

    def __init__(self, name: str, *, command: str | None = None, args: list[str] | None = None,
                 env: dict[str, str] | None = None, cwd: str | None = None, url: str | None = None,
                 headers: dict[str, str] | None = None, timeout_s: float = 30.0):
        self.name = name
        self.command = command
        self.args = list(args or [])
        self.env = dict(env or {})
        self.cwd = cwd
        self.url = url
        self.headers = dict(headers or {})
        self.http_status: int | None = None
        """The last HTTP error status the server answered (named in error messages)."""
        self.timeout_s = timeout_s
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._errlog: Any = None
        self._stderr_mark = 0
        """stderr bytes already accounted for: a death message quotes only what came after the last
        request that succeeded."""
        self.dead: str | None = None
        """Why the connection ended (None while it is usable)."""

    # ------------------------------------------------------------------ life cycle

    @property
    def alive(self) -> bool:
        return self._client is not None and self.dead is None and self._task is not None and not self._task.done()

    def _target(self) -> Any:
        from mcp.client.stdio import StdioServerParameters, stdio_client

        if self.url is not None:
            self.http_status = None
            return _http_transport(self.url, self.headers, self)
        self._errlog = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
        self._stderr_mark = 0
        params = StdioServerParameters(command=str(self.command), args=self.args, env=self.env, cwd=self.cwd)
        return stdio_client(params, errlog=self._errlog)

    async def start(self) -> None:
        """Start the server and finish the MCP handshake within ``timeout_s``."""
        from mcp import Client

        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._stop = stop = asyncio.Event()
        self.dead = None
        target = self._target()

        async def hold() -> None:
            try:
                async with Client(target, read_timeout_seconds=self.timeout_s) as client:
                    self._client = client
                    if not ready.done():
                        ready.set_result(None)
                    await stop.wait()
            except BaseException as e:  # the holder must report, never raise into the void
                if not ready.done():
                    ready.set_exception(e if isinstance(e, Exception) else RuntimeError(str(e)))
                if isinstance(e, asyncio.CancelledError):
                    raise
            finally:
                self._client = None
                if self.dead is None:
                    self.dead = "connection closed"

        self._task = loop.create_task(hold(), name=f"mcp-{self.name}")
        try:
            await asyncio.wait_for(asyncio.shield(ready), self.timeout_s)
        except TimeoutError:
            await self.close()
            raise ToolError(f"MCP server '{self.name}' did not finish starting within {self.timeout_s:g} s "
                            f"(mcp.servers.{self.name}.timeout_s){self._stderr_note()}",
                            details={"server": self.name}) from None
        except Exception as e:
            note = self._stderr_note()
            await self.close()
            raise MCPServerExited(self.start_failure(e, note), details={"server": self.name}) from None

    def start_failure(self, e: BaseException, note: str) -> str:
        what = f"'{self.command}'" if self.url is None else self.url
        reason = _reason(e)
        if self.http_status is not None:
            reason += f" (HTTP {self.http_status})"
        if self.url is None and ("closed" in reason.lower() or isinstance(e, (EOFError, BrokenPipeError))):
            return f"MCP server '{self.name}' exited while starting ({what}): {reason}{note}"
        return f"MCP server '{self.name}' could not be started ({what}): {reason}{note}"

    async def close(self) -> None:
        """Stop the session (stdio: close the server's stdin, then the SDK's kill escalation)."""
        task, stop = self._task, self._stop
        self._task = None
        if stop is not None:
            stop.set()
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), 6.0)
            except (TimeoutError, Exception):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._client = None
        if self._errlog is not None:
            with contextlib.suppress(OSError):
                self._errlog.close()
            self._errlog = None

    # ------------------------------------------------------------------ requests

    async def list_tools(self) -> list[Any]:
        """Every tool the server lists (following pagination)."""
        client = self._require()
        tools: list[Any] = []
        cursor: str | None = None
        for _ in range(100):
            res = await self._request(client.list_tools(cursor=cursor), "tools/list")
            tools.extend(res.tools)
            cursor = getattr(res, "next_cursor", None)
            if not cursor:
                break
        return tools

    async def call_tool(self, tool: str, arguments: dict[str, Any]) -> Any:
        client = self._require()
        return await self._request(client.call_tool(tool, arguments, read_timeout_seconds=self.timeout_s),
                                   f"tool '{tool}'")

    def _require(self) -> Any:
        if not self.alive:
            raise MCPServerExited(f"MCP server '{self.name}' is not running", details={"server": self.name})
        return self._client

    async def _request(self, coro: Any, what: str) -> Any:
        try:
            res = await asyncio.wait_for(coro, self.timeout_s + 1.0)
            self._stderr_mark = self._stderr_size()
            return res
        except TimeoutError:
            raise ToolError(f"MCP server '{self.name}': {what} did not answer within {self.timeout_s:g} s "
                            f"(mcp.servers.{self.name}.timeout_s)", details={"server": self.name}) from None
        except Exception as e:
            from mcp.shared.exceptions import MCPError

            if isinstance(e, MCPError) and "closed" not in str(e).lower():
                status = f" (HTTP {self.http_status})" if self.http_status is not None else ""
                raise ToolError(f"MCP server '{self.name}': {what} failed: {e}{status}",
                                details={"server": self.name}) from None
            if isinstance(e, (MCPError, OSError, EOFError)) or type(e).__name__ in (
                    "ClosedResourceError", "BrokenResourceError", "EndOfStream"):
                await asyncio.sleep(0.05)  # let the pipe reader see the end of the stderr lines
                note = self._stderr_note()
                self.dead = _reason(e)
                await self.close()
                kind = "exited" if self.url is None else "closed the connection"
                raise MCPServerExited(f"MCP server '{self.name}' {kind}: {_reason(e)}{note}; it is started again "
                                      "on next use", details={"server": self.name}) from None
            raise

    # ------------------------------------------------------------------ diagnostics

    def _stderr_size(self) -> int:
        f = self._errlog
        if f is None:
            return 0
        try:
            return os.fstat(f.fileno()).st_size
        except (OSError, ValueError):
            return 0

    def stderr_tail(self) -> str:
        """The last lines the server wrote on stderr (read without moving the shared file offset)."""
        f = self._errlog
        if f is None:
            return ""
        try:
            f.flush()
            fd = f.fileno()
            size = os.fstat(fd).st_size
            start = max(self._stderr_mark, size - STDERR_TAIL_BYTES, 0)
            data = os.pread(fd, size - start, start)
        except (OSError, ValueError):
            return ""
        text = data.decode("utf-8", "replace").strip()
        lines = [ln for ln in text.splitlines() if ln.strip()]
        return " | ".join(ln.strip() for ln in lines[-3:])

    def _stderr_note(self) -> str:
        tail = self.stderr_tail()
        return f" (server stderr: {tail})" if tail else ""


@contextlib.asynccontextmanager
async def _http_transport(url: str, headers: dict[str, str], conn: MCPConnection) -> AsyncIterator[Any]:
    """Streamable HTTP on an httpx2 client of ours: extra headers (credentials from the vault), the
    SDK's default timeouts (30 s, 300 s to read a stream), and the last error status recorded (the
    SDK reports a refused request only as "Server returned an error response")."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    async def record(response: Any) -> None:
        if response.status_code >= 400:
            conn.http_status = response.status_code

    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0),
                                  event_hooks={"response": [record]}) as http, \
            streamable_http_client(url, http_client=http) as streams:
        yield streams


def _reason(e: BaseException) -> str:
    if isinstance(e, BaseExceptionGroup):
        inner = [x for x in e.exceptions]
        if inner:
            return _reason(inner[0])
    text = str(e).strip()
    return text or type(e).__name__
