"""Lua ``self`` in navigation, hover and completion, and field rename, over the pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from lsp_helpers import doc_at
from lsprotocol import types as lsp

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.features.completion import completion
from llmspell_ls.features.hover import hover
from llmspell_ls.features.navigation import definition, highlights, references
from llmspell_ls.features.rename import RenameError, prepare_rename, rename
from llmspell_ls.server import ClientOptions

ENC = "utf-16"
OPTS = ClientOptions(encoding=ENC)

OBJ = """\
local obj = {name = "x", agent = Agent.builder()}
function obj:greet(who)
  return self.name .. who
end
function obj:run()
  local f = function() return self:greet("a") end
  return f() .. obj:greet("b")
end
obj.count = 0
"""


def at(src: str, needle: str, nth: int = 0, shift: int = 1) -> str:
    """``src`` with the cursor ``shift`` characters into the ``nth`` occurrence of ``needle``."""
    k = -1
    for _ in range(nth + 1):
        k = src.index(needle, k + 1)
    return src[:k + shift] + "|" + src[k + shift:]


def spots(locs: Any) -> list[tuple[int, int]]:
    return sorted((x.range.start.line, x.range.start.character) for x in locs or [])


def apply(text: str, edits: Sequence[lsp.TextEdit]) -> str:
    lines = text.split("\n")
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        r = e.range
        ln = lines[r.start.line]
        lines[r.start.line] = ln[:r.start.character] + e.new_text + ln[r.end.character:]
    return "\n".join(lines)


def renamed(src: str, new: str, index: ApiIndex) -> str:
    doc, line, ch = doc_at(src)
    ws = rename(doc, index, line, ch, new, ENC)
    assert ws is not None and ws.changes is not None
    return apply(doc.text, ws.changes.get(doc.uri, []))


def refused(src: str, new: str, index: ApiIndex, prepare: bool = False) -> str:
    doc, line, ch = doc_at(src)
    with pytest.raises(RenameError) as e:
        rename(doc, index, line, ch, new, ENC)
    if prepare:  # prepareRename says the same before the user types a name
        with pytest.raises(RenameError) as e2:
            prepare_rename(doc, index, line, ch, ENC)
        assert str(e2.value) == str(e.value)
    return str(e.value)


# ------------------------------------------------------------------------------------------ self: navigation
def test_definition_of_self_is_the_methods_table(real_index: ApiIndex) -> None:
    doc, line, ch = doc_at(at(OBJ, "self.name"))
    assert spots(definition(doc, real_index, line, ch, ENC)) == [(0, 6)]
    doc, line, ch = doc_at(at(OBJ, "self:greet"))  # inside a function nested in the method
    assert spots(definition(doc, real_index, line, ch, ENC)) == [(0, 6)]


def test_definition_of_a_field_through_self(real_index: ApiIndex) -> None:
    doc, line, ch = doc_at(at(OBJ, "name", nth=1))  # self.name
    assert spots(definition(doc, real_index, line, ch, ENC)) == [(0, 13)]
    doc, line, ch = doc_at(at(OBJ, "greet", nth=1))  # self:greet("a")
    assert spots(definition(doc, real_index, line, ch, ENC)) == [(1, 13)]


def test_references_of_a_method_include_self_calls(real_index: ApiIndex) -> None:
    doc, line, ch = doc_at(at(OBJ, "greet", nth=2))  # obj:greet("b")
    refs = references(doc, real_index, line, ch, ENC, True)
    assert spots(refs) == [(1, 13), (5, 35), (6, 20)]
    refs = references(doc, real_index, line, ch, ENC, False)
    assert spots(refs) == [(5, 35), (6, 20)]


def test_references_and_highlights_of_self(real_index: ApiIndex) -> None:
    doc, line, ch = doc_at(at(OBJ, "self:greet"))
    refs = references(doc, real_index, line, ch, ENC, True)
    # obj's declaration and uses, and the self of its methods
    assert spots(refs) == [(0, 6), (1, 9), (2, 9), (4, 9), (5, 30), (6, 16), (8, 0)]
    hl = highlights(doc, real_index, line, ch, ENC) or []
    assert spots(hl) == spots(refs)
    assert hl[0].kind == lsp.DocumentHighlightKind.Write


def test_an_explicit_self_parameter_is_an_ordinary_local(real_index: ApiIndex) -> None:
    src = "local obj = {}\nfunction obj.m(self)\n  return se|lf.x\nend\n"
    doc, line, ch = doc_at(src)
    assert spots(definition(doc, real_index, line, ch, ENC)) == [(1, 15)]


def test_self_outside_a_method_and_in_a_dotted_method_resolve_to_nothing(real_index: ApiIndex) -> None:
    for src in ("print(se|lf)\n", "local a = {b = {}}\nfunction a.b:m() return se|lf end\n",
                "local obj = {}\nfunction obj.f() return se|lf end\n"):
        doc, line, ch = doc_at(src)
        assert definition(doc, real_index, line, ch, ENC) is None, src


def test_self_of_a_global_table(real_index: ApiIndex) -> None:
    src = "M = {}\nfunction M:go()\n  return se|lf.k\nend\n"
    doc, line, ch = doc_at(src)
    assert spots(definition(doc, real_index, line, ch, ENC)) == [(0, 0)]


def test_shadowed_tables_keep_their_own_fields(real_index: ApiIndex) -> None:
    src = ("local t = {k = 1}\nfunction t:m() return self.k end\n"
           "do\n  local t = {k = 2}\n  print(t.k)\nend\nprint(t.|k)\n")
    doc, line, ch = doc_at(src)
    assert spots(references(doc, real_index, line, ch, ENC, True)) == [(0, 11), (1, 27), (6, 8)]


# ------------------------------------------------------------------------------------------ self: hover, completion
def _labels(raw: Any) -> list[str]:
    v = raw.value() if hasattr(raw, "value") else raw
    return [i["label"] for i in (v or {}).get("items", [])] if isinstance(v, dict) else []


def test_completion_after_self_lists_the_tables_keys_and_types_chains(real_index: ApiIndex) -> None:
    src = 'local obj = {name = "x", agent = Agent.builder()}\nfunction obj:m()\n  return self.|\nend\n'
    doc, line, ch = doc_at(src)
    assert _labels(completion(doc, real_index, line, ch, OPTS)) == ["name", "agent", "m"]
    src = 'local obj = {name = "x", agent = Agent.builder()}\nfunction obj:m()\n  local b = self.agent:|\nend\n'
    doc, line, ch = doc_at(src)  # a line being typed (the tree is broken there)
    assert "model" in _labels(completion(doc, real_index, line, ch, OPTS))


def test_hover_on_self_and_through_it(real_index: ApiIndex) -> None:
    src = 'local obj = {agent = Agent.builder()}\nfunction obj:m()\n  return se|lf.agent:name("a")\nend\n'
    doc, line, ch = doc_at(src)
    h = hover(doc, real_index, line, ch, OPTS)
    body = (h.value() if hasattr(h, "value") else h)["contents"]["value"]  # type: ignore[index]
    assert "`self` is `obj`: the table this method is defined on" in body and "local obj: table" in body
    doc, line, ch = doc_at(src.replace("se|lf.agent:name", "self.agent:na|me"))
    h = hover(doc, real_index, line, ch, OPTS)
    assert "AgentBuilder:name" in (h.value() if hasattr(h, "value") else h)["contents"]["value"]  # type: ignore[index]


# ------------------------------------------------------------------------------------------ field rename
def test_rename_a_constructor_field_and_its_uses(real_index: ApiIndex) -> None:
    src = 'local cfg = { name = "x" }\nprint(cfg.na|me)\ncfg.name = cfg.name .. "!"\n'
    assert renamed(src, "title", real_index) == (
        'local cfg = { title = "x" }\nprint(cfg.title)\ncfg.title = cfg.title .. "!"\n')


def test_rename_a_field_assigned_later(real_index: ApiIndex) -> None:
    src = "local t = {}\nt.k = 1\nprint(t.|k)\n"
    assert renamed(src, "key", real_index) == "local t = {}\nt.key = 1\nprint(t.key)\n"


def test_rename_a_method_renames_its_self_calls(real_index: ApiIndex) -> None:
    got = renamed(at(OBJ, "greet", nth=2), "hello", real_index)
    assert got == OBJ.replace("greet", "hello")
    got = renamed(at(OBJ, "name", nth=1), "label", real_index)  # from self.name
    assert got == OBJ.replace('{name = "x"', '{label = "x"').replace("self.name", "self.label")


def test_rename_keeps_other_tables_fields(real_index: ApiIndex) -> None:
    src = ("local a = {k = 1}\nlocal b = {k = 2}\nfunction b:m() return self.k end\n"
           "print(a.k, b.k)\nprint(a.|k)\n")
    assert renamed(src, "z", real_index) == (
        "local a = {z = 1}\nlocal b = {k = 2}\nfunction b:m() return self.k end\nprint(a.z, b.k)\nprint(a.z)\n")


def test_prepare_rename_names_the_field(real_index: ApiIndex) -> None:
    doc, line, ch = doc_at('local cfg = { name = "x" }\nprint(cfg.na|me)\n')
    rng = prepare_rename(doc, real_index, line, ch, ENC)
    assert rng is not None and (rng.start.line, rng.start.character, rng.end.character) == (1, 10, 14)


@pytest.mark.parametrize(("src", "message"), [
    ("local a = Agent.builder()\nprint(a.fo|o)\n",
     "cannot rename the field 'foo' of 'a': 'a' is not a table constructed in this file (line 1); its fields "
     "may belong to an llmspell API object or another module"),
    ("local r = Tool.execute('calculator', {})\nprint(r.res|ult)\n", "cannot rename an llmspell API member"),
    ("local r = Tool.execute('calculator', {})\nprint(r.fo|o)\n", "'r' is not a table constructed in this file"),
    ("local function f(opts)\n  return opts.ti|tle\nend\n", "'opts' is a parameter: its value (and fields) come from"),
    ("M = {k = 1}\nprint(M.|k)\n", "'M' is a global table, other files may use its fields"),
    ("local t = {k = 1}\nt = other()\nprint(t.|k)\n", "'t' is assigned again on line 2"),
    ("local M = {}\nfunction M.run() end\nM.ru|n()\nreturn M\n", "the chunk returns 'M' (a module)"),
    ('local t = {k = 1}\nprint(t["k"], t.|k)\n', "line 2 spells it as a string key"),
    ('local t = {["k"] = 1}\nprint(t.|k)\n', "line 1 spells it as a string key"),
    ("local obj = {}\nfunction obj:m() return se|lf end\n", "cannot rename 'self': it stands for 'obj'"),
    ("print(string.fo|rmat('%d', 1))\n", None),
])
def test_field_rename_refusals(real_index: ApiIndex, src: str, message: str | None) -> None:
    if message is None:  # a library table's member: nothing to rename (no target)
        doc, line, ch = doc_at(src)
        assert prepare_rename(doc, real_index, line, ch, ENC) is None
        return
    assert message in refused(src, "other", real_index, prepare=True)


def test_field_rename_to_an_existing_field_is_refused(real_index: ApiIndex) -> None:
    src = "local t = {a = 1}\nt.b = 2\nprint(t.|a)\n"
    assert "'t' already has a field 'b' (line 2)" in refused(src, "b", real_index)
    src = 'local t = {a = 1}\nlocal v = t["b"]\nprint(t.|a)\n'
    assert "line 2 uses 'b' as a string key" in refused(src, "b", real_index)


def test_field_rename_in_javascript_is_refused_with_a_reason(real_index: ApiIndex) -> None:
    doc, line, ch = doc_at("const cfg = {name: 'x'};\nconsole.log(cfg.na|me);\n", "javascript")
    with pytest.raises(RenameError, match="supported in Lua spells only"):
        rename(doc, real_index, line, ch, "title", ENC)


def test_completion_after_self_lists_what_the_methods_set(real_index: ApiIndex) -> None:
    src = ("local obj = {name = 'x'}\nfunction obj:greet() return 1 end\nfunction obj:init() self.count = 0 end\n"
           "obj.extra = 2\nlocal other = {}\nfunction other:m() self.nope = 1 end\n"
           "function obj:m()\n  return self:|\nend\n")
    doc, line, ch = doc_at(src)
    got = _labels(completion(doc, real_index, line, ch, OPTS))
    assert set(got) == {"name", "greet", "init", "count", "extra", "m"}  # not ``other``'s ``nope``


def test_hover_on_self_of_a_global_table(real_index: ApiIndex) -> None:
    doc, line, ch = doc_at("M = {}\nfunction M:go()\n  return se|lf\nend\n")
    h = hover(doc, real_index, line, ch, OPTS)
    assert "`self` is `M`: the table this method is defined on" in \
        (h.value() if hasattr(h, "value") else h)["contents"]["value"]  # type: ignore[index]
