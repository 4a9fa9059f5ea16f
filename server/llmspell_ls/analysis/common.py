"""Cursor context and expression typing, shared by Lua and JavaScript.

Why text and not only the tree: incomplete code often parses without an error in a misleading shape
(``Agent.`` + newline + ``print(1)`` is ``Agent.print(1)`` in Lua, pitfall §7.4.5), so the context at
the cursor comes from *tokens before the cursor* (a regex tokenizer over a bounded window that starts at
the enclosing top-level statement). The tree gives that statement boundary and is used by diagnostics.

Expression typing walks a *chain* — ``Agent.builder():name("x"):build()`` — segment by segment through
the API model: a global's functions, a function's ``returns`` (or its receiver when ``returns_self``), a
class's methods and fields; a local variable is typed by the chain assigned to the binding the name
refers to at the use (scope-aware, see :mod:`llmspell_ls.analysis.scopes`), ``await`` unwraps a Promise
in JS.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, NamedTuple

from llmspell_ls.analysis import javascript as js_spec
from llmspell_ls.analysis import lua as lua_spec
from llmspell_ls.analysis.results import result_record
from llmspell_ls.analysis.scopes import Occ, ScopeResolver
from llmspell_ls.apimodel import ApiIndex, Class, Field, Function, Lang

MAX_WINDOW_LINES = 40
"""Fallback window when no statement start is known and no line at column 0 starts one."""
MAX_WINDOW_CHARS = 16000
"""Budget of the cursor-context window: a statement (a builder chain of any number of lines) is read
from its start as long as it begins at most this many characters before the cursor."""
MAX_EXPR_CHARS = 16000
"""Budget for reading one assigned expression (a long ``Workflow.builder()…:build()`` chain)."""
MAX_FN_NODES = 4000
"""Budget of tree nodes visited to find a local function's return statements."""
TABLE_PREFIX = "@table:"
"""Type name of a table constructor at an offset (``local t = {agent = …}``: ``t.agent`` is typed)."""


def spec_for(lang: Lang) -> ModuleType:
    return lua_spec if lang == "lua" else js_spec


class Tok(NamedTuple):
    """A token: a named tuple so that the tokenizer builds it at C speed (field access stays cheap)."""

    kind: str  # name | string | number | op | other
    text: str
    start: int
    end: int


_new_tok = tuple.__new__
_FAST_RE: dict[int, re.Pattern[str]] = {}


def _fast_re(spec: ModuleType) -> re.Pattern[str]:
    """``spec.TOKEN_RE`` with whitespace swallowed by the next token's match (a possessive leading
    ``\\s*+``; the token is the named group that matched), so that whitespace costs no match of its own."""
    rx = _FAST_RE.get(id(spec))
    if rx is None:
        src = spec.TOKEN_RE.pattern
        lines = [ln for ln in src.split("\n") if "(?P<ws>" not in ln]
        if len(lines) != len(src.split("\n")) - 1:
            raise ValueError("TOKEN_RE must have one line with the ws group")
        rx = re.compile(r"\s*+(?:" + "\n".join(lines) + r")|\s+", spec.TOKEN_RE.flags)
        _FAST_RE[id(spec)] = rx
    return rx


def tokenize(spec: ModuleType, text: str, start: int = 0, end: int | None = None) -> list[Tok]:
    """Tokens of ``text[start:end]`` without whitespace and comments (offsets are absolute)."""
    out: list[Tok] = []
    append = out.append
    end = len(text) if end is None else end
    new = _new_tok
    for m in _fast_re(spec).finditer(text, start, end):
        kind = m.lastgroup
        if kind is None or kind == "comment":
            continue  # whitespace at the end, or a comment
        if kind == "ceq" or kind == "seq":  # the inner group of a long comment/string matched last
            if m.group("comment") is None:
                s, e = m.span("string")
                append(new(Tok, ("string", text[s:e], s, e)))
            continue
        s, e = m.span(kind)
        append(new(Tok, (kind, text[s:e], s, e)))
    return out


def tokenize_reference(spec: ModuleType, text: str, start: int = 0, end: int | None = None) -> list[Tok]:
    """The plain tokenizer (one match per token and per run of whitespace): what :func:`tokenize` equals."""
    out: list[Tok] = []
    end = len(text) if end is None else end
    for m in spec.TOKEN_RE.finditer(text, start, end):
        kind = m.lastgroup
        if kind in ("ws", "comment", "ceq", "seq"):
            if kind in ("ceq", "seq") and not m.group("comment"):
                out.append(Tok("string", m.group(), m.start(), m.end()))
            continue
        out.append(Tok(kind or "other", m.group(), m.start(), m.end()))
    return out


# --------------------------------------------------------------------------------------------- chains
@dataclass(slots=True)
class Seg:
    kind: str  # name | member | call | index | paren
    name: str = ""
    sep: str = ""
    inner: list[Seg] | None = None
    awaited: bool = False
    start: int = 0
    end: int = 0
    args: list[tuple[int, int]] | None = None
    """For calls: token index ranges of each argument (into the token list that produced the chain)."""


