"""Open documents: text, version and a tree-sitter tree, re-parsed incrementally.

Only open documents are held. pygls applies the incremental ``didChange`` to its own ``TextDocument``;
we then diff the previous bytes against the new ones (common prefix/suffix, reference §7.3), describe
that one edit to tree-sitter and re-parse with the old tree, which collapses a multi-change event into
one cheap edit (~2–5 ms on 5,000 lines instead of ~30 ms).

Trees cost ~5 MiB per 5,000-line file, so at most ``MAX_TREES`` trees are kept (least recently used
dropped); a document whose tree was dropped is re-parsed on demand.

Positions: tree-sitter columns are UTF-8 bytes, analysis works on ``str`` columns (code points), and
the client speaks UTF-16 or UTF-8 (negotiated). :class:`DocState` converts between them per line.

Line endings follow LSP: ``\n``, ``\r\n`` and a lone ``\r`` all end a line. The text we analyse is
normalised to ``\n`` (:func:`normalize_eol`), so line numbers, tree-sitter rows and every line's
content (hence every column) are those the client counts; incremental changes are applied here
(:func:`apply_changes`) with the same rule, not by pygls (whose ``str.splitlines`` also splits on
``\v``, ``\f``, ``\x1c``-``\x1e``, ``\x85``, U+2028 and U+2029, putting later edits on the wrong line).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Literal

import tree_sitter_javascript
import tree_sitter_lua
from tree_sitter import Language, Parser, Tree

Lang = Literal["lua", "javascript"]

LUA = Language(tree_sitter_lua.language())
JS = Language(tree_sitter_javascript.language())
MAX_TREES = 3

_parsers = threading.local()


def parser_for(lang: Lang) -> Parser:
    """One parser per thread and language (parsers are not thread-safe)."""
    key = "p_" + lang
    p = getattr(_parsers, key, None)
    if p is None:
        p = Parser(LUA if lang == "lua" else JS)
        setattr(_parsers, key, p)
    return p


WINDOW_CHARS = 32 * 1024
"""A window (:meth:`DocState.window`) reaches at most this far from the cursor on either side."""
WINDOW_MIN_BYTES = 256 * 1024
"""Requests on a document at least this large that is not parsed yet answer from a window."""

PARSE_SLICE = 16 * 1024
"""Sources larger than this are fed to tree-sitter in slices of this size, and the parsing thread
releases the GIL between slices: a plain parse of 200,000 lines holds it for ~1.5 s, stalling the
event loop's thread for as long."""


def parse_source(lang: Lang, source: bytes, old: Tree | None = None,
                 parser: Parser | None = None) -> Tree:
    """Parse ``source`` (incrementally from ``old``); large sources in slices, yielding the GIL.

    Inside a budgeted computation (a request's token is current) the parse stops when the token
    expires: :class:`~llmspell_ls.budget.Cancelled` (tree-sitter's progress callback; some inputs — a
    long run of ``local a a a …`` — take tree-sitter-lua seconds to recover from). The progress callback
    also yields the GIL, so a long parse on another thread never stalls the event loop."""
    from llmspell_ls.budget import Cancelled, current

    p = parser if parser is not None else parser_for(lang)
    token = current()
    if len(source) <= 4 * PARSE_SLICE and token is None:
        return p.parse(source, old) if old is not None else p.parse(source)
    sleep = time.sleep

    def read(offset: int, _point: Any) -> bytes:
        sleep(0)  # let the event loop's thread run between slices
        return source[offset:offset + PARSE_SLICE]

    clock = time.monotonic
    last = [clock()]

    def progress(*_state: Any) -> bool:
        # called every few hundred parse steps: a sleep(0) each time cost more than the parse itself
        now = clock()
        if now - last[0] > 0.002:
            sleep(0)  # let the other threads (the event loop) run
            last[0] = clock()
        return token is not None and token.poll()

    try:
        return p.parse(read, old, progress_callback=progress) if old is not None else \
            p.parse(read, progress_callback=progress)
    except ValueError:  # "Parsing failed": stopped by the progress callback
        p.reset()
        raise Cancelled("parse over budget") from None


_PLUS_ONE = (1).__add__
SPLIT_CHUNK = 256 * 1024


def split_lines(text: str) -> list[str]:
    """``text.split("\n")``, a piece of at most ~``SPLIT_CHUNK`` characters at a time: one split of 10 MB
    holds the GIL for ~40 ms, and a request's deadline on the event loop would wait for it."""
    n = len(text)
    if n <= SPLIT_CHUNK:
        return text.split("\n")
    out: list[str] = []
    start = 0
    while True:
        cut = text.find("\n", start + SPLIT_CHUNK) if start + SPLIT_CHUNK < n else -1
        if cut < 0:
            out.extend(text[start:].split("\n"))
            return out
        out.extend(text[start:cut].split("\n"))
        start = cut + 1


