"""``ARGS`` and ``arg``: the spell's command-line arguments (rs-llmspell §2.8)."""

from __future__ import annotations

from typing import Any

from llmspell.api.context import SpellContext
from llmspell.api.decl import value_global
from llmspell.engines.convert import parse_script_args


def parse_args(script: str, argv: list[str]) -> tuple[dict[Any, str], dict[int, str]]:
    """``(ARGS, arg)``: ``[0]`` is the script, positionals are ``1..n``, ``--key value`` and
    ``--key=value`` set ``ARGS.key``, a bare ``--flag`` sets ``ARGS.flag = "true"``; ``arg`` keeps only
    the numbered entries. All values are strings."""
    named = parse_script_args(script, [str(a) for a in argv])  # the engines' parser: one set of rules
    return named, {k: v for k, v in named.items() if isinstance(k, int)}


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
