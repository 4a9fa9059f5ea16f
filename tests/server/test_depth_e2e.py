"""End to end over stdio (pytest-lsp), as VS Code and as Neovim ask: inlayHint/resolve, ``self`` in
navigation, field rename, folding across versions.

VS Code: pytest-lsp records VS Code 1.65, which predates inlay hints; VS Code since 1.67 sends
``inlayHint.resolveSupport.properties = [tooltip, textEdits, label.tooltip, label.location, label.command]``,
added here so the client is the one users run. Neovim 0.11 (pytest-lsp's record) advertises
``resolveSupport.properties = [textEdits, tooltip, location, command]``: both get light hints and resolve.
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

WORK = Path(tempfile.mkdtemp(prefix="llmspell-ls-depth-"))
VSCODE_INLAY = lsp.InlayHintClientCapabilities(
    dynamic_registration=True,
    resolve_support=lsp.ClientInlayHintResolveOptions(
        properties=["tooltip", "textEdits", "label.tooltip", "label.location", "label.command"]))


def caps(kind: str) -> lsp.ClientCapabilities:
    c = client_capabilities(kind)
    if kind == "visual-studio-code":
        assert c.text_document is not None
        c.text_document.inlay_hint = VSCODE_INLAY
    return c


@pytest_lsp.fixture(
    scope="module",
    params=["visual-studio-code", "neovim"],
    config=ClientServerConfig(server_command=[sys.executable, "-m", "llmspell_ls"]),
)
async def client(request: Any, lsp_client: LanguageClient):
    lsp_client.init_result = await lsp_client.initialize_session(lsp.InitializeParams(  # type: ignore[attr-defined]
        capabilities=caps(request.param), root_uri=WORK.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=WORK.as_uri(), name="work")]))
    lsp_client.kind = request.param  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


_counter = iter(range(1_000_000))


def open_doc(client: LanguageClient, text: str, ext: str = "lua") -> tuple[str, lsp.Position]:
    off = text.find("|")
    if off < 0:
        off = 0
        text = "|" + text
    before = text[:off]
    pos = lsp.Position(line=before.count("\n"), character=len(before) - before.rfind("\n") - 1)
    uri = (WORK / f"depth{next(_counter)}.{ext}").as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="lua" if ext == "lua" else "javascript", version=1, text=text.replace("|", "", 1))))
    return uri, pos


def td(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


def spots(locs: Any) -> list[tuple[int, int]]:
    return sorted((x.range.start.line, x.range.start.character) for x in locs or [])


# ------------------------------------------------------------------------------------------ inlay hints
async def test_inlay_hints_are_light_and_resolve_fills_the_tooltip(client: LanguageClient) -> None:
    ih = client.init_result.capabilities.inlay_hint_provider  # type: ignore[attr-defined]
    assert isinstance(ih, lsp.InlayHintOptions) and ih.resolve_provider
    uri, _ = open_doc(client, 'State.save("global", "k", 42)\nlocal a = Agent.builder()\n')
    rng = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=5, character=0))
    hints = await client.text_document_inlay_hint_async(lsp.InlayHintParams(text_document=td(uri), range=rng))
    assert [h.label for h in hints or []] == ["scope:", "key:", "value:", ": AgentBuilder"]
    assert all(h.tooltip is None and h.data for h in hints or [])  # both clients resolve tooltips
    assert hints is not None
    scope = await client.inlay_hint_resolve_async(hints[0])
    assert isinstance(scope.tooltip, lsp.MarkupContent)
    assert scope.tooltip.value.startswith("`scope: string` — parameter of `State.save`")
    assert scope.label == "scope:" and scope.position == hints[0].position
    typ = await client.inlay_hint_resolve_async(hints[3])
    assert isinstance(typ.tooltip, lsp.MarkupContent) and typ.tooltip.value.startswith("`AgentBuilder`")


# ------------------------------------------------------------------------------------------ undefined globals
def pulls(client: LanguageClient) -> bool:
    c = client.capabilities
    return c is not None and c.text_document is not None and c.text_document.diagnostic is not None


async def diagnostics_of(client: LanguageClient, uri: str, want: str, timeout: float = 90.0) -> list[lsp.Diagnostic]:
    """The document's diagnostics once ``want`` is among their codes (pushed or pulled, as the client does)."""
    import asyncio
    import time

    from pygls.exceptions import JsonRpcException

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pulls(client):
            try:
                rep = await client.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(text_document=td(uri)))
            except JsonRpcException:  # still being computed: pull again
                await asyncio.sleep(0.2)
                continue
            items = list(getattr(rep, "items", []) or [])
        else:
            items = list(client.diagnostics.get(uri, []))
        if any(d.code == want for d in items):
            return items
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {want} diagnostic for {uri} within {timeout}s")


async def test_undefined_globals_on_a_50000_line_spell_and_requests_answer_meanwhile(client: LanguageClient) -> None:
    block = ('local function step_{i}(x)\n  local t = {{a = x, b = "{i}"}}\n  return t.a + helper_{i}(x)\nend\n'
             'helper_{i} = function(y) return y * 2 end\n')
    text = "local a = Agent.builder()\n" + "".join(block.format(i=i) for i in range(10_000)) + "Foo.bar()\n"
    assert text.count("\n") > 50_000
    uri, _ = open_doc(client, text)
    hover = await client.text_document_hover_async(lsp.HoverParams(
        text_document=td(uri), position=lsp.Position(line=0, character=12)))
    assert hover is not None and "Agent" in str(hover.contents)  # answered while the pass runs
    items = await diagnostics_of(client, uri, "undefined-global")
    assert [(d.range.start.line, d.message) for d in items if d.code == "undefined-global"] == [
        (50_001, "undefined global 'Foo'")]


