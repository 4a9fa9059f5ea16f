"""Scope-aware resolution of local variables over the tree-sitter tree (Lua and JavaScript).

Why a backward walk and not a symbol table: building a table of every scope and binding would walk the
whole tree in Python (~150k nodes on a 5,000-line spell) on every new version, on the request path.
Instead, to type ``name`` at offset ``U`` we walk the occurrences of ``name`` *backwards* from ``U`` with
``str.rfind`` (C speed), skip the obvious uses by the next character (``name.`` ``name:`` ``name(``), and
ask the tree only about the few remaining ones (one ``descendant_for_byte_range`` plus a short parent
walk each):

* a **declaration** (``local``, ``const``/``let``/``var``, a parameter, a loop variable, a destructured
  name) whose scope contains ``U`` is the binding ``U`` refers to; one whose scope does not contain ``U``
  shadows nothing at ``U`` but owns the plain assignments inside its scope that come after it;
* a **plain assignment** (``x = …``) is a candidate for the value of the binding; it is final as soon as
  no declaration before it can still claim it (it sits at ``U``'s level, or the walk has left the
  nested scopes around it).

The value is "the last assignment before the cursor that refers to the same binding" — flow-insensitive
like before, but no longer fooled by shadowing, other functions' locals or block-scoped names.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Protocol

from tree_sitter import Node, Tree

from llmspell_ls.budget import checkpoint


class ScopedDoc(Protocol):
    """What the resolver needs from a document snapshot (``DocState`` has all of it)."""

    @property
    def text(self) -> str: ...

    @property
    def lang(self) -> str: ...

    @property
    def cache(self) -> dict[Any, Any]: ...

    @property
    def source(self) -> bytes: ...

    @property
    def tree(self) -> Tree: ...

    @property
    def lines(self) -> list[str]: ...

    def col_to_byte(self, row: int, col: int) -> int: ...

    def byte_to_col(self, row: int, byte_col: int) -> int: ...


@dataclass(slots=True)
class Occ:
    """One declaration of, or assignment to, a name."""

    role: str
    """``decl`` | ``assign``"""
    at: int
    """Byte offset of the name."""
    how: str = ""
    """How to type the value: ``expr`` (the expression at ``value``), ``field`` (member ``key`` of the
    expression at ``value``: a destructured name), ``type`` (the type string ``key``: an annotated or
    hook-callback parameter), ``""`` (untyped)."""
    value: int = -1
    """String offset of the value expression (``expr``/``field``)."""
    key: str = ""
    scope: tuple[int, int] | None = None
    """Byte range of a declaration's scope (a range, not a Node: results are cached and must not keep
    the tree alive — trees are capped per server, see ``documents.MAX_TREES``)."""
    visible_from: int = 0
    """Byte offset from which a declaration is visible (Lua: after its statement)."""
    stale: bool = False
    """The scope's end was touched by an edit the tree has not been re-parsed for (range unreliable)."""


LUA_SCOPES = frozenset({"block", "chunk", "function_declaration", "function_definition", "for_statement"})
JS_SCOPES = frozenset({"statement_block", "program", "function_declaration", "function_expression", "arrow_function",
                       "method_definition", "generator_function_declaration", "generator_function",
                       "for_statement", "for_in_statement", "catch_clause", "class_body", "switch_body"})
JS_FUNCTIONS = frozenset({"function_declaration", "function_expression", "arrow_function", "method_definition",
                          "generator_function_declaration", "generator_function", "program"})
_STATEMENT_PARENTS = frozenset({"block", "chunk", "program", "statement_block", "ERROR"})
HOOK_CALLEES = frozenset({"Hook.register"})
HOOK_CONTEXT = "HookContext"
"""The record a hook callback's first parameter gets, when the API model has a record of that name."""

_LUA_PARAM = re.compile(r"^\s*---\s*@param\s+([A-Za-z_]\w*)\??\s+([^\s#]+)")
_JSDOC_PARAM = re.compile(r"@param\s+\{([^}]+)\}\s+\[?([A-Za-z_$][\w$]*)")
_UNSEEN = object()


class _StaleTree(Exception):
    """Raised inside a lookup that needs a freshly parsed tree."""


_USE_AFTER = re.compile(r"[ \t]*(?:\?\.|[.(\[:])")
_ASSIGN_TAIL = re.compile(r"[ \t]*=(?![=>])")


_PLUS_ONE = (1).__add__


def line_offsets(text: str, source: bytes | None = None) -> tuple[list[int], list[int]]:
    """(string offset, UTF-8 byte offset) of the start of every line, plus one past the end: each line's
    length plus its "\\n", summed in C (a Python loop encoding each of 50,000 lines cost ~50 ms per
    document version). ``source``: the text's UTF-8 encoding (``surrogatepass``), if at hand."""
    offs = list(accumulate(map(_PLUS_ONE, map(len, text.split("\n"))), initial=0))
    if source is None:
        source = text.encode("utf-8", "surrogatepass")
    if len(source) == len(text):
        return offs, offs
    return offs, list(accumulate(map(_PLUS_ONE, map(len, source.split(b"\n"))), initial=0))


