-- cluster_map.lua: a CPU-bound map whose items can run on a Dask cluster.
--   llmspell-ls --run examples/cluster_map.lua                    (in-process, as any spell)
--   llmspell-ls --run examples/cluster_map.lua --cluster local:2  (2 worker processes for this run)
--   llmspell-ls --run examples/cluster_map.lua --cluster tcp://scheduler:8786
-- The map function is sent to the workers as source text; the locals it uses (limit, label) go with
-- it as plain data. Functions and handles cannot travel: define them inside the function.
local limit = 20000
local label = "primes below"

local wf = Workflow.builder()
  :name("prime-counts")
  :map_reduce()
  :items({1, 2, 3, 4, 5, 6, 7, 8})
  :map_step({name = "count", type = "function", fn = function(item)
      local n = limit * item
      local sieve, count = {}, 0
      for i = 2, n do
        if not sieve[i] then
          count = count + 1
          for j = i * i, n, i do sieve[j] = true end
        end
      end
      State.save("cluster_map", "count_" .. item, count)
      return {n = n, primes = count, text = label .. " " .. n .. ": " .. count}
    end})
  :reduce_step({name = "summary", type = "function", fn = function(results)
      local total = 0
      for _, r in ipairs(results) do total = total + r.primes end
      return total
    end})
  :build()

local r = wf:execute({})
for _, c in ipairs(r.outputs.count) do print(c.text) end
print("stored counts:", #State.list_keys("cluster_map"))
print("sum of counts:", r.outputs.summary)
return {sum = r.outputs.summary, items = #r.outputs.count}
