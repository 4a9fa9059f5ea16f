"""The ``Tool`` global from a real Lua spell: rs-llmspell's call shapes and result tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fakes import collect_run
from llmspell.api.context import SpellContext
from llmspell.api.globals.tool import ToolGlobal, ToolHandle
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime


async def run_lua(tmp_path: Path, src: str) -> tuple[str, Any, list[Any]]:
    """Run ``src`` as a spell; return (stdout, finished message, other messages)."""
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    runner = SpellRunner(runtime_factory=lambda: Runtime(workspace=ws, state="memory"))
    return await collect_run(runner, ws / "spell.lua", source=src)


async def test_execute_shapes_from_lua(tmp_path: Path) -> None:
    out, fin, _ = await run_lua(tmp_path, """
        local r = Tool.execute("uuid-generator", {operation = "generate", version = "v4"})
        print(r.success, r.operation, #r.result.uuid, r.result.version)
        local h = Tool.execute("hash-calculator", {operation = "hash", algorithm = "md5", input = "abc"})
        print(h.result.hash)
        local w = Tool.execute("file-operations", {operation = "write", path = "a.txt", input = "hello"})
        print(w.metadata.operation, w.metadata.response.success)
        local rd = Tool.execute("file-operations", {operation = "read", path = "a.txt"})
        print(rd.text, rd.metadata.response.result.size)
        local c = Tool.execute("calculator", {input = "x * 2", variables = {x = 21}})
        print(c.result.result, c.result.result_type)
        local bad = Tool.execute("calculator", {input = "1/0"})
        print(bad.success, bad.error.message)
        return rd.text
    """)
    assert fin.status == "success", fin.error
    lines = out.splitlines()
    assert lines[0] == "true\tgenerate\t36\tv4"
    assert lines[1] == "900150983cd24fb0d6963f7d28e17f72"
    assert lines[2] == "write\ttrue"
    assert lines[3] == "hello\t5"
    assert lines[4] == "42\tinteger"
    assert lines[5] == "false\tEvaluation failed: division by zero"
    assert fin.result == "hello"


async def test_errors_raise_with_location_and_suggestion(tmp_path: Path) -> None:
    out, fin, _ = await run_lua(tmp_path, """
        local ok, err = pcall(Tool.execute, "file-operations", {operation = "reed", path = "x"})
        print(ok, tostring(err))
        local ok2, err2 = pcall(Tool.execute, "uuid-genrator", {})
        print(ok2, tostring(err2))
        Tool.execute("hash-calculator", {operation = "hash"})
    """)
    lines = out.splitlines()
    assert lines[0].startswith("false\t") and ":2:" in lines[0]
    assert "file-operations: parameter 'operation': expected one of read, write" in lines[0]
    assert "Tool 'uuid-genrator' not found. Did you mean 'uuid-generator'?" in lines[1]
    assert fin.status == "error" and fin.error.line == 6
    assert "hash-calculator: parameter 'input' is required" in fin.error.message


async def test_get_list_exists_categories_discover_and_dynamic_lookup(tmp_path: Path) -> None:
    out, fin, _ = await run_lua(tmp_path, """
        local t = Tool.get("calculator")
        print(t.name, t.version, t.category, t.schema.name)
        local names = {}
        for _, p in ipairs(t:getSchema().parameters) do names[#names + 1] = p.name .. (p.required and "!" or "") end
        print(table.concat(names, ","))
        print(t:execute({input = "2+2"}).result.result)
        print(Tool.get("nope") == nil, Tool.exists("text-manipulator"), Tool.exists("text_manipulator"),
              Tool.exists("x"))
        local list = Tool.list()
        local found = false
        for _, e in ipairs(list) do if e.name == "datetime-handler" then found = e.category == "utility" end end
        print(#list >= 7, found)
        local cats = table.concat(Tool.categories(), ",")
        print(cats:find("filesystem") ~= nil, cats:find("utility") ~= nil)
        local fs = Tool.discover({category = "filesystem"})
        local ok = true
        for _, e in ipairs(fs) do ok = ok and e.category == "filesystem" end
        print(#fs >= 1, ok, Tool.discover({tag = "base64"})[1].name)
        print(Tool["file-operations"].name, Tool.uuid_generator:execute({}).success, Tool["no-such"] == nil)
    """)
    assert fin.status == "success", fin.error
    lines = out.splitlines()
    assert lines[0] == "calculator\t1.0.0\tutility\tcalculator"
    assert lines[1] == "operation,input,expression,variables"
    assert lines[2] == "4"
    assert lines[3] == "true\ttrue\ttrue\tfalse"
    assert lines[4] == "true\ttrue"
    assert lines[5] == "true\ttrue"
    assert lines[6] == "true\ttrue\tbase64-encoder"
    assert lines[7] == "file-operations\ttrue\ttrue"


async def test_script_defined_tool_goes_through_the_registry(tmp_path: Path) -> None:
    out, fin, msgs = await run_lua(tmp_path, """
        Tool.register("word-count", "Counts words", function(params)
            local n = 0
            for _ in params.text:gmatch("%S+") do n = n + 1 end
            return {words = n}
        end, {parameters = {{name = "text", type = "string", required = true}}})
        Tool.register("shout", function(p) return p.text:upper() end)
        local r = Tool.execute("word-count", {text = "one two three"})
        print(r.success, r.result.words, Tool.execute("shout", {text = "hi"}).text)
        local ok, err = pcall(Tool.execute, "word-count", {})
        print(ok, tostring(err):find("parameter 'text' is required") ~= nil)
        print(Tool.get("word-count").category, #Tool.get("word-count"):getSchema().parameters)
        local wf = Workflow.builder():name("w"):sequential()
          :add_step({name = "c", type = "tool", tool = "word-count", input = {text = "{{input.text}}"}}):build()
        print(wf:execute({text = "a b c d"}).outputs.c.result.words)
    """)
    assert fin.status == "success", fin.error
    assert out.splitlines() == ["true\t3\tHI", "false\ttrue", "custom\t1", "4"]
    tool_events = [m.event_type for m in msgs if m.type == "event" and m.event_type.startswith("tool.")]
    assert "tool.started" in tool_events and "tool.completed" in tool_events


async def test_global_directly_from_python(tmp_path: Path) -> None:
    rt = Runtime(workspace=tmp_path, state="memory")
    g = ToolGlobal(SpellContext(runtime=rt))
    r = await g.execute("base64-encoder", {"operation": "encode", "input": "hi"})
    assert r["result"]["output"] == "aGk=" and r["operation"] == "encode"
    h = g.api_index("hash_calculator")
    assert isinstance(h, ToolHandle) and h.name == "hash-calculator"
    assert g.api_index("missing") is None
    rt.hooks.register("AfterToolDiscovery", lambda c: {"type": "modified", "data": {
        "tools": [t for t in c.data["tools"] if t["name"] != "calculator"]}})
    names = [t["name"] for t in await g.list()]
    assert "uuid-generator" in names and "calculator" not in names
    with pytest.raises(Exception, match="parameters for 'calculator' must be a table"):
        await g.execute("calculator", "1+1")  # type: ignore[arg-type]
