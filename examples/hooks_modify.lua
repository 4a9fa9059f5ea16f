-- hooks_modify.lua: a Lua hook changes a tool's parameters before it runs (in rs-llmspell Lua hooks
-- were stored but never called; here they really run and their results take effect).
-- Hook results: "continue", {type = "modified", data = ...}, {type = "cancel", reason = ...}, "skip", ...
local handle = Hook.register("BeforeToolExecution", function(ctx)
  if ctx.component_id.name ~= "calculator" then return "continue" end
  local params = ctx.data.parameters or {}
  print("hook saw input:", params.input)
  local data = {}
  for k, v in pairs(ctx.data) do data[k] = v end
  data.parameters = {input = "(" .. params.input .. ") * 10"}
  return {type = "modified", data = data}
end, "high")

local r = Tool.execute("calculator", {input = "1 + 1"})
print("result after the hook:", r.result.result)

handle:unregister()
local plain = Tool.execute("calculator", {input = "1 + 1"})
print("result without the hook:", plain.result.result)

print("hooks registered now:", #Hook.list("BeforeToolExecution"))
return {r.result.result, plain.result.result}
