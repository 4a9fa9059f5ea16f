"""The JS sandbox: nothing beyond the API and the language itself is reachable."""

from __future__ import annotations

import pytest
from js_support import make_spell

from llmspell.core.errors import ScriptError


async def test_no_host_modules_or_engine_internals() -> None:
    r = await make_spell(
        """return ["require", "module", "exports", "std", "os", "print", "scriptArgs", "__ls_host",
                   "__ls_settle", "__ls_invoke", "__ls_finish", "__ls_install", "__date_clock", "Deno", "Bun",
                   "fetch", "XMLHttpRequest", "WebAssembly"].filter(n => typeof globalThis[n] !== "undefined");"""
    ).run()
    assert r == []


async def test_dynamic_import_is_refused() -> None:
    r = await make_spell(
        """const out = [];
        for (const m of ["os", "std", "./x.js", "/etc/passwd"]) {
          try { await import(m); out.push("loaded " + m); } catch (e) { out.push("refused"); }
        }
        return out;"""
    ).run()
    assert r == ["refused"] * 4


async def test_static_import_is_a_syntax_error() -> None:
    with pytest.raises(ScriptError) as ei:
        await make_spell('import * as os from "os";\n').run()
    assert ei.value.kind == "syntax"


async def test_eval_and_function_constructor_reach_nothing_new() -> None:
    r = await make_spell(
        """const g = (0, eval)("this"); const h = Function("return this")();
        return [g === globalThis, h === globalThis, typeof (0, eval)("typeof require"),
                Function("return typeof __ls_host")()];"""
    ).run()
    assert r == [True, True, "string", "undefined"]


async def test_api_objects_expose_only_declared_methods() -> None:
    r = await make_spell(
        """const b = Agent.builder();
        const own = Object.getOwnPropertyNames(Object.getPrototypeOf(b)).sort();
        return [own, Object.keys(b), JSON.stringify(b), typeof b.cfg, typeof b.__dict__, typeof b.__class__];"""
    ).run()
    assert r == [["build", "model", "systemPrompt"], [], "{}", "undefined", "undefined", "undefined"]


async def test_forged_handles_only_reach_exposed_methods() -> None:
    # Handles live in the prelude's WeakMap: an object carries nothing (no symbol, no key) that a spell
    # could copy onto another object, so a look-alike is not a handle (issue 10: plain data).
    r = await make_spell(
        """const b = Agent.builder();
        const syms = Object.getOwnPropertySymbols(b);
        const fake = Object.create(Object.getPrototypeOf(b));
        for (const s of syms) Object.defineProperty(fake, s, {value: 99999});
        for (const k of Object.getOwnPropertyNames(b)) fake[k] = b[k];
        let out = syms.length + " ";
        try { fake.model("x"); out += "reached"; } catch (e) { out += e.name + ": " + e.message; }
        return out;"""
    ).run()
    assert r == "0 TypeError: TBuilder.model must be called on TBuilder (obj.model(...))"


async def test_prototype_pollution_does_not_leak_into_python() -> None:
    r = await make_spell(
        """Object.prototype.__ls_obj = 1;
        Array.prototype.extra = 2;
        const v = Agent.echo({a: [1, 2]});
        delete Object.prototype.__ls_obj; delete Array.prototype.extra;
        return v;"""
    ).run()
    assert r == {"a": [1, 2]}
