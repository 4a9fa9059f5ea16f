"""Retrieval core: embedders, BM25, the SQLite vector store and the RAG index behind ``RAG``.

* :mod:`llmspell.retrieval.embed`: text -> L2-normalised float32 vectors (``hashing`` by default,
  ``wordllama`` offline model, ``provider:<model>`` through litellm).
* :mod:`llmspell.retrieval.lexical`: BM25 scores (bm25s) and a small in-memory lexical index.
* :mod:`llmspell.retrieval.vectors`: vectors + content + metadata per (scope, scope_id) namespace in
  SQLite, brute-force cosine in numpy.
* :mod:`llmspell.retrieval.chunking`: token windows and sentence-aware chunks.
* :mod:`llmspell.retrieval.index`: :class:`RagIndex`, the runtime's ``rag`` service (hybrid search).

Imports are heavy (numpy, bm25s), so nothing here is imported by the runtime until a spell uses it.
"""
