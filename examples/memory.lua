-- memory.lua: episodic memory per session, consolidation into entities, semantic query.
-- Memory persists in .llmspell/memory.db of the workspace: run it twice and the counts grow.
local session = "example-" .. os.time()

Memory.episodic.add(session, "user", "I am planning a trip to Lisbon in May.", {topic = "travel"})
Memory.episodic.add(session, "assistant", "Lisbon in May is warm; pack light clothes.")
Memory.episodic.add(session, "user", "budget: 1200 EUR. I also want to visit Porto.")
Memory.episodic.add("another-session", "user", "Unrelated: my Rust build is failing.")

-- search ranks this session's entries by similarity; other sessions are never seen
for i, e in ipairs(Memory.episodic.search(session, "where is the trip going", 2)) do
  print(string.format("%d. [%s] %s (score %.2f)", i, e.role, e.content, e.score))
end

local r = Memory.consolidate(session, {force = true})
print(string.format("consolidated %d entries: %d entities added, %d updated",
  r.entries_processed, r.entities_added, r.entities_updated))

for _, ent in ipairs(Memory.semantic.query("trip budget", 3)) do
  local value = ent.properties.value and (" = " .. ent.properties.value) or ""
  print(string.format("entity %s (%s)%s", ent.name, ent.entity_type, value))
end

local stats = Memory.stats()
print(string.format("episodic=%d semantic=%d status=%s", stats.episodic_count, stats.semantic_count,
  stats.consolidation_status))
return stats.episodic_count
