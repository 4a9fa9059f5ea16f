"""workspace/symbol: functions, local functions, methods, top-level locals, and the agents, workflows and
tools a spell names with ``:name("x")``, across the open documents and the workspace's .lua/.js files.

Files on disk are parsed once per (size, modification time) and their symbols kept; a request stops
reading new files after ``budget_s`` and answers with what it has (cached files always count), so the
first query in a large workspace stays bounded and the next ones see more.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types as lsp
from tree_sitter import Node, Query, QueryCursor, Tree

from llmspell_ls.budget import checkpoint
from llmspell_ls.documents import JS, LUA, DocState, Lang, language_of, parser_for
from llmspell_ls.features.common import col_to_client

MAX_FILES = 2000
MAX_FILE_BYTES = 512 * 1024
MAX_RESULTS = 1000
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".llmspell", ".tox",
                       ".mypy_cache", ".ruff_cache", ".pytest_cache", "dist", "build", "site-packages"})


@dataclass(frozen=True, slots=True)
class Sym:
    name: str
    kind: int
    container: str
    row: int
    c0: int
    c1: int
    """Code-point columns."""
    line: str | None
    """The line's text when it is not ASCII (to convert columns to the client's encoding)."""


_LUA_Q = """
(function_declaration name: (_) @fn)
(chunk (variable_declaration (assignment_statement (variable_list name: (identifier) @top))))
(chunk (variable_declaration (variable_list name: (identifier) @top)))
"""
_JS_Q = """
(function_declaration name: (identifier) @fn)
(generator_function_declaration name: (identifier) @fn)
(class_declaration name: (identifier) @class)
(method_definition name: (_) @method)
(program (lexical_declaration (variable_declarator name: (identifier) @top)))
(program (variable_declaration (variable_declarator name: (identifier) @top)))
"""
_queries: dict[str, Query] = {}
_qlock = threading.Lock()

_NAMED = re.compile(r"""[:.]\s*name\s*\(\s*(["'])([^"'\n]{1,200})\1""")
_COMPONENT = re.compile(r"\b(Agent|Workflow|Tool)\s*\.\s*\w+")
_COMPONENT_KIND = {"Agent": ("agent", lsp.SymbolKind.Object), "Workflow": ("workflow", lsp.SymbolKind.Function),
                   "Tool": ("tool", lsp.SymbolKind.Function)}


def _query(lang: Lang) -> Query:
    with _qlock:
        q = _queries.get(lang)
        if q is None:
            q = _queries[lang] = Query(LUA if lang == "lua" else JS, _LUA_Q if lang == "lua" else _JS_Q)
        return q


def extract(text: str, source: bytes, tree: Tree, lang: Lang) -> list[Sym]:
    """The symbols of one file, in document order."""
    lines = text.split("\n")
    out: list[Sym] = []

    def sym(name: str, kind: int, container: str, row: int, b0: int, b1: int) -> None:
        line = lines[row] if row < len(lines) else ""
        if line.isascii():
            out.append(Sym(name, kind, container, row, b0, b1, None))
        else:
            enc = line.encode("utf-8", "surrogatepass")
            c0 = len(enc[:b0].decode("utf-8", "replace"))
            c1 = len(enc[:b1].decode("utf-8", "replace"))
            out.append(Sym(name, kind, container, row, c0, c1, line))

    def node_sym(node: Node, name: str, kind: int, container: str) -> None:
        (r0, c0), (r1, c1) = node.start_point, node.end_point
        sym(name, kind, container, r0, c0, c1 if r1 == r0 else c0 + len(name.encode()))

    caps = QueryCursor(_query(lang)).captures(tree.root_node)
    for cap, nodes in caps.items():
        for i, n in enumerate(nodes):
            if i % 256 == 0:
                checkpoint()
            name = source[n.start_byte:n.end_byte].decode("utf-8", "replace")
            if cap == "fn":
                kind: int = lsp.SymbolKind.Function
                container = ""
                if n.type == "method_index_expression":
                    kind = lsp.SymbolKind.Method
                if n.type in ("dot_index_expression", "method_index_expression"):
                    t = n.child_by_field_name("table")
                    container = source[t.start_byte:t.end_byte].decode("utf-8", "replace") if t is not None else ""
                node_sym(n, name, kind, container)
            elif cap == "class":
                node_sym(n, name, lsp.SymbolKind.Class, "")
            elif cap == "method":
                node_sym(n, name, lsp.SymbolKind.Method, _js_container(n, source))
            else:
                node_sym(n, name, _value_kind(n, lang), "")
    for i, m in enumerate(_NAMED.finditer(text)):
        if i % 64 == 0:
            checkpoint()
        what, kind = _component_before(text, m.start())
        row = text.count("\n", 0, m.start(2))
        col = m.start(2) - (text.rfind("\n", 0, m.start(2)) + 1)
        line = lines[row]
        b0 = len(line[:col].encode("utf-8", "surrogatepass"))
        sym(m.group(2), kind, what, row, b0, b0 + len(m.group(2).encode("utf-8", "surrogatepass")))
    out.sort(key=lambda s: (s.row, s.c0))
    return out


def _component_before(text: str, at: int) -> tuple[str, int]:
    last = None
    for m in _COMPONENT.finditer(text, max(0, at - 3000), at):
        last = m
    if last is None:
        return "component", lsp.SymbolKind.Object
    return _COMPONENT_KIND[last.group(1)]


def _value_kind(name_node: Node, lang: Lang) -> int:
    """A top-level local holding a function is a Function, else a Variable (a constant for JS const)."""
    p = name_node.parent
    value: Node | None = None
    if lang == "lua":
        st = p.parent if p is not None else None
        if p is not None and st is not None and st.type == "assignment_statement":
            idx = next((i for i, c in enumerate(p.named_children) if c.id == name_node.id), 0)
            exprs = next((c for c in st.named_children if c.type == "expression_list"), None)
            vals = exprs.named_children if exprs is not None else []
            value = vals[idx] if idx < len(vals) else None
        if value is not None and value.type == "function_definition":
            return lsp.SymbolKind.Function
        return lsp.SymbolKind.Variable
    value = p.child_by_field_name("value") if p is not None else None
    if value is not None and value.type in ("arrow_function", "function_expression", "function"):
        return lsp.SymbolKind.Function
    decl = p.parent if p is not None else None
    if decl is not None and decl.children and decl.children[0].type == "const":
        return lsp.SymbolKind.Constant
    return lsp.SymbolKind.Variable


def _js_container(node: Node, source: bytes) -> str:
    p = node.parent
    while p is not None:
        if p.type in ("class_declaration", "class"):
            n = p.child_by_field_name("name")
            return source[n.start_byte:n.end_byte].decode("utf-8", "replace") if n is not None else ""
        if p.type == "variable_declarator":
            n = p.child_by_field_name("name")
            return source[n.start_byte:n.end_byte].decode("utf-8", "replace") if n is not None else ""
        p = p.parent
    return ""


# ------------------------------------------------------------------------------------------ files
_file_cache: dict[str, tuple[tuple[int, int], list[Sym]]] = {}
_fc_lock = threading.Lock()


def doc_symbols(doc: DocState) -> list[Sym]:
    got = doc.cache.get("_ws_syms")
    if got is None:
        got = doc.cache["_ws_syms"] = extract(doc.text, doc.source, doc.tree, doc.lang)
    return got  # type: ignore[no-any-return]


def file_symbols(path: Path, deadline: float | None = None) -> list[Sym] | None:
    """Symbols of a file on disk (cached per size and mtime); None when skipped (too big, unreadable, or
    not cached and the deadline has passed)."""
    lang = language_of(str(path))
    if lang is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    key = (st.st_size, st.st_mtime_ns)
    with _fc_lock:
        got = _file_cache.get(str(path))
    if got is not None and got[0] == key:
        return got[1]
    if st.st_size > MAX_FILE_BYTES or (deadline is not None and time.monotonic() > deadline):
        return None
    try:
        source = path.read_bytes()
    except OSError:
        return None
    text = source.decode("utf-8", "replace")
    source = text.encode("utf-8", "surrogatepass")
    syms = extract(text, source, parser_for(lang).parse(source), lang)
    with _fc_lock:
        _file_cache[str(path)] = (key, syms)
    return syms


def workspace_files(roots: Iterable[str], limit: int = MAX_FILES) -> list[Path]:
    out: list[Path] = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            checkpoint()
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            for f in sorted(filenames):
                if f.endswith((".lua", ".js", ".mjs", ".cjs")):
                    out.append(Path(dirpath) / f)
                    if len(out) >= limit:
                        return out
    return out


# ------------------------------------------------------------------------------------------ request
def matches(query: str, name: str) -> bool:
    """Case-insensitive subsequence match (what editors' fuzzy symbol search expects)."""
    if not query:
        return True
    it = iter(name.lower())
    return all(ch in it for ch in query.lower())


def _info(s: Sym, uri: str, enc: str) -> lsp.SymbolInformation:
    c0, c1 = s.c0, s.c1
    if s.line is not None:
        c0, c1 = col_to_client(s.line, c0, enc), col_to_client(s.line, c1, enc)
    rng = lsp.Range(start=lsp.Position(line=s.row, character=c0), end=lsp.Position(line=s.row, character=c1))
    return lsp.SymbolInformation(name=s.name, kind=lsp.SymbolKind(s.kind), location=lsp.Location(uri=uri, range=rng),
                                 container_name=s.container or None)


def workspace_symbols(query: str, docs: list[DocState], roots: list[str], enc: str,
                      budget_s: float = 0.15) -> list[lsp.SymbolInformation]:
    deadline = time.monotonic() + budget_s
    found: list[tuple[Sym, str]] = []
    open_uris = {d.uri for d in docs}
    for d in docs:
        checkpoint()
        found.extend((s, d.uri) for s in doc_symbols(d) if matches(query, s.name))
    for path in workspace_files(roots):
        checkpoint()
        uri = path.as_uri()
        if uri in open_uris:
            continue
        syms = file_symbols(path, deadline)
        if syms:
            found.extend((s, uri) for s in syms if matches(query, s.name))
    q = query.lower()
    found.sort(key=lambda x: (not x[0].name.lower().startswith(q), x[0].name.lower(), x[1], x[0].row))
    return [_info(s, uri, enc) for s, uri in found[:MAX_RESULTS]]
