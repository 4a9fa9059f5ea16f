// workflow_conditional.js: a condition picks the then-branch or the else-branch. The condition can
// be a table ({type = "shared_data_equals", ...}) or a JavaScript function.
async function run(mood) {
  const wf = Workflow.builder()
    .name("mood-" + mood)
    .conditional()
    .condition((ctx) => ctx.shared_data.mood === "happy")
    .addThenStep({ name: "cheer", type: "function", fn: () => ({ text: "Great to hear!" }) })
    .addElseStep({ name: "comfort", type: "function", fn: () => ({ text: "Sorry to hear that." }) })
    .build();
  wf.setSharedData("mood", mood);
  const r = await wf.execute({ text: mood });
  const branch = r.metadata.extra.selected_branch;
  const out = wf.getOutput(branch === "then" ? "cheer" : "comfort");
  console.log(mood, "->", branch, ":", out.text);
  return branch;
}
return [await run("happy"), await run("sad")];
