"""prepareRename / rename over the pure functions: what is renamed, what is refused and why."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from lsp_helpers import doc_at
from lsprotocol import types as lsp

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.documents import Documents
from llmspell_ls.features.rename import RenameError, prepare_rename, rename

ENC = "utf-16"


def apply(text: str, edits: Sequence[lsp.TextEdit]) -> str:
    lines = text.split("\n")
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        r = e.range
        assert r.start.line == r.end.line
        ln = lines[r.start.line]
        lines[r.start.line] = ln[:r.start.character] + e.new_text + ln[r.end.character:]
    return "\n".join(lines)


def renamed(src: str, new: str, index: ApiIndex, lang: str = "lua") -> str:
    doc, line, ch = doc_at(src, lang)
    ws = rename(doc, index, line, ch, new, ENC)
    assert ws is not None and ws.changes is not None
    return apply(doc.text, ws.changes.get(doc.uri, []))


def refused(src: str, new: str, index: ApiIndex, lang: str = "lua") -> str:
    doc, line, ch = doc_at(src, lang)
    with pytest.raises(RenameError) as e:
        rename(doc, index, line, ch, new, ENC)
    return str(e.value)


def test_rename_a_local_and_its_uses_only(index: ApiIndex) -> None:
    src = "local x = 1\nlocal function f(x)\n  return x\nend\nprint(|x + x)"
    assert renamed(src, "total", index) == "local total = 1\nlocal function f(x)\n  return x\nend\nprint(total + total)"


def test_rename_a_parameter(index: ApiIndex) -> None:
    src = "local x = 1\nlocal function f(|x)\n  x = x + 1\n  return x\nend\nprint(x)"
    assert renamed(src, "n", index) == "local x = 1\nlocal function f(n)\n  n = n + 1\n  return n\nend\nprint(x)"


def test_rename_a_for_variable_and_an_upvalue(index: ApiIndex) -> None:
    assert renamed("for |i = 1, 3 do\n  local f = function() return i end\nend", "k", index) == \
        "for k = 1, 3 do\n  local f = function() return k end\nend"


def test_rename_a_local_function(index: ApiIndex) -> None:
    assert renamed("local function fa|ct(n) return n < 2 and 1 or n * fact(n - 1) end\nprint(fact(5))",
                   "factorial", index) == \
        "local function factorial(n) return n < 2 and 1 or n * factorial(n - 1) end\nprint(factorial(5))"


def test_rename_a_user_global(index: ApiIndex) -> None:
    assert renamed("function helper() end\nhel|per()\nlocal function g(helper) return helper end", "aid", index) == \
        "function aid() end\naid()\nlocal function g(helper) return helper end"


def test_js_rename_keeps_shorthand_keys(index: ApiIndex) -> None:
    src = "const {text} = r;\nconst o = {text, n: 1};\nconsole.log(te|xt);"
    assert renamed(src, "body", index, "javascript") == \
        "const {text: body} = r;\nconst o = {text: body, n: 1};\nconsole.log(body);"


def test_js_rename_block_scoped(index: ApiIndex) -> None:
    src = "let a = 1;\n{ let a = 2; a += 1; }\nconsole.log(|a);"
    assert renamed(src, "b", index, "javascript") == "let b = 1;\n{ let a = 2; a += 1; }\nconsole.log(b);"


def test_prepare_rename_returns_the_name_range(index: ApiIndex) -> None:
    doc, line, ch = doc_at("local count = 1\nprint(co|unt)")
    rng = prepare_rename(doc, index, line, ch, ENC)
    assert rng is not None and (rng.start.line, rng.start.character, rng.end.character) == (1, 6, 11)


def test_prepare_rename_on_whitespace_is_null(index: ApiIndex) -> None:
    doc, line, ch = doc_at("local x = 1\n|\n")
    assert prepare_rename(doc, index, line, ch, ENC) is None


@pytest.mark.parametrize(("src", "message"), [
    ("local a = Ag|ent.builder()", "cannot rename an llmspell API global"),
    ("local a = Agent.buil|der()", "cannot rename an llmspell API member"),
    ('Tool.execute("calcul|ator", {})', "cannot rename a builtin tool name"),
    ("pri|nt(1)", "cannot rename the Lua builtin 'print'"),
    ("lo|cal x = 1", "cannot rename the Lua keyword 'local'"),
    ("local M = make()\nfunction M.go() end\nM.g|o()", "cannot rename the field 'go' of 'M'"),
    ("print(undefi|ned_thing)", "not assigned in any open document"),
])
def test_prepare_rename_refuses(real_index: ApiIndex, src: str, message: str) -> None:
    doc, line, ch = doc_at(src)
    with pytest.raises(RenameError, match=message):
        prepare_rename(doc, real_index, line, ch, ENC)


def test_js_keyword_and_builtin_refused(index: ApiIndex) -> None:
    doc, line, ch = doc_at("con|st x = 1;", "javascript")
    with pytest.raises(RenameError, match="keyword 'const'"):
        prepare_rename(doc, index, line, ch, ENC)
    doc, line, ch = doc_at("cons|ole.log(1);", "javascript")
    with pytest.raises(RenameError, match="builtin 'console'"):
        prepare_rename(doc, index, line, ch, ENC)


@pytest.mark.parametrize(("new", "message"), [
    ("1abc", "not a valid Lua identifier"),
    ("a-b", "not a valid Lua identifier"),
    ("end", "is a Lua keyword"),
    ("", "not a valid Lua identifier"),
])
def test_invalid_new_names(index: ApiIndex, new: str, message: str) -> None:
    assert message in refused("local x = 1\nprint(|x)", new, index)


def test_new_name_that_is_an_api_global(real_index: ApiIndex) -> None:
    assert "llmspell API global" in refused("local x = 1\nprint(|x)", "Agent", real_index)


def test_js_new_name_checks(index: ApiIndex) -> None:
    assert "JavaScript keyword" in refused("let x = 1;\nx|;", "class", index, "javascript")
    assert renamed("let x = 1;\nx|;", "$el", index, "javascript") == "let $el = 1;\n$el;"


def test_conflict_in_the_same_scope(index: ApiIndex) -> None:
    assert "already declared in this scope (line 2)" in refused("local x = 1\nlocal y = 2\nprint(|x)", "y", index)


def test_rename_that_would_be_captured_by_an_inner_binding(index: ApiIndex) -> None:
    msg = refused("local x = 1\nlocal function f(y)\n  return |x + y\nend", "y", index)
    assert "would make line 3 refer to another 'y'" in msg


def test_rename_that_would_capture_an_outer_use(index: ApiIndex) -> None:
    msg = refused("local y = 1\nlocal function f()\n  local |x = 2\n  return y\nend", "y", index)
    assert "would capture the use of 'y' on line 4" in msg


def test_rename_to_a_shadowing_name_without_conflict_is_fine(index: ApiIndex) -> None:
    src = "local y = 1\nlocal function f()\n  local |x = 2\n  return x\nend\nprint(y)"
    assert renamed(src, "y", index) == "local y = 1\nlocal function f()\n  local y = 2\n  return y\nend\nprint(y)"


def test_global_rename_refused_when_it_would_merge(index: ApiIndex) -> None:
    assert "already a global" in refused("function a() end\nfunction b() end\n|a()", "b", index)


def test_document_changes_carry_the_version(index: ApiIndex) -> None:
    doc, line, ch = doc_at("local x = 1\nprint(|x)")
    ws = rename(doc, index, line, ch, "y", ENC, document_changes=True)
    assert ws is not None and ws.changes is None and ws.document_changes is not None
    (edit,) = ws.document_changes
    assert isinstance(edit, lsp.TextDocumentEdit)
    assert edit.text_document.uri == doc.uri and edit.text_document.version == 1 and len(edit.edits) == 2


def test_global_rename_spans_open_documents(index: ApiIndex) -> None:
    other = Documents().open("file:///work/lib.lua", "function helper() return 1 end\n", 1, "lua")
    js = Documents().open("file:///work/x.js", "helper();\n", 1, "javascript")
    doc, line, ch = doc_at("print(help|er())")
    ws = rename(doc, index, line, ch, "aid", ENC, [other, js])
    assert ws is not None and ws.changes is not None
    assert sorted(ws.changes) == ["file:///work/lib.lua", "file:///work/spell.lua"]
    assert apply(other.text, ws.changes["file:///work/lib.lua"]) == "function aid() return 1 end\n"
