"""End to end over stdio (pytest-lsp), as VS Code and as Neovim ask: type flow, the standard library,
no completion in comments, step tables, and requests on lines after an incomplete one."""

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

WORK = Path(tempfile.mkdtemp(prefix="llmspell-ls-flow-"))


@pytest_lsp.fixture(
    scope="module",
    params=["visual-studio-code", "neovim"],
    config=ClientServerConfig(server_command=[sys.executable, "-m", "llmspell_ls"]),
)
async def client(request: Any, lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities(request.param), root_uri=WORK.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=WORK.as_uri(), name="work")]))
    yield
    await lsp_client.shutdown_session()


_counter = iter(range(1_000_000))


def _open(client: LanguageClient, text: str, ext: str) -> tuple[str, lsp.Position]:
    off = text.index("|")
    before = text[:off]
    text = text.replace("|", "", 1)
    uri = (WORK / f"flow{next(_counter)}.{ext}").as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="lua" if ext == "lua" else "javascript", version=1, text=text)))
    return uri, lsp.Position(line=before.count("\n"), character=len(before) - before.rfind("\n") - 1)


async def complete(client: LanguageClient, text: str, ext: str = "lua") -> list[str]:
    uri, pos = _open(client, text, ext)
    res = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=pos))
    items = res.items if isinstance(res, lsp.CompletionList) else (res or [])
    return [i.label for i in sorted(items, key=lambda i: i.sort_text or i.label)]


async def hover_text(client: LanguageClient, text: str, ext: str = "lua") -> str:
    uri, pos = _open(client, text, ext)
    res = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=pos))
    if res is None:
        return ""
    c = res.contents
    return c.value if isinstance(c, lsp.MarkupContent) else str(c)


async def test_type_flow_completion(client: LanguageClient) -> None:
    got = await complete(client, 'local ok, r = pcall(Tool.execute, "calculator", {input = "1+1"})\nprint(r.|)')
    assert {"success", "result", "error"} <= set(got)
    got = await complete(client, "local function mk()\n  return Agent.builder():build()\nend\nlocal a = mk()\na:|")
    assert got[0] == "execute"  # the most used method first
    got = await complete(client, "local t = {agent = Agent.builder():build()}\nt.agent:|")
    assert "execute" in got
    got = await complete(client, 'const r = await Tool.execute("calculator", {input: "2"});\nr.|', "js")
    assert "result" in got


async def test_stdlib_comments_and_ranking(client: LanguageClient) -> None:
    assert (await complete(client, "string.|"))[0] == "format"
    assert "max" in await complete(client, "Math.|", "js")
    assert await complete(client, "-- Agent and Tool: Ag|") == []
    top = await complete(client, "local mine = 1\n|")
    assert top[:6] == ["mine", "Agent", "Tool", "Workflow", "State", "JSON"] and "print" in top
    assert "string.format(fmt: string" in await hover_text(client, 'string.for|mat("%d", 1)')
    assert "local n: number" in await hover_text(client, "local n = 5\nprint(|n)")


async def test_step_tables(client: LanguageClient) -> None:
    head = 'local wf = Workflow.builder()\nwf:add_step({name = "c", type = "tool", tool = "calculator", '
    assert "operation" in await complete(client, head + "input = {|")
    assert "agent" in await complete(client, 'Workflow.builder():add_step({type = "|')


async def test_after_an_incomplete_line(client: LanguageClient) -> None:
    text = 'local agent = Agent.builder():build()\nAgent.\nlocal r = agent:exe|cute({text = "hi"})\n'
    assert "AgentInstance:execute" in await hover_text(client, text)
    uri, pos = _open(client, 'local agent = Agent.builder():build()\nAgent.\nlocal r = agent:execute(|)\n', "lua")
    sig = await client.text_document_signature_help_async(lsp.SignatureHelpParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=pos))
    assert sig is not None and sig.signatures[0].label.startswith("AgentInstance:execute")
    assert "execute" in await complete(client, "local agent = Agent.builder():build()\nAgent.\nagent:|")
