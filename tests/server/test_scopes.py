"""Scope-aware typing of local variables (Lua and JS): shadowing, blocks, functions, loops, multiple
assignment, destructuring, annotated and hook-callback parameters — through completion, hover and
diagnostics, on the fixture model (and a copy of it extended with records the real model lacks)."""

from __future__ import annotations

import copy

import pytest
from lsp_helpers import FIXTURE_MODEL, doc_at, labels, load_json

from llmspell_ls.analysis.common import analyze
from llmspell_ls.analysis.scopes import ScopeResolver
from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.documents import Documents
from llmspell_ls.features.common import context_window, engine_for
from llmspell_ls.features.completion import completion
from llmspell_ls.features.diagnostics import diagnostics
from llmspell_ls.features.hover import hover


@pytest.fixture(scope="module")
def rich_index() -> ApiIndex:
    """The fixture model plus a HookContext record and a record field of a class type (neither is in the
    real model today; they show what gets typed when a model has them)."""
    data = copy.deepcopy(load_json(FIXTURE_MODEL))
    data["records"].append({"name": "HookContext", "doc": "What a hook sees.", "kind": "record", "fields": [
        {"name": "point", "js_name": "point", "type": "string"},
        {"name": "component", "js_name": "component", "type": "AgentInstance"}]})
    out = next(r for r in data["records"] if r["name"] == "AgentOutput")
    out["fields"].append({"name": "agent", "js_name": "agent", "type": "AgentInstance"})
    return ApiIndex(data)


def receiver(index: ApiIndex, text: str, lang: str = "lua") -> str | None:
    doc, line, ch = doc_at(text, lang)
    off = doc.offset(line, ch)
    ctx = analyze(engine_for(doc, index), off, context_window(doc, off))
    assert ctx.kind == "member", ctx
    return ctx.receiver.name if ctx.receiver is not None and not ctx.receiver.promise else None


LUA_CASES = [
    # a local in a function shadows the global inside only
    ("x = Agent.builder()\nlocal function f()\n  local x = Workflow.builder()\n  x:|\nend\n", "WorkflowBuilder"),
    ("x = Agent.builder()\nlocal function f()\n  local x = Workflow.builder()\nend\nx:|\n", "AgentBuilder"),
    # do-block local ends with the block; an assignment in an if-block assigns the outer local
    ("local a = Agent.builder()\ndo\n  local a = Workflow.builder()\nend\na:|\n", "AgentBuilder"),
    ("local a = Agent.builder()\nif ok then\n  a = Workflow.builder()\nend\na:|\n", "WorkflowBuilder"),
    ("local a = Agent.builder()\nwhile ok do\n  local a = Workflow.builder()\n  a:|\nend\n", "WorkflowBuilder"),
    # loop variables shadow inside the loop only
    ("local a = Agent.builder()\nfor i, a in ipairs(t) do\n  a:|\nend\n", None),
    ("local a = Agent.builder()\nfor i, a in ipairs(t) do end\na:|\n", "AgentBuilder"),
    ("local k = Agent.builder()\nfor k = 1, 3 do\n  k:|\nend\n", None),
    # a parameter shadows an outer local of the same name; a function's locals do not leak
    ("local agent = Agent.builder()\nlocal function f(agent)\n  agent:|\nend\n", None),
    ("local agent = Agent.builder()\nlocal function f()\n  local agent = 1\nend\nagent:|\n", "AgentBuilder"),
    # a global assigned inside a function is still the global afterwards
    ("x = Agent.builder()\nfunction f()\n  x = Workflow.builder()\nend\nx:|\n", "WorkflowBuilder"),
    # ``local x = x`` reads the outer x
    ("local x = Agent.builder()\ndo\n  local x = x:name('n')\n  x:|\nend\n", "AgentBuilder"),
    # a reassignment's right-hand side sees the previous value, also while it is being typed
    ("local a = Agent.builder()\na = a:name('x')\na:|", "AgentBuilder"),
    ("local a = Agent.builder()\na = a:|", "AgentBuilder"),
    # multiple assignment by position; extra names stay untyped
    ("local a, b = Agent.builder(), Workflow.builder()\nb:|\n", "WorkflowBuilder"),
    ("local a, b = Agent.builder(), Workflow.builder()\na:|\n", "AgentBuilder"),
    ("local a, b = Agent.builder()\nb:|\n", None),
    ("a, b = Workflow.builder(), Agent.builder()\nb:|\n", "AgentBuilder"),
    # LuaCATS-annotated parameters, also while the function is still being typed (no ``end`` yet)
    ("---Does things.\n---@param agent AgentInstance the agent\nlocal function f(agent)\n  agent:|\nend\n",
     "AgentInstance"),
    ("---@param agent AgentInstance\nlocal function f(agent)\n  agent:|", "AgentInstance"),
    ("---@param b AgentBuilder\n---@param n string\nM.f = function(n, b)\n  b:|\nend\n", "AgentBuilder"),
    ("---@param agent Nope\nlocal function f(agent)\n  agent:|\nend\n", None),
]

