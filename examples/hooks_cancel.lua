-- hooks_cancel.lua: a hook refuses an operation; the refusal is a Lua error that pcall catches.
Hook.register("BeforeToolExecution", function(ctx)
  if ctx.component_id.name == "file-operations" then
    return {type = "cancel", reason = "file access is disabled in this spell"}
  end
  return "continue"
end)

local ok, err = pcall(Tool.execute, "file-operations", {operation = "read", path = "notes.txt"})
if ok then
  print("the tool ran (unexpected)")
else
  print("refused:", err.kind, "-", err.message)
end

local r = Tool.execute("calculator", {input = "6 * 7"})
print("other tools still work:", r.result.result)
return "done"
