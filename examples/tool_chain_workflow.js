// tool_chain_workflow.js: a sequential workflow that chains builtin tools (the JavaScript twin of
// tool_chain_workflow.lua). Data flows from a CSV file through csv-analyzer, an SQL aggregate, a jq
// query and a template into a report, which is saved, hashed and archived. Everything runs offline
// inside the workspace sandbox.
const csv = "name,team,score\nAda,red,91\nAlan,blue,78\nGrace,red,85\nLinus,blue,64\nBarbara,green,80\n";
await Tool.execute("file-operations", { operation: "write", path: "scores.csv", input: csv });

const template = `# Score report
Best team: {{ winner }}
{% for t in teams %}- {{ t.team }}: average {{ t.average }} over {{ t.players }} player(s)
{% endfor %}`;

const wf = Workflow.builder()
  .name("score-report")
  .description("csv -> sql -> jq -> template -> file -> hash -> archive")
  .sequential()
  .addStep({ name: "rows", type: "tool", tool: "csv-analyzer",
             input: { operation: "convert", file: "scores.csv", options: { format: "json" } } })
  .addStep({ name: "teams", type: "tool", tool: "sql-query",
             input: { tables: { scores: "{{step.rows.result.data}}" },
                      query: "SELECT team, COUNT(*) AS players, ROUND(AVG(score), 1) AS average " +
                             "FROM scores GROUP BY team ORDER BY average DESC" } })
  .addStep({ name: "best", type: "tool", tool: "json-processor",
             input: { input: "{{step.teams.result.rows}}", query: ".[0].team" } })
  .addStep({ name: "report", type: "tool", tool: "template-creator",
             input: { input: template,
                      context: { winner: "{{step.best.result}}", teams: "{{step.teams.result.rows}}" } } })
  .addStep({ name: "save", type: "tool", tool: "file-operations",
             input: { operation: "write", path: "report.md", input: "{{step.report.result.rendered}}" } })
  .addStep({ name: "hash", type: "tool", tool: "hash-calculator",
             input: { operation: "hash", input_type: "file", file: "report.md" } })
  .addStep({ name: "archive", type: "tool", tool: "archive-handler",
             input: { operation: "create", path: "report.zip", input: ["report.md", "scores.csv"] } })
  .build();

const r = await wf.execute({});
console.log("success:", r.success);
const report = (await Tool.execute("file-operations", { operation: "read", path: "report.md" })).text;
console.log(report.trimEnd());
const listing = await Tool.execute("archive-handler", { operation: "list", path: "report.zip" });
console.log("archived:", listing.result.count, "files");
console.log("sha256 of report:", r.outputs.hash.result.hash.length, "hex digits");
return { best: r.outputs.best.result, archived: listing.result.count };
