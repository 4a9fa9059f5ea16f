-- workflow_parallel.lua: branches run concurrently; each branch's steps run in order.
local wf = Workflow.builder()
  :name("fan-out")
  :parallel()
  :add_step({name = "hash", type = "tool", tool = "hash-calculator",
             input = {operation = "hash", algorithm = "sha256", input = "{{input.text}}"}})
  :add_step({name = "encode", type = "tool", tool = "base64-encoder",
             input = {operation = "encode", input = "{{input.text}}"}})
  :add_step({name = "shout", type = "function", fn = function(input)
      return string.upper(input.text or "")
    end})
  :max_concurrency(3)
  :build()

local r = wf:execute({text = "parallel spells"})
print(r.text)
local names = {}
for name in pairs(r.outputs) do names[#names + 1] = name end
table.sort(names)
print("branches:", table.concat(names, ", "))
print("shout:", r.outputs.shout)
return {branches = #names}
