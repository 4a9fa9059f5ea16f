"""Generate a realistic ~5,000-line spell (Lua or JS) and the positions the benchmark asks about."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Spell:
    text: str
    completion: list[tuple[int, int]] = field(default_factory=list)
    hover: list[tuple[int, int]] = field(default_factory=list)
    signature: list[tuple[int, int]] = field(default_factory=list)
    edit_lines: list[int] = field(default_factory=list)


LUA_BLOCK = [
    'local agent{i} = Agent.builder():name("agent{i}"):model("offline/scripted"):system_prompt("You help.")'
    ":temperature(0.2):build()",
    'local out{i} = agent{i}:execute({{ text = "question {i}" }})',
    'local calc{i} = Tool.execute("calculator", {{ input = "{i} + 1" }})',
    'local file{i} = Tool.execute("file-operations", {{ operation = "read", path = "/tmp/f{i}.txt" }})',
    "local function step{i}(ctx)",
    '  State.save("global", "k{i}", {{ value = {i}, text = out{i}.text }})',
    '  return {{ ok = true, n = {i} }}',
    "end",
    'Hook.register("BeforeAgentExecution", function(ctx) return "continue" end, "high")',
    'Event.publish("my.event.{i}", {{ n = {i} }})',
    "local b{i} = Workflow.builder():sequential():name(\"wf{i}\")",
    'b{i}:add_step({{ name = "s{i}", type = "tool", tool = "calculator", input = {{ input = "1" }} }})',
    "local wf{i} = b{i}:build()",
    'print(JSON.stringify({{ i = {i}, r = calc{i}.success }}))',
    "for k = 1, 3 do print(k * {i}) end",
    "-- block {i} done",
]

JS_BLOCK = [
    'const agent{i} = await Agent.builder().name("agent{i}").model("offline/scripted").systemPrompt("You help.")'
    ".temperature(0.2).build();",
    'const out{i} = await agent{i}.execute({{ text: "question {i}" }});',
    'const calc{i} = await Tool.execute("calculator", {{ input: "{i} + 1" }});',
    'const file{i} = await Tool.execute("file-operations", {{ operation: "read", path: "/tmp/f{i}.txt" }});',
    "function step{i}(ctx) {{",
    '  State.save("global", "k{i}", {{ value: {i}, text: out{i}.text }});',
    "  return {{ ok: true, n: {i} }};",
    "}}",
    'Hook.register("BeforeAgentExecution", (ctx) => "continue", "high");',
    'await Event.publish("my.event.{i}", {{ n: {i} }});',
    'const b{i} = Workflow.builder().sequential().name("wf{i}");',
    'b{i}.addStep({{ name: "s{i}", type: "tool", tool: "calculator", input: {{ input: "1" }} }});',
    "const wf{i} = b{i}.build();",
    "console.log(JSON.stringify({{ i: {i}, r: calc{i}.success }}));",
    "for (let k = 1; k <= 3; k++) console.log(k * {i});",
    "// block {i} done",
]


def generate(lang: str = "lua", lines: int = 5000) -> Spell:
    block = LUA_BLOCK if lang == "lua" else JS_BLOCK
    out: list[str] = []
    sp = Spell("")
    i = 0
    while len(out) < lines:
        base = len(out)
        for tpl in block:
            out.append(tpl.format(i=i))
        if i % 6 == 0:
            first = out[base]
            # completion: after "Agent." and after the builder's separator before "name"
            sp.completion.append((base, first.index("Agent.") + len("Agent.")))
            sep = ":" if lang == "lua" else "."
            sp.completion.append((base, first.index(sep + "name(") + 1))
            line3 = out[base + 3]
            sp.completion.append((base + 3, line3.index("{ ") + 2))  # tool parameter keys
            sp.completion.append((base + 2, out[base + 2].index('"calculator"') + 1))  # tool names
            # hover: on "builder", on "execute", on the tool name
            sp.hover.append((base, first.index("builder") + 2))
            sp.hover.append((base + 1, out[base + 1].index("execute") + 2))
            sp.hover.append((base + 2, out[base + 2].index("calculator") + 3))
            # signature: inside the execute table and inside the register call
            sp.signature.append((base + 2, out[base + 2].index("input")))
            sp.signature.append((base + 8, out[base + 8].index('"high"')))
            sp.edit_lines.append(base + 15)
        i += 1
    sp.text = "\n".join(out[:lines]) + "\n"
    n = lines
    sp.completion = [p for p in sp.completion if p[0] < n]
    sp.hover = [p for p in sp.hover if p[0] < n]
    sp.signature = [p for p in sp.signature if p[0] < n]
    sp.edit_lines = [p for p in sp.edit_lines if p < n]
    return sp
