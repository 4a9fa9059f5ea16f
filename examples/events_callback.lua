-- events_callback.lua: push delivery. The callback runs on the spell's thread for each event,
-- including the events the runtime itself publishes (tool.*, agent.*, workflow.*).
-- (rs-llmspell only had pull delivery: see events_pull.lua.)
local seen = {}
Event.subscribe("order.*", function(ev)
  seen[#seen + 1] = ev.event_type
  print("got", ev.event_type, "with", JSON.stringify(ev.data))
end)
Event.subscribe("tool.completed", function(ev)
  print("runtime event:", ev.event_type)
end)

Event.publish("order.created", {id = 1, item = "wand"})
Event.publish("order.shipped", {id = 1})
Event.publish("unrelated.thing", {ignored = true})
Tool.execute("calculator", {input = "1 + 2"})

print("order events seen:", #seen)
return seen
