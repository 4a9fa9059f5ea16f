"""``llmspell-ls --mcp``: the builtin tools served over MCP stdio.

* **Listing**: every builtin tool with its parameter schema exactly as declared (the pydantic
  ``Params`` JSON schema the API model and ``Tool.get(...):json_schema()`` give), through the SDK's
  low-level ``Server`` (which advertises the schema verbatim and validates nothing).
* **Arguments** are validated here, before anything runs, with the tool's own validation: a bad call
  is an ``isError`` result whose text names the parameter (``file-operations: parameter 'path' is
  required``).
* **Each call is one isolated run** (:class:`~llmspell.isolation.IsolatedRunner`; with
  ``limits.isolation = "none"`` calls run on one runtime in this process instead, under the same
  policy, with the wall time as a timeout and no kill): a two-line JavaScript spell calls ``Tool.execute`` in a
  fresh child process of the zygote. So a call gets exactly what a spell gets from the workspace's
  ``llmspell.toml`` (the current directory's, or ``--workspace``): the path gate over the allowed
  roots, the network and process policies, secrets only through the vault and ``security.env_allow``,
  and every limit (wall time, memory, file size, open files) enforced by a supervisor that kills the
  whole process tree. A call that blocks is ended at ``limits.wall_time_s`` like a spell. The price
  is a fork per call (see ``benchmarks/bench_mcp.py``).
* **Refusals and failures** (a path outside the allowed roots, a refused host, a tool error, a
  timeout) come back as ``isError`` results with the runtime's message, which is what a model can
  read and react to; protocol errors are left for requests that are not tool calls.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from llmspell.config import RuntimeConfig

CALL_SPELL = """const r = await Tool.execute(ARGS[1], JSON.parse(ARGS[2]));
return r;
"""
"""The spell one call runs (JavaScript keeps ``{}`` and ``[]`` apart in the arguments)."""

_LOCATION = re.compile(r"^\S*mcp-call\.js:\d+:\s*")


class BuiltinToolServer:
    """Lists the builtin tools and runs calls in isolated runs under ``config``'s policy and limits."""

    def __init__(self, config: RuntimeConfig, *, runner: Any = None):
        self.config = config
        self.workspace = config.workspace_path
        self._runner = runner
        self._runtime: Any = None

    # ------------------------------------------------------------------ listing

    def tools(self) -> list[dict[str, Any]]:
        """``[{name, description, input_schema}]`` of every builtin tool, schemas as declared."""
        from llmspell.tools.catalog import builtin_classes

        return [{"name": cls.name, "description": cls.description, "input_schema": cls.parameters_schema()}
                for cls in builtin_classes()]

    # ------------------------------------------------------------------ calls

    def runner(self) -> Any:
        if self._runner is None:
            from llmspell.isolation import IsolatedRunner, ZygoteSpawner

            self._runner = IsolatedRunner(config=self.config, spawner=ZygoteSpawner())
        return self._runner

    def check(self, name: str, arguments: dict[str, Any]) -> str | None:
        """Why the call cannot run (unknown tool, bad arguments), or None."""
        from llmspell.core.errors import ValidationError
        from llmspell.tools.builtin import BUILTIN_TOOLS
        from llmspell.tools.registry import load_builtin_class

        spec = BUILTIN_TOOLS.get(name)
        if spec is None:
            import difflib

            close = difflib.get_close_matches(name, list(BUILTIN_TOOLS), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else "; tools/list shows the available tools"
            return f"unknown tool '{name}'{hint}"
        if not isinstance(arguments, dict):
            return f"{name}: arguments must be an object"
        try:
            load_builtin_class(spec).validate_params(arguments)
        except ValidationError as e:
            return e.message
        return None

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, str, dict[str, Any] | None]:
        """Run one call: (is_error, text, structured content)."""
        why = self.check(name, arguments)
        if why is not None:
            return True, why, None
        if self.config.limits.isolation == "none":
            return await self._call_in_process(name, arguments)
        from llmspell.messages import Finished

        fin: Finished | None = None
        path = Path(self.workspace) / ".llmspell" / "mcp-call.js"
        async for msg in self.runner().run(path, source=CALL_SPELL, args=[name, json.dumps(arguments)]):
            if isinstance(msg, Finished):
                fin = msg
        if fin is None:
            return True, f"{name}: the call ended without a result", None
        if fin.status != "success":
            err = fin.error
            text = (err.message if err is not None and err.message else fin.status) or fin.status
            text = _LOCATION.sub("", text.strip())
            if fin.status == "timeout":
                text = f"{name}: {text} (limits.wall_time_s in llmspell.toml)"
            return True, text, None
        return result_parts(fin.result)


    async def _call_in_process(self, name: str, arguments: dict[str, Any]) -> tuple[bool, str, dict[str, Any] | None]:
        """``limits.isolation = "none"``: one long-lived runtime in this process (its policy still
        applies; only the process boundary and the kill are gone), the wall time as a timeout."""
        import asyncio

        from llmspell.api.shapes import output_table
        from llmspell.core.errors import LLMSpellError

        if self._runtime is None:
            from llmspell.runtime import Runtime

            self._runtime = Runtime(self.config)
        try:
            out = await asyncio.wait_for(self._runtime.tools.execute(name, arguments, caller="mcp"),
                                         self.config.limits.wall_time_s)
        except TimeoutError:
            return True, (f"{name}: wall time limit exceeded ({self.config.limits.wall_time_s:g} s) "
                          "(limits.wall_time_s in llmspell.toml)"), None
        except LLMSpellError as e:
            return True, e.message, None
        return result_parts(output_table(out.text, out.metadata))


def result_parts(r: Any) -> tuple[bool, str, dict[str, Any] | None]:
    """A spell-side output table back to MCP: the tool's text, and its JSON as structured content."""
    if not isinstance(r, dict):
        return False, json.dumps(r, ensure_ascii=False, default=str), None
    raw = r.get("_raw_text")
    if isinstance(raw, str):
        structured = {k: v for k, v in r.items() if k not in ("_raw_text", "metadata")}
        is_error = structured.get("success") is False
        return is_error, raw, structured
    text = r.get("text")
    if isinstance(text, str):
        data = r.get("data")
        return False, text, data if isinstance(data, dict) else None
    body = {k: v for k, v in r.items() if k != "metadata"}
    return False, json.dumps(body, ensure_ascii=False, default=str), body


def build_server(tools: BuiltinToolServer) -> Any:
    """The SDK's low-level ``Server`` answering ``tools/list`` and ``tools/call`` from ``tools``."""
    import mcp_types as types
    from mcp.server import Server

    async def on_list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=[
            types.Tool(name=t["name"], description=t["description"], input_schema=t["input_schema"])
            for t in tools.tools()])

    async def on_call_tool(ctx: Any, params: Any) -> Any:
        is_error, text, structured = await tools.call(str(params.name), dict(params.arguments or {}))
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                    structured_content=structured, is_error=is_error)

    return Server("llmspell-ls", version=_version(), on_list_tools=on_list_tools, on_call_tool=on_call_tool)


async def serve_stdio(config: RuntimeConfig) -> None:
    """Serve MCP over this process's stdin/stdout until the client closes it."""
    from mcp.server.stdio import stdio_server

    server = build_server(BuiltinToolServer(config))
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("llmspell-ls")
    except Exception:
        return "0"
