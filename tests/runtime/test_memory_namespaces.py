"""Namespaces of globals (``Memory.episodic.add``): declaration, both engines, the API model, stubs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from engines.js_support import Captured, make_ctx
from engines.lua_support import run_lua
from llmspell.api.decl import NAMESPACES, ApiGlobal, api_global, expose
from llmspell.core.errors import ValidationError


class _Inner(ApiGlobal):
    """Inner namespace."""

    @expose
    def ping(self, x: int) -> str:
        """Echo with the parent's tag.

        Args:
            x: a number.
        """
        assert self.parent is not None
        return f"{self.parent.tag}:{x}"  # type: ignore[attr-defined]

    @expose
    async def later(self, s: str) -> str:
        await asyncio.sleep(0)
        return s.upper()


class _Deeper(ApiGlobal):
    """Nested twice."""

    @expose
    def depth(self) -> int:
        return 2


class _Inner2(ApiGlobal):
    """Has its own namespace."""

    api_namespaces = {"deeper": _Deeper}

    @expose
    def fail(self) -> None:
        raise ValidationError("nope")


@api_global("NsTest")
class _Outer(ApiGlobal):
    """A test global with namespaces."""

    api_namespaces = {"inner": _Inner, "other_part": _Inner2}
    tag = "outer"

    @expose
    def top(self) -> int:
        return 1


_REGISTERED = {k: v for k, v in NAMESPACES.items() if k.startswith("NsTest")}


def _cleanup_registry() -> None:
    from llmspell.api import decl

    decl.GLOBALS.pop("NsTest", None)
    for k in _REGISTERED:
        decl.NAMESPACES.pop(k, None)


_cleanup_registry()  # the real declaration (and the model built from it) stays untouched


def test_namespace_classes_are_named_after_their_global() -> None:
    assert _Inner.api_name == "NsTest.inner"
    assert _Inner.api_model_name == "NsTestInner"
    assert _Inner2.api_model_name == "NsTestOtherPart"
    assert _Deeper.api_name == "NsTest.other_part.deeper"
    assert _REGISTERED == {"NsTestInner": _Inner, "NsTestOtherPart": _Inner2, "NsTestOtherPartDeeper": _Deeper}
    assert "NsTestInner" not in NAMESPACES


def test_namespace_instance_shares_ctx_and_knows_its_parent() -> None:
    outer = _Outer(ctx=object())  # type: ignore[arg-type]
    inner = outer.api_namespace("inner")
    assert inner is outer.api_namespace("inner")
    assert inner.ctx is outer.ctx and inner.parent is outer


async def test_lua_dot_and_colon_calls_on_a_namespace(tmp_path: Path) -> None:
    src = """
    local a = NsTest.inner.ping(5)
    local b = NsTest.inner:ping(6)
    local c = NsTest.inner.later("x")
    local d = NsTest.other_part.deeper.depth()
    local ok, err = pcall(NsTest.other_part.fail)
    local ok2, err2 = pcall(NsTest.inner.ping)
    return {a, b, c, d, tostring(NsTest.inner), ok, err.message, err2.message, NsTest.top()}
    """
    r = await run_lua(src, tmp_path, globals_={"NsTest": _Outer})
    assert r.error is None, r.error
    res: Any = r.result
    vals = list(res)
    assert vals[:6] == ["outer:5", "outer:6", "X", 2, "NsTest.inner", False]
    assert vals[6] == "nope"
    assert "NsTest.inner.ping: missing argument #1 'x'" in vals[7]
    assert vals[8] == 1


async def test_js_namespace_calls() -> None:
    from llmspell.engines.js.spell import JSSpell

    src = """
    const a = NsTest.inner.ping(5);
    const { ping } = NsTest.inner;
    const b = ping(7);
    const p = NsTest.inner.later("x");
    const c = await p;
    const d = NsTest.other_part.deeper.depth();
    let msg = "";
    try { NsTest.otherPart; NsTest.other_part.fail(); } catch (e) { msg = e.message; }
    console.log(JSON.stringify([a, b, p instanceof Promise, c, d, msg]));
    """
    out = Captured()
    spell = JSSpell(make_ctx(out=out), src, globals={"NsTest": _Outer}, value_globals={})
    await spell.run()
    assert out.stdout.strip() == '["outer:5","outer:7",true,"X",2,"nope"]'


def test_model_lists_namespaces_as_fields_and_static_classes() -> None:
    from llmspell.api.introspect import _class_model, _TypeRenderer

    r = _TypeRenderer()
    g = _class_model(_Outer, "global", r)
    fields = {f.name: f.type for f in g.fields}
    assert fields == {"inner": "NsTestInner", "other_part": "NsTestOtherPart"}
    ns = _class_model(_Inner, "global", r)
    assert ns.name == "NsTestInner" and ns.kind == "global"
    assert [f.name for f in ns.functions] == ["later", "ping"]
    assert ns.functions[1].params[0].doc == "a number."
