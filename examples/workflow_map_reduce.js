// workflow_map_reduce.js: map a step over items (concurrently), then reduce the results.
// Both steps are JavaScript functions; the reduce step receives the list of mapped results.
const wf = Workflow.builder()
  .name("word-lengths")
  .mapReduce()
  .items(["alpha", "beta", "gamma", "delta"])
  .mapStep({ name: "length", type: "function", fn: (item) => item.length })
  .reduceStep({ name: "total", type: "function", fn: (results) => results.reduce((a, b) => a + b, 0) })
  .build();

const r = await wf.execute({});
console.log(r.text.replace(/Duration: \d+ms/, "Duration: <n>ms"));
console.log("total letters:", r.outputs.total);
return r.outputs.total;
