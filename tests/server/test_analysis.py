"""Cursor context and chain typing (Lua and JS) on the fixture model."""

from __future__ import annotations

import pytest
from lsp_helpers import doc_at

from llmspell_ls.analysis.common import TypeEngine, analyze


def ctx_of(index, text: str, lang: str = "lua"):
    off = text.index("|")
    text = text.replace("|", "", 1)
    return analyze(TypeEngine(index, lang, text), off, 0)


@pytest.mark.parametrize("text,lang,receiver,sep", [
    ("Agent.|", "lua", "Agent", "."),
    ("Agent.builder():|", "lua", "AgentBuilder", ":"),
    ("Agent.builder():name('x'):model('y'):|", "lua", "AgentBuilder", ":"),
    ("local b = Agent.builder()\nb:|", "lua", "AgentBuilder", ":"),
    ("local b = Agent.builder()\n  :name('x')\n  :model('y')\nlocal a = b:build()\na:|", "lua", "AgentInstance", ":"),
    ("Agent.builder()\n  :name('x')\n  :|", "lua", "AgentBuilder", ":"),
    ("const b = Agent.builder();\nb.|", "javascript", "AgentBuilder", "."),
    ("let a = await Agent.builder().name('x').build();\na.|", "javascript", "AgentInstance", "."),
    ("(await Agent.builder().build()).|", "javascript", "AgentInstance", "."),
    ("const t = Tool['calculator'];\nt.|", "javascript", "ToolHandle", "."),
])
def test_member_receiver_types(index, text, lang, receiver, sep) -> None:
    c = ctx_of(index, text, lang)
    assert c.kind == "member"
    assert c.receiver is not None and c.receiver.name == receiver and c.sep == sep


def test_js_unawaited_async_result_is_a_promise(index) -> None:
    c = ctx_of(index, "const a = Agent.builder().build();\na.|", "javascript")
    assert c.receiver is not None and c.receiver.promise


def test_later_assignment_wins_and_unknown_is_none(index) -> None:
    c = ctx_of(index, "local x = Agent.builder()\nx = Workflow.builder()\nx:|")
    assert c.receiver.name == "WorkflowBuilder"
    c = ctx_of(index, "local y = foo()\ny:|")
    assert c.kind == "member" and c.receiver is None


def test_incomplete_member_on_its_own_line(index) -> None:
    """``Agent.`` followed by more code parses as a call in Lua; the text before the cursor decides."""
    c = ctx_of(index, "local a = Agent.|\nprint(1)\n")
    assert c.kind == "member" and c.receiver.name == "Agent"


def test_table_key_and_value_contexts(index) -> None:
    c = ctx_of(index, 'Tool.execute("file-operations", { operation = "read", pa|')
    assert c.kind == "table_key" and c.prefix == "pa" and c.call.function.name == "execute"
    assert c.call.arg_index == 1 and c.existing_keys == ["operation"]
    c = ctx_of(index, 'Tool.execute("file-operations", { operation = "|')
    assert c.kind == "table_value" and c.key == "operation"
    c = ctx_of(index, "Tool.execute('calculator', { input: '1', x: { y: { |", "javascript")
    assert c.kind == "table_key" and c.table_path == ["x", "y"]


def test_lua_table_call_syntax(index) -> None:
    c = ctx_of(index, 'Workflow.builder():add_step{ ty|')
    assert c.kind == "table_key" and c.call.function.name == "add_step"


def test_string_argument_and_nested_calls(index) -> None:
    c = ctx_of(index, 'Hook.register("Bef|')
    assert c.kind == "string" and c.prefix == "Bef" and c.call.arg_index == 0
    c = ctx_of(index, 'Hook.register("x", function(ctx) return { a = 1, b = 2 } end, "|')
    assert c.kind == "string" and c.call.arg_index == 2
    c = ctx_of(index, 'Tool.execute("calculator", {input = JSON.stringify(a, |)})')
    assert c.enclosing.function.name == "stringify" and c.enclosing.arg_index == 1


def test_strings_and_comments_do_not_confuse_the_scanner(index) -> None:
    c = ctx_of(index, 'local s = "Agent.(" -- Tool.execute(\nAgent.|')
    assert c.kind == "member" and c.receiver.name == "Agent"
    c = ctx_of(index, "const s = `(${1}`; // (\nAgent.|", "javascript")
    assert c.kind == "member" and c.receiver.name == "Agent"


def test_doc_at_helper() -> None:
    doc, line, ch = doc_at("a\nbc|d")
    assert (line, ch) == (1, 2) and doc.text == "a\nbcd"


def test_lua_blocks_do_not_advance_the_argument(index) -> None:
    c = ctx_of(index, 'Hook.register("x", function(ctx)\n  for k, v in pairs(ctx) do end\nend, |')
    assert c.enclosing.function.name == "register" and c.enclosing.arg_index == 2


def test_dynamic_members_use_the_index_type(index) -> None:
    c = ctx_of(index, "Tool.calculator:|")
    assert c.kind == "member" and c.receiver.name == "ToolHandle"
