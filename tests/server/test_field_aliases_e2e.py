"""Fields through aliases end to end over stdio (pytest-lsp), as VS Code and as Neovim ask: rename from the
constructor's key and from a use through an alias, references and documentHighlight through aliases, and
a refusal that names the place where the table leaves."""

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

WORK = Path(tempfile.mkdtemp(prefix="llmspell-ls-alias-"))

SPELL = '''local cfg = {model = "x"}
local c = cfg
local d = c
print(c.model, d.model)
function d:describe() return self.model end
local other = {model = "y"}
print(other.model)
'''


@pytest_lsp.fixture(
    scope="module",
    params=["visual-studio-code", "neovim"],
    config=ClientServerConfig(server_command=[sys.executable, "-m", "llmspell_ls"]),
)
async def client(request: Any, lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities(request.param), root_uri=WORK.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=WORK.as_uri(), name="work")]))
    lsp_client.kind = request.param  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


_counter = iter(range(1_000_000))


def open_doc(client: LanguageClient, text: str, needle: str, shift: int = 1) -> tuple[str, lsp.Position]:
    k = text.index(needle) + shift
    before = text[:k]
    pos = lsp.Position(line=before.count("\n"), character=len(before) - before.rfind("\n") - 1)
    uri = (WORK / f"alias{next(_counter)}.lua").as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="lua", version=1, text=text)))
    return uri, pos


def td(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


def edits_of(client: LanguageClient, edit: lsp.WorkspaceEdit | None, uri: str) -> list[tuple[int, int, str]]:
    assert edit is not None
    if client.kind == "visual-studio-code":  # type: ignore[attr-defined]
        assert edit.document_changes is not None
        (doc_edit,) = edit.document_changes
        assert isinstance(doc_edit, lsp.TextDocumentEdit) and doc_edit.text_document.uri == uri
        edits = doc_edit.edits
    else:  # Neovim's capabilities (as pytest-lsp records them) do not list documentChanges
        assert edit.changes is not None
        edits = edit.changes[uri]
    return sorted((e.range.start.line, e.range.start.character, e.new_text) for e in edits)  # type: ignore[union-attr]


WANT = [(0, 13, "name"), (3, 8, "name"), (3, 17, "name"), (4, 34, "name")]


@pytest.mark.parametrize(("needle", "shift"), [("{model", 2), ("d.model", 3)], ids=["constructor-key", "alias-use"])
async def test_rename_a_field_through_aliases(client: LanguageClient, needle: str, shift: int) -> None:
    uri, pos = open_doc(client, SPELL, needle, shift)
    rng = await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(text_document=td(uri),
                                                                                 position=pos))
    assert isinstance(rng, lsp.Range) and rng.end.character - rng.start.character == len("model")
    edit = await client.text_document_rename_async(lsp.RenameParams(text_document=td(uri), position=pos,
                                                                    new_name="name"))
    assert edits_of(client, edit, uri) == WANT  # never other.model


async def test_references_and_highlights_through_aliases(client: LanguageClient) -> None:
    uri, pos = open_doc(client, SPELL, "c.model", 3)
    refs = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=td(uri), position=pos, context=lsp.ReferenceContext(include_declaration=True)))
    assert sorted((r.range.start.line, r.range.start.character) for r in refs or []) == [w[:2] for w in WANT]
    hl = await client.text_document_document_highlight_async(lsp.DocumentHighlightParams(text_document=td(uri),
                                                                                         position=pos))
    assert [(h.range.start.line, h.range.start.character, h.kind) for h in hl or []] == [
        (0, 13, lsp.DocumentHighlightKind.Write), (3, 8, lsp.DocumentHighlightKind.Read),
        (3, 17, lsp.DocumentHighlightKind.Read), (4, 34, lsp.DocumentHighlightKind.Read)]
    defn = await client.text_document_definition_async(lsp.DefinitionParams(text_document=td(uri), position=pos))
    assert isinstance(defn, list) and [(x.range.start.line, x.range.start.character) for x in defn] == [(0, 13)]


async def test_a_table_passed_to_a_function_is_refused_naming_the_line(client: LanguageClient) -> None:
    uri, pos = open_doc(client, SPELL + "register(d)\n", "c.model", 3)
    with pytest.raises(JsonRpcException, match="line 8 passes 'd' to 'register'"):
        await client.text_document_rename_async(lsp.RenameParams(text_document=td(uri), position=pos,
                                                                 new_name="name"))
