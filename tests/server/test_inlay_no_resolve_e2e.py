"""inlayHint for a client that cannot resolve tooltips (pytest-lsp's VS Code 1.65 record has no inlayHint
capability at all): the tooltip comes inline with each hint, resolve is not needed."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

WORK = Path(tempfile.mkdtemp(prefix="llmspell-ls-inlay-"))


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "llmspell_ls"]),
)
async def client(lsp_client: LanguageClient):
    caps = client_capabilities("visual-studio-code")
    assert caps.text_document is not None and caps.text_document.inlay_hint is None
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=caps, root_uri=WORK.as_uri()))
    yield
    await lsp_client.shutdown_session()


async def test_tooltips_come_inline(client: Any) -> None:
    uri = (WORK / "a.lua").as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="lua", version=1, text='State.save("global", "k", 42)\n')))
    rng = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=2, character=0))
    hints = await client.text_document_inlay_hint_async(lsp.InlayHintParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), range=rng))
    assert [h.label for h in hints or []] == ["scope:", "key:", "value:"]
    assert all(isinstance(h.tooltip, lsp.MarkupContent) and h.data is None for h in hints or [])
    assert hints is not None and "parameter of `State.save`" in hints[0].tooltip.value
