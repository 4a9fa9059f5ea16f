"""The server keeps answering whatever it is fed: random edits, truncated and binary documents, huge
lines, lone surrogates and invalid UTF-8 on the wire."""

from __future__ import annotations

import asyncio
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
    assert isinstance(res, lsp.CompletionList) and "builder" in [i.label for i in res.items]


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


# ------------------------------------------------------------------ hostile inputs (issue 12)
def lang_of(uri: str) -> str:
    return "lua" if uri.endswith(".lua") else "javascript"


def open_text(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id=lang_of(uri), version=1, text=text)))


def pulls(client: LanguageClient) -> bool:
    caps = client.capabilities
    return caps is not None and caps.text_document is not None and caps.text_document.diagnostic is not None


async def diagnostics_of(client: LanguageClient, uri: str, timeout: float = 60) -> list[lsp.Diagnostic]:
    """What the editor shows for ``uri``: pulled (Neovim 0.11) or the first push (VS Code)."""
    if pulls(client):
        from pygls.exceptions import JsonRpcException

        async def pull() -> Any:
            while True:
                try:
                    return await client.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(
                        text_document=lsp.TextDocumentIdentifier(uri=uri)))
                except JsonRpcException as e:  # ServerCancelled + retriggerRequest: ask again, as editors do
                    if e.code != -32802:
                        raise
        rep = await asyncio.wait_for(pull(), timeout)
        assert isinstance(rep, lsp.RelatedFullDocumentDiagnosticReport)
        return list(rep.items)

    async def poll() -> list[lsp.Diagnostic]:
        while uri not in client.diagnostics:
            await asyncio.sleep(0.01)
        return list(client.diagnostics[uri])
    return await asyncio.wait_for(poll(), timeout)


async def complete_at(client: LanguageClient, uri: str, line: int, ch: int) -> Any:
    return await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=line, character=ch)))


async def hover_at(client: LanguageClient, uri: str, line: int, ch: int) -> Any:
    return await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=line, character=ch)))


def labels_of(res: Any) -> list[str]:
    items = res.items if isinstance(res, lsp.CompletionList) else (res or [])
    return [i.label for i in items]


NEST = 10_000


async def test_deep_nesting_does_not_block_other_requests(client: LanguageClient) -> None:
    deep = "local t = " + "{ a = " * NEST + "Agent." + " }" * NEST + "\n"
    col = len("local t = " + "{ a = " * NEST + "Agent.")
    open_text(client, "file:///h/deep.lua", deep)
    open_text(client, "file:///h/small.lua", "local b = Agent.builder()\nAgent.\n")
    order: list[str] = []

    async def hostile(kind: str) -> Any:
        if kind == "completion":
            res = await complete_at(client, "file:///h/deep.lua", 0, col)
        else:
            res = await hover_at(client, "file:///h/deep.lua", 0, col - 3)
        order.append(kind)
        return res

    tasks = [asyncio.ensure_future(hostile("completion")), asyncio.ensure_future(hostile("hover"))]
    small = await complete_at(client, "file:///h/small.lua", 1, 6)
    order.append("small")
    assert "builder" in labels_of(small)
    res_c, _res_h = await asyncio.gather(*tasks)  # answered (a list, or null over budget), not an error
    assert res_c is None or "builder" in labels_of(res_c)
    assert order[0] == "small"  # the deep document did not hold the small one's answer back


