"""Completion as pure functions over documents (fixture model, then the real one)."""

from __future__ import annotations

import json

import pytest
from lsp_helpers import doc_at, items, labels

from llmspell_ls.features.common import ClientOptions
from llmspell_ls.features.completion import completion


def complete(index, opts, text: str, lang: str = "lua"):
    doc, line, ch = doc_at(text, lang)
    return completion(doc, index, line, ch, opts)


def test_global_members_are_static_functions_in_lua(index, opts) -> None:
    got = labels(complete(index, opts, "Agent.|"))
    assert {"builder", "create", "list", "get"} <= set(got)
    assert labels(complete(index, opts, "Agent:|")) == []  # globals are not called with ':'


def test_instance_methods_need_colon_in_lua(index, opts) -> None:
    assert {"name", "model", "build"} <= set(labels(complete(index, opts, "Agent.builder():|")))
    dot = labels(complete(index, opts, "local a = Agent.builder():build()\na.|"))
    assert "execute" not in dot and "name" in dot  # fields only after '.'
    colon = labels(complete(index, opts, "local a = Agent.builder():build()\na:|"))
    assert {"execute", "get_state", "destroy"} <= set(colon) and "name" not in colon


def test_builder_chain_through_locals(index, opts) -> None:
    text = "local b = Agent.builder()\nb:name('x')\nlocal a = b:build()\na:|"
    assert "execute" in labels(complete(index, opts, text))


def test_js_camel_case_and_await(index, opts) -> None:
    got = labels(complete(index, opts, "const b = Agent.builder();\nb.|", "javascript"))
    assert "systemPrompt" in got and "system_prompt" not in got
    got = labels(complete(index, opts, "const a = await Agent.builder().build();\na.|", "javascript"))
    assert "execute" in got and "getState" in got
    assert labels(complete(index, opts, "const a = Agent.builder().build();\na.|", "javascript")) == []


def test_snippets_and_plain_inserts(index, opts) -> None:
    it = {i["label"]: i for i in items(complete(index, opts, "Agent.|"))}
    assert it["get"]["insertText"] == "get(${1:name})$0" and it["get"]["insertTextFormat"] == 2
    assert it["builder"]["insertText"] == "builder()$0"
    plain = ClientOptions(snippets=False, markdown=False, deprecated_tag=False, deprecated_flag=True)
    it = {i["label"]: i for i in items(complete(index, plain, "Agent.|"))}
    assert "insertTextFormat" not in it["get"] and it["get"]["insertText"] == "get("
    assert it["create"]["deprecated"] is True and "tags" not in it["create"]
    assert it["get"]["documentation"]["kind"] == "plaintext"
    # no parentheses when the call is already there
    it = {i["label"]: i for i in items(complete(index, opts, "Agent.|()"))}
    assert "insertText" not in it["get"]


def test_items_carry_docs_and_deprecation(index, opts) -> None:
    it = {i["label"]: i for i in items(complete(index, opts, "Agent.|"))}
    assert it["create"]["tags"] == [1]
    assert "Use Agent.builder()" in it["create"]["documentation"]["value"]
    assert "Agent.get(name: string)" in it["get"]["documentation"]["value"]
    assert it["create"]["sortText"] > it["get"]["sortText"]


def test_tool_parameter_keys_and_values(index, opts) -> None:
    assert labels(complete(index, opts, 'Tool.execute("file-operations", { op|')) == ["operation"]
    got = items(complete(index, opts, 'Tool.execute("file-operations", { |'))
    by = {i["label"]: i for i in got}
    assert set(by) == {"operation", "path", "content"}
    assert by["operation"]["insertText"] == 'operation = "$1"$0'
    assert by["operation"]["sortText"] < by["content"]["sortText"]  # required first
    got = labels(complete(index, opts, 'Tool.execute("file-operations", { path = "x", |'))
    assert "path" not in got and "operation" in got
    vals = items(complete(index, opts, 'Tool.execute("file-operations", { operation = "r|'))
    assert [i["label"] for i in vals] == ["read", "write", "list", "exists"]
    rng = vals[0]["textEdit"]["range"]
    assert rng["start"]["character"] == rng["end"]["character"] - 1  # replaces the typed "r"
    js = labels(complete(index, opts, "Tool.execute('calculator', { |", "javascript"))
    assert js == ["input"]
    assert labels(complete(index, opts, 'Tool.execute("nope", { |')) == []


