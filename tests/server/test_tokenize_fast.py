"""The tokenizer (whitespace swallowed into the next token's match, tokens built as named tuples) gives
exactly the token stream of the plain one-match-per-token tokenizer, on every example and on hostile text."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from llmspell_ls.analysis import javascript as js_spec
from llmspell_ls.analysis import lua as lua_spec
from llmspell_ls.analysis.common import tokenize, tokenize_reference

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*") if p.suffix in (".lua", ".js"))

HOSTILE = [
    "", " ", "\n\n  \t", "x", "  x  ", "--[[ unclosed", "--[==[ a ]==] b", "[[s]] [=[t]=]", "'a\\'b' \"c",
    "a.b:c(d)[e]{f}\"g\"", "local x = 1 -- x = 2\n", "...\t..  ..=", "a\r\nb\rc", "é x = ñ", "\x00\x01 \u2028 y",
    "/* c */ x // y\n`t ${a}` a?.b ?? c", "0x1F 1e10 .5 3.", "[=[", "--[", "\"\\\n", "--", "a--[[x]]b",
]


def _streams(spec, text: str, start: int = 0, end: int | None = None) -> None:
    assert tokenize(spec, text, start, end) == tokenize_reference(spec, text, start, end)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_same_tokens(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    spec = lua_spec if path.suffix == ".lua" else js_spec
    _streams(spec, text)
    rnd = random.Random(path.name)
    for _ in range(20):  # windows that start and end anywhere (inside whitespace, strings, comments)
        a = rnd.randrange(len(text) + 1)
        b = rnd.randrange(a, len(text) + 1)
        _streams(spec, text, a, b)


@pytest.mark.parametrize("spec", [lua_spec, js_spec], ids=["lua", "js"])
def test_hostile_same_tokens(spec) -> None:
    for text in HOSTILE:
        for a in range(len(text) + 1):
            _streams(spec, text, a)
            _streams(spec, text, 0, a)
    rnd = random.Random(7)
    alphabet = "ab_1 \t\n\r-[]=\"'\\.:(){}/*`$?é\u2028"
    for _ in range(300):
        _streams(spec, "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(40))))


def test_tokens_are_values() -> None:
    toks = tokenize(lua_spec, "  Agent.builder ( ) ")
    assert [(t.kind, t.text, t.start, t.end) for t in toks] == [
        ("name", "Agent", 2, 7), ("op", ".", 7, 8), ("name", "builder", 8, 15), ("op", "(", 16, 17),
        ("op", ")", 18, 19)]
