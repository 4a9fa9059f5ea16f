"""Run plumbing with an injected stand-in runner: every message kind, progress, crashes, cancellation."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities, make_test_lsp_client

pytestmark = pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning")
HERE = Path(__file__).parent


def client_factory() -> LanguageClient:
    client = make_test_lsp_client()
    client.got: list[tuple[str, Any]] = []  # type: ignore[misc]
    client.done = asyncio.Event()  # type: ignore[attr-defined]
    for m in ("llmspell/runStarted", "llmspell/output", "llmspell/event", "llmspell/hookResult",
              "llmspell/runFinished"):
        def on(params: Any, m: str = m) -> None:
            client.got.append((m, params))
            if m == "llmspell/runFinished":
                client.done.set()  # type: ignore[attr-defined]
        client.feature(m)(on)

    @client.feature(lsp.WORKSPACE_CODE_LENS_REFRESH)
    def refresh(params: Any) -> None:
        return None

    return client


@pytest_lsp.fixture(
    params=["visual-studio-code", "neovim"],
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "llmspell_ls"], client_factory=client_factory,
        server_env={**os.environ, "LLMSPELL_LS_RUNNER": "fake_runner:make",
                    "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])},
    ),
)
async def client(request: Any, lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=client_capabilities(request.param)))
    yield
    await lsp_client.shutdown_session()


def open_doc(client: LanguageClient, text: str) -> str:
    uri = "file:///standin/spell.lua"
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="lua", version=1, text=text)))
    return uri


async def start(client: LanguageClient, uri: str) -> str:
    res = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="llmspell.runSpell", arguments=[uri]))
    return res["runId"] if isinstance(res, dict) else res.runId


async def test_every_message_kind_in_order(client: LanguageClient) -> None:
    uri = open_doc(client, "-- ok\nprint(1)\n")
    run_id = await start(client, uri)
    await asyncio.wait_for(client.done.wait(), 10)
    methods = [m for m, _ in client.got]
    assert methods == ["llmspell/runStarted", "llmspell/output", "llmspell/event", "llmspell/hookResult",
                       "llmspell/runFinished"]
    assert all(p.runId == run_id and p.uri == uri for _, p in client.got)
    out = client.got[1][1]
    assert out.text == "source has 15 chars\n"  # the unsaved editor text is what runs
    assert client.got[2][1].event_type == "fake.event" and client.got[3][1].hook == "h1"
    assert client.got[-1][1].status == "success"
    (token,) = list(client.progress_reports)
    reports = client.progress_reports[token]
    assert isinstance(reports[0], lsp.WorkDoneProgressBegin) and reports[0].cancellable
    assert any(isinstance(r, lsp.WorkDoneProgressReport) and r.percentage == 50 for r in reports)
    assert isinstance(reports[-1], lsp.WorkDoneProgressEnd)


async def test_a_crashing_runner_still_finishes_the_run(client: LanguageClient) -> None:
    uri = open_doc(client, "-- crash\n")
    await start(client, uri)
    await asyncio.wait_for(client.done.wait(), 10)
    fin = client.got[-1][1]
    assert fin.status == "error" and "the runner broke" in fin.error.message
    assert [m for m, _ in client.got].count("llmspell/runFinished") == 1
    h = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=0, character=0)))
    assert h is None  # and the server is fine


async def test_cancel_command(client: LanguageClient) -> None:
    uri = open_doc(client, "-- forever\n")
    run_id = await start(client, uri)
    lenses = await client.text_document_code_lens_async(lsp.CodeLensParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert lenses[0].command.command == "llmspell.cancelSpell" and list(lenses[0].command.arguments) == [run_id]
    res = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="llmspell.cancelSpell", arguments=[{"runId": run_id}]))
    assert (res["cancelled"] if isinstance(res, dict) else res.cancelled) is True
    await asyncio.wait_for(client.done.wait(), 10)
    assert client.got[-1][1].status == "cancelled"
    lenses = await client.text_document_code_lens_async(lsp.CodeLensParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert lenses[0].command.command == "llmspell.runSpell"
