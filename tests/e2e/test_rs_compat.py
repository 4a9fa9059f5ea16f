"""Spells written the way rs-llmspell's examples are written run unchanged on the offline provider.

Each spell here is our own, in the style of rs-llmspell's getting-started/features/cookbook/
applications spells, and reproduces one pattern that once failed on this runtime (see the
compatibility notes in ../shared/reference/rs-llmspell-api.md). They run through the real runner.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import run_collect

from llmspell.messages import Finished


async def run_spell(tmp: Path, src: str, name: str = "spell.lua") -> tuple[str, Finished]:
    path = tmp / name
    path.write_text(src, encoding="utf-8")
    return await run_collect(path, tmp)


def ok(out: str, fin: Finished) -> Any:
    assert fin.status == "success", f"{fin.error}\n{out}"
    return fin.result


# -- workflows ------------------------------------------------------------------------------------

PIPELINE = r"""
-- complex-workflows style: each step reads the previous step's result through a placeholder
local pipeline = Workflow.builder()
    :name("id_pipeline")
    :description("uuid -> hash -> base64")
    :sequential()
    :add_step({name = "make_id", type = "tool", tool = "uuid-generator",
               input = {operation = "generate", version = "v4"}})
    :add_step({name = "hash_it", type = "tool", tool = "hash-calculator",
               input = {operation = "hash", algorithm = "sha256", input = "{{step.make_id.result}}"}})
    :add_step({name = "encode_it", type = "tool", tool = "base64-encoder",
               input = {operation = "encode", input = "{{step.hash_it.result}}"}})
    :build()

local ok, result = pcall(function() return pipeline:execute({}) end)
if not ok then return {error = tostring(result)} end
local extra = result.metadata.extra
return {
    text = result.text,
    workflow_type = extra.workflow_type,
    successful_steps = extra.successful_steps,
    ms = string.format("%d", result.metadata.execution_time_ms),
    uuid = result.outputs.make_id.result.uuid,
    hash = result.outputs.hash_it.result.hash,
    encoded = result.outputs.encode_it.result.output,
}
"""


@pytest.mark.asyncio
async def test_step_result_table_placeholder_feeds_string_parameter(tmp_path: Path) -> None:
    r = ok(*await run_spell(tmp_path, PIPELINE))
    assert "error" not in r, r["error"]
    assert "Sequential workflow 'id_pipeline' completed successfully" in r["text"]
    assert (r["workflow_type"], r["successful_steps"]) == ("sequential", 3)
    assert int(r["ms"]) >= 0
    # the hash step hashed the uuid itself, the encode step encoded the hex digest
    assert r["hash"] == hashlib.sha256(r["uuid"].encode()).hexdigest()
    assert base64.b64decode(r["encoded"]).decode() == r["hash"]


@pytest.mark.asyncio
async def test_table_passed_directly_to_string_parameter_is_still_an_error(tmp_path: Path) -> None:
    # only placeholders are turned into text: a table written by hand in a string parameter fails
    src = """
local wf = Workflow.builder():name("bad"):sequential()
    :add_step({name = "h", type = "tool", tool = "hash-calculator",
               input = {operation = "hash", input = {uuid = "x"}}})
    :build()
local ok, err = pcall(function() return wf:execute({}) end)
return {ok = ok, err = tostring(err)}
"""
    r = ok(*await run_spell(tmp_path, src))
    assert r["ok"] is False and "parameter 'input'" in r["err"]


CONTENT = r"""
-- content-creator style: agents named with a timestamp, steps refer to earlier steps by bare name
local ts = os.time()
local planner = Agent.builder()
    :name("planner_" .. ts)
    :type("llm")
    :model("gpt-4o-mini")
    :custom_config({system_prompt = "You are a content planning expert."})
    :build()
local writer = Agent.builder()
    :name("writer_" .. ts)
    :type("llm")
    :provider("anthropic")
    :model("claude-3-haiku-20240307")
    :system_prompt("You are a professional content writer.")
    :build()

local flow = Workflow.builder()
    :name("content_creation")
    :timeout_ms(600000)
    :sequential()
    :add_step({name = "plan_content", type = "agent", agent = "planner_" .. ts,
               input = "Create a content plan for: {{topic}}", timeout_ms = 90000})
    :add_step({name = "write_draft", type = "agent", agent = "writer_" .. ts,
               input = "Write engaging content based on this plan: {{plan_content}}"})
    :build()

local result = flow:execute({text = "go", topic = "spells for beginners"})
local outs = result.metadata.extra.agent_outputs
return {plan = outs["planner_" .. ts], draft = outs["writer_" .. ts],
        took = string.format("%d ms", result.metadata.execution_time_ms)}