def match_table(toks: list[Tok]) -> dict[int, int]:
    """Opening-bracket index -> closing index for a whole token list (one pass, for diagnostics)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    out: dict[int, int] = {}
    stack: list[int] = []
    for j, t in enumerate(toks):
        if t.kind != "op":
            continue
        if t.text in pairs:
            stack.append(j)
        elif t.text in (")", "]", "}"):
            while stack:
                k = stack.pop()
                if pairs[toks[k].text] == t.text:
                    out[k] = j
                    break
                out[k] = len(toks)
    for k in stack:
        out[k] = len(toks)
    return out


def _match_close(toks: list[Tok], i: int, match: dict[int, int] | None = None) -> int:
    """Index of the bracket closing ``toks[i]`` (or len(toks) when unclosed)."""
    if match is not None:
        got = match.get(i)
        if got is not None:
            return got
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[toks[i].text]]
    j = i + 1
    while j < len(toks):
        t = toks[j].text
        if toks[j].kind == "op":
            if t in pairs:
                stack.append(pairs[t])
            elif stack and t == stack[-1]:
                stack.pop()
                if not stack:
                    return j
        j += 1
    return len(toks)


def _call_args(toks: list[Tok], open_i: int, close_i: int, spec: ModuleType) -> list[tuple[int, int]]:
    args: list[tuple[int, int]] = []
    depth = 0
    start = open_i + 1
    for j in range(open_i + 1, close_i):
        t = toks[j]
        if t.kind == "name":
            if t.text in spec.BLOCK_OPEN:
                depth += 1
            elif t.text in spec.BLOCK_CLOSE:
                depth -= 1
            continue
        if t.kind != "op":
            continue
        if t.text in "([{":
            depth += 1
        elif t.text in ")]}":
            depth -= 1
        elif t.text == "," and depth == 0:
            args.append((start, j))
            start = j + 1
    if start < close_i or args:
        args.append((start, close_i))
    return args


def chain_forward(
    spec: ModuleType, toks: list[Tok], i: int, match: dict[int, int] | None = None
) -> tuple[list[Seg], bool, int]:
    """Read a chain starting at ``toks[i]``: (segments, awaited, index after the chain)."""
    awaited = False
    if i < len(toks) and toks[i].kind == "name" and toks[i].text == "await" and spec is js_spec:
        awaited = True
        i += 1
    if i < len(toks) and toks[i].kind == "name" and toks[i].text == "new" and spec is js_spec:
        i += 1
    segs: list[Seg] = []
    if i >= len(toks):
        return segs, awaited, i
    t = toks[i]
    if t.kind == "name" and t.text not in spec.KEYWORDS:
        segs.append(Seg("name", t.text, start=t.start, end=t.end))
        i += 1
    elif t.kind == "op" and t.text == "(":
        j = _match_close(toks, i, match)
        inner, inner_await, _ = chain_forward(spec, toks[i + 1:j], 0)
        segs.append(Seg("paren", inner=inner, awaited=inner_await, start=t.start,
                        end=toks[min(j, len(toks) - 1)].end))
        i = j + 1
    else:
        return segs, awaited, i
    while i < len(toks):
        t = toks[i]
        if t.kind == "op" and t.text in spec.MEMBER_SEPS and i + 1 < len(toks) and toks[i + 1].kind == "name":
            n = toks[i + 1]
            segs.append(Seg("member", n.text, sep=t.text, start=t.start, end=n.end))
            i += 2
        elif t.kind == "op" and t.text == "(":
            j = _match_close(toks, i, match)
            segs.append(Seg("call", start=t.start, end=toks[min(j, len(toks) - 1)].end,
                            args=_call_args(toks, i, j, spec)))
            i = j + 1
        elif t.kind == "op" and t.text == "[":
            j = _match_close(toks, i, match)
            key = toks[i + 1] if i + 1 < j else None
            name = spec.string_value(key.text) if key is not None and key.kind == "string" else ""
            segs.append(Seg("index", name, start=t.start, end=toks[min(j, len(toks) - 1)].end))
            i = j + 1
        elif spec.TABLE_CALLS and t.kind == "op" and t.text == "{" and segs and segs[-1].kind in ("name", "member"):
            j = _match_close(toks, i, match)
            segs.append(Seg("call", start=t.start, end=toks[min(j, len(toks) - 1)].end, args=[(i, j + 1)]))
            i = j + 1
        elif spec.TABLE_CALLS and t.kind == "string" and segs and segs[-1].kind in ("name", "member"):
            segs.append(Seg("call", start=t.start, end=t.end, args=[(i, i + 1)]))
            i += 1
        else:
            break
    return segs, awaited, i


def chain_backward(spec: ModuleType, toks: list[Tok], i: int, text: str | None = None) -> tuple[list[Seg], bool]:
    """The chain ending at ``toks[i]`` (inclusive), read right to left.

    With ``text``, a separator that ends its line does not join the name on the next line to it: that is
    an incomplete line being typed (``Agent.`` above ``a:``), not ``Agent.a`` (chains continue with the
    separator at the start of the next line: ``\n  :name("x")``)."""
    j = i
    openers = {")": "(", "]": "[", "}": "{"}
    while j >= 0:
        t = toks[j]
        if t.kind == "name":
            if j > 0 and toks[j - 1].kind == "op" and toks[j - 1].text in spec.MEMBER_SEPS:
                if text is not None and "\n" in text[toks[j - 1].end:t.start]:
                    break
                j -= 2
                continue
            break
        if t.kind == "op" and t.text in openers:
            depth = 0
            k = j
            while k >= 0:
                tt = toks[k]
                if tt.kind == "op":
                    if tt.text in openers:
                        depth += 1
                    elif tt.text in ("(", "[", "{"):
                        depth -= 1
                        if depth == 0:
                            break
                k -= 1
            if k < 0:
                return [], False
            if t.text == "}" and not (spec.TABLE_CALLS and k > 0 and toks[k - 1].kind in ("name",)):
                return [], False
            # a paren group with nothing callable before it is a parenthesised expression
            if k == 0 or not (toks[k - 1].kind in ("name", "string") or toks[k - 1].text in (")", "]")):
                j = k
                break
            if toks[k - 1].kind == "name" and toks[k - 1].text in spec.KEYWORDS:
                j = k
                break
            j = k - 1
            continue
        if t.kind == "string" and spec.TABLE_CALLS and j > 0 and toks[j - 1].kind == "name":
            j -= 1
            continue
        return [], False
    if j < 0:
        j = 0
    awaited = j > 0 and toks[j - 1].kind == "name" and toks[j - 1].text == "await"
    segs, aw, _ = chain_forward(spec, toks[: i + 1], j)
    return segs, awaited or aw


# ---------------------------------------------------------------------------------------------- types
@dataclass(frozen=True, slots=True)
class TypeRef:
    name: str
    promise: bool = False
    """A JS Promise of ``name`` (the result of a non-awaited async call)."""


@dataclass(slots=True)
class Resolved:
    type: TypeRef | None
    member: Function | Field | None = None
    owner: Class | None = None


class TypeEngine:
    """Types chains in one document snapshot (local variable types cached per snapshot).

    ``flow=True`` (completion, hover, signature help) adds the type flow the editor features use: the
    second result of ``pcall(f, …)``, what a local function returns, fields of a table constructor, and
    the result records of API calls that return plain tables. The diagnostics pass keeps ``flow=False``:
    a guess there would be a false positive, a guess in a completion list costs nothing.
    """

    def __init__(self, index: ApiIndex, lang: Lang, text: str, cache: dict[Any, Any] | None = None,
                 scopes: ScopeResolver | None = None, flow: bool = False):
        self.index = index
        self.lang = lang
        self.spec = spec_for(lang)
        self.text = text
        self.cache = cache if cache is not None else {}
        self.scopes = scopes
        """With a resolver (a document with a tree) variables are typed by scope; without, by the last
        ``name =`` before the use (text only: the fallback for a bare text)."""
        self.flow = flow
        self._depth = 0

    def var_type(self, name: str, before: int) -> TypeRef | None:
        """Type of local ``name`` at offset ``before``: the value of the binding the name refers to there."""
        key = ("var", name, before)
        if key in self.cache:
            return self.cache[key]  # type: ignore[no-any-return]
        result: TypeRef | None = None
        if self._depth < 8:
            if self.scopes is not None:
                found, occ = self.scopes.resolve(name, before)
                result = self.type_occ(occ)
                if not found and name == "self":  # ``function T:m()``: ``self`` is ``T``
                    st = self.scopes.self_table(before)
                    if st is not None:
                        self._depth += 1
                        try:
                            result = self.var_type(*st)
                        finally:
                            self._depth -= 1
            else:
                at = self._last_assignment(name, before)
                if at is not None:
                    result = self._type_from(at, before)
        self.cache[key] = result
        return result

    def type_occ(self, occ: Occ | None) -> TypeRef | None:
        """The type a declaration/assignment gives its name (see :class:`Occ` for the ways)."""
        if occ is None or self._depth >= 8:
            return None
        if not occ.how:
            return self._multi_value(occ) if self.flow else None
        if occ.how == "type":
            return self._ref(occ.key)
        key = ("val", occ.value)  # a value's type does not depend on where the name is used (the diagnostics
        # pass fills this key from the statement it checks)
        if key in self.cache:
            t = self.cache[key]
        else:
            t = self.cache[key] = self._type_from(occ.value, occ.value)
        if occ.how == "field":
            if t is None or t.promise:
                return None
            if t.name.startswith(TABLE_PREFIX):
                return self._table_field(t, occ.key)
            m = self.index.members(t.name, self.lang).get(occ.key)
            return self._ref(m.type) if isinstance(m, Field) else None
        return t

    def _statement_end(self, offset: int, cap: int = MAX_EXPR_CHARS) -> int:
        """End of the expression starting at ``offset``: its line, extended while the next line continues
        a chain (``:name(...)`` / ``.name(...)``) or brackets are still open. Bounded by ``cap``."""
        text = self.text
        limit = min(len(text), offset + cap)
        end = offset
        depth = 0
        while end < limit:
            nl = text.find("\n", end, limit)
            stop = limit if nl < 0 else nl
            seg = text[end:stop]
            depth += seg.count("(") + seg.count("{") + seg.count("[") - seg.count(")") - seg.count("}") \
                - seg.count("]")
            end = stop
            if nl < 0:
                break
            nxt = _next_code(text, nl + 1, limit, self.spec.NAME)
            if (depth <= 0 and not nxt.startswith((".", ":"))) or nxt.startswith(".."):
                break
            end = nl + 1
        return end

    def _last_assignment(self, name: str, before: int) -> int | None:
        """Offset just after ``name =`` of the last assignment to ``name`` before ``before``.

        Walks occurrences of the name backwards with ``str.rfind`` (C speed) and checks each one, so
        the cost depends on how often the name occurs, not on the size of the document.
        """
        text = self.text
        pos = before
        n = len(name)
        while True:
            k = text.rfind(name, 0, pos)
            if k < 0:
                return None
            pos = k
            prev = text[k - 1] if k > 0 else " "
            if prev.isalnum() or prev in "_$.:":
                continue
            m = _ASSIGN_TAIL.match(text, k + n)
            if m is None:
                continue
            return m.end()

    def _type_from(self, offset: int, limit: int) -> TypeRef | None:
        toks = tokenize(self.spec, self.text, offset, self._statement_end(offset))
        if self.flow and toks and toks[0].kind == "op" and toks[0].text == "{":
            return TypeRef(f"{TABLE_PREFIX}{offset}")
        segs, awaited, _ = chain_forward(self.spec, toks, 0)
        if not segs:
            return None
        self._depth += 1
        try:
            t = self.type_of(segs, offset, toks).type
        finally:
            self._depth -= 1
        if t is not None and awaited:
            t = TypeRef(t.name)
        return t

    def type_of(self, segs: list[Seg], at: int, toks: list[Tok] | None = None) -> Resolved:
        """Resolve a whole chain; ``member`` is the last function/field reached (for calls and hover).

        ``toks`` are the tokens the chain was read from (the call arguments of ``pcall(f, …)`` are read
        from them)."""
        if not segs:
            return Resolved(None)
        first = segs[0]
        cur: TypeRef | None
        rest = segs[1:]
        if first.kind == "name":
            if first.name in self.index.globals:
                g = self.index.globals[first.name]
                cur = TypeRef(g.name) if g.kind != "value" else None
            elif self.flow and rest and rest[0].kind == "call":
                # ``mk()`` (a local function) / ``pcall(f, …)`` (its first result is a boolean)
                cur = self._local_call(first, at)
                rest = rest[1:]
            else:
                cur = self.var_type(first.name, first.start if first.start else at)
        elif first.kind == "paren":
            cur = self.type_of(first.inner or [], at).type
            if cur is not None and first.awaited:
                cur = TypeRef(cur.name)
        else:
            return Resolved(None)
        member: Function | Field | None = None
        owner: Class | None = None
        for seg in rest:
            if seg.kind == "member":
                if cur is None or cur.promise:
                    return Resolved(None)
                if cur.name.startswith(TABLE_PREFIX):
                    cur = self._table_field(cur, seg.name)
                    member = None
                    owner = None
                    continue
                owner = self.index.type_(cur.name)
                member = self.index.members(cur.name, self.lang).get(seg.name)
                if member is None:
                    if owner is not None and owner.index_type and seg.sep == ".":
                        cur = self._ref(owner.index_type)  # ``Tool.calculator`` -> a ToolHandle
                        continue
                    return Resolved(None, None, owner)
                if isinstance(member, Field):
                    cur = self._ref(member.type)
                else:
                    cur = None  # a function value; a following call gives its result
            elif seg.kind == "call":
                if not isinstance(member, Function):
                    return Resolved(None)
                cur = self._returns(member)
                member = None
            elif seg.kind == "index":
                c = self.index.type_(cur.name) if cur else None
                if self.flow and cur is not None and cur.name.startswith(TABLE_PREFIX) and seg.name:
                    cur = self._table_field(cur, seg.name)
                else:
                    cur = self._ref(c.index_type) if c is not None and c.index_type else None
                member = None
            else:
                return Resolved(None)
        return Resolved(cur, member, owner)

    def _returns(self, fn: Function) -> TypeRef | None:
        """The type a call to an API function gives."""
        if fn.returns_self:
            cur: TypeRef | None = TypeRef(fn.owner)
        else:
            cur = self._ref(fn.returns)
            if cur is None and self.flow:
                rec = result_record(self.index, fn.owner, fn.name, fn.returns)
                cur = TypeRef(rec) if rec else None
        if cur is not None and fn.is_async and self.lang == "javascript":
            cur = TypeRef(cur.name, promise=True)
        return cur

    def _ref(self, type_str: str | None) -> TypeRef | None:
        name = self.index.resolve(type_str)
        return TypeRef(name) if name else None

    # ------------------------------------------------------------------ type flow (flow=True)
    def _local_call(self, name_seg: Seg, at: int) -> TypeRef | None:
        """The result of calling a name that is not an API global: a local function's return type."""
        if self.scopes is None or self._depth >= 8:
            return None
        key = ("ret", name_seg.name, name_seg.start or at)
        if key in self.cache:
            return self.cache[key]  # type: ignore[no-any-return]
        self.cache[key] = None  # recursion guard (``local function f() return f() end``)
        before = name_seg.start or at
        _, occ = self.scopes.resolve(name_seg.name, before)
        if occ is None:
            prior = self.function_declared(name_seg.name, before)
            if prior is not None:
                occ = Occ("decl", self.scopes.to_byte(prior))
        got = self._function_returns(occ) if occ is not None else None
        self.cache[key] = got
        return got

    def function_declared(self, name: str, before: int) -> int | None:
        """Offset of the last ``function name(`` before ``before`` (the scope resolver skips ``name(``, so
        it never meets function declarations)."""
        decls = self.cache.get(("fndecl", name))
        if decls is None:
            rx = re.compile(r"\bfunction\s+(" + re.escape(name) + r")\s*\(")
            decls = self.cache[("fndecl", name)] = [m.start(1) for m in rx.finditer(self.text)]
        prior = [d for d in decls if d < before]
        return prior[-1] if prior else None

    def declares(self, name: str, at: int) -> bool:
        """Does the spell declare or assign ``name`` where ``at`` sees it (so it is not a builtin)?"""
        if self.scopes is not None and self.scopes.resolve(name, at)[0]:
            return True
        return self.function_declared(name, at) is not None

    def _function_node(self, occ: Occ) -> Any:
        """The tree node of the function a declaration names (``local function f`` / ``f = function``)."""
        assert self.scopes is not None
        root = self.scopes.root
        fn_types = _LUA_FN if self.lang == "lua" else _JS_FN
        if occ.how == "expr" and occ.value >= 0:
            b = self.scopes.to_byte(occ.value)
            node = root.named_descendant_for_byte_range(b, b)
            while node is not None and node.start_byte == b and node.type not in fn_types:
                node = node.parent
            return node if node is not None and node.type in fn_types and node.start_byte == b else None
        node = root.named_descendant_for_byte_range(occ.at, occ.at)
        parent = node.parent if node is not None else None
        if parent is not None and parent.type in ("function_declaration", "generator_function_declaration"):
            return parent
        return None

    def _function_returns(self, occ: Occ) -> TypeRef | None:
        """The type of the first return statement (outside nested functions) that has one."""
        try:
            fn = self._function_node(occ)
        except Exception:  # a tree without positions for this version: no guess
            return None
        if fn is None:
            return None
        assert self.scopes is not None
        is_async = any(c.type == "async" for c in fn.children)
        body = fn.child_by_field_name("body")
        if body is None:
            return None
        exprs: list[int] = []
        if fn.type == "arrow_function" and body.type != "statement_block":
            exprs.append(body.start_byte)
        else:
            stack = [body]
            seen = 0
            fn_types = _LUA_FN if self.lang == "lua" else _JS_FN
            while stack and seen < MAX_FN_NODES:
                n = stack.pop()
                seen += 1
                if n.type == "return_statement":
                    e = next((c for c in n.named_children if c.type != "comment"), None)
                    if e is not None and e.type == "expression_list":
                        e = e.named_children[0] if e.named_children else None
                    if e is not None:
                        exprs.append(e.start_byte)
                    continue
                if n.type in fn_types:
                    continue
                stack.extend(reversed(n.named_children))
        for b in exprs:
            t = self._type_from(self.scopes.to_offset(b), 0)
            if t is not None:
                if is_async and self.lang == "javascript" and not t.promise:
                    t = TypeRef(t.name, promise=True)
                return t
        return None

    def _multi_value(self, occ: Occ) -> TypeRef | None:
        """``local ok, r = pcall(f, …)``: ``r`` is what ``f(…)`` returns (Lua; the scope resolver leaves a
        second name of a one-expression assignment untyped)."""
        if self.lang != "lua" or self.scopes is None:
            return None
        start = self.scopes.to_offset(occ.at)
        text = self.text
        line_start = text.rfind("\n", 0, start) + 1
        head = text[line_start:start]
        m = _NAMES_BEFORE.fullmatch(head)
        if m is None:
            return None
        position = head.count(",")
        tail = _NAMES_AFTER.match(text, start)
        if tail is None:
            return None
        value = tail.end()
        toks = tokenize(self.spec, text, value, self._statement_end(value))
        segs, _, end = chain_forward(self.spec, toks, 0)
        if len(segs) != 2 or segs[0].kind != "name" or segs[1].kind != "call" or end != len(toks):
            return None
        if segs[0].name not in ("pcall", "xpcall") or position != 1:
            return None
        args = segs[1].args or []
        if not args:
            return None
        a, b = args[0]
        return self._call_value(toks[a:b], toks[b:] if segs[0].name == "pcall" else [], value)

    def _call_value(self, f_toks: list[Tok], _rest: list[Tok], at: int) -> TypeRef | None:
        """The result of calling the function expression ``f_toks`` (``agent.execute`` / ``mk`` /
        ``function() return … end``)."""
        if not f_toks:
            return None
        if f_toks[0].kind == "name" and f_toks[0].text == "function":
            return self._inline_function(f_toks)
        segs, _, end = chain_forward(self.spec, f_toks, 0)
        if not segs or end != len(f_toks):
            return None
        self._depth += 1
        try:
            return self.type_of([*segs, Seg("call", start=f_toks[-1].end, end=f_toks[-1].end, args=[])], at).type
        finally:
            self._depth -= 1

    def _inline_function(self, f_toks: list[Tok]) -> TypeRef | None:
        """``pcall(function() return X end)``: the type of the first typed ``return X`` at depth 0."""
        depth = 0
        for k, t in enumerate(f_toks):
            if t.kind != "name":
                continue
            if t.text in self.spec.BLOCK_OPEN:
                depth += 1
            elif t.text in self.spec.BLOCK_CLOSE:
                depth -= 1
            elif t.text == "return" and depth == 1 and k + 1 < len(f_toks):
                got = self._type_from(f_toks[k + 1].start, 0)
                if got is not None:
                    return got
        return None

    def table_keys(self, t: TypeRef) -> dict[str, int]:
        """Keys of a table constructor type -> offset of each value (first level, in order)."""
        offset = int(t.name[len(TABLE_PREFIX):])
        key = ("tkeys", offset)
        got = self.cache.get(key)
        if got is not None:
            return got  # type: ignore[no-any-return]
        toks = tokenize(self.spec, self.text, offset, self._statement_end(offset))
        out: dict[str, int] = {}
        depth = 0
        kv = self.spec.KEY_VALUE_SEP
        for k, tk in enumerate(toks):
            if tk.kind == "name" and tk.text in self.spec.BLOCK_OPEN:
                depth += 1
            elif tk.kind == "name" and tk.text in self.spec.BLOCK_CLOSE:
                depth -= 1
            if tk.kind != "op":
                continue
            if tk.text in "([{":
                depth += 1
            elif tk.text in ")]}":
                depth -= 1
                if depth <= 0:
                    break
            elif depth == 1 and tk.text == kv and k >= 1 and k + 1 < len(toks):
                kt = toks[k - 1]
                if kt.kind == "name":
                    out.setdefault(kt.text, toks[k + 1].start)
                elif kt.kind == "string" and self.lang == "javascript":
                    out.setdefault(self.spec.string_value(kt.text), toks[k + 1].start)
                elif kt.text == "]" and k >= 3 and toks[k - 2].kind == "string" and toks[k - 3].text == "[":
                    out.setdefault(self.spec.string_value(toks[k - 2].text), toks[k + 1].start)
        self.cache[key] = out
        return out

    def _table_field(self, t: TypeRef, name: str) -> TypeRef | None:
        at = self.table_keys(t).get(name)
        if at is None or self._depth >= 8:
            return None
        key = ("val", at)
        if key not in self.cache:
            self.cache[key] = self._type_from(at, at)
        return self.cache[key]  # type: ignore[no-any-return]


