"""Each way out of the Lua sandbox is closed (issue 3, item 3), and the allowed paths still work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lua_support import run_lua

from llmspell.core.errors import ScriptError

pytestmark = pytest.mark.asyncio

CLOSED = [
    # os.execute is present but runs nothing (test_os_execute_runs_no_program below)
    "io.popen",
    "package.loadlib",
    "package.searchers",
    "package.cpath",
    "debug",
    "string.dump",
    '("").dump',
    "python",
    "getmetatable('')",
    # os.tmpname is present: it creates its file through the path gate, in the workspace's private
    # temp folder (tests/security/test_tmp_policy.py), never in the real /tmp
    "io.input",
    "io.output",
    "rawget(_G, 'python')",
    "_G.debug",
    "load('return io.popen')()",  # loaded chunks get the sandbox too
    "load('return debug')()",
]


@pytest.mark.parametrize("expr", CLOSED)
async def test_dangerous_names_are_absent(tmp_path: Path, expr: str) -> None:
    o = await run_lua(f"print(({expr}) == nil)", tmp_path)
    assert o.error is None, o.error
    assert o.output == "true\n"


async def test_string_metatable_cannot_reach_dump(tmp_path: Path) -> None:
    o = await run_lua("local s = 'x'\nprint(s.dump, s.rep ~= nil, string.dump)", tmp_path)
    assert o.output == "nil\ttrue\tnil\n"


async def test_binary_chunks_are_refused(tmp_path: Path) -> None:
    o = await run_lua('local f, err = load("\\27Lua", "x", "b"); print(f, err)', tmp_path)
    assert o.output.startswith("nil\tbinary chunks are not allowed")
    o = await run_lua('local f, err = load("\\27LuaT\\0"); print(f, err ~= nil)', tmp_path)
    assert o.output == "nil\ttrue\n"


async def test_c_modules_and_unknown_modules_cannot_be_required(tmp_path: Path) -> None:
    for name in ("socket", "lfs", "io_popen", "../../etc/passwd", "os.path"):
        o = await run_lua(f'local ok, err = pcall(require, "{name}"); print(ok, err)', tmp_path)
        assert o.output.startswith("false\t"), (name, o.output)
        assert "not found" in o.output


async def test_require_debug_or_python_is_refused(tmp_path: Path) -> None:
    o = await run_lua('print(pcall(require, "debug"))\nprint(pcall(require, "python"))', tmp_path)
    assert o.output.count("false") == 2


async def test_protected_metatables(tmp_path: Path) -> None:
    o = await run_lua(
        """
        local w = T.builder("x")
        print(getmetatable(w), pcall(setmetatable, w, {}))
        local ok, err = pcall(T.fail)
        print(type(err), getmetatable(err))
        """,
        tmp_path,
    )
    lines = o.output.splitlines()
    assert lines[0].startswith("Widget\tfalse\tcannot change a protected metatable")
    assert lines[1] == "table\tllmspell error"


async def test_no_python_object_reaches_the_script(tmp_path: Path) -> None:
    # every value the bridge hands out is a plain Lua value
    o = await run_lua(
        """
        local vals = {T, T.builder("x"), T.echo_live(T), T.model_out(), T.echo_live(print)}
        local ok, err = pcall(T.boom)
        vals[#vals + 1] = err
        for _, v in ipairs(vals) do
          local t = type(v)
          assert(t == "table" or t == "function", t)
        end
        print("ok")
        """,
        tmp_path,
    )
    assert o.error is None and o.output == "ok\n"


async def test_io_open_inside_allowed_paths(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("hello\nworld\n")
    (tmp_path / "mod.lua").write_text("return 7")
    o = await run_lua(
        """
        local f = assert(io.open("data.txt"))
        print(f:read("l")); f:close()
        local n = 0
        for line in io.lines("data.txt") do n = n + 1 end
        local w = assert(io.open("out.txt", "w")); w:write("x"); w:close()
        print(n, dofile("mod.lua"), loadfile("mod.lua")())
        """,
        tmp_path,
    )
    assert o.error is None, o.error
    assert o.output == "hello\n2\t7\t7\n"
    assert (tmp_path / "out.txt").read_text() == "x"


OUTSIDE = ["/etc/passwd", "../outside.txt", "/tmp/../etc/hostname"]


@pytest.mark.parametrize("path", OUTSIDE)
async def test_io_open_outside_is_refused(tmp_path: Path, path: str) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "outside.txt").write_text("secret")
    o = await run_lua(f'local f, err = io.open("{path}"); print(f, err)', ws)
    assert o.output.startswith("nil\t") and "outside the allowed paths" in o.output, o.output
    for fn in ("dofile", "loadfile"):
        o = await run_lua(f'print(pcall({fn}, "{path}"))', ws)
        assert "outside the allowed paths" in o.output, (fn, o.output)


async def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", ws / "link.txt")
    o = await run_lua('local f, err = io.open("link.txt"); print(f, err)', ws)
    assert o.output.startswith("nil\t") and "outside the allowed paths" in o.output


async def test_write_outside_and_remove_outside_are_refused(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    o = await run_lua(f'print(io.open("{victim}", "w"))\nprint(os.remove("{victim}"))\n'
                      f'print(os.rename("{victim}", "x.txt"))', ws)
    assert o.output.count("outside the allowed paths") == 3
    assert victim.read_text() == "keep"


async def test_secret_environment_variables_are_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("LLMSPELL_TEST_PLAIN", "visible")
    o = await run_lua('print(os.getenv("OPENAI_API_KEY"), os.getenv("LLMSPELL_TEST_PLAIN"))', tmp_path)
    assert o.output == "nil\tnil\n"  # only names security.env_allow lists are visible


async def test_collectgarbage_is_restricted(tmp_path: Path) -> None:
    o = await run_lua('print(type(collectgarbage("count")))\nprint(pcall(collectgarbage, "stop"))', tmp_path)
    assert o.output.startswith("number\nfalse\t")


async def test_python_attribute_filter_refuses_everything(tmp_path: Path) -> None:
    # even if a Python object leaked (it cannot: see above), attribute access is closed
    from llmspell.engines.lua.spell import _refuse_attr

    with pytest.raises(AttributeError):
        _refuse_attr(object(), "__class__", False)
    o = await run_lua("local t = T.echo({__class__ = 1}); print(t.__class__)", tmp_path)
    assert o.output == "1\n"


async def test_error_in_sandbox_is_a_script_error(tmp_path: Path) -> None:
    o = await run_lua("io.popen('ls')", tmp_path)
    assert isinstance(o.error, ScriptError) and "attempt to call a nil value (field 'popen')" in str(o.error)


async def test_os_execute_runs_no_program(tmp_path: Path) -> None:
    """Spells have no shell: os.execute() is false, a command fails as a missing shell would and
    names the tool to use instead; nothing is created or run."""
    o = await run_lua('print(os.execute())\nprint(os.execute("touch pwned; sleep 0"))\n'
                      'print(os.execute("sleep 0.01"))\nprint(pcall(os.execute, {}))', tmp_path)
    assert o.error is None, o.error
    lines = [ln for ln in o.output.splitlines() if not ln.startswith("!")]
    assert lines[0] == "false" and lines[1] == "nil\texit\t127"
    assert "os.execute: spells have no shell" in o.output and "process-executor" in o.output
    assert lines[2] == "nil\texit\t127"  # the test globals have no Utils: sleep cannot wait, so it fails too
    assert lines[3].startswith("false\tbad argument #1 to 'execute' (string expected")
    assert not (tmp_path / "pwned").exists()
