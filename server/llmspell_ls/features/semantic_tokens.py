"""textDocument/semanticTokens (full, range, full/delta): what each name in a spell *is*.

Editors already colour keywords, strings, numbers and comments from their grammars (TextMate in VS Code,
tree-sitter in Neovim), so, like lua-language-server, the tokens here are about names: the API globals
(``Agent``, ``Tool`` … as ``namespace`` + ``defaultLibrary``), API methods and fields reached through a
typed chain (``Agent.builder():name(...)``, ``agent:execute`` — ``method``/``property`` +
``defaultLibrary``, ``deprecated`` for deprecated API, ``async`` for methods that await the runtime),
the Lua standard library and JS built-ins (``defaultLibrary``), local variables (``readonly`` for
``<const>`` and JS ``const``), functions, parameters, table/object keys (``property`` +
``declaration``), and API type names in ``---@type``/``@param {T}`` annotations (``class``). Lua's
``<const>``/``<close>`` attribute names are ``keyword``.

Cost: one iterative walk over the tree (named children only; strings, numbers and comments are not
entered), with scopes kept as a stack of dicts and expression types memoised per node, so chains are
typed once. The walk goes top-level statement group by group (~2 KB each); a group's result (tokens
relative to its first line, the outer names it looked up and what they were, the top-level names it
binds) is kept across document versions and reused when its text and those outer names are unchanged,
so after an edit only the edited group is walked again and the rest is list concatenation.

Tokens never span lines and never overlap, which satisfies clients without ``multilineTokenSupport``
or ``overlappingTokenSupport``. Columns are in the negotiated position encoding (UTF-16 or UTF-8).
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

from lsprotocol import types as lsp
from tree_sitter import Node

from llmspell_ls.apimodel import ApiIndex, Field, Function
from llmspell_ls.budget import Cancelled, checkpoint, current
from llmspell_ls.documents import DocState, settled_children
from llmspell_ls.features.common import RawJSON, col_to_client

TOKEN_TYPES = ["namespace", "class", "function", "method", "parameter", "variable", "property", "keyword"]
TOKEN_MODIFIERS = ["declaration", "readonly", "deprecated", "async", "defaultLibrary"]
LEGEND = lsp.SemanticTokensLegend(token_types=TOKEN_TYPES, token_modifiers=TOKEN_MODIFIERS)

NAMESPACE, CLASS, FUNCTION, METHOD, PARAMETER, VARIABLE, PROPERTY, KEYWORD = range(8)
DECLARATION, READONLY, DEPRECATED, ASYNC, DEFAULT_LIBRARY = (1 << i for i in range(5))

CHUNK_BYTES = 2048

LUA_LIBS = frozenset("string table math os io coroutine utf8 debug package".split())
LUA_FUNCS = frozenset(
    "print pairs ipairs type tostring tonumber error assert pcall xpcall select next rawget rawset rawequal "
    "rawlen setmetatable getmetatable require load loadfile dofile collectgarbage unpack sleep".split())
LUA_VARS = frozenset({"_G", "_VERSION", "_ENV"})
JS_NAMESPACES = frozenset({"console", "Math", "Reflect", "Atomics", "Intl"})
JS_CLASSES = frozenset(
    "Object Array String Number Boolean Promise Date Error Map Set RegExp Symbol BigInt WeakMap WeakSet Proxy "
    "TypeError RangeError SyntaxError ReferenceError Uint8Array ArrayBuffer".split())
JS_FUNCS = frozenset(
    "parseInt parseFloat isNaN isFinite setTimeout clearTimeout setInterval clearInterval queueMicrotask "
    "structuredClone encodeURIComponent decodeURIComponent encodeURI decodeURI sleep".split())
JS_VARS = frozenset({"globalThis", "NaN", "Infinity"})

Binding = tuple[int, int, str | None, bool]
"""(token type, modifiers, API type name or None, the value is a Promise of that type)."""

_LUA_SKIP = frozenset({"string", "number", "nil", "true", "false", "vararg_expression", "goto_statement",
                       "label_statement", "break_statement", "escape_sequence", "hash_bang_line"})
_JS_SKIP = frozenset({"string", "number", "regex", "null", "true", "false", "undefined", "this", "super",
                      "statement_identifier", "hash_bang_line", "empty_statement", "optional_chain",
                      "string_fragment", "escape_sequence", "html_comment", "meta_property"})
_CALLISH = frozenset({"function_call", "call_expression", "await_expression", "parenthesized_expression",
                      "dot_index_expression", "member_expression"})
_ANNOT_LUA = re.compile(rb"^\s*---?\s*@(?:type|param|return|field|class|as|cast|alias|overload|generic)\b(.*)$")
_ANNOT_JS = re.compile(rb"\{([^{}\n]*)\}")
_TYPE_NAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(slots=True)
class _Chunk:
    data: list[int]
    """Tokens relative-encoded from (first line of the group, column 0)."""
    last_row: int
    last_col: int
    deps: dict[str, Binding | None]
    exports: dict[str, Binding]


class _Walker:
    """Walks one group of top-level statements (see the module docstring)."""

    def __init__(self, doc: DocState, index: ApiIndex, env: dict[str, Binding], enc: str, ascii_doc: bool):
        self.doc = doc
        self.index = index
        self.env = env
        self.enc = enc
        self.ascii = ascii_doc
        self.src = doc.source
        self.lua = doc.lang == "lua"
        self.lang = doc.lang
        self.scopes: list[dict[str, Binding]] = [{}]
        self.deps: dict[str, Binding | None] = {}
        self.toks: list[tuple[int, int, int, int, int]] = []
        self.callees: set[int] = set()
        self.tmemo: dict[int, tuple[str, bool] | None] = {}
        self.mmemo: dict[int, Function | Field | None] = {}
        self._globals: dict[str, Binding] = {}
        self.api_types = index.classes.keys() | index.records.keys()
        self.calls: list[tuple[Node, Function]] | None = None
        """When set (inlay hints), every call of an API function with an argument list is recorded."""
        self.decls: list[tuple[Node, tuple[str, bool]]] = []
        """With ``calls`` set: names bound to the typed result of a call (for type hints)."""

    # ------------------------------------------------------------------ tokens and names
    def text(self, node: Node) -> str:
        return self.src[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def emit(self, node: Node, tt: int, mods: int) -> None:
        (r, c), (r2, c2) = node.start_point, node.end_point
        if r == r2 and c2 > c:
            self.toks.append((r, c, c2, tt, mods))

    def lookup(self, name: str) -> Binding:
        for scope in reversed(self.scopes):
            b = scope.get(name)
            if b is not None:
                return b
        if name in self.deps:
            b = self.deps[name]
        else:
            b = self.deps[name] = self.env.get(name)
        return b if b is not None else self.global_binding(name)

    def global_binding(self, name: str) -> Binding:
        got = self._globals.get(name)
        if got is not None:
            return got
        g = self.index.globals.get(name)
        b: Binding
        if g is not None:
            b = (NAMESPACE, DEFAULT_LIBRARY | READONLY, g.name, False) if g.kind != "value" \
                else (VARIABLE, DEFAULT_LIBRARY | READONLY, None, False)
        elif self.lua:
            b = ((NAMESPACE, DEFAULT_LIBRARY, None, False) if name in LUA_LIBS
                 else (FUNCTION, DEFAULT_LIBRARY, None, False) if name in LUA_FUNCS
                 else (VARIABLE, DEFAULT_LIBRARY, None, False) if name in LUA_VARS
                 else (VARIABLE, 0, None, False))
        else:
            b = ((NAMESPACE, DEFAULT_LIBRARY, None, False) if name in JS_NAMESPACES
                 else (CLASS, DEFAULT_LIBRARY, None, False) if name in JS_CLASSES
                 else (FUNCTION, DEFAULT_LIBRARY, None, False) if name in JS_FUNCS
                 else (VARIABLE, DEFAULT_LIBRARY | READONLY, None, False) if name in JS_VARS
                 else (VARIABLE, 0, None, False))
        self._globals[name] = b
        return b

    def bind(self, node: Node, tt: int, mods: int, value: Node | None = None, scope: int = -1) -> None:
        t = self.type_of(value) if value is not None else None
        self.scopes[scope][self.text(node)] = (tt, mods, t[0] if t else None, t[1] if t else False)
        if t is not None and self.calls is not None and value is not None and value.type in _CALLISH:
            self.decls.append((node, t))
        self.emit(node, tt, mods | DECLARATION)

    def use(self, node: Node) -> None:
        b = self.lookup(self.text(node))
        self.emit(node, b[0], b[1])

    # ------------------------------------------------------------------ types (memoised per node)
    def type_of(self, node: Node, depth: int = 0) -> tuple[str, bool] | None:
        """(API type name, is a Promise) of an expression, or None."""
        key = node.id
        if key in self.tmemo:
            return self.tmemo[key]
        r: tuple[str, bool] | None = None
        t = node.type
        if depth < 100:
            if t == "identifier":
                b = self.lookup(self.text(node))
                r = (b[2], b[3]) if b[2] else None
            elif t in ("dot_index_expression", "method_index_expression", "member_expression"):
                m = self.member_of(node, depth)
                if isinstance(m, Field):
                    r = self._ref(m.type)
                elif m is None and t != "method_index_expression":
                    owner = self.type_of(node.named_children[0], depth + 1)
                    c = self.index.type_(owner[0]) if owner and not owner[1] else None
                    if c is not None and c.index_type and c.kind == "global":
                        r = self._ref(c.index_type)  # ``Tool.calculator`` -> a ToolHandle
            elif t in ("function_call", "call_expression"):
                kids = node.named_children
                m = self.member_of(kids[0], depth) if kids else None
                if isinstance(m, Function):
                    r = (m.owner, False) if m.returns_self else self._ref(m.returns)
                    if r is not None and m.is_async and not self.lua:
                        r = (r[0], True)
            elif t == "await_expression":
                kids = node.named_children
                inner = self.type_of(kids[0], depth + 1) if kids else None
                r = (inner[0], False) if inner else None
            elif t == "parenthesized_expression":
                kids = node.named_children
                r = self.type_of(kids[0], depth + 1) if kids else None
        self.tmemo[key] = r
        return r

    def _ref(self, type_str: str | None) -> tuple[str, bool] | None:
        name = self.index.resolve(type_str)
        return (name, False) if name else None

    def member_of(self, node: Node, depth: int = 0) -> Function | Field | None:
        """The API member a ``a.b`` / ``a:b`` / ``a.b`` (JS) expression names, if its owner is typed."""
        if node.type not in ("dot_index_expression", "method_index_expression", "member_expression"):
            return None
        key = node.id
        if key in self.mmemo:
            return self.mmemo[key]
        kids = node.named_children
        m: Function | Field | None = None
        if len(kids) >= 2:
            owner = self.type_of(kids[0], depth + 1)
            if owner is not None and not owner[1]:
                m = self.index.members(owner[0], self.lang).get(self.text(kids[-1]))  # type: ignore[arg-type]
        self.mmemo[key] = m
        return m

    def member_token(self, expr: Node, name: Node) -> None:
        m = self.member_of(expr)
        if isinstance(m, Function):
            mods = DEFAULT_LIBRARY | (DEPRECATED if m.deprecated else 0) | (ASYNC if m.is_async else 0)
            self.emit(name, METHOD, mods)
        elif isinstance(m, Field):
            self.emit(name, PROPERTY, DEFAULT_LIBRARY)
        else:
            tt = METHOD if expr.id in self.callees or expr.type == "method_index_expression" else PROPERTY
            owner = expr.named_children[0]
            mods = 0
            if owner.type == "identifier":  # ``string.format``, ``console.log``, ``Math.max``
                b = self.lookup(self.text(owner))
                if b[0] in (NAMESPACE, CLASS) and b[1] & DEFAULT_LIBRARY and b[2] is None:
                    mods = DEFAULT_LIBRARY
            self.emit(name, tt, mods)

    # ------------------------------------------------------------------ annotations
    def comment(self, node: Node) -> None:
        raw = node.text or b""
        if b"@" not in raw:
            return
        r0, c0 = node.start_point
        for i, line in enumerate(raw.split(b"\n")):
            base = c0 if i == 0 else 0
            if self.lua:
                m = _ANNOT_LUA.match(line)
                spans = [(m.start(1), m.group(1))] if m else []
            else:
                spans = [(m.start(1), m.group(1)) for m in _ANNOT_JS.finditer(line)] if b"@" in line else []
            for off, part in spans:
                for n in _TYPE_NAME.finditer(part):
                    if n.group().decode() in self.api_types:
                        c = base + off + n.start()
                        self.toks.append((r0 + i, c, c + len(n.group()), CLASS, DEFAULT_LIBRARY))

    # ------------------------------------------------------------------ the walk
    def walk(self, nodes: list[Node]) -> None:
        stack: list[Any] = list(reversed(nodes))
        handlers = self.lua_handlers() if self.lua else self.js_handlers()
        skip = _LUA_SKIP if self.lua else _JS_SKIP
        pop = stack.pop
        push = stack.append
        while stack:
            item = pop()
            if type(item) is tuple:
                op = item[0]
                if op == "push":
                    self.scopes.append({})
                elif op == "pop":
                    if len(self.scopes) > 1:
                        self.scopes.pop()
                else:
                    op(*item[1:])
                continue
            t = item.type
            h = handlers.get(t)
            if h is not None:
                h(item, stack)
            elif t not in skip:
                stack.extend(reversed(item.named_children))
        _ = push

    def scoped(self, node: Node, stack: list[Any], kids: list[Any] | None = None) -> None:
        stack.append(("pop",))
        stack.extend(reversed(node.named_children if kids is None else kids))
        stack.append(("push",))

    # ---- Lua
    def lua_handlers(self) -> dict[str, Any]:
        return {
            "identifier": lambda n, s: self.use(n),
            "comment": lambda n, s: self.comment(n),
            "variable_declaration": self.lua_local,
            "assignment_statement": self.lua_assign,
            "function_declaration": self.lua_function,
            "function_definition": self.lua_function,
            "for_generic_clause": self.lua_for_generic,
            "for_numeric_clause": self.lua_for_numeric,
            "for_statement": self.scoped,
            "block": self.scoped,
            "do_statement": self.scoped,
            "while_statement": self.scoped,
            "repeat_statement": self.scoped,
            "dot_index_expression": self.index_expr,
            "method_index_expression": self.index_expr,
            "function_call": self.call,
            "field": self.lua_field,
        }

    def lua_local(self, node: Node, stack: list[Any]) -> None:
        kids = node.named_children
        if not kids:
            return
        first = kids[0]
        if first.type == "assignment_statement":
            parts = first.named_children
            names = parts[0] if parts else None
            values = parts[-1] if len(parts) > 1 else None
        else:
            names, values = first, None
        if names is None:
            return
        stack.append((self.lua_declare, names, values))
        if values is not None:
            stack.append(values)

    def lua_declare(self, names: Node, values: Node | None) -> None:
        vals = values.named_children if values is not None else []
        kids = names.named_children
        k = 0
        for i, n in enumerate(kids):
            if n.type != "identifier":
                continue
            mods = 0
            if i + 1 < len(kids) and kids[i + 1].type == "attribute":
                attr = kids[i + 1].named_children
                if attr:
                    self.emit(attr[0], KEYWORD, 0)
                    if self.text(attr[0]) == "const":
                        mods = READONLY
            self.bind(n, VARIABLE, mods, vals[k] if k < len(vals) else None)
            k += 1

    def lua_assign(self, node: Node, stack: list[Any]) -> None:
        parts = node.named_children
        if len(parts) < 2:
            stack.extend(reversed(parts))
            return
        targets, values = parts[0], parts[-1]
        tkids = targets.named_children
        vals = values.named_children
        for i, tnode in enumerate(tkids):
            if tnode.type != "identifier":
                continue
            name = self.text(tnode)
            b = self.lookup(name)
            self.emit(tnode, b[0], b[1])
            if i < len(vals) and len(tkids) == len(vals):
                stack.append((self._retype, name, vals[i]))
        stack.extend(reversed([t for t in tkids if t.type != "identifier"]))
        stack.append(values)

    def _retype(self, name: str, value: Node) -> None:
        """``x = <expr>`` gives a local its new value's type from here on (``wf = wf:build()``)."""
        for scope in reversed(self.scopes):
            b = scope.get(name)
            if b is not None:
                t = self.type_of(value)
                scope[name] = (b[0], b[1], t[0] if t else None, t[1] if t else False)
                return

    def lua_function(self, node: Node, stack: list[Any]) -> None:
        is_local = node.child_count > 0 and node.children[0].type == "local"
        name = node.child_by_field_name("name")
        params = node.child_by_field_name("parameters")
        body = node.child_by_field_name("body")
        method = False
        pre: list[Node] = []
        if name is not None:
            if name.type == "identifier":
                if is_local:
                    self.bind(name, FUNCTION, 0)
                else:
                    found = any(self.text(name) in s for s in self.scopes)
                    if found:
                        self.use(name)
                    else:
                        self.bind(name, FUNCTION, 0, scope=0)  # a global function: a top-level name
            elif name.type in ("dot_index_expression", "method_index_expression"):
                kids = name.named_children
                method = name.type == "method_index_expression"
                if len(kids) >= 2:
                    pre.append(kids[0])
                    self.emit(kids[-1], METHOD, DECLARATION)
        stack.append(("pop",))
        if body is not None:
            stack.append(body)
        stack.append((self.params, params, method))
        stack.append(("push",))
        stack.extend(reversed(pre))

    def params(self, params: Node | None, method: bool) -> None:
        if method:
            self.scopes[-1]["self"] = (PARAMETER, 0, None, False)
        if params is None:
            return
        for p in params.named_children:
            self.param_pattern(p)

    def lua_for_generic(self, node: Node, stack: list[Any]) -> None:
        kids = node.named_children
        names = next((k for k in kids if k.type == "variable_list"), None)
        if names is not None:
            stack.append((self.lua_declare, names, None))
        stack.extend(reversed([k for k in kids if k.type != "variable_list"]))

    def lua_for_numeric(self, node: Node, stack: list[Any]) -> None:
        name = node.child_by_field_name("name")
        if name is not None:
            stack.append((self.bind, name, VARIABLE, 0))
        stack.extend(reversed([k for k in node.named_children if name is None or k.id != name.id]))

    def lua_field(self, node: Node, stack: list[Any]) -> None:
        name = node.child_by_field_name("name")
        if name is not None and name.type == "identifier" and node.children[0].id == name.id:
            self.emit(name, PROPERTY, DECLARATION)
            value = node.child_by_field_name("value")
            if value is not None:
                stack.append(value)
            return
        stack.extend(reversed(node.named_children))

    def index_expr(self, node: Node, stack: list[Any]) -> None:
        kids = node.named_children
        if len(kids) < 2:
            stack.extend(reversed(kids))
            return
        name = kids[-1]
        if name.type in ("identifier", "property_identifier", "private_property_identifier"):
            self.member_token(node, name)
            stack.extend(reversed(kids[:-1]))
        else:
            stack.extend(reversed(kids))

    def call(self, node: Node, stack: list[Any]) -> None:
        kids = node.named_children
        if kids:
            self.callees.add(kids[0].id)
            if self.calls is not None and len(kids) > 1 and kids[-1].type == "arguments":
                m = self.member_of(kids[0])
                if isinstance(m, Function) and m.params:
                    self.calls.append((kids[-1], m))
        stack.extend(reversed(kids))

    # ---- JavaScript
    def js_handlers(self) -> dict[str, Any]:
        return {
            "identifier": lambda n, s: self.use(n),
            "shorthand_property_identifier": lambda n, s: self.use(n),
            "property_identifier": lambda n, s: self.emit(n, PROPERTY, 0),
            "comment": lambda n, s: self.comment(n),
            "lexical_declaration": self.js_declaration,
            "variable_declaration": self.js_declaration,
            "function_declaration": self.js_function,
            "generator_function_declaration": self.js_function,
            "function_expression": self.js_function,
            "generator_function": self.js_function,
            "arrow_function": self.js_function,
            "method_definition": self.js_function,
            "class_declaration": self.js_class,
            "class": self.js_class,
            "statement_block": self.js_block,
            "for_statement": self.scoped,
            "for_in_statement": self.js_for_in,
            "catch_clause": self.js_catch,
            "member_expression": self.index_expr,
            "call_expression": self.call,
            "pair": self.js_pair,
            "import_specifier": self.js_import_specifier,
            "import_clause": self.js_import_clause,
            "namespace_import": self.js_namespace_import,
            "assignment_expression": self.js_assign,
        }

    def hoist(self, nodes: list[Node]) -> None:
        for n in nodes:
            if n.type in ("function_declaration", "generator_function_declaration"):
                name = n.child_by_field_name("name")
                if name is not None:
                    self.scopes[-1][self.text(name)] = (FUNCTION, 0, None, False)

    def js_block(self, node: Node, stack: list[Any]) -> None:
        kids = node.named_children
        stack.append(("pop",))
        stack.extend(reversed(kids))
        stack.append((self.hoist, kids))
        stack.append(("push",))

    def js_declaration(self, node: Node, stack: list[Any]) -> None:
        kind = node.children[0].type if node.child_count else "var"
        mods = READONLY if kind == "const" else 0
        for d in reversed(node.named_children):
            if d.type != "variable_declarator":
                stack.append(d)
                continue
            name = d.child_by_field_name("name")
            value = d.child_by_field_name("value")
            if name is not None:
                stack.append((self.pattern, name, VARIABLE, mods, value))
            if value is not None:
                stack.append(value)

    def pattern(self, node: Node, tt: int, mods: int, value: Node | None = None) -> None:
        """Declare the names of a binding pattern (identifiers, ``{a, b: c}``, ``[x, ...y]``, defaults)."""
        work = [node]
        while work:
            n = work.pop()
            t = n.type
            if t in ("identifier", "shorthand_property_identifier_pattern"):
                self.bind(n, tt, mods, value if n is node else None)
            elif t == "pair_pattern":
                key = n.child_by_field_name("key")
                val = n.child_by_field_name("value")
                if key is not None and key.type == "property_identifier":
                    self.emit(key, PROPERTY, 0)
                if val is not None:
                    work.append(val)
            elif t == "assignment_pattern":
                left = n.child_by_field_name("left")
                right = n.child_by_field_name("right")
                if right is not None:
                    self.walk([right])
                if left is not None:
                    work.append(left)
            elif t == "object_assignment_pattern":
                left = n.child_by_field_name("left")
                right = n.child_by_field_name("right")
                if right is not None:
                    self.walk([right])
                if left is not None:
                    work.append(left)
            else:
                work.extend(reversed(n.named_children))

    def param_pattern(self, node: Node) -> None:
        if node.type == "identifier":
            self.bind(node, PARAMETER, 0)
        elif node.type not in ("vararg_expression", "comment", "(", ")", ","):
            self.pattern(node, PARAMETER, 0)

    def js_function(self, node: Node, stack: list[Any]) -> None:
        name = node.child_by_field_name("name")
        params = node.child_by_field_name("parameters")
        single = node.child_by_field_name("parameter")
        body = node.child_by_field_name("body")
        if name is not None:
            if node.type == "method_definition":
                if name.type in ("property_identifier", "private_property_identifier"):
                    self.emit(name, METHOD, DECLARATION)
                else:
                    stack.append(name)  # computed key
            elif node.type in ("function_declaration", "generator_function_declaration"):
                self.bind(name, FUNCTION, 0)
            else:
                self.emit(name, FUNCTION, DECLARATION)
        stack.append(("pop",))
        if body is not None:
            stack.append(body)
        if single is not None:
            stack.append((self.param_pattern, single))
        if params is not None:
            stack.append((self.params, params, False))
        stack.append(("push",))

    def js_class(self, node: Node, stack: list[Any]) -> None:
        name = node.child_by_field_name("name")
        if name is not None:
            if node.type == "class_declaration":
                self.bind(name, CLASS, 0)
            else:
                self.emit(name, CLASS, DECLARATION)
        stack.extend(reversed([k for k in node.named_children if name is None or k.id != name.id]))

    def js_for_in(self, node: Node, stack: list[Any]) -> None:
        left = node.child_by_field_name("left")
        kind = node.child_by_field_name("kind")
        rest = [k for k in node.named_children if left is None or k.id != left.id]
        stack.append(("pop",))
        stack.extend(reversed(rest))
        if left is not None:
            if kind is not None:
                stack.append((self.pattern, left, VARIABLE, READONLY if kind.type == "const" else 0))
            else:
                stack.append(left)
        stack.append(("push",))

    def js_catch(self, node: Node, stack: list[Any]) -> None:
        param = node.child_by_field_name("parameter")
        rest = [k for k in node.named_children if param is None or k.id != param.id]
        stack.append(("pop",))
        stack.extend(reversed(rest))
        if param is not None:
            stack.append((self.pattern, param, VARIABLE, 0))
        stack.append(("push",))

    def js_pair(self, node: Node, stack: list[Any]) -> None:
        key = node.child_by_field_name("key")
        value = node.child_by_field_name("value")
        if key is not None and key.type == "property_identifier":
            self.emit(key, PROPERTY, DECLARATION)
        elif key is not None:
            stack.append(key)
        if value is not None:
            stack.append(value)

    def js_import_specifier(self, node: Node, stack: list[Any]) -> None:
        name = node.child_by_field_name("name")
        alias = node.child_by_field_name("alias")
        if alias is not None and name is not None:
            self.emit(name, VARIABLE, READONLY)
            self.bind(alias, VARIABLE, READONLY, scope=0)
        elif name is not None:
            self.bind(name, VARIABLE, READONLY, scope=0)

    def js_import_clause(self, node: Node, stack: list[Any]) -> None:
        for k in node.named_children:
            if k.type == "identifier":
                self.bind(k, VARIABLE, READONLY, scope=0)
            else:
                stack.append(k)

    def js_namespace_import(self, node: Node, stack: list[Any]) -> None:
        for k in node.named_children:
            if k.type == "identifier":
                self.bind(k, NAMESPACE, READONLY, scope=0)

    def js_assign(self, node: Node, stack: list[Any]) -> None:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is not None and right is not None and left.type == "identifier":
            self.use(left)
            stack.append((self._retype, self.text(left), right))
            stack.append(right)
            return
        stack.extend(reversed(node.named_children))

    # ------------------------------------------------------------------ encoding
    def encode(self, base_row: int) -> tuple[list[int], int, int]:
        """Relative-encoded tokens (first one relative to (base_row, 0)) and the last token's
        (row - base_row, column)."""
        toks = sorted(self.toks)
        data: list[int] = []
        prow, pcol = base_row, 0
        lines = self.doc.lines
        conv = not self.ascii
        for r, c, c2, tt, mods in toks:
            if conv:
                line = lines[r] if r < len(lines) else ""
                if not line.isascii():
                    start = col_to_client(line, self.doc.byte_to_col(r, c), self.enc)
                    end = col_to_client(line, self.doc.byte_to_col(r, c2), self.enc)
                    c, c2 = start, end
            if r == prow:
                if c < pcol:
                    continue  # overlapping (cannot happen for names; kept safe)
                data += (0, c - pcol, c2 - c, tt, mods)
            else:
                data += (r - prow, c, c2 - c, tt, mods)
            prow, pcol = r, c
        return data, prow - base_row, pcol




