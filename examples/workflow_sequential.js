// workflow_sequential.js: steps run in order and data flows between them: a step without `input`
// receives the previous step's output, and {{step.<name>.result}} placeholders are filled in.
// Function steps are written in JavaScript and run on the spell's own thread.
const wf = Workflow.builder()
  .name("text-pipeline")
  .sequential()
  .addStep({ name: "upper", type: "tool", tool: "text-manipulator",
             input: { operation: "uppercase", input: "spells are fun" } })
  .addStep({ name: "exclaim", type: "function",
             fn: (prev) => ({ text: prev.result.result + "!!!" }) })
  .build();

const result = await wf.execute({ text: "start" });
console.log(result.text.replace(/Duration: \d+ms/, "Duration: <n>ms"));
console.log("function step said:", JSON.stringify(wf.getOutput("exclaim")));
return result.metadata.extra.successful_steps;
