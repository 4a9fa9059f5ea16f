"""BM25 (Okapi, via bm25s) over the same lowercase word tokens the embedders use.

:func:`bm25_scores` scores a handful of documents once; :class:`LexicalIndex` keeps a built bm25s
index of one namespace's chunks for repeated hybrid searches (the RAG index caches one per
namespace and drops it when the namespace changes).
"""

from __future__ import annotations

import threading

import numpy as np

from llmspell.retrieval.embed import tokenize


def _check(k1: float, b: float) -> None:
    if not (k1 >= 0):
        raise ValueError(f"bm25: k1 must be >= 0, got {k1!r}")
    if not (0.0 <= b <= 1.0):
        raise ValueError(f"bm25: b must be between 0 and 1, got {b!r}")


class LexicalIndex:
    """A bm25s index of fixed documents; :meth:`scores` gives one BM25 score per document."""

    def __init__(self, docs: list[str], k1: float = 1.5, b: float = 0.75) -> None:
        _check(k1, b)
        self.size = len(docs)
        self._retriever = None
        self._lock = threading.Lock()
        tokens = [tokenize(d) for d in docs]
        if any(tokens):
            import bm25s

            retriever = bm25s.BM25(k1=k1, b=b)
            retriever.index(tokens, show_progress=False)
            self._retriever = retriever

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (zeros when nothing overlaps)."""
        out = np.zeros(self.size, dtype=np.float32)
        q = tokenize(query)
        if self._retriever is None or not q:
            return out
        with self._lock:
            s = self._retriever.get_scores(q)
        out[:] = np.asarray(s, dtype=np.float32)
        return out


def bm25_scores(query: str, docs: list[str], k1: float = 1.5, b: float = 0.75) -> np.ndarray:
    """One BM25 score per document of ``docs`` for ``query`` (float32; an empty array for no
    documents, zeros where nothing overlaps). Tokens: lowercased ``\\w+`` words."""
    _check(k1, b)
    if not docs:
        return np.zeros(0, dtype=np.float32)
    return LexicalIndex(docs, k1=k1, b=b).scores(query)
