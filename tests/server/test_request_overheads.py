"""Per-request overheads cut for hover, definition, references and documentHighlight (issue 12): answers
serialised straight to JSON text (no lsprotocol objects, no cattrs), hover's string analysis skipped when
the tree puts the cursor inside a name, the MCP listing check done at most once a second, and an inline
computation that the machine merely preempted not sending the document's requests off the loop. Each must
give exactly the answers of the way it replaces."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from lsp_helpers import REAL_MODEL, REPO
from pygls.protocol import default_converter

from llmspell_ls import server as server_mod
from llmspell_ls.apimodel import load_index
from llmspell_ls.budget import Token
from llmspell_ls.documents import Documents
from llmspell_ls.features import hover as hover_mod
from llmspell_ls.features import navigation
from llmspell_ls.features.common import ClientOptions
from llmspell_ls.server import create_server

SPELLS = sorted((REPO / "examples").glob("*.lua"))
CONVERTER = default_converter()


@pytest.fixture(scope="module")
def index() -> Any:
    return load_index(REAL_MODEL)


def _identifier_positions(doc: Any, every: int = 1) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    stack = [doc.tree.root_node]
    while stack:
        n = stack.pop()
        if n.type == "identifier":
            r, c = n.start_point
            out.append((r, c + 1 if n.end_byte - n.start_byte > 1 else c))
        stack.extend(n.children)
    return sorted(out)[::every]


@pytest.mark.parametrize("path", SPELLS, ids=[p.name for p in SPELLS])
@pytest.mark.parametrize("enc", ["utf-16", "utf-8"])
def test_navigation_json_is_the_lsprotocol_answer_serialised(path: Any, enc: str, index: Any) -> None:
    doc = Documents().open(f"file:///w/{path.name}", path.read_text(encoding="utf-8"), 1, "lua")
    for row, col in _identifier_positions(doc, every=3):
        for spans, typed, dump in (
                (navigation.definition_spans(doc, index, row, col, enc),
                 navigation.definition(doc, index, row, col, enc), navigation.locations_json),
                (navigation.reference_spans(doc, index, row, col, enc, True),
                 navigation.references(doc, index, row, col, enc, True), navigation.locations_json),
                (navigation.highlight_spans(doc, index, row, col, enc),
                 navigation.highlights(doc, index, row, col, enc), navigation.highlights_json)):
            assert json.loads(dump(spans)) == CONVERTER.unstructure(typed), (row, col)  # type: ignore


def test_json_text_escapes_uris_and_writes_null() -> None:
    locs = [("file:///a \"b\".lua", 1, 2, 3, 4)]
    assert json.loads(navigation.locations_json(locs)) == CONVERTER.unstructure(navigation.to_locations(locs))
    assert navigation.locations_json(None) == "null" and navigation.highlights_json(None) == "null"
    assert navigation.locations_json([]) == "[]"
    h = {"contents": {"kind": "markdown", "value": 'a\n"b" \\ ü'},
         "range": {"start": {"line": 1, "character": 2}, "end": {"line": 3, "character": 4}}}
    assert hover_mod.as_json(h) == json.dumps(h, separators=(",", ":"))
    assert hover_mod.as_json(None) == "null"


@pytest.mark.parametrize("path", SPELLS, ids=[p.name for p in SPELLS])
def test_hover_inside_a_name_skips_the_string_analysis_with_the_same_answer(path: Any, index: Any,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    doc = Documents().open(f"file:///w/{path.name}", path.read_text(encoding="utf-8"), 1, "lua")
    opts = ClientOptions()
    positions = _identifier_positions(doc, every=2)
    fast = [hover_mod.hover(doc, index, r, c, opts) for r, c in positions]
    skipped = sum(hover_mod._inside_name(doc, r, doc.offset(r, c), *_word(doc, r, c)) for r, c in positions)
    assert skipped > len(positions) // 2
    monkeypatch.setattr(hover_mod, "_inside_name", lambda *a: False)
    slow = [hover_mod.hover(doc, index, r, c, opts) for r, c in positions]
    assert fast == slow


def _word(doc: Any, r: int, c: int) -> tuple[int, int]:
    from llmspell_ls.analysis.common import word_at

    return word_at(doc.text, doc.offset(r, c))


def test_no_skip_in_a_string_or_a_tree_with_errors(index: Any) -> None:
    doc = Documents().open("file:///w/s.lua", 'Tool.execute("calculator", {})\n', 1, "lua")
    off = doc.offset(0, 16)
    assert not hover_mod._inside_name(doc, 0, off, *_word(doc, 0, 16))
    got = hover_mod.hover(doc, index, 0, 16, ClientOptions())
    assert got is not None and "calculator" in got["contents"]["value"]
    broken = Documents().open("file:///w/b.lua", "local a = ((\nlocal b = Agent.builder()\n", 1, "lua")
    assert broken.tree.root_node.has_error
    assert not hover_mod._inside_name(broken, 1, broken.offset(1, 18), *_word(broken, 1, 18))


# ------------------------------------------------------------------------------------------ the loop
URI = "file:///a.lua"


@pytest.fixture
def server() -> Any:
    ls = create_server(load_index(REAL_MODEL))
    ls.docs.open(URI, "Agent.\n", 1, "lua", parse=False)
    assert ls.docs.get(URI).tree is not None
    yield ls
    ls.shutdown_work()


async def test_a_preempted_inline_computation_keeps_the_document_on_the_loop(server: Any) -> None:
    """Wall time over ``INLINE_SLOW_MS`` with little CPU (the machine ran something else meanwhile) is not
    a slow request: later requests still answer on the loop."""
    def preempted(doc: Any, token: Token) -> Any:
        time.sleep((server_mod.INLINE_SLOW_MS + 10) / 1000)
        return 1

    assert (await server.compute(URI, ("p", 0, 1), preempted, cheap=0)).value() == 1
    assert URI not in server.slow_uris


async def test_an_inline_computation_that_costs_cpu_sends_the_document_off_the_loop(server: Any) -> None:
    def busy(doc: Any, token: Token) -> Any:
        t0 = time.thread_time()
        while (time.thread_time() - t0) * 1000 < server_mod.INLINE_SLOW_MS + 5:
            pass
        return 2

    assert (await server.compute(URI, ("b", 0, 1), busy, cheap=0)).value() == 2
    assert URI in server.slow_uris


def test_the_mcp_listing_is_looked_at_most_once_a_second(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _ = server.index
    files = server._mcp_tools
    calls: list[int] = []
    monkeypatch.setattr(files, "refresh", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(server_mod.LlmspellServer, "workspace", type("W", (), {"folders": {}, "root_path": "/w"})())
    monkeypatch.setattr(files, "_checked", time.monotonic())  # looked just now
    assert not files.due()
    for _ in range(100):
        _ = server.index
    assert calls == []
    monkeypatch.setattr(files, "_checked", 0.0)
    _ = server.index
    assert calls == [1]


# ------------------------------------------------------------------------------------------ frames
class _Wire:
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


def _frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def test_frames_are_read_as_before_ids_bom_and_unicode(server: Any) -> None:
    """The stdin frame reader parses a message once (no object hook per dict): integer and string ids,
    a body with a UTF-8 BOM and non-ASCII text are answered as the ordinary path answers them."""
    import asyncio

    from llmspell_ls.server import FrameReader

    wire = _Wire()
    server.protocol.set_writer(wire)
    server.docs.open(URI, "local ünï = 1\nprint(ünï)\n", 2, "lua")
    reader = FrameReader(server.protocol, asyncio.get_running_loop().create_future())
    params = {"textDocument": {"uri": URI}, "position": {"line": 1, "character": 7}}
    for mid in (7, "seven"):
        body = json.dumps({"jsonrpc": "2.0", "id": mid, "method": "textDocument/definition", "params": params},
                          ensure_ascii=False).encode()
        reader.data_received(_frame(body))
    reader.data_received(_frame(b"\xef\xbb\xbf" + json.dumps(
        {"jsonrpc": "2.0", "id": 9, "method": "textDocument/references",
         "params": {**params, "context": {"includeDeclaration": True}}}).encode()))
    got = {m["id"]: m["result"] for m in wire.messages()}
    want = [{"uri": URI, "range": {"start": {"line": 0, "character": 6}, "end": {"line": 0, "character": 9}}}]
    assert got[7] == got["seven"] == want
    assert [r["range"]["start"]["line"] for r in got[9]] == [0, 1]
