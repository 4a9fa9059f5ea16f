"""textDocument/documentSymbol: the agents, workflows, tools and hooks a spell defines or uses.

Over its budget (a huge document whose analysis takes seconds) the answer is the symbols found so far:
those of the statements analysed (a prefix of the document; the next request continues from the
per-statement cache) plus the hooks and tool uses found by a scan of the whole text. On a window of a
huge document not parsed yet (:meth:`DocState.window` from its first line), the symbols of the
statements the rest of the document cannot change (:func:`settled_children`)."""

from __future__ import annotations

from lsprotocol import types as lsp

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.budget import answer_partial
from llmspell_ls.documents import DocState, settled_children
from llmspell_ls.features.common import pos_of
from llmspell_ls.features.diagnostics import Symbol, _Checker, _hook_symbols


def document_symbols(doc: DocState, index: ApiIndex, enc: str) -> list[lsp.DocumentSymbol]:
    syms = symbols_of(doc, index, enc)
    out: list[lsp.DocumentSymbol] = []
    for s in syms:
        def rng(a: int, b: int) -> lsp.Range:
            p, q = pos_of(doc, a, enc), pos_of(doc, b, enc)
            return lsp.Range(start=lsp.Position(**p), end=lsp.Position(**q))

        out.append(lsp.DocumentSymbol(name=s.name, detail=s.detail, kind=lsp.SymbolKind(s.kind),
                                      range=rng(s.start, s.end), selection_range=rng(s.sel_start, s.sel_end)))
    return out


def symbols_of(doc: DocState, index: ApiIndex, enc: str) -> list[Symbol]:
    """The document's symbols, or a correct subset of them when over budget (see the module's doc).

    The symbols of :func:`~llmspell_ls.features.diagnostics.analyze_document` are its statement
    checker's plus the hooks and tool uses a scan of the text finds; run apart here (sharing the
    checker's per-statement cache with the diagnostics pass), so that the checker's symbols so far
    survive the budget running out in the diagnostics-only steps after it."""
    kids, whole = settled_children(doc)
    done = doc.cache.get(("analysis", id(index), enc))
    if done is not None:
        syms = done.symbols
    else:
        an = _Checker(doc, index, enc).run(doc.shared.setdefault(("chunks", id(index), enc), {}))
        if an.partial:  # cut short: the statements checked so far (their results stay for the next one)
            answer_partial()
        elif whole:  # (a window's answer is partial anyway: no scan of the whole text, ~40 ms on 10 MB)
            _hook_symbols(doc, index, an, enc)  # a scan of the text (regexes): no budget check inside
        syms = an.symbols
    if whole:
        return syms
    if not kids:
        return []
    (r, c) = kids[-1].end_point
    limit = doc.offset(r, doc.byte_to_col(r, c))
    return [s for s in syms if s.end <= limit]
