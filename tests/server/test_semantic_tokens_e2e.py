"""End to end over stdio (pytest-lsp) for the presentation requests — semantic tokens (full, range,
full/delta), folding ranges and inlay hints — as VS Code and as Neovim ask for them.

One server per client kind (module scope) with the real committed API model; LSP spec violations are
errors. (Folding and inlay hints share this module to start two servers instead of six.)
"""

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

WORK = Path(tempfile.mkdtemp(prefix="llmspell-ls-present-"))


@pytest_lsp.fixture(
    scope="module",
    params=["visual-studio-code", "neovim"],
    config=ClientServerConfig(server_command=[sys.executable, "-m", "llmspell_ls"]),
)
async def client(request: Any, lsp_client: LanguageClient):
    lsp_client.init_result = await lsp_client.initialize_session(lsp.InitializeParams(  # type: ignore[attr-defined]
        capabilities=client_capabilities(request.param), root_uri=WORK.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=WORK.as_uri(), name="work")]))
    lsp_client.kind = request.param  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


_counter = iter(range(1_000_000))


def open_doc(client: LanguageClient, text: str, ext: str = "lua") -> str:
    uri = (WORK / f"present{next(_counter)}.{ext}").as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="lua" if ext == "lua" else "javascript", version=1, text=text)))
    return uri


def change(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))


def decode(data: Any, legend: lsp.SemanticTokensLegend, text: str) -> dict[tuple[int, str], tuple[str, set[str]]]:
    lines = text.split("\n")
    out = {}
    row = col = 0
    data = list(data)
    for i in range(0, len(data), 5):
        dl, dc, ln, tt, mods = data[i:i + 5]
        row, col = (row + dl, dc) if dl else (row, col + dc)
        out[(row, lines[row][col:col + ln])] = (
            legend.token_types[tt], {m for k, m in enumerate(legend.token_modifiers) if mods >> k & 1})
    return out


SPELL = """\
-- region Agents
local agent = Agent.builder():name("a"):model("offline/scripted"):build()
local out <const> = agent:execute({ text = "hi" })
-- endregion
local function step(ctx)
  State.save("global", "k", ctx)
  return Agent.create({})
end
"""


def legend_of(client: LanguageClient) -> lsp.SemanticTokensLegend:
    prov = client.init_result.capabilities.semantic_tokens_provider  # type: ignore[attr-defined]
    assert prov is not None and prov.range and prov.full == lsp.SemanticTokensFullDelta(delta=True)
    return prov.legend  # type: ignore[no-any-return]


