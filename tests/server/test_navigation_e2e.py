"""Navigation end to end over stdio (pytest-lsp), as VS Code and as Neovim ask: definition, references,
documentHighlight, prepareRename/rename, workspace/symbol and selectionRange."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

WORK = Path(tempfile.mkdtemp(prefix="llmspell-ls-nav-"))
(WORK / "on_disk.lua").write_text('local reviewer = Agent.builder():name("disk_reviewer"):build()\n')


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


def open_doc(client: LanguageClient, text: str, ext: str = "lua") -> tuple[str, lsp.Position]:
    off = text.index("|")
    before = text[:off]
    pos = lsp.Position(line=before.count("\n"), character=len(before) - before.rfind("\n") - 1)
    uri = (WORK / f"nav{next(_counter)}.{ext}").as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="lua" if ext == "lua" else "javascript", version=1, text=text.replace("|", "", 1))))
    return uri, pos


def td(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


def spots(locs: Any) -> list[tuple[int, int]]:
    return [(x.range.start.line, x.range.start.character) for x in locs or []]


async def test_capabilities_advertised(client: LanguageClient) -> None:
    caps = client.init_result.capabilities  # type: ignore[attr-defined]
    assert caps.definition_provider and caps.references_provider and caps.document_highlight_provider
    assert caps.workspace_symbol_provider and caps.selection_range_provider
    assert isinstance(caps.rename_provider, lsp.RenameOptions) and caps.rename_provider.prepare_provider


async def test_definition_of_a_local(client: LanguageClient) -> None:
    uri, pos = open_doc(client, "local x = 1\nlocal function f(x) return x end\nprint(|x)")
    res = await client.text_document_definition_async(lsp.DefinitionParams(text_document=td(uri), position=pos))
    assert isinstance(res, list) and spots(res) == [(0, 6)]
    assert isinstance(res[0], lsp.Location) and res[0].uri == uri


@pytest.mark.parametrize(("text", "ext", "starts"), [
    ("local a = Agent.builder():mo|del('m')", "lua", "function AgentBuilder:model("),
    ("const a = Agent.builder().mo|del('m');", "js", "  model("),
])
async def test_definition_of_an_api_member_opens_the_stub(client: LanguageClient, text: str, ext: str,
                                                          starts: str) -> None:
    uri, pos = open_doc(client, text, ext)
    res = await client.text_document_definition_async(lsp.DefinitionParams(text_document=td(uri), position=pos))
    assert isinstance(res, list) and len(res) == 1
    from pygls.uris import to_fs_path

    path = to_fs_path(res[0].uri)
    assert path is not None and Path(path).is_file()
    assert Path(path).read_text(encoding="utf-8").split("\n")[res[0].range.start.line].startswith(starts)


async def test_references_with_and_without_the_declaration(client: LanguageClient) -> None:
    uri, pos = open_doc(client, "local n = 0\nn = n + 1\nprint(|n)")
    with_decl = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=td(uri), position=pos, context=lsp.ReferenceContext(include_declaration=True)))
    without = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=td(uri), position=pos, context=lsp.ReferenceContext(include_declaration=False)))
    assert spots(with_decl) == [(0, 6), (1, 0), (1, 4), (2, 6)]
    assert spots(without) == [(1, 0), (1, 4), (2, 6)]


async def test_document_highlight_kinds(client: LanguageClient) -> None:
    uri, pos = open_doc(client, "let total = 0;\ntotal += 2;\nconsole.log(to|tal);", "js")
    res = await client.text_document_document_highlight_async(lsp.DocumentHighlightParams(
        text_document=td(uri), position=pos))
    assert [(h.range.start.line, h.kind) for h in res or []] == [
        (0, lsp.DocumentHighlightKind.Write), (1, lsp.DocumentHighlightKind.Write), (2, lsp.DocumentHighlightKind.Read)]


async def test_prepare_rename_and_rename(client: LanguageClient) -> None:
    uri, pos = open_doc(client, "local count = 1\nprint(co|unt + count)")
    rng = await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(text_document=td(uri),
                                                                                 position=pos))
    assert isinstance(rng, lsp.Range) and (rng.start.line, rng.start.character, rng.end.character) == (1, 6, 11)
    edit = await client.text_document_rename_async(lsp.RenameParams(text_document=td(uri), position=pos,
                                                                    new_name="total"))
    assert edit is not None
    if client.kind == "visual-studio-code":  # type: ignore[attr-defined]
        assert edit.document_changes is not None and edit.changes is None
        (doc_edit,) = edit.document_changes
        assert isinstance(doc_edit, lsp.TextDocumentEdit) and doc_edit.text_document.version == 1
        edits = doc_edit.edits
    else:  # Neovim's capabilities (as pytest-lsp records them) do not list documentChanges
        assert edit.changes is not None and edit.document_changes is None
        edits = edit.changes[uri]
    assert sorted((e.range.start.line, e.range.start.character, e.new_text) for e in edits) == [  # type: ignore[union-attr]
        (0, 6, "total"), (1, 6, "total"), (1, 14, "total")]


@pytest.mark.parametrize(("text", "new_name", "message"), [
    ("local a = Ag|ent.builder()", "x", "cannot rename an llmspell API global"),
    ("local x = 1\nprint(|x)", "end", "is a Lua keyword"),
    ("local x = 1\nlocal y = 2\nprint(|x)", "y", "already declared in this scope"),
])
async def test_rename_errors_reach_the_client(client: LanguageClient, text: str, new_name: str, message: str) -> None:
    uri, pos = open_doc(client, text)
    with pytest.raises(JsonRpcException, match=message):
        await client.text_document_rename_async(lsp.RenameParams(text_document=td(uri), position=pos,
                                                                 new_name=new_name))


async def test_prepare_rename_refuses_api_globals(client: LanguageClient) -> None:
    uri, pos = open_doc(client, "Too|l.execute('calculator', {})")
    with pytest.raises(JsonRpcException, match="cannot rename an llmspell API global"):
        await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(text_document=td(uri), position=pos))


async def test_workspace_symbols_from_open_documents_and_disk(client: LanguageClient) -> None:
    open_doc(client, 'local function summarize() end\nlocal w = Agent.builder():name("open_writer")|:build()')
    res = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query=""))
    got = {s.name: s for s in res or []}
    assert "summarize" in got and "open_writer" in got and "disk_reviewer" in got
    assert got["disk_reviewer"].location.uri == (WORK / "on_disk.lua").as_uri()  # type: ignore[union-attr]
    narrowed = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="disk_rev"))
    assert [s.name for s in narrowed or []] == ["disk_reviewer"]


async def test_selection_range(client: LanguageClient) -> None:
    uri, pos = open_doc(client, 'local a = Agent.builder():mo|del("x")\n')
    res = await client.text_document_selection_range_async(lsp.SelectionRangeParams(text_document=td(uri),
                                                                                    positions=[pos]))
    assert res is not None and len(res) == 1
    spans = []
    sr: lsp.SelectionRange | None = res[0]
    while sr is not None:
        spans.append((sr.range.start.character, sr.range.end.character))
        sr = sr.parent
    assert spans[0] == (26, 31)  # "model"
    assert (10, 36) in spans  # 'Agent.builder():model("x")'


async def test_requests_on_an_unknown_document_answer_null(client: LanguageClient) -> None:
    uri = (WORK / "never_opened.lua").as_uri()
    pos = lsp.Position(line=0, character=0)
    assert await client.text_document_definition_async(lsp.DefinitionParams(text_document=td(uri),
                                                                            position=pos)) is None
    assert await client.text_document_document_highlight_async(lsp.DocumentHighlightParams(
        text_document=td(uri), position=pos)) is None
