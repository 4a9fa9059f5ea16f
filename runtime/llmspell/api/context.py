"""What a global knows about the spell it serves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmspell.runtime import Runtime


@dataclass
class SpellContext:
    """Per-spell facts handed to every global: the runtime, the file, the arguments, the output sink.

    ``emit_output(stream, text)`` forwards printed text to the run stream; engines provide it.
    """

    runtime: Runtime
    file: Path | None = None
    language: str = "lua"
    args: list[str] = field(default_factory=list)
    run_id: str = ""
    emit_output: Callable[[str, str], None] = lambda stream, text: None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def spell_name(self) -> str:
        return str(self.file) if self.file else "<spell>"

    def method(self, lua_name: str, args: str = "") -> str:
        """How the spell's language writes a method call in an error message: ``:model("x")`` in Lua,
        ``.model("x")`` in JS (camelCase), so the advice can be pasted as is."""
        if self.language == "lua":
            return f":{lua_name}({args})"
        from llmspell.api.decl import camel

        return f".{camel(lua_name)}({args})"
