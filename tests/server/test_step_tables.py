"""Workflow step tables: completion of keys, step types, tool names and a tool step's input parameters,
and the step-table checks (``features/step_tables.check_step_tables``)."""

from __future__ import annotations

import pytest
from lsp_helpers import doc_at, labels

from llmspell_ls.documents import Documents
from llmspell_ls.features.completion import completion
from llmspell_ls.features.hover import hover
from llmspell_ls.features.step_tables import check_step_tables

STEP_KEYS = {"name", "type", "tool", "agent", "input", "timeout_ms"}


def comp(index, opts, text: str, lang: str = "lua") -> list[str]:
    doc, line, ch = doc_at(text, lang)
    return labels(completion(doc, index, line, ch, opts))


def check(index, text: str, lang: str = "lua") -> list[tuple[int, str, str]]:
    doc = Documents().open(f"file:///w/s.{'lua' if lang == 'lua' else 'js'}", text, 1, lang)  # type: ignore[arg-type]
    return [(d.range.start.line, str(d.code), d.message) for d in check_step_tables(doc, index)]


@pytest.mark.parametrize("head", ["local wf = Workflow.builder()\nwf:add_step({", "Workflow.builder():add_then_step({"])
def test_step_keys_types_tools_and_input(real_index, opts, head: str) -> None:
    assert STEP_KEYS <= set(comp(real_index, opts, head + "|"))
    assert "name" not in comp(real_index, opts, head + 'name = "a", |')  # keys already there
    assert set(comp(real_index, opts, head + 'type = "|')) == {"tool", "agent", "workflow", "function", "template"}
    assert {"calculator", "uuid-generator"} <= set(comp(real_index, opts, head + 'type = "tool", tool = "|'))
    got = comp(real_index, opts, head + 'name = "calc", type = "tool", tool = "calculator", input = {|')
    assert "input" in got and "operation" in got
    assert "name" not in got  # the tool's parameters, not the step's keys
    # an unknown tool: no guess
    assert comp(real_index, opts, head + 'type = "tool", tool = "nope", input = {|') == []


def test_steps_in_a_workflow_config_and_js(real_index, opts) -> None:
    text = 'Workflow.sequential({name = "p", steps = {\n  {name = "a", type = "tool", tool = "calculator", input = {|'
    assert "operation" in comp(real_index, opts, text)
    text = 'Workflow.sequential({name = "p", steps = {{|'
    assert STEP_KEYS <= set(comp(real_index, opts, text))
    js = 'const wf = Workflow.builder();\nwf.addStep({type: "tool", tool: "calculator", input: {|'
    assert "operation" in comp(real_index, opts, js, "javascript")


def test_hover_on_a_step_input_key(real_index, opts) -> None:
    text = 'Workflow.builder():add_step({type = "tool", tool = "calculator", input = {opera|tion = "evaluate"}})'
    doc, line, ch = doc_at(text)
    h = hover(doc, real_index, line, ch, opts)
    assert h is not None and "operation" in h["contents"]["value"]


def test_check_step_tables_reports_mistakes(real_index) -> None:
    text = ('local wf = Workflow.builder():name("w")\n'
            'wf:add_step({name = "a", tpye = "tool", tool = "calculator"})\n'
            'wf:add_step({name = "b", type = "tol", tool = "calculator"})\n'
            'wf:add_step({name = "c", type = "tool", tool = "calculater"})\n'
            'wf:add_step({name = "d", type = "tool", tool = "calculator", input = {expresion = "1+1"}})\n'
            'local s = Workflow.sequential({name = "x", steps = {{name = "e", type = "agnt", agent = "a"}}})\n')
    got = check(real_index, text)
    codes = [(line, code) for line, code, _ in got]
    assert codes == [(1, "unknown-step-key"), (2, "unknown-step-type"), (3, "unknown-tool"),
                     (4, "unknown-tool-param"), (5, "unknown-step-type")]
    assert "did you mean 'type'" in got[0][2] and "did you mean 'calculator'" in got[2][2]
    js = 'const wf = Workflow.builder();\nwf.addStep({name: "a", type: "tool", tool: "calculater"});\n'
    assert [c for _, c, _ in check(real_index, js, "javascript")] == ["unknown-tool"]


def test_check_step_tables_is_quiet_on_valid_spells(real_index) -> None:
    """A spell in rs-llmspell's style: builder steps of every kind, computed values, comments."""
    text = '''-- add_step({tpye = "x"}) in a comment is not code
local analyst = Agent.builder():name("analyst"):model("openai/gpt-4o-mini"):build()
local inner = Workflow.builder():name("inner"):sequential():build()
local tool_name = "calculator"
local wf = Workflow.builder()
    :name("pipeline")
    :description("all step kinds")
    :sequential()
    :add_step({name = "calc", type = "tool", tool = "calculator",
               input = {input = "2 + 2"}})
    :add_step({name = "calc2", type = "tool", tool = tool_name, input = {anything = 1}})
    :add_step({name = "ask", type = "agent", agent = "analyst", input = "Summarise {{step:calc:output}}",
               timeout_ms = 5000})
    :add_step({name = "nested", type = "workflow", workflow = inner})
    :add_step({name = "fn", type = "function", fn = function(input) return {ok = true} end})
    :add_step({name = "manip", type = "tool", tool = "text_manipulator", input = {operation = "uppercase",
               input = "x"}})
    :build()
local par = Workflow.parallel({name = "p", steps = {
    {name = "u", type = "tool", tool = "uuid-generator", input = {operation = "generate"}},
    {name = "t", type = "tool", tool = "datetime-handler", input = {operation = "now"}},
}})
print(wf, par, analyst)
'''
    assert check(real_index, text) == []
    # a spell that registers its own tools: unknown tool names are not judged
    text = 'Tool.register("mine", "d", function() end, {})\nWorkflow.builder():add_step({type = "tool", tool = "mine"})'
    assert check(real_index, text) == []


def test_published_diagnostics_include_step_table_checks_once(real_index) -> None:
    """The document's diagnostics (push, pull and --check) carry the step-table findings, without
    repeating one the chain pass already reports at the same place."""
    from llmspell_ls.features.diagnostics import diagnostics

    text = ('local wf = Workflow.builder():name("w")\n'
            'wf:add_step({name = "a", tpye = "tool", tool = "calculator"})\n'
            'wf:add_step({name = "b", type = "tol", tool = "calculator"})\n'
            'wf:add_step({name = "c", type = "tool", tool = "calculater"})\n')
    doc = Documents().open("file:///w/s.lua", text, 1, "lua")
    got = [(d["range"]["start"]["line"], d["code"]) for d in diagnostics(doc, real_index, "utf-16")]
    assert (1, "unknown-step-key") in got and (2, "unknown-step-type") in got
    assert got.count((3, "unknown-tool")) == 1