async def test_semantic_tokens_full_as_the_user_sees_them(client: LanguageClient) -> None:
    legend = legend_of(client)
    uri = open_doc(client, SPELL)
    res = await client.text_document_semantic_tokens_full_async(
        lsp.SemanticTokensParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert res is not None and res.result_id
    t = decode(res.data, legend, SPELL)
    assert t[(1, "Agent")] == ("namespace", {"defaultLibrary", "readonly"})
    assert t[(1, "model")][0] == "method" and "defaultLibrary" in t[(1, "model")][1]
    assert t[(2, "out")] == ("variable", {"declaration", "readonly"})
    assert t[(2, "execute")][0] == "method" and "defaultLibrary" in t[(2, "execute")][1]
    assert t[(4, "ctx")] == ("parameter", {"declaration"}) and t[(5, "ctx")] == ("parameter", set())
    assert "deprecated" in t[(6, "create")][1]


async def test_semantic_tokens_delta_and_range(client: LanguageClient) -> None:
    legend = legend_of(client)
    uri = open_doc(client, SPELL)
    ident = lsp.TextDocumentIdentifier(uri=uri)
    first = await client.text_document_semantic_tokens_full_async(lsp.SemanticTokensParams(text_document=ident))
    assert first is not None
    new_text = SPELL.replace("local function step(ctx)", "local function step(ctx, extra)")
    change(client, uri, 2, new_text)
    delta = await client.text_document_semantic_tokens_full_delta_async(lsp.SemanticTokensDeltaParams(
        text_document=ident, previous_result_id=first.result_id or ""))
    assert isinstance(delta, lsp.SemanticTokensDelta) and delta.result_id != first.result_id
    data = list(first.data)
    for e in delta.edits:
        data[e.start:e.start + e.delete_count] = list(e.data or [])
    assert decode(data, legend, new_text)[(4, "extra")] == ("parameter", {"declaration"})
    rng = lsp.Range(start=lsp.Position(line=4, character=0), end=lsp.Position(line=6, character=0))
    part = await client.text_document_semantic_tokens_range_async(
        lsp.SemanticTokensRangeParams(text_document=ident, range=rng))
    assert part is not None
    got = decode(part.data, legend, new_text)
    assert {row for row, _ in got} == {4, 5} and got[(5, "State")][0] == "namespace"


async def test_semantic_tokens_js_in_the_negotiated_encoding(client: LanguageClient) -> None:
    legend = legend_of(client)
    text = 'const s = "😀"; const agent = await Agent.builder().build();\n'
    uri = open_doc(client, text, "js")
    res = await client.text_document_semantic_tokens_full_async(
        lsp.SemanticTokensParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert res is not None
    neovim = client.kind == "neovim"  # type: ignore[attr-defined]
    extra = 3 if neovim else 1  # the emoji: 4 UTF-8 bytes (Neovim negotiates utf-8) or 2 UTF-16 units
    row = col = 0
    found = {}
    data = list(res.data)
    for i in range(0, len(data), 5):
        dl, dc, ln, tt, _ = data[i:i + 5]
        row, col = (row + dl, dc) if dl else (row, col + dc)
        found[col] = (legend.token_types[tt], ln)
    assert found[text.index("agent") + extra] == ("variable", 5)
    assert found[text.index("Agent") + extra] == ("namespace", 5)


async def test_folding_ranges(client: LanguageClient) -> None:
    uri = open_doc(client, SPELL)
    res = await client.text_document_folding_range_async(
        lsp.FoldingRangeParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
    got = {(r.start_line, r.end_line, r.kind) for r in res or []}
    assert (0, 3, lsp.FoldingRangeKind.Region) in got
    assert (4, 6, None) in got  # the function; its ``end`` line stays visible
    assert all(r.start_character is None for r in res or [])  # both clients fold whole lines
    js = open_doc(client, "function f() {\n  return {\n    a: 1,\n  };\n}\n", "js")
    res = await client.text_document_folding_range_async(
        lsp.FoldingRangeParams(text_document=lsp.TextDocumentIdentifier(uri=js)))
    assert {(r.start_line, r.end_line) for r in res or []} == {(0, 3), (1, 2)}


async def test_inlay_hints_in_the_requested_range(client: LanguageClient) -> None:
    assert client.init_result.capabilities.inlay_hint_provider  # type: ignore[attr-defined]
    uri = open_doc(client, SPELL)
    rng = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=8, character=0))
    res = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(text_document=lsp.TextDocumentIdentifier(uri=uri), range=rng))
    got = [(h.position.line, h.label) for h in res or []]
    assert (1, ": AgentInstance") in got
    assert [label for line, label in got if line == 5] == ["scope:", "key:", "value:"]
    assert not any(line == 2 and label == "input:" for line, label in got)  # a table with keys says it
    only = lsp.Range(start=lsp.Position(line=5, character=0), end=lsp.Position(line=6, character=0))
    res = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(text_document=lsp.TextDocumentIdentifier(uri=uri), range=only))
    assert {h.position.line for h in res or []} == {5}


async def test_unknown_documents_get_empty_answers(client: LanguageClient) -> None:
    ident = lsp.TextDocumentIdentifier(uri=(WORK / "nowhere.lua").as_uri())
    rng = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=1, character=0))
    assert not await client.text_document_folding_range_async(lsp.FoldingRangeParams(text_document=ident))
    assert not await client.text_document_inlay_hint_async(lsp.InlayHintParams(text_document=ident, range=rng))
    assert await client.text_document_semantic_tokens_full_async(
        lsp.SemanticTokensParams(text_document=ident)) is None
