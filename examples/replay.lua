-- replay.lua: record the hook executions of some work, then replay the recorded inputs through the
-- hooks registered now and compare: "what would my new hook have done last time?"
Replay.start_recording({points = {"BeforeToolExecution"}, id = "replay-example"})
for _, expr in ipairs({"2 + 2", "10 / 4", "7 * 6"}) do
  print(expr, "=", Tool.execute("calculator", {input = expr}).result.result)
end
local rec = Replay.stop_recording()
print("recorded:", rec.executions, "executions at", rec.points[1])

-- a new policy: refuse divisions
local h = Hook.register("BeforeToolExecution", function(ctx)
  local input = ctx.data.parameters and ctx.data.parameters.input or ""
  if input:find("/", 1, true) then return {type = "cancel", reason = "divisions need review"} end
end)

local result = Replay.replay("replay-example")
print("replayed:", result.replayed, "identical:", result.identical, "different:", result.different)
for _, r in ipairs(result.results) do
  if not r.comparison.identical then
    print("changed:", r.original.result, "->", r.replayed.result, "(" .. r.replayed.reason .. ")")
  end
end

-- modified mode: change the recorded inputs before the hooks see them
local cfg = Replay.create_config(Replay.modes.modified)
cfg:add_modification("parameters.input", "1 / 0")
local modified = Replay.replay("replay-example", cfg)
local cancelled = 0
for _, r in ipairs(modified.results) do
  if r.replayed.result == "cancel" then cancelled = cancelled + 1 end
end
print("with every input set to 1 / 0, cancelled:", cancelled, "of", modified.replayed)
Hook.unregister(h)

-- rs-llmspell's comparator and schedules
local cmp = Replay.create_comparator():compare_json({status = "ok", items = 3}, {status = "ok", items = 4})
print("comparison:", cmp.identical, cmp.similarity_score, cmp.summary)
print("schedule:", Replay.schedules.interval(0, 60, 10):type_name())
Replay.delete_recording("replay-example")
return {identical = result.identical, different = result.different}
