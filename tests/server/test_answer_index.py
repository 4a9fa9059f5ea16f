"""The answer index (features/answer_index.py): built per version in slices on the loop, it answers hover
on an identifier and completion on a member name with exactly the text the ordinary functions give, at
every cursor it claims (every column of every identifier of every example, Lua and JS, and of the
benchmark's 5,000-line spell, UTF-8 and UTF-16); anything else is not indexed (the ordinary path answers)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest
from lsp_helpers import REAL_MODEL, REPO

from llmspell_ls.apimodel import load_index
from llmspell_ls.documents import Documents
from llmspell_ls.features import answer_index
from llmspell_ls.features.common import ClientOptions, col_to_client
from llmspell_ls.features.completion import completion
from llmspell_ls.features.hover import as_json, hover
from llmspell_ls.server import create_server

SPELLS = sorted([*(REPO / "examples").glob("*.lua"), *(REPO / "examples").glob("*.js")])
sys.path.insert(0, str(REPO / "benchmarks"))


@pytest.fixture(scope="module")
def index() -> Any:
    return load_index(REAL_MODEL)


@pytest.fixture(autouse=True)
def unhurried(monkeypatch: Any) -> None:
    """No time limits: what a build indexes must not depend on how loaded the machine is (the limits have
    their own test)."""
    monkeypatch.setattr(answer_index, "NODE_BUDGET_MS", 1e6)
    monkeypatch.setattr(answer_index, "BUILD_BUDGET_S", 1e6)


def built(doc: Any, index: Any, opts: ClientOptions) -> answer_index.Index:
    for _ in answer_index.build(doc, index, opts):
        pass
    return doc.cache[answer_index.key(opts)]  # type: ignore[no-any-return]


def leaves(doc: Any) -> list[Any]:
    out, stack = [], [doc.tree.root_node]
    while stack:
        n = stack.pop()
        if not n.child_count:
            out.append(n)
        stack.extend(n.children)
    return out


def check(doc: Any, index: Any, opts: ClientOptions, every_column: bool) -> tuple[int, int]:
    """Every cursor on every leaf (one or every column): an indexed answer equals the ordinary one."""
    built(doc, index, opts)
    lang = "lua" if doc.uri.endswith(".lua") else "javascript"
    fresh = Documents().open(doc.uri, doc.text, doc.version, lang)  # the ordinary answers, own caches
    nh = nc = 0
    for node in leaves(doc):
        row, c0 = node.start_point
        if node.end_point[0] != row:
            continue
        line_text = doc.line(row)
        s = doc.byte_to_col(row, c0)
        e = doc.byte_to_col(row, node.end_point[1])
        cols = range(s, e + 1) if every_column else sorted({s, min(s + 1, e), e})
        for col in cols:
            ch = col_to_client(line_text, col, opts.encoding)
            h = answer_index.lookup_hover(doc, row, ch, opts)
            if h is not None:
                nh += 1
                assert h == as_json(hover(fresh, index, row, ch, opts)), ("hover", row, col)
            c = answer_index.lookup_completion(doc, row, ch, opts)
            if c is not None:
                nc += 1
                assert c == completion(fresh, index, row, ch, opts).text, ("completion", row, col)
    return nh, nc


VSCODE = ClientOptions()
NEOVIM = ClientOptions(snippets=False, resolve_docs=True, deprecated_tag=False, deprecated_flag=True)


@pytest.mark.parametrize("path", SPELLS, ids=[p.name for p in SPELLS])
@pytest.mark.parametrize("enc", ["utf-16", "utf-8"])
def test_indexed_answers_are_the_ordinary_answers(path: Any, enc: str, index: Any) -> None:
    text = path.read_text(encoding="utf-8")
    lang = "lua" if path.suffix == ".lua" else "javascript"
    doc = Documents().open(f"file:///w/{path.name}", text, 1, lang)
    nh, nc = check(doc, index, ClientOptions(encoding=enc), every_column=True)
    if not doc.tree.root_node.has_error:
        assert nh > 0
        if "Agent." in text or "Tool." in text:
            assert nc > 0


@pytest.mark.parametrize("opts", [VSCODE, NEOVIM], ids=["vscode", "neovim"])
def test_client_options_are_part_of_the_answers(opts: ClientOptions, index: Any) -> None:
    path = REPO / "examples" / "first_agent.lua"
    doc = Documents().open("file:///w/first_agent.lua", path.read_text(encoding="utf-8"), 1, "lua")
    nh, nc = check(doc, index, opts, every_column=True)
    assert nh > 0 and nc > 0


@pytest.mark.parametrize("enc", ["utf-16", "utf-8"])
def test_a_generated_5000_line_spell_with_non_ascii_text(enc: str, index: Any) -> None:
    from lsp.corpus import examples_spell

    text = examples_spell(5000).replace('print("', 'print("é€😀')  # wide characters before names on a line
    doc = Documents().open("file:///w/spell5k.lua", text, 1, "lua")
    assert not doc.tree.root_node.has_error
    nh, nc = check(doc, index, ClientOptions(encoding=enc), every_column=False)
    assert nh > 5000 and nc > 1000


def test_the_benchmark_positions_are_indexed(index: Any) -> None:
    from bench_lsp_depth import positions
    from lsp.corpus import examples_spell

    text = examples_spell(5000)
    doc = Documents().open("file:///w/spell5k.lua", text, 1, "lua")
    opts = ClientOptions()
    built(doc, index, opts)
    pos = positions(text)
    assert all(answer_index.lookup_completion(doc, r, c, opts) is not None for r, c in pos["completion"])
    assert all(answer_index.lookup_hover(doc, r, c, opts) is not None for r, c in pos["hover"])


def test_a_document_with_a_syntax_error_is_not_indexed(index: Any) -> None:
    doc = Documents().open("file:///w/e.lua", "local a = Agent.builder()\nprint(a\nlocal = \n", 1, "lua")
    idx = built(doc, index, ClientOptions())
    assert not idx.hover and not idx.members
    assert answer_index.lookup_hover(doc, 0, 7, ClientOptions()) is None


def test_cursors_outside_names_are_not_indexed(index: Any) -> None:
    text = 'local s = "Agent.builder"\nlocal a = Agent.builder()\nlocal n = a .. b\n-- Agent.builder\n'
    doc = Documents().open("file:///w/o.lua", text, 1, "lua")
    opts = ClientOptions()
    idx = built(doc, index, opts)
    assert idx.members  # Agent.builder on line 1
    for row, col in [(0, 11), (0, 17), (2, 15), (3, 9), (1, 15)]:  # string, concatenation, comment, the dot
        assert answer_index.lookup_completion(doc, row, col, opts) is None
    assert answer_index.lookup_hover(doc, 3, 5, opts) is None
    assert answer_index.lookup_completion(doc, 1, 16, opts) is not None


def _bodies(wire: list[bytes]) -> list[Any]:
    raw, bodies = b"".join(wire), []
    while raw:
        head, _, raw = raw.partition(b"\r\n\r\n")
        n = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        bodies.append(json.loads(raw[:n]))
        raw = raw[n:]
    return bodies


async def test_the_server_builds_the_index_after_opening_and_answers_from_it(index: Any) -> None:
    ls = create_server(index)
    wire: list[bytes] = []
    ls.protocol.set_writer(type("W", (), {"write": lambda self, b: wire.append(b)})())
    uri, text = "file:///w/a.lua", (REPO / "examples" / "first_agent.lua").read_text(encoding="utf-8")
    try:
        ls.open_document(uri, text, 1, "lua")
        answer_index.schedule(ls, uri)
        doc = ls.docs.get(uri)
        assert doc is not None
        doc.tree  # noqa: B018  (parsed, as by the diagnostics pass)
        for _ in range(500):
            if ("_answer_index_done", ls.options) in doc.cache:
                break
            await asyncio.sleep(0.01)
        idx = doc.cache[answer_index.key(ls.options)]
        assert idx.members and idx.hover
        row = next(i for i, ln in enumerate(text.split("\n")) if "Agent." in ln)
        col = text.split("\n")[row].index("Agent.") + 6
        want = answer_index.lookup_completion(doc, row, col, ls.options)
        assert want is not None
        assert ("resp", "completion", row, col) not in doc.cache  # not an ordinary cached answer
        msg = {"jsonrpc": "2.0", "id": 7, "method": "textDocument/completion",
               "params": {"textDocument": {"uri": uri}, "position": {"line": row, "character": col}}}
        ls.protocol.handle_message(json.loads(json.dumps(msg), object_hook=ls.protocol.structure_message))
        await asyncio.sleep(0.05)
        body = next(b for b in _bodies(wire) if b.get("id") == 7)
        assert body["result"] == json.loads(want)
        assert ("resp", "completion", row, col) not in doc.cache  # answered from the index
    finally:
        ls.shutdown_work()


async def test_a_newer_version_supersedes_the_build(index: Any) -> None:
    ls = create_server(index)
    uri, text = "file:///w/a.lua", (REPO / "examples" / "first_agent.lua").read_text(encoding="utf-8")
    try:
        ls.open_document(uri, text, 1, "lua")
        answer_index.schedule(ls, uri)
        old = ls.docs.get(uri)
        ls.docs.change(uri, text + "\n", 2)
        new = ls.docs.get(uri)
        new.tree  # noqa: B018
        await asyncio.sleep(answer_index.START_DELAY_S + 0.2)
        assert answer_index.key(ls.options) not in old.cache
        assert answer_index.key(ls.options) not in new.cache  # no build was scheduled for it
    finally:
        ls.shutdown_work()


def test_a_build_over_its_budget_keeps_correct_entries(index: Any, monkeypatch: Any) -> None:
    from lsp.corpus import examples_spell

    monkeypatch.setattr(answer_index, "BUILD_BUDGET_S", 0.01)
    doc = Documents().open("file:///w/spell5k.lua", examples_spell(5000), 1, "lua")
    opts = ClientOptions()
    idx = built(doc, index, opts)
    assert ("_answer_index_done", opts) in doc.cache
    assert 0 < len(idx.members) < 3000
    fresh = Documents().open(doc.uri, doc.text, 1, "lua")
    text = doc.text
    for s in list(idx.members)[:50]:
        row = text.count("\n", 0, s)
        col = s - (text.rfind("\n", 0, s) + 1)
        assert answer_index.lookup_completion(doc, row, col, opts) == completion(fresh, index, row, col, opts).text
