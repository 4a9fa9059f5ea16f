-- first_tool.lua: run builtin tools. Tool results have rs-llmspell's shape: r.success, r.result.*, r.error.
local calc = Tool.execute("calculator", {input = "2 + 3 * 4"})
print("2 + 3 * 4 =", calc.result.result)

local id = Tool.execute("uuid-generator", {operation = "generate"})
print("uuid looks valid:", id.result.uuid:match("^[0-9a-f%-]+$") ~= nil and #id.result.uuid == 36)

local upper = Tool.execute("text-manipulator", {input = "hello spells", operation = "uppercase"})
print("uppercase:", upper.result.result)

-- discovery
print("tools available:", #Tool.list() > 10, Tool.exists("calculator"), Tool.exists("no-such-tool"))

-- a tool written in the spell itself; agents and workflows can call it too
Tool.register("word-counter", "Counts the words of a text", function(params)
  local n = 0
  for _ in tostring(params.text or ""):gmatch("%S+") do n = n + 1 end
  return {success = true, result = {words = n}}
end)
local count = Tool.execute("word-counter", {text = "spells can define their own tools"})
print("words:", count.result.words)

return {sum = calc.result.result, words = count.result.words}
