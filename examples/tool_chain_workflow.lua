-- tool_chain_workflow.lua: a sequential workflow that chains builtin tools. Data flows from a CSV
-- file through csv-analyzer, an SQL aggregate, a jq query and a template into a report, which is
-- saved, hashed and archived. Everything runs offline inside the workspace sandbox.
local csv = "name,team,score\nAda,red,91\nAlan,blue,78\nGrace,red,85\nLinus,blue,64\nBarbara,green,80\n"
Tool.execute("file-operations", {operation = "write", path = "scores.csv", input = csv})

local template = [[
# Score report
Best team: {{ winner }}
{% for t in teams %}- {{ t.team }}: average {{ t.average }} over {{ t.players }} player(s)
{% endfor %}]]

local wf = Workflow.builder()
  :name("score-report")
  :description("csv -> sql -> jq -> template -> file -> hash -> archive")
  :sequential()
  :add_step({name = "rows", type = "tool", tool = "csv-analyzer",
             input = {operation = "convert", file = "scores.csv", options = {format = "json"}}})
  :add_step({name = "teams", type = "tool", tool = "sql-query",
             input = {tables = {scores = "{{step.rows.result.data}}"},
                      query = "SELECT team, COUNT(*) AS players, ROUND(AVG(score), 1) AS average " ..
                              "FROM scores GROUP BY team ORDER BY average DESC"}})
  :add_step({name = "best", type = "tool", tool = "json-processor",
             input = {input = "{{step.teams.result.rows}}", query = ".[0].team"}})
  :add_step({name = "report", type = "tool", tool = "template-creator",
             input = {input = template,
                      context = {winner = "{{step.best.result}}", teams = "{{step.teams.result.rows}}"}}})
  :add_step({name = "save", type = "tool", tool = "file-operations",
             input = {operation = "write", path = "report.md", input = "{{step.report.result.rendered}}"}})
  :add_step({name = "hash", type = "tool", tool = "hash-calculator",
             input = {operation = "hash", input_type = "file", file = "report.md"}})
  :add_step({name = "archive", type = "tool", tool = "archive-handler",
             input = {operation = "create", path = "report.zip", input = {"report.md", "scores.csv"}}})
  :build()

local r = wf:execute({})
print("success:", r.success)
local report = Tool.execute("file-operations", {operation = "read", path = "report.md"}).text
io.write(report)
local listing = Tool.execute("archive-handler", {operation = "list", path = "report.zip"})
print("archived:", listing.result.count, "files")
print("sha256 of report:", #r.outputs.hash.result.hash, "hex digits")
return {best = r.outputs.best.result, archived = listing.result.count}
