"""The Lua engine: generated globals, colon calls, conversion rules, errors with locations, output."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from lua_support import T, run_lua

from llmspell.api.decl import ValueGlobal
from llmspell.core.errors import ScriptError
from llmspell.engines.host import SpellExit

pytestmark = pytest.mark.asyncio


async def ok(src: str, tmp: Path, **kw: Any) -> Any:
    o = await run_lua(src, tmp, **kw)
    assert o.error is None, f"{o.error!r}\n{getattr(o.error, 'traceback', '')}\noutput: {o.output}"
    return o


# ------------------------------------------------------------------------------------ generated globals


async def test_sync_async_and_builder_chain(tmp_path: Path) -> None:
    o = await ok(
        """
        local w = T.builder("bob"):model("m1"):build()
        local r = w:execute({text = "hi"})
        print(T.add(2, 3), r.text, r.metadata.calls, w.name, w.id)
        print(T.sleep(0.01))
        """,
        tmp_path,
    )
    assert o.output == "5\tbob:hi:m1\t1\tbob\tw_bob\n0.01\n"


async def test_same_object_keeps_identity_and_tostring(tmp_path: Path) -> None:
    o = await ok('local a = T.builder("x"); local b = T.builder("x"); print(a == b, tostring(a), getmetatable(a))',
                 tmp_path)
    assert o.output == "true\tWidget: x\tWidget\n"


async def test_dot_call_on_method_is_a_clear_error(tmp_path: Path) -> None:
    o = await ok(
        """
        local w = T.builder("x")
        local ok, err = pcall(function() return w.execute({text = "hi"}) end)
        print(ok, err.kind)
        print(tostring(err))
        """,
        tmp_path,
    )
    lines = o.output.splitlines()
    assert lines[0] == "false\tvalidation"
    assert lines[1].endswith("spell.lua:3: validation error: Widget.execute is a method: call it with a colon, "
                             "use widget:execute(...), not widget.execute(...)")


async def test_global_called_with_colon_still_works(tmp_path: Path) -> None:
    o = await ok("print(T:add(1, 2))", tmp_path)
    assert o.output == "3\n"


async def test_dynamic_members_via_api_index(tmp_path: Path) -> None:
    o = await ok('local w = T["dyn-zed"]; print(w.name, T["nothing"], T.nothing)', tmp_path)
    assert o.output == "zed\tnil\tnil\n"


async def test_callbacks_run_on_spell_thread(tmp_path: Path) -> None:
    o = await ok(
        """
        local n = 0
        local r = T.call(function(a, b) n = n + 1; return {sum = a + b, list = {a, b}} end, 2, 3)
        print(r.sum, #r.list, n)
        -- a callback that itself calls the runtime (nested bridge call inside a callback)
        print(T.call(function(x) return T.sleep(0.001) + x end, 1))
        """,
        tmp_path,
    )
    assert o.output == "5\t2\t1\n1.001\n"


async def test_function_from_a_finished_coroutine_stays_callable(tmp_path: Path) -> None:
    o = await ok(
        """
        local co = coroutine.wrap(function() T.keep(function(x) return x * 3 end) end)
        co()
        co = nil
        for i = 1, 200 do coroutine.wrap(function() end)() end
        collectgarbage(); collectgarbage()
        print(T.call_kept(14))
        """,
        tmp_path,
    )
    assert o.output == "42\n"


async def test_multiple_returns_and_value_globals(tmp_path: Path) -> None:
    vg = {"CONFIG": ValueGlobal("CONFIG", "table", "", lambda ctx: {"name": "x", "list": [1, 2], "none": None})}
    o = await ok("local a, b = T.pair(); print(a, b, CONFIG.name, #CONFIG.list, CONFIG.none)", tmp_path,
                 value_globals=vg)
    assert o.output == "1\ttwo\tx\t2\tnil\n"


async def test_args_fallback_and_varargs(tmp_path: Path) -> None:
    o = await ok("print(ARGS[1], ARGS.mode, arg[1], select('#', ...), ...)", tmp_path,
                 args=["a", "--mode", "fast"])
    assert o.output == "a\tfast\ta\t3\ta\t--mode\tfast\n"


# ------------------------------------------------------------------------------------ conversion rules

LUA_TO_PY = [
    ("{1, 2, 3}", [1, 2, 3]),
    ('{a = 1, b = "x"}', {"a": 1, "b": "x"}),
    ("{}", {}),
    ("{1, nil, 3}", [1, None, 3]),  # nil hole in a sequence -> None (rs-llmspell: null)
    ("{1, 2, nil}", [1, 2]),  # trailing nil is not stored
    ("{[2] = 5}", {2: 5}),  # no t[1]: a map with an integer key
    ('{10, 20, k = "v"}', {1: 10, 2: 20, "k": "v"}),  # mixed: a dict, nothing dropped
    ("{x = {y = {true, false}}}", {"x": {"y": [True, False]}}),
    ("3", 3),
    ("3.0", 3.0),
    ("7 / 2", 3.5),
    ("6 // 2", 3),
    ("2^53", 2.0**53),
    ("0/0", None),  # NaN -> None (JSON null)
    ("math.huge", None),
    ('"héllo"', "héllo"),
    ("true", True),
    ("nil", None),
    ("{[1.0] = 'a', [2] = 'b'}", ["a", "b"]),  # 1.0 is normalised to the integer key 1 by Lua
]


@pytest.mark.parametrize(("lua", "expected"), LUA_TO_PY)
async def test_lua_to_python(tmp_path: Path, lua: str, expected: Any) -> None:
    T.seen.clear()
    await ok(f"T.echo({lua})", tmp_path)
    got = T.seen[0]
    assert got == expected and type(got) is type(expected)
    if isinstance(expected, float):
        assert not isinstance(got, int)


PY_TO_LUA = [
    ("{1, 2, 3}", "#v == 3 and v[1] == 1 and v[3] == 3"),
    ("{a = {b = {1, 2}}}", "v.a.b[2] == 2"),
    ("{1, nil, 3}", "v[1] == 1 and v[2] == nil and v[3] == 3"),
    ("3", "math.type(v) == 'integer'"),
    ("3.5", "math.type(v) == 'float'"),
    ("{}", "type(v) == 'table' and next(v) == nil"),
]


@pytest.mark.parametrize(("lua", "check"), PY_TO_LUA)
async def test_round_trip(tmp_path: Path, lua: str, check: str) -> None:
    o = await ok(f"local v = T.echo({lua}); print({check})", tmp_path)
    assert o.output == "true\n"


async def test_none_values_disappear_and_models_become_tables(tmp_path: Path) -> None:
    o = await ok("local m = T.model_out(); print(m.name, #m.tools, m.tools[2], m.inner)", tmp_path)
    assert o.output == "m\t2\tb\tnil\n"


async def test_empty_table_is_accepted_for_list_params(tmp_path: Path) -> None:
    o = await ok(
        """
        print(T.items({}), T.items({"a", "b"}))
        local c = T.configure({name = "x", tools = {}, inner = {tags = {}}})
        print(#c.tools, #c.inner.tags)
        """,
        tmp_path,
    )
    assert o.output == "0\t2\n0\t0\n"


async def test_script_sees_no_python_objects(tmp_path: Path) -> None:
    o = await ok(
        """
        local w = T.builder("x")
        local seen = {}
        for k, v in pairs(w) do seen[#seen + 1] = k .. "=" .. type(v) end
        table.sort(seen)
        print(table.concat(seen, ","))
        for k, v in pairs(T) do assert(type(v) == "function", k) end
        print(type(T.echo({1})), type(T.model_out()))
        """,
        tmp_path,
    )
    assert o.output == "id=string,name=string\ntable\ttable\n"


# ------------------------------------------------------------------------------------ errors


async def test_runtime_errors_are_catchable_with_kind_and_location(tmp_path: Path) -> None:
    o = await ok(
        """
        local ok, err = pcall(T.fail, "need a name")
        print(ok, err.kind, err.message, err.type, err.line)
        print(tostring(err))
        print("x: " .. err)
        print(err:match("need a (%w+)"))
        local w = T.builder("x")
        local ok2, err2 = pcall(function()
          w:explode()
        end)
        print(err2.kind, err2.line, err2.details.name)
        """,
        tmp_path,
    )
    lines = o.output.splitlines()
    assert lines[0] == "false\tvalidation\tneed a name\tValidationError\t2"
    assert lines[1].endswith("spell.lua:2: validation error: need a name")
    assert lines[2].startswith("x: ") and lines[2].endswith("need a name")
    assert lines[3] == "name"
    assert lines[4] == "tool\t9\tnope"


async def test_uncaught_runtime_error_located_at_the_spells_call(tmp_path: Path) -> None:
    o = await run_lua("local x = 1\n\nT.fail_later()\nprint('not reached')\n", tmp_path)
    assert isinstance(o.error, ScriptError)
    assert o.error.kind == "tool"
    assert o.error.line == 3 and o.error.file is not None and o.error.file.endswith("spell.lua")
    assert str(o.error).endswith("spell.lua:3: tool error: Tool 'missing' not found")
    assert "stack traceback" in (o.error.traceback or "")
    assert o.output == ""


async def test_unexpected_python_exception_becomes_a_lua_error(tmp_path: Path) -> None:
    o = await run_lua("T.boom()", tmp_path)
    assert isinstance(o.error, ScriptError)
    assert o.error.kind == "runtime" and "KeyError" in str(o.error) and o.error.line == 1


async def test_lua_error_has_file_line_and_traceback(tmp_path: Path) -> None:
    o = await run_lua("local function f(t)\n  return t.x.y\nend\nf({})\n", tmp_path)
    assert isinstance(o.error, ScriptError)
    assert o.error.line == 2 and o.error.kind == "script"
    assert "attempt to index a nil value (field 'x')" in str(o.error)
    tb = o.error.traceback or ""
    assert "spell.lua:2: in" in tb and "spell.lua:4: in" in tb and "[llmspell]" not in tb


async def test_error_inside_a_callback_is_located_at_both_lines(tmp_path: Path) -> None:
    o = await run_lua("T.call(function()\n  error('inner boom')\nend)\n", tmp_path)
    assert isinstance(o.error, ScriptError)
    assert o.error.line == 1  # the spell's call into the runtime
    assert "spell.lua:2: inner boom" in str(o.error)  # and the callback's own line


async def test_error_with_table_value(tmp_path: Path) -> None:
    o = await run_lua("error({code = 42})", tmp_path)
    assert isinstance(o.error, ScriptError) and "code" in str(o.error) and "42" in str(o.error)


async def test_syntax_error(tmp_path: Path) -> None:
    o = await run_lua("local x = = 1", tmp_path, name="bad.lua")
    assert isinstance(o.error, ScriptError)
    assert o.error.kind == "syntax" and o.error.line == 1
    assert "bad.lua:1:" in str(o.error) and "unexpected symbol" in str(o.error)


# ------------------------------------------------------------------------------------ output, result, exit


async def test_print_formatting_rules(tmp_path: Path) -> None:
    o = await ok("print(1, 2.0, 2.5, nil, true, {}, print, 'é', 1e100)", tmp_path)
    assert o.output.split("\t")[:8] == ["1", "2", "2.5", "nil", "true", "table", "function", "é"]


async def test_io_write_and_stderr(tmp_path: Path) -> None:
    o = await ok('io.write("a", 1, 2.0, "\\n"); io.stdout:write("b"); io.stderr:write("oops")', tmp_path)
    assert o.output == "a12\nb!oops"
    o = await run_lua("io.write({})", tmp_path)
    assert isinstance(o.error, ScriptError) and "string expected, got table" in str(o.error)


async def test_return_value_is_the_result(tmp_path: Path) -> None:
    assert (await ok("return {success = true, items = {1, 2}}", tmp_path)).result == {"success": True,
                                                                                      "items": [1, 2]}
    assert (await ok("return 1, 'two'", tmp_path)).result == [1, "two"]
    assert (await ok("print('x')", tmp_path)).result is None


@pytest.mark.parametrize(("call", "code"), [("os.exit(3)", 3), ("os.exit()", 0), ("os.exit(false)", 1)])
async def test_os_exit_ends_the_spell_not_the_process(tmp_path: Path, call: str, code: int) -> None:
    o = await run_lua(f"print('before')\npcall(function() {call} end)\nprint('after')\n", tmp_path)
    assert isinstance(o.error, SpellExit) and o.error.code == code
    assert o.output == "before\n"


async def test_os_exit_inside_a_callback(tmp_path: Path) -> None:
    o = await run_lua("T.call(function() os.exit(4) end)\nprint('after')", tmp_path)
    assert isinstance(o.error, SpellExit) and o.error.code == 4 and o.output == ""


async def test_require_loads_modules_relative_to_the_spell(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.lua").write_text("local M = {}\nfunction M.double(x) return x * 2 end\nreturn M\n")
    (tmp_path / "sub").mkdir()
    o = await ok('local u = require("lib.util"); print(u.double(21), require("lib.util") == u, '
                 'require("string") == string)', tmp_path / "sub", name="../spell.lua")
    assert o.output == "42\ttrue\ttrue\n"


async def test_nan_and_huge_numbers_do_not_crash(tmp_path: Path) -> None:
    o = await ok("return {a = 0/0, b = math.huge, c = 1}", tmp_path)
    assert o.result == {"c": 1} or o.result == {"a": None, "b": None, "c": 1}
    assert not any(isinstance(v, float) and math.isnan(v) for v in o.result.values())
