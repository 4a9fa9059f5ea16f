"""Event-type patterns, compiled once into the cheapest matcher that fits.

rs-llmspell only knows ``*``, a trailing ``*`` (prefix) and exact names; we also accept a leading ``*``
(``*.failed``) and any other glob (``agent.*.chunk``, ``tool.?``), matched with ``fnmatchcase`` over
the whole dotted name. Matching is case-sensitive, like event names.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

_GLOB_CHARS = frozenset("*?[")


def _always(_: str) -> bool:
    return True


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """Return a predicate ``event_type -> bool`` for ``pattern``.

    The common shapes get a bound string method (exact: ``__eq__``, ``agent.*``: ``startswith``,
    ``*.failed``: ``endswith``), so matching costs one C call; anything else is a compiled regex.
    """
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"an event pattern must be a non-empty string, got {pattern!r}")
    if pattern == "*":
        return _always
    if not (_GLOB_CHARS & set(pattern)):
        return pattern.__eq__
    body = pattern[:-1]
    if pattern.endswith("*") and not (_GLOB_CHARS & set(body)):
        return _prefix(body)
    tail = pattern[1:]
    if pattern.startswith("*") and not (_GLOB_CHARS & set(tail)):
        return _suffix(tail)
    rx = re.compile(fnmatch.translate(pattern))
    return lambda s: rx.match(s) is not None


def _prefix(prefix: str) -> Callable[[str], bool]:
    return lambda s: s.startswith(prefix)


def _suffix(suffix: str) -> Callable[[str], bool]:
    return lambda s: s.endswith(suffix)
