// memory.js: episodic memory per session, consolidation into entities, semantic query.
// Memory persists in .llmspell/memory.db of the workspace: run it twice and the counts grow.
const session = `example-${Date.now()}`;

await Memory.episodic.add(session, "user", "I am planning a trip to Lisbon in May.", { topic: "travel" });
await Memory.episodic.add(session, "assistant", "Lisbon in May is warm; pack light clothes.");
await Memory.episodic.add(session, "user", "budget: 1200 EUR. I also want to visit Porto.");
await Memory.episodic.add("another-session", "user", "Unrelated: my Rust build is failing.");

// search ranks this session's entries by similarity; other sessions are never seen
const hits = await Memory.episodic.search(session, "where is the trip going", 2);
hits.forEach((e, i) => console.log(`${i + 1}. [${e.role}] ${e.content} (score ${e.score.toFixed(2)})`));

const r = await Memory.consolidate(session, { force: true });
console.log(`consolidated ${r.entries_processed} entries: ${r.entities_added} entities added, ${r.entities_updated} updated`);

for (const ent of await Memory.semantic.query("trip budget", 3)) {
  const value = ent.properties.value ? ` = ${ent.properties.value}` : "";
  console.log(`entity ${ent.name} (${ent.entity_type})${value}`);
}

const stats = await Memory.stats();
console.log(`episodic=${stats.episodic_count} semantic=${stats.semantic_count} status=${stats.consolidation_status}`);