def _next_code(text: str, pos: int, limit: int, lang: str) -> str:
    """The start of the next line holding code after ``pos`` (blank and comment-only lines skipped: a
    builder chain may have them between its ``:add_step(…)`` lines)."""
    comment = "--" if lang == "lua" else "//"
    for _ in range(50):
        nl = text.find("\n", pos, limit)
        line = text[pos:nl if nl >= 0 else min(limit, pos + 200)].lstrip()
        if line and not line.startswith(comment):
            return line[:200]
        if nl < 0:
            return ""
        pos = nl + 1
    return ""


_LUA_FN = frozenset({"function_declaration", "function_definition"})
_JS_FN = frozenset({"function_declaration", "function_expression", "arrow_function", "generator_function",
                    "generator_function_declaration", "method_definition"})
_NAMES_BEFORE = re.compile(r"\s*(?:local\s+)?(?:[A-Za-z_]\w*(?:\s*<\w+>)?\s*,\s*)+")
_NAMES_AFTER = re.compile(r"[A-Za-z_]\w*(?:\s*<\w+>)?\s*(?:,\s*[A-Za-z_]\w*(?:\s*<\w+>)?\s*)*=(?!=)\s*")


# ------------------------------------------------------------------------------------- cursor context
@dataclass(slots=True)
class CallSite:
    callee: list[Seg]
    function: Function | None
    arg_index: int
    open_offset: int
    """Offset of the call's ``(`` (or ``{`` for Lua table calls)."""
    args: list[list[Tok]] = field(default_factory=list)
    """Tokens of each argument so far (used to read a tool name before its parameter table)."""


