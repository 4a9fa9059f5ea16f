"""MCP servers' tools as registry tools: ``mcp.<server>.<tool>``.

:class:`MCPTools` belongs to a :class:`~llmspell.tools.registry.ToolRegistry` whose configuration has
``[mcp.servers]``. Servers start lazily: the first use of one of their tools, ``Tool.list`` or an
agent whose allowed tools name them starts the server, lists its tools, registers one
:class:`MCPTool` per tool and writes the listing to ``.llmspell/mcp-tools.json``. Everything runs on
the runtime's event loop (tools are ``async``); a synchronous lookup from the spell's thread
(``Tool.get``, ``Tool.exists``) waits for the discovery on that loop.

Policy, checked at every start (restarts too): a stdio server's program must be in
``mcp.process_allow`` (found on a PATH without the spell-writable roots) and gets only the variables
``mcp.servers.<name>.env`` names, valued from the runtime's secret vault; an HTTP server's URL must
pass the network policy (``check_url``). Refusals are :class:`SecurityViolationError`s naming the key.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from typing import TYPE_CHECKING, Any

from llmspell.core.errors import SecurityViolationError, ToolError, ToolNotFoundError
from llmspell.core.traits import Tool, ToolSchema
from llmspell.core.types import ToolOutput
from llmspell.mcp.schema import public_schema, result_output, validate_arguments
from llmspell.tools.base import ToolContext

if TYPE_CHECKING:
    from llmspell.config import MCPConfig, MCPServerSettings
    from llmspell.mcp.connection import MCPConnection

PREFIX = "mcp."
_SHELL_CHARS = re.compile(r"[\s;&|`$<>(){}\[\]*?!~'\"\\]")


def split_name(name: str) -> tuple[str, str] | None:
    """``mcp.<server>.<tool>`` -> (server, tool); tool names may themselves contain dots."""
    if not isinstance(name, str) or not name.startswith(PREFIX):
        return None
    server, dot, tool = name[len(PREFIX):].partition(".")
    if not server or not dot or not tool:
        return None
    return server, tool


class MCPTool(Tool):
    """One tool of one MCP server; calls go through :class:`MCPTools` (which restarts dead servers)."""

    category = "mcp"
    security_level = "privileged"  # a server runs outside the spell sandbox

    def __init__(self, owner: MCPTools, server: str, info: Any):
        self.server = server
        self.tool = str(info.name)
        super().__init__(f"{PREFIX}{server}.{self.tool}", str(getattr(info, "description", None) or ""),
                         id=f"tool_mcp_{server}_{self.tool}")
        self.owner = owner
        self.input_schema = public_schema(getattr(info, "input_schema", None))
        self.output_schema = getattr(info, "output_schema", None)
        self.tags = ("mcp", server)
        self.state = "ready"

    @property
    def function_name(self) -> str:
        """The name models call it by: ``mcp_<server>_<tool>`` (OpenAI-style function names allow only
        letters, digits, ``_`` and ``-``, at most 64; the agent maps it back to ``mcp.<server>.<tool>``)."""
        return re.sub(r"[^A-Za-z0-9_-]", "_", f"mcp_{self.server}_{self.tool}")[:64]

    def schema(self) -> ToolSchema:
        return ToolSchema(name=self.function_name, description=self.description, parameters=self.input_schema,
                          returns=self.output_schema)

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return validate_arguments(self.name, self.input_schema, params)

    async def call(self, params: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        result = await self.owner.call(self.server, self.tool, params)
        return result_output(self.name, result)

    async def invoke(self, params: dict[str, Any]) -> ToolOutput:
        return await self.call(self.validate_params(params), ToolContext(self.owner.runtime, self.name))


class MCPTools:
    """The configured MCP servers of one runtime: discovery, connections, calls, the listing file."""

    def __init__(self, registry: Any, config: MCPConfig):
        self.registry = registry
        self.runtime = registry.runtime
        self.config = config
        self._conns: dict[str, MCPConnection] = {}
        self._listed: dict[str, list[MCPTool]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.errors: dict[str, str] = {}
        """The last discovery error per server (``Tool.list`` leaves such a server out)."""

    @property
    def servers(self) -> dict[str, MCPServerSettings]:
        return dict(self.config.servers)

    def settings(self, server: str) -> MCPServerSettings:
        s = self.config.servers.get(server)
        if s is None:
            known = ", ".join(sorted(self.config.servers)) or "none"
            raise ToolNotFoundError(f"no MCP server named '{server}' in llmspell.toml (configured: {known}); "
                                    f"add [mcp.servers.{server}]", details={"server": server})
        return s

    # ------------------------------------------------------------------ discovery

    def known(self, server: str) -> bool:
        return server in self._listed

    def listed(self, server: str) -> list[MCPTool]:
        """The tools ``server`` listed at its last discovery (empty before it)."""
        return list(self._listed.get(server, []))

    async def prepare(self, name: str) -> None:
        """Discover the server of tool ``name`` (if it names a configured one and is not known yet)."""
        parts = split_name(name)
        if parts is None or parts[0] not in self.config.servers or parts[0] in self._listed:
            return
        await self.discover(parts[0])

    async def prepare_all(self) -> None:
        """Discover every configured server not known yet; one failing leaves the others listed."""
        todo = [s for s in self.config.servers if s not in self._listed]
        if not todo:
            return
        results = await asyncio.gather(*(self.discover(s) for s in todo), return_exceptions=True)
        events = getattr(self.runtime, "events", None)
        for s, r in zip(todo, results, strict=True):
            if isinstance(r, BaseException):
                self.errors[s] = str(r)
                if events is not None and hasattr(events, "publish_nowait"):
                    # Tool.list leaves the server out; the event says why (--json, LLMSPELL_EVENTS=1, editors)
                    events.publish_nowait("tool.failed", {"tool": f"mcp.{s}.*", "error": str(r),
                                                          "error_type": type(r).__name__, "caller": "Tool.list"},
                                          source="mcp")

    def prepare_sync(self, name: str) -> None:
        """:meth:`prepare` from a thread that is not the runtime loop's (a spell's ``Tool.get``)."""
        parts = split_name(name)
        if parts is None or parts[0] not in self.config.servers or parts[0] in self._listed:
            return
        loop = self._loop or getattr(getattr(self.runtime, "events", None), "_loop", None)
        if loop is None or not loop.is_running():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            return  # on the loop itself: cannot wait; async callers use prepare()
        fut = asyncio.run_coroutine_threadsafe(self.prepare(name), loop)
        try:
            fut.result(self.settings(parts[0]).timeout_s + 10.0)
        except Exception as e:  # the failure is reported again when the tool is called
            self.errors[parts[0]] = str(e)

    async def discover(self, server: str) -> list[MCPTool]:
        """Start ``server`` if needed, list its tools and register them (replacing an older listing)."""
        self._loop = asyncio.get_running_loop()
        lock = self._locks.setdefault(server, asyncio.Lock())
        async with lock:
            if server in self._listed:
                return self._listed[server]
            conn = await self.connection(server)
            infos = await conn.list_tools()
            tools = [MCPTool(self, server, i) for i in infos]
            for old in self._listed.get(server, []):
                self.registry.unregister(old.name)
            for t in tools:
                self.registry.register(t, replace=True)
            self._listed[server] = tools
            self.errors.pop(server, None)
        self._write_listing()
        return tools

    def _write_listing(self) -> None:
        from llmspell.mcp.catalog_file import write_listing

        try:
            write_listing(self.runtime, {s: ts for s, ts in self._listed.items()}, set(self.config.servers))
        except Exception:  # the listing is a convenience for the editor; a run never fails on it
            pass

    # ------------------------------------------------------------------ connections

    async def connection(self, server: str) -> MCPConnection:
        """The live connection to ``server``, started (after the policy checks) when there is none."""
        self._loop = asyncio.get_running_loop()
        conn = self._conns.get(server)
        if conn is not None and conn.alive:
            return conn
        lock = self._locks.setdefault(f"start:{server}", asyncio.Lock())
        async with lock:
            conn = self._conns.get(server)
            if conn is not None and conn.alive:
                return conn
            if conn is not None:
                await conn.close()
            conn = await self._start(server)
            self._conns[server] = conn
            return conn

    async def _start(self, server: str) -> MCPConnection:
        from llmspell.mcp.connection import MCPConnection

        s = self.settings(server)
        policy = getattr(self.runtime, "policy", None)
        if s.url is not None:
            if policy is not None:
                try:
                    await policy.check_url(s.url)
                except SecurityViolationError as e:
                    raise SecurityViolationError(
                        f"MCP server '{server}' (mcp.servers.{server}.url in llmspell.toml): {e.message}",
                        details=e.details) from None
            conn = MCPConnection(server, url=s.url, headers=self._headers(server), timeout_s=s.timeout_s)
        else:
            program = self.check_command(server, str(s.command))
            if not s.trust_workspace_files:
                self.check_files(server, program, list(s.args))
            conn = MCPConnection(server, command=program, args=list(s.args), env=self._server_env(server),
                                 cwd=str(getattr(self.runtime, "workspace", None) or os.getcwd()),
                                 timeout_s=s.timeout_s)
        await conn.start()
        return conn

    def check_command(self, server: str, name: str) -> str:
        """The absolute path of an MCP server's program, if ``mcp.process_allow`` lists it."""
        policy = getattr(self.runtime, "policy", None)
        allow = list(self.config.process_allow)
        where = f"MCP server '{server}' (mcp.servers.{server}.command)"

        def refuse(reason: str) -> SecurityViolationError:
            if policy is not None and hasattr(policy, "_refuse"):
                return policy._refuse("process", reason, program=name, server=server)  # type: ignore[no-any-return]
            return SecurityViolationError(reason, details={"program": name, "server": server})

        if not name or _SHELL_CHARS.search(name):
            raise refuse(f"{where}: invalid program name {name!r}: give a plain executable name or an absolute path")
        if os.sep in name:
            listed = [e for e in allow if os.sep in e]
            if not os.path.isabs(name) or not any(os.path.realpath(e) == os.path.realpath(name) for e in listed):
                raise refuse(f"{where}: program path '{name}' is not in mcp.process_allow in llmspell.toml "
                             "(a path is started only when that exact absolute path is listed)")
            found = name if os.path.isfile(name) and os.access(name, os.X_OK) else None
        else:
            if name not in allow:
                listed_txt = ", ".join(allow) if allow else "empty"
                raise refuse(f"{where}: program '{name}' is not in mcp.process_allow ({listed_txt}); add it to "
                             "mcp.process_allow in llmspell.toml to let this server start")
            from llmspell.security.process import safe_search_path

            roots = getattr(policy, "allowed_roots", None) or []
            found = shutil.which(name, path=safe_search_path(roots))
        if found is None:
            raise ToolError(f"{where}: program '{name}' is allowed but was not found"
                            + ("" if os.sep in name else " on PATH"), details={"server": server})
        return found

    def check_files(self, server: str, program: str, args: list[str]) -> None:
        """Refuse a server whose program or argument files lie where spells can write (the allowed
        roots): it runs outside the sandbox, so a spell could otherwise rewrite what the next start runs.
        Directory arguments (a filesystem server's root, ``.``) are data and pass."""
        policy = getattr(self.runtime, "policy", None)
        roots = [os.path.realpath(r) for r in (getattr(policy, "allowed_roots", None) or [])]
        if not roots:
            return
        ws = str(getattr(self.runtime, "workspace", None) or os.getcwd())
        for cand in [program, *args]:
            if not cand or (cand.startswith("-") and "=" not in cand):
                continue
            value = cand.split("=", 1)[1] if cand.startswith("-") else cand
            path = value if os.path.isabs(value) else os.path.join(ws, value)
            if not os.path.isfile(path):  # files are what runs; a directory argument is data (a root to serve)
                continue
            real = os.path.realpath(path)
            root = next((r for r in roots if real == r or real.startswith(r.rstrip(os.sep) + os.sep)), None)
            if root is None:
                continue
            reason = (f"MCP server '{server}': '{value}' lies inside {root}, where spells may write files, and the "
                      "server runs outside the sandbox (a spell could change what it runs); keep the server's "
                      f"files outside the allowed paths, or set mcp.servers.{server}.trust_workspace_files = true "
                      "in llmspell.toml to accept that")
            if policy is not None and hasattr(policy, "_refuse"):
                raise policy._refuse("process", reason, program=program, server=server, path=real)
            raise SecurityViolationError(reason, details={"server": server, "path": real})

    def _server_env(self, server: str) -> dict[str, str]:
        """The variables ``mcp.servers.<server>.env`` names, valued from the runtime's vault (the SDK
        adds HOME, LOGNAME, PATH, SHELL, TERM and USER from this process's scrubbed environment)."""
        from llmspell.security.secrets import vault_of

        vault = vault_of(self.runtime)
        env: dict[str, str] = {}
        for n in self.settings(server).env:
            v = vault.get(n)
            if v is not None:
                env[n] = v
        return env

    def _headers(self, server: str) -> dict[str, str]:
        """``mcp.servers.<server>.headers_env``: header -> value of the named variable (from the vault)."""
        from llmspell.security.secrets import vault_of

        vault = vault_of(self.runtime)
        out: dict[str, str] = {}
        for header, name in self.settings(server).headers_env.items():
            v = vault.get(name)
            if v is not None:
                out[header] = v
        return out

    async def call(self, server: str, tool: str, arguments: dict[str, Any]) -> Any:
        """Call ``tool`` on ``server`` (starting it again if it had died)."""
        conn = await self.connection(server)
        return await conn.call_tool(tool, arguments)

    async def aclose(self) -> None:
        conns, self._conns = self._conns, {}
        await asyncio.gather(*(c.close() for c in conns.values()), return_exceptions=True)
