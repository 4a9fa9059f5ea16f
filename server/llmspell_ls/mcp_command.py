"""``llmspell-ls --mcp`` and ``llmspell-ls --mcp-refresh``.

``--mcp`` serves the builtin tools over MCP stdio (:mod:`llmspell.mcp.server`) under the policy and
limits of the workspace's ``llmspell.toml`` (``--workspace DIR``, else the current directory).
``--mcp-refresh`` starts the ``[mcp.servers]`` of that file, lists their tools and writes
``.llmspell/mcp-tools.json`` (what the language server completes from; it never starts servers
itself), then prints one line per server on stderr. Exit status: 0, 1 when a server failed, 2 for a
bad configuration.
"""

from __future__ import annotations

import asyncio
import sys


def mcp_command(*, refresh: bool, workspace: str | None) -> int:
    from llmspell.config import load_config
    from llmspell.core.errors import ConfigurationError

    try:
        config = load_config(workspace)
    except ConfigurationError as e:
        print(f"llmspell-ls: {e.message}", file=sys.stderr)
        return 2
    if refresh:
        return asyncio.run(_refresh(config))
    from llmspell.mcp.server import serve_stdio

    asyncio.run(serve_stdio(config))
    return 0


async def _refresh(config: object) -> int:
    from llmspell.mcp.catalog_file import LISTING_PATH
    from llmspell.runtime import Runtime

    rt = Runtime(config)  # type: ignore[arg-type]
    mcp = rt.tools.mcp
    if mcp is None:
        print("llmspell-ls: no [mcp.servers] in llmspell.toml: nothing to refresh", file=sys.stderr)
        return 0
    try:
        await mcp.prepare_all()
    finally:
        await rt.tools.aclose()
        rt.state.close()
    code = 0
    for server in sorted(mcp.servers):
        if server in mcp.errors:
            print(f"[mcp] {server}: {mcp.errors[server]}", file=sys.stderr)
            code = 1
        else:
            tools = [t.name for t in mcp.listed(server)]
            print(f"[mcp] {server}: {len(tools)} tools ({', '.join(tools)})", file=sys.stderr)
    print(f"[mcp] wrote {rt.workspace / LISTING_PATH}", file=sys.stderr)
    return code
