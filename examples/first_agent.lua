-- first_agent.lua: build an agent, talk to it twice (it keeps the conversation), read usage.
local agent = Agent.builder()
  :name("assistant")
  :model("offline/scripted")
  :system_prompt("You are a concise assistant.")
  :temperature(0.2)
  :max_tokens(200)
  :build()

local r1 = agent:execute({text = "What is a spell?"})
print("1:", r1.text)

local r2 = agent:execute({text = "And who casts them?"})
print("2:", r2.text)

print("model:", r1.metadata.model)
print("agents:", #Agent.list() >= 1, Agent.get("assistant") ~= nil)

-- a dot call instead of a colon call is a clear error, catchable with pcall
-- (the language server flags it too; the comment below silences that one deliberate misuse)
---@diagnostic disable-next-line: call-style
local ok, err = pcall(function() return agent.execute({text = "oops"}) end)
print("dot call fails:", not ok, tostring(err):match("use agent:execute") ~= nil)

return {turns = 2}
