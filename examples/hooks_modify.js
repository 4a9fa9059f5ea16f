// hooks_modify.js: a hook written in JavaScript changes a tool's parameters before it runs.
// Hook results: "continue", {type: "modified", data}, {type: "cancel", reason}, "skip", ...
const handle = Hook.register("BeforeToolExecution", (ctx) => {
  if (ctx.component_id.name !== "calculator") return "continue";
  const params = ctx.data.parameters || {};
  console.log("hook saw input:", params.input);
  return { type: "modified", data: { ...ctx.data, parameters: { ...params, input: "(" + params.input + ") * 10" } } };
}, "high");

const r = await Tool.execute("calculator", { input: "1 + 1" });
console.log("result after the hook:", r.result.result);

handle.unregister();
const plain = await Tool.execute("calculator", { input: "1 + 1" });
console.log("result without the hook:", plain.result.result);
return [r.result.result, plain.result.result];