# ------------------------------------------------------------------------------------- whole document
_result_ids = itertools.count(1)


def _groups(children: list[Node]) -> list[tuple[int, int, int, list[Node]]]:
    """Top-level statements grouped to ~CHUNK_BYTES: (first row, start byte, end byte, nodes)."""
    out: list[tuple[int, int, int, list[Node]]] = []
    for child in children:
        if out and child.end_byte - out[-1][1] <= CHUNK_BYTES:
            row, s, _, nodes = out[-1]
            nodes.append(child)
            out[-1] = (row, s, child.end_byte, nodes)
        else:
            out.append((child.start_point[0], child.start_byte, child.end_byte, [child]))
    return out


def token_data(doc: DocState, index: ApiIndex, enc: str, out: list[int] | None = None) -> list[int]:
    """The full relative-encoded token array of a document version (cached on the snapshot).

    Stopped by its budget (:class:`~llmspell_ls.budget.Cancelled` from a checkpoint), the groups walked
    so far are kept for the next pass (their chunks) and their tokens are in ``out`` (a prefix of the
    document's tokens: correct for the rows it covers)."""
    key = ("semtok", id(index), enc)
    got = doc.cache.get(key)
    if got is not None:
        return got  # type: ignore[no-any-return]
    cache: dict[Any, _Chunk] = doc.shared.setdefault(("semtok-chunks", id(index), enc), {})
    ascii_doc = doc.cache.get("_ascii")
    if ascii_doc is None:
        ascii_doc = doc.cache["_ascii"] = doc.text.isascii()
    root = doc.tree.root_node
    env: dict[str, Binding] = {}
    if doc.lang == "javascript":
        w = _Walker(doc, index, env, enc, ascii_doc)
        w.hoist(root.children)
        env.update(w.scopes[0])
    src = doc.source
    layout: list[tuple[int, list[Node], dict[str, Binding]]] = []
    start_env = dict(env)
    out = [] if out is None else out
    prow = pcol = 0
    fresh: dict[Any, _Chunk] = {}
    groups = doc.cache.get("semtok-groups")
    if groups is None:  # tens of ms on 200,000 lines: once per version, even when the pass stops early
        # on a window of a huge document not parsed yet, the statements the rest cannot change
        groups = doc.cache["semtok-groups"] = _groups(settled_children(doc)[0])
    for row, s, e, nodes in groups:
        try:
            checkpoint()  # cancelled or over budget: stop (the version's tokens are not cached)
        except Cancelled:
            cache.update(fresh)  # the chunks walked so far: the next pass starts from them
            raise
        line_start = src.rfind(b"\n", 0, s) + 1
        piece = src[line_start:e]
        ckey = (len(piece), hash(piece))
        chunk = cache.get(ckey) or fresh.get(ckey)
        if chunk is None or any(env.get(n) != v for n, v in chunk.deps.items()):
            w = _Walker(doc, index, env, enc, ascii_doc)
            w.walk(nodes)
            data, last_row, last_col = w.encode(row)
            chunk = _Chunk(data, last_row, last_col, w.deps, w.scopes[0])
        fresh[ckey] = chunk
        layout.append((row, nodes, chunk.exports))
        env.update(chunk.exports)
        data = chunk.data
        if data:
            first_row = row + data[0]
            dl = first_row - prow
            out += (dl, data[1] - pcol if dl == 0 else data[1])
            out += data[2:]
            prow, pcol = row + chunk.last_row, chunk.last_col
    cache.clear()
    cache.update(fresh)
    doc.cache[key] = out
    doc.cache[("semtok-layout", id(index), enc)] = (start_env, layout)
    return out


