// rag.js: ingest documents (chunked, embedded, stored in .llmspell/rag.db), then hybrid search.
// Namespaces: tenant_id: "acme" is scope "tenant"/"acme"; a search only sees the namespace it names.
// Re-ingesting a document id replaces it, so running this twice gives the same answers.
const docs = [
  {id: "ownership", content: "Rust guarantees memory safety through ownership: every value has one owner, " +
    "and the borrow checker rejects dangling references at compile time.", metadata: {lang: "rust"}},
  {id: "gc", content: "Python frees memory with reference counting plus a cyclic garbage collector.",
    metadata: {lang: "python"}},
  {id: "lua-gc", content: "Lua uses an incremental mark-and-sweep garbage collector; collectgarbage() tunes it.",
    metadata: {lang: "lua"}},
];
const r = await RAG.ingest(docs, {chunking: {chunk_size: 200, overlap: 20}});
console.log(`ingested ${r.documents_processed} documents -> ${r.vectors_created} chunks, ${r.total_tokens} tokens`);

const res = await RAG.search("how does the borrow checker keep memory safe", {top_k: 2});
res.results.forEach((hit, i) => console.log(`${i + 1}. ${hit.id} (${hit.metadata.lang}) score ${hit.score.toFixed(2)}`));

// metadata filter: only Lua documents
const luaOnly = await RAG.search("garbage collector", {top_k: 3, metadata_filter: {lang: "lua"}});
console.log(`lua only: ${luaOnly.total} -> ${luaOnly.results[0].id}`);

// tenants are isolated: acme's document is invisible to globex and to the global namespace
await RAG.ingest({id: "plan", content: "Acme launches the rocket skates in March."}, {tenant_id: "acme"});
console.log("acme sees: " + (await RAG.search("rocket skates launch", {tenant_id: "acme"})).total);
console.log("globex sees: " + (await RAG.search("rocket skates launch", {tenant_id: "globex"})).total);
console.log("acme vectors: " + (await RAG.getStats("tenant", "acme")).total_vectors);
console.log("deleted: " + (await RAG.cleanupScope("tenant", "acme")));

// bad input is an error naming the parameter
try {
  await RAG.search("anything", {top_k: 0});
} catch (e) {
  console.log("error: " + String(e.message || e).match(/RAG\.search: .*/)[0]);
}
res.results[0].id;
