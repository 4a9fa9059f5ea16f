"""The answer index end to end over stdio (pytest-lsp), as VS Code and as Neovim ask: once a spell is open
and its index built in the background, completion after every ``.`` / ``:`` of a member access and hover on
every member name answer what the ordinary functions answer for the same client options (computed here
in-process on the same text)."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsp_helpers import REAL_MODEL, REPO
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from llmspell_ls.apimodel import load_index
from llmspell_ls.documents import Documents
from llmspell_ls.features.completion import completion
from llmspell_ls.features.hover import as_json, hover
from llmspell_ls.server import client_options

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

WORK = Path(tempfile.mkdtemp(prefix="llmspell-ls-answers-"))


@pytest_lsp.fixture(
    scope="module",
    params=["visual-studio-code", "neovim"],
    config=ClientServerConfig(server_command=[sys.executable, "-m", "llmspell_ls"]),
)
async def client(request: Any, lsp_client: LanguageClient):
    caps = client_capabilities(request.param)
    res = await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=caps, root_uri=WORK.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=WORK.as_uri(), name="w")]))
    enc = res.capabilities.position_encoding or "utf-16"
    lsp_client.opts = client_options(caps, str(enc))  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


def member_cursors(doc: Any) -> list[tuple[int, int, int]]:
    """(row, code-point column right after the separator, column inside the name) of member accesses."""
    out, stack = [], [doc.tree.root_node]
    while stack:
        n = stack.pop()
        stack.extend(n.children)
        p = n.parent
        if n.type in ("identifier", "property_identifier") and p is not None and p.type in (
                "dot_index_expression", "method_index_expression", "member_expression") \
                and n.end_byte - n.start_byte > 1:
            row, b = n.start_point
            col = doc.byte_to_col(row, b)
            if col > 0 and doc.line(row)[col - 1] in ".:":
                out.append((row, col, col + 1))
    return sorted(out)


def same_items(got: Any, want: Any) -> bool:
    """Equal completion lists, but for ``data``: a documentation id (per process, assigned in the order
    texts are first met: the server's own numbering), present on the same items."""
    def norm(res: Any) -> Any:
        items = [{k: ("id" if k == "data" else v) for k, v in it.items()} for it in res["items"]]
        return {**res, "items": items}

    return norm(got) == norm(want)  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ["first_agent.lua", "agent_tools.lua", "hooks_modify.js"])
async def test_completion_and_hover_over_the_wire_equal_the_ordinary_answers(client: LanguageClient,
                                                                             name: str) -> None:
    text = (REPO / "examples" / name).read_text(encoding="utf-8")
    lang = "lua" if name.endswith(".lua") else "javascript"
    uri = (WORK / name).as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id=lang, version=1, text=text)))
    await asyncio.sleep(1.5)  # parsed by the diagnostics pass, then indexed (equal answers either way)
    opts = client.opts  # type: ignore[attr-defined]
    index = load_index(REAL_MODEL)
    doc = Documents().open(uri, text, 1, lang)
    conv = client.protocol._converter
    cursors = member_cursors(doc)
    assert len(cursors) > 5
    for row, after_sep, inside in cursors:
        got = await client.text_document_completion_async(lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=row, character=after_sep)))
        want = json.loads(completion(doc, index, row, after_sep, opts).text)
        assert same_items(json.loads(json.dumps(conv.unstructure(got))), want), (name, row, after_sep)
        h = await client.text_document_hover_async(lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=row, character=inside)))
        want_h = json.loads(as_json(hover(doc, index, row, inside, opts)))
        assert (json.loads(json.dumps(conv.unstructure(h))) if h is not None else None) == want_h, (name, row, inside)
