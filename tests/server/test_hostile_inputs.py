"""Hostile inputs get answers (correct for what they cover) instead of stalls: no pass over a document
is quadratic in a line's length, and requests on a huge document answer from what is parsed so far."""

from __future__ import annotations

import pytest

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.documents import Documents
from llmspell_ls.features import undefined

LONG = 300_000


@pytest.mark.parametrize(("lang", "text"), [
    ("javascript", "x" * LONG),                       # a word: every start of it was tried (arrow params)
    ("javascript", "a, " * (LONG // 3)),
    ("lua", "a, " * (LONG // 3)),                     # a comma list without "=" (the `a, b =` form)
    ("lua", "x" * LONG),
    ("lua", "local " + "a " * (LONG // 2)),
])
def test_undefined_global_passes_are_linear_on_long_lines(lang: str, text: str) -> None:
    """Quadratic look-arounds took minutes on such lines (hours at 1 MB): with pytest's timeout this
    test fails unless the regex passes over a slice are linear."""
    heads = set(undefined._HEAD[lang].findall(text))
    bound = undefined._bound_names(text, lang)
    assert "a" not in heads and "x" not in heads  # nothing here is indexed as a table
    assert ("a" in bound) == text.startswith("local")


def test_bindings_in_comma_lists_still_count(index: ApiIndex) -> None:
    doc = Documents().open("file:///b.lua", "a, b = {}, {}\nprint(a.x, b.y, Foo.z)\n", 1, "lua")
    assert [d["message"] for d in undefined.undefined_globals(doc, index, "utf-16")] == ["undefined global 'Foo'"]


def test_arrow_parameters_still_count(index: ApiIndex) -> None:
    doc = Documents().open("file:///b.js", "const f = p => p.x + Foo.y;\nconst g = (q) => q.z;\n", 1, "javascript")
    assert [d["message"] for d in undefined.undefined_globals(doc, index, "utf-16")] == ["undefined global 'Foo'"]


def test_a_statement_of_megabytes_gets_no_guesses(index: ApiIndex) -> None:
    text = "local t = {" + "a = Foo.x, " * 30_000 + "}\n"  # parses fast (a valid table)
    doc = Documents().open("file:///m.lua", text, 1, "lua")
    assert len(text) > undefined.SLICE_SKIP_CHARS
    assert undefined.undefined_globals(doc, index, "utf-16") == []


# ------------------------------------------------------------------ requests on huge / hostile documents
import asyncio  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from lsp_helpers import REAL_MODEL, REPO  # noqa: E402

from llmspell_ls import server as server_mod  # noqa: E402
from llmspell_ls.apimodel import load_index  # noqa: E402
from llmspell_ls.budget import Cancelled, Token, running  # noqa: E402
from llmspell_ls.documents import WINDOW_MIN_BYTES, parse_source  # noqa: E402
from llmspell_ls.features import navigation, semantic_tokens  # noqa: E402
from llmspell_ls.features.common import ClientOptions  # noqa: E402
from llmspell_ls.features.completion import completion  # noqa: E402
from llmspell_ls.features.hover import hover  # noqa: E402
from llmspell_ls.server import create_server  # noqa: E402

BLOCK = 'local b{i} = Agent.builder():name("n{i}")\nlocal a{i} = b{i}:build()\nprint(a{i})\n'
HUGE = "".join(BLOCK.format(i=i) for i in range(20_000)) + "Agent.\n"  # 60,000 lines, ~1.4 MB
LAST = HUGE.count("\n") - 1


def test_a_window_has_the_documents_positions_and_only_its_lines(index: ApiIndex) -> None:
    doc = Documents().open("file:///huge.lua", HUGE, 1, "lua", parse=False)
    w = doc.window(LAST, 6)
    assert not doc.parsed  # the document itself is still unparsed
    root = w.tree.root_node
    assert root.start_point[0] >= LAST - 400 and root.end_point[0] <= LAST + 1
    labels = [i["label"] for i in completion(w, index, LAST, 6, ClientOptions()).value()["items"]]
    assert "builder" in labels
    # hover on a line inside the window: the same answer as on the whole document
    row = LAST - 2  # ``local a19999 = b19999:build()``
    col = HUGE.split("\n")[row].index("build") + 1
    whole = Documents().open("file:///huge2.lua", HUGE, 1, "lua")
    got_hover = hover(w, index, row, col, ClientOptions())
    assert got_hover is not None and got_hover == hover(whole, index, row, col, ClientOptions())
    # references of ``b19999``: its uses inside the window, which are all of them for a local declared there
    got = navigation.references(w, index, row - 1, 7, "utf-16", True) or []
    assert [(r.range.start.line, r.range.start.character) for r in got] == [(row - 1, 6), (row, 15)]


def test_a_parse_stops_when_the_requests_budget_is_spent() -> None:
    src = ("local " + "a " * 20_000).encode()  # tree-sitter-lua needs seconds to recover from this
    token = Token(30)
    with running(token), pytest.raises(Cancelled):
        parse_source("lua", src)
    assert parse_source("lua", b"local x = 1").root_node.type == "chunk"  # the parser is usable again


def test_semantic_tokens_over_budget_answer_a_prefix_and_keep_their_progress(index: ApiIndex) -> None:
    text = "".join(BLOCK.format(i=i) for i in range(3000))
    full = semantic_tokens.semantic_tokens_full(Documents().open("file:///s0.lua", text, 1, "lua"), index,
                                                "utf-16").data
    docs = Documents()
    doc = docs.open("file:///s.lua", text, 1, "lua")
    sizes = []
    for _ in range(200):
        token = Token(20)
        with running(token):
            got = semantic_tokens.semantic_tokens_full(doc, index, "utf-16").data
        assert list(got) == list(full[:len(got)])  # a prefix of the document's tokens
        sizes.append(len(got))
        if not token.cancelled:  # complete (and cached from now on)
            break
    assert sizes[-1] == len(full)
    assert len(sizes) == 1 or sizes[0] < sizes[-1]


@pytest.fixture
def server() -> Any:
    ls = create_server(load_index(REAL_MODEL))
    yield ls
    ls.shutdown_work()


async def test_the_first_request_on_a_huge_unparsed_document_answers_from_a_window(server: Any) -> None:
    uri = "file:///huge.lua"
    assert len(HUGE) >= WINDOW_MIN_BYTES
    server.docs.open(uri, HUGE, 1, "lua", parse=False)  # as didOpen leaves it
    res = await server.compute(uri, ("completion", LAST, 6),
                               lambda doc, _t: completion(doc, server.index, LAST, 6, server.options),
                               cheap=LAST, window=(LAST, 6, 400, 40))
    assert "builder" in [i["label"] for i in res.value()["items"]]
    doc = server.docs.get(uri)
    assert not doc.parsed  # the request did not wait for (or do) the whole parse
    assert ("window", "resp", "completion", LAST, 6) in doc.cache and ("resp", "completion", LAST, 6) not in doc.cache


async def test_no_request_budget_exceeds_the_deadline(server: Any) -> None:
    server.docs.open("file:///a.lua", "Agent.\n", 1, "lua")
    seen: list[float] = []

    def fn(doc: Any, token: Token) -> Any:
        assert token.deadline is not None
        seen.append(token.deadline - time.monotonic())
        return 1

    await server.compute("file:///a.lua", ("d",), fn, budget_ms=1000)
    assert seen[0] <= (server_mod.REQUEST_DEADLINE_MS - server_mod.DEADLINE_MARGIN_MS) / 1000
    await server.compute("file:///a.lua", ("r",), fn, budget_ms=1000, deadline_ms=None)  # rename opts out
    assert seen[1] > 0.5


def test_pull_diagnostics_of_a_huge_document_answer_server_cancelled_then_the_report() -> None:
    """A pull is never held while a huge document's pass runs: ServerCancelled with retriggerRequest,
    asked again (as VS Code and Neovim do) until the full report."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from lsp.gen import generate
    from lsp.rpc import RpcClient

    caps = {"textDocument": {"diagnostic": {"dynamicRegistration": False}}, "workspace": {}}
    c = RpcClient([sys.executable, "-m", "llmspell_ls"])
    try:
        c.initialize(capabilities=caps)
        c.open("file:///big.lua", generate("lua", 60_000).text + "\nlocal z = Agent.bulder()\n")
        errors = 0
        for _ in range(2000):
            try:
                rep = c.request("textDocument/diagnostic", {"textDocument": {"uri": "file:///big.lua"}}, timeout=30)
                break
            except RuntimeError as e:
                assert "-32802" in str(e) and "retriggerRequest" in str(e)
                errors += 1
        assert errors > 0  # the pass takes longer than one pull may wait
        assert "unknown-member" in [d.get("code") for d in rep["items"]]
    finally:
        c.close()


_ = (asyncio, threading)
