-- streaming.lua: receive the answer chunk by chunk; the callback runs for each chunk while
-- invokeStream is still running (it returns when the stream ends).
local agent = Agent.builder():name("streamer"):model("offline/scripted"):build()

local parts = {}
local r = agent:invokeStream({text = "Tell me a short story about a spell."}, function(chunk)
  parts[#parts + 1] = chunk.text or ""
  io.write(".")
end)
print()

print("chunks received:", r.chunks_received, "(callback ran " .. #parts .. " times)")
print(table.concat(parts))
return #parts