# ------------------------------------------------------------------------------------------ self and fields
OBJ = """\
local obj = {name = "x", agent = Agent.builder()}
function obj:greet(who)
  return self.name .. who
end
function obj:run()
  local f = function() return self:greet("a") end
  return f() .. obj:greet("b")
end
"""


def cursor(text: str, needle: str, nth: int = 0, shift: int = 1) -> str:
    k = -1
    for _ in range(nth + 1):
        k = text.index(needle, k + 1)
    return text[:k + shift] + "|" + text[k + shift:]


async def test_self_definition_references_hover_and_completion(client: LanguageClient) -> None:
    uri, pos = open_doc(client, cursor(OBJ, "self:greet"))
    res = await client.text_document_definition_async(lsp.DefinitionParams(text_document=td(uri), position=pos))
    assert spots(res) == [(0, 6)]
    uri, pos = open_doc(client, cursor(OBJ, "greet", nth=2))
    refs = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=td(uri), position=pos, context=lsp.ReferenceContext(include_declaration=True)))
    assert spots(refs) == [(1, 13), (5, 35), (6, 20)]
    uri, pos = open_doc(client, cursor(OBJ, "self.name"))
    h = await client.text_document_hover_async(lsp.HoverParams(text_document=td(uri), position=pos))
    assert h is not None and "`self` is `obj`" in str(h.contents)
    uri, pos = open_doc(client, OBJ.replace("self.name ..", "self.|"))
    got = await client.text_document_completion_async(lsp.CompletionParams(text_document=td(uri), position=pos))
    items = got.items if isinstance(got, lsp.CompletionList) else got or []
    assert {"name", "agent"} <= {i.label for i in items}


async def _edits(client: LanguageClient, uri: str, edit: lsp.WorkspaceEdit | None) -> list[tuple[int, int, str]]:
    assert edit is not None
    if edit.document_changes is not None:
        (doc_edit,) = edit.document_changes
        assert isinstance(doc_edit, lsp.TextDocumentEdit)
        es = doc_edit.edits
    else:
        assert edit.changes is not None
        es = edit.changes[uri]
    return sorted((e.range.start.line, e.range.start.character, e.new_text) for e in es)  # type: ignore[union-attr]


async def test_field_and_method_rename(client: LanguageClient) -> None:
    uri, pos = open_doc(client, 'local cfg = { name = "x" }\nprint(cfg.na|me)\n')
    rng = await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(text_document=td(uri),
                                                                                 position=pos))
    assert isinstance(rng, lsp.Range) and (rng.start.line, rng.start.character, rng.end.character) == (1, 10, 14)
    edit = await client.text_document_rename_async(lsp.RenameParams(text_document=td(uri), position=pos,
                                                                    new_name="title"))
    assert await _edits(client, uri, edit) == [(0, 14, "title"), (1, 10, "title")]
    uri, pos = open_doc(client, cursor(OBJ, "greet", nth=2))
    edit = await client.text_document_rename_async(lsp.RenameParams(text_document=td(uri), position=pos,
                                                                    new_name="hello"))
    assert await _edits(client, uri, edit) == [(1, 13, "hello"), (5, 35, "hello"), (6, 20, "hello")]


@pytest.mark.parametrize(("text", "message"), [
    ("local a = Agent.builder()\nprint(a.fo|o)\n", "'a' is not a table constructed in this file"),
    ("M = {k = 1}\nprint(M.|k)\n", "'M' is a global table"),
    ("local obj = {}\nfunction obj:m() return se|lf end\n", "cannot rename 'self'"),
])
async def test_field_rename_refusals_reach_the_client(client: LanguageClient, text: str, message: str) -> None:
    from pygls.exceptions import JsonRpcException

    uri, pos = open_doc(client, text)
    with pytest.raises(JsonRpcException, match=message):
        await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(text_document=td(uri),
                                                                                position=pos))


# ------------------------------------------------------------------------------------------ folding across versions
async def test_folding_after_edits_shifts_the_unchanged_statements(client: LanguageClient) -> None:
    text = ("local function a()\n  return 1\nend\n-- one\n-- two\nlocal t = {\n  x = 1,\n}\n"
            "local function b()\n  return 2\nend\n")
    uri, _ = open_doc(client, text)

    async def folds() -> set[tuple[int, int]]:
        res = await client.text_document_folding_range_async(lsp.FoldingRangeParams(text_document=td(uri)))
        return {(r.start_line, r.end_line) for r in res or []}

    assert await folds() == {(0, 1), (3, 4), (5, 6), (8, 9)}
    # two lines inserted at the top, one inside ``t``: a, the comment run and b move; t grows
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[
            lsp.TextDocumentContentChangePartial(
                range=lsp.Range(start=lsp.Position(line=6, character=0), end=lsp.Position(line=6, character=0)),
                text="  y = 2,\n"),
            lsp.TextDocumentContentChangePartial(
                range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0)),
                text="local x = {\n  1 }\n"),
        ]))
    assert await folds() == {(0, 1), (2, 3), (5, 6), (7, 9), (11, 12)}