def walk_rows(doc: DocState, index: ApiIndex, enc: str, first: int, last: int) -> list[_Walker]:
    """Walkers that collected calls and typed declarations for the top-level groups overlapping rows
    ``first..last`` (each with the names bound before its group), for inlay hints."""
    token_data(doc, index, enc)
    start_env, layout = doc.cache[("semtok-layout", id(index), enc)]
    env = dict(start_env)
    ascii_doc = bool(doc.cache.get("_ascii"))
    out: list[_Walker] = []
    for k, (row, nodes, exports) in enumerate(layout):
        checkpoint()
        next_row = layout[k + 1][0] if k + 1 < len(layout) else None
        if row > last:
            break
        if next_row is None or next_row >= first:
            end_row = nodes[-1].end_point[0]
            if end_row >= first:
                w = _Walker(doc, index, env, enc, ascii_doc)
                w.calls = []
                w.walk(nodes)
                out.append(w)
        env.update(exports)
    return out


MAX_FULL_TOKENS = 100_000
"""A full answer holds at most this many tokens (the first ones): past it, the JSON alone (5 integers a
token) takes longer to write and read than a request may; clients ask ``range`` for what they show."""


def semantic_tokens_full(doc: DocState, index: ApiIndex, enc: str) -> lsp.SemanticTokens:
    """Full tokens with a result id the client can ask a delta against.

    Over the request's budget (its token expired, not cancelled by the client), the answer is the tokens
    of the groups walked so far — a prefix of the document, correct for what it covers — marked by
    cancelling the token as "over budget" so that it is not cached; the next request continues from
    the kept chunks."""
    key = ("semtok-full", id(index), enc)
    got = doc.cache.get(key)
    if got is None:
        partial: list[int] = []
        try:
            data = token_data(doc, index, enc, partial)
        except Cancelled:
            tok = current()
            if tok is None or tok.cancelled or tok.inline:
                raise  # the client cancelled (or the loop's short try: the pool re-runs it)
            tok.cancel("over budget")  # answer the prefix, do not cache it
            return _sent(doc, index, enc, partial[:5 * MAX_FULL_TOKENS])
        got = _sent(doc, index, enc, data[:5 * MAX_FULL_TOKENS])
        doc.cache[key] = got
    return got  # type: ignore[no-any-return]


