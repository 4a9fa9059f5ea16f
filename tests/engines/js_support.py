"""Test-only API declaration and helpers for the JS engine tests (no dependency on the real globals).

The classes below are declared exactly like the real globals (ApiGlobal/ApiObject + @expose), so the
tests exercise the generic path: prototypes generated from the declaration, sync and async dispatch,
fields, dynamic members, callbacks.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from llmspell.api.context import SpellContext
from llmspell.api.decl import ApiGlobal, ApiObject, ScriptFunction, expose
from llmspell.config import LimitsConfig
from llmspell.core.errors import ToolNotFoundError, ValidationError


class TBuilder(ApiObject):
    api_name = "TBuilder"

    def __init__(self) -> None:
        self.cfg: dict[str, Any] = {}

    @expose(returns_self=True)
    def model(self, m: str) -> TBuilder:
        self.cfg["model"] = m
        return self

    @expose(returns_self=True)
    def system_prompt(self, s: str) -> TBuilder:
        self.cfg["system_prompt"] = s
        return self

    @expose
    def build(self) -> TAgentObj:
        if "model" not in self.cfg:
            raise ValidationError("Model is required")
        return TAgentObj(self.cfg)


class TAgentObj(ApiObject):
    api_name = "TAgent"
    api_fields = {"name": "string", "model_id": "string", "nothing": "nil"}

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.name = "agent-" + cfg["model"]
        self.model_id = cfg["model"]
        self.nothing = None

    @expose
    async def execute(self, inp: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.001)
        return {"text": f"{self.cfg['model']}: {inp.get('text')}", "metadata": {"gone": None, "n": 1}}

    @expose
    def get_config(self) -> dict[str, Any]:
        return dict(self.cfg)


class TTool(ApiGlobal):
    """Tool-like global with a dynamic member lookup (Tool["file-operations"])."""

    api_name = "Tool"

    @expose
    def list(self) -> list[dict[str, Any]]:
        return [{"name": "calculator"}, {"name": "file-operations"}]

    @expose
    async def execute(self, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        await asyncio.sleep(0)
        if name != "calculator":
            raise ToolNotFoundError(f"Tool '{name}' not found")
        return {"success": True, "result": {"value": eval(str((params or {}).get("input")), {})}}

    def api_index(self, key: str) -> Any:
        return {"name": key, "description": f"the {key} tool"} if key in ("calculator", "file-operations") else None


class TAgentGlobal(ApiGlobal):
    api_name = "Agent"

    @expose
    def builder(self) -> TBuilder:
        return TBuilder()

    @expose
    async def call_back(self, fn: ScriptFunction, *args: Any) -> Any:
        """Calls the script function from the loop, like a hook or an event handler."""
        return await fn(*args)

    @expose
    def keep(self, fn: ScriptFunction) -> bool:
        KEPT.append(fn)
        return True

    @expose
    def adder(self, n: int) -> Any:
        async def add(x: int) -> int:
            await asyncio.sleep(0)
            return x + n

        return add

    @expose
    async def sleep(self, seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    @expose
    def echo(self, v: Any = None) -> Any:
        return v

    @expose
    def echo_live(self, v: ScriptFunction | ApiObject | None = None) -> Any:
        """Declared to take a function or an API object (as a whole argument): the round trip of handles."""
        return v

    @expose
    def boom(self) -> None:
        raise RuntimeError("plain python failure")


class TJson(ApiGlobal):
    """Named like a JS builtin: the engine must keep the language's own JSON."""

    api_name = "JSON"

    @expose
    def parse(self, s: str) -> Any:
        return "host parse"


KEPT: list[ScriptFunction] = []
TEST_GLOBALS: dict[str, type[ApiGlobal]] = {"Agent": TAgentGlobal, "Tool": TTool, "JSON": TJson}


class Captured:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def __call__(self, stream: str, text: str) -> None:
        self.items.append((stream, text))

    @property
    def stdout(self) -> str:
        return "".join(t for s, t in self.items if s == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(t for s, t in self.items if s == "stderr")


def make_ctx(file: str = "spells/t.js", out: Captured | None = None, **limits: Any) -> SpellContext:
    runtime = SimpleNamespace(config=SimpleNamespace(limits=LimitsConfig(**limits)))
    return SpellContext(runtime=runtime, file=Path(file), language="javascript",  # type: ignore[arg-type]
                        emit_output=out or Captured())


def make_spell(source: str, out: Captured | None = None, file: str = "spells/t.js", **limits: Any) -> Any:
    from llmspell.engines.js.spell import JSSpell

    return JSSpell(make_ctx(file, out, **limits), source, globals=TEST_GLOBALS, value_globals={})
