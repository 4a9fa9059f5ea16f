"""``ARGS`` and ``arg``: the spell's command-line arguments (rs-llmspell §2.8)."""

from __future__ import annotations

from typing import Any

from llmspell.api.context import SpellContext
from llmspell.api.decl import value_global


def parse_args(script: str, argv: list[str]) -> tuple[dict[Any, str], dict[int, str]]:
    """``(ARGS, arg)``: ``[0]`` is the script, positionals are ``1..n``, ``--key value`` and
    ``--key=value`` set ``ARGS.key``, a bare ``--flag`` sets ``ARGS.flag = "true"``; ``arg`` keeps only
    the numbered entries. All values are strings."""
    named: dict[Any, str] = {0: script}
    numbered: dict[int, str] = {0: script}
    n = 0
    i = 0
    while i < len(argv):
        a = str(argv[i])
        if a.startswith("--") and len(a) > 2:
            body = a[2:]
            if "=" in body:
                k, v = body.split("=", 1)
                named[k] = v
            elif i + 1 < len(argv) and not str(argv[i + 1]).startswith("--"):
                named[body] = str(argv[i + 1])
                i += 1
            else:
                named[body] = "true"
        else:
            n += 1
            named[n] = a
            numbered[n] = a
        i += 1
    return named, numbered


def _script_name(ctx: SpellContext) -> str:
    return str(ctx.file) if ctx.file is not None else ctx.spell_name


value_global(
    "ARGS",
    "table<integer|string, string>",
    "The spell's arguments: ARGS[0] is the script, ARGS[1..n] the positional arguments, "
    "`--key value` gives ARGS.key = \"value\" and a bare `--flag` gives ARGS.flag = \"true\". "
    "All values are strings.",
    lambda ctx: parse_args(_script_name(ctx), list(ctx.args))[0],
)

value_global(
    "arg",
    "table<integer, string>",
    "Lua-style argument table: arg[0] is the script, arg[1..n] the positional arguments "
    "(named `--key` options are only in ARGS).",
    lambda ctx: parse_args(_script_name(ctx), list(ctx.args))[1],
)
