"""JavaScript specifics for the shared analysis: tokens, keywords, ``const``/``let`` bindings, ``await``.

In JS every member is reached with ``.`` (or ``?.``); async API functions return Promises, so the typing
of ``await x`` unwraps them and a call to one that is not awaited earns the ``missing-await`` warning.
"""

from __future__ import annotations

import re

from llmspell_ls.analysis.quoted import quoted_closed, quoted_value

NAME = "javascript"

TOKEN_RE = re.compile(
    r"""
    (?P<comment>/\*.*?(?:\*/|\Z)|//[^\n]*)
  | (?P<string>"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?|`(?:\\.|[^`\\])*`?)
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<number>0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)
  | (?P<op>\.\.\.|\?\.|=>|===|!==|==|!=|<=|>=|&&|\|\||\?\?|\+\+|--|[-+*/%^&|<>=!?(){}\[\];:,.~])
  | (?P<ws>\s+)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

KEYWORDS = frozenset(
    "break case catch class const continue debugger default delete do else export extends false finally for "
    "function if import in instanceof let new null return super switch this throw true try typeof var void "
    "while with yield await async of undefined".split()
)
STDLIB = frozenset(
    "console Math JSON Object Array String Number Boolean Promise Date Error Map Set RegExp Symbol parseInt "
    "parseFloat isNaN isFinite globalThis undefined NaN Infinity BigInt WeakMap WeakSet Reflect Proxy "
    "TypeError RangeError setTimeout clearTimeout".split()
)
KEYWORD_COMPLETIONS = ("const", "let", "function", "async", "await", "return", "if", "else", "for", "while",
                       "of", "new", "try", "catch", "null", "undefined", "true", "false")

BLOCK_OPEN: frozenset[str] = frozenset()
BLOCK_CLOSE: frozenset[str] = frozenset()

STATIC_SEP = "."
METHOD_SEP = "."
MEMBER_SEPS = frozenset({".", "?."})
KEY_VALUE_SEP = ":"
TABLE_CALLS = False

ASSIGN_RE = re.compile(r"(?:\b(?:const|let|var)\s+|(?:^|[;\s]))([A-Za-z_$][\w$]*)\s*=(?![=>])\s*", re.M)


def assign_re_for(name: str) -> re.Pattern[str]:
    return re.compile(r"(?:\b(?:const|let|var)\s+|(?:^|[;\s]))" + re.escape(name) + r"\s*=(?![=>])\s*", re.M)


string_value = quoted_value
"""The content of a string token (JS templates are quoted with backticks, so one rule serves all three)."""
string_closed = quoted_closed
