"""textDocument/selectionRange: expand the selection along the syntax tree (the node under the cursor,
then each enclosing node with a larger range, up to the whole document)."""

from __future__ import annotations

from lsprotocol import types as lsp

from llmspell_ls.budget import checkpoint
from llmspell_ls.documents import DocState
from llmspell_ls.features.navigation import CHECK_EVERY, checked, cursor_byte, point_pos

MAX_DEPTH = 100
"""Longest chain of ranges answered: 10,000 nested tables made a chain no JSON reader (or writer: a
RecursionError) takes; past it, the innermost ranges and the outermost ones are kept (each still
contains the one before: "expand selection" jumps from the 99th level to the whole statement)."""


def selection_range(doc: DocState, line: int, character: int, enc: str) -> lsp.SelectionRange:
    row, bcol = cursor_byte(doc, line, character, enc)
    root = doc.tree.root_node
    leaf = root.descendant_for_point_range((row, bcol), (row, bcol))
    # the chain of ancestors, found from the root down: ``node.parent`` costs the node's depth each time
    # (climbing out of 10,000 nested tables was quadratic)
    chain = [root]
    cur = root
    while leaf is not None and cur != leaf:
        if len(chain) % CHECK_EVERY == 0:
            checkpoint()
        nxt = cur.child_with_descendant(leaf)
        if nxt is None:
            chain.append(leaf)
            break
        chain.append(nxt)
        cur = nxt
    win = doc.cache.get("_window_bytes")
    if win is not None:
        # a window of a huge document not parsed yet (:meth:`DocState.window`): only the nodes the text
        # outside it cannot change (inside it, off its edges, without a syntax error), then the document
        lo, hi = win
        chain = [n for n in chain if not n.has_error and (n.start_byte > lo or lo == 0)
                 and n.end_byte < hi and n != root]
    spans: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for node in reversed(chain):
        span = (node.start_point, node.end_point)
        if not spans or spans[-1] != span:
            spans.append((tuple(span[0]), tuple(span[1])))  # type: ignore[arg-type]
    if len(spans) > MAX_DEPTH:  # the innermost ranges and the outermost: a correct subset of the chain
        spans = spans[:MAX_DEPTH - 1] + spans[-1:]
    whole = ((0, 0), (len(doc.lines) - 1, len(doc.line(len(doc.lines) - 1).encode("utf-8", "surrogatepass"))))
    if not spans or spans[-1] != whole:
        spans.append(whole)
    parent: lsp.SelectionRange | None = None
    for (r0, c0), (r1, c1) in checked(reversed(spans)):
        r1c = min(r1, len(doc.lines) - 1)
        c1c = c1 if r1c == r1 else len(doc.line(r1c).encode("utf-8", "surrogatepass"))
        rng = lsp.Range(start=point_pos(doc, r0, c0, enc), end=point_pos(doc, r1c, c1c, enc))
        if parent is not None and parent.range == rng:
            continue
        parent = lsp.SelectionRange(range=rng, parent=parent)
    assert parent is not None
    return parent


def selection_ranges(doc: DocState, positions: list[lsp.Position], enc: str) -> list[lsp.SelectionRange]:
    return [selection_range(doc, p.line, p.character, enc) for p in checked(positions, 1)]
