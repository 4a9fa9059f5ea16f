// Template: rs-llmspell's built-in templates, discovered, estimated and run (offline by default).
console.log("templates:", Template.list().length);
for (const t of Template.list("research")) console.log(" -", t.id, t.category, t.version);

const schema = Template.schema("research-assistant");
for (const p of schema.parameters) if (p.required) console.log("required:", p.name, p.param_type);

const est = await Template.estimateCost("research-assistant", { topic: "Rust async", max_sources: 3 });
console.log(`estimate: ${est.estimated_tokens} tokens, $${est.estimated_cost_usd}, ${est.estimated_duration_ms} ms`);

const out = await Template.execute("research-assistant", { topic: "Rust async programming", max_sources: 3 });
console.log(out.result_type, out.metrics.agents_invoked, "agents", out.artifacts[0].filename);
console.log(out.result.slice(0, 60));

try {
  await Template.execute("research-assistant", { topic: "Rust", max_sources: 99 });
} catch (e) {
  console.log("error:", e.message);
}

const wf = Workflow.builder().name("research-then-chat").sequential()
  .addTemplateStep("research", "research-assistant", { topic: "Lua coroutines", max_sources: 2 })
  .addTemplateStep("chat", "interactive-chat", { message: "Summarize: {{step.research.content}}", max_turns: 1 })
  .build();
const r = await wf.execute();
console.log(r.success, r.outputs.chat.result_type, r.outputs.chat.content.slice(0, 40));
