"""workspace/didChangeConfiguration: new settings apply to the next run, as VS Code and Neovim send them."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities, make_test_lsp_client

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

WORK = Path(tempfile.mkdtemp(prefix="llmspell-ls-config-"))


def client_factory() -> LanguageClient:
    client = make_test_lsp_client()
    client.finished: dict[str, Any] = {}  # type: ignore[misc]
    client.done: dict[str, asyncio.Event] = {}  # type: ignore[misc]

    @client.feature("llmspell/runFinished")
    def on_finished(params: Any) -> None:
        client.finished[params.runId] = params
        client.done.setdefault(params.runId, asyncio.Event()).set()

    for method in ("llmspell/runStarted", "llmspell/output", "llmspell/event", "llmspell/hookResult"):
        client.feature(method)(lambda params: None)

    @client.feature(lsp.WORKSPACE_CODE_LENS_REFRESH)
    def on_refresh(params: Any) -> None:  # VS Code advertises refreshSupport
        return None

    return client


@pytest_lsp.fixture(
    scope="module",
    params=["visual-studio-code", "neovim"],
    config=ClientServerConfig(server_command=[sys.executable, "-m", "llmspell_ls"], client_factory=client_factory),
)
async def client(request: Any, lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities(request.param), root_uri=WORK.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=WORK.as_uri(), name="work")]))
    yield
    await lsp_client.shutdown_session()


async def run_to_end(client: LanguageClient, name: str, text: str) -> Any:
    path = WORK / name
    path.write_text(text)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=path.as_uri(), language_id="lua", version=1, text=text)))
    res = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="llmspell.runSpell", arguments=[path.as_uri()]))
    run_id = res["runId"] if isinstance(res, dict) else res.runId
    await asyncio.wait_for(client.done.setdefault(run_id, asyncio.Event()).wait(), 30)
    return client.finished[run_id]


async def test_changed_limits_apply_to_the_next_run(client: LanguageClient, request: Any) -> None:
    tag = request.node.callspec.id
    first = await run_to_end(client, f"quick-{tag}.lua", "return 1\n")
    assert first.status == "success"
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
        settings={"llmspell": {"limits": {"wall_time_s": 0.5}}}))
    spin = await run_to_end(client, f"spin-{tag}.lua", "while true do end\n")
    assert spin.status == "timeout"
    assert "0.5" in spin.error["message"] if isinstance(spin.error, dict) else "0.5" in spin.error.message
