"""Test-only API declaration and helpers for the Lua engine tests.

The engine must generate its globals from *any* declaration, so these tests use their own small
globals (sync and async methods, a builder returning self, callbacks, dynamic members, errors) rather
than the real ones: the engine is tested on its own, the real globals in the examples tests.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel, Field

from llmspell.api.context import SpellContext
from llmspell.api.decl import ApiGlobal, ApiObject, ScriptFunction, ValueGlobal, expose
from llmspell.config import LimitsConfig, RuntimeConfig
from llmspell.core.errors import ToolNotFoundError, ValidationError
from llmspell.engines.lua.spell import LuaSpell
from llmspell.security.policy import SecurityPolicy


class Cfg(BaseModel):
    name: str = ""
    tools: list[str] = Field(default_factory=list)
    inner: Inner | None = None


class Inner(BaseModel):
    tags: list[str] = Field(default_factory=list)


Cfg.model_rebuild()


class Widget(ApiObject):
    """A handle with fields and colon-called methods (an agent, say)."""

    api_name = "Widget"
    api_fields = {"name": "string", "id": "string"}

    def __init__(self, name: str):
        self.name = name
        self.id = f"w_{name}"
        self.model_name: str | None = None
        self.calls = 0

    @expose(returns_self=True)
    def model(self, m: str) -> Widget:
        self.model_name = m
        return self

    @expose
    def build(self) -> Widget:
        return self

    @expose
    async def execute(self, input: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.001)
        self.calls += 1
        return {"text": f"{self.name}:{input.get('text')}:{self.model_name}", "metadata": {"calls": self.calls}}

    @expose
    async def explode(self) -> None:
        await asyncio.sleep(0.001)
        raise ToolNotFoundError("Tool 'nope' not found", details={"name": "nope"})


class T(ApiGlobal):
    """Static functions exercising every bridge path."""

    api_name = "T"
    seen: list[Any] = []

    def __init__(self, ctx: SpellContext):
        super().__init__(ctx)
        self.widgets: dict[str, Widget] = {}

    @expose
    def builder(self, name: str = "w") -> Widget:
        w = self.widgets.get(name) or Widget(name)
        self.widgets[name] = w
        return w

    @expose
    def add(self, a: int, b: int) -> int:
        return a + b

    @expose
    def noop(self) -> None:
        return None

    @expose
    def echo(self, v: Any = None) -> Any:
        """Records the converted value and returns it (round trip)."""
        T.seen.append(v)
        return v

    @expose
    def echo_live(self, v: ScriptFunction | ApiObject | None = None) -> Any:
        """Declared to take a function or an API object (as a whole argument): the round trip of handles."""
        return v

    @expose
    def pair(self) -> tuple[int, str]:
        return 1, "two"

    @expose
    def items(self, xs: list[str]) -> int:
        assert isinstance(xs, list), xs
        return len(xs)

    @expose
    def configure(self, cfg: Cfg) -> dict[str, Any]:
        return Cfg.model_validate(cfg).model_dump()

    @expose
    async def sleep(self, s: float) -> float:
        await asyncio.sleep(s)
        return s

    @expose
    async def call(self, fn: ScriptFunction, *args: Any) -> Any:
        return await fn(*args)

    @expose
    def keep(self, fn: ScriptFunction) -> None:
        self.kept = fn

    @expose
    async def call_kept(self, *args: Any) -> Any:
        return await self.kept(*args)

    @expose
    def fail(self, message: str = "bad input") -> None:
        raise ValidationError(message)

    @expose
    async def fail_later(self) -> None:
        await asyncio.sleep(0.001)
        raise ToolNotFoundError("Tool 'missing' not found")

    @expose
    def boom(self) -> None:
        raise KeyError("internal")

    @expose
    def model_out(self) -> Cfg:
        return Cfg(name="m", tools=["a", "b"])

    def api_index(self, key: str) -> Any:
        if key.startswith("dyn-"):
            return self.builder(key[4:])
        return None


def fake_runtime(tmp: Path, **limits: Any) -> SimpleNamespace:
    cfg = RuntimeConfig(workspace=str(tmp), limits=LimitsConfig(**limits))
    return SimpleNamespace(config=cfg, workspace=tmp, policy=SecurityPolicy(workspace=tmp))


class Outcome(SimpleNamespace):
    result: Any
    output: str
    error: BaseException | None
    spell: LuaSpell


async def run_lua(
    src: str,
    tmp: Path,
    *,
    name: str = "spell.lua",
    args: list[str] | None = None,
    globals_: dict[str, type[ApiGlobal]] | None = None,
    value_globals: dict[str, ValueGlobal] | None = None,
    runtime: Any = None,
    **limits: Any,
) -> Outcome:
    """Run ``src`` as ``tmp/name`` with the test globals; never raises (the error is returned)."""
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(src, encoding="utf-8")
    rt = runtime or fake_runtime(tmp, **limits)
    out: list[str] = []
    ctx = SpellContext(runtime=rt, file=path, args=list(args or []),
                       emit_output=lambda stream, text: out.append(text if stream == "stdout" else f"!{text}"))
    spell = LuaSpell(ctx, src, api_globals=globals_ if globals_ is not None else {"T": T},
                     value_globals=value_globals if value_globals is not None else {})
    result: Any = None
    error: BaseException | None = None
    try:
        result = await spell.run()
    except BaseException as e:
        error = e
    return Outcome(result=result, output="".join(out), error=error, spell=spell)