"""


@pytest.mark.asyncio
async def test_bare_step_name_placeholder_and_agent_outputs(tmp_path: Path) -> None:
    r = ok(*await run_spell(tmp_path, CONTENT))
    assert "Create a content plan for: spells for beginners" in r["plan"]
    assert "{{plan_content}}" not in r["draft"]
    assert "based on this plan: [offline openai/gpt-4o-mini]" in r["draft"]
    assert r["draft"].startswith("[offline anthropic/claude-3-haiku-20240307]")
    assert r["took"].endswith(" ms")


REVIEW = r"""
-- code-review-assistant style: the builder is kept in a variable, steps are added in a loop
local ts = os.time()
Agent.builder():name("security_" .. ts):type("llm"):model("gpt-4o-mini")
    :system_prompt("You are a security expert."):build()
Agent.builder():name("quality_" .. ts):type("llm"):provider("anthropic")
    :model("claude-3-haiku-20240307"):system_prompt("You are a code quality expert."):build()

local files = {{name = "auth.lua", code = "return db.query('x' .. user)"}, {name = "util.py", code = "eval(x)"}}
local seen = {}
for _, f in ipairs(files) do
    local wf = Workflow.builder()
        :name("review_" .. f.name:gsub("%.", "_"))
        :timeout_ms(300000)
        :sequential()
    for _, who in ipairs({"security", "quality"}) do
        wf:add_step({name = who .. "_review", type = "agent", agent = who .. "_" .. ts,
                     input = string.format("Review this code:\n\nFile: %s\n\n%s", f.name, f.code)})
    end
    wf = wf:build()
    local result = wf:execute({text = "Begin review", context = {filename = f.name}})
    local outputs = result.metadata and result.metadata.extra and result.metadata.extra.agent_outputs or {}
    seen[#seen + 1] = {(outputs["security_" .. ts] or ""):find(f.name, 1, true) ~= nil,
                       (outputs["quality_" .. ts] or ""):find(f.name, 1, true) ~= nil}
end
return seen
"""


@pytest.mark.asyncio
async def test_builder_in_a_variable_with_steps_added_in_a_loop(tmp_path: Path) -> None:
    assert ok(*await run_spell(tmp_path, REVIEW)) == [[True, True], [True, True]]


# -- numbers a spell formats with %d ---------------------------------------------------------------

TIMES = r"""
local wf = Workflow.builder():name("t"):loop():with_range({start = 1, ["end"] = 3})
    :add_step({name = "up", type = "tool", tool = "text_manipulator",
               input = {operation = "uppercase", input = "item {{loop_index}}"}})
    :build()
local r = wf:execute({})
local t = Tool.execute("uuid-generator", {operation = "generate"})
local a = Agent.builder():provider("anthropic"):model("claude-3-haiku-20240307"):build()
local out = a:execute({text = "hi"})
return {
    workflow = math.type(r.metadata.execution_time_ms),
    tool = math.type(t.metadata.execution_time_ms),
    agent = math.type(out.metadata.duration_ms),
    line = string.format("%d/%d/%d", r.metadata.execution_time_ms, t.metadata.execution_time_ms,
                         out.metadata.duration_ms),
    uuid = t.result.uuid,
}
"""


@pytest.mark.asyncio
async def test_durations_are_whole_milliseconds(tmp_path: Path) -> None:
    r = ok(*await run_spell(tmp_path, TIMES))
    assert (r["workflow"], r["tool"], r["agent"]) == ("integer", "integer", "integer")
    assert all(int(x) >= 0 for x in r["line"].split("/"))
    assert len(r["uuid"]) == 36


# -- providers and agent builders ----------------------------------------------------------------

PROVIDERS = r"""
-- getting-started/02 and /04 style
local providers = Provider.list()
local names = {}
for i, p in ipairs(providers) do names[i] = p.name end
local parts = {}
for part in string.gmatch(names[1], "[^/]+") do table.insert(parts, part) end

local ok, agent = pcall(function()
    return Agent.builder():provider(parts[2]):model(parts[3]):system_prompt("Be brief."):build()
end)
local reply = ok and agent:execute({text = "What is 2 + 2?"}).text or tostring(agent)

-- 04 passes a whole Provider.list() entry where a name is expected, and dot-calls the builder
local function safe_agent_creation(provider_name)
    local line = "Attempting to create agent with provider: " .. provider_name
    local success, res = pcall(function()
        return Agent.builder().provider(provider_name).system_prompt("x").build()
    end)
    return line, success, tostring(res)
end
local line, built, err = safe_agent_creation(providers[1])
return {count = #providers, first = names[1], parts = #parts, reply = reply, line = line,
        text = tostring(providers[1]), built = built, err = err,
        json = JSON.stringify(providers[1])}
