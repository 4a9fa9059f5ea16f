"""inlayHint/resolve as pure functions: light hints carry data, resolve fills the tooltip from the model."""

from __future__ import annotations

import json

from lsprotocol import types as lsp

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.documents import Documents
from llmspell_ls.features.inlay_hints import inlay_hints, resolve_hint

EVERYTHING = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=100_000, character=0))
SPELL = 'State.save("global", "k", 42)\nlocal a = Agent.builder()\n'


def _hints(index: ApiIndex, light: bool, text: str = SPELL, lang: str = "lua") -> list[lsp.InlayHint]:
    doc = Documents().open(f"file:///w/a.{'lua' if lang == 'lua' else 'js'}", text, 1, lang)  # type: ignore[arg-type]
    return inlay_hints(doc, index, "utf-16", EVERYTHING, light=light)


def _tip(h: lsp.InlayHint) -> str:
    t = h.tooltip
    return t.value if isinstance(t, lsp.MarkupContent) else str(t or "")


def test_light_hints_have_no_tooltip_and_json_data(real_index: ApiIndex) -> None:
    hs = _hints(real_index, light=True)
    assert [h.label for h in hs] == ["scope:", "key:", "value:", ": AgentBuilder"]
    assert all(h.tooltip is None for h in hs)
    assert hs[0].data == {"kind": "param", "owner": "State", "fn": "save", "param": "scope", "lang": "lua"}
    assert hs[-1].data == {"kind": "type", "type": "AgentBuilder"}
    json.dumps([h.data for h in hs])  # travels to the client and back as plain JSON


def test_resolve_fills_the_tooltip_from_the_model(real_index: ApiIndex) -> None:
    scope = resolve_hint(_hints(real_index, light=True)[0], real_index)
    assert isinstance(scope.tooltip, lsp.MarkupContent) and scope.tooltip.kind == lsp.MarkupKind.Markdown
    assert _tip(scope).startswith("`scope: string` — parameter of `State.save`")
    assert "The scope, e.g." in _tip(scope)
    typ = resolve_hint(_hints(real_index, light=True)[-1], real_index)
    assert _tip(typ).startswith("`AgentBuilder`") and len(_tip(typ)) > len("`AgentBuilder`")


def test_resolved_equals_the_inline_tooltip(real_index: ApiIndex) -> None:
    full = _hints(real_index, light=False)
    light = [resolve_hint(h, real_index) for h in _hints(real_index, light=True)]
    assert [_tip(h) for h in light] == [_tip(h) for h in full]
    assert all(_tip(h) for h in full)


def test_method_tooltips_name_the_class_with_a_colon_in_lua_and_a_dot_in_js(real_index: ApiIndex) -> None:
    lua = _hints(real_index, True, 'local a = Agent.builder():build()\na:execute("hi")\n')
    t = next(h for h in lua if h.kind == lsp.InlayHintKind.Parameter)
    assert "parameter of `AgentInstance:execute`" in _tip(resolve_hint(t, real_index))
    js = _hints(real_index, True, 'const a = Agent.builder().build();\na.execute("hi");\n', "javascript")
    t = next(h for h in js if h.kind == lsp.InlayHintKind.Parameter)
    assert "parameter of `AgentInstance.execute`" in _tip(resolve_hint(t, real_index))


def test_resolve_leaves_foreign_or_stale_hints_alone(real_index: ApiIndex) -> None:
    pos = lsp.Position(line=0, character=0)
    other = lsp.InlayHint(position=pos, label="x", data={"from": "another server"})
    assert resolve_hint(other, real_index).tooltip is None
    gone = lsp.InlayHint(position=pos, label="x:", data={"kind": "param", "owner": "State", "fn": "nope",
                                                         "param": "x"})
    assert resolve_hint(gone, real_index).tooltip is None
    none = lsp.InlayHint(position=pos, label="x:")
    assert resolve_hint(none, real_index) is none
