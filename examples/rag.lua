-- rag.lua: ingest documents (chunked, embedded, stored in .llmspell/rag.db), then hybrid search.
-- Namespaces: tenant_id = "acme" is scope "tenant"/"acme"; a search only sees the namespace it names.
-- Re-ingesting a document id replaces it, so running this twice gives the same answers.
local docs = {
  {id = "ownership", content = "Rust guarantees memory safety through ownership: every value has one owner, "
    .. "and the borrow checker rejects dangling references at compile time.", metadata = {lang = "rust"}},
  {id = "gc", content = "Python frees memory with reference counting plus a cyclic garbage collector.",
    metadata = {lang = "python"}},
  {id = "lua-gc", content = "Lua uses an incremental mark-and-sweep garbage collector; collectgarbage() tunes it.",
    metadata = {lang = "lua"}},
}
local r = RAG.ingest(docs, {chunking = {chunk_size = 200, overlap = 20}})
print(string.format("ingested %d documents -> %d chunks, %d tokens", r.documents_processed, r.vectors_created,
  r.total_tokens))

local res = RAG.search("how does the borrow checker keep memory safe", {top_k = 2})
for i, hit in ipairs(res.results) do
  print(string.format("%d. %s (%s) score %.2f", i, hit.id, hit.metadata.lang, hit.score))
end

-- metadata filter: only Lua documents
local lua_only = RAG.search("garbage collector", {top_k = 3, metadata_filter = {lang = "lua"}})
print("lua only: " .. lua_only.total .. " -> " .. lua_only.results[1].id)

-- tenants are isolated: acme's document is invisible to globex and to the global namespace
RAG.ingest({id = "plan", content = "Acme launches the rocket skates in March."}, {tenant_id = "acme"})
print("acme sees: " .. RAG.search("rocket skates launch", {tenant_id = "acme"}).total)
print("globex sees: " .. RAG.search("rocket skates launch", {tenant_id = "globex"}).total)
print("acme vectors: " .. RAG.get_stats("tenant", "acme").total_vectors)
print("deleted: " .. RAG.cleanup_scope("tenant", "acme"))

-- bad input is an error naming the parameter
local ok, err = pcall(RAG.search, "anything", {top_k = 0})
print("error: " .. tostring(err):match("RAG%.search: .*"))
return res.results[1].id