JS_CASES = [
    ("const a = Agent.builder();\n{ const a = Workflow.builder(); }\na.|", "AgentBuilder"),
    ("const a = Agent.builder();\n{ const a = Workflow.builder();\n  a.|\n}", "WorkflowBuilder"),
    ("let v = Agent.builder();\nfunction g() { let v = Workflow.builder(); }\nv.|", "AgentBuilder"),
    # ``var`` is function-scoped: the inner block's ``var`` is the same variable
    ("function g() {\n  var v = Agent.builder();\n  if (ok) { var v = Workflow.builder(); }\n  v.|\n}",
     "WorkflowBuilder"),
    ("function g() { var v = Workflow.builder(); }\nconst v = Agent.builder();\nv.|", "AgentBuilder"),
    ("let a = Agent.builder();\nif (ok) { a = Workflow.builder(); }\na.|", "WorkflowBuilder"),
    ("let a = Agent.builder();\na = a.name('x');\na.|", "AgentBuilder"),
    ("let a = Agent.builder();\na = a.|", "AgentBuilder"),
    ("const a = Agent.builder();\nfor (const a of list) {\n  a.|\n}", None),
    ("const a = Agent.builder();\nlist.forEach((a) => a.|)", None),
    ("const a = Agent.builder();\nlist.forEach(a => 1);\na.|", "AgentBuilder"),
    ("const a = Agent.builder();\ntry { x(); } catch (a) {\n  a.|\n}", None),
    # array destructuring of an array literal, by position
    ("const [p, q] = [Agent.builder(), Workflow.builder()];\nq.|", "WorkflowBuilder"),
    ("const [p, q] = something();\nq.|", None),
    # JSDoc-annotated parameters
    ("/** @param {AgentInstance} agent */\nasync function f(agent) {\n  agent.|\n}", "AgentInstance"),
    ("/**\n * Build.\n * @param {string} n\n * @param {AgentBuilder} b the builder\n */\nconst f = (n, b) => {\n"
     "  b.|\n};", "AgentBuilder"),
    ("/** @param {AgentBuilder} b */\nconst z = 1;\nfunction f(b) {\n  b.|\n}", None),
]


@pytest.mark.parametrize("text,want", LUA_CASES)
def test_lua_scopes(index, text, want) -> None:
    assert receiver(index, text) == want


@pytest.mark.parametrize("text,want", JS_CASES)
def test_js_scopes(index, text, want) -> None:
    assert receiver(index, text, "javascript") == want


def test_destructured_field_of_a_known_record(rich_index) -> None:
    a = "const a = await Agent.builder().build();\n"
    assert receiver(rich_index, a + "const {agent} = await a.execute({text: 'x'});\nagent.|", "javascript") \
        == "AgentInstance"
    assert receiver(rich_index, a + "const {agent: b, text} = await a.execute({});\nb.|", "javascript") \
        == "AgentInstance"
    # a field the record does not have, a non-class field, or a Promise (no await): untyped, no error
    assert receiver(rich_index, a + "const {nope} = await a.execute({});\nnope.|", "javascript") is None
    assert receiver(rich_index, a + "const {text} = await a.execute({});\ntext.|", "javascript") is None
    assert receiver(rich_index, a + "const {agent} = a.execute({});\nagent.|", "javascript") is None
    doc = Documents().open("file:///d.js", a + "const {agent, text} = await a.execute({});\nagent.nope();\n", 1,
                           "javascript")
    assert [d["code"] for d in diagnostics(doc, rich_index, "utf-16")] == ["unknown-member"]


def test_hook_callback_context_typed_only_when_the_model_has_it(index, rich_index) -> None:
    lua = 'Hook.register("BeforeAgentExecution", function(ctx)\n  ctx.|\nend)\n'
    js = 'Hook.register("BeforeAgentExecution", (ctx) => {\n  ctx.|\n});\n'
    js2 = 'Hook.register("BeforeAgentExecution", ctx => ctx.|);\n'
    for text, lang in ((lua, "lua"), (js, "javascript"), (js2, "javascript")):
        assert receiver(rich_index, text, lang) == "HookContext"
        assert receiver(index, text, lang) is None  # the fixture model has no HookContext record
    doc, line, ch = doc_at(lua)
    assert {"point", "component"} <= set(labels(completion(doc, rich_index, line, ch,
                                                           _opts())))
    # only the first parameter, only of a hook callback
    assert receiver(rich_index, 'Hook.register("x", function(a, ctx)\n  ctx.|\nend)\n') is None
    assert receiver(rich_index, 'Event.subscribe("x", function(ctx)\n  ctx.|\nend)\n') is None


