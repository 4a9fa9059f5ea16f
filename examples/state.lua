-- state.lua: State persists across runs (SQLite under .llmspell/ in the workspace by default).
-- Run it twice: the counter keeps counting.
local runs = (State.load("examples", "lua_run_count") or 0) + 1
State.save("examples", "lua_run_count", runs)
State.save("examples", "lua_last_run", {language = "lua", runs = runs, at = os.date("!%Y-%m-%dT%H:%M:%SZ")})

print("this spell has run " .. runs .. (runs == 1 and " time" or " times"))
local keys = {}
for _, k in ipairs(State.list_keys("examples")) do
  if k:sub(1, 4) == "lua_" then keys[#keys + 1] = k end
end
table.sort(keys)
print("keys in scope 'examples':", table.concat(keys, ", "))
return runs
