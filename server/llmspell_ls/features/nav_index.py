"""A per-version index of the answers of definition, references and documentHighlight on Lua locals.

After a document is opened or changed and parsed, :func:`build` runs on the event loop in short slices
(:func:`schedule`, each at most ``SLICE_MS``, the loop free between them) and records, for every
identifier that is a local's occurrence, the JSON text the ordinary handlers answer for a cursor on it
(computed by those very functions: :mod:`~llmspell_ls.features.navigation`). A request then finds the
identifier under the cursor and answers from the index (:func:`lookup`); a cursor on anything else, or
a version whose index is not ready yet, takes the ordinary path. A newer version supersedes the build
(the index lives in the version's own cache).

Every answer is a function of the identifier under the cursor (``ident_at``), not of the column in
it, so one entry per identifier serves every cursor on it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from llmspell_ls.analysis.scopes import _nav_lua
from llmspell_ls.budget import Cancelled, Token, running
from llmspell_ls.features import navigation
from llmspell_ls.server import LAST_READ

if TYPE_CHECKING:
    from llmspell_ls.apimodel import ApiIndex
    from llmspell_ls.documents import DocState

log = logging.getLogger(__name__)

MAX_DOC_CHARS = 1_000_000
"""Larger documents are not indexed (their requests take the ordinary path)."""
MAX_NODES = 2_000_000
"""A document with more syntax nodes is not indexed."""
SLICE_MS = 1.0
"""Longest stretch of one build slice on the event loop."""
NODE_BUDGET_MS = 5.0
"""An identifier whose answers take longer is left to the ordinary path (its budgeted, partial walk)."""
MAX_SLOW_NODES = 3
BUILD_BUDGET_S = 2.0
"""A build stops after that many identifiers over their budget, or this much time computing: the index
keeps what it has (the rest takes the ordinary path)."""
START_DELAY_S = 0.2
"""After a change: a build that a keystroke would supersede at once is not started."""
WAIT_PARSE_S = 0.05
MAX_WAIT_PARSE_S = 60.0
"""A version nothing parses for this long (no diagnostics pass, no request) is not indexed."""
QUIET_S = 0.01
"""A slice waits until nothing was read from the client for this long (requests come in bursts)."""

DEF, REFS, REFS_NO_DECL, HIGHLIGHT = range(4)
"""Positions in an entry: definition, references with / without the declaration, documentHighlight."""


def key(enc: str) -> tuple[str, str]:
    return ("_nav_index", enc)


def lookup(doc: DocState, line: int, character: int, enc: str, what: int) -> str | None:
    """The indexed answer (JSON text) at a cursor, or None (not indexed: the ordinary path answers)."""
    idx = doc.cache.get(key(enc))
    if not idx or not doc.parsed:
        return None
    try:
        row, bcol = navigation.cursor_byte(doc, line, character, enc)
        node = navigation.ident_at(doc, row, bcol)
    except Exception:
        return None
    if node is None:
        return None
    got = idx.get(node.start_byte)
    return None if got is None else got[what]  # type: ignore[no-any-return]


def entry(doc: DocState, index: ApiIndex, node: Any, enc: str, declared: set[str] | None = None,
          groups: dict[tuple[int, int], Any] | None = None) -> tuple[str, str, str, str] | None:
    """The four answers for a cursor on ``node`` when it is a local's occurrence, else None.
    ``declared``: the names declared (``_nav_lua(...).decl``) by the identifiers before ``node``, this
    one's added when it declares; a name none of them declares has no declaration here (a Lua local is
    declared before its uses, and :func:`lua_declaration_of` only looks backwards): a global.
    ``groups``: the answers already made for a target's occurrence list (cached per version by
    :func:`name_occurrences`, so one object per list) and binding, which they are a function of: the uses
    of one local share them (text and time: not one list of every use per use)."""
    if navigation.is_member_name(node, True):
        return None
    parent = node.parent
    if parent is not None and parent.type == "field" and parent.child_by_field_name("name") == node:
        return None
    name = navigation._node_text(doc, node)
    if declared is not None:
        occ = _nav_lua(node)
        if occ is not None and occ.decl:
            declared.add(name)
        elif name not in declared:
            return None
    if navigation.declaration_of(doc, node, name) is None:
        return None
    row, bcol = node.start_point
    if node.end_byte - node.start_byte > 1:
        bcol += 1
    line, ch = navigation.point_at(doc, row, bcol, enc)
    r2, b2 = navigation.cursor_byte(doc, line, ch, enc)
    at = navigation.ident_at(doc, r2, b2)
    if at is None or at.start_byte != node.start_byte:
        return None
    t = navigation.target_at(doc, index, line, ch, enc)
    if t is None or t.kind != "local":
        return None
    # the local branches of definition_spans, reference_spans and highlight_spans, on one target
    decl = navigation.declaration_of(doc, node, name)
    if decl is None:
        return None
    uri, span, locs = doc.uri, navigation.occ_span, navigation.locations_json
    gk = (id(t.occs), t.index)
    got = groups.get(gk) if groups is not None else None
    if got is None:
        mine = [(o, span(doc, o, enc)) for o in t.occs if o.binding == t.index]
        got = (t.occs,  # kept alive: its id stays its own while the build runs
               locs([(uri, *sp) for o, sp in mine]),
               locs([(uri, *sp) for o, sp in mine if not o.decl]),
               navigation.highlights_json([(*sp, navigation.WRITE if o.write else navigation.READ) for o, sp in mine]))
        if groups is not None:
            groups[gk] = got
    return (locs([(uri, *span(doc, decl, enc))]), got[1], got[2], got[3])


def build(doc: DocState, index: ApiIndex, enc: str) -> Iterator[None]:
    """Fill ``doc``'s index, yielding between identifiers (the caller decides when to pause). The
    entries become visible once all are computed."""
    if doc.lang != "lua" or len(doc.text) > MAX_DOC_CHARS or doc.tree.root_node.has_error:
        doc.cache[key(enc)] = {}
        return
    idx: dict[int, tuple[str, str, str, str]] = {}
    declared: set[str] = set()
    groups: dict[tuple[int, int], Any] = {}
    stack = [doc.tree.root_node]
    seen = 0
    slow, spent = 0, 0.0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            doc.cache[key(enc)] = {}
            return
        if node.type != "identifier":
            stack.extend(reversed(node.children))
            if seen % 64 == 0:
                yield
            continue
        token = Token(NODE_BUDGET_MS)
        token.inline = True  # a walk over its budget raises (no partial answer is ever indexed)
        t0 = time.perf_counter()
        try:
            with running(token):
                got = entry(doc, index, node, enc, declared, groups)
        except Cancelled:
            got = None
            slow += 1
        spent += time.perf_counter() - t0
        if got is not None and not token.cancelled:
            idx[node.start_byte] = got
        if slow >= MAX_SLOW_NODES or spent > BUILD_BUDGET_S:
            break
        yield
    doc.cache[key(enc)] = idx


def schedule(ls: Any, uri: str) -> None:
    """Build the index of ``uri``'s current version on the event loop, in slices, once it is parsed;
    a newer version (or closing the document) ends the build."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    doc0 = ls.docs.get(uri)
    if doc0 is None or doc0.lang != "lua" or len(doc0.text) > MAX_DOC_CHARS:
        return
    state: dict[str, Any] = {"it": None}

    def step() -> None:
        doc = getattr(ls.docs, "_docs", {}).get(uri)
        if doc is not doc0:
            return  # superseded (a newer version schedules its own build) or closed
        if key(ls.options.encoding) in doc.cache:
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
        if it is None:
            it = state["it"] = build(doc, ls.index, ls.options.encoding)
        end = time.perf_counter() + SLICE_MS / 1000.0
        try:
            while time.perf_counter() < end:
                next(it)
        except StopIteration:
            return
        except Exception:
            log.debug("navigation index of %s failed", uri, exc_info=True)
            return
        loop.call_soon(step)

    loop.call_later(START_DELAY_S, step)