@dataclass(slots=True)
class Context:
    kind: str
    """``member`` | ``identifier`` | ``string`` | ``table_key`` | ``table_value`` | ``comment`` | ``none``"""
    prefix: str = ""
    prefix_start: int = 0
    receiver: TypeRef | None = None
    sep: str = ""
    call: CallSite | None = None
    table_path: list[str] = field(default_factory=list)
    """Keys from the argument table down to the table the cursor is in (``[]`` = the argument itself)."""
    key: str = ""
    existing_keys: list[str] = field(default_factory=list)
    quote: str = ""
    string_end: int = 0
    enclosing: CallSite | None = None
    receiver_name: str = ""
    """For ``member``: the receiver when it is one plain name (``string`` in ``string.``)."""
    table_values: list[dict[str, str]] = field(default_factory=list)
    """String values of the keys of each table on ``table_path`` (outermost first, the cursor's table
    last): ``{type = "tool", tool = "calculator", input = {|`` knows the tool."""


@dataclass(slots=True)
class _Frame:
    open: str
    tok_index: int
    offset: int
    call: CallSite | None = None
    parent_key: str = ""
    keys: list[str] = field(default_factory=list)
    arg_start: int = 0
    maybe_call: bool = False
    args: list[tuple[int, int]] = field(default_factory=list)
    block: int = 0
    """Open Lua keyword blocks (``function … end``) inside this bracket: their commas are not ours."""
    values: dict[str, str] = field(default_factory=dict)
    """``key = "string"`` pairs of a table seen so far."""


