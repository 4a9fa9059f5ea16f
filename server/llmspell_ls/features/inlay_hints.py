"""textDocument/inlayHint: parameter names at API calls and the API type of locals bound to a call.

* Parameter names: ``Tool.execute(|name:| "calculator", {...})``, ``State.save(|scope:| "global",
  |key:| "k", v)`` — for calls that resolve to an API function or method (through the same scoped walk
  and chain typing as semantic tokens, so ``agent:execute(...)`` on a built agent counts). No hint when
  the argument already says it: an identifier (or a field ``x.name``) spelled like the parameter, or a
  table/object literal with named keys; none for varargs, and none for ``f{...}``/``f"..."`` calls.
* Types: ``local agent| : AgentInstance| = Agent.builder()...:build()`` (``Promise<T>`` for a JS async
  call that is not awaited) when the value is a call or member chain the API model types.

Only the top-level statements overlapping the requested range are walked (each with the names bound
before it, from the semantic-token pass), and only hints inside the range are returned.

Resolve (``inlayHint/resolve``): a client that lists ``tooltip`` in ``inlayHint.resolveSupport.properties``
(VS Code, Neovim 0.10+) gets light hints — label, position, kind and a small ``data`` naming the API
function and parameter (or the type) — and :func:`resolve_hint` fills the tooltip from the API model when
the editor shows it (hover over the hint). Why: a screenful of hints on every scroll then carries no
documentation text the user never looks at. A client without resolve support gets the tooltip inline.
"""

from __future__ import annotations

from lsprotocol import types as lsp
from tree_sitter import Node

from llmspell_ls.apimodel import ApiIndex, Function
from llmspell_ls.documents import DocState
from llmspell_ls.features.common import col_to_client
from llmspell_ls.features.semantic_tokens import walk_rows, window_walker

_TABLES = frozenset({"table_constructor", "object"})
_KEYED = frozenset({"field", "pair", "shorthand_property_identifier", "spread_element", "method_definition"})
_MEMBER = frozenset({"dot_index_expression", "member_expression"})


def _pos(doc: DocState, point: tuple[int, int], enc: str) -> lsp.Position:
    row, bcol = point
    line = doc.line(row)
    col = bcol if line.isascii() else col_to_client(line, doc.byte_to_col(row, bcol), enc)
    return lsp.Position(line=row, character=col)


def _text(doc: DocState, node: Node) -> str:
    return doc.source[node.start_byte:node.end_byte].decode("utf-8", "replace")


def _obvious(doc: DocState, arg: Node, name: str) -> bool:
    """Does the argument already name the parameter (``name``, ``opts.name``, ``{key = ...}``)?"""
    t = arg.type
    if t == "identifier":
        return _text(doc, arg).lower() == name.lower()
    if t in _MEMBER:
        kids = arg.named_children
        return bool(kids) and _text(doc, kids[-1]).lower() == name.lower()
    if t in _TABLES:
        for k in arg.named_children:
            if k.type in _KEYED and (k.type != "field" or k.child_by_field_name("name") is not None):
                return True
    return False


def _says_it(fn: Function, pname: str) -> bool:
    """The function's name already says what its argument is (``:name("x")``, ``:system_prompt(s)``)."""
    n = fn.name.lower()
    return n == pname.lower() or n.endswith("_" + pname.lower()) or fn.js_name.lower() == pname.replace("_", "").lower()


def _param_data(fn: Function, pname: str) -> dict[str, str]:
    return {"kind": "param", "owner": fn.owner, "fn": fn.name, "param": pname}


def _param_tooltip(fn: Function, pname: str, lang: str, index: ApiIndex) -> lsp.MarkupContent | None:
    """Markdown: the parameter's name, type and doc, and the function it belongs to."""
    p = next((q for q in fn.params if q.name == pname), None)
    if p is None:
        return None
    sep = ":" if lang == "lua" and fn.owner not in index.globals else "."
    owner = f"{fn.owner}{sep}" if fn.owner else ""
    name = fn.lname("lua" if lang == "lua" else "javascript")
    head = f"`{p.name}{'?' if p.optional else ''}: {p.type}` — parameter of `{owner}{name}`"
    body = [head]
    if p.doc:
        body.append(p.doc)
    if p.values:
        body.append("One of: " + ", ".join(f"`{v}`" for v in p.values))
    return lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="\n\n".join(body))


