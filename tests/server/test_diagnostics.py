"""Diagnostics: stable codes, severities and ranges; quick fixes; symbols."""

from __future__ import annotations

from lsprotocol import types as lsp

from llmspell_ls.documents import Documents
from llmspell_ls.features.actions import code_actions
from llmspell_ls.features.diagnostics import analyze_document, diagnostics
from llmspell_ls.features.symbols import document_symbols


def diags(index, text, lang="lua"):
    doc = Documents().open("file:///s." + ("lua" if lang == "lua" else "js"), text, 1, lang)
    return diagnostics(doc, index, "utf-16")


def codes(index, text, lang="lua"):
    return [(d["code"], d["severity"], d["range"]["start"]["line"], d["range"]["start"]["character"])
            for d in diags(index, text, lang)]


def test_clean_spell_has_no_diagnostics(index) -> None:
    text = """local agent = Agent.builder():name("w"):model("m"):system_prompt("s"):build()
local out = agent:execute({ text = "hi" })
print(out.text)
Tool.execute("file-operations", { operation = "read", path = "/tmp/x" })
Hook.register("BeforeAgentExecution", function(ctx) return "continue" end, "high")
Hook.register("Custom:mine", function(ctx) end)
local wf = Workflow.builder():sequential():name("x"):add_step({ name = "a", type = "tool" }):build()
wf:execute()
State.save("global", "k", { a = 1 })
"""
    assert diags(index, text) == []


def test_unknown_member_with_fix(index) -> None:
    (d,) = diags(index, "local a = Agent.bulder()\n")
    assert d["code"] == "unknown-member" and d["severity"] == 1
    assert d["range"] == {"start": {"line": 0, "character": 16}, "end": {"line": 0, "character": 22}}
    assert "did you mean 'builder'" in d["message"] and d["data"] == {"replace": "builder"}
    (action,) = code_actions("file:///s.lua", [lsp.Diagnostic(
        range=lsp.Range(start=lsp.Position(line=0, character=16), end=lsp.Position(line=0, character=22)),
        message=d["message"], code=d["code"], source="llmspell", data=d["data"])])
    assert action.title == "Use 'builder'" and action.kind == lsp.CodeActionKind.QuickFix
    assert action.edit.changes["file:///s.lua"][0].new_text == "builder"


def test_call_style(index) -> None:
    assert codes(index, "Agent:builder()\n") == [("call-style", 1, 0, 5)]
    assert codes(index, "local b = Agent.builder()\nb.build()\n") == [("call-style", 1, 1, 1)]
    assert codes(index, "const b = Agent.builder();\nb.name('x');\n", "javascript") == []


def test_argument_count_and_literal_types(index) -> None:
    assert codes(index, "Agent.get()\n") == [("arg-count", 1, 0, 9)]
    assert codes(index, "State.save('a', 'b', 1, 2)\n") == [("arg-count", 2, 0, 24)]
    assert codes(index, "Agent.get(42)\n") == [("arg-type", 2, 0, 10)]
    assert codes(index, "Agent.get({})\n") == [("arg-type", 2, 0, 10)]
    assert codes(index, "Agent.get(name)\nAgent.get('x', nil)\n") == []
    assert codes(index, "Hook.register('BeforeAgentExecution', 5)\n") == [("arg-type", 2, 0, 38)]
    assert codes(index, "Hook.register('BeforeAgentExecution', (ctx) => ctx);\n", "javascript") == []


def test_named_strings(index) -> None:
    assert codes(index, "Tool.execute('nope', {})\n") == [("unknown-tool", 2, 0, 14)]
    # a tool the spell registers itself is known (Tool has dynamic members, so register is not flagged)
    assert codes(index, "Tool.register('mine', f)\nTool.execute('mine', {})\n") == []
    (d,) = diags(index, "Hook.register('BeforeAgentExecutio', f)\n")
    assert d["code"] == "unknown-hook-point" and d["severity"] == 1 and d["data"]["replace"] == "BeforeAgentExecution"
    assert codes(index, "Agent.create_from_template('a', 'resarch')\n")[0][:2] == ("unknown-template", 1)
    assert codes(index, "Hook.register('x', f, 'urgent')\n")[-1][:2] == ("invalid-value", 1)
    assert codes(index, "Event.publish('my.custom.event', {})\n") == []  # events are open-ended
    assert codes(index, "local t = Tool['zzz']\n") == [("unknown-tool", 2, 0, 16)]


def test_tool_parameter_tables(index) -> None:
    got = codes(index, 'Tool.execute("file-operations", { operation = "delete", pathh = "/x" })\n')
    assert ("invalid-value", 1, 0, 46) in got
    assert ("unknown-tool-param", 2, 0, 56) in got
    assert ("missing-tool-param", 1, 0, 32) in got
    got = codes(index, "await Tool.execute('calculator', { ['input']: '1' });\n", "javascript")
    assert got == []


def test_deprecated_is_tagged(index) -> None:
    (d,) = diags(index, "Agent.create({})\n")
    assert d["code"] == "deprecated" and d["severity"] == 2 and d["tags"] == [2]


