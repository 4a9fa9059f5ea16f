// events_pull.js: pull delivery, as in rs-llmspell: subscribe, then receive with a timeout.
const sub = Event.subscribe("sensor.*");

for (let i = 1; i <= 3; i++) {
  await Event.publish("sensor.reading", { n: i, celsius: 20 + i });
}

const readings = [];
for (;;) {
  const ev = await Event.receive(sub, 100); // null (undefined) once nothing arrives within 100 ms
  if (!ev) break;
  readings.push(ev.data.celsius);
  console.log(`#${ev.data.n}: ${ev.data.celsius} °C`);
}
Event.unsubscribe(sub);
console.log("received", readings.length, "readings");
return readings;