def _opts():
    from llmspell_ls.features.common import ClientOptions

    return ClientOptions(encoding="utf-16")


def test_hover_shows_the_annotated_parameter_type(index, opts) -> None:
    doc, line, ch = doc_at("---@param agent AgentInstance\nlocal function f(agent)\n  return ag|ent:execute({})\nend\n")
    h = hover(doc, index, line, ch, opts)
    assert h is not None and "agent: AgentInstance" in h["contents"]["value"]


def diag_codes(index, text: str, lang: str = "lua") -> list[tuple[str, int]]:
    doc = Documents().open("file:///s." + ("lua" if lang == "lua" else "js"), text, 1, lang)  # type: ignore[arg-type]
    return [(d["code"], d["range"]["start"]["line"]) for d in diagnostics(doc, index, "utf-16")]


def test_diagnostics_follow_scopes_without_false_positives(index) -> None:
    # the parameter is not the outer builder: no "AgentBuilder has no member execute"
    assert diag_codes(index, "local agent = Agent.builder()\nlocal function f(agent)\n  agent:execute({})\nend\n") \
        == []
    # a function's local does not leak out; the outer binding is still checked
    assert diag_codes(index, "local a = Agent.builder()\nlocal function f()\n  local a = Tool.get('x')\n  a:zz()\n"
                             "end\na:build()\na:nope()\n") == [("unknown-member", 6)]
    assert diag_codes(index, "local a, b = Agent.builder(), Workflow.builder()\nb:add_step({})\na:nope()\n") \
        == [("unknown-member", 2)]
    assert diag_codes(index, "const a = Agent.builder();\n{ const a = 1; a.foo(); }\na.nope();\n", "javascript") \
        == [("unknown-member", 2)]
    assert diag_codes(index, "for _, agent in ipairs(list) do agent:anything() end\n") == []


def test_diagnostics_use_annotated_parameter_types(index) -> None:
    lua = "---@param agent AgentInstance\nlocal function f(agent)\n  agent:bulder()\n  agent.execute({})\nend\n"
    assert diag_codes(index, lua) == [("unknown-member", 2), ("call-style", 3)]
    js = ("/** @param {AgentInstance} agent */\nasync function f(agent) {\n  await agent.execute({});\n"
          "  agent.nope();\n}\n")
    assert diag_codes(index, js, "javascript") == [("unknown-member", 3)]


def test_resolver_on_non_ascii_text(index) -> None:
    text = 'local s = "😀é"\nlocal a = Agent.builder()\ndo local a = "ü" end\na:|'
    assert receiver(index, text) == "AgentBuilder"
    doc, _, _ = doc_at(text)
    r = ScopeResolver(doc)
    off = doc.text.index("a = Agent")
    assert r.to_offset(r.to_byte(off)) == off
    found, occ = r.resolve("a", len(doc.text))
    assert found and occ is not None and occ.role == "decl" and doc.text[occ.value:].startswith("Agent.builder()")


def test_fresh_edit_is_typed_without_reparsing(index) -> None:
    """Right after didChange the tree is the previous one with the edit applied: typing a variable does
    not re-parse on the request path (names in the edited region are read from the text); an edit that
    moves the end of a scope makes the lookup parse, so the answer stays right."""
    docs = Documents()
    uri = "file:///e.lua"
    docs.open(uri, "local a = Agent.builder()\nlocal function f(a)\nend\na:b()\n", 1, "lua")
    doc = docs.change(uri, "local a = Agent.builder()\nlocal function f(a)\n  local w = Workflow.builder()\n"
                           "  w:name('x')\nend\na:b()\n", 2)
    assert not doc.parsed

    def at(line: int, col: int) -> str | None:
        off = doc.offset(line, col)
        ctx = analyze(engine_for(doc, index), off, context_window(doc, off))
        return ctx.receiver.name if ctx.receiver is not None else None

    assert (at(3, 4), at(5, 2), at(3, 4)) == ("WorkflowBuilder", "AgentBuilder", "WorkflowBuilder")
    assert not doc.parsed
    # an edit that swallows the function's ``end`` leaves its old range unreliable: the lookup parses
    doc = docs.change(uri, "local a = Agent.builder()\nlocal function f(a)\n  a:b()\nend\nlocal z = 1\na:b()\n", 3)
    assert not doc.parsed
    assert (at(2, 4), at(5, 2)) == (None, "AgentBuilder")
    assert doc.parsed
