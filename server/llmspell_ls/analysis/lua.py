"""Lua specifics for the shared analysis: tokens, keywords, local assignments, call style.

In Lua, globals hold static functions called with ``.`` and objects (builders, agents …) have methods
called with ``:``; ``f{...}`` and ``f"..."`` are calls too (``Workflow.sequential{...}``).
"""

from __future__ import annotations

import re

from llmspell_ls.analysis.quoted import quoted_closed, quoted_value

NAME = "lua"

TOKEN_RE = re.compile(
    r"""
    (?P<comment>--\[(?P<ceq>=*)\[.*?(?:\](?P=ceq)\]|\Z)|--[^\n]*)
  | (?P<string>\[(?P<seq>=*)\[.*?(?:\](?P=seq)\]|\Z)|"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>0[xX][0-9a-fA-F.]+|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)
  | (?P<op>\.\.\.|\.\.|==|~=|<=|>=|::|//|<<|>>|[-+*/%^#&~|<>=(){}\[\];:,.])
  | (?P<ws>\s+)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

KEYWORDS = frozenset(
    "and break do else elseif end false for function goto if in local nil not or repeat return then true "
    "until while".split()
)
STDLIB = frozenset(
    "print pairs ipairs type tostring tonumber error assert pcall xpcall select next rawget rawset rawequal "
    "rawlen setmetatable getmetatable require load loadfile dofile collectgarbage string table math os io "
    "coroutine utf8 debug package _G _VERSION arg unpack".split()
)
KEYWORD_COMPLETIONS = ("local", "function", "return", "if", "then", "else", "elseif", "end", "for", "while",
                       "do", "repeat", "until", "nil", "true", "false", "and", "or", "not", "break")

BLOCK_OPEN = frozenset({"function", "if", "do", "repeat"})
BLOCK_CLOSE = frozenset({"end", "until"})
"""Keyword blocks nest like brackets (``while``/``for`` open with their ``do``; ``then`` opens nothing)."""

STATIC_SEP = "."
METHOD_SEP = ":"
MEMBER_SEPS = frozenset({".", ":"})
KEY_VALUE_SEP = "="
TABLE_CALLS = True
"""``f{...}`` / ``f"..."`` are calls with one argument."""

# ``local x = <chain>`` / ``x = <chain>`` (the chain is read with the tokenizer from the match end)
ASSIGN_RE = re.compile(r"(?:^|[;\s])(?:local\s+)?([A-Za-z_]\w*)\s*=(?!=)\s*", re.M)


def assign_re_for(name: str) -> re.Pattern[str]:
    return re.compile(r"(?:^|[;\s])(?:local\s+)?" + re.escape(name) + r"\s*=(?!=)\s*", re.M)


def string_value(tok: str) -> str:
    """The content of a string token (unterminated strings tolerated)."""
    if tok.startswith("["):
        m = re.match(r"\[(=*)\[", tok)
        eq = m.group(1) if m else ""
        body = tok[len(eq) + 2:]
        end = "]" + eq + "]"
        return body[: -len(end)] if body.endswith(end) else body
    return quoted_value(tok)


def string_closed(tok: str) -> bool:
    if tok.startswith("["):
        m = re.match(r"\[(=*)\[", tok)
        return tok.endswith("]" + (m.group(1) if m else "") + "]") and len(tok) >= 4
    return quoted_closed(tok)
