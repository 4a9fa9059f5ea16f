"""Quoted-string tokens (``"…"`` / ``'…'``) as Lua and JavaScript both write them.

The language specs (:mod:`.lua`, :mod:`.javascript`) read their other string forms themselves (Lua long
brackets, JS templates) and hand plain quoted tokens here, so the rules for an unterminated string —
tolerated while the user is typing — are the same in both languages. Kept apart from
:mod:`.common`, which imports the specs.
"""

from __future__ import annotations


def quoted_value(tok: str) -> str:
    """The content of a quoted string token without its quotes (an unterminated string keeps its tail)."""
    q = tok[0]
    body = tok[1:]
    if body.endswith(q) and len(tok) >= 2:
        body = body[:-1]
    return body


def quoted_closed(tok: str) -> bool:
    """True when the token ends with its (unescaped) opening quote."""
    return len(tok) >= 2 and tok.endswith(tok[0]) and not tok.endswith("\\" + tok[0])
