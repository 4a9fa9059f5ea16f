"""The server keeps answering whatever it is fed: random edits, truncated and binary documents, huge
lines, lone surrogates and invalid UTF-8 on the wire."""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsp_helpers import REPO
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

pytestmark = pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning")

SPELL_LUA = """local b = Agent.builder():name("w"):model("m")
local a = b:build()
local r = a:execute({ text = "hi" })
Tool.execute("file-operations", { operation = "read", path = "/x" })
Hook.register("BeforeAgentExecution", function(ctx) return "continue" end, "high")
print(JSON.stringify(r))
"""
SPELL_JS = """const a = await Agent.builder().name("w").model("m").build();
const r = await a.execute({ text: "hi" });
await Tool.execute("calculator", { input: "1+2" });
Hook.register("BeforeAgentExecution", (ctx) => "continue");
console.log(JSON.stringify(r));
"""
JUNK = ["(", ")", "{", "}", "[[", "]]", '"', "'", "`", ":", ".", "\n", "end", "function", "--[[", "/*",
        "é", "😀", "\x00", "\ufeff", "Agent.", "b:", "Tool.execute(", "= {", ",", "\t", " " * 50]


@pytest_lsp.fixture(params=["visual-studio-code", "neovim"],
                    config=ClientServerConfig(server_command=[sys.executable, "-m", "llmspell_ls"]))
async def client(request: Any, lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=client_capabilities(request.param)))
    yield
    await lsp_client.shutdown_session()


def pos_in(text: str, rnd: random.Random) -> lsp.Position:
    lines = text.split("\n")
    line = rnd.randrange(len(lines) + 2)  # sometimes past the end
    width = len(lines[line]) if line < len(lines) else 0
    return lsp.Position(line=line, character=rnd.randrange(width + 3))


async def ask_everything(client: LanguageClient, uri: str, text: str, rnd: random.Random) -> None:
    td = lsp.TextDocumentIdentifier(uri=uri)
    for _ in range(3):
        p = pos_in(text, rnd)
        await client.text_document_completion_async(lsp.CompletionParams(text_document=td, position=p))
        await client.text_document_hover_async(lsp.HoverParams(text_document=td, position=p))
        await client.text_document_signature_help_async(lsp.SignatureHelpParams(text_document=td, position=p))
    await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(text_document=td))
    await client.text_document_code_lens_async(lsp.CodeLensParams(text_document=td))


@pytest.mark.parametrize("ext,base", [("lua", SPELL_LUA), ("js", SPELL_JS)])
async def test_random_edits_and_garbage(client: LanguageClient, ext: str, base: str) -> None:
    seed = int(os.environ.get("LLMSPELL_FUZZ_SEED", "1234")) + (0 if ext == "lua" else 1)
    rnd = random.Random(seed)
    uri = f"file:///robust/spell.{ext}"
    text = base
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="lua" if ext == "lua" else "javascript", version=1, text=text)))
    version = 1
    for step in range(60):
        version += 1
        if step % 15 == 14:  # whole-document replacements: truncated, binary, huge line, lone surrogate
            choice = step // 15 % 4
            if choice == 0:
                text = base[: rnd.randrange(len(base))]
            elif choice == 1:
                text = bytes(rnd.randrange(256) for _ in range(3000)).decode("latin-1")
            elif choice == 2:
                text = "Agent." + "x" * 200_000 + "\nlocal a = Agent.builder():"
            else:
                text = base + "\ud800 broken \udfff" + base
            change: Any = lsp.TextDocumentContentChangeWholeDocument(text=text)
        else:
            lines = text.split("\n")
            a, b = sorted((pos_in(text, rnd), pos_in(text, rnd)), key=lambda p: (p.line, p.character))
            new = "".join(rnd.choice(JUNK) for _ in range(rnd.randrange(4)))
            change = lsp.TextDocumentContentChangePartial(range=lsp.Range(start=a, end=b), text=new)
            # mirror the edit the way pygls applies it (clamped), to keep asking sensible positions
            def off(p: lsp.Position, lines: list[str] = lines) -> int:
                ln = min(p.line, len(lines) - 1)
                return sum(len(x) + 1 for x in lines[:ln]) + min(p.character, len(lines[ln]))
            text = text[: off(a)] + new + text[off(b):] if a.line < len(lines) else text + new
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=[change]))
        if step % 5 == 0:
            await ask_everything(client, uri, text, rnd)
    # still fully working afterwards
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=f"file:///robust/ok.{ext}", language_id="lua" if ext == "lua" else "javascript", version=1,
        text="Agent.")))
    res = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=f"file:///robust/ok.{ext}"),
        position=lsp.Position(line=0, character=6)))
    assert "builder" in [i.label for i in res.items]


def test_invalid_utf8_on_the_wire() -> None:
    """Bytes that are not UTF-8 in a message body: that message is dropped, the server lives on."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from lsp.rpc import RpcClient

    c = RpcClient([sys.executable, "-m", "llmspell_ls"])
    try:
        c.initialize()
        body = (b'{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///b.lua",'
                b'"languageId":"lua","version":1,"text":"Agent.\xff\xfe\xc3("}}}')
        assert c.proc.stdin is not None
        c.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        c.proc.stdin.flush()
        c.open("file:///ok.lua", "Agent.")
        res = c.request("textDocument/completion", {"textDocument": {"uri": "file:///ok.lua"},
                                                    "position": {"line": 0, "character": 6}}, timeout=20)
        assert "builder" in [i["label"] for i in res["items"]]
        c.request("textDocument/hover", {"textDocument": {"uri": "file:///b.lua"},
                                         "position": {"line": 0, "character": 3}}, timeout=20)
    finally:
        c.close()
    assert c.proc.returncode == 0, json.dumps(c.proc.returncode)


def test_path_helpers_exist() -> None:
    assert (REPO / "benchmarks" / "lsp" / "rpc.py").is_file()
    assert Path(__file__).with_name("lsp_helpers.py").is_file()