def scope_offsets(lines: list[str], offs: list[int]) -> tuple[list[int], list[int]]:
    """(string offset, UTF-8 byte offset) of every line's start plus one past the end — what
    :func:`llmspell_ls.analysis.scopes.line_offsets` computes from the text — from lines already split:
    only the non-ASCII lines are encoded (found by a C-level ``map``; ~10 ms on 200,000 lines instead of
    ~110 ms for a split and a regex scan of the whole text, on a request's window)."""
    from operator import add

    flags = list(map(str.isascii, lines))
    extra = [0] * len(offs)
    i = -1
    try:
        while True:
            i = flags.index(False, i + 1)
            line = lines[i]
            extra[i + 1] = len(line.encode("utf-8", "surrogatepass")) - len(line)
    except ValueError:
        pass
    if not any(extra):
        return offs, offs
    return offs, list(map(add, offs, accumulate(extra)))


def settled_children(doc: DocState) -> tuple[list[Any], bool]:
    """The top-level nodes of ``doc``'s tree that the rest of the document cannot change, and whether
    that is all of them. On a whole tree: every child, True. On a window (:meth:`DocState.window`): a
    window from the first line gives its children before the first one with a syntax error, minus the
    last (the text after the window may continue it); a window further down gives none (its first
    lines may be the middle of a statement). A partial answer built from them is a correct prefix."""
    kids = doc.tree.root_node.children
    win = doc.cache.get("_window")
    if win is None:
        return list(kids), True
    if win[0] > 0:
        return [], False
    out = []
    for k in kids:
        if k.has_error or k.is_missing:
            break
        out.append(k)
    return out[:-1], False


_STATEMENT_START = {
    "lua": re.compile(r"(?:local|function|do|for|if|while|repeat)\b"),
    "javascript": re.compile(r"(?:const|let|var|function|class|async|if|for|while|import|export)\b"),
}


def range_window(doc: DocState, first: int, last: int, before: int = 400) -> DocState:
    """A window (:meth:`DocState.window`) holding lines ``first`` … ``last`` of a huge document not parsed
    yet (a range request: inlay hints, semantic tokens), starting at the nearest line at most ``before``
    lines up that begins a statement at column 0 (``local``, ``function``, ``do`` …): a window that
    starts in the middle of a statement would parse its tail as something else. Its first statement is
    kept only when it starts there (:func:`window_statements`)."""
    lines = doc.lines
    first = max(0, min(first, len(lines) - 1))
    last = max(first, min(last, len(lines) - 1))
    pat = _STATEMENT_START[doc.lang]
    anchor = -1
    for r in range(first, max(-1, first - before - 1), -1):
        if r == 0 or pat.match(lines[r]):
            anchor = r
            break
    start = anchor if anchor >= 0 else first
    w = doc.window(start, 0, 0, last - start)
    w.cache["_window_anchored"] = anchor >= 0
    return w


def window_statements(doc: DocState) -> tuple[list[Any], tuple[int, int] | None]:
    """The top-level statements of a window (:meth:`DocState.window`) the rest of the document cannot
    change, and the point (row, byte column) before which the last one's tokens are sure (None: all).
    Statements with a syntax error are left out, and so is the first one of a window that does not start
    at a statement (:func:`range_window`) or at the first line. The last one, unless the window reaches
    the document's end, may be cut (the text after it continues it): it is kept up to its first syntax
    error (what tree-sitter parsed before the cut, the same in the whole document), or to its end."""
    kids = doc.tree.root_node.children
    win = doc.cache.get("_window")
    if win is None:
        return list(kids), None
    bs, be = doc.cache.get("_window_bytes", (0, len(doc.source)))
    cut = be < len(doc.source.rstrip())
    last = kids[-1] if kids and cut else None
    out = [k for k in kids if k is not last and not (k.has_error or k.is_missing or k.type == "ERROR")]
    if out and win[0] > 0 and not doc.cache.get("_window_anchored") and out[0].start_byte <= bs:
        out.pop(0)
    limit: tuple[int, int] | None = None
    if last is not None and last.type != "ERROR" and (out or win[0] == 0 or doc.cache.get("_window_anchored")):
        node: Any = last  # descend to the first error (or missing node) of the cut statement
        while node is not None and node.type != "ERROR" and not node.is_missing:
            node = next((c for c in node.children if c.has_error or c.is_missing or c.type == "ERROR"), None)
        limit = node.start_point if node is not None else last.start_point
        if limit > last.start_point:
            out.append(last)
        else:
            limit = None
    return out, limit


