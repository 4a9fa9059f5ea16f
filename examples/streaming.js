// streaming.js: receive the answer chunk by chunk; the callback runs for each chunk while the
// Promise from invokeStream is still pending.
const agent = Agent.builder().name("streamer").model("offline/scripted").build();

let chunks = 0;
const parts = [];
const r = await agent.invokeStream({ text: "Tell me a short story about a spell." }, (chunk) => {
  chunks++;
  parts.push(chunk.text);
});

console.log("chunks received:", r.chunks_received, "(callback ran", chunks, "times)");
console.log("streamed text matches:", parts.join("") === r.text);
console.log(r.text);
return chunks;
