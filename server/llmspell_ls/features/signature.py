"""textDocument/signatureHelp: the innermost API call around the cursor and its active parameter.

Nested calls resolve to the innermost one (``Tool.execute("x", {input = JSON.stringify(|)})`` shows
``JSON.stringify``); inside a parameter table the table's own parameter stays active.
"""

from __future__ import annotations

from typing import Any

from llmspell_ls.analysis import stdlib
from llmspell_ls.analysis.common import CallSite, TypeEngine, analyze
from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.documents import DocState
from llmspell_ls.features.common import (
    ClientOptions,
    context_window,
    engine_for,
    function_doc,
    markup,
    offset_of,
    signature,
)


def signature_help(doc: DocState, index: ApiIndex, line: int, character: int,
                   opts: ClientOptions) -> dict[str, Any] | None:
    offset = offset_of(doc, line, character, opts.encoding)
    engine = engine_for(doc, index)
    ctx = analyze(engine, offset, context_window(doc, offset))
    call = ctx.enclosing
    if call is None:
        return None
    if call.function is None:
        return _stdlib_signature(engine, call, offset, opts)
    fn = call.function
    label, params = signature(index, fn, doc.lang)
    active = call.arg_index
    if fn.params and active >= len(fn.params):
        active = len(fn.params) - 1 if fn.params[-1].variadic else len(fn.params)
    sig: dict[str, Any] = {
        "label": label,
        "documentation": markup(function_doc(index, fn, doc.lang, with_signature=False), opts.signature_markdown),
        "parameters": [
            {"label": pl, **({"documentation": markup(p.doc, opts.signature_markdown)} if p.doc else {})}
            for pl, p in zip(params, fn.params, strict=True)
        ],
    }
    return {"signatures": [sig], "activeSignature": 0, "activeParameter": min(active, max(len(params) - 1, 0))
            if params else 0}


def _stdlib_signature(engine: TypeEngine, call: CallSite, offset: int, opts: ClientOptions) -> dict[str, Any] | None:
    """``print(|`` / ``string.format(|`` / ``Math.max(|``: the standard library's signature."""
    e = stdlib.std_entry(engine, call.callee, offset)
    if e is None or not e.is_function:
        return None
    params = e.params
    active = call.arg_index
    if params and active >= len(params):
        active = len(params) - 1 if params[-1].lstrip().startswith("...") else len(params)
    label = e.signature
    return {"signatures": [{"label": label, "documentation": markup(e.doc, opts.signature_markdown),
                            "parameters": [{"label": p} for p in params]}],
            "activeSignature": 0, "activeParameter": min(active, max(len(params) - 1, 0)) if params else 0}
