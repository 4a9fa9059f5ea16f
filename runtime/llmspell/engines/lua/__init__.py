"""The Lua engine (``lupa.lua54``). ``create_spell(ctx, source)`` is the factory the runner uses.

Imports are lazy so that ``import llmspell.engines.lua`` costs nothing until a spell is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmspell.api.context import SpellContext
    from llmspell.engines.lua.spell import LuaSpell


def create_spell(ctx: SpellContext, source: str) -> LuaSpell:
    """A Lua spell for ``source``; run it with ``await spell.run()``."""
    from llmspell.engines.lua.spell import LuaSpell

    return LuaSpell(ctx, source)


__all__ = ["create_spell"]
