// streaming_global.js: pull-based streams. In JavaScript, Streaming.create calls the function once per
// value (undefined ends the stream); streams are async iterables.
let n = 4;
const countdown = Streaming.create(() => (--n > 0 ? n : n === 0 ? "liftoff" : undefined));

console.log("first:", await countdown.next(), "done?", countdown.isDone());
const rest = [];
for await (const v of countdown) rest.push(v);
console.log("rest:", rest.join(", "), "done?", countdown.isDone());

// Streaming.yield adds values (here: every word of a line per call)
const lines = ["pull based", "streams work"];
const words = Streaming.create(() => {
  const line = lines.shift();
  if (line === undefined) return undefined;
  for (const w of line.split(" ")) Streaming.yield(w.toUpperCase());
  return undefined;
});
console.log("words:", (await words.collect()).join(" "));

// an agent's answer as a stream of chunks
const agent = Agent.builder().name("storyteller").model("offline/scripted").build();
let chunks = 0, text = "";
for await (const chunk of agent.stream({ text: "Tell me a very short story." })) {
  chunks++;
  text += chunk.text;
}
console.log("chunks:", chunks > 1, "text starts:", text.slice(0, 9));
return chunks;