def language_of(uri: str, language_id: str | None = None) -> Lang | None:
    lid = (language_id or "").lower()
    if lid == "lua" or uri.endswith(".lua"):
        return "lua"
    if lid in ("javascript", "js", "javascriptreact") or uri.endswith((".js", ".mjs", ".cjs")):
        return "javascript"
    return None


def normalize_eol(text: str) -> str:
    """``\r\n`` and lone ``\r`` become ``\n`` (line contents, and so columns, are unchanged)."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _client_col(line: str, character: int, enc: str) -> int:
    """Client column (negotiated units) -> code-point column, clamped to the line (LSP: past the end
    means the end)."""
    if character <= 0:
        return 0
    if enc == "utf-32" or line.isascii():
        return min(character, len(line))
    units = 0
    for i, ch in enumerate(line):
        if units >= character:
            return i
        units += (2 if ord(ch) > 0xFFFF else 1) if enc == "utf-16" else len(ch.encode("utf-8", "surrogatepass"))
    return len(line)


def apply_changes(doc: DocState, changes: list[Any], enc: str) -> str:
    """The text of ``doc`` after LSP content changes (``range`` + ``text``, or a whole-document ``text``),
    applied in order. Positions past a line's end clamp to it; a line past the end is the end of the
    document; a reversed range is treated as empty at its start (never an exception)."""
    text = doc.text
    offs: list[int] | None = doc.cache.get("_line_offsets") if text is doc.text else None
    for ch in changes:
        new = normalize_eol(getattr(ch, "text", "") or "")
        rng = getattr(ch, "range", None)
        if rng is None:
            text, offs = new, None
            continue
        if offs is None:
            offs = list(accumulate(map(_PLUS_ONE, map(len, text.split("\n"))), initial=0))

        def off(pos: Any, text: str = text, offs: list[int] = offs) -> int:
            row = pos.line
            if row < 0:
                return 0
            if row >= len(offs) - 1:
                return len(text)
            start = offs[row]
            line = text[start:offs[row + 1] - 1]
            return start + _client_col(line, pos.character, enc)

        a, b = off(rng.start), off(rng.end)
        if b < a:
            b = a
        text = text[:a] + new + text[b:]
        offs = None
    return text


_EDIT_BLOCK = 1 << 15


def byte_edit(old: bytes, new: bytes) -> tuple[int, int, int]:
    """(start, old_end, new_end) of the single edit turning ``old`` into ``new``: the longest common
    prefix, then the longest common suffix not overlapping it. Found block by block, then by binary
    search inside the first block that differs (C slices of at most a block: a binary search over the
    whole text copied up to all of it per step, ~10 ms per keystroke on 50,000 lines, on the event loop)."""
    n = min(len(old), len(new))
    blk = _EDIT_BLOCK
    i = 0
    while i + blk <= n and old[i:i + blk] == new[i:i + blk]:
        i += blk
    lo, hi = i, min(n, i + blk)
    while lo < hi:  # longest common prefix, inside the block
        mid = (lo + hi + 1) // 2
        if old[i:mid] == new[i:mid]:
            lo = mid
        else:
            hi = mid - 1
    start = lo
    max_suffix = n - start
    lo_, ln = len(old), len(new)
    j = 0
    while j + blk <= max_suffix and old[lo_ - j - blk:lo_ - j] == new[ln - j - blk:ln - j]:
        j += blk
    lo, hi = j, min(max_suffix, j + blk)
    while lo < hi:  # longest common suffix not overlapping the prefix, inside the block
        mid = (lo + hi + 1) // 2
        if old[lo_ - mid:lo_ - j] == new[ln - mid:ln - j]:
            lo = mid
        else:
            hi = mid - 1
    return start, len(old) - lo, len(new) - lo


def point_at(src: bytes, offset: int) -> tuple[int, int]:
    row = src.count(b"\n", 0, offset)
    line_start = src.rfind(b"\n", 0, offset) + 1
    return row, offset - line_start


def point_after(src: bytes, start: int, start_pt: tuple[int, int], offset: int) -> tuple[int, int]:
    """``point_at(src, offset)`` knowing the point of an earlier ``start`` (counts only the edit span)."""
    rows = src.count(b"\n", start, offset)
    if rows == 0:
        return start_pt[0], start_pt[1] + (offset - start)
    return start_pt[0] + rows, offset - (src.rfind(b"\n", start, offset) + 1)


@dataclass
class DocState:
    """An immutable snapshot of one document (a new object per version)."""

    uri: str
    lang: Lang
    version: int
    text: str
    source: bytes = b""
    _tree: Tree | None = field(default=None, repr=False)
    _lines: list[str] | None = field(default=None, repr=False)
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    """Derived results for this version (symbols, local types, diagnostics, serialized responses)."""
    shared: dict[Any, Any] = field(default_factory=dict, repr=False)
    """State shared by all versions of one open document (per-statement analysis cache)."""

    def __post_init__(self) -> None:
        if "\r" in self.text:
            self.text = normalize_eol(self.text)
            self.source = b""
        if not self.source:
            self.source = self.text.encode("utf-8", "surrogatepass")

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = split_lines(self.text)
        return self._lines

    _pending: Tree | None = field(default=None, repr=False)
    """The previous version's tree with this version's edit applied, waiting for a lazy re-parse."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    waiting: int = field(default=0, repr=False)
    """Threads waiting for the parse in progress (:attr:`tree`)."""

    @property
    def parsed(self) -> bool:
        return self._tree is not None

    @property
    def tree(self) -> Tree:
        """The syntax tree, parsed on first use (incrementally from the previous version when possible).

        Parsing lazily keeps ``didChange`` on the event loop to a few microseconds; the debounced
        diagnostics pass (on the analysis thread) is usually the first to ask.
        """
        tree = self._tree
        if tree is not None:
            return tree
        if not self._lock.acquire(blocking=False):
            from llmspell_ls.budget import Cancelled, current

            tok = current()
            left = -1.0 if tok is None or tok.deadline is None else max(0.0, tok.deadline - time.monotonic())
            self.waiting += 1  # a background parse yields to requests, except to those waiting for it
            try:
                got = self._lock.acquire(timeout=left)  # a request waits for another thread's parse
            finally:  # no longer than its budget
                self.waiting -= 1
            if not got:
                raise Cancelled("over budget waiting for the parse")
        try:
            if self._tree is None:
                self._tree = parse_source(self.lang, self.source, self._pending)  # may raise Cancelled
                self._pending = None
            return self._tree
        finally:
            self._lock.release()

    def window(self, row: int, col: int, before: int = 400, after: int = 40) -> DocState:
        """A snapshot of this version whose tree covers only lines ``row - before`` … ``row + after``
        (at most ``WINDOW_CHARS`` either side of the cursor on a huge line), parsed with tree-sitter's
        included ranges: node positions are the document's own, and parsing it costs the window, not the
        document (~1 ms instead of ~1.5 s for 200,000 lines). Requests on a huge document not parsed
        yet answer from it: correct for what the window covers."""
        from tree_sitter import Range

        if row - before <= 0 and self._lines is None and "_line_offsets" not in self.cache:
            # a window from the first line of a document not split into lines yet: only its own lines
            # (splitting 200,000 lines is most of the cost of the first request after opening them)
            text, end = self.text, -1
            for _ in range(max(0, row) + after + 1):
                end = text.find("\n", end + 1)
                if end < 0:
                    break
            lines = split_lines(text if end < 0 else text[:end])
            offs = list(accumulate(map(_PLUS_ONE, map(len, lines)), initial=0))
        else:
            lines = self.lines
            self.offset(0, 0)
            offs = self.cache["_line_offsets"]
        row = max(0, min(row, len(lines) - 1))
        col = max(0, min(col, len(lines[row])))
        r0, r1 = max(0, row - before), min(len(lines) - 1, row + after)
        at = offs[row] + col
        s = max(offs[r0], at - WINDOW_CHARS)
        e = min(offs[r1] + len(lines[r1]), at + WINDOW_CHARS)
        ascii_doc = self.cache.get("_ascii")
        if ascii_doc is None:
            ascii_doc = self.cache["_ascii"] = self.text.isascii()

        so: tuple[list[int], list[int]] | None = None
        if not ascii_doc:  # byte offsets of the lines (the navigation's too), from the lines already split
            so = self.cache.get("_scope_offsets") if lines is self._lines else None
            if so is None:
                so = scope_offsets(lines, offs)
                if lines is self._lines:
                    self.cache["_scope_offsets"] = so

        def point(off: int) -> tuple[int, int, int]:
            """(row, byte column, byte offset) of string offset ``off``."""
            import bisect

            r = max(0, bisect.bisect_right(offs, off) - 1)
            ls = offs[r]
            if so is None:
                return r, off - ls, off
            bcol = len(self.text[ls:off].encode("utf-8", "surrogatepass"))
            return r, bcol, so[1][r] + bcol

        rs, cs, bs = point(s)
        re_, ce, be = point(e)
        parser = Parser(LUA if self.lang == "lua" else JS, included_ranges=[Range((rs, cs), (re_, ce), bs, be)])
        tree = parse_source(self.lang, self.source, None, parser)
        w = DocState(self.uri, self.lang, self.version, self.text, self.source, _tree=tree)
        w._lines = lines
        w.cache["_line_offsets"] = offs
        w.cache["_ascii"] = ascii_doc
        if so is not None:
            w.cache["_scope_offsets"] = so  # the navigation's byte offsets per line (ScopeResolver)
        w.cache["_window"] = (r0, r1)
        w.cache["_window_bytes"] = (bs, be)
        return w

    def line(self, row: int) -> str:
        lines = self.lines
        return lines[row] if 0 <= row < len(lines) else ""

    def offset(self, row: int, col: int) -> int:
        """String offset of (row, code-point column)."""
        key = "_line_offsets"
        offs = self.cache.get(key)
        if offs is None:
            # each line's length plus its "\n", summed: C-level calls only (a Python lambda per line cost
            # ~70 ms on 200,000 lines, on the first request after opening them)
            offs = list(accumulate(map(_PLUS_ONE, map(len, self.lines)), initial=0))
            self.cache[key] = offs
        row = max(0, min(row, len(offs) - 2))
        return offs[row] + min(col, len(self.line(row)))

    # ---- column conversions (byte <-> code point), per line
    def byte_to_col(self, row: int, byte_col: int) -> int:
        line = self.line(row)
        if line.isascii():
            return byte_col
        return len(line.encode("utf-8", "surrogatepass")[:byte_col].decode("utf-8", "replace"))

    def col_to_byte(self, row: int, col: int) -> int:
        line = self.line(row)
        if line.isascii():
            return col
        return len(line[:col].encode("utf-8", "surrogatepass"))


