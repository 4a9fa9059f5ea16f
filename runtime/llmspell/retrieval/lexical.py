"""BM25 (Okapi, via bm25s) over the same lowercase word tokens the embedders use.

:func:`bm25_scores` scores a handful of documents once; :class:`LexicalIndex` keeps a built bm25s
index of one namespace's chunks for repeated hybrid searches (the RAG index caches one per
namespace and drops it when the namespace changes).
"""

from __future__ import annotations

import json
import threading
from typing import Any

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
        self.k1, self.b = k1, b
        self._retriever: Any = None
        self._lock = threading.Lock()
        tokens = [tokenize(d) for d in docs]
        if any(tokens):
            import bm25s

            retriever = bm25s.BM25(k1=k1, b=b)
            retriever.index(tokens, show_progress=False)
            self._retriever = retriever

    def to_blobs(self) -> dict[str, bytes]:
        """The built index as named byte strings (bm25s's sparse score matrix and vocabulary), for
        :meth:`from_blobs` in another process (the RAG index keeps them in its SQLite file)."""
        meta: dict[str, Any] = {"size": self.size, "k1": self.k1, "b": self.b, "built": self._retriever is not None}
        out: dict[str, bytes] = {}
        if self._retriever is not None:
            sc = self._retriever.scores
            meta["num_docs"] = int(sc["num_docs"])
            meta["vocab"] = self._retriever.vocab_dict
            out["data"] = np.ascontiguousarray(sc["data"], dtype=np.float32).tobytes()
            out["indices"] = np.ascontiguousarray(sc["indices"], dtype=np.int32).tobytes()
            out["indptr"] = np.ascontiguousarray(sc["indptr"], dtype=np.int64).tobytes()
        out["meta"] = json.dumps(meta, ensure_ascii=False).encode("utf-8")
        return out

    @classmethod
    def from_blobs(cls, blobs: dict[str, bytes]) -> LexicalIndex:
        """The index :meth:`to_blobs` saved (raises ValueError/KeyError on damaged data)."""
        meta = json.loads(blobs["meta"].decode("utf-8"))
        self = cls.__new__(cls)
        self.size = int(meta["size"])
        self.k1, self.b = float(meta["k1"]), float(meta["b"])
        self._lock = threading.Lock()
        self._retriever = None
        if meta["built"]:
            import bm25s

            vocab = {str(k): int(v) for k, v in meta["vocab"].items()}
            indptr = np.frombuffer(blobs["indptr"], dtype=np.int64)
            data = np.frombuffer(blobs["data"], dtype=np.float32)
            indices = np.frombuffer(blobs["indices"], dtype=np.int32)
            real = [v for k, v in vocab.items() if k]  # bm25s adds an empty token with no column
            if (data.size != indices.size or not indptr.size or int(indptr[-1]) != data.size
                    or (real and max(real) >= indptr.size - 1)):
                raise ValueError("damaged BM25 index")
            if indices.size and int(indices.max()) >= self.size:
                raise ValueError("damaged BM25 index")
            r = bm25s.BM25(k1=self.k1, b=self.b)
            r.vocab_dict = vocab
            r.unique_token_ids_set = set(vocab.values())
            r.nonoccurrence_array = None  # lucene BM25 (the default method) has none
            r.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": int(meta["num_docs"])}
            self._retriever = r
        return self

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
