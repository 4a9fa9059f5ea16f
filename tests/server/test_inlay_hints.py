"""Inlay hints as pure functions: parameter names at API calls, types of locals, the requested range."""

from __future__ import annotations

from lsprotocol import types as lsp

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.documents import Documents
from llmspell_ls.features.inlay_hints import inlay_hints

EVERYTHING = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=100_000, character=0))


def hints(index: ApiIndex, text: str, lang: str = "lua", rng: lsp.Range = EVERYTHING,
          enc: str = "utf-16") -> list[tuple[int, str, str]]:
    """(line, label, the text right after the hint) for each hint."""
    doc = Documents().open(f"file:///w/spell.{'lua' if lang == 'lua' else 'js'}", text, 1, lang)  # type: ignore[arg-type]
    lines = text.split("\n")
    out = []
    for h in inlay_hints(doc, index, enc, rng):
        p = h.position
        label = h.label if isinstance(h.label, str) else "".join(part.value for part in h.label)
        after = lines[p.line][p.character:p.character + 12] if enc == "utf-16" else ""
        out.append((p.line, label, after))
    return out


def test_parameter_names_for_positional_arguments_of_api_functions(index: ApiIndex) -> None:
    got = hints(index, 'State.save("global", "k", 42)\nTool.execute("calculator", t)\n')
    assert got == [(0, "scope:", '"global", "k'), (0, "key:", '"k", 42)'), (0, "value:", "42)"),
                   (1, "name:", '"calculator"'), (1, "params:", "t)")]


def test_kinds_and_padding(index: ApiIndex) -> None:
    doc = Documents().open("file:///w/a.lua", 'State.load("global", "k")\nlocal a = Agent.builder()\n', 1, "lua")
    hs = inlay_hints(doc, index, "utf-16", EVERYTHING)
    param = next(h for h in hs if h.label == "scope:")
    assert param.kind == lsp.InlayHintKind.Parameter and param.padding_right
    typ = next(h for h in hs if h.kind == lsp.InlayHintKind.Type)
    assert typ.label == ": AgentBuilder" and typ.position == lsp.Position(line=1, character=len("local a"))


def test_no_hint_when_the_argument_already_says_it(index: ApiIndex) -> None:
    text = ('local name, params = "calculator", {}\n'
            "Tool.execute(name, params)\n"            # identifiers spelled like the parameters
            "Tool.execute(cfg.name, cfg.params)\n"    # fields spelled like them
            'Tool.execute("calculator", { input = "1" })\n'  # a table with named keys
            'local b = Agent.builder():name("a"):model("m"):system_prompt("p")\n')  # the method says it
    got = hints(index, text)
    assert [(line, label) for line, label, _ in got] == [(3, "name:"), (4, ": AgentBuilder")]


def test_no_hints_for_table_and_string_calls_varargs_or_unknown_functions(index: ApiIndex) -> None:
    assert hints(index, 'Tool.execute{ name = "x" }\nJSON.parse"{}"\nfoo(1, 2)\nstring.format("%s", 1)\n') == []


def test_calls_through_typed_locals_and_chains(index: ApiIndex) -> None:
    text = ('local agent = Agent.builder():build()\n'
            'agent:execute(prompt)\n'
            'Agent.builder():build():execute("hi")\n'
            'local wf = Workflow.builder():build()\n'
            'wf:execute(data)\n')
    got = hints(index, text)
    assert (1, "input:", "prompt)") in got
    assert (2, "input:", '"hi")') in got
    assert (4, "input:", "data)") in got
    assert (0, ": AgentInstance", " = Agent.bui") in got and (3, ": WorkflowInstance", " = Workflow.") in got


def test_a_shadowed_global_gets_no_hints(index: ApiIndex) -> None:
    assert hints(index, 'local State = {}\nState.save("a", "b", "c")\n') == []


def test_types_only_for_values_the_model_types(index: ApiIndex) -> None:
    got = hints(index, 'local a = 1\nlocal b = "x"\nlocal c = foo()\nlocal d = Agent.get("n")\n'
                       'local e, f = Agent.builder(), 2\n')
    labels = [(line, label) for line, label, _ in got if label.startswith(":")]
    assert labels == [(3, ": AgentInstance"), (4, ": AgentBuilder")]


def test_js_parameter_names_and_promise_types(index: ApiIndex) -> None:
    text = ('const agent = await Agent.builder().build();\n'
            'const pending = Agent.builder().build();\n'
            'await Tool.execute("calculator", { input: "1" });\n'
            'State.save("global", key, value);\n')
    got = hints(index, text, "javascript")
    assert (0, ": AgentInstance", " = await Age") in got
    assert (1, ": Promise<AgentInstance>", " = Agent.bui") in got
    assert (2, "name:", '"calculator"') in got
    assert not any(line == 2 and label == "params:" for line, label, _ in got)
    assert (3, "scope:", '"global", ke') in got
    assert not any(line == 3 and label in ("key:", "value:") for line, label, _ in got)


def test_only_hints_inside_the_requested_range(index: ApiIndex) -> None:
    text = "".join(f'State.save("global", "k{i}", {i})\n' for i in range(200))
    rng = lsp.Range(start=lsp.Position(line=50, character=0), end=lsp.Position(line=52, character=0))
    got = hints(index, text, rng=rng)
    assert {line for line, _, _ in got} == {50, 51}
    assert len(got) == 6
    rng = lsp.Range(start=lsp.Position(line=50, character=0), end=lsp.Position(line=50, character=15))
    assert [label for _, label, _ in hints(index, text, rng=rng)] == ["scope:"]


def test_positions_in_the_negotiated_encoding(index: ApiIndex) -> None:
    text = 'State.save("😀", "k", 1)\n'
    doc = Documents().open("file:///w/a.lua", text, 1, "lua")
    u16 = [h.position.character for h in inlay_hints(doc, index, "utf-16", EVERYTHING)]
    u8 = [h.position.character for h in inlay_hints(doc, index, "utf-8", EVERYTHING)]
    base = len('State.save("')
    assert u16 == [len("State.save("), base + 2 + 3, base + 2 + 8]
    assert u8 == [len("State.save("), base + 4 + 3, base + 4 + 8]


def test_broken_and_empty_documents(index: ApiIndex) -> None:
    assert hints(index, "") == []
    got = hints(index, 'State.save("global",\nlocal x = Agent.\n')
    assert all(label in ("scope:", "key:", "value:") or label.startswith(":") for _, label, _ in got)
