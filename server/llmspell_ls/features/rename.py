"""textDocument/prepareRename and textDocument/rename for locals, parameters and a spell's own globals.

Refused with a message the editor shows (:class:`RenameError`): llmspell API globals and members, tool
names, the language's keywords and builtins (``print``, ``console`` …), a new name that is not an
identifier or is a keyword, and a new name that would change what a name refers to (declared in the
same scope already, capturing a use of the renamed binding, or being captured by it). JS shorthand
properties keep their key: ``{name}`` becomes ``{name: renamed}``.

Fields (Lua): a field of a **local table built in this document** (``local cfg = {name = "x"}`` or
``local M = {}`` then ``M.k = …`` / ``function M:m()``) is renamed in the constructor's key and every
``v.name`` / ``v:name`` / ``function v:name()`` where ``v`` provably holds that table: ``cfg`` itself and
its aliases (``local c = cfg``, chains of them), ``self.name`` / ``self:name()`` in the methods of any of
them included (see :func:`llmspell_ls.features.navigation.table_group`), from the key or from any use.
Refused, each with its reason: a receiver that may hold an API object or a value from elsewhere (a
parameter, a call's result, a table not built here, a global), a global table (other files may use it), a
table the chunk returns (a module: other files may use its fields), a table or alias reassigned after its
declaration, a use that lets the table out where its fields may be read by name (passed to a function
other than ``print``/``tostring``/…, stored in another table or variable, returned: the message names the
line), a field also spelled as a string key (``cfg["name"]``, ``{["name"] = …}``), and a new name the
table already has.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lsprotocol import types as lsp
from tree_sitter import Node

from llmspell_ls.analysis.scopes import NameOcc, name_occurrences
from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.budget import checkpoint
from llmspell_ls.documents import DocState
from llmspell_ls.features.navigation import (
    TableGroup,
    Target,
    byte_range,
    checked,
    cursor_byte,
    decl_value,
    field_occurrences,
    occ_range,
    reassigned,
    table_group,
    target_at,
)

LUA_KEYWORDS = frozenset({"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
                          "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"})
JS_KEYWORDS = frozenset({
    "await", "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else",
    "enum", "export", "extends", "false", "finally", "for", "function", "if", "implements", "import", "in",
    "instanceof", "interface", "let", "new", "null", "package", "private", "protected", "public", "return", "static",
    "super", "switch", "this", "throw", "true", "try", "typeof", "var", "void", "while", "with", "yield",
    "undefined", "NaN", "Infinity", "arguments", "eval"})
LUA_BUILTINS = frozenset({
    "_G", "_ENV", "_VERSION", "assert", "collectgarbage", "coroutine", "debug", "dofile", "error", "getmetatable",
    "io", "ipairs", "load", "loadfile", "math", "next", "os", "package", "pairs", "pcall", "print", "rawequal",
    "rawget", "rawlen", "rawset", "require", "select", "setmetatable", "string", "table", "tonumber", "tostring",
    "type", "utf8", "xpcall", "self", "arg"})
JS_BUILTINS = frozenset({
    "Array", "ArrayBuffer", "BigInt", "Boolean", "DataView", "Date", "Error", "EvalError", "Function", "JSON",
    "Map", "Math", "Number", "Object", "Promise", "Proxy", "RangeError", "ReferenceError", "Reflect", "RegExp",
    "Set", "String", "Symbol", "SyntaxError", "TypeError", "URIError", "WeakMap", "WeakSet", "console",
    "globalThis", "isFinite", "isNaN", "parseFloat", "parseInt", "queueMicrotask", "setTimeout", "clearTimeout",
    "sleep", "print", "require", "module", "exports"})
_LUA_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_JS_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")


class RenameError(Exception):
    """A rename that is refused; the message is shown to the user."""


def _lang_name(doc: DocState) -> str:
    return "Lua" if doc.lang == "lua" else "JavaScript"


def _renamable(doc: DocState, index: ApiIndex, line: int, character: int, enc: str,
               others: list[DocState]) -> Target | None:
    """The target of a rename at the position, or None when the cursor is on nothing; raises for targets
    that cannot be renamed."""
    t = target_at(doc, index, line, character, enc)
    if t is None:
        word = _word_at(doc, line, character, enc)
        keywords = LUA_KEYWORDS if doc.lang == "lua" else JS_KEYWORDS
        if word in keywords:
            raise RenameError(f"cannot rename the {_lang_name(doc)} keyword '{word}'")
        return None
    if t.kind == "api_global":
        raise RenameError(f"cannot rename an llmspell API global ('{t.name}')")
    if t.kind == "api_member":
        raise RenameError(f"cannot rename an llmspell API member ('{t.owner}.{t.name}')")
    if t.kind == "tool":
        raise RenameError(f"cannot rename a builtin tool name ('{t.name}')")
    if t.kind == "self":
        raise RenameError(f"cannot rename 'self': it stands for '{t.owner}' in this method (rename '{t.owner}')")
    if t.kind == "field":
        _check_field_target(doc, index, t)
    if t.kind == "global":
        builtins = LUA_BUILTINS if doc.lang == "lua" else JS_BUILTINS
        if t.name in builtins:
            raise RenameError(f"cannot rename the {_lang_name(doc)} builtin '{t.name}'")
        docs = [doc, *(d for d in others if d.lang == doc.lang and d.uri != doc.uri)]
        if not any(o.write and o.binding < 0 for d in docs for o in checked(name_occurrences(d, t.name))):
            raise RenameError(f"cannot rename '{t.name}': it is not assigned in any open document")
    return t


def _field_refusal(doc: DocState, t: Target, why: str) -> RenameError:
    return RenameError(f"cannot rename the field '{t.name}' of '{t.owner}': {why}")


def _check_field_target(doc: DocState, index: ApiIndex, t: Target) -> None:
    """Raise unless ``t`` is a field of a local table built in this document, held only by variables that
    provably hold it (see the module docstring)."""
    if doc.lang != "lua":
        raise RenameError(f"cannot rename the field '{t.name}': renaming fields is supported in Lua spells only")
    if t.index < 0:
        raise _field_refusal(doc, t, f"'{t.owner}' is a global table, other files may use its fields")
    group = table_group(doc, index, t)
    if group.stop is not None:
        raise _field_refusal(doc, t, group.stop[1])
    origin = group.members[0]
    decl = origin.decl
    via = f" (through '{origin.name}')" if origin.name != t.owner else ""
    if decl is None:
        raise _field_refusal(doc, t, f"'{origin.name}' is a global table{via}, other files may use its fields")
    if decl.kind != "local":
        what = {"param": "a parameter", "for": "a loop variable"}.get(decl.kind, "not a table built here")
        raise _field_refusal(doc, t, f"'{origin.name}' is {what}{via}: its value (and fields) come from elsewhere")
    value = decl_value(doc, decl)
    if value is None or value.type != "table_constructor":
        raise _field_refusal(doc, t, f"'{origin.name}' is not a table constructed in this file "
                                     f"(line {decl.row + 1}){via}; its fields may belong to an llmspell API "
                                     "object or another module")
    for m in group.members:
        again = reassigned(m)
        if again is not None:
            alias = f" (an alias of '{origin.name}')" if m is not origin else ""
            raise _field_refusal(doc, t, f"'{m.name}'{alias} is assigned again on line {again.row + 1}")
    returned = _returned_by_chunk(doc, group)
    if returned is not None:
        raise _field_refusal(doc, t, f"the chunk returns '{returned}' (a module): other files may use its fields")
    if group.escapes:
        raise _field_refusal(doc, t, f"{group.escapes[0][1]}, where its fields may be used under their names "
                                     "(not followed)")
    line = _string_key_use(doc, group, t.name)
    if line is not None:
        raise _field_refusal(doc, t, f"line {line} spells it as a string key "
                                     f"('{t.owner}[\"{t.name}\"]' or '[\"{t.name}\"] ='): only identifier "
                                     "forms are renamed")


def _returned_by_chunk(doc: DocState, group: TableGroup) -> str | None:
    """The name of a variable of ``group`` the chunk returns (a module table), if any."""
    root = doc.tree.root_node
    for st in root.named_children:
        if st.type == "return_statement":
            for e in st.named_children:
                for x in e.named_children if e.type == "expression_list" else [e]:
                    if x.type == "identifier" and group.holds(doc, x):
                        return _node_text(doc, x)
    return None


def _string_key_use(doc: DocState, group: TableGroup, name: str) -> int | None:
    """Line (1-based) where the table of ``group`` is indexed or constructed with the string ``"name"``."""
    root = doc.tree.root_node
    rx = re.compile(rb"""(["'])""" + re.escape(name.encode()) + rb"\1")
    for i, m in enumerate(rx.finditer(doc.source)):
        if i % 64 == 0:
            checkpoint()
        node = root.named_descendant_for_byte_range(m.start(), m.end())
        while node is not None and node.type in ("string_content", "string"):
            if node.type == "string":
                break
            node = node.parent
        if node is None or node.type != "string" or node.parent is None:
            continue
        holder = node.parent
        if holder.type == "bracket_index_expression":
            recv = holder.child_by_field_name("table")
            if recv is not None and recv.type == "identifier":
                if group.holds(doc, recv):
                    return holder.start_point[0] + 1
                if _node_text(doc, recv) == "self":
                    return holder.start_point[0] + 1  # ``self["name"]``: could be this table: refuse
        if holder.type == "field" and holder.child_by_field_name("name") == node:
            return holder.start_point[0] + 1
    return None


def _node_text(doc: DocState, node: Node) -> str:
    return doc.source[node.start_byte:node.end_byte].decode("utf-8", "replace")


def _word_at(doc: DocState, line: int, character: int, enc: str) -> str:
    row, bcol = cursor_byte(doc, line, character, enc)
    text = doc.line(row)
    col = doc.byte_to_col(row, bcol)
    s = col
    while s > 0 and (text[s - 1].isalnum() or text[s - 1] in "_$"):
        s -= 1
    e = col
    while e < len(text) and (text[e].isalnum() or text[e] in "_$"):
        e += 1
    return text[s:e]


def prepare_rename(doc: DocState, index: ApiIndex, line: int, character: int, enc: str,
                   others: list[DocState] | None = None) -> lsp.Range | None:
    t = _renamable(doc, index, line, character, enc, others or [])
    if t is None:
        return None
    if t.kind == "field":
        return byte_range(doc, t.start, t.end, enc)
    o = next((o for o in checked(t.occs) if o.start == t.start), None)
    return occ_range(doc, o, enc) if o is not None else None


def check_new_name(doc: DocState, index: ApiIndex, new_name: str) -> None:
    lua = doc.lang == "lua"
    if not (_LUA_IDENT if lua else _JS_IDENT).match(new_name):
        raise RenameError(f"'{new_name}' is not a valid {_lang_name(doc)} identifier")
    if new_name in (LUA_KEYWORDS if lua else JS_KEYWORDS):
        raise RenameError(f"'{new_name}' is a {_lang_name(doc)} keyword")
    if new_name in index.globals:
        raise RenameError(f"'{new_name}' is an llmspell API global")


def _best(decls: list[NameOcc], at: int) -> NameOcc | None:
    best: NameOcc | None = None
    for d in checked(decls):
        s0, s1 = d.scope or (0, 0)
        if s0 <= at <= s1 and d.visible_from <= at and (best is None or d.start > best.start):
            best = d
    return best


def _line_of(o: NameOcc) -> int:
    return o.row + 1


def _check_local(doc: DocState, t: Target, new_name: str) -> None:
    decl = t.occs[t.index]
    group = [o for o in checked(t.occs) if o.binding == t.index]
    new_occs = name_occurrences(doc, new_name)
    new_decls = [o for o in new_occs if o.decl]
    for d in new_decls:
        if d.scope == decl.scope:
            raise RenameError(f"'{new_name}' is already declared in this scope (line {_line_of(d)})")
    for o in checked(group, 64):  # a use of the renamed binding must not end up bound to another declaration
        if o is decl:
            continue
        b = _best([decl, *new_decls], o.start)
        if b is not decl:
            where = f" (line {_line_of(b)})" if b is not None else ""
            raise RenameError(f"renaming to '{new_name}' would make line {_line_of(o)} refer to another "
                              f"'{new_name}'{where}")
    for o in checked(new_occs, 64):  # ... and an existing use of the new name must not be captured by it
        if o.decl:
            continue
        b = _best([decl, *new_decls], o.start)
        if b is decl:
            raise RenameError(f"renaming to '{new_name}' would capture the use of '{new_name}' on line "
                              f"{_line_of(o)}")


def _check_global(docs: list[DocState], t: Target, new_name: str) -> None:
    for d in docs:
        new_occs = name_occurrences(d, new_name)
        if any(o.binding < 0 for o in new_occs):
            raise RenameError(f"'{new_name}' is already a global in {d.uri.rsplit('/', 1)[-1]}")
        new_decls = [o for o in new_occs if o.decl]
        for o in checked(name_occurrences(d, t.name), 64):
            if o.binding < 0 and _best(new_decls, o.start) is not None:
                raise RenameError(f"renaming to '{new_name}' would make line {_line_of(o)} of "
                                  f"{d.uri.rsplit('/', 1)[-1]} refer to a local '{new_name}'")


def _edit(doc: DocState, o: NameOcc, old: str, new_name: str, enc: str) -> lsp.TextEdit:
    text = f"{old}: {new_name}" if o.shorthand and doc.lang != "lua" else new_name
    return lsp.TextEdit(range=occ_range(doc, o, enc), new_text=text)


def rename(doc: DocState, index: ApiIndex, line: int, character: int, new_name: str, enc: str,
           others: list[DocState] | None = None, document_changes: bool = False) -> lsp.WorkspaceEdit | None:
    others = others or []
    t = _renamable(doc, index, line, character, enc, others)
    if t is None:
        return None
    check_new_name(doc, index, new_name)
    edits: dict[str, tuple[DocState, list[lsp.TextEdit]]] = {}
    if t.kind == "field":
        if new_name == t.name:
            return lsp.WorkspaceEdit(changes={})
        occs = field_occurrences(doc, index, t)
        clash = field_occurrences(doc, index, Target("field", new_name, occs=t.occs, index=t.index, owner=t.owner))
        if clash:
            raise _field_refusal(doc, t, f"'{t.owner}' already has a field '{new_name}' (line "
                                         f"{byte_range(doc, clash[0][0], clash[0][1], enc).start.line + 1})")
        key_line = _string_key_use(doc, table_group(doc, index, t), new_name)
        if key_line is not None:
            raise _field_refusal(doc, t, f"line {key_line} uses '{new_name}' as a string key")
        edits[doc.uri] = (doc, [lsp.TextEdit(range=byte_range(doc, s, e, enc), new_text=new_name)
                                for s, e, _ in occs])
    elif t.kind == "local":
        if new_name == t.name:
            return lsp.WorkspaceEdit(changes={})
        _check_local(doc, t, new_name)
        edits[doc.uri] = (doc, [_edit(doc, o, t.name, new_name, enc) for o in checked(t.occs)
                                if o.binding == t.index])
    else:
        builtins = LUA_BUILTINS if doc.lang == "lua" else JS_BUILTINS
        if new_name in builtins:
            raise RenameError(f"'{new_name}' is a {_lang_name(doc)} builtin")
        docs = [doc, *(d for d in others if d.lang == doc.lang and d.uri != doc.uri)]
        if new_name == t.name:
            return lsp.WorkspaceEdit(changes={})
        _check_global(docs, t, new_name)
        for d in docs:
            es = [_edit(d, o, t.name, new_name, enc) for o in checked(name_occurrences(d, t.name))
                  if o.binding < 0]
            if es:
                edits[d.uri] = (d, es)
    if document_changes:
        return lsp.WorkspaceEdit(document_changes=[
            lsp.TextDocumentEdit(text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=d.version),
                                 edits=list(es)) for uri, (d, es) in edits.items()])
    return lsp.WorkspaceEdit(changes={uri: es for uri, (_, es) in edits.items()})


