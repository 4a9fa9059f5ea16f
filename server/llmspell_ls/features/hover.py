"""textDocument/hover: signature and docs of API functions, fields and globals; tool parameter schemas.

Hovering a name resolves the chain that ends at it (``Agent.builder():name`` → ``AgentBuilder.name``);
hovering a string that names a tool shows the tool's parameter table; hovering a key of a tool's
parameter table shows that parameter.
"""

from __future__ import annotations

from typing import Any

from llmspell_ls.analysis.common import analyze, chain_backward, spec_for, tokenize, word_at
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
    # strings: a tool / hook point / template name, or a tool parameter's value
    ctx = analyze(engine, offset, start)
    if ctx.kind in ("string", "table_value", "none") and ctx.string_end:
        spec = spec_for(doc.lang)
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
    # keys of a tool's parameter table
    kctx = analyze(engine, s, start)
    if kctx.kind == "table_key":
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
    spec = spec_for(doc.lang)
    toks = tokenize(spec, text, start, e)
    if not toks or toks[-1].kind != "name":
        return None
    segs, _ = chain_backward(spec, toks, len(toks) - 1)
    if not segs:
        return None
    if len(segs) == 1:
        g = index.globals.get(segs[0].name)
        if g is not None:
            return _hover(class_doc(g, doc.lang), rng, opts)
        t = engine.var_type(segs[0].name, s)
        if t is not None:
            c = index.type_(t.name)
            if c is not None:
                fence = "lua" if doc.lang == "lua" else "typescript"
                kw = "local" if doc.lang == "lua" else "const"
                promise = f"Promise<{t.name}>" if t.promise else t.name
                return _hover(f"```{fence}\n{kw} {segs[0].name}: {promise}\n```\n\n{c.doc}".rstrip(), rng, opts)
        return None
    res = engine.type_of(segs, s)
    m = res.member
    if isinstance(m, Function):
        return _hover(function_doc(index, m, doc.lang), rng, opts)
    if isinstance(m, Field) and res.owner is not None:
        return _hover(field_doc(m, res.owner.name, doc.lang), rng, opts)
    return None


def _hover(body: str, rng: dict[str, Any], opts: ClientOptions) -> dict[str, Any]:
    return {"contents": markup(body, opts.hover_markdown), "range": rng}
