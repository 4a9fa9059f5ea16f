// workflow_loop.js: repeat a body over a range (end is exclusive) or a collection.
const seen = [];
const wf = Workflow.builder()
  .name("counter")
  .loop()
  .withRange({ start: 1, end: 4, step: 1 })
  .addStep({ name: "collect", type: "function", fn: (input, ctx) => {
    seen.push(ctx.loop.value);
    return { text: "iteration done" };
  } })
  .build();

const r = await wf.execute({ text: "loop" });
console.log(r.text.replace(/Duration: \d+ms/, "Duration: <n>ms"));
console.log("iterations:", r.metadata.extra.completed_iterations, "values:", JSON.stringify(seen));
return seen.length;
