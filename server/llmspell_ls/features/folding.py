"""textDocument/foldingRange: blocks, tables/objects, long strings, comments and ``region`` markers.

Per top-level statement: a walk that never descends into a node spanning a single line (nothing inside
it can fold), so the cost follows the number of multi-line constructs. The result of each statement is
kept (``doc.shared``, keyed by the statement's lines) for the next version: after an edit only the
edited statement is walked again, the others are shifted to their new rows. Comment runs, regions and
import runs are joined across statements afterwards (cheap: one pass over the comments). Node texts are
read from the document's bytes, never ``node.text`` (on a tree from a sliced parse that calls the parse's
read callback, which sleeps to yield the GIL: it made a 5,000-line spell's folding 34 ms instead of 5).

Folds, Lua: functions, ``if``/``elseif``/``else`` branches (each on its own), ``for``/``while``/
``repeat``/``do`` blocks, tables and argument lists spanning lines, long strings, long comments
(``--[[ ]]``), runs of consecutive line comments, and ``-- region`` / ``-- endregion`` (also
``--#region``) markers as kind ``region``. JavaScript: blocks, class bodies, objects, arrays,
parameter/argument lists, template literals, block comments, runs of line comments, runs of imports
(kind ``imports``), ``// #region`` markers.

A fold ends on the line before its closing token when that token starts its line (``end``, ``}``,
``until``) so the closing line stays visible, as VS Code's own folding does. The client's
``lineFoldingOnly`` and ``rangeLimit`` are honoured: without line-only folding, bracketed folds start
after their opening bracket; past the limit the first ranges (in document order) are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lsprotocol import types as lsp
from tree_sitter import Node

from llmspell_ls.budget import Cancelled, answer_partial, checkpoint
from llmspell_ls.documents import DocState, settled_children
from llmspell_ls.features.common import col_to_client

LUA_BLOCKS = frozenset({
    "function_declaration", "function_definition", "for_statement", "while_statement", "repeat_statement",
    "do_statement",
})
LUA_BRACKETS = frozenset({"table_constructor", "arguments", "parameters", "parenthesized_expression"})
JS_BRACKETS = frozenset({
    "statement_block", "class_body", "object", "array", "object_pattern", "array_pattern", "named_imports",
    "arguments", "formal_parameters", "switch_body", "parenthesized_expression", "template_string",
    "jsx_element",
})
IF_BRANCHES = frozenset({"elseif_statement", "else_statement"})
REGION_RE = re.compile(r"^(?:--+|//+|/\*+)\s*#?\s*(end)?region\b\s*(.*?)\s*(?:\*/)?\s*$", re.IGNORECASE)
_OPENERS = frozenset({"{", "[", "(", "`"})
_CLOSERS_ONLY = re.compile(r"^(?:\s|[)\]}]|end\b)*$")
"""What may precede a closing token on its line for the fold to stop on the line before (``end)``, ``})``)."""


@dataclass(frozen=True, slots=True)
class FoldOptions:
    """What the client asked for (``textDocument.foldingRange`` capabilities)."""

    line_folding_only: bool = True
    range_limit: int | None = None
    collapsed_text: bool = False


@dataclass(slots=True)
class _Fold:
    start: int
    end: int
    kind: str | None = None
    start_char: int | None = None
    text: str | None = None


_Piece = tuple[list[_Fold], list[tuple[int, int, str]]]
"""One top-level statement's folds and comments, rows relative to its first line."""


