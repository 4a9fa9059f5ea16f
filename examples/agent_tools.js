// agent_tools.js: an agent that may call tools. The model asks for a tool, the runtime runs it,
// and the answer uses the result (the offline model calls tools when asked to calculate, hash ...).
Hook.register("AfterToolExecution", (ctx) => {
  console.log("tool used by the agent:", ctx.component_id.name);
  return "continue";
});

const agent = Agent.builder()
  .name("math-helper")
  .model("offline/scripted")
  .systemPrompt("You solve arithmetic with the calculator tool.")
  .allowedTools(["calculator"])
  .build();

const r = await agent.execute({ text: "Please calculate 12 * 7 + 1" });
console.log("answer:", r.text);
return r.text.includes("85");
