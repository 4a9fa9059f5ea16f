"""textDocument/hover: signature and docs of API functions, fields and globals; tool parameter schemas.

Hovering a name resolves the chain that ends at it (``Agent.builder():name`` → ``AgentBuilder.name``);
hovering a string that names a tool shows the tool's parameter table; hovering a key of a tool's
parameter table shows that parameter.
"""

from __future__ import annotations

import json
from typing import Any

from llmspell_ls.analysis import stdlib
from llmspell_ls.analysis.common import (
    TABLE_PREFIX,
    TypeEngine,
    TypeRef,
    analyze,
    chain_backward,
    spec_for,
    tokenize,
    tokens_before,
    word_at,
)
from llmspell_ls.apimodel import ApiIndex, Field, Function
from llmspell_ls.documents import DocState
from llmspell_ls.features.common import (
    ClientOptions,
    class_doc,
    context_window,
    engine_for,
    field_doc,
    function_doc,
    markup,
    offset_of,
    range_of,
    tool_doc,
)
from llmspell_ls.features.completion import _table_shape, param_at


def hover(doc: DocState, index: ApiIndex, line: int, character: int, opts: ClientOptions) -> dict[str, Any] | None:
    offset = offset_of(doc, line, character, opts.encoding)
    engine = engine_for(doc, index)
    text = doc.text
    start = context_window(doc, offset)
    s, e = word_at(text, offset)
    spec = spec_for(doc.lang)
    window = tokenize(spec, text, start, max(e, offset))  # once: each analysis takes its prefix
    # strings: a tool / hook point / template name, or a tool parameter's value (not looked for when the
    # parsed tree puts the cursor inside a name)
    ctx = None if _inside_name(doc, line, offset, s, e) else \
        analyze(engine, offset, start, tokens_before(spec, text, window, offset))
    if ctx is not None and ctx.kind in ("string", "table_value", "none") and ctx.string_end:
        full = tokenize(spec, text, ctx.prefix_start - 1, min(len(text), ctx.prefix_start + 400))
        if not full or full[0].kind != "string":
            return None
        value = spec.string_value(full[0].text)
        val_start = ctx.prefix_start
        val_end = val_start + len(value)
        rng = range_of(doc, val_start, val_end, opts.encoding)
        if ctx.kind == "string" and ctx.call is not None:
            p = param_at(ctx.call)
            if p is not None and p.names:
                if p.names == "tools" and value in index.tools:
                    return _hover(tool_doc(index.tools[value]), rng, opts)
                entry = index.catalog(p.names).get(value)
                if entry is not None:
                    body = f"**{entry.name}**" + (f" — {entry.detail}" if entry.detail else "")
                    return _hover(body + ("\n\n" + entry.doc if entry.doc else ""), rng, opts)
        return None
    if s == e:
        return None
    rng = range_of(doc, s, e, opts.encoding)
    # keys of a tool's parameter table (a key follows ``{``, ``,`` or ``;``: never right after a member
    # separator, where the second analysis — a tokenization of the whole window — is saved)
    kctx = analyze(engine, s, start, tokens_before(spec, text, window, s)) if s == 0 or text[s - 1] not in ".:" \
        else None
    if kctx is not None and kctx.kind == "table_key":
        shape = _table_shape(index, kctx, doc.lang)
        word = text[s:e]
        if shape is not None and shape[0] == "tool":
            tp = shape[1].param(word)
            if tp is not None:
                vals = (" one of " + ", ".join(f"`{v}`" for v in tp.values)) if tp.values else ""
                req = "required" if tp.required else "optional"
                body = f"```\n{word}: {tp.type}\n```\n\n{tp.description}\n\n({req}){vals}"
                return _hover(body, rng, opts)
        elif shape is not None:
            f = next((f for f in shape[1].fields if f.lname(doc.lang) == word), None)
            if f is not None:
                return _hover(field_doc(f, shape[1].name, doc.lang), rng, opts)
    toks = tokens_before(spec, text, window, e)
    if not toks or toks[-1].kind != "name":
        return None
    segs, _ = chain_backward(spec, toks, len(toks) - 1, text)
    if not segs:
        return None
    if len(segs) == 1:
        g = index.globals.get(segs[0].name)
        if g is not None and not (doc.lang == "javascript" and g.name == "JSON"):
            return _hover(_memo(("class", g, doc.lang), lambda: class_doc(g, doc.lang)), rng, opts)
        local = local_hover(engine, segs[0].name, s)
        if local is None:
            e_std = stdlib.std_entry(engine, segs, s)
            local = stdlib.entry_doc(e_std, doc.lang) if e_std is not None else None
        return _hover(local, rng, opts) if local is not None else None
    res = engine.type_of(segs, s)
    m = res.member
    if isinstance(m, Function):
        return _hover(_memo(("function", m, doc.lang), lambda: function_doc(index, m, doc.lang)), rng, opts)
    if isinstance(m, Field) and res.owner is not None:
        return _hover(field_doc(m, res.owner.name, doc.lang), rng, opts)
    e_std = stdlib.std_entry(engine, segs, s)
    if e_std is not None:
        return _hover(stdlib.entry_doc(e_std, doc.lang), rng, opts)
    if res.type is not None and segs[-1].kind == "member":  # a field of a table constructor
        fence = "lua" if doc.lang == "lua" else "typescript"
        return _hover(f"```{fence}\n(field) {segs[-1].name}: {_type_name(res.type)}\n```", rng, opts)
    return None