class _Folder:
    def __init__(self, doc: DocState, enc: str, opts: FoldOptions):
        self.doc = doc
        self.enc = enc
        self.opts = opts
        self.lua = doc.lang == "lua"
        self.lines = doc.lines
        self.out: list[_Fold] = []
        self.comments: list[tuple[int, int, str]] = []  # (row, end row, text) of comments in order
        self.imports: list[tuple[int, int]] = []

    # ------------------------------------------------------------------ helpers
    def _text(self, node: Node) -> str:
        """A node's text from the source (``node.text`` would call the sliced parse's read callback)."""
        return self.doc.source[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def _col(self, row: int, byte_col: int) -> int:
        return self.doc.byte_to_col(row, byte_col)

    def _starts_line(self, node: Node) -> bool:
        """Is ``node`` the first thing on its line (only whitespace before it)?"""
        row, bcol = node.start_point
        line = self.lines[row] if row < len(self.lines) else ""
        return not line[: self._col(row, bcol)].strip()

    def _end_row(self, node: Node, close: Node | None) -> int:
        """Last folded line: the line before the closing token when that token starts its line."""
        row = node.end_point[0]
        if close is not None and close.start_point[0] == row:
            line = self.lines[row] if row < len(self.lines) else ""
            if _CLOSERS_ONLY.match(line[: self._col(row, close.start_point[1])]):
                return row - 1
        return row

    def add(self, start: int, end: int, kind: str | None = None, start_char: int | None = None,
            text: str | None = None) -> None:
        if end > start:
            self.out.append(_Fold(start, end, kind, start_char, text))

    # ------------------------------------------------------------------ walk
    def run(self) -> list[_Fold]:
        """Folds of every top-level statement (reused from earlier versions when its lines are unchanged),
        then the comment runs, regions and import runs across them."""
        kids, whole = settled_children(self.doc)
        lines = self.lines
        cache: dict[Any, _Piece] = self.doc.shared.setdefault(("folding", self.enc, self.opts), {})
        fresh: dict[Any, _Piece] = {}
        cut: int | None = None if whole else (kids[-1].end_point[0] + 1 if kids else 0)
        """First row the answer does not cover (None: the whole document)."""
        for i, child in enumerate(kids):
            try:
                if not i & 15:
                    checkpoint()
                self._statement(child, lines, cache, fresh)
            except Cancelled:  # over budget: the folds of the statements before this one
                answer_partial()
                cut = child.start_point[0]
                break
        if cut is None:
            cache.clear()  # only this version's statements: bounded, and a later version reuses them
        cache.update(fresh)  # a partial answer keeps its progress: the next request goes further
        self.comments.sort(key=lambda c: c[0])
        self.fold_comments()
        self.fold_imports()
        if cut is not None:  # a run of comments or imports may go on past the cut: only those ending before
            self.out = [f for f in self.out if f.end < cut - 1 or f.kind not in ("comment", "imports", "region")]
        return self.out

    def _statement(self, child: Node, lines: list[str], cache: dict[Any, _Piece], fresh: dict[Any, _Piece]) -> None:
        t = child.type
        (r0, c0), (r1, _) = child.start_point, child.end_point
        if r0 == r1:  # a one-line statement folds nothing itself (comments and imports join runs)
            if t == "comment":
                self.comments.append((r0, r1, self._text(child)))
            elif t == "import_statement":
                self.imports.append((r0, r1))
            return
        key = (t, c0, hash("\n".join(lines[r0:r1 + 1])), r1 - r0)
        piece = cache.get(key)
        if piece is None:
            piece = self._piece(child, r0)
        fresh[key] = piece
        folds, comments = piece
        for f in folds:
            self.out.append(_Fold(f.start + r0, f.end + r0, f.kind, f.start_char, f.text))
        for cr0, cr1, text in comments:
            self.comments.append((cr0 + r0, cr1 + r0, text))
        if t == "import_statement":
            self.imports.append((r0, r1))

    def _piece(self, stmt: Node, base: int) -> _Piece:
        """The folds and comments of one top-level statement, rows relative to ``base``: a walk that never
        descends into a node spanning one line (nothing inside it can fold)."""
        out, self.out = self.out, []
        comments: list[tuple[int, int, str]] = []
        try:
            stack = [stmt]
            n = 0
            while stack:
                n += 1
                if not n & 1023:
                    checkpoint()
                node = stack.pop()
                t = node.type
                r0, r1 = node.start_point[0], node.end_point[0]
                if t == "comment":
                    comments.append((r0 - base, r1 - base, self._text(node) if r0 == r1 else ""))
                    if r0 != r1:
                        self.add(r0, r1, "comment")
                    continue
                if r0 == r1:
                    continue  # nothing inside a one-line node can fold
                self.fold_node(node, t)
                stack.extend(reversed(node.children))
            folds = [_Fold(f.start - base, f.end - base, f.kind, f.start_char, f.text) for f in self.out]
        finally:
            self.out = out
        return folds, comments

    def fold_node(self, node: Node, t: str) -> None:
        start = node.start_point[0]
        if self.lua:
            if t in LUA_BLOCKS:
                last = node.children[-1] if node.children else None
                close = last if last is not None and last.type in ("end", "until") else None
                if t == "repeat_statement":
                    close = next((c for c in node.children if c.type == "until"), None)
                self.add(start, self._end_row(node, close))
            elif t == "if_statement":
                self.fold_if(node)
            elif t in LUA_BRACKETS:
                self.fold_bracket(node)
            elif t == "string":
                self.add(start, node.end_point[0])
            return
        if t in JS_BRACKETS:
            self.fold_bracket(node)
        elif t == "import_statement" and node.parent is not None and node.parent.parent is None:
            self.imports.append((start, node.end_point[0]))

    def fold_if(self, node: Node) -> None:
        """Each branch folds on its own: ``if`` up to its ``elseif``/``else``, and so on to ``end``."""
        marks = [c for c in node.children if c.type in IF_BRANCHES or c.type == "end"]
        begin = node.start_point[0]
        for m in marks:
            self.add(begin, m.start_point[0] - 1 if self._starts_line(m) else m.start_point[0])
            begin = m.start_point[0]

    def fold_bracket(self, node: Node) -> None:
        kids = node.children
        if not kids:
            return
        first, last = kids[0], kids[-1]
        close = last if last.type in ("}", "]", ")", "`", "end") else None
        start_char = None
        if not self.opts.line_folding_only and first.type in _OPENERS:
            row, bcol = first.end_point
            start_char = col_to_client(self.lines[row], self._col(row, bcol), self.enc)
        self.add(node.start_point[0], self._end_row(node, close), None, start_char)

    def fold_comments(self) -> None:
        """Runs of whole-line comments fold as one; region markers pair up (kind ``region``)."""
        regions: list[tuple[int, str]] = []
        run_start = run_end = -2
        for row, end_row, text in self.comments:
            own_line = row < len(self.lines) and self.lines[row].lstrip().startswith(("--", "//", "/*"))
            m = REGION_RE.match(text.strip()) if text and own_line else None
            if m is not None:
                if m.group(1):
                    if regions:
                        begin, name = regions.pop()
                        self.add(begin, row, "region", None, name or None)
                else:
                    regions.append((row, m.group(2)))
                continue
            if not own_line or end_row != row or (self.lua and text.startswith("--[")):
                continue
            if run_start >= 0 and row == run_end + 1:
                run_end = row
                continue
            self.add(run_start, run_end, "comment")
            run_start = run_end = row
        self.add(run_start, run_end, "comment")

    def fold_imports(self) -> None:
        if not self.imports:
            return
        self.imports.sort()
        begin, end = self.imports[0]
        for s, e in self.imports[1:]:
            if s <= end + 1:
                end = max(end, e)
                continue
            self.add(begin, end, "imports")
            begin, end = s, e
        self.add(begin, end, "imports")


def folding_ranges(doc: DocState, enc: str, opts: FoldOptions | None = None) -> list[lsp.FoldingRange]:
    """Folding ranges of a document in line order (one per start line: the outermost)."""
    opts = opts or FoldOptions()
    folds = _Folder(doc, enc, opts).run()
    best: dict[int, _Fold] = {}
    for f in folds:
        cur = best.get(f.start)
        # one range per start line: the outermost (a region or comment run wins over a block there)
        if cur is None or f.end > cur.end or (f.kind == "region" and cur.kind != "region"):
            best[f.start] = f
    ordered = [best[k] for k in sorted(best)]
    if opts.range_limit is not None and opts.range_limit >= 0:
        ordered = ordered[: opts.range_limit]
    kinds = {"comment": lsp.FoldingRangeKind.Comment, "region": lsp.FoldingRangeKind.Region,
             "imports": lsp.FoldingRangeKind.Imports}
    return [lsp.FoldingRange(start_line=f.start, end_line=f.end, kind=kinds.get(f.kind or ""),
                             start_character=f.start_char,
                             collapsed_text=f.text if opts.collapsed_text and f.text else None)
            for f in ordered]
