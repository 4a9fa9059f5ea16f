"""The protocol's fast path (``LlmspellServer.fast_paths``): a request whose answer is cached or cheap is
answered while its message is handled — no cattrs structuring, no task — with exactly the answer the
ordinary handler gives; anything else (malformed params, a document not parsed yet, a slow walk) takes
the ordinary path."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from lsp_helpers import REAL_MODEL

from llmspell_ls.apimodel import load_index
from llmspell_ls.server import create_server

URI = "file:///fast.lua"
SPELL = """local b = Agent.builder():name("w")
local agent = b:build()
local r = agent:execute({ text = "hi" })
print(r, agent)
Agent.
"""


class Wire:
    """Collects what the server writes (frames) and parses the JSON bodies."""

    def __init__(self) -> None:
        self.raw = b""

    def write(self, data: bytes) -> None:
        self.raw += data

    def messages(self) -> list[dict[str, Any]]:
        out, rest = [], self.raw
        while rest:
            head, _, rest = rest.partition(b"\r\n\r\n")
            n = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            out.append(json.loads(rest[:n]))
            rest = rest[n:]
        return out


@pytest.fixture
def server() -> Any:
    ls = create_server(load_index(REAL_MODEL))
    wire = Wire()
    ls.protocol.set_writer(wire)
    ls.wire = wire
    yield ls
    ls.shutdown_work()


def send(ls: Any, msg: dict[str, Any]) -> None:
    """As the stdin loop does: parse with the protocol's object hook, then handle."""
    ls.protocol.handle_message(json.loads(json.dumps(msg), object_hook=ls.protocol.structure_message))


def request(mid: int, method: str, line: int, ch: Any, **extra: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": mid, "method": method,
            "params": {"textDocument": {"uri": URI}, "position": {"line": line, "character": ch}, **extra}}


CASES = [("textDocument/completion", 4, 6, {}), ("textDocument/hover", 1, 20, {}),
         ("textDocument/definition", 3, 10, {}),
         ("textDocument/references", 1, 7, {"context": {"includeDeclaration": True}}),
         ("textDocument/documentHighlight", 2, 11, {}), ("textDocument/signatureHelp", 0, 33, {})]


@pytest.mark.parametrize(("method", "line", "ch", "extra"), CASES, ids=[c[0].split("/")[1] for c in CASES])
async def test_a_cheap_request_is_answered_while_its_message_is_handled(server: Any, method: str, line: int,
                                                                        ch: int, extra: dict[str, Any]) -> None:
    server.docs.open(URI, SPELL, 1, "lua")  # parsed, as after the first diagnostics pass
    send(server, request(1, method, line, ch, **extra))
    msgs = server.wire.messages()  # no await: nothing else ran on the loop
    assert [m.get("id") for m in msgs] == [1]
    fast = msgs[0]["result"]
    assert fast  # a real answer (items, a hover, locations)
    # the ordinary handler, on a fresh copy of the document (no shared cache), answers the same
    server.fast_paths.clear()
    server.docs.open(URI, SPELL, 2, "lua")
    send(server, request(2, method, line, ch, **extra))
    for _ in range(200):
        await asyncio.sleep(0.005)
        if len(server.wire.messages()) == 2:
            break
    assert server.wire.messages()[1]["result"] == fast


async def test_completion_items_come_from_the_fast_path(server: Any) -> None:
    server.docs.open(URI, SPELL, 1, "lua")
    send(server, request(1, "textDocument/completion", 4, 6))
    labels = [i["label"] for i in server.wire.messages()[0]["result"]["items"]]
    assert "builder" in labels


async def test_malformed_params_take_the_ordinary_path_and_get_invalid_params(server: Any) -> None:
    server.docs.open(URI, SPELL, 1, "lua")
    send(server, request(1, "textDocument/hover", 0, -3))
    send(server, request(2, "textDocument/completion", 0, "x"))
    msgs = server.wire.messages()
    assert [m["error"]["code"] for m in msgs] == [-32602, -32602]


async def test_a_document_not_parsed_yet_is_answered_off_the_loop(server: Any) -> None:
    server.docs.open(URI, SPELL, 1, "lua", parse=False)  # as didOpen leaves it: the parse is not done here
    send(server, request(1, "textDocument/definition", 3, 10))
    assert server.wire.messages() == []  # not answered synchronously
    for _ in range(400):
        await asyncio.sleep(0.005)
        if server.wire.messages():
            break
    loc = server.wire.messages()[0]["result"]
    assert loc == [{"uri": URI, "range": {"start": {"line": 1, "character": 6},
                                          "end": {"line": 1, "character": 11}}}]


async def test_a_document_not_open_answers_empty(server: Any) -> None:
    send(server, request(1, "textDocument/references", 0, 0, context={"includeDeclaration": False}))
    assert server.wire.messages()[0]["result"] == []
