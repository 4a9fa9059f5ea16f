-- Template: rs-llmspell's built-in templates, discovered, estimated and run (offline by default).
print("templates:", #Template.list())
for _, t in ipairs(Template.list("research")) do print(" -", t.id, t.category, t.version) end

local schema = Template.schema("research-assistant")
for _, p in ipairs(schema.parameters) do
    if p.required then print("required:", p.name, p.param_type) end
end

local est = Template.estimate_cost("research-assistant", {topic = "Rust async", max_sources = 3})
print(string.format("estimate: %d tokens, $%.4f, %d ms", est.estimated_tokens, est.estimated_cost_usd or 0,
    est.estimated_duration_ms))

local out = Template.execute("research-assistant", {topic = "Rust async programming", max_sources = 3})
print(out.result_type, out.metrics.agents_invoked, "agents", out.artifacts[1].filename)
print(out.result:sub(1, 60))

-- a bad parameter is an error naming it
local ok, err = pcall(Template.execute, "research-assistant", {topic = "Rust", max_sources = 99})
print(ok, err.message)

-- a template as a workflow step; its text feeds the next step
local wf = Workflow.builder():name("research-then-chat"):sequential()
    :add_template_step("research", "research-assistant", {topic = "Lua coroutines", max_sources = 2})
    :add_template_step("chat", "interactive-chat", {message = "Summarize: {{step.research.content}}", max_turns = 1})
    :build()
local r = wf:execute()
print(r.success, r.outputs.chat.result_type, r.outputs.chat.content:sub(1, 40))
