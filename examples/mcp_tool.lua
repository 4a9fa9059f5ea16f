-- mcp_tool.lua: the tools of an MCP server, used like any tool under the name mcp.<server>.<tool>.
-- It needs the server configured in llmspell.toml next to this spell (python3 must be the Python
-- that has the mcp package, e.g. the one llmspell-ls runs from):
--
--   [mcp]
--   process_allow = ["python3"]
--
--   [mcp.servers.notes]
--   command = "python3"
--   args = ["mcp_notes_server.py"]
--   trust_workspace_files = true   # the server's script sits in the workspace, which spells can write
--
-- The first use starts the server; the run writes its tools to .llmspell/mcp-tools.json, from
-- which the editor then completes Tool.execute("mcp.notes. and the parameter names.

local names = {}
for _, t in ipairs(Tool.list()) do
  if t.name:find("^mcp%.notes%.") then names[#names + 1] = t.name end
end
table.sort(names)
print("notes tools:", table.concat(names, ", "))

Tool.execute("mcp.notes.add_note", {title = "shopping", body = "oat milk, bread"})
Tool.execute("mcp.notes.add_note", {title = "spells", body = "learn the MCP tools"})
local r = Tool.execute("mcp.notes.search", {query = "milk"})
print("found:", #r.result.hits, r.result.hits[1].title)

-- parameters are checked against the server's JSON schema before anything is sent
local ok, err = pcall(Tool.execute, "mcp.notes.search", {limit = 2})
print("checked:", ok, err.message)

-- a handle works too, with the server's schema
local search = Tool.get("mcp.notes.search")
print("schema:", search.schema.parameters[1].name, search.schema.parameters[1].required)
return {tools = #names, hits = #search:execute({query = "MCP"}).result.hits}