def _type_tooltip(index: ApiIndex, name: str) -> lsp.MarkupContent | None:
    c = index.type_(name)
    if c is None:
        return None
    return lsp.MarkupContent(kind=lsp.MarkupKind.Markdown,
                             value=f"`{name}`" + (f"\n\n{c.doc}" if c.doc else ""))


def resolve_hint(hint: lsp.InlayHint, index: ApiIndex, lang: str = "lua") -> lsp.InlayHint:
    """``inlayHint/resolve``: the hint with its tooltip filled in from ``data`` (unchanged when the data is
    not ours or names something the model no longer has)."""
    data = hint.data if isinstance(hint.data, dict) else None
    if data is None or hint.tooltip is not None:
        return hint
    lang = data.get("lang", lang)
    if data.get("kind") == "param":
        c = index.type_(str(data.get("owner", "")))
        fn = next((f for f in (c.functions if c is not None else []) if f.name == data.get("fn")), None)
        if fn is not None:
            hint.tooltip = _param_tooltip(fn, str(data.get("param", "")), lang, index)
    elif data.get("kind") == "type":
        hint.tooltip = _type_tooltip(index, str(data.get("type", "")))
    return hint


def _arg_hints(doc: DocState, index: ApiIndex, args: Node, fn: Function, enc: str,
               light: bool = False) -> list[lsp.InlayHint]:
    if args.child_count == 0 or args.children[0].type != "(":
        return []  # ``f{...}`` / ``f"..."``: one obvious argument
    out: list[lsp.InlayHint] = []
    values = [a for a in args.named_children if a.type != "comment"]
    for arg, p in zip(values, fn.params, strict=False):
        if p.variadic:
            break
        if arg.type in ("spread_element", "vararg_expression"):
            break
        if _obvious(doc, arg, p.name) or _says_it(fn, p.name):
            continue
        if light:
            out.append(lsp.InlayHint(position=_pos(doc, arg.start_point, enc), label=f"{p.name}:",
                                     kind=lsp.InlayHintKind.Parameter, padding_right=True,
                                     data={**_param_data(fn, p.name), "lang": doc.lang}))
        else:
            out.append(lsp.InlayHint(position=_pos(doc, arg.start_point, enc), label=f"{p.name}:",
                                     kind=lsp.InlayHintKind.Parameter, padding_right=True,
                                     tooltip=_param_tooltip(fn, p.name, doc.lang, index)))
    return out


def _type_label(t: tuple[str, bool], lang: str) -> str:
    return f": Promise<{t[0]}>" if t[1] and lang == "javascript" else f": {t[0]}"


def inlay_hints(doc: DocState, index: ApiIndex, enc: str, rng: lsp.Range,
                parameter_names: bool = True, types: bool = True, light: bool = False) -> list[lsp.InlayHint]:
    """Hints inside ``rng`` (positions in the client's encoding), in document order. ``light``: no
    tooltips, a ``data`` for :func:`resolve_hint` instead (the client resolves them)."""
    first, last = rng.start.line, rng.end.line
    hints: list[lsp.InlayHint] = []
    walkers = [window_walker(doc, index, enc, calls=True)] if doc.cache.get("_window") is not None \
        else walk_rows(doc, index, enc, first, last)  # a window of a huge document not parsed yet: its own
    for w in walkers:
        if parameter_names:
            for args, fn in w.calls or []:
                if args.end_point[0] < first or args.start_point[0] > last:
                    continue
                hints.extend(_arg_hints(doc, index, args, fn, enc, light))
        if types:
            for name, t in w.decls:
                h = lsp.InlayHint(position=_pos(doc, name.end_point, enc), label=_type_label(t, doc.lang),
                                  kind=lsp.InlayHintKind.Type)
                if light:
                    h.data = {"kind": "type", "type": t[0]}
                else:
                    h.tooltip = _type_tooltip(index, t[0])
                hints.append(h)

    def inside(p: lsp.Position) -> bool:
        s, e = rng.start, rng.end
        return (s.line, s.character) <= (p.line, p.character) <= (e.line, e.character)

    out = [h for h in hints if inside(h.position)]
    out.sort(key=lambda h: (h.position.line, h.position.character))
    return out
