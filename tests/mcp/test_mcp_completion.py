"""The language server completes MCP servers' tools from ``.llmspell/mcp-tools.json`` and never starts
an MCP server itself.

Real pieces only: ``llmspell-ls --mcp-refresh`` starts the fake MCP server and writes the listing;
the language server (a subprocess driven over stdio by pytest-lsp) then completes
``Tool.execute("mcp.fake.`` and the parameter keys of ``mcp.fake.search``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from mcp_helpers import PYTHON, stdio_toml
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

pytestmark = [pytest.mark.timeout(120)]

WORK = Path(tempfile.mkdtemp(prefix="llmspell-ls-mcp-"))
TRAP = WORK / "trap-started"
# a server whose start would leave a file behind: the language server must never start it
(WORK / "llmspell.toml").write_text(
    stdio_toml() + f'\n[mcp.servers.trap]\ncommand = "{PYTHON}"\nargs = ["-c", "open(\\"{TRAP}\\", \\"w\\")"]\n',
    encoding="utf-8")


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "llmspell_ls"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=WORK.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=WORK.as_uri(), name="work")]))
    yield
    await lsp_client.shutdown_session()


_n = iter(range(1000))


async def complete(client: LanguageClient, text: str) -> list[Any]:
    off = text.index("|")
    before = text[:off]
    text = text.replace("|", "", 1)
    uri = (WORK / f"spell{next(_n)}.lua").as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="lua", version=1, text=text)))
    res = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=lsp.Position(line=before.count("\n"), character=len(before) - before.rfind("\n") - 1)))
    return list(res.items if isinstance(res, lsp.CompletionList) else (res or []))


def refresh_listing() -> None:
    """``llmspell-ls --mcp-refresh`` against the fake server only (the trap is left out of this config)."""
    (WORK / "llmspell.toml").write_text(stdio_toml(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    p = subprocess.run([PYTHON, "-m", "llmspell_ls", "--mcp-refresh"], cwd=WORK, capture_output=True, text=True,
                       timeout=90, env=env)
    assert p.returncode == 0, p.stderr
    assert "[mcp] fake: 7 tools" in p.stderr


async def test_completion_from_the_listing_and_no_server_started(client: LanguageClient) -> None:
    # before any run: nothing known about MCP tools, and opening/completing started nothing
    labels = [i.label for i in await complete(client, 'Tool.execute("mcp.|")')]
    assert not [x for x in labels if x.startswith("mcp.")]
    await asyncio.sleep(0.5)
    assert not TRAP.exists(), "the language server started an MCP server"

    refresh_listing()
    await asyncio.sleep(1.1)  # the server looks at the listing file at most once a second
    items = await complete(client, 'Tool.execute("mcp.fake.|")')
    names = [i.label for i in items]
    assert {"mcp.fake.add", "mcp.fake.search", "mcp.fake.echo"} <= set(names), names
    search = await client.completion_item_resolve_async(next(i for i in items if i.label == "mcp.fake.search"))
    doc = search.documentation.value if isinstance(search.documentation, lsp.MarkupContent) else \
        str(search.documentation or "")
    assert "Search the fake notes" in doc and "query" in doc, doc

    keys = [i.label for i in await complete(client, 'Tool.execute("mcp.fake.search", { |')]
    assert {"query", "kind", "limit"} <= set(keys), keys
    kinds = [i.label for i in await complete(client, 'Tool.execute("mcp.fake.search", { kind = "|')]
    assert kinds == ["notes", "tasks"], kinds
    assert not TRAP.exists()


def test_check_reads_the_listing_and_stays_quiet_without_it(tmp_path: Path) -> None:
    """``llmspell-ls --check``: MCP tools unknown before any run are not flagged; once listed, their
    schemas check the parameter tables like builtin tools'."""
    (tmp_path / "llmspell.toml").write_text(stdio_toml(), encoding="utf-8")
    (tmp_path / "c.lua").write_text('local r = Tool.execute("mcp.fake.add", {a = 1})\n'
                                    'local q = Tool.execute("mcp.fake.search", {queryy = "x"})\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}

    def check() -> str:
        p = subprocess.run([PYTHON, "-m", "llmspell_ls", "--check", "c.lua"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60, env=env)
        return p.stdout

    assert check() == ""
    p = subprocess.run([PYTHON, "-m", "llmspell_ls", "--mcp-refresh"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=90, env=env)
    assert p.returncode == 0, p.stderr
    assert check().splitlines() == [
        "c.lua:1:40: error missing-tool-param: tool 'mcp.fake.add' needs parameter(s): b",
        "c.lua:2:44: warning unknown-tool-param: tool 'mcp.fake.search' has no parameter 'queryy'; "
        "did you mean 'query'?",
        "c.lua:2:43: error missing-tool-param: tool 'mcp.fake.search' needs parameter(s): query",
    ]
