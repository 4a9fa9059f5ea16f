"""Diagnostics: syntax errors from tree-sitter and API checks over every call chain in the spell.

Codes are stable (kebab-case, prefixed ``llmspell/`` in the ``source``-less ``code`` field):

=====================  =========  ==========================================================
code                   severity   meaning
=====================  =========  ==========================================================
syntax-error           Error      tree-sitter ERROR node (located at the error) or MISSING node
undefined-global       Warning    a capitalised name that is not defined and looks like a global
unknown-member         Error      ``Agent.bulder`` (with a "did you mean" quick fix)
call-style             Error      Lua: ``.`` where ``:`` is needed (methods) or the reverse (globals)
arg-count              Error/Warn missing required arguments (Error) / too many (Warning)
arg-type               Warning    a literal of the wrong type (``Agent.get(42)``)
unknown-tool           Warning    a tool name that is neither builtin nor registered by the spell
unknown-hook-point     Error      a hook point that is not in the catalog (``Custom:x`` is fine)
unknown-template       Error      an agent template that does not exist
unknown-workflow-type  Error      a workflow type that does not exist
unknown-name           Warning    any other catalog miss
invalid-value          Error      a string literal outside the parameter's allowed values
unknown-tool-param     Warning    a key the named tool does not take
missing-tool-param     Error      a required tool parameter missing from a literal table
deprecated             Warning    deprecated API (``Agent.create``), tagged Deprecated
unknown-step-key       Warning    a workflow step table key that steps do not have (``toool = ...``)
unknown-step-type      Error      a step ``type`` that is not tool/agent/workflow/function/template
missing-await          Warning    JS: a Promise-returning call whose result is used without ``await``
run-failed             Error      the last run of this document failed here (until it changes)
=====================  =========  ==========================================================

The API pass tokenizes the whole document once (a regex in C) and walks chains with a bracket table,
keeping top-level variable types in document order (one env per chunk boundary); names declared in
nested scopes (functions, blocks, loops, parameters) are resolved inside the chunk with the scope
resolver (:mod:`llmspell_ls.analysis.scopes`), so a parameter that shadows an outer builder is not
checked as that builder.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from tree_sitter import Node

from llmspell_ls.analysis.common import (
    Seg,
    Tok,
    TypeEngine,
    TypeRef,
    chain_forward,
    match_table,
    spec_for,
    tokenize,
)
from llmspell_ls.analysis.scopes import ChunkResolver, ScopeResolver
from llmspell_ls.apimodel import ApiIndex, Field, Function, Param
from llmspell_ls.budget import Cancelled, checkpoint
from llmspell_ls.documents import DocState
from llmspell_ls.features.common import range_of
from llmspell_ls.features.undefined import with_undefined_globals

ERROR, WARNING, INFO, HINT = 1, 2, 3, 4
SOURCE = "llmspell"
MAX_SYNTAX = 25
CHUNK = 2048
"""Approximate size (characters) of the statement groups whose results are cached between versions."""

CATALOG_CODES = {
    "tools": ("unknown-tool", WARNING, "tool"),  # spells can register tools (Tool.register) at run time
    "hook_points": ("unknown-hook-point", ERROR, "hook point"),
    "agent_templates": ("unknown-template", ERROR, "agent template"),
    "workflow_types": ("unknown-workflow-type", ERROR, "workflow type"),
}
OPEN_CATALOGS = frozenset({"event_names", "providers", "state_scopes"})
def _close(word: str, options: list[str], n: int = 1, cutoff: float = 0.6) -> list[str]:
    """difflib suggestions, skipped for long words (difflib is quadratic; nobody mistypes 64 chars)."""
    if len(word) > 64:
        return []
    return difflib.get_close_matches(word, options, n=n, cutoff=cutoff)


_DECL_WORDS = frozenset({"local", "function", "const", "let", "var"})
_ARROW_PARAMS = re.compile(r"\(?([\w$,\s]{0,200})\)?\s*$")
_REGISTER_RE = re.compile(r"Tool\s*[.:]\s*register\s*\(?\s*['\"]([^'\"\n]+)['\"]")
PROMISE_MEMBERS = frozenset({"then", "catch", "finally"})


@dataclass
class Symbol:
    name: str
    detail: str
    kind: int  # LSP SymbolKind
    start: int
    end: int
    sel_start: int
    sel_end: int


@dataclass
class Analysis:
    """Everything the whole-document pass finds (cached per document version)."""

    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    symbols: list[Symbol] = field(default_factory=list)
    partial: bool = False
    """The pass was cut short (budget/cancel): what was found before that (see :mod:`llmspell_ls.budget`)."""


class _Checker:
    def __init__(self, doc: DocState, index: ApiIndex, enc: str, reference: bool = False):
        self.doc = doc
        self.index = index
        self.enc = enc
        self.lang = doc.lang
        self.spec = spec_for(doc.lang)
        self.text = doc.text
        self.env: dict[str, TypeRef | None] = {}
        """Top-level bindings in document order (up to the current chunk); nested scopes are resolved
        inside the chunk by the scope resolver (every nested scope lies inside one top-level statement)."""
        # its own: the pass's many lookups are not kept with the doc
        self.scopes = ScopeResolver(doc) if reference else ChunkResolver(doc)
        self.engine = _EnvEngine(index, doc.lang, doc.text, self.env, self.scopes)
        self.out = Analysis()
        self.toks: list[Tok] = []
        self.match: dict[int, int] = {}
        self.declared: set[str] | None = None
        self.raw: list[tuple[Any, ...]] = []
        self._updates: list[tuple[str, TypeRef | None]] = []
        self.used_text = False
        self.reuse = not reference
        """Replay a chunk's results when the same chunk text (in the same context) was checked earlier in
        this pass (the text parsed without an error). ``reference``: no replay within the pass and the
        general scope resolver, the slow path the tests compare the fast one with."""

    # ------------------------------------------------------------------ helpers
    def diag(self, start: int, end: int, code: str, severity: int, message: str, **extra: Any) -> None:
        """Record a diagnostic by string offsets (converted to LSP ranges once, at the end)."""
        self.raw.append((start, max(end, start), code, severity, message, extra))

    def _to_lsp(self, start: int, end: int, code: str, severity: int, message: str,
                extra: dict[str, Any]) -> dict[str, Any]:
        d: dict[str, Any] = {
            "range": range_of(self.doc, start, end, self.enc),
            "severity": severity,
            "code": code,
            "source": SOURCE,
            "message": message,
        }
        d.update(extra)
        return d

    def registered_tools(self) -> set[str]:
        """Tools the spell registers itself (``Tool.register("name", …)``)."""
        got = getattr(self, "_registered", None)
        if got is None:
            got = self._registered = set(_REGISTER_RE.findall(self.text))
        return got

    def _declared_names(self) -> set[str]:
        if self.declared is None:
            names = {m.group(1) for m in self.spec.ASSIGN_RE.finditer(self.text)}
            for m in re.finditer(r"\bfunction\s*([\w.:]*)\s*\(([^)]*)\)", self.text):
                names.update(re.findall(r"[A-Za-z_$][\w$]*", m.group(2)))
                if m.group(1):
                    names.add(re.split(r"[.:]", m.group(1))[0])
            for m in re.finditer(r"\b(?:local|const|let|var|for)\s+([\w$,\s]+?)(?:=|\bin\b|\bof\b|$)", self.text):
                names.update(re.findall(r"[A-Za-z_$][\w$]*", m.group(1)))
            for m in re.finditer(r"=>", self.text):  # arrow parameters, read backwards (bounded)
                head = _ARROW_PARAMS.search(self.text, max(0, m.start() - 200), m.start())
                if head:
                    names.update(re.findall(r"[A-Za-z_$][\w$]*", head.group(1)))
            self.declared = names
        return self.declared

    # ------------------------------------------------------------------ passes
    def run(self, chunk_cache: dict[Any, Any] | None = None) -> Analysis:
        try:
            self.syntax()
            self.api_chunked(chunk_cache if chunk_cache is not None else {})
        except Cancelled:
            self.out.partial = True  # the statements checked so far stay in chunk_cache for the next pass
        self.out.diagnostics = [self._to_lsp(*r) for r in self.raw]
        return self.out

    def syntax(self) -> None:
        root = self.doc.tree.root_node
        if not root.has_error:
            return
        count = 0
        stack = [root]
        while stack and count < MAX_SYNTAX:
            checkpoint()
            node = stack.pop()
            if node.is_error:
                count += 1
                self._syntax_error(node)
                continue
            if node.is_missing:
                count += 1
                s, _ = self._node_offsets(node)
                self.diag(s, s, "syntax-error", ERROR, f"syntax error: missing '{node.type}'")
                continue
            if node.has_error:
                stack.extend(reversed(node.children))

    def _node_offsets(self, node: Node) -> tuple[int, int]:
        (r0, c0), (r1, c1) = node.start_point, node.end_point
        d = self.doc
        return d.offset(r0, d.byte_to_col(r0, c0)), d.offset(r1, d.byte_to_col(r1, c1))

    def _syntax_error(self, node: Node) -> None:
        # point at the first offending token, not at the whole (possibly huge) ERROR region
        first = node.children[0] if node.children else node
        for ch in node.children:
            if ch.is_error or ch.type == "ERROR" or ch.has_error:
                first = ch
                break
        fs, fe = self._node_offsets(first)
        nl = self.text.find("\n", fs)
        if nl != -1 and fe > nl:
            fe = nl
        if fe <= fs:
            fe = min(fs + 1, len(self.text))
        snippet = self.text[fs:fe].strip()[:40]
        msg = f"syntax error near '{snippet}'" if snippet else "syntax error"
        self.diag(fs, fe, "syntax-error", ERROR, msg)

    def api_chunked(self, cache: dict[Any, Any]) -> None:
        """Check top-level statements one by one, reusing the results of unchanged ones.

        A statement's result depends on its text, the local-variable types before it (a rolling hash of
        every assignment so far) and the tools the spell registers; with those equal, the cached
        diagnostics/symbols (relative offsets) and the statement's own assignments are replayed. A
        one-character edit therefore re-checks one statement instead of 5,000 lines.
        """
        doc = self.doc
        text = self.text
        root = doc.tree.root_node
        ascii_doc = doc.cache.get("_ascii")
        if ascii_doc is None:
            ascii_doc = doc.cache["_ascii"] = text.isascii()
        reg = frozenset(self.registered_tools())
        fresh: dict[Any, Any] = {}
        bounds: list[tuple[int, int]] = [(child.start_byte, child.end_byte) for child in root.children]
        if not ascii_doc:
            try:
                bounds = _str_bounds(doc.source, bounds)
            except UnicodeDecodeError:  # a boundary inside a character (never seen): per line, as before
                bounds = [(doc.offset(r0, doc.byte_to_col(r0, c0)), doc.offset(r1, doc.byte_to_col(r1, c1)))
                          for (r0, c0), (r1, c1) in ((c.start_point, c.end_point) for c in root.children)]
        if not bounds and text.strip():
            bounds = [(0, len(text))]
        bounds = group_statements(text, bounds)
        try:
            self._check_chunks(bounds, cache, fresh, reg)
        except Cancelled:
            cache.update(fresh)  # keep the progress: the next pass replays these and goes further
            raise
        cache.clear()
        cache.update(fresh)

    def _check_chunks(self, bounds: list[tuple[int, int]], cache: dict[Any, Any], fresh: dict[Any, Any],
                      reg: frozenset[str]) -> None:
        text = self.text
        # replay within the pass only where the parse had nothing to recover from (identical text parses
        # alike); across versions the statement cache is used as before
        reuse = self.reuse and not self.doc.tree.root_node.has_error
        env_hash = 0
        """A hash of the env's *contents* (XOR of one hash per binding, kept per name): chunks that meet
        the same bindings share results, wherever they are (a history hash would differ after any
        update, even one that rebinds a name to the type it already had)."""
        per_name: dict[str, int] = {}
        for s, e in bounds:
            checkpoint()
            chunk = text[s:e]
            key = (len(chunk), hash(chunk), env_hash, reg)  # no copy of the text kept per document
            hit = fresh.get(key) if reuse else None  # the same text met earlier in this pass
            if hit is None:
                hit = cache.get(key)
            if hit is None:
                n_raw, n_sym = len(self.raw), len(self.out.symbols)
                updates: list[tuple[str, TypeRef | None]] = []
                self._updates = updates
                self.used_text = False
                self.api(s, e)
                raw = [(a - s, b - s, *rest) for a, b, *rest in self.raw[n_raw:]]
                syms = [Symbol(x.name, x.detail, x.kind, x.start - s, x.end - s, x.sel_start - s, x.sel_end - s)
                        for x in self.out.symbols[n_sym:]]
                hit = (raw, syms, updates)
                if not self.used_text:
                    fresh[key] = hit
            else:
                fresh[key] = hit
                raw, syms, updates = hit
                if raw:
                    self.raw.extend((a + s, b + s, *rest) for a, b, *rest in raw)
                if syms:
                    self.out.symbols.extend(Symbol(x.name, x.detail, x.kind, x.start + s, x.end + s,
                                                   x.sel_start + s, x.sel_end + s) for x in syms)
                for name, t in updates:
                    self.env[name] = t
            for name, t in hit[2]:
                h = hash((name, t))
                env_hash ^= per_name.get(name, 0) ^ h
                per_name[name] = h

    def api(self, start: int = 0, end: int | None = None) -> None:
        spec = self.spec
        self.engine.floor = start
        # lookups are per chunk (keyed by its start): keep the pass's peak memory flat
        if isinstance(self.scopes, ChunkResolver):
            self.scopes.set_chunk(start, len(self.text) if end is None else end)
        else:
            self.scopes.clear()
        toks = self.toks = tokenize(spec, self.text, start, end)
        assigned: dict[str, None] = {}
        self.match = match_table(toks)
        keywords = spec.KEYWORDS
        seps = spec.MEMBER_SEPS
        # what can follow a name inside a chain (see chain_forward)
        table_calls = spec.TABLE_CALLS
        chain_ops = seps | {"(", "["} | ({"{"} if table_calls else set())
        n = len(toks)
        i = 0
        while i < n:
            if not i & 255:
                checkpoint()
            t = toks[i]
            if t.kind != "name" or t.text in keywords or (i > 0 and toks[i - 1].text in seps
                                                              and toks[i - 1].kind == "op"):
                i += 1
                continue
            # assignment: ``[local] x = <chain>`` / ``const x = [await] <chain>``
            if i + 2 < n and toks[i + 1].kind == "op" and toks[i + 1].text == "=" and not (
                i > 0 and toks[i - 1].kind == "op" and toks[i - 1].text in (".", ":", "[")
            ):
                segs, awaited, _ = chain_forward(spec, toks, i + 2, self.match)
                r: TypeRef | None = None
                if segs:
                    r = self.engine.type_of(segs, toks[i + 2].start).type
                    if r is not None and awaited:
                        r = TypeRef(r.name)
                    self._symbol_for(t, segs, r)
                    self.engine.cache[("val", toks[i + 2].start)] = r  # the binding's value: typed once
                assigned[t.text] = None
            elif (i + 1 < n and toks[i + 1].kind == "op" and toks[i + 1].text in (",", "=", "}", "]")) or (
                    i > 0 and toks[i - 1].kind == "name" and toks[i - 1].text in _DECL_WORDS):
                assigned[t.text] = None  # ``local a, b = …`` / ``function f()`` / ``const {a} = …``
            nxt = toks[i + 1] if i + 1 < n else None
            if (nxt is not None and ((nxt.kind == "op" and nxt.text in chain_ops)
                                     or (nxt.kind == "string" and table_calls))) or t.text[:1].isupper():
                # (a chain of one name is checked only when capitalised: skip reading the others)
                segs, _, _ = chain_forward(spec, toks, i, self.match)
                if len(segs) > 1 or (segs and segs[0].kind == "name" and t.text[:1].isupper()):
                    self.check_chain(segs, i)
            i += 1
        # what this chunk leaves in the top-level bindings: each name's binding as seen at its end
        stop = len(self.text) if end is None else end
        for name in assigned:
            if name in self.index.globals:
                continue
            found, occ = self.scopes.resolve(name, stop, start)
            if found:
                r = self.engine.type_occ(occ)
                self.env[name] = r
                self._updates.append((name, r))

    # ------------------------------------------------------------------ chains
    def check_chain(self, segs: list[Seg], first_tok: int) -> None:
        index = self.index
        head = segs[0]
        cur: TypeRef | None
        if head.name in index.globals:
            g = index.globals[head.name]
            cur = TypeRef(g.name) if g.kind != "value" else None
        elif (bound := self.scopes.resolve(head.name, head.start, self.engine.floor))[0]:
            cur = self.engine.type_occ(bound[1])  # declared/assigned in this chunk (scope-aware)
        elif head.name in self.env:
            cur = self.env[head.name]
        else:
            cur = None
            close = _close(head.name, index.global_names, n=1, cutoff=0.75) \
                if len(segs) > 1 and head.name not in self.spec.STDLIB else []
            if close:
                self.used_text = True  # depends on names declared anywhere in the document
                if head.name not in self._declared_names():
                    self.diag(head.start, head.end, "undefined-global", WARNING,
                              f"undefined global '{head.name}'; did you mean '{close[0]}'?",
                              data={"replace": close[0]})
            return
        member: Function | Field | None = None
        member_seg: Seg | None = None
        prev_awaited = first_tok > 0 and self.toks[first_tok - 1].text == "await"
        for k, seg in enumerate(segs[1:], 1):
            if seg.kind == "member":
                if cur is None:
                    return
                if cur.promise:
                    if seg.name not in PROMISE_MEMBERS and member_seg is not None:
                        self.diag(member_seg.start, segs[k - 1].end, "missing-await", WARNING,
                                  "this call returns a Promise; add 'await' before using its result")
                    return
                owner = index.type_(cur.name)
                members = index.members(cur.name, self.lang)
                m = members.get(seg.name)
                name_start = seg.end - len(seg.name)
                if m is None:
                    if owner is not None and owner.kind == "record":
                        return  # result/parameter tables are open-ended (rs-llmspell flattens extra keys)
                    if "\n" in self.text[seg.start:name_start]:
                        return  # ``x:`` at the end of a line being typed: the syntax error says enough
                    if owner is not None and owner.index_type:
                        cur = TypeRef(owner.index_type)
                        member = None
                        continue
                    close = _close(seg.name, list(members), n=1, cutoff=0.6)
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    self.diag(name_start, seg.end, "unknown-member", ERROR,
                              f"'{cur.name}' has no member '{seg.name}'{hint}",
                              **({"data": {"replace": close[0]}} if close else {}))
                    return
                member, member_seg = m, seg
                if self.lang == "lua" and isinstance(m, Function) and owner is not None:
                    is_static = owner.kind == "global"
                    want = "." if is_static else ":"
                    if seg.sep != want:
                        what = "a function of the global table" if is_static else "a method"
                        self.diag(seg.start, seg.start + len(seg.sep), "call-style", ERROR,
                                  f"'{seg.name}' is {what}: call it with '{want}' (not '{seg.sep}')",
                                  data={"replace": want})
                if isinstance(m, Function) and m.deprecated:
                    self.diag(name_start, seg.end, "deprecated", WARNING,
                              f"'{cur.name}{seg.sep}{seg.name}' is deprecated: {m.deprecated}", tags=[2])
                cur = self.engine._ref(m.type) if isinstance(m, Field) else None
            elif seg.kind == "call":
                if not isinstance(member, Function):
                    return
                self.check_call(member, seg)
                ret = TypeRef(member.owner) if member.returns_self else self.engine._ref(member.returns)
                if member.is_async and self.lang == "javascript":
                    if k == len(segs) - 1 and not prev_awaited and self._statement_position(first_tok):
                        assert member_seg is not None
                        self.diag(member_seg.end - len(member_seg.name), seg.end, "missing-await", WARNING,
                                  f"'{member.js_name}' returns a Promise; add 'await'")
                    cur = TypeRef(ret.name if ret else "", promise=True)
                else:
                    cur = ret
                member = None
            elif seg.kind == "index":
                c = index.type_(cur.name) if cur else None
                if c is not None and c.index_names == "tools" and seg.name and seg.name not in index.tools \
                        and seg.name not in self.registered_tools():
                    at = self.text.find(seg.name, seg.start, seg.end)
                    self.diag(at, at + len(seg.name), "unknown-tool", WARNING, f"unknown tool '{seg.name}'")
                cur = TypeRef(c.index_type) if c is not None and c.index_type else None
                member = None
            else:
                return

    def _statement_position(self, first_tok: int) -> bool:
        """JS: is the chain an expression statement or a variable initialiser (not an argument/return)?"""
        if first_tok == 0:
            return True
        p = self.toks[first_tok - 1]
        return (p.kind == "op" and p.text in (";", "{", "}", "=", ")")) or (p.kind == "name" and p.text == "else")

    # ------------------------------------------------------------------ calls
    def _arg_kind(self, toks: list[Tok]) -> str | None:
        if not toks:
            return None
        t0 = toks[0]
        if len(toks) == 1:
            if t0.kind == "string":
                return "string"
            if t0.kind == "number":
                return "number"
            if t0.kind == "name" and t0.text in ("true", "false"):
                return "boolean"
            if t0.kind == "name" and t0.text in ("nil", "null", "undefined"):
                return "nil"
        if len(toks) == 2 and t0.text == "-" and toks[1].kind == "number":
            return "number"
        if t0.kind == "op" and t0.text == "{" and toks[-1].text == "}" and self.lang == "lua":
            return "table"
        if t0.kind == "op" and t0.text == "{" and toks[-1].text == "}":
            return "table"
        if t0.kind == "op" and t0.text == "[" and toks[-1].text == "]" and self.lang == "javascript":
            return "table"
        if t0.kind == "name" and t0.text == "function":
            return "function"
        if (self.lang == "javascript" and any(t.text == "=>" for t in toks[:8]) and t0.text in ("(", "async")) \
                or (self.lang == "javascript" and len(toks) > 1 and toks[1].text == "=>"):
            return "function"
        return None

    def check_call(self, fn: Function, seg: Seg) -> None:
        toks = self.toks
        args = [toks[a:b] for a, b in (seg.args or [])]
        if len(args) == 1 and not args[0]:
            args = []
        params = fn.params
        n = len(args)
        while n and self._arg_kind(args[n - 1]) == "nil" and n > fn.required:
            n -= 1
        name = fn.lname(self.lang)
        if n < fn.required:
            missing = [p.name for p in params[n:fn.required]]
            self.diag(seg.start, seg.end, "arg-count", ERROR,
                      f"'{name}' needs {fn.required} argument(s), got {n}: missing {', '.join(missing)}")
        elif not fn.variadic and n > len(params):
            extra = [t for a in args[len(params):n] for t in a] or [t for a in args for t in a]
            self.diag(extra[0].start if extra else seg.start, extra[-1].end if extra else seg.end, "arg-count", WARNING,
                      f"'{name}' takes {len(params)} argument(s), got {n}")
        by_name: dict[str, list[Tok]] = {}
        for k, a in enumerate(args):
            if k >= len(params) and not fn.variadic:
                break
            p = params[min(k, len(params) - 1)]
            by_name[p.name] = a
            self.check_arg(fn, p, a)
        for p in params:
            if p.schema_from and p.name in by_name and p.schema_from in by_name:
                self.check_tool_table(by_name[p.schema_from], by_name[p.name])

    def check_arg(self, fn: Function, p: Param, a: list[Tok]) -> None:
        if not a:
            return
        kind = self._arg_kind(a)
        if kind is None:
            return
        allowed = {x.strip("() ") for x in p.type.split("|")}
        ok = "any" in allowed or kind in allowed or (kind == "number" and "integer" in allowed)
        if kind == "table" and not ok:
            ok = any(x == "table" or x.endswith("[]") or x.startswith("table<") or x in self.index.records
                     or x in self.index.classes for x in allowed)
        if kind == "nil" and (p.optional or "nil" in allowed):
            ok = True
        if kind == "string" and (p.names or p.values):
            ok = True
        if not ok:
            self.diag(a[0].start, a[-1].end, "arg-type", WARNING,
                      f"argument '{p.name}' of '{fn.lname(self.lang)}' expects {p.type}, got a {kind}")
            return
        if kind == "string":
            value = self.spec.string_value(a[0].text)
            s, e = a[0].start + 1, a[0].end - (1 if self.spec.string_closed(a[0].text) else 0)
            if p.values and value not in p.values:
                close = _close(value, p.values, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.diag(s, e, "invalid-value", ERROR,
                          f"'{value}' is not one of {', '.join(p.values)}{hint}",
                          **({"data": {"replace": close[0]}} if close else {}))
            elif p.names and p.names not in OPEN_CATALOGS:
                cat = self.index.catalog(p.names)
                if not cat or value in cat:
                    return
                if p.names == "tools" and value in self.registered_tools():
                    return
                if p.names == "tools" and value.startswith("mcp.") and not any(
                        n.startswith("mcp." + value[4:].partition(".")[0] + ".") for n in cat):
                    return  # an MCP server's tools are known once a run listed them (.llmspell/mcp-tools.json)
                if p.names == "hook_points" and value.startswith("Custom:"):
                    return
                code, sev, what = CATALOG_CODES.get(p.names, ("unknown-name", WARNING, p.names.replace("_", " ")))
                close = _close(value, list(cat), n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.diag(s, e, code, sev, f"unknown {what} '{value}'{hint}",
                          **({"data": {"replace": close[0]}} if close else {}))

    def check_tool_table(self, name_arg: list[Tok], table: list[Tok]) -> None:
        if len(name_arg) != 1 or name_arg[0].kind != "string" or self._arg_kind(table) != "table":
            return
        tool = self.index.tools.get(self.spec.string_value(name_arg[0].text))
        if tool is None:
            return
        kv = "=" if self.lang == "lua" else ":"
        keys: dict[str, tuple[Tok, list[Tok]]] = {}
        depth = 0
        j = 1
        end = len(table) - 1
        entry_start = 1
        bopen, bclose = self.spec.BLOCK_OPEN, self.spec.BLOCK_CLOSE
        while j <= end:
            t = table[j]
            if t.kind == "name" and (t.text in bopen or t.text in bclose):
                depth += 1 if t.text in bopen else -1
                j += 1
                continue
            if depth == 0 and j == entry_start:
                key_tok = None
                if t.kind in ("name", "string") and j + 1 < end and table[j + 1].text == kv:
                    key_tok = t
                    vstart = j + 2
                elif t.text == "[" and j + 3 < end and table[j + 1].kind == "string" and table[j + 2].text == "]" \
                        and table[j + 3].text == kv:
                    key_tok = table[j + 1]
                    vstart = j + 4
                if key_tok is not None:
                    # value tokens run to the next top-level separator
                    d2 = 0
                    k = vstart
                    while k < end:
                        tk = table[k]
                        if tk.kind == "op" and tk.text in "([{":
                            d2 += 1
                        elif tk.kind == "op" and tk.text in ")]}":
                            d2 -= 1
                        elif d2 == 0 and tk.kind == "op" and tk.text in (",", ";"):
                            break
                        k += 1
                    key = key_tok.text if key_tok.kind == "name" else self.spec.string_value(key_tok.text)
                    keys[key] = (key_tok, table[vstart:k])
            if t.kind == "op" and t.text in "([{":
                depth += 1
            elif t.kind == "op" and t.text in ")]}":
                depth -= 1
            elif depth == 0 and t.kind == "op" and t.text in (",", ";"):
                entry_start = j + 1
            j += 1
        names = [p.name for p in tool.parameters]
        for key, (ktok, value) in keys.items():
            tp = tool.param(key)
            if tp is None:
                close = _close(key, names, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.diag(ktok.start, ktok.end, "unknown-tool-param", WARNING,
                          f"tool '{tool.name}' has no parameter '{key}'{hint}",
                          **({"data": {"replace": close[0]}} if close else {}))
            elif tp.values and len(value) == 1 and value[0].kind == "string":
                v = self.spec.string_value(value[0].text)
                if v not in tp.values:
                    self.diag(value[0].start, value[0].end, "invalid-value", ERROR,
                              f"'{v}' is not a valid '{key}' for tool '{tool.name}': one of {', '.join(tp.values)}")
        missing = [p.name for p in tool.parameters if p.required and p.name not in keys]
        if missing:
            self.diag(table[0].start, table[0].end, "missing-tool-param", ERROR,
                      f"tool '{tool.name}' needs parameter(s): {', '.join(missing)}")

    # ------------------------------------------------------------------ symbols
    def _symbol_for(self, name_tok: Tok, segs: list[Seg], t: TypeRef | None) -> None:
        if t is None or t.name not in self.index.classes:
            return
        g = next((n for n in ("Agent", "Workflow", "Tool", "Hook", "Event") if t.name.startswith(n)), "")
        # a name given in the chain (``:name("writer")``) is the better label
        label = name_tok.text
        for k, s in enumerate(segs[:-1]):
            call_args = segs[k + 1].args
            if s.kind == "member" and s.name == "name" and segs[k + 1].kind == "call" and call_args:
                a, b = call_args[0]
                if b - a == 1 and self.toks[a].kind == "string":
                    label = f"{name_tok.text} ({self.spec.string_value(self.toks[a].text)})"
        kinds = {"Agent": 19, "Workflow": 12, "Tool": 12, "Hook": 24, "Event": 24}
        self.out.symbols.append(Symbol(label, t.name, kinds.get(g, 13), name_tok.start, segs[-1].end,
                                       name_tok.start, name_tok.end))


class _EnvEngine(TypeEngine):
    """A type engine whose local variables come from the document-order environment of the checker."""

    def __init__(self, index: ApiIndex, lang: Any, text: str, env: dict[str, TypeRef | None],
                 scopes: ScopeResolver):
        super().__init__(index, lang, text, {}, scopes)
        self.env = env
        self.floor = 0
        """Start of the chunk being checked: bindings before it come from ``env``."""

    def var_type(self, name: str, before: int) -> TypeRef | None:
        assert self.scopes is not None
        found, occ = self.scopes.resolve(name, before, self.floor)
        if found:
            return self.type_occ(occ)
        return self.env.get(name)


def _str_bounds(source: bytes, bounds: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Byte ranges (in document order) -> string ranges, decoding only the bytes between consecutive
    offsets (one pass over the source, in C)."""
    out: list[tuple[int, int]] = []
    pb = ps = 0

    def at(b: int) -> int:
        nonlocal pb, ps
        if b < pb:
            pb = ps = 0
        ps += len(source[pb:b].decode("utf-8", "surrogatepass"))
        pb = b
        return ps

    for b0, b1 in bounds:
        out.append((at(b0), at(b1)))
    return out