def _sent(doc: DocState, index: ApiIndex, enc: str, data: list[int]) -> lsp.SemanticTokens:
    got = lsp.SemanticTokens(data=data, result_id=f"{doc.version}.{next(_result_ids)}")
    sent: dict[str, list[int]] = doc.shared.setdefault(("semtok-sent", id(index), enc), {})
    sent.clear()  # only the latest result can be the base of a delta
    sent[got.result_id] = data  # type: ignore[index]
    return got


def semantic_tokens_delta(doc: DocState, index: ApiIndex, enc: str,
                          previous_result_id: str) -> lsp.SemanticTokens | lsp.SemanticTokensDelta:
    """The edit from the tokens sent as ``previous_result_id`` to the current ones (full tokens when that
    result is unknown)."""
    sent: dict[str, list[int]] = doc.shared.setdefault(("semtok-sent", id(index), enc), {})
    old = sent.get(previous_result_id)
    full = semantic_tokens_full(doc, index, enc)
    if old is None:
        return full
    new = full.data
    if full.result_id == previous_result_id:
        return lsp.SemanticTokensDelta(edits=[], result_id=full.result_id)
    start, old_end, new_end = _int_edit(old, list(new))
    edits = [] if old_end == start and new_end == start else [
        lsp.SemanticTokensEdit(start=start, delete_count=old_end - start, data=list(new[start:new_end]))]
    sent.pop(previous_result_id, None)
    return lsp.SemanticTokensDelta(edits=edits, result_id=full.result_id)


