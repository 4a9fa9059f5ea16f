"""Definition and references on a hostile document (10,000 nested tables) are answered, and another
document's completion keeps working while they run (VS Code and Neovim capabilities)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

pytestmark = pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning")

NEST = 10_000
DEEP = "local t = " + "{ a = " * NEST + "Agent." + " }" * NEST + "\nprint(t)\nt = nil\n"
"""``t`` is declared on line 0 and used on lines 1 and 2."""


@pytest_lsp.fixture(params=["visual-studio-code", "neovim"],
                    config=ClientServerConfig(server_command=[sys.executable, "-m", "llmspell_ls"]))
async def client(request: Any, lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=client_capabilities(request.param)))
    yield
    await lsp_client.shutdown_session()


def open_lua(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="lua", version=1, text=text)))


def spots(locs: Any) -> list[tuple[int, int]]:
    return sorted((x.range.start.line, x.range.start.character) for x in locs or [])


async def test_definition_and_references_on_deep_nesting_answer_and_do_not_block_completion(
        client: LanguageClient) -> None:
    deep, small = "file:///h/deep.lua", "file:///h/small.lua"
    open_lua(client, deep, DEEP)
    open_lua(client, small, "local b = Agent.builder()\nAgent.\n")
    td = lsp.TextDocumentIdentifier(uri=deep)
    use = lsp.Position(line=1, character=6)  # print(t)
    agent = lsp.Position(line=0, character=len("local t = " + "{ a = " * NEST) + 2)  # inside ``Agent``
    tasks = [
        asyncio.ensure_future(client.text_document_definition_async(
            lsp.DefinitionParams(text_document=td, position=use))),
        asyncio.ensure_future(client.text_document_references_async(lsp.ReferenceParams(
            text_document=td, position=use, context=lsp.ReferenceContext(include_declaration=True)))),
        asyncio.ensure_future(client.text_document_definition_async(
            lsp.DefinitionParams(text_document=td, position=agent))),
        asyncio.ensure_future(client.text_document_references_async(lsp.ReferenceParams(
            text_document=td, position=agent, context=lsp.ReferenceContext(include_declaration=False)))),
    ]
    res = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=small), position=lsp.Position(line=1, character=6)))
    items = res.items if isinstance(res, lsp.CompletionList) else (res or [])
    assert "builder" in [i.label for i in items]

    answers: list[Any] = list(await asyncio.gather(*tasks))  # answers, not errors
    defn, refs, api_defn, api_refs = answers
    # over budget a request answers null / what it found so far; what it answers is right
    assert defn is None or spots(defn) == [(0, 6)]
    assert refs is not None and set(spots(refs)) <= {(0, 6), (1, 6), (2, 0)}
    assert api_defn is None or all(loc.uri.endswith(".lua") for loc in api_defn)  # the Agent stub
    assert api_refs is not None  # the uses of Agent in the open Lua documents
    assert {(loc.uri, loc.range.start.line) for loc in api_refs} <= {(deep, 0), (small, 0), (small, 1)}

    # asked again (cached for this version, or computed with the tree now parsed): the full answer
    again = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=td, position=use, context=lsp.ReferenceContext(include_declaration=True)))
    assert again is None or set(spots(again)) <= {(0, 6), (1, 6), (2, 0)}
