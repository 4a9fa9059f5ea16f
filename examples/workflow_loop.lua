-- workflow_loop.lua: a loop over a collection; each iteration sees loop_index / loop_value.
local seen = {}
local wf = Workflow.builder()
  :name("squares")
  :loop()
  :with_collection({1, 2, 3, 4})
  :add_step({name = "square", type = "function", fn = function(input, ctx)
      local v = ctx.loop_value or ctx.shared_data and ctx.shared_data.loop_value
      seen[#seen + 1] = v * v
      return v * v
    end})
  :max_iterations(10)
  :build()

local r = wf:execute({})
print(r.text)
print("squares:", table.concat(seen, " "))
return seen
