"""Pull diagnostics for clients that support them (Neovim 0.11), push for the others (VS Code 1.65 as
captured by pytest-lsp); never both. Result ids give unchanged reports; workspace/diagnostic covers open
documents and the spells on disk under the workspace folder."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

pytestmark = pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning")

BAD = "local a = Agent.bulder()\n"


@pytest_lsp.fixture(params=["visual-studio-code", "neovim"],
                    config=ClientServerConfig(server_command=[sys.executable, "-m", "llmspell_ls"]))
async def client(request: Any, lsp_client: LanguageClient, tmp_path_factory: Any):
    ws = tmp_path_factory.mktemp("ws")
    (ws / "closed.lua").write_text("local b = Tool.execute()\nlocal c = Agent.bulder()\n")
    (ws / "clean.js").write_text('const a = Agent.builder().name("x");\n')
    (ws / "node_modules").mkdir()
    (ws / "node_modules" / "skip.lua").write_text(BAD)
    lsp_client.ws = ws  # type: ignore[attr-defined]
    res = await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities(request.param), root_uri=ws.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=ws.as_uri(), name="ws")]))
    lsp_client.init_result = res  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


def pulls(client: LanguageClient) -> bool:
    caps = client.capabilities
    return caps is not None and caps.text_document is not None and caps.text_document.diagnostic is not None


def open_doc(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="lua" if uri.endswith(".lua") else "javascript", version=1, text=text)))


async def pull(client: LanguageClient, uri: str, previous: str | None = None) -> Any:
    return await asyncio.wait_for(client.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), previous_result_id=previous)), 20)


async def test_advertised_only_to_clients_that_pull(client: LanguageClient) -> None:
    provider = client.init_result.capabilities.diagnostic_provider  # type: ignore[attr-defined]
    if pulls(client):
        assert provider is not None and provider.workspace_diagnostics
    else:
        assert provider is None


async def test_pull_or_push_never_both(client: LanguageClient) -> None:
    uri = "file:///p/a.lua"
    if not pulls(client):
        done = client.protocol.wait_for_notification_async(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        open_doc(client, uri, BAD)
        await asyncio.wait_for(done, 20)
        assert [d.code for d in client.diagnostics[uri]] == ["unknown-member"]
        return
    open_doc(client, uri, BAD)
    rep = await pull(client, uri)
    assert isinstance(rep, lsp.RelatedFullDocumentDiagnosticReport)
    assert [d.code for d in rep.items] == ["unknown-member"]
    assert rep.items[0].range.start == lsp.Position(line=0, character=16)
    # the pass that answered the pull would have been pushed by now in push mode
    await pull(client, uri)
    assert uri not in client.diagnostics


async def test_result_ids_give_unchanged_reports(client: LanguageClient) -> None:
    if not pulls(client):
        pytest.skip("push client: no result ids")
    uri = "file:///p/b.lua"
    open_doc(client, uri, BAD)
    first = await pull(client, uri)
    assert isinstance(first, lsp.RelatedFullDocumentDiagnosticReport) and first.result_id
    again = await pull(client, uri, first.result_id)
    assert isinstance(again, lsp.RelatedUnchangedDocumentDiagnosticReport)
    assert again.result_id == first.result_id
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text="local a = Agent.builder()\n")]))
    fixed = await pull(client, uri, first.result_id)
    assert isinstance(fixed, lsp.RelatedFullDocumentDiagnosticReport)
    assert list(fixed.items) == [] and fixed.result_id != first.result_id


async def test_workspace_diagnostics_cover_open_and_closed_spells(client: LanguageClient) -> None:
    if not pulls(client):
        pytest.skip("push client: no workspace pull")
    ws: Path = client.ws  # type: ignore[attr-defined]
    open_uri = (ws / "open.lua").as_uri()
    open_doc(client, open_uri, BAD)
    res = await asyncio.wait_for(client.workspace_diagnostic_async(
        lsp.WorkspaceDiagnosticParams(previous_result_ids=[])), 30)
    by_uri = {r.uri: r for r in res.items}
    assert set(by_uri) == {open_uri, (ws / "closed.lua").as_uri(), (ws / "clean.js").as_uri()}
    assert by_uri[open_uri].version == 1
    closed = by_uri[(ws / "closed.lua").as_uri()]
    assert isinstance(closed, lsp.WorkspaceFullDocumentDiagnosticReport) and closed.version is None
    assert sorted(d.range.start.line for d in closed.items if d.code == "unknown-member") == [1]
    clean = by_uri[(ws / "clean.js").as_uri()]
    assert isinstance(clean, lsp.WorkspaceFullDocumentDiagnosticReport) and list(clean.items) == []
    # with the ids it has, a client gets "unchanged" for what did not change and the new list for the rest
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=open_uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text="local a = Agent.builder()\n")]))
    prev = [lsp.PreviousResultId(uri=r.uri, value=r.result_id) for r in res.items if r.result_id]
    res2 = await asyncio.wait_for(client.workspace_diagnostic_async(
        lsp.WorkspaceDiagnosticParams(previous_result_ids=prev)), 30)
    kinds = {r.uri: r.kind for r in res2.items}
    assert kinds[open_uri] == "full" and kinds[(ws / "closed.lua").as_uri()] == "unchanged"
