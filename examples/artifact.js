// artifact.js: store content with metadata in the run's session; it is kept in the workspace
// (.llmspell/artifacts) and can be read back in later runs through its id.
const sid = Session.getCurrent();

const report = await Artifact.store(sid, "agent_output", "report.md", "# Weekly report\nAll systems nominal.",
  { mime_type: "text/markdown", tags: ["weekly", "report"], author: "artifact.js" });
const data = await Artifact.store(sid, "tool_result", "numbers.json", JSON.stringify([1, 2, 3]),
  { mime_type: "application/json", tags: ["data"] });
console.log("stored:", report.sequence, data.sequence, "hash prefix " + report.content_hash.slice(0, 8));

const got = await Artifact.get(sid, report);
console.log("read back:", got.metadata.name, got.metadata.mime_type, got.metadata.custom.author);
console.log("first line:", got.content.split("\n")[0]);

console.log("in this session:", (await Artifact.list(sid)).map(m => m.name).join(", "));

const weekly = await Artifact.query({ session_id: sid, tags: ["weekly"] });
console.log("tagged weekly:", weekly.length, weekly[0].name);

// binary content from JS: pass base64 and say so
const bin = await Artifact.store(sid, "user_input", "pixel.bin", "AP8AAA==", { content_encoding: "base64" });
console.log("binary bytes:", (await Artifact.get(sid, bin)).metadata.size);

// another session cannot read this session's artifacts
const other = await Session.create({ name: "someone-else" });
try {
  await Artifact.get(other, report);
} catch (e) {
  console.log("other session may read:", false, e.kind);
}

await Artifact.delete(sid, data);
await Artifact.delete(sid, bin);
const left = (await Artifact.list(sid)).length;
console.log("after delete:", left);
return { stored: 3, left };
