"""Documents: incremental re-parse equals a full parse; byte edits; bounded trees."""

from __future__ import annotations

import random

from llmspell_ls.documents import Documents, byte_edit, language_of, parser_for


def test_byte_edit_finds_the_single_edit() -> None:
    assert byte_edit(b"hello world", b"hello brave world") == (6, 6, 12)
    assert byte_edit(b"abc", b"abc") == (3, 3, 3)
    assert byte_edit(b"aaaa", b"aa") == (2, 4, 2)
    assert byte_edit(b"", b"x") == (0, 0, 1)


def test_incremental_reparse_matches_full_parse() -> None:
    rnd = random.Random(7)
    docs = Documents()
    text = "local a = Agent.builder():name('x')\n" * 50
    docs.open("file:///a.lua", text, 1, "lua")
    for v in range(2, 60):
        pos = rnd.randrange(len(text) + 1)
        if rnd.random() < 0.5 and pos < len(text):
            text = text[:pos] + text[pos + rnd.randrange(1, 5):]
        else:
            text = text[:pos] + rnd.choice(["x", "(", "end\n", "'", "é", "\n", ":build()"]) + text[pos:]
        st = docs.change("file:///a.lua", text, v)
        full = parser_for("lua").parse(text.encode())
        assert str(st.tree.root_node) == str(full.root_node), v


def test_old_snapshot_tree_is_not_mutated() -> None:
    docs = Documents()
    old = docs.open("file:///a.js", "const a = Agent.builder();\n", 1, "javascript")
    before = str(old.tree.root_node)
    docs.change("file:///a.js", "const a = Agent.builder().name('x');\nfoo(\n", 2)
    assert str(old.tree.root_node) == before


def test_only_open_documents_and_bounded_trees() -> None:
    docs = Documents(max_trees=2)
    for i in range(4):
        docs.open(f"file:///{i}.lua", "print(1)\n", 1, "lua")
    assert len(docs) == 4
    held = [u for u in docs.uris() if docs._docs[u]._tree is not None]
    assert len(held) == 2
    st = docs.get("file:///0.lua")
    assert st is not None and st.tree.root_node.type == "chunk"  # re-parsed on demand
    docs.close("file:///0.lua")
    assert docs.get("file:///0.lua") is None and len(docs) == 3


def test_language_detection() -> None:
    assert language_of("file:///x.lua") == "lua"
    assert language_of("file:///x.txt", "javascript") == "javascript"
    assert language_of("file:///x.mjs") == "javascript"
    assert language_of("file:///x.py") is None


def test_unicode_columns() -> None:
    docs = Documents()
    st = docs.open("file:///u.lua", "local s = 'é😀' Agent.x\n", 1, "lua")
    assert st.col_to_byte(0, 13) == 17
    assert st.byte_to_col(0, 17) == 13


def test_point_after_matches_point_at() -> None:
    from llmspell_ls.documents import point_after, point_at

    src = b"ab\ncd\n\nefg\nh"
    for s in range(len(src) + 1):
        for e in range(s, len(src) + 1):
            assert point_after(src, s, point_at(src, s), e) == point_at(src, e), (s, e)


def test_line_offsets() -> None:
    st = Documents().open("file:///o.lua", "ab\n\ncde\n", 1, "lua")
    assert [st.offset(r, 0) for r in range(4)] == [0, 3, 4, 8]
    assert st.offset(2, 99) == 7  # clamped to the line