async def test_a_one_megabyte_line(client: LanguageClient) -> None:
    line = "local x = " + "Agent.builder():name('x')" * 40_000
    uri = "file:///h/line.lua"
    open_text(client, uri, line + "\nAgent.\n")
    await diagnostics_of(client, uri)
    assert "builder" in labels_of(await complete_at(client, uri, 1, 6))
    await hover_at(client, uri, 0, len(line) - 5)  # answered (null or a hover), never an error
    res = await complete_at(client, uri, 0, len(line) // 2)
    assert res is None or isinstance(res, lsp.CompletionList | list)


async def test_diagnostics_of_a_huge_file_do_not_stall_other_documents(client: LanguageClient) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from lsp.gen import generate

    open_text(client, "file:///h/huge.lua", generate("lua", 200_000).text)
    open_text(client, "file:///h/other.lua", "local a = Agent.bulder()\nAgent.\n")
    assert "builder" in labels_of(await complete_at(client, "file:///h/other.lua", 1, 6))
    diags = await diagnostics_of(client, "file:///h/other.lua")
    assert "unknown-member" in [d.code for d in diags]


@pytest.mark.parametrize("eol", ["\r", "\r\n"])
async def test_cr_and_crlf_put_diagnostics_and_positions_on_the_right_line(client: LanguageClient,
                                                                           eol: str) -> None:
    uri = f"file:///h/eol{len(eol)}.lua"
    open_text(client, uri, eol.join(["-- spell", "local a = Agent.bulder()", "Agent.", ""]))
    (d,) = [d for d in await diagnostics_of(client, uri) if d.code != "syntax-error"]
    assert d.code == "unknown-member" and d.range.start == lsp.Position(line=1, character=16)
    assert "builder" in labels_of(await complete_at(client, uri, 2, 6))
    h = await hover_at(client, uri, 1, 12)
    assert h is not None and "Agent" in h.contents.value
    # an incremental edit on the third line lands there
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangePartial(
            range=lsp.Range(start=lsp.Position(line=2, character=6), end=lsp.Position(line=2, character=6)),
            text="builder():")]))
    assert "name" in labels_of(await complete_at(client, uri, 2, 16))


async def test_positions_past_the_end_get_a_response(client: LanguageClient) -> None:
    uri = "file:///h/pos.lua"
    open_text(client, uri, "Agent.\n")
    assert await hover_at(client, uri, 10_000, 10_000) is None  # null, not silence
    assert await client.text_document_signature_help_async(lsp.SignatureHelpParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=0, character=999))) is None
    assert "builder" in labels_of(await complete_at(client, uri, 0, 6))


