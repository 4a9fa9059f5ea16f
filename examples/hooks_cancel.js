// hooks_cancel.js: a hook refuses an operation; the refusal arrives as a rejected Promise
// that try/catch handles like any other error.
Hook.register("BeforeToolExecution", (ctx) => {
  if (ctx.component_id.name === "file-operations") {
    return { type: "cancel", reason: "file access is disabled in this spell" };
  }
  return "continue";
});

try {
  await Tool.execute("file-operations", { operation: "read", path: "notes.txt" });
  console.log("the tool ran (unexpected)");
} catch (e) {
  console.log("refused:", e.name, "-", e.message);
}

const ok = await Tool.execute("calculator", { input: "6 * 7" });
console.log("other tools still work:", ok.result.result);
return "done";
