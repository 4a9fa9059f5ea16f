// replay.js: record the hook executions of some work, then replay the recorded inputs through the
// hooks registered now and compare: "what would my new hook have done last time?"
Replay.startRecording({ points: ["BeforeToolExecution"], id: "replay-example-js" });
for (const expr of ["2 + 2", "10 / 4", "7 * 6"]) {
  console.log(expr, "=", (await Tool.execute("calculator", { input: expr })).result.result);
}
const rec = await Replay.stopRecording();
console.log("recorded:", rec.executions, "executions at", rec.points[0]);

// a new policy: refuse divisions
const h = Hook.register("BeforeToolExecution", (ctx) => {
  const input = (ctx.data.parameters && ctx.data.parameters.input) || "";
  if (input.includes("/")) return { type: "cancel", reason: "divisions need review" };
});

const result = await Replay.replay("replay-example-js");
console.log("replayed:", result.replayed, "identical:", result.identical, "different:", result.different);
for (const r of result.results) {
  if (!r.comparison.identical) {
    console.log("changed:", r.original.result, "->", r.replayed.result, "(" + r.replayed.reason + ")");
  }
}
Hook.unregister(h);

// rs-llmspell's comparator and schedules
const cmp = Replay.createComparator().compareJson({ status: "ok", items: 3 }, { status: "ok", items: 4 });
console.log("comparison:", cmp.identical, cmp.similarity_score, cmp.summary);
console.log("schedule:", Replay.schedules.interval(0, 60, 10).typeName());
Replay.deleteRecording("replay-example-js");
return { identical: result.identical, different: result.different };
