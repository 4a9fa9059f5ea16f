"""The "Debug spell" code lens: shown beside "Run spell" only to clients that declare they start the
spell debugger themselves (``experimental.llmspell.debugSpell``), over a real server on stdio."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from llmspell_ls.features import lens

pytestmark = pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning")

WORK = Path(tempfile.mkdtemp(prefix="llmspell-ls-debuglens-"))


def test_wants_debug_lens_reads_the_experimental_capability() -> None:
    assert lens.wants_debug_lens(lsp.ClientCapabilities(experimental={"llmspell": {"debugSpell": True}}))
    assert not lens.wants_debug_lens(lsp.ClientCapabilities(experimental={"llmspell": {"debugSpell": False}}))
    assert not lens.wants_debug_lens(lsp.ClientCapabilities(experimental={"other": True}))
    assert not lens.wants_debug_lens(lsp.ClientCapabilities())
    assert not lens.wants_debug_lens(None)


def test_no_debug_lens_while_running() -> None:
    running = lens.code_lenses("file:///s.lua", "run1", debug=True)
    assert [x.command.title for x in running if x.command] == ["■ Cancel run"]


@pytest_lsp.fixture(
    scope="module",
    params=["with-debugger", "without"],
    config=ClientServerConfig(server_command=[sys.executable, "-m", "llmspell_ls"]),
)
async def client(request: Any, lsp_client: LanguageClient):
    caps = client_capabilities("visual-studio-code")
    if request.param == "with-debugger":
        caps.experimental = {"llmspell": {"debugSpell": True}}
    lsp_client.init_result = await lsp_client.initialize_session(  # type: ignore[attr-defined]
        lsp.InitializeParams(capabilities=caps, root_uri=WORK.as_uri()))
    lsp_client.debugger = request.param == "with-debugger"  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio(loop_scope="module")
async def test_debug_lens_beside_run_lens(client: LanguageClient) -> None:
    uri = (WORK / "spell.lua").as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="lua", version=1, text='print("hi")\n')))
    lenses = await client.text_document_code_lens_async(lsp.CodeLensParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri)))
    commands = [(x.command.title, x.command.command, list(x.command.arguments or []))
                for x in lenses or [] if x.command]
    if client.debugger:  # type: ignore[attr-defined]
        assert commands == [("▶ Run spell", "llmspell.runSpell", [uri]),
                            ("● Debug spell", "llmspell.debugSpell", [uri])]
        assert all(x.range.start.line == 0 for x in lenses or [])
    else:
        assert commands == [("▶ Run spell", "llmspell.runSpell", [uri])]
    # The debug command is the editor's: the server must not claim it (vscode-languageclient would
    # register it too and clash with the extension's handler).
    provider = client.init_result.capabilities.execute_command_provider  # type: ignore[attr-defined]
    assert provider is not None and "llmspell.runSpell" in provider.commands
    assert "llmspell.debugSpell" not in provider.commands