"""


@pytest.mark.asyncio
async def test_provider_list_names_entries_and_builder_dot_call(tmp_path: Path) -> None:
    r = ok(*await run_spell(tmp_path, PROVIDERS))
    assert r["count"] >= 1 and r["parts"] == 3
    assert "2 + 2 = 4" in r["reply"]
    assert r["line"] == "Attempting to create agent with provider: " + r["first"]
    assert r["text"] == r["first"]
    assert r["built"] is False
    assert "call it with a colon" in r["err"] and "agentBuilder:provider(...)" in r["err"]
    assert json.loads(r["json"])["name"] == r["first"]  # the entry is still plain data


AGENT_API = r"""
-- features/agent-api-comprehensive style
local name = Agent.register({
    name = "demo-analyst", agent_type = "llm",
    model = {provider = "openai", model_id = "gpt-3.5-turbo", temperature = 0.3, max_tokens = 200, settings = {}},
    custom_config = {system_prompt = "You are a data analyst."},
})
local agent = Agent.get(name)
local ok, res = pcall(function() return agent:invoke({text = "Sales Q1 $100k, Q2 $120k"}) end)

local writer = Agent.builder():name("creative-writer"):model("openai/gpt-3.5-turbo"):build()
local wrapped_ok, tool_name = pcall(function()
    return Agent.wrap_as_tool(writer, {name = "creative_writer_tool", description = "writes"})
end)
local via_tool = wrapped_ok and Tool.exists(tool_name)
return {invoke_ok = ok, text = ok and res.text or tostring(res), wrapped = wrapped_ok,
        tool_name = tostring(tool_name), exists = via_tool}
"""


@pytest.mark.asyncio
async def test_agent_invoke_alias_and_wrap_as_tool_with_the_agent(tmp_path: Path) -> None:
    r = ok(*await run_spell(tmp_path, AGENT_API))
    assert r["invoke_ok"] is True and "As a data analyst" in r["text"]
    assert (r["wrapped"], r["tool_name"], r["exists"]) == (True, "creative_writer_tool", True)


# -- state and tools -----------------------------------------------------------------------------

STATE = r"""
-- features/debug-globals style (State.set/get as rs-llmspell's docs show them)
State.set("test_key", "test_value")
local v = State.get("test_key")
local same = State.load("global", "test_key")
State.set("custom", "theme", "dark")
local theme = State.get("custom", "theme")
State.delete("test_key")
return {v = v, same = same, theme = theme, gone = State.load("global", "test_key") == nil,
        keys = State.list_keys("custom")}
"""


@pytest.mark.asyncio
async def test_state_get_set_aliases(tmp_path: Path) -> None:
    r = ok(*await run_spell(tmp_path, STATE))
    assert r == {"v": "test_value", "same": "test_value", "theme": "dark", "gone": True, "keys": ["theme"]}


TOOLS = r"""
-- tool-integration-patterns / error-handling style: underscore names, pcall around failures
local function use_tool(name, params)
    local success, result = pcall(function() return Tool.invoke(name, params) end)
    if success and result then return result end
    return {success = false, error = tostring(result)}
end
local id = use_tool("uuid_generator", {operation = "generate", version = "v4"})
local h = use_tool("hash_calculator", {operation = "hash", algorithm = "md5", input = "test"})
local missing = use_tool("nonexistent_tool", {})
return {uuid = id.result.uuid ~= nil, md5 = h.result.hash, missing = missing.success, err = missing.error}
"""


@pytest.mark.asyncio
async def test_underscore_tool_names_and_soft_failures(tmp_path: Path) -> None:
    r = ok(*await run_spell(tmp_path, TOOLS))
    assert r["uuid"] is True and r["md5"] == hashlib.md5(b"test").hexdigest()
    assert r["missing"] is False and "Tool 'nonexistent_tool' not found" in r["err"]


def test_file_organizer_style_spell_through_the_cli(tmp_path: Path) -> None:
    """The whole path a user takes: ``llmspell-ls --run``; loop over a collection with agent steps."""
    (tmp_path / "organize.lua").write_text(r"""
local ts = os.time()
Agent.builder():name("classifier_" .. ts):type("llm"):model("anthropic/claude-3-haiku-20240307")
    :custom_config({system_prompt = "You are a file organization expert."}):build()
local files = {"photo.jpg", "notes.txt", "song.mp3", "code.py"}
local wf = Workflow.builder():name("loop_file_processor"):loop():with_collection(files):max_iterations(3)
    :add_step({name = "classify", type = "agent", agent = "classifier_" .. ts,
               input = "Classify this file '{{loop_value}}' into one category."})
    :build()
local result = wf:execute({text = "Organize these files"})
print(string.format("done in %dms: %s", result.metadata.execution_time_ms, result.text))
print("iterations:", result.metadata.extra.completed_iterations)
""", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    r = subprocess.run([sys.executable, "-c", "import sys; from llmspell_ls.cli import main; sys.exit(main())",
                        "--run", "organize.lua"], cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert "Loop workflow 'loop_file_processor' completed successfully" in r.stdout
    assert "iterations:\t3" in r.stdout
