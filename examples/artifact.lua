-- artifact.lua: store content with metadata in the run's session; it is kept in the workspace
-- (.llmspell/artifacts) and can be read back in later runs through its id.
local sid = Session.get_current()

local report = Artifact.store(sid, "agent_output", "report.md", "# Weekly report\nAll systems nominal.",
  {mime_type = "text/markdown", tags = {"weekly", "report"}, author = "artifact.lua"})
local data = Artifact.store(sid, "tool_result", "numbers.json", JSON.stringify({1, 2, 3}),
  {mime_type = "application/json", tags = {"data"}})
print("stored:", report.sequence, data.sequence, "hash prefix " .. report.content_hash:sub(1, 8))

local got = Artifact.get(sid, report)
print("read back:", got.metadata.name, got.metadata.mime_type, got.metadata.custom.author)
print("first line:", (got.content:match("^[^\n]*")))

local names = {}
for _, meta in ipairs(Artifact.list(sid)) do names[#names + 1] = meta.name end
print("in this session:", table.concat(names, ", "))

local weekly = Artifact.query({session_id = sid, tags = {"weekly"}})
print("tagged weekly:", #weekly, weekly[1].name)

-- another session cannot read this session's artifacts
local other = Session.create({name = "someone-else"})
local ok, err = pcall(Artifact.get, other, report)
print("other session may read:", ok, err.kind)

Artifact.delete(sid, data)
print("after delete:", #Artifact.list(sid))
return {stored = 2, left = #Artifact.list(sid)}
