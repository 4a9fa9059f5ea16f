// first_tool.js: run builtin tools. Operations that wait on the runtime return Promises.
const calc = await Tool.execute("calculator", { input: "2 + 3 * 4" });
console.log("2 + 3 * 4 =", calc.result.result);

const id = await Tool.execute("uuid-generator", { operation: "generate" });
console.log("uuid looks valid:", /^[0-9a-f-]{36}$/.test(id.result.uuid));

// Tool.exists() needs nothing from the runtime, so it answers synchronously; Tool.list() runs the
// tool-discovery hooks, so it returns a Promise.
console.log("tools available:", Tool.list().length > 10, Tool.exists("calculator"));

// A tool written in the spell itself; agents and workflows can call it too.
Tool.register("word-counter", "Counts the words of a text", (params) => ({
  success: true,
  result: { words: String(params.text || "").split(/\s+/).filter(Boolean).length },
}));
const count = await Tool.execute("word-counter", { text: "spells can define their own tools" });
console.log("words:", count.result.words);

return { sum: calc.result.result, words: count.result.words };
