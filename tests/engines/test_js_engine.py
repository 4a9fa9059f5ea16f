"""The JS engine against a test-only declaration: API shape, values, callbacks, errors, exit."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from js_support import KEPT, Captured, make_spell

from llmspell.core.errors import ScriptError
from llmspell.engines.host import SpellExit


async def run(src: str, **kw: object) -> tuple[object, Captured]:
    out = Captured()
    r = await make_spell(src, out, **kw).run()  # type: ignore[arg-type]
    return r, out


async def test_builder_chain_is_synchronous_and_execute_is_a_promise() -> None:
    r, out = await run(
        """const a = Agent.builder().model("m1").systemPrompt("be brief").build();
        console.log(a.name, a.modelId, "nothing" in a, typeof a.execute);
        const p = a.execute({text: "hi"});
        console.log(p instanceof Promise);
        const res = await p;
        console.log(res.text, JSON.stringify(res.metadata));
        return a.getConfig();"""
    )
    assert out.stdout.splitlines() == ["agent-m1 m1 false function", "true", 'm1: hi {"n":1}']
    assert r == {"model": "m1", "system_prompt": "be brief"}


async def test_sync_data_methods_and_dynamic_members() -> None:
    r, _ = await run(
        """const names = Tool.list().map(t => t.name);
        return {names, fo: Tool["file-operations"].description, missing: Tool["nope"] === undefined,
                calc: (await Tool.execute("calculator", {input: "6*7"})).result.value};"""
    )
    assert r == {"names": ["calculator", "file-operations"], "fo": "the file-operations tool",
                 "missing": True, "calc": 42}


async def test_objects_keep_identity_and_cross_back_to_python() -> None:
    r, _ = await run(
        """const b = Agent.builder();
        const f = (x) => x;
        let nested = "accepted";
        try { Agent.echo({fns: [f]}); } catch (e) { nested = e.message; }
        return [b.model("x") === b, Agent.echoLive(b) === b, Agent.echo({k: [1, null, undefined]}),
                Agent.echo() === undefined, Agent.echo({a: undefined, b: null}), Agent.echoLive(f) === f,
                nested];"""
    )
    assert r[:6] == [True, True, {"k": [1, None, None]}, True, {}, True]
    # a function inside plain data is refused, naming where it was (issue 10: plain data across the bridge)
    assert "argument #1 'v' (at v.fns[0]): a function cannot be passed here" in r[6], r[6]


async def test_static_functions_work_off_their_table() -> None:
    r, _ = await run("const { builder } = Agent; return builder().model('q').build().name;")
    assert r == "agent-q"


async def test_host_errors_are_catchable_with_name_kind_message() -> None:
    _, out = await run(
        """try { Agent.builder().build(); } catch (e) { console.log(e instanceof Error, e.name, e.kind, e.message); }
        try { await Tool.execute("nope", {}); } catch (e) { console.log(e.name, e.kind, e.message); }
        try { Agent.boom(); } catch (e) { console.log(e.name, e.kind, e.message); }
        const m = Agent.builder().model; try { m("x"); } catch (e) { console.log(e.name); }"""
    )
    assert out.stdout.splitlines() == [
        "true ValidationError validation Model is required",
        "ToolNotFoundError tool Tool 'nope' not found",
        "RuntimeError runtime plain python failure",
        "TypeError",
    ]


async def test_uncaught_error_has_file_line_and_mapped_stack() -> None:
    src = "const x = 1;\n\nfunction inner(o) {\n  return o.missing.deeper;\n}\ninner({});\n"
    with pytest.raises(ScriptError) as ei:
        await make_spell(src, file="spells/bad.js").run()
    e = ei.value
    assert (e.file, e.line) == ("spells/bad.js", 4)
    assert str(e).startswith("spells/bad.js:4: TypeError:")
    assert "<input>" not in (e.traceback or "") and "spells/bad.js:6" in (e.traceback or "")
    assert "__ls_" not in (e.traceback or "")


async def test_uncaught_host_rejection_points_at_the_await() -> None:
    src = "console.log('start');\n\nawait Tool.execute('nope', {});\n"
    with pytest.raises(ScriptError) as ei:
        await make_spell(src, file="spells/host.js").run()
    assert ei.value.line == 3
    assert ei.value.kind == "tool"
    assert "ToolNotFoundError: Tool 'nope' not found" in str(ei.value)


async def test_syntax_error_location() -> None:
    with pytest.raises(ScriptError) as ei:
        await make_spell("let a = 1;\nlet b = ;\n", file="spells/syn.js").run()
    assert (ei.value.line, ei.value.kind) == (2, "syntax")
    assert str(ei.value).startswith("spells/syn.js:2: SyntaxError")


async def test_throwing_non_errors() -> None:
    with pytest.raises(ScriptError, match="uncaught value: just a string"):
        await make_spell("throw 'just a string';").run()
    with pytest.raises(ScriptError, match=re.escape('uncaught value: {"code":42}')):
        await make_spell("throw {code: 42};").run()


async def test_return_values_and_console() -> None:
    r, out = await run(
        """console.log("a", 1, 2.5, true, null, undefined, [1, "x"], {k: {n: 1}}, new Error("e1").message);
        console.error("to stderr"); console.warn("warned");
        return undefined;"""
    )
    assert r is None
    assert out.stdout == "a 1 2.5 true null undefined [ 1, 'x' ] { k: { n: 1 } } e1\n"
    assert out.stderr == "to stderr\nwarned\n"


async def test_callbacks_run_on_the_spell_thread_sync_and_async() -> None:
    r, _ = await run(
        """const a = await Agent.callBack((x, o) => x + o.k.length, 40, {k: "ab"});
        const b = await Agent.callBack(async (x) => { await sleep(2); return x * 2; }, 21);
        let err;
        try {
          await Agent.callBack(() => {
            throw new TypeError("inside");
          });
        } catch (e) { err = e.message; }
        return [a, b, err];"""
    )
    assert r[:2] == [42, 42]
    # QuickJS gives no line for a frame whose failing statement sits on the function's first line,
    # so the callback's throw is on a line of its own here.
    assert "spells/t.js:6: TypeError: inside" in r[2]


async def test_foreign_functions_become_promise_returning_functions() -> None:
    r, _ = await run("const add = Agent.adder(10); const p = add(5); return [p instanceof Promise, await p];")
    assert r == [True, 15]


async def test_timers_and_microtasks() -> None:
    _, out = await run(
        """setTimeout(() => console.log("t2"), 20);
        const id = setTimeout(() => console.log("never"), 5); clearTimeout(id);
        queueMicrotask(() => console.log("micro"));
        console.log("sync");
        await sleep(40);
        console.log("end");"""
    )
    assert out.stdout.splitlines() == ["sync", "micro", "t2", "end"]


async def test_exit_ends_the_spell_with_status() -> None:
    out = Captured()
    with pytest.raises(SpellExit) as ei:
        await make_spell("console.log('a');\ntry { exit(3); } catch (e) { console.log('caught'); }\n"
                         "console.log('after');", out).run()
    assert ei.value.code == 3
    assert out.stdout == "a\n"
    with pytest.raises(SpellExit) as ei:
        await make_spell("await sleep(1); process.exit(0);").run()
    assert ei.value.code == 0


async def test_a_promise_nothing_can_settle_is_reported() -> None:
    with pytest.raises(ScriptError, match="nothing can settle"):
        await make_spell("await new Promise(() => {});").run()


async def test_callbacks_after_the_spell_ended_fail_cleanly() -> None:
    KEPT.clear()
    await make_spell("Agent.keep(x => x + 1); return 1;").run()
    with pytest.raises(ScriptError, match="finished"):
        await KEPT[0](1)


async def test_spells_run_concurrently() -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    rs = await asyncio.gather(*(make_spell(f"await Agent.sleep(0.2); return {i};").run() for i in range(6)))
    assert rs == list(range(6))
    assert loop.time() - t0 < 1.0  # six 0.2 s awaits overlapped


async def test_globals_named_like_js_builtins_keep_the_builtin() -> None:
    r, _ = await run("return [JSON.parse('[1,{\"a\":2}]'), JSON.stringify({b: [1]}, null, 0)];")
    assert r == [[1, {"a": 2}], '{"b":[1]}']


async def test_spell_can_shadow_globals_without_breaking_the_bridge() -> None:
    r, _ = await run("globalThis.JSON = null; const Promise = 1; return (await Tool.execute('calculator', "
                     "{input: '1+1'})).result.value;")
    assert r == 2


async def test_exit_inside_a_callback_ends_the_spell() -> None:
    out = Captured()
    with pytest.raises(SpellExit) as ei:
        await make_spell("await Agent.callBack(() => { console.log('in cb'); exit(5); });\nconsole.log('after');",
                         out).run()
    assert ei.value.code == 5
    assert out.stdout == "in cb\n"


async def test_engine_globals_documented_for_stubgen_exist() -> None:
    import re as _re

    from llmspell.engines.js import ENGINE_GLOBALS_DTS

    names = _re.findall(r"declare (?:var|function) (\w+)", ENGINE_GLOBALS_DTS)
    methods = _re.findall(r"^  (\w+)\(", ENGINE_GLOBALS_DTS, _re.M)
    r, _ = await run(f"return {json.dumps(names)}.map(n => typeof globalThis[n])"
                     f".concat({json.dumps(methods)}.map(m => typeof console[m]));")
    assert names == ["console", "sleep", "setTimeout", "clearTimeout", "queueMicrotask", "exit", "process"]
    assert r == ["object", "function", "function", "function", "function", "function", "object"] + [
        "function"] * len(methods)


async def test_hashbang_line_is_allowed_and_lines_still_match() -> None:
    with pytest.raises(ScriptError) as ei:
        await make_spell("#!/usr/bin/env -S llmspell-ls --run\nconsole.log(1);\nnull.x;\n").run()
    assert ei.value.line == 3


async def test_errors_in_one_line_callbacks_point_at_where_they_were_passed() -> None:
    r, _ = await run(
        """let msg;
        try {
          await Agent.callBack((o) => o.missing.deeper, {});
        } catch (e) { msg = e.message; }
        return msg;"""
    )
    assert r.startswith("spells/t.js:3: TypeError: cannot read property 'deeper' of undefined")
    assert "in a callback passed at line 3" in r
