-- workflow_conditional.lua: a condition picks the branch (then / else), from shared data.
local function build()
  return Workflow.builder()
    :name("router")
    :conditional()
    :condition({type = "shared_data_equals", key = "priority", value = "high"})
    :add_then_step({name = "escalate", type = "function", fn = function() return "escalated to a human" end})
    :add_else_step({name = "queue", type = "function", fn = function() return "queued for later" end})
    :build()
end

local urgent = build()
urgent:set_shared_data("priority", "high")
local r1 = urgent:execute({text = "server down"})

local normal = build()
normal:set_shared_data("priority", "low")
local r2 = normal:execute({text = "typo on page"})

print("high priority ->", r1.outputs.escalate)
print("low priority  ->", r2.outputs.queue)
print(r1.text)
return {r1.outputs.escalate, r2.outputs.queue}