def window_start(text: str, offset: int, statement_start: int | None) -> int:
    """Where to start tokenizing: the statement start (from the tree) when it is within
    MAX_WINDOW_CHARS of the cursor (a builder chain of any number of lines); otherwise the nearest line
    within that budget that starts a statement at column 0 (error-tolerant: a broken line above does not
    matter); otherwise MAX_WINDOW_LINES lines back."""
    floor = max(0, offset - MAX_WINDOW_CHARS)
    if statement_start is not None and floor <= statement_start:
        return min(statement_start, offset)
    col0 = _statement_line(text, offset, floor)
    if col0 is not None:
        return _long_open_before(text, col0)
    lim = offset
    for _ in range(MAX_WINDOW_LINES):
        p = text.rfind("\n", 0, lim)
        if p < 0:
            lim = 0
            break
        lim = p
    lim = lim + 1 if lim > 0 else 0
    if statement_start is not None:
        lim = max(lim, min(statement_start, offset))
    if lim < floor:
        # lines (or one statement) of more than MAX_WINDOW_CHARS (10,000 nested tables, a megabyte on
        # one line): start near the floor, after a separator, so the window stays bounded
        m = _SEPARATOR.search(text, floor, offset)
        lim = m.end() if m is not None else floor
    return lim


_SEPARATOR = re.compile(r"[\s,;{(]")


