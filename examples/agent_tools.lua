-- agent_tools.lua: an agent that may call tools. The model asks for a tool, the runtime runs it,
-- and the answer uses the result (the offline model calls tools when asked to calculate, hash ...).
Hook.register("AfterToolExecution", function(ctx)
  print("tool used by the agent:", ctx.component_id.name)
  return "continue"
end)

local agent = Agent.builder()
  :name("math-helper")
  :model("offline/scripted")
  :system_prompt("You solve arithmetic with the calculator tool.")
  :allowed_tools({"calculator"})
  :build()

local r = agent:execute({text = "Please calculate 12 * 7 + 1"})
print("answer:", r.text)

-- tools can also be called explicitly through the agent, as in rs-llmspell
local direct = agent:invokeTool("calculator", {input = "2 ^ 10"})
print("invokeTool:", direct.result.result)
return r.text:find("85") ~= nil
