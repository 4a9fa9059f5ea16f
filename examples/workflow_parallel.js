// workflow_parallel.js: independent steps run at the same time; each JS function step is a
// Promise-returning function here, to show that async step functions are awaited.
const wf = Workflow.builder()
  .name("fan-out")
  .parallel()
  .addStep({ name: "hash", type: "tool", tool: "hash-calculator",
             input: { operation: "hash", algorithm: "sha256", input: "spell" } })
  .addStep({ name: "encode", type: "tool", tool: "base64-encoder", input: { operation: "encode", input: "spell" } })
  .addStep({ name: "slow-js", type: "function",
             fn: async () => { await sleep(50); return { text: "waited 50 ms in JavaScript" }; } })
  .build();

const result = await wf.execute({ text: "go" });
console.log(result.text.replace(/Duration: \d+ms/, "Duration: <n>ms"));
const outputs = wf.getAllOutputs();
console.log("branches done:", Object.keys(outputs).sort().join(", "));
console.log("slow-js:", outputs["slow-js"].text);
return Object.keys(outputs).length;