def _int_edit(old: list[int], new: list[int]) -> tuple[int, int, int]:
    """(start, old_end, new_end) of the one edit turning ``old`` into ``new`` (binary search on slices)."""
    n = min(len(old), len(new))
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if old[:mid] == new[:mid]:
            lo = mid
        else:
            hi = mid - 1
    start = lo
    lo, hi = 0, n - start
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if old[len(old) - mid:] == new[len(new) - mid:]:
            lo = mid
        else:
            hi = mid - 1
    return start, len(old) - lo, len(new) - lo


def semantic_tokens_range(doc: DocState, index: ApiIndex, enc: str, rng: lsp.Range) -> lsp.SemanticTokens:
    """Tokens starting inside ``rng`` (from the cached full array, re-encoded). On a window of a huge
    document not parsed yet (:func:`~llmspell_ls.documents.range_window`): the tokens of its statements
    that the rest of the document cannot change (:func:`window_walker`), a subset of the full answer."""
    if doc.cache.get("_window") is not None:
        data, _, _ = window_walker(doc, index, enc).encode(0)
        return lsp.SemanticTokens(data=_in_range(data, rng))
    return lsp.SemanticTokens(data=_in_range(token_data(doc, index, enc), rng))


def _in_range(data: list[int], rng: lsp.Range) -> list[int]:
    """The tokens of ``data`` (relative-encoded from (0, 0)) starting inside ``rng``, re-encoded."""
    first, last = rng.start.line, rng.end.line
    out: list[int] = []
    row = col = 0
    prow = pcol = -1
    for i in range(0, len(data), 5):
        dl, dc = data[i], data[i + 1]
        if dl:
            row += dl
            col = dc
        else:
            col += dc
        if row < first or (row == first and col < rng.start.character):
            continue
        if row > last or (row == last and col >= rng.end.character):
            break
        if prow < 0:
            out += (row, col)
        elif row == prow:
            out += (0, col - pcol)
        else:
            out += (row - prow, col)
        out += data[i + 2:i + 5]
        prow, pcol = row, col
    return out