def group_statements(text: str, bounds: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Top-level statement ranges grouped into chunks of about ``CHUNK`` characters: fewer Python
    iterations, still local. (The grouping is part of the results' definition in one corner: the types a
    chunk leaves to the next are read at its end, where a nested scope closing right there still counts;
    a different grouping could differ there, so it stays as it was.)"""
    grouped: list[tuple[int, int]] = []
    for s0, e0 in bounds:
        if grouped and e0 - grouped[-1][0] <= CHUNK:
            grouped[-1] = (grouped[-1][0], e0)
        else:
            grouped.append((s0, e0))
    return grouped


def analyze_document(doc: DocState, index: ApiIndex, enc: str, *, reference: bool = False) -> Analysis:
    """Diagnostics and symbols for one document version (cached on the snapshot; statement results are
    reused across versions through ``doc.shared``, and within the version for text met twice).

    ``reference=True`` (tests): the same analysis the slow way, nothing cached or replayed: no statement
    cache, no replay of repeated text, the general scope resolver, no step-table memo."""
    key = ("analysis", id(index), enc)
    got = None if reference else doc.cache.get(key)
    if got is None:
        chunks = {} if reference else doc.shared.setdefault(("chunks", id(index), enc), {})
        got = _Checker(doc, index, enc, reference).run(chunks)
        try:
            found = with_undefined_globals(doc, index, enc, got.diagnostics)
        except Cancelled:  # over the pass's budget: its slices done are kept, the next pass continues
            got.partial = True
            found = got.diagnostics
        got.diagnostics = apply_suppressions(doc.text, with_step_tables(doc, index, enc, found, memo=not reference))
        _hook_symbols(doc, index, got, enc)
        if got.partial or reference:
            return got  # not cached: the next pass (or request) continues from the statement cache
        doc.cache[key] = got
    return got  # type: ignore[no-any-return]


def with_step_tables(doc: DocState, index: ApiIndex, enc: str,
                     diags: list[dict[str, Any]], memo: bool = True) -> list[dict[str, Any]]:
    """``diags`` plus the workflow step-table checks (unknown step keys and types, tools, a tool's
    parameters in ``input``) that the chain pass does not already report at the same place."""
    from llmspell_ls.features.step_tables import check_step_tables

    seen = {(d.get("code"), json.dumps(d.get("range"), sort_keys=True)) for d in diags}
    out = list(diags)
    for d in check_step_tables(doc, index, enc, memo=memo):
        r = d.range
        rng = {"start": {"line": r.start.line, "character": r.start.character},
               "end": {"line": r.end.line, "character": r.end.character}}
        if (d.code, json.dumps(rng, sort_keys=True)) in seen:
            continue
        out.append({"range": rng, "severity": int(d.severity or 1), "code": d.code, "source": d.source or SOURCE,
                    "message": d.message})
    return out


_SUPPRESS = re.compile(r"@diagnostic\s+(disable-next-line|disable-line)\b(?:\s*:\s*([\w\-]+(?:\s*,\s*[\w\-]+)*))?")


def apply_suppressions(text: str, diags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop diagnostics silenced in the source, with LuaLS's comment syntax in both languages:
    ``---@diagnostic disable-next-line: call-style`` (or ``// @diagnostic disable-next-line: code``),
    and ``disable-line`` in a trailing comment; without codes every diagnostic on that line goes."""
    if "@diagnostic" not in text or not diags:
        return diags
    silenced: dict[int, set[str] | None] = {}
    line, at = 0, 0
    for m in _SUPPRESS.finditer(text):
        line += text.count("\n", at, m.start())  # counted from the previous match (not from 0 each time)
        at = m.start()
        target = line + 1 if m.group(1) == "disable-next-line" else line
        codes = {c.strip() for c in m.group(2).split(",")} if m.group(2) else None
        prev = silenced.get(target, set())
        silenced[target] = None if codes is None or prev is None else prev | codes
    if not silenced:
        return diags
    out = []
    for d in diags:
        line = d["range"]["start"]["line"]
        if line in silenced:
            codes = silenced[line]
            if codes is None or d.get("code") in codes:
                continue
        out.append(d)
    return out


_HOOK_RES = [re.compile(re.escape(f) + r"\s*\(\s*(['\"])([^'\"\n]*)\1")
             for f in ("Hook.register", "Event.subscribe", "Tool.execute", "Tool.get")]


def _hook_symbols(doc: DocState, index: ApiIndex, an: Analysis, enc: str) -> None:
    kinds = {"Hook.register": (24, "hook"), "Event.subscribe": (24, "event subscription"),
             "Tool.execute": (12, "tool call"), "Tool.get": (12, "tool")}
    for rx in _HOOK_RES:  # one literal-prefixed regex each: the C scanner skips ahead fast
        fname = rx.pattern.split("\\s")[0].replace("\\", "")
        kind, what = kinds[fname]
        for m in rx.finditer(doc.text):
            an.symbols.append(Symbol(f"{what} {m.group(2)}", fname, kind, m.start(), m.end(),
                                     m.start(2), m.end(2)))
    an.symbols.sort(key=lambda s: s.start)


def diagnostics(doc: DocState, index: ApiIndex, enc: str) -> list[dict[str, Any]]:
    return analyze_document(doc, index, enc).diagnostics
