// context.js: assemble prompt context from memory under a token budget.
// Strategies: episodic (this conversation), semantic (consolidated entities), hybrid (both), rag (+ RAG index).
const session = `context-example-${Date.now()}`;
const turns = [
  ["user", "How does Rust ownership work?"],
  ["assistant", "Each value in Rust has one owner; when the owner goes out of scope the value is dropped."],
  ["user", "And borrowing?"],
  ["assistant", "Borrowing lends a reference without taking ownership; the borrow checker enforces the rules."],
  ["user", "What is a good recipe for bread?"],
];
for (const [role, content] of turns) await Memory.episodic.add(session, role, content);
await Memory.consolidate(session);

for (const strategy of ["episodic", "semantic", "hybrid"]) {
  const ctx = await Context.assemble("Rust ownership and borrowing", strategy, 400, session);
  console.log(`${strategy.padEnd(8)} ${ctx.chunks.length} chunks, ${ctx.token_count} tokens, confidence ${ctx.total_confidence.toFixed(2)}`);
  for (const rc of ctx.chunks) console.log(`   ${rc.score.toFixed(2)} ${rc.chunk.source}  ${rc.chunk.content.slice(0, 60)}`);
}

try {
  await Context.assemble("x", "vector");
} catch (e) {
  console.log("bad strategy:", e.message);
}

const s = await Context.strategyStats();
console.log("strategies:", s.strategies.join(", "));
