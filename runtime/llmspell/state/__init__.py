"""Scoped key/value state (SQLite by default, memory for tests); see :mod:`llmspell.state.store`."""

from llmspell.state.store import MemoryBackend, SqliteBackend, StateStore, scoped_key

__all__ = ["MemoryBackend", "SqliteBackend", "StateStore", "scoped_key"]
