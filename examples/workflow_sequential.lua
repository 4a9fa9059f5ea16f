-- workflow_sequential.lua: steps run in order; data flows between them with placeholders
-- ({{input.text}}, {{step.<name>.result}}, $prev) and function steps written in Lua.
local wf = Workflow.builder()
  :name("text-pipeline")
  :description("normalise, transform, count")
  :sequential()
  :add_step({name = "trim", type = "tool", tool = "text-manipulator",
             input = {input = "{{input.text}}", operation = "trim"}})
  :add_step({name = "upper", type = "tool", tool = "text-manipulator",
             input = {input = "{{step.trim.result.result}}", operation = "uppercase"}})
  :add_step({name = "count", type = "function", fn = function(input, ctx)
      local text = input.result and input.result.result or tostring(input)
      local n = 0
      for _ in text:gmatch("%S+") do n = n + 1 end
      return {text = text, words = n}
    end})
  :build()

local r = wf:execute({text = "   spells run in order   "})
print(r.text)
print("success:", r.success)
print("final:", r.outputs.count.text, "(" .. r.outputs.count.words .. " words)")
return r.outputs.count
