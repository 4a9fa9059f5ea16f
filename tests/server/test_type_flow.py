"""Type flow for completion and hover (real API model): pcall results, local-function returns, table
fields, long builder chains, reassignment, result records of tool/agent/workflow calls, error tolerance."""

from __future__ import annotations

from lsp_helpers import doc_at, labels

from llmspell_ls.analysis.common import TypeEngine
from llmspell_ls.features.common import scopes_for
from llmspell_ls.features.completion import completion
from llmspell_ls.features.hover import hover
from llmspell_ls.features.signature import signature_help

AGENT_METHODS = {"execute", "get_state", "destroy"}
TOOL_RESULT = {"success", "result", "error", "text"}


def comp(real_index, opts, text: str, lang: str = "lua") -> set[str]:
    doc, line, ch = doc_at(text, lang)
    return set(labels(completion(doc, real_index, line, ch, opts)))


def hov(real_index, opts, text: str, lang: str = "lua") -> str | None:
    doc, line, ch = doc_at(text, lang)
    h = hover(doc, real_index, line, ch, opts)
    return None if h is None else h["contents"]["value"]


def test_pcall_second_result_is_the_called_functions_result(real_index, opts) -> None:
    assert {"name", "build"} <= comp(real_index, opts, "local ok, b = pcall(Agent.builder)\nb:|")
    text = 'local ok, r = pcall(Tool.execute, "calculator", {input = "1+1"})\nif ok then print(r.|) end'
    assert TOOL_RESULT <= comp(real_index, opts, text)
    text = ('local agent = Agent.builder():model("openai/gpt-4o-mini"):build()\n'
            'local ok, resp = pcall(agent.execute, agent, {text = "hi"})\nprint(resp.|)')
    assert "text" in comp(real_index, opts, text)
    text = "local ok, a = pcall(function()\n  return Agent.builder():build()\nend)\na:|"
    assert AGENT_METHODS <= comp(real_index, opts, text)
    # the first result is a boolean: nothing to complete
    assert comp(real_index, opts, "local ok, b = pcall(Agent.builder)\nok:|") == set()


def test_local_function_returns(real_index, opts) -> None:
    text = ('local function make_agent(name)\n  if not name then return nil end\n'
            '  return Agent.builder():name(name):build()\nend\nlocal a = make_agent("x")\na:|')
    assert AGENT_METHODS <= comp(real_index, opts, text)
    text = 'local run = function()\n  return Tool.execute("uuid-generator", {})\nend\nlocal r = run()\nr.|'
    assert TOOL_RESULT <= comp(real_index, opts, text)
    # a call straight on the result
    text = "local function mk()\n  return Agent.builder()\nend\nmk():|"
    assert {"model", "build"} <= comp(real_index, opts, text)
    # returns inside nested functions are not the outer function's
    text = "local function outer()\n  local f = function() return Agent.builder() end\n  return 1\nend\nouter():|"
    assert comp(real_index, opts, text) == set()


def test_local_function_returns_js(real_index, opts) -> None:
    text = "async function mk() {\n  return await Agent.builder().build();\n}\nconst a = await mk();\na.|"
    assert {"execute", "getState"} <= comp(real_index, opts, text, "javascript")
    # not awaited: a Promise, no members
    text = "async function mk() {\n  return await Agent.builder().build();\n}\nconst a = mk();\na.|"
    assert comp(real_index, opts, text, "javascript") == set()
    assert {"build", "model"} <= comp(real_index, opts, "const mk = () => Agent.builder();\nmk().|", "javascript")


def test_table_fields(real_index, opts) -> None:
    text = 'local t = {agent = Agent.builder():build(), n = 1}\nt.agent:|'
    assert AGENT_METHODS <= comp(real_index, opts, text)
    assert {"agent", "n"} <= comp(real_index, opts, 'local t = {agent = Agent.builder():build(), n = 1}\nt.|')
    text = 'local t = {\n  ["wf"] = Workflow.builder():build(),\n}\nt["wf"]:|'
    assert {"execute"} <= comp(real_index, opts, text)
    text = "const t = {agent: await Agent.builder().build()};\nt.agent.|"
    assert {"execute"} <= comp(real_index, opts, text, "javascript")


