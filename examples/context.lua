-- context.lua: assemble prompt context from memory under a token budget.
-- Strategies: episodic (this conversation), semantic (consolidated entities), hybrid (both), rag (+ RAG index).
local session = "context-example-" .. os.time()
local turns = {
  {"user", "How does Rust ownership work?"},
  {"assistant", "Each value in Rust has one owner; when the owner goes out of scope the value is dropped."},
  {"user", "And borrowing?"},
  {"assistant", "Borrowing lends a reference without taking ownership; the borrow checker enforces the rules."},
  {"user", "What is a good recipe for bread?"},
}
for _, t in ipairs(turns) do Memory.episodic.add(session, t[1], t[2]) end
Memory.consolidate(session)

for _, strategy in ipairs({"episodic", "semantic", "hybrid"}) do
  local ctx = Context.assemble("Rust ownership and borrowing", strategy, 400, session)
  print(string.format("%-8s %d chunks, %d tokens, confidence %.2f", strategy, #ctx.chunks, ctx.token_count,
    ctx.total_confidence))
  for _, rc in ipairs(ctx.chunks) do
    print(string.format("   %.2f %s  %s", rc.score, rc.chunk.source, rc.chunk.content:sub(1, 60)))
  end
end

local ok, err = pcall(Context.assemble, "x", "vector")
print("bad strategy:", ok, err.message)

local s = Context.strategy_stats()
print("strategies:", table.concat(s.strategies, ", "))
return #Context.test("bread recipe", session).chunks
