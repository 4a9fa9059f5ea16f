-- streaming_global.lua: pull-based streams. Streaming.create runs a function as a coroutine:
-- every coroutine.yield(v) hands out one value, its return value is the last one.
local countdown = Streaming.create(function()
  for n = 3, 1, -1 do coroutine.yield(n) end
  return "liftoff"
end)

print("first:", countdown:next(), "done?", countdown:isDone())
print("rest:", table.concat(countdown:collect(), ", "), "done?", countdown:isDone())

-- Streaming.yield adds values without pausing (here: two per line of input)
local words = Streaming.create(function()
  for _, line in ipairs({"pull based", "streams work"}) do
    for w in line:gmatch("%S+") do Streaming.yield(w:upper()) end
    coroutine.yield()  -- pause after each line
  end
end)
print("words:", table.concat(words:collect(), " "))

-- an agent's answer as a stream of chunks, pulled one at a time
local agent = Agent.builder():name("storyteller"):model("offline/scripted"):build()
local stream = agent:stream({text = "Tell me a very short story."})
local chunks, text = 0, {}
while true do
  local chunk = stream:next()
  if not chunk then break end
  chunks = chunks + 1
  text[#text + 1] = chunk.text
end
print("chunks:", chunks > 1, "text starts:", table.concat(text):sub(1, 9))
return chunks
