-- events_pull.lua: pull delivery, as in rs-llmspell: subscribe, then receive with a timeout.
local sub = Event.subscribe("sensor.*")

for i = 1, 3 do
  Event.publish("sensor.reading", {n = i, celsius = 20 + i})
end

local readings = {}
while true do
  local ev = Event.receive(sub, 100) -- nil once nothing arrives within 100 ms
  if not ev then break end
  readings[#readings + 1] = ev.data.celsius
  print(string.format("#%d: %d °C (%s)", ev.data.n, ev.data.celsius, ev.event_type))
end
Event.unsubscribe(sub)
print("received", #readings, "readings")
return readings