def test_negative_positions_get_an_invalid_params_response() -> None:
    """A client cannot even build these with lsprotocol: sent raw, they must still be answered."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from lsp.rpc import RpcClient

    c = RpcClient([sys.executable, "-m", "llmspell_ls"])
    try:
        c.initialize()
        c.open("file:///neg.lua", "Agent.")
        for method, pos in [("textDocument/hover", {"line": -1, "character": 0}),
                            ("textDocument/completion", {"line": 0, "character": -5}),
                            ("textDocument/signatureHelp", {"line": "x", "character": 0})]:
            with pytest.raises(RuntimeError, match="-32602"):
                c.request(method, {"textDocument": {"uri": "file:///neg.lua"}, "position": pos}, timeout=20)
        res = c.request("textDocument/completion", {"textDocument": {"uri": "file:///neg.lua"},
                                                    "position": {"line": 0, "character": 6}}, timeout=20)
        assert "builder" in [i["label"] for i in res["items"]]
    finally:
        c.close()


def test_cancel_request_stops_a_long_computation() -> None:
    """``$/cancelRequest`` on a request that is computing answers RequestCancelled and frees the server."""
    import queue

    sys.path.insert(0, str(REPO / "benchmarks"))
    from lsp.gen import generate
    from lsp.rpc import RpcClient

    c = RpcClient([sys.executable, "-m", "llmspell_ls"])
    try:
        c.initialize()
        c.open("file:///cancel.lua", generate("lua", 50_000).text)
        answer: queue.Queue[dict[str, Any]] = queue.Queue(1)
        c._waiters[99] = answer
        c._write({"jsonrpc": "2.0", "id": 99, "method": "textDocument/documentSymbol",
                  "params": {"textDocument": {"uri": "file:///cancel.lua"}}})
        c.notify("$/cancelRequest", {"id": 99})
        assert answer.get(timeout=30)["error"]["code"] == -32800
        c.open("file:///after.lua", "Agent.")
        res = c.request("textDocument/completion", {"textDocument": {"uri": "file:///after.lua"},
                                                    "position": {"line": 0, "character": 6}}, timeout=20)
        assert "builder" in [i["label"] for i in res["items"]]
    finally:
        c.close()


def test_unsupported_methods_answer_method_not_found_without_a_traceback(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from lsp.rpc import RpcClient

    log = tmp_path / "server.log"
    c = RpcClient([sys.executable, "-m", "llmspell_ls", "--log-file", str(log)])
    try:
        c.initialize()
        with pytest.raises(RuntimeError, match="-32601"):
            c.request("textDocument/noSuchThing", {"textDocument": {"uri": "file:///x.lua"}}, timeout=20)
        c.notify("llmspell/noSuchNotification", {})
        c.open("file:///ok.lua", "Agent.")
        res = c.request("textDocument/completion", {"textDocument": {"uri": "file:///ok.lua"},
                                                    "position": {"line": 0, "character": 6}}, timeout=20)
        assert "builder" in [i["label"] for i in res["items"]]
    finally:
        c.close()
    text = log.read_text()
    assert "noSuchThing" in text and "Traceback" not in text


# ------------------------------------------------------------------ error tolerance (issue 12)
TOLERANCE = {
    "lua": (['local agent = Agent.builder():name("a"):build()', "{broken}",
             'local r = agent:execute({ text = "hi" })', 'Tool.execute("calculator", { input = "1" })'],
            ["Agent.", "print((", "local t = {", "local x =", 'Agent.builder():name("'], "execute", "input"),
    "js": (['const agent = Agent.builder().name("a").build();', "{broken}",
            'const r = await agent.execute({ text: "hi" });', 'await Tool.execute("calculator", { input: "1" });'],
           ["Agent.", "console.log((", "const t = {", "const x =", 'Agent.builder().name("'], "execute", "input"),
}


@pytest.mark.parametrize("ext", ["lua", "js"])
async def test_hover_and_signature_after_an_incomplete_line(client: LanguageClient, ext: str) -> None:
    lines, broken, hover_word, sig_word = TOLERANCE[ext]
    for k, b in enumerate(broken):
        uri = f"file:///h/tol{k}.{ext}"
        ls = [b if x == "{broken}" else x for x in lines]
        open_text(client, uri, "\n".join(ls) + "\n")
        h = await hover_at(client, uri, 2, ls[2].index(hover_word) + 2)
        assert h is not None and "execute" in h.contents.value, (ext, b)
        h = await hover_at(client, uri, 3, ls[3].index(hover_word) + 2)
        assert h is not None and "Tool" in h.contents.value, (ext, b)
        s = await client.text_document_signature_help_async(lsp.SignatureHelpParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=lsp.Position(line=3, character=ls[3].index(sig_word))))
        assert s is not None and "execute" in s.signatures[0].label, (ext, b)


@pytest.mark.parametrize("ext", ["lua", "js"])
async def test_typing_an_incomplete_line_keeps_later_lines_working(client: LanguageClient, ext: str) -> None:
    lines, _, hover_word, _ = TOLERANCE[ext]
    ls = [x for x in lines if x != "{broken}"]
    uri = f"file:///h/typing.{ext}"
    open_text(client, uri, "\n".join(ls) + "\n")
    await diagnostics_of(client, uri)
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangePartial(
            range=lsp.Range(start=lsp.Position(line=1, character=0), end=lsp.Position(line=1, character=0)),
            text="Agent.\n")]))
    h = await hover_at(client, uri, 2, ls[1].index(hover_word) + 2)
    assert h is not None and "execute" in h.contents.value
    assert "builder" in labels_of(await complete_at(client, uri, 1, 6))
