"""Splitting documents into chunks for the RAG index.

Tokens here are whitespace-separated words (what ``chunk_size`` and ``overlap`` count); chunks are
slices of the original text, so their spacing and punctuation are kept.

* ``sliding_window`` (aliases ``fixed``, ``tokens``, ``words``, ``token``): windows of ``chunk_size``
  tokens, each starting ``chunk_size - overlap`` tokens after the previous one.
* ``sentence`` (aliases ``sentences``, ``semantic``, ``paragraph``, ``recursive``): whole sentences
  packed up to ``chunk_size`` tokens, the next chunk repeating the last sentences that fit in
  ``overlap`` tokens; a sentence longer than ``chunk_size`` is cut by the sliding window.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\S+")
# a sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace, or at a blank line
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n\s*\n")

SLIDING = ("sliding_window", "sliding", "fixed", "fixed_size", "tokens", "token", "words", "word", "window")
SENTENCE = ("sentence", "sentences", "sentence_aware", "semantic", "paragraph", "paragraphs", "recursive")
STRATEGIES = SLIDING + SENTENCE


@dataclass
class Chunk:
    text: str
    start: int
    end: int
    tokens: int


def count_tokens(text: str) -> int:
    """Whitespace-separated words: the unit of ``chunk_size``, ``overlap`` and ``total_tokens``."""
    return sum(1 for _ in _TOKEN.finditer(text))


def _spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _window(text: str, spans: list[tuple[int, int]], size: int, overlap: int) -> list[Chunk]:
    out: list[Chunk] = []
    step = max(size - overlap, 1)
    i = 0
    while i < len(spans):
        part = spans[i:i + size]
        out.append(Chunk(text[part[0][0]:part[-1][1]], part[0][0], part[-1][1], len(part)))
        if i + size >= len(spans):
            break
        i += step
    return out


def _sentences(text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        if text[pos:m.start()].strip():
            out.append((pos, m.start()))
        pos = m.end()
    if text[pos:].strip():
        out.append((pos, len(text)))
    return out


def chunk_text(text: str, chunk_size: int, overlap: int, strategy: str = "sliding_window") -> list[Chunk]:
    """Split ``text`` into chunks (none for blank text). ``overlap`` must be below ``chunk_size``."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if overlap < 0 or overlap >= chunk_size:
        raise ValueError(f"overlap must be >= 0 and below chunk_size ({chunk_size}), got {overlap}")
    strategy = strategy.lower()
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown chunking strategy {strategy!r}; valid: sliding_window, sentence")
    spans = _spans(text)
    if not spans:
        return []
    if len(spans) <= chunk_size:
        return [Chunk(text[spans[0][0]:spans[-1][1]], spans[0][0], spans[-1][1], len(spans))]
    if strategy in SLIDING:
        return _window(text, spans, chunk_size, overlap)
    # sentence-aware packing
    units: list[tuple[int, int, int]] = []  # (start, end, tokens) of sentences (long ones pre-split)
    starts = [a for a, _ in spans]
    for s, e in _sentences(text):
        sub = spans[bisect.bisect_left(starts, s):bisect.bisect_left(starts, e)]
        if not sub:
            continue
        if len(sub) > chunk_size:
            for c in _window(text, sub, chunk_size, overlap):
                units.append((c.start, c.end, c.tokens))
        else:
            units.append((sub[0][0], sub[-1][1], len(sub)))
    out: list[Chunk] = []
    i = 0
    while i < len(units):
        j, tokens = i, 0
        while j < len(units) and (j == i or tokens + units[j][2] <= chunk_size):
            tokens += units[j][2]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        out.append(Chunk(text[start:end], start, end, tokens))
        if j >= len(units):
            break
        # back up over trailing sentences that fit in the overlap (never to i: always progress)
        back, k = 0, j
        while k - 1 > i and back + units[k - 1][2] <= overlap:
            back += units[k - 1][2]
            k -= 1
        i = k
    return out
