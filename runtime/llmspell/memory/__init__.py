"""Episodic and semantic memory behind the ``Memory`` and ``Context`` globals.

* :mod:`llmspell.memory.store`: the SQLite store (entries, entities, mentions) and its ranking;
* :mod:`llmspell.memory.extract`: the deterministic entity extraction ``Memory.consolidate`` runs;
* :mod:`llmspell.memory.context`: ``Context.assemble`` (retrieve, BM25 re-rank, token budget);
* :func:`memory_store`: the runtime's one store (``runtime.service("memory", ...)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmspell.memory.store import MemoryStore
    from llmspell.runtime import Runtime


def memory_store(runtime: Runtime) -> MemoryStore:
    """The runtime's memory store, opened on first use (closed at runtime shutdown)."""
    from llmspell.memory.service import build_store

    return runtime.service("memory", build_store)
