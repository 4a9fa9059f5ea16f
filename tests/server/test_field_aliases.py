"""Fields followed through the variables that provably hold the same table (issue 12): rename,
references, documentHighlight and definition of ``cfg.model`` reach ``c.model`` after ``local c = cfg``
(chains of such aliases, ``self`` in the methods of any of them, fields assigned later), from the
constructor's key as from any use; a table that leaves through a use rename cannot follow (a call, another
table or variable, a return) is refused with the place named. Over the pure functions."""

from __future__ import annotations

import pytest
from lsp_helpers import doc_at
from test_self_and_fields import ENC, refused, renamed, spots

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.features.navigation import (
    definition,
    highlights,
    references,
    table_group,
    target_at,
)

ALIASES = '''local cfg = {model = "x", temperature = 0.2}
local c = cfg
local d = c
print(c.model, d.model)
cfg.extra = 1
function d:describe() return self.model .. self.extra end
local other = {model = "y"}
print(other.model, cfg.temperature)
'''
"""cfg, its aliases c and d (a chain), a method on d, a field assigned later, and another table."""

RENAMED = ALIASES.replace("model", "name").replace('{name = "y"}', '{model = "y"}').replace(
    "other.name", "other.model")


@pytest.mark.parametrize("cursor", [
    ('{mo', 1),  # the constructor's key
    ("c.mo", 3),  # through the alias
    ("d.mo", 3),  # through the alias of the alias
    ("self.mo", 6),  # self in a method defined on an alias
])
def test_rename_a_field_from_any_place_renames_it_through_every_alias(real_index: ApiIndex,
                                                                      cursor: tuple[str, int]) -> None:
    needle, shift = cursor
    k = ALIASES.index(needle) + shift
    assert renamed(ALIASES[:k] + "|" + ALIASES[k:], "name", real_index) == RENAMED


def test_rename_a_field_assigned_later_through_an_alias(real_index: ApiIndex) -> None:
    src = "local cfg = {}\nlocal c = cfg\nc.ex|tra = 1\nprint(cfg.extra, c.extra)\n"
    assert renamed(src, "more", real_index) == "local cfg = {}\nlocal c = cfg\nc.more = 1\nprint(cfg.more, c.more)\n"


def test_an_alias_does_not_reach_a_shadowing_variable_of_the_same_name(real_index: ApiIndex) -> None:
    src = ('local cfg = {model = "x"}\nlocal c = cfg\ndo\n  local c = {model = "y"}\n  print(c.model)\nend\n'
           "print(c.mo|del)\n")
    assert renamed(src, "m", real_index) == (
        'local cfg = {m = "x"}\nlocal c = cfg\ndo\n  local c = {model = "y"}\n  print(c.model)\nend\nprint(c.m)\n')


def test_passing_a_table_to_print_or_comparing_it_does_not_block_rename(real_index: ApiIndex) -> None:
    src = 'local cfg = {model = "x"}\nlocal c = cfg\nprint(cfg, tostring(c), c == cfg)\nprint(c.mo|del)\n'
    assert renamed(src, "m", real_index) == src.replace("|", "").replace("model", "m")


def test_references_highlights_and_definition_follow_the_aliases(real_index: ApiIndex) -> None:
    k = ALIASES.index("d.mo") + 3
    doc, line, ch = doc_at(ALIASES[:k] + "|" + ALIASES[k:])
    want = [(0, 13), (3, 8), (3, 17), (5, 34)]
    assert spots(references(doc, real_index, line, ch, ENC, True)) == want
    assert spots(references(doc, real_index, line, ch, ENC, False)) == want[1:]
    assert [(h.range.start.line, h.range.start.character, int(h.kind or 0))
            for h in highlights(doc, real_index, line, ch, ENC) or []] == [
        (0, 13, 3), (3, 8, 2), (3, 17, 2), (5, 34, 2)]
    assert spots(definition(doc, real_index, line, ch, ENC)) == [(0, 13)]  # the constructor's key
    k = ALIASES.index("extra", ALIASES.index("self.extra"))
    doc, line, ch = doc_at(ALIASES[:k] + "|" + ALIASES[k:])
    assert spots(definition(doc, real_index, line, ch, ENC)) == [(4, 4)]  # ``cfg.extra = 1``


def test_references_from_the_constructor_key(real_index: ApiIndex) -> None:
    doc, line, ch = doc_at(ALIASES.replace("{model", "{mo|del", 1))
    assert spots(references(doc, real_index, line, ch, ENC, True)) == [(0, 13), (3, 8), (3, 17), (5, 34)]


