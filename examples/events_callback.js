// events_callback.js: push delivery. The callback runs on the spell's thread for each event,
// including the events the runtime itself publishes (tool.*, agent.*, workflow.*).
const seen = [];
Event.subscribe("order.*", (ev) => {
  seen.push(ev.event_type);
  console.log("got", ev.event_type, "with", JSON.stringify(ev.data));
});
Event.subscribe("tool.completed", (ev) => console.log("runtime event:", ev.event_type));

await Event.publish("order.created", { id: 1, item: "wand" });
await Event.publish("order.shipped", { id: 1 });
await Event.publish("unrelated.thing", { ignored: true });
await Tool.execute("calculator", { input: "1 + 2" });

await sleep(20); // give the last callbacks a moment
return seen;
