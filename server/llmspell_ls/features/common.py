"""Helpers shared by the feature modules: positions, client options, signatures and docs as text.

Positions: analysis works on ``str`` offsets (code points); the client speaks UTF-16 (VS Code) or UTF-8
(Neovim 0.11 when negotiated). Conversions go line by line, with an ASCII fast path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from llmspell_ls.analysis.common import TypeEngine, window_start
from llmspell_ls.analysis.scopes import ScopeResolver
from llmspell_ls.apimodel import ApiIndex, Class, Field, Function, Lang, Tool
from llmspell_ls.documents import DocState


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """What the client supports, resolved once at ``initialize`` (part of response cache keys)."""

    encoding: str = "utf-16"
    snippets: bool = True
    markdown: bool = True
    deprecated_tag: bool = True
    deprecated_flag: bool = False
    hover_markdown: bool = True
    signature_markdown: bool = True
    label_details: bool = False
    related_information: bool = False
    diagnostic_tags: bool = True
    code_action_literals: bool = True
    work_done_progress: bool = False
    code_lens_refresh: bool = False
    resolve_docs: bool = False
    """The client resolves ``documentation`` lazily (completionItem/resolve)."""


class RawJSON:
    """An already-serialized JSON result; the server writes it into the response without re-encoding."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return f"RawJSON({self.text[:60]!r}...)"

    def value(self) -> Any:
        return json.loads(self.text)


# ------------------------------------------------------------------------------------------ positions
def _units(ch: str, enc: str) -> int:
    if enc == "utf-16":
        return 2 if ord(ch) > 0xFFFF else 1
    if enc == "utf-8":
        return len(ch.encode("utf-8", "surrogatepass"))
    return 1


def client_to_col(line: str, character: int, enc: str) -> int:
    """Client column (in negotiated units) -> code-point column, clamped to the line."""
    if enc == "utf-32" or line.isascii():
        return max(0, min(character, len(line)))
    units = 0
    for i, ch in enumerate(line):
        if units >= character:
            return i
        units += _units(ch, enc)
    return len(line)


def col_to_client(line: str, col: int, enc: str) -> int:
    if enc == "utf-32" or line.isascii():
        return col
    return sum(_units(ch, enc) for ch in line[:col])


def offset_of(doc: DocState, line: int, character: int, enc: str) -> int:
    line = max(0, min(line, len(doc.lines) - 1))
    return doc.offset(line, client_to_col(doc.line(line), character, enc))


def pos_of(doc: DocState, offset: int, enc: str) -> dict[str, int]:
    """LSP position (dict) for a string offset."""
    offs = doc.cache.get("_line_offsets")
    if offs is None:
        doc.offset(0, 0)
        offs = doc.cache["_line_offsets"]
    import bisect

    row = max(0, bisect.bisect_right(offs, offset) - 1)
    row = min(row, len(doc.lines) - 1)
    col = offset - offs[row]
    return {"line": row, "character": col_to_client(doc.line(row), col, enc)}


def range_of(doc: DocState, start: int, end: int, enc: str) -> dict[str, dict[str, int]]:
    return {"start": pos_of(doc, start, enc), "end": pos_of(doc, end, enc)}


def engine_for(doc: DocState, index: ApiIndex) -> TypeEngine:
    """A type engine whose variable cache lives with the document version."""
    cache = doc.cache.setdefault(("engine", id(index)), {})
    return TypeEngine(index, doc.lang, doc.text, cache, scopes_for(doc), flow=True)


def scopes_for(doc: DocState) -> ScopeResolver:
    """A scope resolver for one request. Not kept in ``doc.cache``: it refers to the document, and a
    cycle would keep every old version (text, lines, trees) alive until a full GC — memory and GC pauses
    on the keystroke path. What is worth keeping (variable types) lives in the engine's cache."""
    return ScopeResolver(doc, lambda: _tree_now(doc))


def _tree_now(doc: DocState) -> Any:
    """The parsed tree if there is one, else the previous version's tree with this edit applied (node
    positions already shifted; nodes touched by the edit are marked ``has_changes`` and the resolver
    reads those from the text), so a keystroke never waits for a re-parse (~6 ms on 5,000 lines) on
    the completion path. The debounced diagnostics pass parses properly."""
    if doc.parsed:
        return doc.tree
    pending = doc._pending
    return pending if pending is not None else doc.tree


def statement_start(doc: DocState, offset: int) -> int | None:
    """Start of the top-level statement holding ``offset`` (from the tree), as a string offset."""
    if not doc.parsed:
        return None  # do not parse on the request path: the text window is good enough
    try:
        root = doc.tree.root_node
    except Exception:
        return None
    row = doc.text.count("\n", 0, offset) if len(doc.text) < 4096 else None
    if row is None:
        import bisect

        doc.offset(0, 0)
        offs = doc.cache["_line_offsets"]
        row = max(0, bisect.bisect_right(offs, offset) - 1)
    col_b = doc.col_to_byte(row, offset - doc.offset(row, 0))
    leaf = root.descendant_for_point_range((row, col_b), (row, col_b))
    if leaf is None or leaf == root:
        return None
    # the top-level statement holding it, found from the root down (``node.parent`` costs the node's
    # depth each time: climbing from inside 10,000 nested tables was quadratic)
    node = root.child_with_descendant(leaf)
    # a statement with an error inside may be a misreading (tree-sitter-lua lets an unterminated string
    # run over the next lines): the text window is the better guide then
    if node is None or node.type == "ERROR" or node == root or node.has_error:
        return None
    node = _innermost_statement(node, leaf)
    r, c = node.start_point
    return doc.offset(r, doc.byte_to_col(r, c))


