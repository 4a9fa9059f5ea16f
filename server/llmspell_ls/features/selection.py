"""textDocument/selectionRange: expand the selection along the syntax tree (the node under the cursor,
then each enclosing node with a larger range, up to the whole document)."""

from __future__ import annotations

from lsprotocol import types as lsp

from llmspell_ls.budget import checkpoint
from llmspell_ls.documents import DocState
from llmspell_ls.features.navigation import CHECK_EVERY, checked, cursor_byte, point_pos


def selection_range(doc: DocState, line: int, character: int, enc: str) -> lsp.SelectionRange:
    row, bcol = cursor_byte(doc, line, character, enc)
    root = doc.tree.root_node
    node = root.descendant_for_point_range((row, bcol), (row, bcol))
    spans: list[tuple[tuple[int, int], tuple[int, int]]] = []
    while node is not None:
        if len(spans) % CHECK_EVERY == 0:
            checkpoint()
        span = (node.start_point, node.end_point)
        if not spans or spans[-1] != span:
            spans.append((tuple(span[0]), tuple(span[1])))  # type: ignore[arg-type]
        node = node.parent
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
