-- workflow_map_reduce.lua: map a step over items (concurrently), then reduce the results.
local wf = Workflow.builder()
  :name("word-lengths")
  :map_reduce()
  :items({"alpha", "beta", "gamma", "delta"})
  :map_step({name = "length", type = "function", fn = function(item) return #item end})
  :reduce_step({name = "total", type = "function", fn = function(results)
      local sum = 0
      for _, n in ipairs(results) do sum = sum + n end
      return sum
    end})
  :build()

local r = wf:execute({})
print(r.text)
print("total letters:", r.outputs.total)
return r.outputs.total