_BODIES = frozenset({"block", "chunk", "program", "statement_block"})
"""Nodes whose children are statements."""
_EXPRESSIONS = frozenset({"function_definition", "arguments", "table_constructor", "arrow_function",
                          "function_expression", "object", "array", "template_string", "string"})
"""Where the descent stops: a statement inside an anonymous function (a call's argument, a table value)
keeps the statement around it as its window, so the call's signature and table keys stay in view."""
MAX_DESCENT = 64


def _innermost_statement(stmt: Any, leaf: Any) -> Any:
    """The innermost statement holding ``leaf`` inside the top-level statement ``stmt`` (a body of
    ``do``/``if``/``for``/``while``/named ``function``): the window to tokenize shrinks from a whole
    block (a spell wrapped in ``do … end``, a long function) to the statement being edited."""
    best, cur = stmt, stmt
    for _ in range(MAX_DESCENT):
        if cur == leaf or cur.type in _EXPRESSIONS:
            break
        child = cur.child_with_descendant(leaf)
        if child is None:
            break
        if cur.type in _BODIES and child.type != "ERROR" and child.is_named:
            best = child
        cur = child
    return best


def context_window(doc: DocState, offset: int) -> int:
    return window_start(doc.text, offset, statement_start(doc, offset))


# --------------------------------------------------------------------------------------- signatures
def type_text(t: str, lang: Lang, is_async: bool = False) -> str:
    if lang == "javascript":
        t = t.replace("nil", "null").replace("integer", "number").replace("table", "object")
        return f"Promise<{t}>" if is_async else t
    return t


def call_sep(index: ApiIndex, fn: Function, lang: Lang) -> str:
    if lang == "javascript":
        return "."
    owner = index.type_(fn.owner)
    return "." if owner is None or owner.kind == "global" else ":"


def param_label(p: Any, lang: Lang) -> str:
    if p.variadic:
        return f"...: {type_text(p.type, lang)}" if lang == "lua" else f"...{p.name}: {type_text(p.type, lang)}[]"
    opt = "?" if p.optional else ""
    t = "|".join(repr(v).replace("'", '"') for v in p.values) if p.values else type_text(p.type, lang)
    return f"{p.name}{opt}: {t}"


def signature(index: ApiIndex, fn: Function, lang: Lang) -> tuple[str, list[str]]:
    """(label, parameter labels) such as ``Tool.execute(name: string, params: table) -> ToolResult``."""
    params = [param_label(p, lang) for p in fn.params]
    owner = fn.owner
    ret = fn.owner if fn.returns_self else fn.returns
    name = fn.lname(lang)
    if lang == "lua":
        label = f"{owner}{call_sep(index, fn, lang)}{name}({', '.join(params)})"
        if ret and ret != "nil":
            label += f" -> {ret}"
    else:
        label = f"{owner}.{name}({', '.join(params)}): {type_text(ret or 'nil', lang, fn.is_async)}"
    return label, params


def function_doc(index: ApiIndex, fn: Function, lang: Lang, *, with_signature: bool = True) -> str:
    parts: list[str] = []
    if with_signature:
        fence = "lua" if lang == "lua" else "typescript"
        parts.append(f"```{fence}\n{signature(index, fn, lang)[0]}\n```")
    if fn.deprecated:
        parts.append(f"**Deprecated:** {fn.deprecated}")
    if fn.doc:
        parts.append(fn.doc)
    plines = []
    for p in fn.params:
        extra = ""
        if p.names:
            extra = f" (names a {p.names.rstrip('s').replace('_', ' ')})"
        if p.values:
            extra += " one of " + ", ".join(f"`{v}`" for v in p.values)
        if p.doc or extra:
            plines.append(f"- `{p.name}`: {p.doc}{extra}".rstrip())
    if plines:
        parts.append("**Parameters**\n" + "\n".join(plines))
    if fn.returns_doc:
        parts.append(f"**Returns** {fn.returns_doc}")
    if fn.is_async and lang == "javascript":
        parts.append("Returns a Promise: use `await`.")
    return "\n\n".join(parts)


def field_doc(f: Field, owner: str, lang: Lang) -> str:
    fence = "lua" if lang == "lua" else "typescript"
    parts = [f"```{fence}\n{owner}.{f.lname(lang)}: {type_text(f.type, lang)}\n```"]
    if f.doc:
        parts.append(f.doc)
    if f.values:
        parts.append("One of " + ", ".join(f"`{v}`" for v in f.values))
    return "\n\n".join(parts)


def class_doc(c: Class, lang: Lang) -> str:
    fence = "lua" if lang == "lua" else "typescript"
    head = f"```{fence}\n({'global' if c.kind in ('global', 'value') else c.kind}) {c.name}\n```"
    return head + ("\n\n" + c.doc if c.doc else "")


def tool_doc(tool: Tool) -> str:
    lines = [f"**{tool.name}** — {tool.description}".rstrip(" —"), "",
             f"category `{tool.category}`, security `{tool.security_level}`", ""]
    if tool.parameters:
        lines.append("| parameter | type | required | description |")
        lines.append("|---|---|---|---|")
        for p in tool.parameters:
            t = " \\| ".join(f"`{v}`" for v in p.values) if p.values else f"`{p.type}`"
            desc = p.description.replace("|", "\\|").replace("\n", " ")
            if p.default is not None:
                desc += f" (default `{p.default}`)"
            lines.append(f"| `{p.name}` | {t} | {'yes' if p.required else 'no'} | {desc} |")
    return "\n".join(lines)


def markup(text: str, markdown: bool) -> dict[str, str]:
    return {"kind": "markdown" if markdown else "plaintext", "value": text}