_CONTINUATION_WORDS = frozenset({"end", "else", "elseif", "until", "and", "or", "then", "do", "in", "catch",
                                 "finally", "case", "default"})
_WORD = re.compile(r"[A-Za-z_$][\w$]*")


def _statement_line(text: str, offset: int, floor: int) -> int | None:
    """Start of the nearest line above the cursor (within ``floor``) that starts at column 0 with what can
    only begin a statement (``local x``, ``function``, ``Agent.…``), or None."""
    pos = text.rfind("\n", 0, offset)
    while pos >= floor and pos >= 0:
        start = pos + 1
        m = _WORD.match(text, start)
        if m is not None and m.group() not in _CONTINUATION_WORDS:
            return start
        if pos == 0:
            break
        pos = text.rfind("\n", 0, pos)
    if pos < 0 and floor == 0:
        m = _WORD.match(text, 0)
        if m is not None and m.group() not in _CONTINUATION_WORDS:
            return 0
    return None


_LONG_OPEN = re.compile(r"\[=*\[|/\*|`")


def _long_open_before(text: str, start: int, look: int = 4000) -> int:
    """``start``, or the start of the line of an unclosed long comment/string (``--[[``, ``[[``, ``/*``,
    a JS template) that ``start`` would otherwise begin inside of."""
    lo = max(0, start - look)
    last = None
    for m in _LONG_OPEN.finditer(text, lo, start):
        last = m
    if last is None:
        return start
    tok = last.group()
    if tok == "/*":
        closed = text.find("*/", last.end(), start) >= 0
    elif tok == "`":
        closed = text.count("`", lo, start) % 2 == 0
    else:
        closed = text.find("]" + tok[1:-1] + "]", last.end(), start) >= 0
    if closed:
        return start
    return text.rfind("\n", 0, last.start()) + 1