def test_undefined_global_suggestion(index) -> None:
    (d,) = diags(index, "Agnet.builder()\n")
    assert d["code"] == "undefined-global" and d["data"] == {"replace": "Agent"}
    assert diags(index, "local Agnet = {}\nAgnet.builder()\n") == []
    assert diags(index, "string.format('x')\nmath.floor(1)\n") == []


def test_js_missing_await(index) -> None:
    got = codes(index, "const a = Agent.builder().build();\nconst r = Tool.execute('calculator', {input: '1'});\n"
                "Tool.execute('calculator', {input: '1'});\n", "javascript")
    assert got == [("missing-await", 2, 0, 26), ("missing-await", 2, 1, 15), ("missing-await", 2, 2, 5)]
    ok = """const a = await Agent.builder().build();
await a.execute({ text: 'x' });
const p = Tool.execute('calculator', { input: '1' }).then((r) => r);
await Promise.all([Tool.execute('calculator', { input: '1' })]);
function f() { return Tool.execute('calculator', { input: '2' }); }
"""
    assert codes(index, ok, "javascript") == []
    got = codes(index, "const a = await Agent.builder().build();\na.execute({text: 'x'}).text;\n", "javascript")
    assert got[0][0] == "missing-await"


def test_syntax_errors_are_located(index) -> None:
    got = diags(index, "local a = 1\nlocal b = (\nlocal c = 3\nlocal d = 4\nlocal e = 5\n")
    assert got and got[0]["code"] == "syntax-error" and got[0]["range"]["start"]["line"] in (1, 2)
    got = diags(index, "const a = 1;\nconst b = ;\nconst c = 2;\n", "javascript")
    assert [d["range"]["start"]["line"] for d in got if d["code"] == "syntax-error"] == [1]
    got = diags(index, "if x then\nprint(1)\n")
    assert any(d["code"] == "syntax-error" and "end" in d["message"] for d in got) or got


def test_line_being_typed_does_not_shout(index) -> None:
    got = codes(index, "local b = Agent.builder()\nb:\nprint(1)\n")
    assert all(c != "unknown-member" for c, *_ in got)


def test_symbols(index) -> None:
    text = """local writer = Agent.builder():name("writer"):build()
local wf = Workflow.builder():sequential():build()
Hook.register("BeforeAgentExecution", function(ctx) end)
Tool.execute("calculator", { input = "1" })
"""
    doc = Documents().open("file:///s.lua", text, 1, "lua")
    syms = document_symbols(doc, index, "utf-16")
    names = [s.name for s in syms]
    assert names == ["writer (writer)", "wf", "hook BeforeAgentExecution", "tool call calculator"]
    assert syms[0].kind == lsp.SymbolKind.Object and syms[2].kind == lsp.SymbolKind.Event
    assert analyze_document(doc, index, "utf-16") is analyze_document(doc, index, "utf-16")  # cached


def test_utf16_columns(index) -> None:
    text = "local s = '😀'; local a = Agent.bulder()\n"
    col = text.index("bulder")
    (d,) = diags(index, text)
    assert d["range"]["start"]["character"] == col + 1  # the emoji is 2 UTF-16 units
    doc = Documents().open("file:///u.lua", text, 1, "lua")
    (d8,) = diagnostics(doc, index, "utf-8")
    assert d8["range"]["start"]["character"] == col + 3  # and 4 UTF-8 bytes


def test_real_model_examples_are_clean_of_errors(real_index) -> None:
    from lsp_helpers import REPO

    for path in sorted((REPO / "examples").glob("*.*")):
        if path.suffix not in (".lua", ".js"):
            continue
        lang = "lua" if path.suffix == ".lua" else "javascript"
        text = path.read_text()
        lines = text.split("\n")
        # examples demonstrate caught errors on purpose (inside pcall / try)
        errs = [d for d in diags(real_index, text, lang) if d["severity"] == 1
                and "pcall" not in lines[d["range"]["start"]["line"]] and not path.name.startswith("error_handling")]
        assert errs == [], (path.name, errs)


def test_commas_inside_function_bodies_are_not_arguments(index) -> None:
    text = """Hook.register("BeforeAgentExecution", function(ctx)
  for k, v in pairs(ctx) do print(k, v) end
  if a then b(1, 2) elseif c then d(3, 4) else e(5, 6) end
  repeat x(1, 2) until y
  return { type = "modified", data = { a = 1, b = 2 } }
end, "high")
"""
    assert codes(index, text) == []


def test_js_words_that_are_lua_keywords(index) -> None:
    text = "State.save('a', 'b', { start: 1, end: 4, do: 2 });\nState.save('a', 'b', () => { if (x) { y(1, 2); } });\n"
    assert codes(index, text, "javascript") == []


def test_record_fields_are_open_ended(index) -> None:
    text = "local a = Agent.builder():build()\nlocal out = a:execute({ text = 'x' })\nprint(out.text, out.extra_key)\n"
    assert codes(index, text) == []
    assert codes(index, "local a = Agent.builder():build()\na:nope()\n")[0][0] == "unknown-member"


def test_empty_arguments_do_not_break_the_checker(index) -> None:
    for text in ("State.save('a', 'b', 1, )\n", "State.save(,,,,)\n", "Agent.get(,)\n",
                 "State.save('a',, 'b', 1, 2)\n"):
        diags(index, text)  # found by fuzzing: an empty trailing argument used to raise IndexError
