"""textDocument/definition, references and documentHighlight.

What the cursor is on decides the answer (:func:`target_at`):

* a **local** (Lua ``local``, parameter, ``for`` variable, local function, upvalue; JS ``let``/``const``/
  ``var``, parameter, function, class, import): its declaration and every use it binds, shadowing
  respected (:func:`llmspell_ls.analysis.scopes.name_occurrences`);
* an **llmspell API global** (``Agent``) or **API member** (``Agent.builder``, ``builder:model``, typed
  through the chain like hover): its declaration in the generated stub file; its uses across the open
  documents of the same language;
* a **user global** (``function helper() end`` without ``local``): its assignments; its uses across the
  open documents of the same language;
* a **field of a local table** (``M.run`` / ``M:run`` / ``function M:run()``, or the key of
  ``local M = {run = …}``): the ``function M:run()`` / ``M.run = …`` / ``{run = …}`` that set it on the
  same table, followed through the variables that provably hold it (``local c = M`` and chains of such
  aliases: :func:`table_group`); ``self.run`` / ``self:run()`` inside ``function M:m()`` (or a method of
  an alias) count as ``M``'s (a user global table's fields are found the same way);
* Lua **``self``** inside ``function M:m()`` (also in functions nested in it): it stands for ``M`` —
  definition goes to ``M``'s declaration, references are ``M``'s uses plus the ``self`` of ``M``'s methods;
* a **tool name** in a string where a tool is expected (``Tool.execute("calculator", …)``): the tool's
  entry in the stub; its other mentions as strings.

The functions are pure over document snapshots and return lsprotocol types; positions are converted
to the client's encoding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from lsprotocol import types as lsp
from tree_sitter import Node

from llmspell_ls.analysis.common import analyze, chain_backward, spec_for, tokenize
from llmspell_ls.analysis.scopes import (
    WORD_BYTES,
    NameOcc,
    ident_spans,
    lua_declaration_of,
    method_receiver,
    name_occurrences,
)
from llmspell_ls.apimodel import ApiIndex, Field, Function
from llmspell_ls.budget import Cancelled, checkpoint
from llmspell_ls.documents import DocState
from llmspell_ls.features import stub_locations
from llmspell_ls.features.common import client_to_col, col_to_client, context_window, engine_for

T = TypeVar("T")
LUA_MEMBER_PARENTS = ("dot_index_expression", "method_index_expression")
CHECK_EVERY = 256
"""Loops over matches / occurrences call :func:`~llmspell_ls.budget.checkpoint` this often (a cancelled or
over-budget request stops there)."""


@dataclass(slots=True)
class Target:
    """What a position refers to."""

    kind: str
    """``local`` | ``global`` | ``api_global`` | ``api_member`` | ``field`` | ``tool`` | ``self``"""
    name: str
    start: int = 0
    """Byte range of the name (or the string's value) under the cursor."""
    end: int = 0
    occs: list[NameOcc] = field(default_factory=list)
    index: int = -1
    """``local``: the declaration's index in ``occs``; ``field`` / ``self``: the receiver's binding (-1: a
    global table)."""
    owner: str = ""
    """``api_member``: the class or global owning the member; ``field`` / ``self``: the receiver's name
    (``M`` for ``self.x`` in ``function M:m()``)."""


def checked(items: Iterable[T], every: int = CHECK_EVERY) -> Iterator[T]:
    """``items``, calling :func:`~llmspell_ls.budget.checkpoint` before the first and every ``every``-th."""
    for i, x in enumerate(items):
        if i % every == 0:
            checkpoint()
        yield x


# ------------------------------------------------------------------------------------------ positions
def line_bytes(doc: DocState) -> list[int]:
    """Byte offset of the start of every line (cached per version)."""
    got = doc.cache.get("_nav_line_bytes")
    if got is None:
        got = [0]
        src = doc.source
        i = src.find(b"\n")
        while i >= 0:
            got.append(i + 1)
            i = src.find(b"\n", i + 1)
        doc.cache["_nav_line_bytes"] = got
    return got  # type: ignore[no-any-return]


def cursor_byte(doc: DocState, line: int, character: int, enc: str) -> tuple[int, int]:
    """(row, byte column) of a client position (clamped to the document)."""
    row = max(0, min(line, len(doc.lines) - 1))
    col = client_to_col(doc.line(row), max(0, character), enc)
    return row, doc.col_to_byte(row, col)


Span = tuple[int, int, int, int]
"""(start line, start character, end line, end character) in the client's encoding."""
Loc = tuple[str, int, int, int, int]
"""A location as plain data: (uri, *span)."""


def point_at(doc: DocState, row: int, bcol: int, enc: str) -> tuple[int, int]:
    text = doc.line(row)
    return row, col_to_client(text, doc.byte_to_col(row, bcol), enc)


def point_pos(doc: DocState, row: int, bcol: int, enc: str) -> lsp.Position:
    line, ch = point_at(doc, row, bcol, enc)
    return lsp.Position(line=line, character=ch)


def byte_span(doc: DocState, start: int, end: int, enc: str) -> Span:
    """LSP range of a byte range of ``doc``, as plain data."""
    import bisect

    lb = line_bytes(doc)
    r0 = max(0, bisect.bisect_right(lb, start) - 1)
    r1 = max(0, bisect.bisect_right(lb, end) - 1)
    return (*point_at(doc, r0, start - lb[r0], enc), *point_at(doc, r1, end - lb[r1], enc))


def occ_span(doc: DocState, o: NameOcc, enc: str) -> Span:
    text = doc.line(o.row)
    if text.isascii():  # byte, code point and UTF-16 columns agree
        return o.row, o.col, o.row, o.col + o.end - o.start
    c0 = doc.byte_to_col(o.row, o.col)
    c1 = doc.byte_to_col(o.row, o.col + o.end - o.start)
    return o.row, col_to_client(text, c0, enc), o.row, col_to_client(text, c1, enc)


def to_range(span: Span) -> lsp.Range:
    return lsp.Range(start=lsp.Position(line=span[0], character=span[1]),
                     end=lsp.Position(line=span[2], character=span[3]))


def byte_range(doc: DocState, start: int, end: int, enc: str) -> lsp.Range:
    """LSP range of a byte range of ``doc``."""
    return to_range(byte_span(doc, start, end, enc))


def occ_range(doc: DocState, o: NameOcc, enc: str) -> lsp.Range:
    return to_range(occ_span(doc, o, enc))


def _range_json(a: int, b: int, c: int, d: int) -> str:
    return f'"range":{{"start":{{"line":{a},"character":{b}}},"end":{{"line":{c},"character":{d}}}}}'


def locations_json(locs: list[Loc] | None) -> str:
    """``Location[]`` (or ``null``) as JSON text, written directly: the same text the lsprotocol types
    give through cattrs, without building them (most of a navigation request's cost on a small answer)."""
    if locs is None:
        return "null"
    uris: dict[str, str] = {}
    parts = []
    for uri, a, b, c, d in locs:
        u = uris.get(uri)
        if u is None:
            u = uris[uri] = json.dumps(uri)
        parts.append(f'{{"uri":{u},{_range_json(a, b, c, d)}}}')
    return "[" + ",".join(parts) + "]"


def highlights_json(items: list[tuple[int, int, int, int, int]] | None) -> str:
    """``DocumentHighlight[]`` (or ``null``) as JSON text: (span..., kind) each."""
    if items is None:
        return "null"
    return "[" + ",".join(f'{{{_range_json(a, b, c, d)},"kind":{k}}}' for a, b, c, d, k in items) + "]"


def to_locations(locs: list[Loc]) -> list[lsp.Location]:
    return [lsp.Location(uri=u, range=to_range((a, b, c, d))) for u, a, b, c, d in locs]


def str_offset(doc: DocState, byte: int) -> int:
    """String (code point) offset of a byte offset."""
    import bisect

    lb = line_bytes(doc)
    row = max(0, bisect.bisect_right(lb, byte) - 1)
    return doc.offset(row, doc.byte_to_col(row, byte - lb[row]))


# ------------------------------------------------------------------------------------------ targets
_IDENT_TYPES = frozenset({"identifier", "shorthand_property_identifier", "shorthand_property_identifier_pattern",
                          "property_identifier"})
_STRING_TYPES = frozenset({"string", "string_content", "string_fragment", "template_string"})


def ident_at(doc: DocState, row: int, bcol: int) -> Node | None:
    """The identifier under (or just before) the cursor."""
    root = doc.tree.root_node
    for c in (bcol, bcol - 1):
        if c < 0:
            continue
        node = root.named_descendant_for_point_range((row, c), (row, c))
        if node is not None and node.type in _IDENT_TYPES:
            return node
    return None


def _node_text(doc: DocState, node: Node) -> str:
    return doc.source[node.start_byte:node.end_byte].decode("utf-8", "replace")


_NO_DECL = object()


def declaration_of(doc: DocState, node: Node, name: str) -> NameOcc | None:
    """:func:`lua_declaration_of`, kept per version and identifier: definition, references, highlight and
    rename asked on the same name (an editor's usual sequence) walk back to its declaration once."""
    key = ("_nav_decl", node.start_byte)
    got = doc.cache.get(key)
    if got is None:
        got = lua_declaration_of(doc, node, name)
        doc.cache[key] = _NO_DECL if got is None else got
    return None if got is _NO_DECL else got  # type: ignore[return-value]


def is_member_name(node: Node, lua: bool) -> bool:
    """``t.name`` / ``t:name`` (Lua) or ``o.name`` (JS): the name is a field, not a variable."""
    parent = node.parent
    if parent is None:
        return False
    if lua:
        return parent.type in LUA_MEMBER_PARENTS and parent.child_by_field_name("table") != node
    return node.type == "property_identifier" and parent.type == "member_expression"


def target_at(doc: DocState, index: ApiIndex, line: int, character: int, enc: str) -> Target | None:
    row, bcol = cursor_byte(doc, line, character, enc)
    lua = doc.lang == "lua"
    node = ident_at(doc, row, bcol)
    if node is None:
        return _tool_target(doc, index, row, bcol)
    name = _node_text(doc, node)
    if is_member_name(node, lua):
        return _member_target(doc, index, node, name)
    if lua and node.parent is not None and node.parent.type == "field" \
            and node.parent.child_by_field_name("name") == node:
        return _key_target(doc, node, name)  # ``{name = …}``: a key (None unless of a local's constructor)
    if lua and doc.tree.root_node.has_error is False:
        # a local: its declaration is usually a few lines up, and its uses are inside its scope
        d = declaration_of(doc, node, name)
        if d is not None:
            scoped = name_occurrences(doc, name, d.start, d.scope[1] if d.scope else None)
            k = next((k for k, o in enumerate(checked(scoped)) if o.start == node.start_byte), -1)
            if k >= 0 and scoped[k].binding >= 0 and scoped[scoped[k].binding].start == d.start:
                o = scoped[k]
                return Target("local", name, o.start, o.end, scoped, o.binding)
    occs = name_occurrences(doc, name)
    i = next((k for k, o in enumerate(checked(occs)) if o.start == node.start_byte), -1)
    if i < 0:
        return None  # a key, a label, a method definition's name in JS ...
    o = occs[i]
    if o.binding >= 0:
        return Target("local", name, o.start, o.end, occs, o.binding)
    if lua and name == "self":
        recv = self_receiver(doc, index, node.start_byte)
        if recv is None:
            return None
        rname, roccs, rb = recv
        return Target("self", "self", o.start, o.end, roccs, rb, owner=rname)
    kind = "api_global" if name in index.globals else "global"
    return Target(kind, name, o.start, o.end, occs)


_NOT_TABLES = frozenset({"string", "table", "math", "os", "io", "coroutine", "debug", "utf8", "package", "_G",
                         "_ENV", "arg", "bit32", "jit", "console", "JSON", "Math", "Object", "Array", "globalThis",
                         "Promise", "Reflect", "Number", "String", "Date"})
"""Library tables: their members are not the spell's fields."""


def self_receiver(doc: DocState, index: ApiIndex, byte: int) -> tuple[str, list[NameOcc], int] | None:
    """(name, its occurrences, binding) of the table an implicit ``self`` at ``byte`` stands for."""
    t = method_receiver(doc.tree.root_node, byte, doc.source)
    if t is None:
        return None
    rname = _node_text(doc, t)
    roccs = name_occurrences(doc, rname)
    r = next((o for o in checked(roccs) if o.start == t.start_byte), None)
    if r is None or (r.binding < 0 and (rname in index.globals or rname in _NOT_TABLES)):
        return None
    return rname, roccs, r.binding


def _table_of(doc: DocState, index: ApiIndex, recv: Node) -> tuple[str, list[NameOcc], int] | None:
    """The table a receiver names: a local's (or a user global's) binding, or ``self``'s table."""
    rname = _node_text(doc, recv)
    roccs = name_occurrences(doc, rname)
    r = next((o for o in checked(roccs) if o.start == recv.start_byte), None)
    if r is None:
        return None
    if r.binding >= 0:
        return rname, roccs, r.binding
    if rname == "self" and doc.lang == "lua":
        return self_receiver(doc, index, recv.start_byte)
    if rname in index.globals or rname in _NOT_TABLES:
        return None
    return rname, roccs, -1


def _member_target(doc: DocState, index: ApiIndex, node: Node, name: str) -> Target | None:
    api = api_member_of(doc, index, node, name)
    if api is not None:
        return Target("api_member", name, node.start_byte, node.end_byte, owner=api)
    recv = _receiver(node)
    if recv is None:
        return None
    got = _table_of(doc, index, recv)
    if got is None:
        return None
    rname, roccs, rb = got
    return Target("field", name, node.start_byte, node.end_byte, roccs, rb, owner=rname)


def _key_target(doc: DocState, node: Node, name: str) -> Target | None:
    """The key ``name`` of ``local t = {name = …}``: the field ``name`` of ``t``."""
    table = node.parent.parent if node.parent is not None else None
    got = assigned_to(table) if table is not None else None
    if got is None or not got[1] or got[0].type != "identifier":
        return None
    var = local_var(doc, got[0])
    if var is None:
        return None
    return Target("field", name, node.start_byte, node.end_byte, var.occs, var.binding, owner=var.name)


def assigned_to(value: Node) -> tuple[Node, bool] | None:
    """(the variable, whether it is a ``local`` declaration) that ``value`` is assigned to in
    ``[local] a, b = v1, v2``; None when ``value`` is not one of the values of an assignment, or no
    variable receives it."""
    exprs = value.parent
    st = exprs.parent if exprs is not None else None
    if exprs is None or st is None or exprs.type != "expression_list" or st.type != "assignment_statement":
        return None
    idx = next((k for k, c in enumerate(exprs.named_children) if c.id == value.id), -1)
    vl = next((c for c in st.named_children if c.type == "variable_list"), None)
    targets = vl.named_children if vl is not None else []
    if not 0 <= idx < len(targets):
        return None
    return targets[idx], st.parent is not None and st.parent.type == "variable_declaration"


def local_var(doc: DocState, name_node: Node) -> TableVar | None:
    """The variable a ``local`` declaration's name node declares."""
    name = _node_text(doc, name_node)
    occs = name_occurrences(doc, name)
    o = _occ_by_start(doc, name, occs).get(name_node.start_byte)
    return TableVar(name, occs, occs.index(o)) if o is not None and o.decl else None


def _receiver(node: Node) -> Node | None:
    """The plain variable a member is read from (``M`` in ``M.run``), if it is one."""
    parent = node.parent
    if parent is None:
        return None
    recv = parent.child_by_field_name("table" if parent.type in LUA_MEMBER_PARENTS else "object")
    if recv is not None and recv.type == "identifier":
        return recv
    return None


def api_member_of(doc: DocState, index: ApiIndex, node: Node, name: str) -> str | None:
    """The owner (class or global name) of the API member named by ``node``, typed through its chain."""
    s = str_offset(doc, node.start_byte)
    e = s + len(name)
    engine = engine_for(doc, index)
    spec = spec_for(doc.lang)
    toks = tokenize(spec, doc.text, context_window(doc, s), e)
    if not toks or toks[-1].kind != "name":
        return None
    segs, _ = chain_backward(spec, toks, len(toks) - 1)
    if len(segs) < 2:
        return None
    res = engine.type_of(segs, s)
    m = res.member
    if isinstance(m, Function):
        return m.owner
    if isinstance(m, Field) and res.owner is not None:
        return res.owner.name
    return None


def _tool_target(doc: DocState, index: ApiIndex, row: int, bcol: int) -> Target | None:
    """A string naming a builtin tool where the API expects a tool name."""
    if not index.tools:
        return None
    node = doc.tree.root_node.named_descendant_for_point_range((row, bcol), (row, bcol))
    while node is not None and node.type not in ("string", "template_string"):
        if node.type not in _STRING_TYPES:
            return None
        node = node.parent
    if node is None:
        return None
    raw = _node_text(doc, node)
    value = raw[1:-1] if len(raw) >= 2 and raw[0] in "'\"`" and raw[-1] == raw[0] else None
    if not value or value not in index.tools:
        return None
    off = str_offset(doc, node.start_byte) + 1
    from llmspell_ls.features.completion import param_at

    engine = engine_for(doc, index)
    ctx = analyze(engine, off, context_window(doc, off))
    p = param_at(ctx.call) if ctx.kind == "string" and ctx.call is not None else None
    if p is None or p.names != "tools":
        return None
    return Target("tool", value, node.start_byte + 1, node.end_byte - 1)


# ------------------------------------------------------------------------------------------ stubs
def stub_loc(t: Target, lang: str) -> Loc | None:
    if t.kind == "api_global":
        got = stub_locations.find_span(lang, t.name, *stub_locations.global_keys(t.name))
    elif t.kind == "api_member":
        got = stub_locations.find_span(lang, t.name, *stub_locations.member_keys(t.owner, t.name))
    elif t.kind == "tool":
        got = stub_locations.find_span(lang, t.name, *stub_locations.tool_keys(t.name))
    else:
        return None
    if got is None:
        return None
    path, line, c0, c1 = got
    return path.as_uri(), line, c0, line, c1


def stub_location(t: Target, lang: str) -> lsp.Location | None:
    got = stub_loc(t, lang)
    return to_locations([got])[0] if got is not None else None


# ------------------------------------------------------------------------------------------ fields
# A table's fields are followed through the variables that provably hold it (Lua): the variable it was
# built in (the *origin*) and its aliases, ``local c = cfg`` and chains of them (``local d = c``); the
# ``self`` of methods defined on any of them counts too. An alias is only followed through a plain
# ``local name = var`` whose variables are never assigned again; any other use that lets the table out
# (passed to a function, stored in another table or variable, returned) is recorded as an *escape*: the
# fields may be read there under their names, which rename cannot follow (it refuses, naming the place).
@dataclass(slots=True)
class TableVar:
    """A variable holding the table: ``binding`` is its declaration's index in ``occs`` (-1: a global)."""

    name: str
    occs: list[NameOcc]
    binding: int

    @property
    def key(self) -> tuple[str, int]:
        return self.name, self.occs[self.binding].start if self.binding >= 0 else -1

    @property
    def decl(self) -> NameOcc | None:
        return self.occs[self.binding] if self.binding >= 0 else None


@dataclass(slots=True)
class TableGroup:
    """The variables that provably hold one table: ``members[0]`` is the origin."""

    members: list[TableVar]
    keys: set[tuple[str, int]]
    escapes: list[tuple[int, str]]
    """(1-based line, what the use does) of each use that lets the table out of the group."""
    stop: tuple[int, str] | None = None
    """Why the origin could not be followed further back (line, reason): an alias assigned again, or one
    taking its value from a global."""

    def holds(self, doc: DocState, recv: Node) -> bool:
        """Is the plain variable ``recv`` (a receiver) one of the group's, at that place?"""
        name = _node_text(doc, recv)
        if not any(k[0] == name for k in self.keys):
            return False
        occs = name_occurrences(doc, name)
        o = _occ_by_start(doc, name, occs).get(recv.start_byte)
        if o is None:
            return False
        return (name, occs[o.binding].start if o.binding >= 0 else -1) in self.keys


SAFE_CALLS = frozenset({"print", "tostring", "type", "assert", "ipairs", "rawequal", "rawlen"})
"""Library functions a table may be passed to without its fields being read by name."""
_SAFE_PARENTS = frozenset({"binary_expression", "unary_expression", "if_statement", "elseif_statement",
                           "while_statement", "repeat_statement"})


def _occ_by_start(doc: DocState, name: str, occs: list[NameOcc]) -> dict[int, NameOcc]:
    key = ("_nav_occ_by_start", name)
    got = doc.cache.get(key)
    if got is None or got[0] is not occs:
        got = doc.cache[key] = (occs, {o.start: o for o in checked(occs)})
    return got[1]  # type: ignore[no-any-return]


def decl_value(doc: DocState, decl: NameOcc) -> Node | None:
    """The expression a ``local name = <value>`` declaration gives ``name``."""
    node = doc.tree.root_node.named_descendant_for_byte_range(decl.start, decl.end)
    vl = node.parent if node is not None else None
    st = vl.parent if vl is not None else None
    if node is None or vl is None or st is None or st.type != "assignment_statement":
        return None
    idx = next((i for i, c in enumerate(vl.named_children) if c.id == node.id), 0)
    exprs = next((c for c in st.named_children if c.type == "expression_list"), None)
    vals = exprs.named_children if exprs is not None else []
    return vals[idx] if idx < len(vals) else None


def reassigned(var: TableVar) -> NameOcc | None:
    """The first assignment to ``var`` after its declaration, if any."""
    if var.binding < 0:
        return None
    return next((o for o in checked(var.occs) if o.binding == var.binding and o.write and not o.decl), None)


def table_group(doc: DocState, index: ApiIndex, t: Target) -> TableGroup:
    """The group of variables holding the table of the field target ``t`` (cached per version)."""
    start = TableVar(t.owner, t.occs, t.index)
    key = ("_nav_table_group", start.key)
    got = doc.cache.get(key)
    if got is None:
        got = doc.cache[key] = _group(doc, index, start)
    return got  # type: ignore[no-any-return]


def _group(doc: DocState, index: ApiIndex, var: TableVar) -> TableGroup:
    if doc.lang != "lua":
        return TableGroup([var], {var.key}, [])
    origin, stop = _origin(doc, index, var)
    members = [origin]
    keys = {origin.key}
    escapes: list[tuple[int, str]] = []
    i = 0
    while i < len(members):
        m = members[i]
        i += 1
        for o in checked(m.occs):
            if o.binding != m.binding or o.decl or o.write:
                continue
            alias = _use(doc, _node_at(doc, o.start, o.end), m.name, escapes)
            if alias is not None and alias.key not in keys:
                keys.add(alias.key)
                members.append(alias)
    for m in members:  # ``self`` in the group's methods: the same table (a use of it may let it out too)
        for o in _self_uses(doc, m):
            _use(doc, _node_at(doc, o.start, o.end), "self", escapes)
    escapes.sort()
    return TableGroup(members, keys, escapes, stop)


def _origin(doc: DocState, index: ApiIndex, var: TableVar) -> tuple[TableVar, tuple[int, str] | None]:
    """Follow ``local c = cfg`` declarations back to the variable the table was made in."""
    seen = {var.key}
    for _ in range(64):
        decl = var.decl
        if decl is None or decl.kind != "local":
            break
        value = decl_value(doc, decl)
        if value is None or value.type != "identifier":
            break
        again = reassigned(var)
        if again is not None:
            return var, (again.row + 1, f"'{var.name}' is assigned again on line {again.row + 1}")
        name = _node_text(doc, value)
        occs = name_occurrences(doc, name)
        o = _occ_by_start(doc, name, occs).get(value.start_byte)
        if o is None:
            break
        if o.binding < 0:
            if name in index.globals or name in _NOT_TABLES:
                break
            return var, (decl.row + 1, f"'{var.name}' holds the global '{name}' (line {decl.row + 1})")
        nxt = TableVar(name, occs, o.binding)
        if nxt.key in seen:
            break
        seen.add(nxt.key)
        var = nxt
    return var, None


def _use(doc: DocState, node: Node, name: str, escapes: list[tuple[int, str]]) -> TableVar | None:
    """Classify one use of a variable of the group: an alias it declares (returned), a use that lets the
    table out (appended to ``escapes``), or a use that does neither (a field read, a comparison …)."""
    p = node.parent
    line = node.start_point[0] + 1
    if p is None:
        return None
    pt = p.type
    if pt in ("dot_index_expression", "method_index_expression", "bracket_index_expression"):
        if p.child_by_field_name("table") == node:
            return None
    elif pt in _SAFE_PARENTS:
        return None
    elif pt == "expression_list" and p.parent is not None:
        if p.parent.type == "assignment_statement":
            got = assigned_to(node)
            if got is None:
                return None  # a value nobody receives
            target, is_local = got
            alias = local_var(doc, target) if is_local and target.type == "identifier" else None
            if alias is not None:
                return alias
            escapes.append((line, f"line {line} assigns '{name}' to '{_node_text(doc, target)}'"))
            return None
        if p.parent.type == "return_statement":
            escapes.append((line, f"line {line} returns '{name}'"))
            return None
    elif pt == "arguments" and p.parent is not None:
        callee = p.parent.child_by_field_name("name")
        what = _node_text(doc, callee) if callee is not None else "a function"
        if callee is not None and callee.type == "identifier" and what in SAFE_CALLS:
            return None
        escapes.append((line, f"line {line} passes '{name}' to '{what}'"))
        return None
    elif pt == "field":
        escapes.append((line, f"line {line} stores '{name}' in another table"))
        return None
    escapes.append((line, f"line {line} uses '{name}' in a way that is not followed"))
    return None


def _self_uses(doc: DocState, var: TableVar) -> list[NameOcc]:
    """The implicit ``self`` occurrences inside the methods defined on ``var`` (``function var:m()``)."""
    root = doc.tree.root_node
    out = []
    for o in checked(name_occurrences(doc, "self"), 64):
        if o.binding >= 0:
            continue
        m = method_receiver(root, o.start, doc.source)
        if m is None or _node_text(doc, m) != var.name:
            continue
        r = _occ_by_start(doc, var.name, var.occs).get(m.start_byte)
        if r is not None and r.binding == var.binding:
            out.append(o)
    return out


def field_occurrences(doc: DocState, index: ApiIndex, t: Target) -> list[tuple[int, int, bool]]:
    """(start byte, end byte, is a write) of every ``recv.name`` whose receiver holds the table of ``t``
    (its variable, the variables aliasing it, and ``self`` in the methods of any of them), plus the keys of
    the constructor the table was made with."""
    out: list[tuple[int, int, bool]] = []
    lua = doc.lang == "lua"
    root = doc.tree.root_node
    group = table_group(doc, index, t)
    names = {k[0] for k in group.keys}
    for i, (ms, me) in enumerate(ident_spans(doc.source, t.name, WORD_BYTES, rb"[\w$]")):
        if i % CHECK_EVERY == 0:
            checkpoint()
        node = root.named_descendant_for_byte_range(ms, me)
        if node is None or node.start_byte != ms or node.end_byte != me:
            continue
        if not is_member_name(node, lua):
            continue
        recv = _receiver(node)
        if recv is None:
            continue
        rtext = _node_text(doc, recv)
        if rtext in names:
            if not group.holds(doc, recv):
                continue
        elif rtext != "self" or not lua or not _self_in(doc, recv, group):
            continue
        out.append((node.start_byte, node.end_byte, _is_field_write(node.parent)))
    decl = group.members[0].decl
    if decl is not None:
        out.extend(_constructor_keys(doc, decl, t.name))
    out.sort()
    return out


def _self_in(doc: DocState, recv: Node, group: TableGroup) -> bool:
    """Is the ``self`` at ``recv`` the table of ``group`` (a method defined on one of its variables)?"""
    occ = _occ_by_start(doc, "self", name_occurrences(doc, "self")).get(recv.start_byte)
    if occ is None or occ.binding >= 0:
        return False  # an explicit ``self`` parameter: not the method's table
    m = method_receiver(doc.tree.root_node, recv.start_byte, doc.source)
    return m is not None and group.holds(doc, m)


def self_occurrences(doc: DocState, t: Target) -> list[NameOcc]:
    """The implicit ``self`` occurrences that stand for the table of ``t``."""
    return _self_uses(doc, TableVar(t.owner, t.occs, t.index))


def _node_at(doc: DocState, start: int, end: int) -> Node:
    node = doc.tree.root_node.named_descendant_for_byte_range(start, end)
    assert node is not None
    return node


def _is_field_write(member: Node | None) -> bool:
    if member is None or member.parent is None:
        return False
    p = member.parent
    if p.type == "function_declaration" and p.child_by_field_name("name") == member:
        return True
    if p.type == "variable_list" and p.parent is not None and p.parent.type == "assignment_statement":
        return True
    return p.type == "assignment_expression" and p.child_by_field_name("left") == member


def _constructor_keys(doc: DocState, decl: NameOcc, name: str) -> list[tuple[int, int, bool]]:
    """``local M = {run = …}`` / ``const M = {run() {…}, run: …}``: the key ``run``."""
    table: Node | None = None
    if doc.lang == "lua":
        value = decl_value(doc, decl)
        table = value if value is not None and value.type == "table_constructor" else None
        keys = [c.child_by_field_name("name") for c in (table.named_children if table is not None else [])
                if c.type == "field"]
    else:
        node = doc.tree.root_node.named_descendant_for_byte_range(decl.start, decl.end)
        p = node.parent if node is not None else None
        value = p.child_by_field_name("value") if p is not None and p.type == "variable_declarator" else None
        table = value if value is not None and value.type == "object" else None
        keys = []
        for c in table.named_children if table is not None else []:
            if c.type == "pair":
                keys.append(c.child_by_field_name("key"))
            elif c.type == "method_definition":
                keys.append(c.child_by_field_name("name"))
    return [(k.start_byte, k.end_byte, True) for k in keys
            if k is not None and k.type in ("identifier", "property_identifier") and _node_text(doc, k) == name]


# ------------------------------------------------------------------------------------------ api uses
def api_uses(doc: DocState, index: ApiIndex, t: Target) -> Iterator[tuple[int, int]]:
    """Byte ranges in ``doc`` where the API global / member / tool of ``t`` is used, in document order,
    yielded as they are found (a caller stopped by :class:`~llmspell_ls.budget.Cancelled` keeps them)."""
    if t.kind == "api_global":
        yield from ((o.start, o.end) for o in name_occurrences(doc, t.name) if o.binding < 0)
        return
    if t.kind == "tool":
        for i, m in enumerate(re.finditer(rb"([\"'`])" + re.escape(t.name.encode()) + rb"\1", doc.source)):
            if i % CHECK_EVERY == 0:
                checkpoint()
            yield m.start() + 1, m.end() - 1
        return
    if t.kind != "api_member":
        return
    lua = doc.lang == "lua"
    root = doc.tree.root_node
    for i, (ms, me) in enumerate(ident_spans(doc.source, t.name, WORD_BYTES, rb"[\w$]")):
        if i % 16 == 0:  # each candidate types its chain: check often
            checkpoint()
        node = root.named_descendant_for_byte_range(ms, me)
        if node is None or node.start_byte != ms or node.end_byte != me or not is_member_name(node, lua):
            continue
        if api_member_of(doc, index, node, t.name) == t.owner:
            yield node.start_byte, node.end_byte


def _same_lang(doc: DocState, others: list[DocState], name: str) -> list[DocState]:
    """The other open documents of ``doc``'s language that mention ``name`` (text check first: a
    document whose tree was dropped is only re-parsed when it can hold an answer)."""
    raw = name.encode("utf-8")
    return [d for d in others if d.lang == doc.lang and d.uri != doc.uri and raw in d.source]


# ------------------------------------------------------------------------------------------ requests
# Each request has a plain-data form (``*_spans``: what the server serialises with :func:`locations_json`
# / :func:`highlights_json`) and the lsprotocol form built from it.
def definition_spans(doc: DocState, index: ApiIndex, line: int, character: int, enc: str,
                     others: list[DocState] | None = None) -> list[Loc] | None:
    checkpoint()
    if doc.lang == "lua" and doc.tree.root_node.has_error is False:
        # a Lua local: its declaration is all definition needs (not the uses in its scope, which for a
        # top-level local are the rest of the document)
        row, bcol = cursor_byte(doc, line, character, enc)
        node = ident_at(doc, row, bcol)
        if node is not None and not is_member_name(node, True):
            decl = declaration_of(doc, node, _node_text(doc, node))
            if decl is not None:
                return [(doc.uri, *occ_span(doc, decl, enc))]
    t = target_at(doc, index, line, character, enc)
    if t is None:
        return None
    if t.kind == "local":
        return [(doc.uri, *occ_span(doc, t.occs[t.index], enc))]
    if t.kind in ("api_global", "api_member", "tool"):
        loc = stub_loc(t, doc.lang)
        return [loc] if loc is not None else None
    if t.kind == "field":
        writes = [(s, e) for s, e, w in field_occurrences(doc, index, t) if w]
        return [(doc.uri, *byte_span(doc, s, e, enc)) for s, e in writes] or None
    if t.kind == "self" and t.index >= 0:
        return [(doc.uri, *occ_span(doc, t.occs[t.index], enc))]
    # a user global (or the global table ``self`` stands for): where it is assigned, here first, else in
    # the other open documents
    name = t.owner if t.kind == "self" else t.name
    for d in [doc, *_same_lang(doc, others or [], name)]:
        checkpoint()
        sets = [o for o in name_occurrences(d, name) if o.binding < 0 and o.write]
        if sets:
            return [(d.uri, *occ_span(d, o, enc)) for o in sets]
    return None


def definition(doc: DocState, index: ApiIndex, line: int, character: int, enc: str,
               others: list[DocState] | None = None) -> list[lsp.Location] | None:
    got = definition_spans(doc, index, line, character, enc, others)
    return to_locations(got) if got is not None else None


def reference_spans(doc: DocState, index: ApiIndex, line: int, character: int, enc: str,
                    include_declaration: bool, others: list[DocState] | None = None,
                    out: list[Loc] | None = None) -> list[Loc] | None:
    """The locations of the target's uses. They are appended to ``out`` as they are found (pass a list to
    keep what was found when :class:`~llmspell_ls.budget.Cancelled` stops the walk)."""
    t = target_at(doc, index, line, character, enc)
    if t is None:
        return None
    out = [] if out is None else out
    uri = doc.uri
    if t.kind == "local":
        for i, o in enumerate(t.occs):
            if i % CHECK_EVERY == 0:
                checkpoint()
            if o.binding == t.index and (include_declaration or not o.decl):
                out.append((uri, *occ_span(doc, o, enc)))
        return out
    if t.kind == "field":
        for i, (s, e, w) in enumerate(field_occurrences(doc, index, t)):
            if i % CHECK_EVERY == 0:
                checkpoint()
            if include_declaration or not w:
                out.append((uri, *byte_span(doc, s, e, enc)))
        return out
    if t.kind == "self":
        for o in _self_refs(doc, t):
            if include_declaration or not o.decl:
                out.append((uri, *occ_span(doc, o, enc)))
        return out
    if t.kind == "global":
        for d in [doc, *_same_lang(doc, others or [], t.name)]:
            checkpoint()
            for i, o in enumerate(name_occurrences(d, t.name)):
                if i % CHECK_EVERY == 0:
                    checkpoint()
                if o.binding < 0 and (include_declaration or not o.write):
                    out.append((d.uri, *occ_span(d, o, enc)))
        return out
    if include_declaration:
        loc = stub_loc(t, doc.lang)
        if loc is not None:
            out.append(loc)
    for d in [doc, *_same_lang(doc, others or [], t.name)]:
        checkpoint()
        for i, (s, e) in enumerate(api_uses(d, index, t)):
            if i % CHECK_EVERY == 0:
                checkpoint()
            out.append((d.uri, *byte_span(d, s, e, enc)))
    return out


def references(doc: DocState, index: ApiIndex, line: int, character: int, enc: str, include_declaration: bool,
               others: list[DocState] | None = None,
               out: list[lsp.Location] | None = None) -> list[lsp.Location] | None:
    """:func:`reference_spans` as lsprotocol locations (``out`` keeps what was found when
    :class:`~llmspell_ls.budget.Cancelled` stops the walk)."""
    found: list[Loc] = []
    try:
        got = reference_spans(doc, index, line, character, enc, include_declaration, others, found)
    except Cancelled:
        if out is not None:
            out.extend(to_locations(found))
        raise
    if got is None:
        return None
    locs = to_locations(found)
    if out is None:
        return locs
    out.extend(locs)
    return out


def _self_refs(doc: DocState, t: Target) -> list[NameOcc]:
    """``self``'s table: its occurrences on the same binding and the ``self`` of its methods, in order."""
    mine = [o for o in checked(t.occs) if o.binding == t.index]
    return sorted([*mine, *self_occurrences(doc, t)], key=lambda o: o.start)


READ, WRITE, TEXT = (int(lsp.DocumentHighlightKind.Read), int(lsp.DocumentHighlightKind.Write),
                     int(lsp.DocumentHighlightKind.Text))


def highlight_spans(doc: DocState, index: ApiIndex, line: int, character: int,
                    enc: str) -> list[tuple[int, int, int, int, int]] | None:
    """(span..., kind) of each highlight."""
    t = target_at(doc, index, line, character, enc)
    if t is None:
        return None
    if t.kind == "self":
        return [(*occ_span(doc, o, enc), WRITE if o.write else READ) for o in _self_refs(doc, t)]
    if t.kind in ("local", "global", "api_global"):
        want = t.index if t.kind == "local" else -1
        return [(*occ_span(doc, o, enc), WRITE if o.write else READ) for o in checked(t.occs) if o.binding == want]
    if t.kind == "field":
        fields = field_occurrences(doc, index, t)
        return [(*byte_span(doc, s, e, enc), WRITE if w else READ) for s, e, w in checked(fields)]
    kind = TEXT if t.kind == "tool" else READ
    return [(*byte_span(doc, s, e, enc), kind) for s, e in checked(api_uses(doc, index, t))]


def highlights(doc: DocState, index: ApiIndex, line: int, character: int,
               enc: str) -> list[lsp.DocumentHighlight] | None:
    got = highlight_spans(doc, index, line, character, enc)
    if got is None:
        return None
    return [lsp.DocumentHighlight(range=to_range(h[:4]), kind=lsp.DocumentHighlightKind(h[4])) for h in got]
