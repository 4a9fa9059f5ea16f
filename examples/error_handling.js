// error_handling.js: runtime errors are JavaScript Errors: catch them with try/catch and look at
// e.name (the error class), e.kind (its category) and e.message.
try {
  // @diagnostic disable-next-line: unknown-tool
  await Tool.execute("no-such-tool", {});
} catch (e) {
  console.log(`caught ${e.name} (kind: ${e.kind}): ${e.message.split("\n")[0]}`);
}

try {
  Agent.builder().name("no-model").build(); // a builder without a model: build() throws
} catch (e) {
  console.log(`caught ${e.name} (kind: ${e.kind}): ${e.message}`);
}

// Soft failures come back in the result, as in rs-llmspell.
const r = await Tool.execute("calculator", { input: "1 / 0" });
console.log("soft failure:", r.success, "-", r.error ? r.error.message || r.error : "(no error)");

// Errors thrown by the spell itself keep their own type.
try {
  JSON.parse("{not json");
} catch (e) {
  console.log("caught", e.name);
}

// An uncaught error ends the spell with its file and line (try: llmspell-ls --run with the line below uncommented).
// null.boom;
return "handled";