# ------------------------------------------------------------------ huge documents: a local's scope alone
SCOPE_MAX_LINES = 20_000
"""How far up from the cursor :func:`scope_slice` looks for the block holding a local's scope."""
SCOPE_MAX_BYTES = 1024 * 1024
"""The largest block :func:`scope_slice` parses alone."""
_BLOCK_START = {
    "lua": re.compile(r"(?:do|function|local\s+function|for|while|if|repeat)\b"),
    "javascript": re.compile(r"(?:(?:async\s+)?function|class|if|for|while|do|try|switch)\b"),
}
_SENTINEL = {"lua": "\ndo end\n", "javascript": "\n;{}\n"}


class OutOfScope(Exception):
    """The target is not a local whose scope lies in a block found around the cursor (a global, a field,
    a local of the chunk itself): renaming it needs the whole document."""


def scope_slice(doc: DocState, line: int) -> Iterator[tuple[DocState, Node]]:
    """A snapshot holding only the statement that starts at a line beginning a block at column 0
    (``do``, ``function`` …) nearest above ``line`` and contains it, parsed alone: the other lines are
    empty, so rows and columns are the document's. The statement's extent is sure when a token follows
    it in the lines parsed (or the document ends): its parse is the whole document's (an LR parse of the
    text before it decided nothing else, as the line starts a statement). Each such statement, innermost
    first (at most 8 lines tried), within ``SCOPE_MAX_LINES`` / ``SCOPE_MAX_BYTES``."""
    lines = doc.lines
    pat = _BLOCK_START.get(doc.lang)
    if not 0 <= line < len(lines) or pat is None:
        return
    tried = 0
    for a in range(line, max(-1, line - SCOPE_MAX_LINES), -1):
        s = lines[a]
        if not s or s[0] in " \t" or not pat.match(s):
            continue
        tried += 1
        if tried > 8:
            return
        checkpoint()
        end = min(len(lines), line + 200)
        while True:
            text = "\n".join(lines[a:end])
            if len(text) > SCOPE_MAX_BYTES:
                return
            part = DocState(doc.uri, doc.lang, doc.version, text)
            kids = part.tree.root_node.children
            first = kids[0] if kids else None
            if first is None or first.start_point != (0, 0):
                break  # the line does not start a statement: the next one up
            cut = end < len(lines) and first.end_byte >= len(part.source.rstrip())
            if first.has_error or cut:
                if end >= len(lines) or (not cut and len(kids) > 1 and not kids[-1].has_error):
                    break  # a syntax error of its own: not this one
                end = min(len(lines), line + (end - line) * 8)
                continue
            if first.end_point[0] < line - a:
                break  # it ends above the cursor: a block further up may hold both
            last_row = a + first.end_point[0]
            full = "\n" * a + "\n".join(lines[a:last_row + 1]) + _SENTINEL[doc.lang]
            sub = DocState(doc.uri, doc.lang, doc.version, full)
            root = sub.tree.root_node
            if not root.has_error and root.children:
                yield sub, root.children[0]
            break


