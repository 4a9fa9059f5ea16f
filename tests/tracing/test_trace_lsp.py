"""Editor runs are traced: the language server sends ``llmspell/trace`` before ``runFinished`` and
answers ``llmspell.getTrace`` with the run's OTLP JSON (what VS Code's "Show trace" draws)."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities, make_test_lsp_client

from tracing.trace_helpers import AGENT_TOOL_WORKFLOW, REPO, attrs, by_name, one, parent_of, spans_of

pytestmark = pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning")
WORK = Path(tempfile.mkdtemp(prefix="llmspell-trace-lsp-"))


def client_factory() -> LanguageClient:
    client = make_test_lsp_client()
    client.got: list[tuple[str, Any]] = []  # type: ignore[misc]
    client.done = asyncio.Event()  # type: ignore[attr-defined]
    for m in ("llmspell/runStarted", "llmspell/trace", "llmspell/runFinished"):
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
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "llmspell_ls"], client_factory=client_factory,
        server_env={k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLMSPELL_LS_"))}
        | {"PYTHONPATH": os.pathsep.join([str(REPO / "runtime"), str(REPO / "server")])},
    ),
)
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=WORK.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=WORK.as_uri(), name="work")]))
    yield
    await lsp_client.shutdown_session()


@pytest.mark.timeout(120)
async def test_editor_run_is_traced_and_get_trace_returns_it(client: LanguageClient) -> None:
    path = WORK / "traced.lua"
    path.write_text(AGENT_TOOL_WORKFLOW)
    uri = path.as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="lua", version=1, text=AGENT_TOOL_WORKFLOW)))
    res = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="llmspell.runSpell", arguments=[uri]))
    run_id = res["runId"] if isinstance(res, dict) else res.runId
    await asyncio.wait_for(client.done.wait(), 90)  # type: ignore[attr-defined]
    methods = [m for m, _ in client.got]  # type: ignore[attr-defined]
    assert methods[-2:] == ["llmspell/trace", "llmspell/runFinished"], methods
    note = client.got[-2][1]  # type: ignore[attr-defined]
    assert note.runId == run_id and note.uri == uri and note.spans >= 13
    assert client.got[-1][1].status == "success"  # type: ignore[attr-defined]

    otlp = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="llmspell.getTrace", arguments=[run_id]))
    spans = spans_of(otlp)
    assert len(spans) == note.spans
    root = one(spans, "run traced.lua")
    assert attrs(root)["llmspell.run.status"] == "success"
    tool = by_name(spans, "execute_tool calculator")[0]
    assert parent_of(spans, tool)["name"] == "invoke_agent math-helper"  # type: ignore[index]
    assert [s["name"] for s in spans if s.get("parentSpanId") == one(spans, "invoke_workflow summary")["spanId"]] \
        == ["step ask", "step hash"]

    with pytest.raises(Exception, match="no trace for run 'nope'"):
        await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
            command="llmspell.getTrace", arguments=["nope"]))