def test_builder_chain_longer_than_forty_lines(real_index, opts) -> None:
    steps = "".join(f'  :add_step({{name = "s{i}", type = "tool", tool = "calculator",\n'
                    f'             input = {{input = "{i}+1"}}}})\n' for i in range(40))
    text = f'local wf = Workflow.builder()\n  :name("long")\n{steps}  :build()\nwf:|'
    assert {"execute", "get_output"} <= comp(real_index, opts, text)
    # completion inside the chain itself, 80 lines after its start
    text = f'local wf = Workflow.builder()\n  :name("long")\n{steps}  :|'
    assert {"add_step", "build"} <= comp(real_index, opts, text)


def test_reassignment(real_index, opts) -> None:
    text = 'local wf = Workflow.builder():name("x")\nwf = wf:build()\nwf:|'
    assert "execute" in comp(real_index, opts, text) and "add_step" not in comp(real_index, opts, text)
    text = 'local wf = Workflow.builder():name("x")\nwf = wf:|'
    assert "add_step" in comp(real_index, opts, text)  # the right-hand side sees the builder


def test_result_records(real_index, opts) -> None:
    assert TOOL_RESULT <= comp(real_index, opts, 'local r = Tool.execute("calculator", {input = "2"})\nr.|')
    assert {"message", "code"} <= comp(real_index, opts, 'local r = Tool.execute("calculator", {})\nr.error.|')
    text = 'local a = Agent.builder():build()\nlocal r = a:execute({text = "x"})\nprint(r.|)'
    assert {"text", "metadata"} <= comp(real_index, opts, text)
    assert "text" in comp(real_index, opts, 'local a = Agent.builder():build()\nprint(a:execute({text = "x"}).|)')
    text = 'local wf = Workflow.builder():build()\nlocal r = wf:execute({})\nr.|'
    assert {"success", "outputs", "status"} <= comp(real_index, opts, text)
    js = 'const r = await Tool.execute("calculator", {input: "2"});\nr.|'
    assert TOOL_RESULT <= comp(real_index, opts, js, "javascript")
    text = 'local a = Agent.builder():build()\nlocal r = a:execute({})\nprint(|r)'
    assert "local r: AgentOutput" in (hov(real_index, opts, text) or "")


def test_diagnostics_engine_keeps_flow_off(real_index) -> None:
    """The conservative engine (flow=False, used by diagnostics) does not guess."""
    doc, _, _ = doc_at('local ok, b = pcall(Agent.builder)\nlocal t = {a = 1}\nlocal r = Tool.execute("x", {})\n|')
    eng = TypeEngine(real_index, "lua", doc.text, {}, scopes_for(doc))
    end = len(doc.text)
    assert eng.var_type("b", end) is None and eng.var_type("t", end) is None and eng.var_type("r", end) is None
    flow = TypeEngine(real_index, "lua", doc.text, {}, scopes_for(doc), flow=True)
    assert flow.var_type("b", end).name == "AgentBuilder" and flow.var_type("r", end).name == "ToolResult"


def test_incomplete_line_above_does_not_break_later_lines(real_index, opts) -> None:
    body = 'local agent = Agent.builder():model("openai/gpt-4o-mini"):build()\n'
    broken = "Agent.\n"
    assert AGENT_METHODS <= comp(real_index, opts, body + broken + "agent:|")
    text = body + broken + 'local r = agent:exe|cute({text = "hi"})\n'
    assert "AgentInstance:execute" in (hov(real_index, opts, text) or "")
    doc, line, ch = doc_at(body + broken + 'local r = agent:execute(|)\n')
    sig = signature_help(doc, real_index, line, ch, opts)
    assert sig is not None and sig["signatures"][0]["label"].startswith("AgentInstance:execute")
    # an unclosed call and table above
    text = body + 'Tool.execute("calculator", {input = \n\nlocal b = Agent.builder()\nb:|'
    assert {"model", "build"} <= comp(real_index, opts, text)
    js = 'const agent = await Agent.builder().build();\nAgent.\nagent.|'
    assert {"execute"} <= comp(real_index, opts, js, "javascript")


def test_chain_with_blank_and_comment_lines_between_steps(real_index, opts) -> None:
    text = ('local wf = Workflow.builder()\n    :name("x")\n    :sequential()\n\n    -- Step 1\n'
            '    :add_step({name = "a", type = "agent", agent = "a1", input = "hi"})\n\n    :build()\n'
            'local r = wf:|')
    got = comp(real_index, opts, text)
    assert "execute" in got and "add_step" not in got
