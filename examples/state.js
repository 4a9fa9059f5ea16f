// state.js: State persists across runs (SQLite under .llmspell/ in the workspace by default).
// Run it twice: the counter keeps counting.
const runs = ((await State.load("examples", "js_run_count")) || 0) + 1;
await State.save("examples", "js_run_count", runs);
await State.save("examples", "js_last_run", { language: "javascript", runs });

console.log("this spell has run", runs, runs === 1 ? "time" : "times");
console.log("keys in scope 'examples':", (await State.listKeys("examples")).filter(k => k.startsWith("js_")).sort().join(", "));
return runs;
