"""The ``Workflow`` global from real Lua spells: rs-llmspell's builder and table configs, quirks fixed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fakes import collect_run
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime


async def run_lua(tmp_path: Path, src: str, *, state: str = "memory") -> tuple[list[str], Any, list[Any]]:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    runner = SpellRunner(runtime_factory=lambda: Runtime(workspace=ws, state=state))
    text, finished, msgs = await collect_run(runner, ws / "spell.lua", source=src)
    assert finished is not None
    return text.splitlines(), finished, msgs


async def test_builder_sequential_result_shape_and_instance_api(tmp_path: Path) -> None:
    lines, fin, msgs = await run_lua(tmp_path, """
        local wf = Workflow.builder()
            :name("first_workflow"):description("demo"):sequential()
            :add_step({name = "generate_id", type = "tool", tool = "uuid-generator", input = {operation = "generate"}})
            :add_step({name = "hash", type = "tool", tool = "hash-calculator",
                       input = {operation = "hash", input = "{{step.generate_id.result.uuid}}"}})
            :add_step({name = "upper", type = "tool", tool = "text-manipulator",
                       input = {operation = "uppercase", input = "{{input.text}}"}})
            :build()
        print(wf.name, wf.type, wf.id:sub(1, 9))
        print(pcall(function() return wf:get_execution_id() end))
        local r = wf:execute({text = "hello"})
        print(r.text:match("completed successfully") ~= nil, r.text:sub(1, 40))
        print(r.success, r.status, r.metadata.extra.workflow_type, r.metadata.extra.total_steps,
              r.metadata.extra.successful_steps, r.metadata.extra.success_rate)
        print(r.outputs.upper.result.result, #r.steps, r.steps[2].name)
        print(wf:get_output("upper").result.result, wf:get_all_outputs().hash.result.algorithm)
        print(wf:get_execution_id() == r.metadata.extra.execution_id, wf:get_info().status)
        local v = wf:validate()
        print(v.valid, #v.errors)
    """)
    assert fin.status == "success", fin.error
    assert lines[0] == "first_workflow\tsequential\tworkflow_"
    assert lines[1].startswith("false\t") and "No workflow execution found. Run execute() first." in lines[1]
    assert lines[2] == "true\tSequential workflow 'first_workflow' com"
    assert lines[3] == "true\tcompleted\tsequential\t3\t3\t100"
    assert lines[4] == "HELLO\t3\thash"
    assert lines[5] == "HELLO\tsha256"
    assert lines[6] == "true\tcompleted"
    assert lines[7] == "true\t0"
    progress = [m.message for m in msgs if m.type == "progress"]
    assert any("generate_id" in p and "completed" in p for p in progress)
    step_events = [m.data["step_name"] for m in msgs if m.type == "event" and m.event_type == "workflow.step.completed"]
    assert step_events == ["generate_id", "hash", "upper"]


async def test_conditional_builder_then_else_and_branches(tmp_path: Path) -> None:
    lines, fin, _ = await run_lua(tmp_path, """
        local function step(name, text)
            return {name = name, type = "tool", tool = "text-manipulator",
                    input = {operation = "uppercase", input = text}}
        end
        local wf = Workflow.builder():name("cond"):conditional()
            :condition({type = "shared_data_equals", key = "mode", value = "fast"})
            :add_then_step(step("then_step", "then"))
            :add_else_step(step("else_step", "else"))
            :add_branch({type = "shared_data_exists", key = "special"}, {step("special_step", "special")})
            :build()
        local r = wf:execute()
        print(r.outputs.else_step ~= nil, r.outputs.then_step == nil, r.metadata.extra.selected_branch)
        wf:set_shared_data("special", true)
        r = wf:execute()
        print(r.outputs.special_step.result.result, r.outputs.else_step == nil)
        wf:set_shared_data("mode", "fast")
        r = wf:execute()
        print(r.outputs.then_step.result.result, wf:get_shared_data("mode"))
        local f = Workflow.builder():name("fn"):conditional()
            :condition(function(ctx) return ctx.input.n > 10 end)
            :add_then_step(step("big", "big")):add_else_step(step("small", "small")):build()
        print(f:execute({n = 50}).outputs.big ~= nil, f:execute({n = 1}).outputs.small ~= nil)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["true\ttrue\tdefault", "SPECIAL\ttrue", "THEN\tfast", "true\ttrue"]


async def test_loop_parallel_and_map_reduce_builders(tmp_path: Path) -> None:
    lines, fin, _ = await run_lua(tmp_path, """
        local seen = {}
        local lp = Workflow.builder():name("lp"):loop():with_range({start = 1, ["end"] = 4, step = 1})
            :add_step({name = "body", type = "function", fn = function(input, ctx)
                seen[#seen + 1] = ctx.loop.value
                return ctx.loop.value * 2
            end}):build()
        local r = lp:execute()
        print(table.concat(seen, ","), r.metadata.extra.completed_iterations, r.outputs.body)
        seen = {}
        local col = Workflow.builder():name("col"):loop():with_collection({"a", "b", "c"}):max_iterations(2)
            :add_step({name = "s", type = "tool", tool = "text-manipulator",
                       input = {operation = "uppercase", input = "{{loop.value}}"}}):build()
        r = col:execute()
        print(#r.iterations, r.outputs.s.result.result, r.metadata.extra.break_reason)
        local n = 0
        local wl = Workflow.builder():name("wl"):loop():with_while(function(ctx) return n < 3 end)
            :add_step({name = "inc", type = "function", fn = function() n = n + 1; return n end}):build()
        print(wl:execute().outputs.inc)
        local par = Workflow.builder():name("par"):parallel():max_concurrency(2)
            :add_step({name = "u", type = "tool", tool = "uuid-generator", input = {}})
            :add_step({name = "h", type = "tool", tool = "hash-calculator", input = {operation = "hash", input = "x"}})
            :add_step({name = "c", type = "tool", tool = "calculator", input = {input = "{{input.a}} + 1"}})
            :build()
        r = par:execute({a = 41})
        print(r.success, r.outputs.c.result.result, #r.outputs.u.result.uuid, r.text:match("^Parallel") ~= nil)
        local mr = Workflow.builder():name("mr"):map_reduce()
            :map_step({name = "sq", type = "function", fn = function(x) return x * x end})
            :reduce_step({name = "sum", type = "function", fn = function(xs)
                local s = 0; for _, v in ipairs(xs) do s = s + v end; return s end})
            :build()
        r = mr:execute({items = {1, 2, 3}})
        print(r.outputs.sum, #r.outputs.sq)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["1,2,3\t3\t6", "2\tB\tmax_iterations", "3", "true\t42\t36\ttrue", "14\t3"]


async def test_table_configs_with_quirks_fixed(tmp_path: Path) -> None:
    lines, fin, _ = await run_lua(tmp_path, """
        local up = function(name, text)
            return {name = name, type = "tool", tool = "text-manipulator",
                    input = {operation = "uppercase", input = text}}
        end
        local s = Workflow.sequential({name = "s", steps = {up("a", "x"), up("b", "{{step.a.result.result}}y")}})
        print(s:execute().outputs.b.result.result)
        local p = Workflow.parallel({name = "p", branches = {
            {name = "one", steps = {up("p1", "1"), up("p2", "{{prev.result.result}}2")}},
            {name = "two", steps = {up("p3", "3")}}}})
        local pr = p:execute()
        print(pr.outputs.p2.result.result, pr.outputs.p3.result.result, pr.metadata.extra.total_branches)
        local c = Workflow.conditional({name = "c", branches = {
            {name = "never", condition = {type = "never"}, steps = {up("n", "n")}},
            {name = "yes", condition = {type = "always"}, steps = {up("y", "y")}}}})
        local cr = c:execute()
        print(cr.outputs.n == nil, cr.outputs.y.result.result, cr.metadata.extra.selected_branch)
        local l = Workflow.loop({name = "l", iterator = {range = {start = 0, ["end"] = 3}},
                                 body = {up("b", "{{loop.index}}")}})
        local lr = l:execute()
        print(#lr.iterations, lr.outputs.b.result.result)
        local ok, err = pcall(Workflow.sequential, {steps = {}})
        print(ok, tostring(err):find("'name' is required") ~= nil)
        local ok2, err2 = pcall(function() return Workflow.builder():name("x"):build() end)
        print(ok2, tostring(err2):find("Workflow type not specified") ~= nil)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["XY", "12\t3\t2", "true\tY\tyes", "3\t2", "false\ttrue", "false\ttrue"]


async def test_static_functions(tmp_path: Path) -> None:
    lines, fin, _ = await run_lua(tmp_path, """
        print(table.concat(Workflow.types(), ","))
        print(#Workflow.list(), Workflow.list()[1].description ~= nil)
        local wf = Workflow.sequential({name = "reg", steps = {{name = "u", type = "tool", tool = "uuid-generator"}}})
        local l = Workflow.list()
        print(#l, l[1].id == wf.id, l[1].name, l[1].type)
        local again = Workflow.get(wf.id)
        print(again.name, again:execute().success)
        local id = Workflow.register("sequential",
            {name = "r2", steps = {{name = "u", type = "tool", tool = "uuid-generator"}}})
        print(#Workflow.list(), Workflow.remove(id), #Workflow.list())
        print(pcall(Workflow.get, "workflow_nope"))
        print(Workflow.isDebugEnabled(), Workflow.enableDebug(true), Workflow.isDebugEnabled())
        Workflow.clear()
        print(Workflow.list()[1].id)
    """)
    assert fin.status == "success", fin.error
    assert lines[0] == "sequential,parallel,conditional,loop,map_reduce"
    assert lines[1] == "5\ttrue"
    assert lines[2] == "1\ttrue\treg\tsequential"
    assert lines[3] == "reg\ttrue"
    assert lines[4] == "2\ttrue\t1"
    assert lines[5].startswith("false\t") and "Workflow not found" in lines[5]
    assert lines[6] == "false\ttrue\ttrue"
    assert lines[7] == "sequential"


async def test_pause_from_a_step_then_resume_and_emit(tmp_path: Path) -> None:
    lines, fin, msgs = await run_lua(tmp_path, """
        local cp
        local wf
        wf = Workflow.builder():name("pausable"):sequential()
            :add_step({name = "one", type = "function", fn = function() cp = wf:pause(); return 1 end})
            :add_step({name = "two", type = "function", fn = function(prev) return prev + 1 end})
            :build()
        local r = wf:execute()
        print(r.status, r.checkpoint_id == cp, r.outputs.two == nil, cp:sub(1, 11))
        local r2 = wf:resume(cp)
        print(r2.status, r2.outputs.two, #r2.steps)
        local cps = Workflow.checkpoints(wf.id)
        print(#cps, cps[1].checkpoint_id == cp)
        local sub = Event.subscribe("custom.*")
        local e = wf:emit("custom.done", {n = 1})
        local got = Event.receive(sub, 1000)
        print(e.success, e.event_name, got.event_type, got.data.data.n, got.data.workflow_id == wf.id)
    """, state="sqlite")
    assert fin.status == "success", fin.error
    assert lines[0] == "paused\ttrue\ttrue\tcheckpoint_"
    assert lines[1] == "completed\t2\t2"
    assert lines[2] == "1\ttrue"
    assert lines[3] == "true\tcustom.done\tcustom.done\t1\ttrue"
    types = [m.event_type for m in msgs if m.type == "event" and m.event_type.startswith("workflow.")]
    assert "workflow.paused" in types and "workflow.resumed" in types


async def test_resume_in_a_later_spell_run(tmp_path: Path) -> None:
    lines, fin, _ = await run_lua(tmp_path, """
        local wf
        wf = Workflow.builder():name("durable"):sequential()
            :add_step({name = "id", type = "tool", tool = "uuid-generator"})
            :add_step({name = "h", type = "tool", tool = "hash-calculator",
                       input = {operation = "hash", input = "{{step.id.result.uuid}}"}})
            :build()
        Hook.register("AfterWorkflowStage", function(ctx)
            if ctx.data.step_name == "id" then State.save("global", "cp", wf:pause()) end
        end)
        local r = wf:execute()
        print(r.status, r.outputs.id.result.uuid)
    """, state="sqlite")
    assert fin.status == "success", fin.error
    status, uid = lines[0].split("\t")
    assert status == "paused"
    lines, fin, _ = await run_lua(tmp_path, """
        local cp = State.load("global", "cp")
        local r = Workflow.resume(cp)
        print(r.status, r.outputs.id.result.uuid, #r.outputs.h.result.hash)
    """, state="sqlite")
    assert fin.status == "success", fin.error
    assert lines == [f"completed\t{uid}\t64"]


async def test_fail_fast_error_has_spell_location_and_agent_step(tmp_path: Path) -> None:
    lines, fin, _ = await run_lua(tmp_path, """
        local a = Agent.builder():name("helper"):model("offline/scripted"):build()
        local wf = Workflow.builder():name("ag"):sequential()
            :add_step({name = "ask", type = "agent", agent = "helper", input = "Say hi to {{input.who}}"})
            :build()
        local r = wf:execute({who = "Ada"})
        print(type(r.metadata.extra.agent_outputs.helper), r.outputs.ask == r.metadata.extra.agent_outputs.helper)
        local bad = Workflow.builder():name("bad"):sequential()
            :add_step({name = "boom", type = "function", fn = function() error("exploded") end})
            :add_step({name = "never", type = "function", fn = function() print("never") end})
            :build()
        bad:execute()
    """)
    assert lines[0] == "string\ttrue"
    assert "never" not in lines
    assert fin.status == "error" and fin.error.line == 12
    assert "Workflow 'bad' failed at step 'boom'" in fin.error.message and "exploded" in fin.error.message


async def test_nested_workflow_and_agent_handles_as_steps(tmp_path: Path) -> None:
    lines, fin, _ = await run_lua(tmp_path, """
        local agent = Agent.builder():name("summarizer"):model("offline/scripted"):build()
        local inner = Workflow.builder():name("inner"):sequential()
            :add_step({name = "up", type = "tool", tool = "text-manipulator",
                       input = {operation = "uppercase", input = "{{input.word}}"}})
            :build()
        local outer = Workflow.builder():name("outer"):sequential()
            :add_step({name = "sub", type = "workflow", workflow = inner, input = {word = "{{input.text}}"}})
            :add_step({name = "ask", type = "agent", agent = agent,
                       input = "Summarise {{step.sub.outputs.up.result.result}}"})
            :build()
        local r = outer:execute({text = "deep"})
        print(r.outputs.sub.outputs.up.result.result, type(r.outputs.ask),
              r.metadata.extra.agent_outputs.summarizer ~= nil)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["DEEP\tstring\ttrue"]


async def test_spell_workflows_do_not_outlive_the_spell_in_a_shared_runtime(tmp_path: Path) -> None:
    rt = Runtime(workspace=tmp_path, state="memory")
    runner = SpellRunner(runtime=rt)
    src = """
        local wf = Workflow.builder():name("temp"):sequential()
            :add_step({name = "f", type = "function", fn = function() return 1 end}):build()
        Tool.register("temp-tool", function() return "x" end)
        return #Workflow.list() == 1 and wf:execute().outputs.f == 1 and Tool.exists("temp-tool")
    """
    results = [m async for m in runner.run(tmp_path / "a.lua", source=src) if m.type == "finished"]
    assert results[0].status == "success" and results[0].result is True
    assert rt.workflows.list() == [] and not rt.tools.exists("temp-tool")


async def test_instance_hooks_modify_input_and_result(tmp_path: Path) -> None:
    lines, fin, _ = await run_lua(tmp_path, """
        local wf = Workflow.builder():name("hooked"):sequential()
            :add_step({name = "upper", type = "tool", tool = "text-manipulator",
                       input = {operation = "uppercase", input = "{{input.text}}"}})
            :build()
        local seen = {}
        local reg = wf:on_before_execute(function(info, input)
            seen[#seen + 1] = "before1:" .. info.name .. ":" .. info.status .. ":" .. input.text
            return {text = input.text .. " world"}
        end)
        print(reg.success, reg.hook_type, reg.workflow_id == wf.id, reg.count)
        wf:on_before_execute(function(info, input)
            seen[#seen + 1] = "before2:" .. input.text   -- sees the first callback's input
        end)
        -- a second handle of the same workflow shares the callbacks
        Workflow.get(wf.id):on_after_execute(function(info, result)
            seen[#seen + 1] = "after:" .. info.status .. ":" .. result.outputs.upper.result.result
            result.hooked = true
            return result
        end)
        local r = wf:execute({text = "hello"})
        print(r.outputs.upper.result.result, r.hooked, r.success)
        print(table.concat(seen, " | "))
        local d = wf:debug()
        print(d.runtime.hooks.before_execute, d.runtime.hooks.after_execute, d.runtime.hooks.error)
    """)
    assert fin.status == "success", fin.error
    assert lines[0] == "true\tbefore_execute\ttrue\t1"
    assert lines[1] == "HELLO WORLD\ttrue\ttrue"
    assert lines[2] == ("before1:hooked:ready:hello | before2:hello world | after:completed:HELLO WORLD")
    assert lines[3] == "2\t1\t0"


async def test_instance_hooks_on_error_and_cancel(tmp_path: Path) -> None:
    lines, fin, _ = await run_lua(tmp_path, """
        local function failing(name)
            return Workflow.builder():name(name):sequential()
                :add_step({name = "ok", type = "tool", tool = "uuid-generator", input = {operation = "generate"}})
                :add_step({name = "boom", type = "function", fn = function() error("kaput") end})
                :build()
        end
        -- unhandled: every error callback returns nothing, so execute still raises
        local wf = failing("unhandled")
        local calls = {}
        wf:on_error(function(info, err)
            calls[#calls + 1] = info.status .. ":" .. err.type .. ":" .. err.kind .. ":" .. tostring(err.step)
        end)
        wf:on_after_execute(function() calls[#calls + 1] = "after must not run" end)
        local ok, e = pcall(function() return wf:execute({text = "x"}) end)
        print(ok, tostring(e):match("failed at step 'boom'") ~= nil, table.concat(calls, ","))
        -- handled: the first callback returning a value supplies the result; later ones are skipped
        local wf2 = failing("handled")
        local later = false
        wf2:on_error(function(info, err) return nil end)
        wf2:on_error(function(info, err)
            return {recovered = true, message = err.message, failed_status = err.result.status}
        end)
        wf2:on_error(function() later = true end)
        local r = wf2:execute({text = "x"})
        print(r.recovered, r.failed_status, r.message:match("kaput") ~= nil, later)
        -- a before callback returning false cancels; the workflow does not run
        local wf3 = failing("cancelled")
        wf3:on_before_execute(function() return false end)
        local ok3, e3 = pcall(function() return wf3:execute() end)
        print(ok3, tostring(e3):match("cancelled by its on_before_execute callback") ~= nil, wf3:get_status())
        print(pcall(function() return wf3:on_error("not a function") end))
    """)
    assert fin.status == "success", fin.error
    assert lines[0] == "false\ttrue\tfailed:WorkflowError:workflow:boom"
    assert lines[1] == "true\tfailed\ttrue\tfalse"
    assert lines[2] == "false\ttrue\tready"
    assert lines[3].startswith("false\t") and "expected a function" in lines[3]