UNSURE: Binding = (-1, 0, None, False)
"""What a window's walk knows of a name bound outside the window: nothing (its tokens are left out)."""

_CHAIN = frozenset({"function_call", "call_expression", "dot_index_expression", "method_index_expression",
                    "member_expression", "bracket_index_expression", "subscript_expression",
                    "parenthesized_expression", "await_expression"})


class _WindowWalker(_Walker):
    """A walk of a window's statements (a huge document not parsed yet), which does not know the names
    bound before the window: a name found in none of the window's scopes is a library name (the API
    globals, the standard library) or unknown, and a token that depends on an unknown name — the name
    itself, or a member of an untyped chain (the full walk might know its type) — is left out. Every
    token it emits is the full walk's token (the answer is a subset of the full one)."""

    def lookup(self, name: str) -> Binding:
        for scope in reversed(self.scopes):
            b = scope.get(name)
            if b is not None:
                return b
        g = self.global_binding(name)
        return g if g[1] & DEFAULT_LIBRARY else UNSURE

    limit: tuple[int, int] | None = None
    """Tokens end at or before this point (the window's last statement is cut there)."""

    def emit(self, node: Node, tt: int, mods: int) -> None:
        if tt >= 0 and (self.limit is None or node.end_point <= self.limit):
            _Walker.emit(self, node, tt, mods)

    def member_token(self, expr: Node, name: Node) -> None:
        if self.member_of(expr) is None:  # untyped here: typed or not in the full walk, unknown
            owner = expr.named_children[0]
            if owner.type != "identifier":
                return
            b = self.lookup(self.text(owner))
            if not (b[0] in (NAMESPACE, CLASS) and b[1] & DEFAULT_LIBRARY and b[2] is None):
                return  # only ``string.format``-like members of a library namespace are sure
        root = expr
        while root.type in _CHAIN and root.named_children:
            root = root.named_children[0]
        if root.type == "identifier" and self.lookup(self.text(root))[0] < 0:
            return
        _Walker.member_token(self, expr, name)