class ScopeResolver:
    """Resolves names to their binding occurrence in one document snapshot (results cached per version)."""

    def __init__(self, doc: ScopedDoc, tree_fn: Callable[[], Tree] | None = None):
        self.doc = doc
        self._tree_fn = tree_fn if tree_fn is not None else (lambda: doc.tree)
        self._stale_hit = False
        """Where the tree comes from: the editor path passes one that prefers the previous version's tree
        with this version's edit applied (positions already shifted) to a re-parse on the request path."""
        self.text = doc.text
        self.lua = doc.lang == "lua"
        self.scopes = LUA_SCOPES if self.lua else JS_SCOPES
        self._ascii: bool | None = None
        self._cache: dict[tuple[str, int, int], tuple[bool, Occ | None]] = {}
        self._classified: dict[int, object] = {}
        """String offset -> its :class:`Occ` or None (a use); occurrences are met again by later lookups."""

    # ------------------------------------------------------------------ positions
    @property
    def ascii(self) -> bool:
        """Byte offsets equal string offsets (checked once per version, only when a lookup needs it)."""
        if self._ascii is None:
            got = self.doc.cache.get("_ascii")
            if got is None:
                got = self.doc.cache["_ascii"] = self.text.isascii()
            self._ascii = got
        return self._ascii

    @property
    def root(self) -> Node:
        return self._tree_fn().root_node  # not kept: the document may drop its tree (LRU)

    def _offsets(self) -> tuple[list[int], list[int]]:
        got = self.doc.cache.get("_scope_offsets")
        if got is None:
            got = self.doc.cache["_scope_offsets"] = line_offsets(self.text, self.doc.source)
        return got  # type: ignore[no-any-return]

    def to_byte(self, offset: int) -> int:
        if self.ascii:
            return offset
        offs, boffs = self._offsets()
        row = max(0, bisect.bisect_right(offs, offset) - 1)
        return boffs[row] + self.doc.col_to_byte(row, offset - offs[row])

    def to_offset(self, byte: int) -> int:
        if self.ascii:
            return byte
        offs, boffs = self._offsets()
        row = max(0, bisect.bisect_right(boffs, byte) - 1)
        return offs[row] + self.doc.byte_to_col(row, byte - boffs[row])

    def clear(self) -> None:
        self._cache.clear()
        self._classified.clear()

    # ------------------------------------------------------------------ resolution
    def resolve(self, name: str, before: int, floor: int = 0) -> tuple[bool, Occ | None]:
        """The occurrence that gives ``name`` its value at ``before``: (found, occurrence).

        ``found`` is False when nothing in ``[floor, before)`` declares or assigns ``name`` (a global or a
        binding from before ``floor``; the diagnostics pass keeps those in its document-order env).
        ``floor`` must be a top-level statement boundary.
        """
        key = (name, before, floor)
        got = self._cache.get(key)
        if got is None:
            try:
                got = self._resolve(name, before, floor)
            except _StaleTree:
                # the edit moved the end of a scope that decides the answer: parse now (rare: only
                # edits that cross a block's end, never a keystroke inside a body) and ask again
                self._tree_fn = lambda: self.doc.tree
                self.clear()
                got = self._resolve(name, before, floor)
            self._cache[key] = got
        return got

    def _resolve(self, name: str, before: int, floor: int) -> tuple[bool, Occ | None]:
        return self._claim(self._occurrences_back(name, before, floor), self.to_byte(before))

    def _occurrences_back(self, name: str, before: int, floor: int) -> Iterator[tuple[int, Occ]]:
        """The occurrences of ``name`` in ``[floor, before)`` that declare or assign it, latest first."""
        text = self.text
        n = len(name)
        pos = before
        while True:
            k = text.rfind(name, floor, pos)
            if k < 0:
                return
            pos = k
            prev = text[k - 1] if k > 0 else " "
            if prev.isalnum() or prev in "_$.:":
                continue
            after = text[k + n:k + n + 1]
            if after and (after.isalnum() or after in "_$"):
                continue
            if _USE_AFTER.match(text, k + n) and not (self.lua and text.startswith("::", k + n)):
                continue  # ``name.x`` / ``name:m()`` / ``name(…)`` / ``name[…]`` / a JS object key
            occ = self._classified.get(k, _UNSEEN)
            if occ is _UNSEEN:
                occ = self._classified[k] = self.classify(k, n)
            if occ is not None:
                assert isinstance(occ, Occ)
                yield k, occ

    def _claim(self, found: Iterator[tuple[int, Occ]], ub: int) -> tuple[bool, Occ | None]:
        """Which of the binding occurrences ``found`` (latest first) gives the name its value at byte
        ``ub``: an assignment at the use's level wins; one in a block the use is not in counts only if no
        declaration between claims it; a declaration counts where its scope holds the use."""
        pending: list[list[Any]] = []  # [occ, safe_below, dropped], latest first
        while True:
            live = next((a for a in pending if not a[2]), None)
            k, occ = next(found, (-1, None))
            if live is not None and (k < 0 or k < live[1]):
                return True, live[0]  # no declaration left that could claim it
            if occ is None:
                return live is not None, live[0] if live is not None else None
            if occ.role == "assign":
                if occ.visible_from > ub:
                    continue  # ``a = a:name("x")``: the right-hand side sees the previous value
                safe = -1
                if live is None:
                    safe = self._safe_below(occ.at, ub)
                    if safe < 0:
                        return True, occ  # at the cursor's level: nothing before can claim it
                pending.append([occ, safe, False])
                continue
            if occ.stale:
                raise _StaleTree
            s0, s1 = occ.scope or (0, 0)
            if s0 <= ub <= s1 and occ.visible_from <= ub:
                return True, live[0] if live is not None else occ
            # a declaration the cursor cannot see: the assignments in its scope after it are its own
            for a in pending:
                if s0 <= a[0].at <= s1 and a[0].at >= occ.at:
                    a[2] = True

    def self_table(self, before: int) -> tuple[str, int] | None:
        """(name, string offset) of the table an implicit ``self`` at ``before`` stands for (Lua
        ``function T:m()``; see :func:`method_receiver`), or None."""
        if not self.lua:
            return None
        t = method_receiver(self.root, self.to_byte(before), self.doc.source)
        if t is None:
            return None
        return self.text[self.to_offset(t.start_byte):self.to_offset(t.end_byte)], self.to_offset(t.start_byte)

    def _safe_below(self, at: int, ub: int) -> int:
        """-1 if every scope around byte ``at`` also holds ``ub``; else the string offset where the
        outermost scope around ``at`` that does not hold ``ub`` starts."""
        node: Node | None = self.root.descendant_for_byte_range(at, at)
        outer = -1
        while node is not None:
            checkpoint()  # ``parent`` costs the depth: bounded by the request's budget inside deep nesting
            if node.type in self.scopes:
                if node.start_byte <= ub <= node.end_byte:
                    break
                outer = node.start_byte
            node = node.parent
        return self.to_offset(outer) if outer >= 0 else -1

    # ------------------------------------------------------------------ classification
    def classify(self, offset: int, length: int) -> Occ | None:
        """Is the name at string offset ``offset`` a declaration or an assignment (or just a use)?"""
        b = self.to_byte(offset)
        nb = length if self.ascii else len(self.text[offset:offset + length].encode("utf-8", "surrogatepass"))
        node = self.root.named_descendant_for_byte_range(b, b + nb)
        exact = node is not None and node.start_byte == b and node.end_byte == b + nb and not node.has_changes
        occ = None
        if exact:
            assert node is not None
            self._stale_hit = False
            occ = self._classify_lua(node) if self.lua else self._classify_js(node)
            if occ is not None and self._stale_hit:
                occ.stale = True
        if occ is None and _ASSIGN_TAIL.match(self.text, offset + length) and (
                not exact or (self.root.has_error and self._in_error(node))):
            # broken code being typed: keep the old "name = value" reading
            m = _ASSIGN_TAIL.match(self.text, offset + length)
            assert m is not None
            v = m.end()
            while v < len(self.text) and self.text[v] in " \t":
                v += 1
            eol = self.text.find("\n", v)
            return Occ("assign", b, "expr", v, visible_from=self.to_byte(len(self.text) if eol < 0 else eol))
        return occ

    def _in_error(self, node: Node | None) -> bool:
        """Is ``node`` inside an ERROR node? Walked from the root down (``node.parent`` costs the
        node's depth each time: climbing out of 10,000 nested tables was quadratic)."""
        if node is None:
            return False
        p: Node | None = self.root
        while p is not None and p != node:
            checkpoint()
            if p.type == "ERROR":
                return True
            p = p.child_with_descendant(node)
        return False

    def _rng(self, node: Node | None) -> tuple[int, int] | None:
        """A scope's byte range (noting when an un-reparsed edit touched its end)."""
        if node is None:
            return None
        if node.has_changes and node.parent is not None and not self._end_intact(node):
            self._stale_hit = True
        return node.start_byte, node.end_byte

    def _end_intact(self, node: Node) -> bool:
        """Does the token that closes ``node`` (``end``, ``}``, ``until``, ``else`` …) still read as itself
        at its shifted position? Then the edit was inside and the range is right."""
        tok = node.next_sibling if node.type == "block" else (
            node.child(node.child_count - 1) if node.child_count else None)
        while tok is not None and tok.child_count:
            tok = tok.child(0)
        if tok is None or tok.is_missing:
            return False
        return self.doc.source[tok.start_byte:tok.end_byte] == tok.type.encode()

    def _off(self, node: Node) -> int:
        return self.to_offset(node.start_byte)

    def _ntext(self, node: Node) -> str:
        """A node's text from *this* version's source (an edited, not yet re-parsed tree's own text is
        the previous version's)."""
        return self.doc.source[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def _classify_lua(self, node: Node) -> Occ | None:
        if node.type != "identifier":
            return None
        parent = node.parent
        if parent is None:
            return None
        pt = parent.type
        b = node.start_byte
        if pt == "variable_list":
            gp = parent.parent
            if gp is None:
                return None
            if gp.type == "variable_declaration":  # ``local x`` (no value)
                return Occ("decl", b, scope=self._rng(gp.parent), visible_from=gp.end_byte)
            if gp.type == "assignment_statement":
                idx = next((i for i, c in enumerate(parent.named_children) if c.id == node.id), 0)
                exprs = next((c for c in gp.named_children if c.type == "expression_list"), None)
                vals = exprs.named_children if exprs is not None else []
                # ``local a, b = X, Y`` by position; ``local a, b = f()``: b (a second result) stays untyped
                how, value = ("expr", self._off(vals[idx])) if idx < len(vals) else ("", -1)
                decl = gp.parent
                if decl is not None and decl.type == "variable_declaration":
                    return Occ("decl", b, how, value, scope=self._rng(decl.parent), visible_from=decl.end_byte)
                return Occ("assign", b, how, value, visible_from=gp.end_byte)
            if gp.type == "for_generic_clause":
                return Occ("decl", b, scope=self._rng(gp.parent), visible_from=gp.end_byte)
            return None
        if pt == "for_numeric_clause" and parent.child_by_field_name("name") == node:
            return Occ("decl", b, scope=self._rng(parent.parent), visible_from=parent.end_byte)
        if pt == "parameters":
            fn = parent.parent
            how, key = self._param_type(node, parent, fn)
            return Occ("decl", b, how, key=key, scope=self._rng(fn), visible_from=parent.end_byte)
        if pt == "function_declaration" and parent.child_by_field_name("name") == node:
            if any(c.type == "local" for c in parent.children):
                return Occ("decl", b, scope=self._rng(parent.parent), visible_from=b)
            return Occ("assign", b)
        return None

    def _classify_js(self, node: Node) -> Occ | None:
        t = node.type
        if t not in ("identifier", "shorthand_property_identifier_pattern"):
            return None
        parent = node.parent
        if parent is None:
            return None
        pt = parent.type
        b = node.start_byte
        if pt == "variable_declarator" and parent.child_by_field_name("name") == node:
            value = parent.child_by_field_name("value")
            how, v = ("expr", self._off(value)) if value is not None else ("", -1)
            return self._js_decl(parent, b, how, v)
        if pt in ("object_pattern", "pair_pattern", "array_pattern"):
            return self._js_pattern(node, parent, b)
        if pt == "formal_parameters":
            fn = parent.parent
            how, key = self._param_type(node, parent, fn)
            return Occ("decl", b, how, key=key, scope=self._rng(fn), visible_from=fn.start_byte if fn else b)
        if pt == "arrow_function" and parent.child_by_field_name("parameter") == node:
            how, key = self._param_type(node, None, parent)
            return Occ("decl", b, how, key=key, scope=self._rng(parent), visible_from=parent.start_byte)
        if pt == "assignment_pattern" and parent.child_by_field_name("left") == node:
            gp = parent.parent
            if gp is not None and gp.type == "formal_parameters":
                return Occ("decl", b, scope=self._rng(gp.parent), visible_from=gp.start_byte)
            return None
        if pt == "assignment_expression" and parent.child_by_field_name("left") == node:
            right = parent.child_by_field_name("right")
            return Occ("assign", b, "expr" if right is not None else "", self._off(right) if right else -1,
                       visible_from=parent.end_byte)
        if pt == "for_in_statement" and parent.child_by_field_name("left") == node:
            kind = parent.child_by_field_name("kind")
            if kind is None:
                return Occ("assign", b)
            scope = self._js_function(parent) if kind.type == "var" else parent
            return Occ("decl", b, scope=self._rng(scope), visible_from=parent.start_byte)
        if pt == "catch_clause" and parent.child_by_field_name("parameter") == node:
            return Occ("decl", b, scope=self._rng(parent), visible_from=parent.start_byte)
        if pt in ("function_declaration", "class_declaration", "generator_function_declaration") \
                and parent.child_by_field_name("name") == node:
            scope = parent.parent
            return Occ("decl", b, scope=self._rng(scope), visible_from=scope.start_byte if scope else b)
        return None

    def _js_function(self, node: Node) -> Node | None:
        p = node.parent
        while p is not None and p.type not in JS_FUNCTIONS:
            checkpoint()
            p = p.parent
        return p

    def _js_decl(self, declarator: Node, b: int, how: str, v: int, key: str = "") -> Occ:
        decl = declarator.parent
        if decl is not None and decl.type == "variable_declaration":  # ``var``: function scope
            scope = self._js_function(decl)
        else:
            scope = decl.parent if decl is not None else None
        if scope is not None and scope.type == "ERROR":
            scope = self._enclosing_scope(scope) or scope
        return Occ("decl", b, how, v, key=key, scope=self._rng(scope), visible_from=b)

    def _enclosing_scope(self, node: Node) -> Node | None:
        p = node.parent
        while p is not None and p.type not in self.scopes:
            checkpoint()
            p = p.parent
        return p

    def _js_pattern(self, node: Node, parent: Node, b: int) -> Occ | None:
        """A destructured name: ``const {text, meta: m} = …`` / ``const [a, b] = …`` (one level typed)."""
        key = ""
        elem = -1
        pattern = parent
        if parent.type == "pair_pattern":
            if parent.child_by_field_name("value") != node:
                return None
            k = parent.child_by_field_name("key")
            key = self._ntext(k) if k is not None else ""
            pattern = parent.parent  # type: ignore[assignment]
        elif parent.type == "object_pattern":
            key = self._ntext(node)
        else:  # array pattern: the element's position
            elem = next((i for i, c in enumerate(parent.named_children) if c.id == node.id), -1)
        if pattern is None:
            return None
        holder = pattern.parent
        if holder is None:
            return None
        if holder.type == "variable_declarator" and holder.child_by_field_name("name") == pattern:
            value = holder.child_by_field_name("value")
            if value is None:
                return self._js_decl(holder, b, "", -1)
            if key:
                return self._js_decl(holder, b, "field", self._off(value), key)
            if elem >= 0 and value.type == "array" and elem < len(value.named_children):
                return self._js_decl(holder, b, "expr", self._off(value.named_children[elem]))
            return self._js_decl(holder, b, "", -1)
        if holder.type == "formal_parameters":
            return Occ("decl", b, scope=self._rng(holder.parent), visible_from=holder.start_byte)
        if holder.type == "assignment_expression":
            return Occ("assign", b)
        return None

    # ------------------------------------------------------------------ parameter types
    def _param_type(self, node: Node, params: Node | None, fn: Node | None) -> tuple[str, str]:
        """("type", type string) from a LuaCATS/JSDoc annotation or a hook callback; ("", "") if none."""
        if fn is None:
            return "", ""
        name = self._ntext(node)
        first = params is None or (params.named_children and params.named_children[0].id == node.id)
        call = fn.parent.parent if fn.parent is not None and fn.parent.type == "arguments" else None
        if call is not None:
            if first and call.type in ("function_call", "call_expression"):
                callee = call.child_by_field_name("name" if self.lua else "function")
                ctext = re.sub(r"\s+", "", self._ntext(callee)) if callee is not None else ""
                if ctext in HOOK_CALLEES:
                    return "type", HOOK_CONTEXT
            return "", ""
        stmt = fn
        while stmt.parent is not None and stmt.parent.type not in _STATEMENT_PARENTS:
            checkpoint()
            stmt = stmt.parent
        ann = self._lua_annotations(stmt) if self.lua else self._jsdoc_annotations(stmt)
        t = ann.get(name)
        return ("type", t) if t else ("", "")

    def _lua_annotations(self, stmt: Node) -> dict[str, str]:
        out: dict[str, str] = {}
        lines = self.doc.lines
        row = stmt.start_point[0] - 1
        while row >= 0 and lines[row].lstrip().startswith("--"):
            m = _LUA_PARAM.match(lines[row])
            if m:
                out.setdefault(m.group(1), m.group(2))
            row -= 1
        return out

    def _jsdoc_annotations(self, stmt: Node) -> dict[str, str]:
        text = self.text
        s = self._off(stmt)
        head = text[max(0, s - 4000):s].rstrip()
        if not head.endswith("*/"):
            return {}
        open_at = head.rfind("/**")
        if open_at < 0:
            return {}
        return {m.group(2): m.group(1).strip() for m in _JSDOC_PARAM.finditer(head, open_at)}


# ====================================================================================== self
_LUA_FUNCTIONS = frozenset({"function_declaration", "function_definition"})


def method_receiver(root: Node, byte: int, source: bytes) -> Node | None:
    """The table a Lua ``self`` at ``byte`` stands for: the ``T`` identifier of the nearest enclosing
    ``function T:m()`` (through anonymous functions inside it: ``self`` is then an upvalue). None when a
    function on the way declares ``self`` itself (``function T.m(self)``: an ordinary parameter), when
    the method's table is not a plain name (``function a.b:m()``), or outside any method."""
    node: Node | None = root.descendant_for_byte_range(byte, byte)
    while node is not None:
        checkpoint()
        if node.type in _LUA_FUNCTIONS:
            params = node.child_by_field_name("parameters")
            if params is not None and any(c.type == "identifier" and source[c.start_byte:c.end_byte] == b"self"
                                          for c in params.named_children):
                return None
            name = node.child_by_field_name("name") if node.type == "function_declaration" else None
            if name is not None and name.type == "method_index_expression":
                table = name.child_by_field_name("table")
                return table if table is not None and table.type == "identifier" else None
        elif node.type == "ERROR":  # a line being typed broke the method's node: read its pieces
            got = _method_in_error(node, byte)
            if got is not None:
                return got
        node = node.parent
    return None


def _method_in_error(error: Node, byte: int) -> Node | None:
    """In an ERROR node: the ``T`` of the last ``function T:m(`` before ``byte`` not closed by an ``end``
    at the same level (tree-sitter leaves the pieces of a broken method side by side there)."""
    open_: list[Node | None] = []
    kids = error.children
    for i, c in enumerate(kids):
        if c.start_byte >= byte:
            break
        if c.type == "function":
            nxt = kids[i + 1] if i + 1 < len(kids) else None
            t = nxt.child_by_field_name("table") if nxt is not None and nxt.type == "method_index_expression" \
                else None
            open_.append(t if t is not None and t.type == "identifier" else None)
        elif c.type in ("if", "do"):
            open_.append(None)
        elif c.type == "end" and open_:
            open_.pop()
    return open_[-1] if open_ else None


# ====================================================================================== navigation
# Every occurrence of one name in a document, each tied to the declaration it refers to (definition,
# references, rename, highlight). Per name, not per document: the occurrences are found with one
# regular-expression scan over the bytes (C speed), and only those few are looked up in the tree.


@dataclass(slots=True)
class NameOcc:
    """One occurrence of a name as a variable (never a field, a method name, a key or a label)."""

    start: int
    """Byte offset of the name."""
    end: int
    row: int
    col: int
    """Byte column of the start."""
    decl: bool = False
    write: bool = False
    """A declaration or an assignment (documentHighlight's Write kind)."""
    scope: tuple[int, int] | None = None
    """Byte range of a declaration's scope."""
    visible_from: int = 0
    """Byte offset from which a declaration is visible."""
    kind: str = ""
    """What a declaration declares: ``local``, ``param``, ``function``, ``for``, ``class``, ``import``."""
    shorthand: bool = False
    """JS ``{name}`` (an object literal or a destructuring pattern): renaming writes ``name: new``."""
    binding: int = -1
    """Index (in the same list) of the declaration this occurrence refers to; -1: a global."""


WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")
IDENT_BYTES = WORD_BYTES | frozenset(range(0x80, 0x100))
"""Bytes that continue an identifier (ASCII word characters, ``$``, any byte of a non-ASCII character)."""


def ident_spans(source: bytes, name: str | bytes, before: frozenset[int] = IDENT_BYTES,
                after: bytes = rb"[\w$\x80-\xff]", lo: int = 0, hi: int = 1 << 62) -> Iterator[tuple[int, int]]:
    r"""(start, end) byte offsets of every whole-word ``name`` in ``source`` that starts in ``[lo, hi)``.

    Why not one regular expression with a look-behind (``(?<![\w$])name(?![\w$])``): a pattern that
    starts with a look-behind gets no literal-prefix search from ``re`` and is tried at every byte, ~15×
    slower (3 ms instead of 0.2 ms on a 5,000-line spell, paid by every definition and references
    request); the byte before a match is checked here instead. A match rejected that way never hides a
    valid one (a valid start inside it would follow a byte of the name, an identifier byte)."""
    raw = name.encode("utf-8") if isinstance(name, str) else name
    rx = _span_rx(raw, after)
    # the search stops where no match can start any more (one byte past a match, for the look-ahead): a
    # scoped search does not scan the rest of the document for the next occurrence
    end = min(len(source), hi + len(raw) + 1) if hi < len(source) else len(source)
    for m in rx.finditer(source, lo, end):
        s = m.start()
        if s >= hi:
            return
        if s > 0 and source[s - 1] in before:
            continue
        yield s, m.end()


_SPAN_RX: dict[tuple[bytes, bytes], re.Pattern[bytes]] = {}


def _span_rx(raw: bytes, after: bytes) -> re.Pattern[bytes]:
    key = (raw, after)
    rx = _SPAN_RX.get(key)
    if rx is None:
        if len(_SPAN_RX) > 512:
            _SPAN_RX.clear()
        rx = _SPAN_RX[key] = re.compile(re.escape(raw) + rb"(?!" + after + rb")")
    return rx


def name_occurrences(doc: ScopedDoc, name: str, lo: int = 0, hi: int | None = None) -> list[NameOcc]:
    """Every use of ``name`` as a variable in ``doc``, in document order, with ``binding`` resolved
    (the latest declaration whose scope holds the use and that is visible there). Cached per version.

    ``lo``/``hi``: only the occurrences starting in that byte range, bound among themselves — exact for
    the uses of a declaration at ``lo`` whose scope ends at ``hi`` (a declaration before ``lo`` never
    wins over it inside its scope; every later one that could is in the range)."""
    key = ("nav_occ", name) if lo == 0 and hi is None else ("nav_occ", name, lo, hi)
    got = doc.cache.get(key)
    if got is not None:
        return got  # type: ignore[no-any-return]
    out: list[NameOcc] = []
    if name:
        root = doc.tree.root_node
        lua = doc.lang == "lua"
        spans = ident_spans(doc.source, name, lo=lo, hi=len(doc.source) + 1 if hi is None else hi)
        for i, (s, e) in enumerate(spans):
            if i % 256 == 255:
                checkpoint()
            node = root.named_descendant_for_byte_range(s, e)
            if node is None or node.start_byte != s or node.end_byte != e:
                continue
            occ = _nav_lua(node) if lua else _nav_js(node)
            if occ is not None:
                out.append(occ)
        _bind(out)
    doc.cache[key] = out
    return out


def lua_declaration_of(doc: ScopedDoc, node: Node, name: str, limit: int = 4096) -> NameOcc | None:
    """Lua: the declaration the identifier ``node`` (a variable named ``name``) refers to, found by
    walking the earlier occurrences of ``name`` backwards (the nearest declaration whose scope holds
    ``node`` and that is visible there wins, as in :func:`_bind`); usually a few lines up, where
    :func:`name_occurrences` would classify every occurrence in the document. None: no declaration
    (a global), or more than ``limit`` occurrences looked at (the caller takes the whole-document way)."""
    occ = _nav_lua(node)
    if occ is None:
        return None
    if occ.decl:
        return occ
    src, raw, at = doc.source, name.encode("utf-8"), node.start_byte
    root = doc.tree.root_node
    pos, n = at, len(raw)
    for i in range(limit):
        if i % 256 == 255:
            checkpoint()
        k = src.rfind(raw, 0, pos)
        if k < 0:
            return None
        pos = k
        if (k > 0 and src[k - 1] in IDENT_BYTES) or src[k + n:k + n + 1] in _IDENT_TAILS:
            continue
        cand = root.named_descendant_for_byte_range(k, k + n)
        if cand is None or cand.start_byte != k or cand.end_byte != k + n:
            continue
        d = _nav_lua(cand)
        if d is None or not d.decl:
            continue
        s0, s1 = d.scope or (0, 0)
        if s0 <= at <= s1 and d.visible_from <= at:
            return d
    return None


_IDENT_TAILS = frozenset(bytes([b]) for b in IDENT_BYTES)


def _bind(occs: list[NameOcc]) -> None:
    """Tie each use to its declaration: the one with the latest start whose scope holds the use and that
    is visible there. Declarations are scanned backwards from the use (the nearest usually wins at once);
    only hoisted ones (JS: visible before their own start) are checked after it."""
    decls = [i for i, o in enumerate(occs) if o.decl]  # in document order
    starts = [occs[d].start for d in decls]
    hoisted = [d for d in decls if occs[d].visible_from < occs[d].start]
    for i, o in enumerate(occs):
        if o.decl:
            o.binding = i
            continue
        at = o.start
        best = -1
        for h in reversed(hoisted):  # declared after the use (document order) but visible at it
            hd = occs[h]
            if hd.start <= at:
                break
            s0, s1 = hd.scope or (0, 0)
            if s0 <= at <= s1 and hd.visible_from <= at:
                best = h
                break
        if best < 0:
            for k in range(bisect.bisect_right(starts, at) - 1, -1, -1):
                dd = occs[decls[k]]
                s0, s1 = dd.scope or (0, 0)
                if s0 <= at <= s1 and dd.visible_from <= at:
                    best = decls[k]
                    break
        o.binding = best


def resolve_with(occs: list[NameOcc], at: int) -> int:
    """Index of the declaration in ``occs`` visible at byte ``at`` (-1: none)."""
    best = -1
    for i, d in enumerate(occs):
        if not d.decl:
            continue
        s0, s1 = d.scope or (0, 0)
        if s0 <= at <= s1 and d.visible_from <= at and (best < 0 or d.start > occs[best].start):
            best = i
    return best


def _occ(node: Node, **kw: Any) -> NameOcc:
    return NameOcc(node.start_byte, node.end_byte, node.start_point[0], node.start_point[1], **kw)


def _rng_of(node: Node | None) -> tuple[int, int] | None:
    return (node.start_byte, node.end_byte) if node is not None else None


def _nav_lua(node: Node) -> NameOcc | None:
    if node.type != "identifier":
        return None
    parent = node.parent
    if parent is None:
        return None
    pt = parent.type
    if pt in ("dot_index_expression", "method_index_expression") and parent.child_by_field_name("table") != node:
        return None  # ``t.name`` / ``t:name``: a field, not a variable
    if pt in ("field", "label_statement", "goto_statement", "attribute"):
        if pt != "field" or parent.child_by_field_name("name") == node:
            return None  # ``{name = v}``, ``::name::``, ``goto name``, ``<const>``
    if pt == "variable_list":
        gp = parent.parent
        if gp is not None and gp.type == "variable_declaration":  # ``local x``
            return _occ(node, decl=True, write=True, scope=_rng_of(gp.parent), visible_from=gp.end_byte,
                        kind="local")
        if gp is not None and gp.type == "assignment_statement":
            decl = gp.parent
            if decl is not None and decl.type == "variable_declaration":
                return _occ(node, decl=True, write=True, scope=_rng_of(decl.parent), visible_from=decl.end_byte,
                            kind="local")
            return _occ(node, write=True)
        if gp is not None and gp.type == "for_generic_clause":
            return _occ(node, decl=True, write=True, scope=_rng_of(gp.parent), visible_from=gp.end_byte, kind="for")
        return _occ(node)
    if pt == "for_numeric_clause" and parent.child_by_field_name("name") == node:
        return _occ(node, decl=True, write=True, scope=_rng_of(parent.parent), visible_from=parent.end_byte,
                    kind="for")
    if pt == "parameters":
        fn = parent.parent
        return _occ(node, decl=True, write=True, scope=_rng_of(fn), visible_from=parent.start_byte, kind="param")
    if pt == "function_declaration" and parent.child_by_field_name("name") == node:
        if any(c.type == "local" for c in parent.children):
            return _occ(node, decl=True, write=True, scope=_rng_of(parent.parent), visible_from=node.start_byte,
                        kind="function")
        return _occ(node, write=True)  # ``function name()`` assigns a global (or a visible local)
    return _occ(node)


_JS_IDENTS = frozenset({"identifier", "shorthand_property_identifier", "shorthand_property_identifier_pattern"})
_JS_PATTERNS = frozenset({"object_pattern", "array_pattern", "pair_pattern", "assignment_pattern", "rest_pattern",
                          "object_assignment_pattern"})


def _js_function_of(node: Node) -> Node | None:
    p = node.parent
    while p is not None and p.type not in JS_FUNCTIONS:
        p = p.parent
    return p


def _js_declarator(node: Node, declarator: Node, shorthand: bool) -> NameOcc:
    decl = declarator.parent
    if decl is not None and decl.type == "variable_declaration":  # ``var``: the function's scope, hoisted
        scope = _js_function_of(decl)
        s = _rng_of(scope)
        return _occ(node, decl=True, write=True, scope=s, visible_from=s[0] if s else 0, kind="local",
                    shorthand=shorthand)
    scope = decl.parent if decl is not None else None
    while scope is not None and scope.type == "ERROR":
        scope = scope.parent
    s = _rng_of(scope)  # let/const: the block; a use before the declaration is still this binding (TDZ)
    return _occ(node, decl=True, write=True, scope=s, visible_from=s[0] if s else 0, kind="local",
                shorthand=shorthand)


def _nav_js(node: Node) -> NameOcc | None:
    t = node.type
    if t not in _JS_IDENTS:
        return None
    parent = node.parent
    if parent is None:
        return None
    short = t != "identifier"
    if t == "shorthand_property_identifier":
        return _occ(node, shorthand=True)  # ``{name}`` in an object literal reads ``name``
    pt = parent.type
    # climb destructuring patterns to what holds them
    holder: Node | None = parent
    child = node
    while holder is not None and holder.type in _JS_PATTERNS:
        if holder.type == "pair_pattern" and holder.child_by_field_name("value") != child:
            return None  # the key of ``{key: name}``
        if holder.type in ("assignment_pattern", "object_assignment_pattern") and \
                holder.child_by_field_name("left") != child:
            return _occ(node)  # a default value reads the name
        child, holder = holder, holder.parent
    if holder is None:
        return None
    ht = holder.type
    if child is not node or t == "shorthand_property_identifier_pattern":  # inside a pattern
        if ht == "variable_declarator" and holder.child_by_field_name("name") == child:
            return _js_declarator(node, holder, short)
        if ht == "formal_parameters" or (ht == "arrow_function" and holder.child_by_field_name("parameter") == child):
            fn = holder.parent if ht == "formal_parameters" else holder
            s = _rng_of(fn)
            return _occ(node, decl=True, write=True, scope=s, visible_from=s[0] if s else 0, kind="param",
                        shorthand=short)
        if ht == "catch_clause":
            s = _rng_of(holder)
            return _occ(node, decl=True, write=True, scope=s, visible_from=s[0] if s else 0, kind="local",
                        shorthand=short)
        if ht == "for_in_statement" and holder.child_by_field_name("left") == child:
            return _js_for_left(node, holder, short)
        if ht == "assignment_expression" and holder.child_by_field_name("left") == child:
            return _occ(node, write=True, shorthand=short)
        return _occ(node, shorthand=short)
    if pt == "variable_declarator" and parent.child_by_field_name("name") == node:
        return _js_declarator(node, parent, False)
    if pt == "formal_parameters" or (pt == "arrow_function" and parent.child_by_field_name("parameter") == node):
        fn = parent.parent if pt == "formal_parameters" else parent
        s = _rng_of(fn)
        return _occ(node, decl=True, write=True, scope=s, visible_from=s[0] if s else 0, kind="param")
    if pt in ("function_declaration", "generator_function_declaration", "class_declaration") \
            and parent.child_by_field_name("name") == node:
        scope = parent.parent
        s = _rng_of(scope)
        return _occ(node, decl=True, write=True, scope=s, visible_from=s[0] if s else 0,
                    kind="class" if pt == "class_declaration" else "function")
    if pt in ("function_expression", "generator_function", "class") and parent.child_by_field_name("name") == node:
        s = _rng_of(parent)
        return _occ(node, decl=True, write=True, scope=s, visible_from=s[0] if s else 0,
                    kind="class" if pt == "class" else "function")
    if pt == "catch_clause" and parent.child_by_field_name("parameter") == node:
        s = _rng_of(parent)
        return _occ(node, decl=True, write=True, scope=s, visible_from=s[0] if s else 0, kind="local")
    if pt == "for_in_statement" and parent.child_by_field_name("left") == node:
        return _js_for_left(node, parent, False)
    if pt in ("import_specifier", "import_clause", "namespace_import"):
        if pt == "import_specifier" and parent.child_by_field_name("alias") is not None \
                and parent.child_by_field_name("alias") != node:
            return None  # ``{name as alias}``: ``name`` is the other module's export
        prog = parent
        while prog.parent is not None:
            prog = prog.parent
        return _occ(node, decl=True, write=True, scope=_rng_of(prog), visible_from=0, kind="import")
    if pt in ("assignment_expression", "augmented_assignment_expression") \
            and parent.child_by_field_name("left") == node:
        return _occ(node, write=True)
    if pt == "update_expression":
        return _occ(node, write=True)
    if pt in ("export_specifier",):
        return _occ(node)
    return _occ(node)


def _js_for_left(node: Node, stmt: Node, short: bool) -> NameOcc:
    kind = stmt.child_by_field_name("kind")
    if kind is None:
        return _occ(node, write=True, shorthand=short)
    scope = _js_function_of(stmt) if kind.type == "var" else stmt
    s = _rng_of(scope)
    return _occ(node, decl=True, write=True, scope=s, visible_from=s[0] if s else 0, kind="local", shorthand=short)


class ChunkResolver(ScopeResolver):
    """The resolver of the diagnostics pass, which checks the document one group of top-level statements
    (a *chunk*, ``[floor, end)``) at a time and resolves every name of the chunk with that ``floor``.

    :meth:`ScopeResolver._resolve` walks every occurrence of the name back from the use (``str.rfind``,
    then the checks): a chunk using a name N times walked ~N²/2 occurrences (a 700-line spell wrapped in
    ``do … end`` is one chunk). Here the occurrences of a name in the chunk that can bind it (the same
    word checks, then classified by the tree once) are listed once per chunk, and a lookup walks only
    those: the same answer (the walk's other steps only skip occurrences), at the cost of the bindings.
    Lookups outside the chunk (another floor, a position past its end) go the general way."""

    def __init__(self, doc: ScopedDoc, tree_fn: Callable[[], Tree] | None = None):
        super().__init__(doc, tree_fn)
        self.chunk: tuple[int, int] = (-1, -1)
        self._bindings: dict[str, tuple[list[int], list[Occ]]] = {}

    def set_chunk(self, start: int, end: int) -> None:
        self.clear()
        self.chunk = (start, end)
        self._flat = None
        if not self.ascii and self.text[start:end].isascii():
            # an ASCII chunk of a document that is not: its byte offsets are its string offsets shifted
            # (no per-line table lookup for each of its thousands of occurrences)
            bs = super().to_byte(start)
            self._flat = (start, end, bs)

    _flat: tuple[int, int, int] | None = None
    _root: Node | None = None

    @property
    def root(self) -> Node:
        root = self._root
        if root is None:
            root = self._root = super().root  # one tree for the whole pass (not kept past it: see clear)
        return root

    def to_byte(self, offset: int) -> int:
        flat = self._flat
        if flat is not None and flat[0] <= offset <= flat[1]:
            return flat[2] + offset - flat[0]
        return super().to_byte(offset)

    def to_offset(self, byte: int) -> int:
        flat = self._flat
        if flat is not None and flat[2] <= byte <= flat[2] + flat[1] - flat[0]:
            return flat[0] + byte - flat[2]
        return super().to_offset(byte)

    def clear(self) -> None:
        super().clear()
        self._bindings.clear()
        self._root = None

    def _binding_occurrences(self, name: str) -> tuple[list[int], list[Occ]]:
        got = self._bindings.get(name)
        if got is not None:
            return got
        text = self.text
        n = len(name)
        ks: list[int] = []
        occs: list[Occ] = []
        classified = self._classified
        floor, end = self.chunk
        lua = self.lua
        k = text.find(name, floor, end)
        i = 0
        while k >= 0:
            i += 1
            if not i & 255:
                checkpoint()
            prev = text[k - 1] if k > 0 else " "
            after = text[k + n:k + n + 1]
            if prev.isalnum() or prev in "_$.:" or (after and (after.isalnum() or after in "_$")) or (
                    _USE_AFTER.match(text, k + n) and not (lua and text.startswith("::", k + n))):
                k = text.find(name, k + 1, end)
                continue
            occ = classified.get(k, _UNSEEN)
            if occ is _UNSEEN:
                occ = classified[k] = self.classify(k, n)
            if occ is not None:
                assert isinstance(occ, Occ)
                ks.append(k)
                occs.append(occ)
            k = text.find(name, k + 1, end)
        got = self._bindings[name] = (ks, occs)
        return got

    def _resolve(self, name: str, before: int, floor: int) -> tuple[bool, Occ | None]:
        start, end = self.chunk
        if floor != start or before > end or not name:
            return super()._resolve(name, before, floor)
        ks, occs = self._binding_occurrences(name)
        # occurrences that end at or before ``before`` (``rfind(name, floor, before)``), latest first
        j = bisect.bisect_right(ks, before - len(name))
        back = range(j - 1, -1, -1)  # lazily (a walk usually stops at the first binding)
        return self._claim(zip(map(ks.__getitem__, back), map(occs.__getitem__, back), strict=True),
                           self.to_byte(before))
