"""textDocument/documentSymbol: the agents, workflows, tools and hooks a spell defines or uses."""

from __future__ import annotations

from lsprotocol import types as lsp

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.documents import DocState
from llmspell_ls.features.common import pos_of
from llmspell_ls.features.diagnostics import analyze_document


def document_symbols(doc: DocState, index: ApiIndex, enc: str) -> list[lsp.DocumentSymbol]:
    out: list[lsp.DocumentSymbol] = []
    for s in analyze_document(doc, index, enc).symbols:
        def rng(a: int, b: int) -> lsp.Range:
            p, q = pos_of(doc, a, enc), pos_of(doc, b, enc)
            return lsp.Range(start=lsp.Position(**p), end=lsp.Position(**q))

        out.append(lsp.DocumentSymbol(name=s.name, detail=s.detail, kind=lsp.SymbolKind(s.kind),
                                      range=rng(s.start, s.end), selection_range=rng(s.sel_start, s.sel_end)))
    return out