def window_walker(doc: DocState, index: ApiIndex, enc: str, calls: bool = False) -> _Walker:
    """A :class:`_WindowWalker` that walked the settled statements of ``doc``, a window
    (:func:`~llmspell_ls.documents.window_statements`); ``calls``: recording calls (inlay hints)."""
    from llmspell_ls.documents import window_statements

    ascii_doc = doc.cache.get("_ascii")
    if ascii_doc is None:
        ascii_doc = doc.cache["_ascii"] = doc.text.isascii()
    kids, limit = window_statements(doc)
    w = _WindowWalker(doc, index, {}, enc, bool(ascii_doc))
    w.limit = limit
    if calls:
        w.calls = []
    if not w.lua:
        w.hoist(kids)
    w.walk(kids)
    if limit is not None:  # past the cut: nothing is sure
        w.toks = [t for t in w.toks if (t[0], t[2]) <= limit]
        if w.calls:
            w.calls = [c for c in w.calls if c[0].end_point <= limit]
        w.decls = [d for d in w.decls if d[0].end_point <= limit]
    return w


def decode(data: list[int] | tuple[int, ...]) -> list[tuple[int, int, int, str, set[str]]]:
    """(line, character, length, type, modifiers) of each token: for tests and debugging."""
    out = []
    row = col = 0
    for i in range(0, len(data), 5):
        dl, dc, ln, tt, mods = data[i:i + 5]
        if dl:
            row += dl
            col = dc
        else:
            col += dc
        out.append((row, col, ln, TOKEN_TYPES[tt], {m for k, m in enumerate(TOKEN_MODIFIERS) if mods >> k & 1}))
    return out


def as_json(res: lsp.SemanticTokens | lsp.SemanticTokensDelta) -> RawJSON:
    """The result serialized directly (a 100,000-int array through cattrs costs more than the walk)."""
    body: dict[str, Any] = {}
    if res.result_id is not None:
        body["resultId"] = res.result_id
    if isinstance(res, lsp.SemanticTokensDelta):
        body["edits"] = [{"start": e.start, "deleteCount": e.delete_count, "data": list(e.data or [])}
                         for e in res.edits]
    else:
        body["data"] = list(res.data)
    return RawJSON(json.dumps(body, separators=(",", ":")))
