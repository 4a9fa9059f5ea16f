"""JavaScript spells (QuickJS). ``create_spell`` is the factory the runner calls for ``.js`` files.

Importing this package is cheap: quickjs and the engine are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmspell.api.context import SpellContext
    from llmspell.engines.host import SpellHost

__all__ = ["ENGINE_GLOBALS_DTS", "SKIPPED_DECLARED_GLOBALS", "create_spell"]

SKIPPED_DECLARED_GLOBALS = ("JSON",)
"""Declared globals named like a JavaScript builtin: the JS engine keeps the builtin (it is generic:
any declared name already present on a bare QuickJS ``globalThis`` is skipped)."""

ENGINE_GLOBALS_DTS = """\
/** Output captured by the llmspell runtime: log/info/debug -> stdout, error/warn/trace -> stderr. */
interface Console {
  log(...data: any[]): void;
  info(...data: any[]): void;
  debug(...data: any[]): void;
  error(...data: any[]): void;
  warn(...data: any[]): void;
  trace(...data: any[]): void;
}
declare var console: Console;
/** Resolve after `ms` milliseconds (the runtime's clock; other work continues meanwhile). */
declare function sleep(ms: number): Promise<void>;
declare function setTimeout(fn: (...args: any[]) => void, ms?: number, ...args: any[]): number;
declare function clearTimeout(id: number): void;
declare function queueMicrotask(fn: () => void): void;
/** End the spell (not the process) with exit status `code` (default 0). */
declare function exit(code?: number): never;
declare var process: { exit(code?: number): never; readonly env: {}; readonly argv: string[] };
"""
"""What the JS engine itself adds to ``globalThis`` (beyond the declared API), as TypeScript, for stubgen."""


def create_spell(ctx: SpellContext, source: str) -> SpellHost:
    """A spell host that runs ``source`` (a ``.js`` spell) for ``ctx`` when awaited via ``.run()``."""
    from llmspell.engines.js.spell import JSSpell

    ctx.language = "javascript"
    return JSSpell(ctx, source)