def in_comment(spec: ModuleType, text: str, start: int, offset: int, toks: list[Tok]) -> bool:
    """Is ``offset`` inside a comment? (``toks`` are the tokens of ``text[start:offset]``: only the gap
    after the last one can hold the comment.)"""
    gap = toks[-1].end if toks else start
    if "-" not in text[gap:offset] and "/" not in text[gap:offset]:
        return False
    for m in spec.TOKEN_RE.finditer(text, gap, offset):
        if m.lastgroup in ("comment", "ceq") and m.group("comment") and m.end() >= offset:
            c = m.group("comment")
            closed = (c.startswith("--[") and re.search(r"\](=*)\]\Z", c) is not None and len(c) > 4) or (
                c.startswith("/*") and c.endswith("*/") and len(c) >= 4)
            return not closed
    return False


def analyze(engine: TypeEngine, offset: int, start: int, toks: list[Tok] | None = None) -> Context:
    """The completion/signature context at string offset ``offset``.

    ``ctx.enclosing`` is the innermost call around the cursor whatever the context kind (signature help).
    ``toks``: the tokens of ``text[start:offset]`` when the caller has them (:func:`tokens_before`).
    """
    holder: list[CallSite | None] = [None]
    ctx = _analyze(engine, offset, start, holder, toks)
    ctx.enclosing = holder[0]
    return ctx


def tokens_before(spec: ModuleType, text: str, toks: list[Tok], offset: int) -> list[Tok]:
    """``tokenize(spec, text, start, offset)`` from the tokens of a longer window from the same
    ``start`` (hover tokenizes up to the end of the word and analyses up to the cursor: once, not twice).
    Tokens that end before ``offset`` are the same either way (a token's match never reads past its own
    end); the one that straddles ``offset`` is re-read up to it."""
    i = bisect.bisect_right([t.end for t in toks], offset)
    out = toks[:i]
    if i < len(toks) and toks[i].start < offset:
        out = out + tokenize(spec, text, toks[i].start, offset)
    return out


