"""Helpers shared by the core globals: per-spell cleanup and language names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmspell.api.context import SpellContext

CLEANUP_KEY = "cleanups"
"""``ctx.extra["cleanups"]``: callables the runner calls when the spell ends (hooks and subscriptions a
spell registered must not outlive its interpreter)."""


def on_spell_end(ctx: SpellContext, fn: Callable[[], Any]) -> None:
    ctx.extra.setdefault(CLEANUP_KEY, []).append(fn)


def run_spell_cleanup(ctx: SpellContext) -> None:
    """Call every cleanup registered for ``ctx`` (idempotent; errors are ignored)."""
    fns = ctx.extra.pop(CLEANUP_KEY, [])
    for fn in reversed(fns):
        try:
            fn()
        except Exception:
            pass


_LANGS = {
    "lua": "lua", "javascript": "javascript", "js": "javascript", "python": "python", "py": "python",
    "rust": "rust", "unknown": "unknown",
}
_DISPLAY = {"lua": "Lua", "javascript": "JavaScript", "python": "Python", "rust": "Rust", "unknown": "Unknown"}


def normalize_language(value: Any, default: str) -> str:
    from llmspell.core.errors import ValidationError

    if value is None:
        return _LANGS.get(default, default)
    lang = _LANGS.get(str(value).lower())
    if lang is None:
        raise ValidationError(
            f"unknown language {value!r}: expected one of lua, javascript, js, python, py, rust, unknown"
        )
    return lang


def display_language(lang: str) -> str:
    return _DISPLAY.get(lang, lang[:1].upper() + lang[1:])
