-- traced_run.lua: an agent that calls a tool, a workflow with an agent step and a tool step, a hook
-- and a spell event, so that a traced run shows every kind of span:
--   llmspell-ls --run examples/traced_run.lua --trace run.json
--   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 llmspell-ls --run examples/traced_run.lua
-- In VS Code: run it, then "llmspell: Show Trace".
Hook.register("BeforeToolExecution", function(ctx)
  return "continue" -- shows up as a "hook BeforeToolExecution" event on the execute_tool span
end)

local agent = Agent.builder()
  :name("math-helper")
  :model("offline/scripted")
  :system_prompt("You solve arithmetic with the calculator tool.")
  :allowed_tools({"calculator"})
  :build()

local r = agent:execute({text = "Please calculate 12 * 7 + 1"})
print("agent:", r.text)

Event.publish("user.checkpoint", {stage = "agent done"})

local wf = Workflow.builder()
  :name("summary")
  :sequential()
  :add_step({name = "ask", type = "agent", agent = "math-helper", input = "Please calculate 6 * 7"})
  :add_step({name = "hash", type = "tool", tool = "hash-calculator",
             input = {operation = "hash", input = "{{step.ask.output}}"}})
  :build()

local out = wf:execute({})
print("workflow success:", out.success)
return {agent = r.text, workflow = out.success}
