-- error_handling.lua: runtime errors are Lua errors: catch them with pcall. The error value is a
-- table that prints as "file:line: kind error: message" and also has err.kind, err.message, err.line.
local ok, err = pcall(Tool.execute, "no-such-tool", {})
print("caught:", err.kind, "-", err.message)
print("as text:", tostring(err):match("[^/]*$"))

ok, err = pcall(function()
  local agent = Agent.builder():name("no-model"):build() -- a builder without a model
end)
print("caught:", err.kind, "at line", err.line)

-- soft failures come back in the result table, as in rs-llmspell
local r = Tool.execute("calculator", {input = "1 / 0"})
print("soft failure:", r.success, "-", r.error and (r.error.message or r.error) or "(no error)")

-- errors raised by the spell itself keep their value
ok, err = pcall(error, {code = 42})
print("custom error code:", err.code)
ok, err = pcall(JSON.parse, "{not json")
print("bad JSON:", ok, err.kind)

-- error() with a string gets the usual "file:line:" prefix
ok, err = pcall(function() error("boom") end)
print("plain error:", (tostring(err):gsub("^.*/", "")))

-- An uncaught error ends the spell with its file and line: uncomment to try.
-- local t = nil; print(t.boom)
return "handled"
