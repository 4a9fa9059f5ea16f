"""Template global end to end: real Lua and JS spells through the runner (offline provider, no network)."""

from __future__ import annotations

import shutil
from pathlib import Path

from e2e_helpers import run_collect

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir(parents=True)
    # nothing is reachable: the research template's web search is refused at once and it degrades
    (ws / "llmspell.toml").write_text('[security]\nnetwork_allow = ["nothing.invalid"]\n')
    return ws


async def test_lua_discovery_execute_errors_and_workflow_step(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    spell = ws / "t.lua"
    spell.write_text("""
        local info = Template.info("research-assistant", true)
        print(info.metadata.id, info.name, #info.schema.parameters, info.schema.parameters[1].required)
        print(#Template.list(), #Template.list("analysis"), #Template.search("code"))
        local out = Template.execute("research-assistant", {topic = "Rust ownership", max_sources = 2})
        print(out.success, out.result_type, out.metrics.agents_invoked, out.metrics.tools_invoked,
              out.metadata.template_id, out.metrics.custom.source_count)
        print(out.result:match("^# Research Report: Rust ownership") ~= nil, out.notes[1]:match("web search") ~= nil)
        local ok, err = pcall(Template.execute, "research-assistant", {max_sources = "ten"})
        print(ok, err.kind, err.message)
        ok, err = pcall(Template.execute, "no-such", {})
        print(ok, err.message:match("available templates: code%-generator") ~= nil)
        local chat = Template.execute("interactive-chat", {message = "hello there", session_id = "e2e"})
        print(chat.result:match("hello there") ~= nil, chat.metrics.custom.turn_count)
        local wf = Workflow.builder():name("w"):sequential()
            :add_template_step("r", "research-assistant", {topic = "Lua tables", max_sources = 1})
            :add_step({name = "c", type = "template", template_id = "interactive-chat",
                       params = {message = "Recap {{step.r.metadata.template_id}}"}})
            :build()
        local r = wf:execute()
        print(r.success, r.outputs.r.result_type, r.outputs.c.result:match("Recap research%-assistant") ~= nil)
        ok, err = pcall(function()
            return Workflow.builder():name("x"):sequential()
                :add_step({name = "s", type = "custom", fn = function() return 1 end}):build()
        end)
        print(ok, err.message)
    """)
    text, fin = await run_collect(spell, ws)
    assert fin.status == "success", (fin.error, text)
    lines = text.splitlines()
    assert lines[0] == "research-assistant\tResearch Assistant\t9\ttrue"
    assert lines[1] == "10\t1\t2"
    assert lines[2] == "true\ttext\t2\t1\tresearch-assistant\t0"
    assert lines[3] == "true\ttrue"
    assert lines[4].startswith("false\tvalidation\tTemplate.execute('research-assistant'): parameter 'topic' "
                               "is required")
    assert "parameter 'max_sources' must be an integer, got string" in lines[4]
    assert lines[5] == "false\ttrue"
    assert lines[6] == "true\t1"
    assert lines[7] == "true\ttext\ttrue"
    assert lines[8].startswith("false\tstep 's': step type 'custom' was removed from rs-llmspell; write "
                               'type = "function"')
    assert fin.usage is not None and fin.usage.total_tokens > 0  # the templates' agents are counted
    arts = list((ws / ".llmspell" / "templates" / "research-assistant").glob("*/research-report.md"))
    assert len(arts) == 2


async def test_js_promises_and_errors(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    spell = ws / "t.js"
    spell.write_text("""
        const list = Template.list("codegen");
        console.log(list.length, list[0].id, Template.schema("code-generator").parameters[0].name);
        const p = Template.execute("code-generator", {description: "a function adding two numbers",
                                                      language: "javascript", include_tests: false});
        console.log(p instanceof Promise);
        const out = await p;
        console.log(out.result_type, out.artifacts.map(a => a.filename).join(","), out.metrics.agents_invoked);
        const est = await Template.estimateCost("code-generator", {description: "a function adding two numbers"});
        console.log(est.estimated_tokens, est.pricing, est.confidence);
        try { await Template.execute("code-generator", {description: "short"}); }
        catch (e) { console.log("caught", e.message); }
    """)
    text, fin = await run_collect(spell, ws)
    assert fin.status == "success", (fin.error, text)
    lines = text.splitlines()
    assert lines[0] == "1 code-generator description"
    assert lines[1] == "true"
    assert lines[2] == "text specification.md,main.js 2"
    assert lines[3] == "4500 offline 0.7"
    assert lines[4] == ("caught Template.execute('code-generator'): parameter 'description' length must be >= 10, "
                        "got 5")


async def test_examples_run_clean(tmp_path: Path) -> None:
    for name in ("template.lua", "template.js"):
        ws = workspace(tmp_path / name.replace(".", "_"))
        shutil.copy(EXAMPLES / name, ws / name)
        text, fin = await run_collect(ws / name, ws)
        assert fin.status == "success", (name, fin.error, text)
        assert "templates:" in text and "parameter 'max_sources' must be <= 50, got 99" in text
        assert text.rstrip().splitlines()[-1].startswith("true")
