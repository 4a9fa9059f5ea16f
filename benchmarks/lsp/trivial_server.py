"""The reference floor: a pygls server that answers completion with a constant list (nothing else).

Anything a pygls server does costs at least this much per request over stdio.
"""

from __future__ import annotations

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

server = LanguageServer("trivial", "0.1")
ITEMS = [lsp.CompletionItem(label=f"item{i}", kind=lsp.CompletionItemKind.Function) for i in range(20)]


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["."]))
def completion(params: lsp.CompletionParams) -> lsp.CompletionList:
    return lsp.CompletionList(is_incomplete=False, items=ITEMS)


if __name__ == "__main__":
    import logging

    logging.getLogger("pygls").setLevel(logging.WARNING)
    server.start_io()