def _scoped_target(doc: DocState, index: ApiIndex, line: int, character: int, enc: str) -> tuple[DocState, Target]:
    """The local under the cursor in :func:`scope_slice`'s snapshot, whose scope lies inside the block."""
    for sub, block in scope_slice(doc, line):
        t = target_at(sub, index, line, character, enc)
        if t is None:
            word = _word_at(sub, line, character, enc)
            if word in (LUA_KEYWORDS if doc.lang == "lua" else JS_KEYWORDS):
                raise RenameError(f"cannot rename the {_lang_name(doc)} keyword '{word}'")
            raise OutOfScope  # on nothing here: the whole document decides
        if t.kind != "local":
            continue  # declared above the block (or a global, a field): a block further up may hold it
        scope = t.occs[t.index].scope
        if scope is None or scope[1] > block.end_byte or scope[0] < block.start_byte:
            continue  # declared at the block's level: its scope goes on after it
        return sub, t
    raise OutOfScope


def prepare_rename_in_scope(doc: DocState, index: ApiIndex, line: int, character: int,
                            enc: str) -> lsp.Range | None:
    """:func:`prepare_rename` of a local on a huge document, from its block alone (:func:`scope_slice`);
    :class:`OutOfScope` when it is not such a local."""
    sub, _t = _scoped_target(doc, index, line, character, enc)
    return prepare_rename(sub, index, line, character, enc)


def rename_in_scope(doc: DocState, index: ApiIndex, line: int, character: int, new_name: str, enc: str,
                    document_changes: bool = False) -> lsp.WorkspaceEdit | None:
    """:func:`rename` of a local on a huge document, from its block alone (:func:`scope_slice`): the
    same edits and refusals (every use of the local, and every clash with the new name, is inside its
    scope); :class:`OutOfScope` when it is not such a local."""
    sub, _t = _scoped_target(doc, index, line, character, enc)
    return rename(sub, index, line, character, new_name, enc, [], document_changes)
