"""A per-version index of the answers of hover and member completion, built in the background.

The sibling of :mod:`~llmspell_ls.features.nav_index` (same scheduling: after a document is opened or
changed and parsed, :func:`build` runs on the event loop in slices of at most ``SLICE_MS``, while the
client is quiet; a newer version supersedes it). It records the JSON text the ordinary functions
(:func:`~llmspell_ls.features.hover.hover`, :func:`~llmspell_ls.features.completion.completion`) answer,
computed by those very functions, so a request's first visit to a position (a cache miss) costs a dict
lookup. A cursor anywhere else, or a version whose index is not ready, takes the ordinary path.

- Hover: one entry per identifier (``s``..``e`` in string offsets) of a tree without syntax errors. For a
  cursor strictly inside an identifier the ordinary answer is a function of the word alone (the cursor is
  on a name, never in a string), so one entry serves every such cursor.
- Completion: one entry per member name right after its ``.`` / ``:`` (``a.b``, ``a:b``, JS ``a.b``) whose
  context is a member access. The answer there is a function of the receiver (the chain before the
  separator) and of whether the character after the cursor asks for parentheses (``with_parens``): an
  entry keeps the answer for each such value met on the name (at its start and at its end).

Before the first document's build, :func:`warm_model` fills the model-wide caches (member item lists per
type and separator, global items, the markdown of every API function and global), so the first request
for a type after start-up does not pay for them either.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from llmspell_ls.budget import Cancelled, Token, running
from llmspell_ls.server import LAST_READ

if TYPE_CHECKING:
    from llmspell_ls.apimodel import ApiIndex
    from llmspell_ls.documents import DocState
    from llmspell_ls.features.common import ClientOptions

log = logging.getLogger(__name__)

MAX_DOC_CHARS = 600_000
"""Larger documents are not indexed (their requests take the ordinary path)."""
MAX_NODES = 2_000_000
MAX_ENTRIES = 200_000
MAX_WORD = 200
"""Longer names are not indexed (and a lookup scans back at most this far)."""
MAX_LINE_CHARS = 2_000
"""A cursor on a longer line is not looked up (the ordinary path, with its own limits)."""
SLICE_MS = 1.0
NODE_BUDGET_MS = 5.0
MAX_SLOW_NODES = 12
"""A build stops after that many identifiers over ``NODE_BUDGET_MS`` (or ``BUILD_BUDGET_S`` in all)."""
BUILD_BUDGET_S = 3.0
START_DELAY_S = 0.25
WAIT_PARSE_S = 0.05
MAX_WAIT_PARSE_S = 60.0
QUIET_S = 0.01

MEMBER_PARENTS = {"lua": {"dot_index_expression": "field", "method_index_expression": "method"},
                  "javascript": {"member_expression": "property"}}
"""Parent node type -> the field holding the member name."""


class Index:
    __slots__ = ("hover", "members")

    def __init__(self) -> None:
        self.hover: dict[int, tuple[int, str]] = {}
        """Identifier start (string offset) -> (its end, the hover JSON)."""
        self.members: dict[int, tuple[int, dict[bool, str]]] = {}
        """Member name start (right after the separator) -> (its end, with_parens -> completion JSON)."""


def key(opts: ClientOptions) -> tuple[str, Any]:
    return ("_answer_index", opts)


def _word_start(text: str, o: int) -> int:
    s, lim = o, max(0, o - MAX_WORD)
    while s > lim and (text[s - 1].isalnum() or text[s - 1] in "_$"):
        s -= 1
    return s


def _with_parens(text: str, o: int) -> bool:
    nxt = text[o:o + 1]
    return nxt != "(" and not (nxt.isalnum() or nxt == "_")


def _offset(doc: DocState, line: int, ch: int, opts: ClientOptions) -> int | None:
    from llmspell_ls.features.common import offset_of

    if not doc.parsed or line >= len(doc.lines) or len(doc.line(line)) > MAX_LINE_CHARS:
        return None
    return offset_of(doc, line, ch, opts.encoding)


def lookup_hover(doc: DocState, line: int, ch: int, opts: ClientOptions) -> str | None:
    """The indexed hover answer (JSON text) at a cursor, or None (the ordinary path answers)."""
    idx = doc.cache.get(key(opts))
    if not idx:
        return None
    o = _offset(doc, line, ch, opts)
    if o is None:
        return None
    s = _word_start(doc.text, o)
    got = idx.hover.get(s)
    if got is None or not s < o < got[0]:
        return None
    return got[1]


def lookup_completion(doc: DocState, line: int, ch: int, opts: ClientOptions) -> str | None:
    """The indexed completion answer (JSON text) at a cursor, or None (the ordinary path answers)."""
    idx = doc.cache.get(key(opts))
    if not idx:
        return None
    o = _offset(doc, line, ch, opts)
    if o is None:
        return None
    text = doc.text
    s = _word_start(text, o)
    got = idx.members.get(s)
    if got is None or o > got[0]:
        return None
    return got[1].get(_with_parens(text, o))


def warm_model(index: ApiIndex, opts: ClientOptions) -> Iterator[None]:
    """Fill the model-wide caches of completion and hover for ``opts`` (once per model and options)."""
    from llmspell_ls.features import completion, hover
    from llmspell_ls.features.common import class_doc, function_doc

    done = index.__dict__.setdefault("_warmed", set())
    if opts in done:
        return
    done.add(opts)
    for lang in ("lua", "javascript"):
        completion.global_items(index, lang, opts)
        yield
        for g in index.globals.values():
            hover._memo(("class", g, lang), lambda g=g, lang=lang: class_doc(g, lang))  # type: ignore[misc]
        yield
    for name in [*index.globals, *index.classes, *index.records]:
        for lang in ("lua", "javascript"):
            for sep in ((".", ":") if lang == "lua" else (".",)):
                for wp in (True, False):
                    completion.member_items(index, name, sep, lang, opts, wp)  # type: ignore[arg-type]
                    yield
    for name in [*index.globals, *index.classes, *index.records]:
        c = index.type_(name)
        if c is None:
            continue
        for fn in c.functions:
            for lang in ("lua", "javascript"):
                hover._memo(("function", fn, lang),
                            lambda fn=fn, lang=lang: function_doc(index, fn, lang))  # type: ignore[misc]
        yield


def build(doc: DocState, index: ApiIndex, opts: ClientOptions) -> Iterator[None]:
    """Fill ``doc``'s index, yielding between identifiers (the caller decides when to pause). The index is
    visible from the start and grows (each entry is complete when added: a lookup sees an answer or
    none); ``"_answer_index_done"`` marks the end. Member names come first (completion after ``.`` /
    ``:`` and hover on API chains), then the other identifiers (plain locals: scope resolution)."""
    from llmspell_ls.features.completion import answer
    from llmspell_ls.features.hover import as_json, hover

    k = key(opts)
    idx = Index()
    try:
        yield from warm_model(index, opts)
        if doc.lang not in MEMBER_PARENTS or len(doc.text) > MAX_DOC_CHARS or doc.tree.root_node.has_error:
            return
        doc.cache[k] = idx
        yield from _fill(doc, index, opts, idx, answer, hover, as_json)
    finally:
        doc.cache.setdefault(k, idx)
        doc.cache[("_answer_index_done", opts)] = True


def _fill(doc: DocState, index: ApiIndex, opts: ClientOptions, idx: Index, answer: Any, hover: Any,
          as_json: Any) -> Iterator[None]:
    from llmspell_ls.analysis.common import analyze, word_at
    from llmspell_ls.features.common import col_to_client, context_window, engine_for

    parents = MEMBER_PARENTS[doc.lang]
    text = doc.text
    # the candidates, in document order: (row, s, e, is a member name, is an identifier)
    members: list[tuple[int, int, int, bool, bool]] = []
    others: list[tuple[int, int, int, bool, bool]] = []
    stack = [doc.tree.root_node]
    seen = 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            return
        if seen % 256 == 0:
            yield
        if node.child_count:
            stack.extend(reversed(node.children))
            continue
        ident = node.type == "identifier"
        parent = node.parent
        member = parent is not None and parent.type in parents \
            and parent.child_by_field_name(parents[parent.type]) == node
        if not ident and not member:
            continue
        row, bcol = node.start_point
        erow, ebcol = node.end_point
        if erow != row:
            continue
        if member:
            members.append((row, bcol, ebcol, member, ident))
        elif ident and parent is not None and parent.type in parents and node.end_byte - node.start_byte > 1:
            # the receiver of a member access (``Agent`` in ``Agent.builder``): a global's docs or a local's
            # declaration. Other identifiers (plain locals anywhere) are left to the ordinary path: their
            # answer needs scope resolution, sometimes milliseconds each
            others.append((row, bcol, ebcol, member, ident))
    entries = slow = 0
    spent = 0.0
    for row, bcol, ebcol, member, ident in [*members, *others]:
        if entries > MAX_ENTRIES:
            return
        yield
        s = doc.offset(row, doc.byte_to_col(row, bcol))
        e = doc.offset(row, doc.byte_to_col(row, ebcol))
        if e - s > MAX_WORD or e <= s or word_at(text, s + 1 if e - s > 1 else s) != (s, e):
            continue
        line0 = doc.line(row)
        start = doc.offset(row, 0)
        token = Token(NODE_BUDGET_MS)
        token.inline = True  # a computation over its budget raises (no partial answer is ever indexed)
        t0 = time.perf_counter()
        got_h: tuple[int, str] | None = None
        got_c: dict[bool, str] | None = None
        try:
            with running(token):
                if ident and e - s > 1:
                    got_h = (e, as_json(hover(doc, index, row, col_to_client(line0, s + 1 - start, opts.encoding),
                                              opts)))
                if member and s > 0 and text[s - 1] in ".:":
                    # completion(doc, index, <s>) in two steps: the context, then the answer for each
                    # with_parens met on the name (at its start: false, before its end's next character)
                    engine = engine_for(doc, index)
                    ctx = analyze(engine, s, context_window(doc, s))
                    if ctx.kind == "member":
                        got_c = {}
                        for o in (s, e):
                            wp = _with_parens(text, o)
                            if wp not in got_c:
                                got_c[wp] = answer(doc, index, engine, ctx, s, opts, wp).text
        except Cancelled:
            slow += 1
            got_h = got_c = None
        took = time.perf_counter() - t0
        spent += took
        if took * 1000.0 > NODE_BUDGET_MS:
            slow += 1  # (a walk that does not check its token): after a few, the build stops
        if not token.cancelled:
            if got_h is not None:
                idx.hover[s] = got_h
                entries += 1
            if got_c is not None:
                idx.members[s] = (e, got_c)
                entries += 1
        if slow >= MAX_SLOW_NODES or spent > BUILD_BUDGET_S:
            return


def schedule(ls: Any, uri: str) -> None:
    """Build the index of ``uri``'s current version on the event loop, in slices, once it is parsed;
    a newer version (or closing the document) ends the build."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    doc0 = ls.docs.get(uri)
    if doc0 is None or doc0.lang not in MEMBER_PARENTS or len(doc0.text) > MAX_DOC_CHARS:
        return
    state: dict[str, Any] = {"it": None}

    def step() -> None:
        doc = getattr(ls.docs, "_docs", {}).get(uri)
        if doc is not doc0:
            return  # superseded (a newer version schedules its own build) or closed
        opts = ls.options
        if ("_answer_index_done", opts) in doc.cache:
            return
        if not doc.parsed:
            state["waits"] = waits = state.get("waits", 0) + 1
            if waits * WAIT_PARSE_S < MAX_WAIT_PARSE_S:
                loop.call_later(WAIT_PARSE_S, step)  # never parse on the loop: the diagnostics pass parses
            return
        if time.monotonic() - LAST_READ[0] < QUIET_S:
            loop.call_later(QUIET_S, step)
            return
        it = state["it"]
        if it is None or state.get("opts") != opts:
            it = state["it"] = build(doc, ls.index, opts)
            state["opts"] = opts
        end = time.perf_counter() + SLICE_MS / 1000.0
        try:
            while time.perf_counter() < end:
                next(it)
        except StopIteration:
            return
        except Exception:
            log.debug("answer index of %s failed", uri, exc_info=True)
            return
        loop.call_soon(step)

    loop.call_later(START_DELAY_S, step)