def test_record_keys_and_nested_values(index, opts) -> None:
    got = labels(complete(index, opts, "Workflow.builder():add_step({ |"))
    assert {"name", "type", "tool", "input"} <= set(got)
    assert labels(complete(index, opts, 'Workflow.builder():add_step({ type = "|')) == ["tool", "agent", "workflow"]
    assert "calculator" in labels(complete(index, opts, 'Workflow.builder():add_step({ tool = "|'))
    assert "text" in labels(complete(index, opts, "local a = Agent.builder():build()\na:execute({ |"))


def test_named_string_arguments(index, opts) -> None:
    assert labels(complete(index, opts, 'Tool.execute("|')) == ["calculator", "file-operations"]
    got = items(complete(index, opts, 'Tool.execute("fi|'))
    assert got[1]["textEdit"]["newText"] == "file-operations"
    assert "| `operation` |" in got[1]["documentation"]["value"]  # the tool's parameter table
    assert "BeforeAgentExecution" in labels(complete(index, opts, 'Hook.register("|'))
    assert labels(complete(index, opts, 'Hook.register("x", f, "|')) == ["highest", "high", "normal", "low", "lowest"]
    assert "research" in labels(complete(index, opts, 'Agent.create_from_template("n", "|'))
    assert "agent.started" in labels(complete(index, opts, "Event.publish('|", "javascript"))
    assert labels(complete(index, opts, 'Agent.get("|')) == []  # a free string


def test_globals_keywords_and_locals(index, opts) -> None:
    got = labels(complete(index, opts, "local builder_x = 1\nA|"))
    assert "Agent" in got and "ARGS" in got and "Tool" not in got
    got = labels(complete(index, opts, "local mything = 1\nm|"))
    assert "mything" in got
    assert "local" in labels(complete(index, opts, "lo|"))
    js_json = [i for i in items(complete(index, opts, "J|", "javascript")) if i["label"] == "JSON"]
    assert [i["detail"] for i in js_json] == ["builtin"]  # JS has its own JSON (not the API global)


def test_nothing_in_comments_numbers_or_unknown_receivers(index, opts) -> None:
    assert labels(complete(index, opts, "x = 1.|")) == []
    assert labels(complete(index, opts, "foo.bar.|")) == []


def test_result_is_valid_lsp(index, opts) -> None:
    from lsprotocol import types as lsp
    from pygls.protocol import default_converter

    raw = complete(index, opts, 'Tool.execute("file-operations", { operation = "|')
    lst = default_converter().structure(json.loads(raw.text), lsp.CompletionList)
    assert lst.items[0].text_edit is not None


@pytest.mark.parametrize("text,lang,expect", [
    ("Agent.builder():|", "lua", {"model", "system_prompt", "build"}),
    ("local w = Workflow.builder()\nw:|", "lua", {"build"}),
    ('Tool.execute("file-operations", { |', "lua", {"operation", "path"}),
    ('Hook.register("|', "lua", {"BeforeToolExecution"}),
    ("const b = Agent.builder();\nb.|", "javascript", {"systemPrompt", "build"}),
    ("Tool.execute('calculator', { |", "javascript", {"input"}),
])
def test_real_model(real_index, opts, text, lang, expect) -> None:
    assert expect <= set(labels(complete(real_index, opts, text, lang)))


def test_lazy_documentation_through_resolve(index) -> None:
    from lsprotocol import types as lsp

    from llmspell_ls.features.completion import resolve_item

    lazy = ClientOptions(resolve_docs=True)
    got = {i["label"]: i for i in items(complete(index, lazy, "Agent.|"))}
    assert "documentation" not in got["get"] and isinstance(got["get"]["data"], int)
    item = resolve_item(lsp.CompletionItem(label="get", data=got["get"]["data"]), lazy)
    assert "Agent.get(name: string)" in item.documentation.value
    assert resolve_item(lsp.CompletionItem(label="x", data=10**9), lazy).documentation is None