def test_the_group_of_a_table(real_index: ApiIndex) -> None:
    src = 'local cfg = {model = "x"}\nlocal c = cfg\nlocal d = c\nf(d)\nlocal t = {c}\nprint(d.model)\nreturn cfg\n'
    doc, line, ch = doc_at(src.replace("local d = c", "local d = |c"))
    t = target_at(doc, real_index, line, ch, ENC)
    assert t is not None and t.kind == "local"
    doc, line, ch = doc_at(src.replace("d.model", "d.mo|del"))
    t = target_at(doc, real_index, line, ch, ENC)
    assert t is not None and t.kind == "field" and t.owner == "d"
    g = table_group(doc, real_index, t)
    assert [m.name for m in g.members] == ["cfg", "c", "d"]
    assert g.escapes == [(4, "line 4 passes 'd' to 'f'"), (5, "line 5 stores 'c' in another table"),
                         (7, "line 7 returns 'cfg'")]
    assert g.stop is None


@pytest.mark.parametrize(("src", "message"), [
    ('local cfg = {model = "x"}\nlocal c = cfg\nsetup(c)\nprint(cfg.mo|del)\n',
     "line 3 passes 'c' to 'setup', where its fields may be used under their names (not followed)"),
    ('local cfg = {model = "x"}\nlocal c = cfg\nlocal agent = Agent.builder():config(c)\nprint(cfg.mo|del)\n',
     "line 3 passes 'c' to 'Agent.builder():config'"),
    ('local cfg = {model = "x"}\nlocal holder = {inner = cfg}\nprint(cfg.mo|del)\n',
     "line 2 stores 'cfg' in another table"),
    ('local cfg = {model = "x"}\nlocal function get() return cfg end\nprint(cfg.mo|del)\n', "line 2 returns 'cfg'"),
    ('local cfg = {model = "x"}\nlocal c\nc = cfg\nprint(cfg.mo|del)\n', "line 3 assigns 'cfg' to 'c'"),
    ('local cfg = {model = "x"}\nlocal c = cfg\nsaved = c\nprint(c.mo|del)\n', "line 3 assigns 'c' to 'saved'"),
    ('local cfg = {model = "x"}\nfunction cfg:m() return helper(self) end\nprint(cfg.mo|del)\n',
     "line 2 passes 'self' to 'helper'"),
    ('local cfg = {model = "x"}\nlocal c = cfg\nc = {}\nprint(cfg.mo|del)\n',
     "'c' (an alias of 'cfg') is assigned again on line 3"),
    ('local cfg = {model = "x"}\nlocal c = cfg\nc = {}\nprint(c.mo|del)\n', "'c' is assigned again on line 3"),
    ('local cfg = {model = "x"}\nlocal c = wrap(cfg)\nprint(c.mo|del)\n',
     "'c' is not a table constructed in this file (line 2)"),
    ('cfg = {model = "x"}\nlocal c = cfg\nprint(c.mo|del)\n', "'c' holds the global 'cfg' (line 2)"),
    ('local function f(opts)\n  local o = opts\n  return o.mo|del\nend\n',
     "'opts' is a parameter (through 'opts'): its value (and fields) come from elsewhere"),
    ('local M = {}\nlocal A = M\nfunction A.r|un() end\nreturn M\n', "the chunk returns 'M' (a module)"),
    ('local cfg = {model = "x"}\nlocal c = cfg\nprint(c["model"], cfg.mo|del)\n', "line 3 spells it as a string key"),
])
def test_an_alias_that_cannot_be_proven_is_refused_naming_the_place(real_index: ApiIndex, src: str,
                                                                     message: str) -> None:
    assert message in refused(src, "other", real_index, prepare=True)


def test_a_new_name_the_table_has_through_an_alias_is_refused(real_index: ApiIndex) -> None:
    src = 'local cfg = {model = "x"}\nlocal c = cfg\nc.name = 1\nprint(cfg.mo|del)\n'
    assert "'cfg' already has a field 'name' (line 3)" in refused(src, "name", real_index)


def test_a_value_in_a_constructor_is_still_the_local_it_names(real_index: ApiIndex) -> None:
    doc, line, ch = doc_at("local x = 1\nlocal t = {x = |x}\nprint(t.x, x)\n")
    assert spots(references(doc, real_index, line, ch, ENC, True)) == [(0, 6), (1, 15), (2, 11)]
    doc, line, ch = doc_at("local x = 1\nlocal t = {|x = x}\nprint(t.x, x)\n")
    assert spots(references(doc, real_index, line, ch, ENC, True)) == [(1, 11), (2, 8)]
