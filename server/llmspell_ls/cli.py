"""Command line: ``llmspell-ls`` (serve over stdio) | ``--run FILE`` | ``--check FILE…`` | ``--stubs DIR`` |
``--mcp`` (builtin tools over MCP stdio) | ``--mcp-refresh``.

Argument parsing only; each mode lives in its own module and is imported lazily so that ``--run``
never pays for the language server's imports and the server never imports the engines up front.
Exit status: 0 success, 1 the spell/check failed, 2 usage errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llmspell-ls",
        description="Language server and runner for llmspell spells (Lua and JavaScript).",
        epilog="With no mode, serves the Language Server Protocol over stdio.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--run", metavar="FILE", help="run a spell and print its output and a summary")
    mode.add_argument("--check", metavar="FILE", nargs="+", help="print diagnostics for spells, like a linter")
    mode.add_argument("--stubs", metavar="DIR", help="write the API model and LuaCATS/.d.ts stubs into DIR")
    mode.add_argument("--mcp", action="store_true",
                      help="serve the builtin tools over MCP stdio (policy and limits: the workspace's llmspell.toml)")
    mode.add_argument("--mcp-refresh", action="store_true",
                      help="start the [mcp.servers] of llmspell.toml and write their tools to .llmspell/mcp-tools.json")
    mode.add_argument("--dap", action="store_true", help="serve the Debug Adapter Protocol over stdio (spell debugger)")
    p.add_argument("--json", action="store_true", help="with --run: print every run message as JSON Lines")
    p.add_argument("--model", metavar="M", help="with --run: default model id (e.g. openai/gpt-4o-mini)")
    p.add_argument("--trace", metavar="FILE",
                   help="with --run: write the run's OpenTelemetry spans to FILE as OTLP JSON "
                        "(OTEL_EXPORTER_OTLP_ENDPOINT also exports them over OTLP/HTTP)")
    p.add_argument("--cluster", metavar="ADDR",
                   help="with --run: run map items and parallel branches on a Dask cluster: local:N (N worker "
                        "processes for this run) or tcp://host:port (an existing scheduler); needs the cluster extra")
    p.add_argument("--workspace", metavar="DIR", help="workspace root (llmspell.toml, .llmspell/ state)")
    p.add_argument("--tcp", metavar="HOST:PORT", help="serve LSP over TCP instead of stdio (debugging)")
    p.add_argument("--log-file", metavar="FILE", help="write server logs to FILE")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, script_args = argv[:i], argv[i + 1:]
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help
        return int(e.code or 0)
    if ns.version:
        from llmspell_ls import __version__

        print(f"llmspell-ls {__version__}")
        return 0
    if ns.dap:
        from llmspell_ls.dap.server import main as dap_main

        return dap_main()
    if ns.run:
        from llmspell_ls.run_command import run_command

        return run_command(ns.run, script_args, json_lines=ns.json, model=ns.model, workspace=ns.workspace,
                           trace_file=ns.trace, cluster=ns.cluster)
    if ns.json or ns.model or ns.trace or ns.cluster or script_args:
        parser.print_usage(sys.stderr)
        print("llmspell-ls: --json, --model, --trace, --cluster and script arguments need --run FILE", file=sys.stderr)
        return 2
    if ns.check:
        from llmspell_ls.check_command import check_command

        return check_command(ns.check, workspace=ns.workspace)
    if ns.mcp or ns.mcp_refresh:
        from llmspell_ls.mcp_command import mcp_command

        return mcp_command(refresh=ns.mcp_refresh, workspace=ns.workspace)
    if ns.stubs:
        from llmspell_ls.stubgen import write_stubs

        for path in write_stubs(ns.stubs):
            print(path)
        return 0
    from llmspell_ls.server import serve

    return serve(tcp=ns.tcp, log_file=ns.log_file)