def _inside_name(doc: DocState, line: int, offset: int, s: int, e: int) -> bool:
    """The cursor (``offset``, strictly inside the word ``s``..``e``) is on an identifier of the current
    version's tree: not in a string."""
    if not (s < offset < e) or not doc.parsed or doc.tree.root_node.has_error:
        return False
    row = max(0, min(line, len(doc.lines) - 1))
    col = offset - doc.offset(row, 0)
    if not 0 < col < len(doc.line(row)):
        return False
    b = doc.col_to_byte(row, col)
    node = doc.tree.root_node.named_descendant_for_point_range((row, b), (row, b))
    return node is not None and node.type == "identifier" and node.start_point[0] == row \
        and node.start_point[1] < b < node.end_point[1]


_DOCS: dict[tuple[str, int, str], tuple[Any, str]] = {}
"""Markdown of API functions and globals by (what, id of the model object, language); the object is kept
with its text, so a reloaded model never reads another object's text."""


def _memo(key: tuple[str, Any, str], make: Any) -> str:
    what, obj, lang = key
    k = (what, id(obj), lang)
    got = _DOCS.get(k)
    if got is not None and got[0] is obj:
        return got[1]
    text: str = make()
    if len(_DOCS) > 4096:
        _DOCS.clear()
    _DOCS[k] = (obj, text)
    return text


def _type_name(t: TypeRef) -> str:
    if t.name.startswith(TABLE_PREFIX):
        return "table"
    return f"Promise<{t.name}>" if t.promise else t.name


_LITERAL_TYPES = {"true": "boolean", "false": "boolean", "nil": "nil", "null": "null", "undefined": "undefined",
                  "function": "function"}


def local_hover(engine: TypeEngine, name: str, at: int) -> str | None:
    """A plain local: its inferred type and where it is declared (None when nothing declares it)."""
    if engine.scopes is None:
        return None
    found, occ = engine.scopes.resolve(name, at)
    if not found and name == "self":  # ``function T:m()``: ``self`` is ``T``
        st = engine.scopes.self_table(at)
        if st is None:
            return None
        got = local_hover(engine, *st)
        head = f"`self` is `{st[0]}`: the table this method is defined on"
        return f"{head}\n\n{got}" if got else head
    if not found or occ is None:
        return None
    lang = engine.lang
    t = engine.type_occ(occ)
    text = engine.text
    start = engine.scopes.to_offset(occ.at)
    tname = _type_name(t) if t is not None else ""
    if not tname and occ.how == "expr" and occ.value >= 0:
        spec = spec_for(lang)
        first = tokenize(spec, text, occ.value, min(len(text), occ.value + 200))
        if first:
            f0 = first[0]
            tname = {"string": "string", "number": "number"}.get(f0.kind, "")
            if not tname and f0.kind == "name":
                tname = _LITERAL_TYPES.get(f0.text, "")
                if f0.text == "async" and lang == "javascript":
                    tname = "function"
            if not tname and f0.text == "{":
                tname = "table" if lang == "lua" else "object"
            if not tname and f0.text in ("(", "[") and lang == "javascript":
                tname = "array" if f0.text == "[" else ""
    fence = "lua" if lang == "lua" else "typescript"
    kw = "local" if lang == "lua" else "let"
    row = text.count("\n", 0, start)
    ls = text.rfind("\n", 0, start) + 1
    le = text.find("\n", start)
    line_text = text[ls:le if le >= 0 else len(text)].strip()
    if len(line_text) > 100:
        line_text = line_text[:97] + "..."
    parts = [f"```{fence}\n{kw} {name}: {tname or 'any'}\n```", f"Declared on line {row + 1}: `{line_text}`"]
    c = engine.index.type_(t.name) if t is not None and tname == t.name else None
    if c is not None and c.doc:
        parts.append(c.doc)
    return "\n\n".join(parts)


def _hover(body: str, rng: dict[str, Any], opts: ClientOptions) -> dict[str, Any]:
    return {"contents": markup(body, opts.hover_markdown), "range": rng}


_CONTENTS_JSON: dict[tuple[str, str], str] = {}
"""Serialised hover contents by (kind, text): the same API member's docs are hovered again and again."""


def as_json(h: dict[str, Any] | None) -> str:
    """A :func:`hover` answer as JSON text (as ``json.dumps`` writes it compactly), its contents
    serialised once per text."""
    if h is None:
        return "null"
    c = h["contents"]
    key = (c["kind"], c["value"])
    text = _CONTENTS_JSON.get(key)
    if text is None:
        if len(_CONTENTS_JSON) > 2048:
            _CONTENTS_JSON.clear()
        text = _CONTENTS_JSON[key] = json.dumps(c, separators=(",", ":"))
    r = h["range"]
    a, b = r["start"], r["end"]
    return (f'{{"contents":{text},"range":{{"start":{{"line":{a["line"]},"character":{a["character"]}}},'
            f'"end":{{"line":{b["line"]},"character":{b["character"]}}}}}}}')