def _analyze(engine: TypeEngine, offset: int, start: int, holder: list[CallSite | None],
             pre: list[Tok] | None = None) -> Context:
    spec = engine.spec
    text = engine.text
    toks = pre if pre is not None else tokenize(spec, text, start, offset)
    if in_comment(spec, text, start, offset, toks):
        return Context("comment")
    # is the cursor inside (or right after the opening quote of) a string token?
    last = toks[-1] if toks else None
    in_string = last is not None and last.kind == "string" and (
        not spec.string_closed(last.text) or last.end > offset
    )
    frames: list[_Frame] = []
    body = toks[:-1] if in_string else toks
    block_open, block_close = spec.BLOCK_OPEN, spec.BLOCK_CLOSE
    for idx, t in enumerate(body):
        if t.kind == "name" and frames:
            if t.text in block_open:
                frames[-1].block += 1
            elif t.text in block_close:
                frames[-1].block -= 1
            continue
        if t.kind != "op":
            continue
        if t.text in ("(", "[", "{"):
            fr = _Frame(t.text, idx, t.start, arg_start=idx + 1)
            if idx > 0 and (t.text == "(" or (t.text == "{" and spec.TABLE_CALLS)):
                p = body[idx - 1]
                # cheap test now; the callee is typed only for brackets still open at the cursor
                fr.maybe_call = (p.kind == "name" and p.text not in spec.KEYWORDS) or (
                    t.text == "(" and (p.text in (")", "]") or (p.kind == "string" and spec.TABLE_CALLS)))
            if t.text == "{" and frames and frames[-1].open == "{":
                # nested table: remember the key it is the value of ("[]" for an array element)
                fr.parent_key = _key_before(spec, body, idx) or "[]"
            frames.append(fr)
        elif t.text in (")", "]", "}"):
            if frames:
                frames.pop()
        elif t.text == "," or (t.text == ";" and spec is lua_spec):
            if frames and frames[-1].block == 0:
                cur = frames[-1]
                if cur.open == "(":
                    cur.args.append((cur.arg_start, idx))
                cur.arg_start = idx + 1
        elif t.text == spec.KEY_VALUE_SEP and frames and frames[-1].open == "{" and frames[-1].block == 0:
            if idx > 0 and body[idx - 1].kind in ("name", "string"):
                k = body[idx - 1].text if body[idx - 1].kind == "name" else spec.string_value(body[idx - 1].text)
                frames[-1].keys.append(k)
                if idx + 1 < len(body) and body[idx + 1].kind == "string" and spec.string_closed(body[idx + 1].text):
                    frames[-1].values[k] = spec.string_value(body[idx + 1].text)
    for fr in frames:
        if not fr.maybe_call:
            continue
        segs, _ = chain_backward(spec, body, fr.tok_index - 1, text)
        if not segs:
            continue
        fn = engine.type_of(segs, fr.offset).member
        args = [body[a:b] for a, b in fr.args]
        if fr.open == "(":
            args.append(body[fr.arg_start:])
        fr.call = CallSite(segs, fn if isinstance(fn, Function) else None, len(fr.args) if fr.open == "(" else 0,
                           fr.offset, args)
    top = frames[-1] if frames else None
    holder[0] = next((f.call for f in reversed(frames) if f.call is not None), None)

    if in_string:
        assert last is not None
        ctx = Context("string", prefix=spec.string_value(last.text)[: offset - last.start - 1],
                      prefix_start=last.start + 1, quote=last.text[0], string_end=last.end)
        if spec is lua_spec and last.text.startswith("["):
            ctx.quote = ""
        if top is not None and top.open == "(" and top.call is not None:
            ctx.call = top.call
        elif top is not None and top.open == "{":
            before = body[-1] if body else None
            if before is not None and before.kind == "op" and before.text == spec.KEY_VALUE_SEP and len(body) >= 2:
                kt = body[-2]
                ctx.kind = "table_value"
                ctx.key = kt.text if kt.kind == "name" else spec.string_value(kt.text)
            _attach_table(ctx, frames, engine)
            if ctx.kind == "string":  # an array element or a positional value: nothing we know
                ctx.kind = "none"
        else:
            # a Lua string call ``f"..."`` or a plain string
            ctx.kind = "string" if ctx.call else "none"
        return ctx

    # identifier being typed
    prefix = ""
    prefix_start = offset
    i = len(toks) - 1
    if last is not None and last.kind == "name" and last.end == offset:
        prefix = last.text
        prefix_start = last.start
        i -= 1
    prev = toks[i] if i >= 0 else None
    if prev is not None and prev.kind == "op" and prev.text in spec.MEMBER_SEPS and prev.end == prefix_start:
        segs, awaited = chain_backward(spec, toks, i - 1, text) if i > 0 else ([], False)
        recv = engine.type_of(segs, prev.start).type if segs else None
        if recv is not None and awaited:
            recv = TypeRef(recv.name)
        ctx = Context("member", prefix=prefix, prefix_start=prefix_start, receiver=recv, sep=prev.text)
        if len(segs) == 1 and segs[0].kind == "name":
            ctx.receiver_name = segs[0].name
        return ctx
    if prev is not None and prev.kind == "op" and prev.text in spec.MEMBER_SEPS:
        return Context("none")
    if top is not None and top.open == "{" and (
        prev is None or (prev.kind == "op" and prev.text in ("{", ",", ";"))
    ):
        ctx = Context("table_key", prefix=prefix, prefix_start=prefix_start)
        _attach_table(ctx, frames, engine)
        if ctx.call is not None:
            return ctx
    if prev is not None and prev.kind == "number" and prev.end == prefix_start:
        return Context("none")
    ctx = Context("identifier", prefix=prefix, prefix_start=prefix_start)
    if top is not None and top.open == "(" and top.call is not None:
        ctx.call = top.call
    return ctx


def _key_before(spec: ModuleType, toks: list[Tok], idx: int) -> str | None:
    if idx >= 2 and toks[idx - 1].kind == "op" and toks[idx - 1].text == spec.KEY_VALUE_SEP:
        k = toks[idx - 2]
        if k.kind == "name":
            return k.text
        if k.kind == "string":
            return str(spec.string_value(k.text))
    return None


def _attach_table(ctx: Context, frames: list[_Frame], engine: TypeEngine) -> None:
    """Find the call whose argument table (possibly nested) holds the cursor; fill the key path."""
    if frames and frames[-1].open == "{":
        ctx.existing_keys = list(frames[-1].keys)
    path: list[str] = []
    values: list[dict[str, str]] = []
    for k in range(len(frames) - 1, -1, -1):
        fr = frames[k]
        if fr.open != "{":
            return
        values.append(fr.values)
        if fr.call is not None:  # Lua table call ``f{...}``: this table is the argument
            ctx.call = fr.call
            ctx.table_path = path[::-1]
            ctx.table_values = values[::-1]
            return
        parent = frames[k - 1] if k > 0 else None
        if parent is not None and parent.open == "(" and parent.call is not None:
            ctx.call = parent.call
            ctx.table_path = path[::-1]
            ctx.table_values = values[::-1]
            return
        if parent is None or parent.open != "{":
            return
        path.append(fr.parent_key or "[]")


def literal_string(spec: ModuleType, toks: list[Tok]) -> str | None:
    """The value of an argument that is exactly one string literal."""
    if len(toks) == 1 and toks[0].kind == "string":
        return str(spec.string_value(toks[0].text))
    return None


def word_at(text: str, offset: int) -> tuple[int, int]:
    """Bounds of the identifier around ``offset``."""
    s = offset
    while s > 0 and (text[s - 1].isalnum() or text[s - 1] in "_$"):
        s -= 1
    e = offset
    while e < len(text) and (text[e].isalnum() or text[e] in "_$"):
        e += 1
    return s, e


_ASSIGN_TAIL = re.compile(r"[ \t]*=(?![=>])\s*")