class Documents:
    """URI -> latest :class:`DocState`; updated synchronously from ``did*`` notifications."""

    def __init__(self, max_trees: int = MAX_TREES):
        self._docs: dict[str, DocState] = {}
        self._lru: OrderedDict[str, None] = OrderedDict()
        self.max_trees = max_trees

    def get(self, uri: str) -> DocState | None:
        st = self._docs.get(uri)
        if st is not None:
            self._touch(uri)
        return st

    def __contains__(self, uri: str) -> bool:
        return uri in self._docs

    def __len__(self) -> int:
        return len(self._docs)

    def uris(self) -> list[str]:
        return list(self._docs)

    def _touch(self, uri: str) -> None:
        self._lru[uri] = None
        self._lru.move_to_end(uri)
        while len(self._lru) > self.max_trees:
            old, _ = self._lru.popitem(last=False)
            st = self._docs.get(old)
            if st is not None:
                st._tree = None  # re-parsed (fully) on demand
                st._pending = None

    def open(self, uri: str, text: str, version: int, lang: Lang, *, parse: bool = True) -> DocState:
        """A new document. ``parse=False`` leaves the parse to the first reader (the server opens that
        way: parsing 200,000 lines takes ~1 s and must not happen on the event loop)."""
        st = DocState(uri, lang, version, text)
        if parse:
            st.tree  # noqa: B018
        self._docs[uri] = st
        self._touch(uri)
        return st

    def change(self, uri: str, text: str, version: int, lang: Lang | None = None) -> DocState:
        """New snapshot for ``text``. The edit is applied to (a copy of) the previous tree now — cheap —
        and the incremental re-parse happens when someone first needs the tree."""
        old = self._docs.get(uri)
        if old is None:
            return self.open(uri, text, version, lang or "lua")
        text = normalize_eol(text)
        new_src = text.encode("utf-8", "surrogatepass")
        st = DocState(uri, old.lang, version, text, new_src, shared=old.shared)
        base = old._tree if old._tree is not None else old._pending
        if base is not None and old.source != new_src:
            s, oe, ne = byte_edit(old.source, new_src)
            tree = base.copy()  # never mutate a tree a reader may still hold (pitfall §7.4.6)
            start_pt = point_at(old.source, s)
            tree.edit(start_byte=s, old_end_byte=oe, new_end_byte=ne, start_point=start_pt,
                      old_end_point=point_after(old.source, s, start_pt, oe),
                      new_end_point=point_after(new_src, s, start_pt, ne))
            st._pending = tree
        elif base is not None:
            st._tree = old._tree
            st._pending = old._pending
        self._docs[uri] = st
        self._touch(uri)
        return st

    def close(self, uri: str) -> None:
        self._docs.pop(uri, None)
        self._lru.pop(uri, None)
