"""Hover and signature help as pure functions."""

from __future__ import annotations

from lsp_helpers import doc_at

from llmspell_ls.features.common import ClientOptions
from llmspell_ls.features.hover import hover
from llmspell_ls.features.signature import signature_help


def hov(index, opts, text, lang="lua"):
    doc, line, ch = doc_at(text, lang)
    h = hover(doc, index, line, ch, opts)
    return h["contents"]["value"] if h else None


def sig(index, opts, text, lang="lua"):
    doc, line, ch = doc_at(text, lang)
    return signature_help(doc, index, line, ch, opts)


def test_hover_functions_through_chains(index, opts) -> None:
    v = hov(index, opts, "Agent.buil|der()")
    assert "Agent.builder() -> AgentBuilder" in v and "Start building" in v
    v = hov(index, opts, "local b = Agent.builder()\nb:sys|tem_prompt('x')")
    assert "AgentBuilder:system_prompt(prompt: string) -> AgentBuilder" in v
    v = hov(index, opts, "const a = await Agent.builder().build();\na.exec|ute({text: 'x'})", "javascript")
    assert "AgentInstance.execute(input: AgentInput|string): Promise<AgentOutput>" in v
    assert "await" in v


def test_hover_globals_locals_fields_and_deprecation(index, opts) -> None:
    assert "(global) Agent" in hov(index, opts, "Ag|ent.builder()")
    assert "local b: AgentBuilder" in hov(index, opts, "local b = Agent.builder()\n|b:build()")
    assert "AgentInstance.name: string" in hov(index, opts, "local a = Agent.builder():build()\nprint(a.na|me)")
    assert "**Deprecated:** Use Agent.builder()" in hov(index, opts, "Agent.cre|ate({})")
    assert "local zz: number" in hov(index, opts, "local zz = 1\nz|z")  # plain locals: type + declaration
    assert hov(index, opts, "z|z") is None  # an undeclared name
    assert hov(index, opts, "   |  ") is None


def test_hover_tool_schema_and_names(index, opts) -> None:
    v = hov(index, opts, 'Tool.execute("file-op|erations", {})')
    assert "**file-operations**" in v and "| `operation` | `read` \\| `write`" in v and "| yes |" in v
    v = hov(index, opts, 'Tool.execute("file-operations", { oper|ation = "read" })')
    assert "operation: string" in v and "(required)" in v and "`exists`" in v
    v = hov(index, opts, 'Hook.register("BeforeAgentEx|ecution", f)')
    assert "agent hook point" in v


def test_hover_plaintext_client(index) -> None:
    doc, line, ch = doc_at("Agent.buil|der()")
    h = hover(doc, index, line, ch, ClientOptions(hover_markdown=False))
    assert h["contents"]["kind"] == "plaintext"


def test_signature_active_parameter(index, opts) -> None:
    s = sig(index, opts, 'Tool.execute("calculator", |')
    assert s["signatures"][0]["label"] == "Tool.execute(name: string, params: table) -> ToolResult"
    assert s["activeParameter"] == 1
    assert [p["label"] for p in s["signatures"][0]["parameters"]] == ["name: string", "params: table"]
    s = sig(index, opts, 'Hook.register(|')
    assert s["activeParameter"] == 0
    s = sig(index, opts, 'Hook.register("x", function(a, b) end, |')
    assert s["activeParameter"] == 2
    assert 'priority?: "highest"|"high"|"normal"|"low"|"lowest"' in s["signatures"][0]["label"]


def test_signature_nested_and_inside_tables(index, opts) -> None:
    s = sig(index, opts, 'Tool.execute("calculator", { input = JSON.stringify(|) })')
    assert s["signatures"][0]["label"].startswith("JSON.stringify(")
    s = sig(index, opts, 'Tool.execute("calculator", { input = "1", |')
    assert s["signatures"][0]["label"].startswith("Tool.execute(") and s["activeParameter"] == 1
    s = sig(index, opts, "local b = Agent.builder()\nb:name(|")
    assert s["signatures"][0]["label"] == "AgentBuilder:name(name: string) -> AgentBuilder"
    s = sig(index, opts, "const b = Agent.builder();\nb.systemPrompt(|", "javascript")
    assert s["signatures"][0]["label"] == "AgentBuilder.systemPrompt(prompt: string): AgentBuilder"
    assert sig(index, opts, "print(|")["signatures"][0]["label"] == "print(...: any)"  # Lua's own library
    assert sig(index, opts, "local function print() end\nprint(|") is None  # shadowed: not the builtin
    assert sig(index, opts, "Agent.builder()|") is None


def test_real_model_signature(real_index, opts) -> None:
    s = sig(real_index, opts, 'Tool.execute("calculator", { input = "1" }|')
    assert "Tool.execute(" in s["signatures"][0]["label"]
