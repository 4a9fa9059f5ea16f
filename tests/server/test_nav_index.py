"""The navigation index (features/nav_index.py): built per version in slices on the loop, it answers
definition, references (with and without the declaration) and documentHighlight on a Lua local's
identifier with exactly the text the ordinary functions give (every identifier of every example and of a
generated 5,000-line spell, UTF-8 and UTF-16); anything else is not indexed (the ordinary path answers)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest
from lsp_helpers import REAL_MODEL, REPO

from llmspell_ls.apimodel import load_index
from llmspell_ls.documents import Documents
from llmspell_ls.features import nav_index, navigation
from llmspell_ls.server import create_server

SPELLS = sorted((REPO / "examples").glob("*.lua"))
sys.path.insert(0, str(REPO / "benchmarks"))


@pytest.fixture(scope="module")
def index() -> Any:
    return load_index(REAL_MODEL)


def built(doc: Any, index: Any, enc: str) -> dict[int, Any]:
    for _ in nav_index.build(doc, index, enc):
        pass
    return doc.cache[nav_index.key(enc)]  # type: ignore[no-any-return]


def identifiers(doc: Any) -> list[Any]:
    out, stack = [], [doc.tree.root_node]
    while stack:
        n = stack.pop()
        if n.type == "identifier":
            out.append(n)
        stack.extend(n.children)
    return out


def ordinary(doc: Any, index: Any, line: int, ch: int, enc: str) -> tuple[str, str, str, str]:
    return (navigation.locations_json(navigation.definition_spans(doc, index, line, ch, enc)),
            navigation.locations_json(navigation.reference_spans(doc, index, line, ch, enc, True)),
            navigation.locations_json(navigation.reference_spans(doc, index, line, ch, enc, False)),
            navigation.highlights_json(navigation.highlight_spans(doc, index, line, ch, enc)))


def check(doc: Any, index: Any, enc: str, every_column: bool) -> int:
    built(doc, index, enc)
    fresh = Documents().open(doc.uri, doc.text, doc.version, "lua")  # the ordinary answers, own caches
    n = 0
    for node in identifiers(doc):
        row, c0 = node.start_point
        one = c0 + 1 if node.end_byte - node.start_byte > 1 else c0
        cols = range(c0, node.end_point[1] + 1) if every_column else [one]
        for bcol in cols:
            line, ch = navigation.point_at(doc, row, bcol, enc)
            got = [nav_index.lookup(doc, line, ch, enc, w) for w in range(4)]
            if got[0] is None:
                continue
            n += 1
            assert tuple(got) == ordinary(fresh, index, line, ch, enc), (row, bcol)
    return n


@pytest.mark.parametrize("path", SPELLS, ids=[p.name for p in SPELLS])
@pytest.mark.parametrize("enc", ["utf-16", "utf-8"])
def test_indexed_answers_are_the_ordinary_answers(path: Any, enc: str, index: Any) -> None:
    text = path.read_text(encoding="utf-8")
    doc = Documents().open(f"file:///w/{path.name}", text, 1, "lua")
    n = check(doc, index, enc, every_column=True)
    if "local " in text and not doc.tree.root_node.has_error:
        assert n > 0


def test_every_local_is_indexed_and_nothing_else(index: Any) -> None:
    for path in SPELLS:
        doc = Documents().open(f"file:///w/{path.name}", path.read_text(encoding="utf-8"), 1, "lua")
        if doc.tree.root_node.has_error:
            continue
        idx = built(doc, index, "utf-16")
        for node in identifiers(doc):
            row, c0 = node.start_point
            line, ch = navigation.point_at(doc, row, c0 + 1 if node.end_byte - node.start_byte > 1 else c0, "utf-16")
            t = navigation.target_at(doc, index, line, ch, "utf-16")
            local = t is not None and t.kind == "local" and t.start == node.start_byte
            assert (node.start_byte in idx) == local, (path.name, row, c0)


@pytest.mark.parametrize("enc", ["utf-16", "utf-8"])
def test_a_generated_5000_line_spell_with_non_ascii_text(enc: str, index: Any) -> None:
    from lsp.corpus import examples_spell

    text = examples_spell(5000).replace('print("', 'print("é€😀')  # wide characters before names on a line
    doc = Documents().open("file:///w/spell5k.lua", text, 1, "lua")
    assert not doc.tree.root_node.has_error
    assert check(doc, index, enc, every_column=False) > 1000


def test_a_document_with_a_syntax_error_is_not_indexed(index: Any) -> None:
    doc = Documents().open("file:///w/e.lua", "local a = 1\nprint(a\nlocal = \n", 1, "lua")
    assert built(doc, index, "utf-16") == {}


async def test_the_server_builds_the_index_after_opening_and_answers_from_it(index: Any) -> None:
    ls = create_server(index)
    wire: list[bytes] = []
    ls.protocol.set_writer(type("W", (), {"write": lambda self, b: wire.append(b)})())
    uri, text = "file:///w/a.lua", (SPELLS[0]).read_text(encoding="utf-8")
    try:
        ls.open_document(uri, text, 1, "lua")
        nav_index.schedule(ls, uri)
        doc = ls.docs.get(uri)
        assert doc is not None
        doc.tree  # noqa: B018  (parsed, as by the diagnostics pass)
        for _ in range(200):
            if nav_index.key(ls.options.encoding) in doc.cache:
                break
            await asyncio.sleep(0.01)
        idx = doc.cache[nav_index.key(ls.options.encoding)]
        assert idx
        start = next(iter(idx))
        row = text.encode()[:start].count(b"\n")
        col = start - (text.encode().rfind(b"\n", 0, start) + 1)
        msg = {"jsonrpc": "2.0", "id": 7, "method": "textDocument/references",
               "params": {"textDocument": {"uri": uri}, "position": {"line": row, "character": col},
                          "context": {"includeDeclaration": True}}}
        ls.protocol.handle_message(json.loads(json.dumps(msg), object_hook=ls.protocol.structure_message))
        raw, bodies = b"".join(wire), []
        while raw:
            head, _, raw = raw.partition(b"\r\n\r\n")
            n = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            bodies.append(json.loads(raw[:n]))
            raw = raw[n:]
        body = next(b for b in bodies if b.get("id") == 7)
        assert body["id"] == 7 and body["result"] == json.loads(idx[start][nav_index.REFS])
    finally:
        ls.shutdown_work()


def test_a_build_on_a_pathological_document_is_bounded_and_keeps_correct_entries(index: Any, monkeypatch: Any) -> None:
    import time

    # one top-level local used 10,000 times: each use's declaration walk is long (quadratic in all)
    monkeypatch.setattr(nav_index, "BUILD_BUDGET_S", 0.3)
    doc = Documents().open("file:///w/p.lua", "local x = 1\n" + "print(x, x)\n" * 5000, 1, "lua")
    doc.tree  # noqa: B018
    t0 = time.perf_counter()
    idx = built(doc, index, "utf-16")
    assert time.perf_counter() - t0 < 0.3 + 0.5
    fresh = Documents().open(doc.uri, doc.text, 1, "lua")
    for start in list(idx)[:: max(1, len(idx) // 20)]:
        row = doc.source[:start].count(b"\n")
        col = start - (doc.source.rfind(b"\n", 0, start) + 1)
        assert idx[start] == ordinary(fresh, index, row, col, "utf-16")


async def test_a_newer_version_supersedes_the_build(index: Any) -> None:
    ls = create_server(index)
    uri = "file:///w/v.lua"
    try:
        ls.open_document(uri, "local a = 1\nprint(a)\n", 1, "lua")
        nav_index.schedule(ls, uri)
        old = ls.docs.get(uri)
        assert old is not None
        old.tree  # noqa: B018
        ls.docs.open(uri, "local b = 2\nprint(b)\n", 2, "lua")  # a new version (as didChange makes)
        nav_index.schedule(ls, uri)
        new = ls.docs.get(uri)
        assert new is not None and new is not old
        for _ in range(200):
            if nav_index.key(ls.options.encoding) in new.cache:
                break
            await asyncio.sleep(0.01)
        assert new.cache[nav_index.key(ls.options.encoding)]
        assert nav_index.key(ls.options.encoding) not in old.cache
    finally:
        ls.shutdown_work()
