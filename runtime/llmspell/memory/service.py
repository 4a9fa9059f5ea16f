"""Building the runtime's memory store from its configuration."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from llmspell.memory.store import MemoryStore
    from llmspell.runtime import Runtime


def memory_db_path(runtime: Runtime) -> Path | None:
    """``[memory] path`` (default ``.llmspell/memory.db``) under the workspace, its folder made and
    checked through the path gate as the state database's is; None (in-memory) when the state
    backend is ``memory``."""
    from llmspell.state.store import _checked_db_path

    cfg = runtime.config
    if (cfg.state.backend or "sqlite").lower() == "memory":
        return None
    path = Path(cfg.memory.path).expanduser() if cfg.memory.path else Path(".llmspell") / "memory.db"
    if not path.is_absolute():
        path = Path(runtime.workspace) / path
    return _checked_db_path(path, Path(runtime.workspace))


def build_store(runtime: Runtime) -> MemoryStore:
    from llmspell.memory.store import MemoryStore
    from llmspell.retrieval.embed import get_embedder
    from llmspell.retrieval.lexical import bm25_scores

    embedder = get_embedder(runtime.config)

    def lexical(query: str, docs: list[str]) -> np.ndarray:
        return np.asarray(bm25_scores(query, docs, k1=1.5, b=0.75))

    mc = runtime.config.memory
    return MemoryStore(memory_db_path(runtime), embed=embedder.embed, embed_name=f"{embedder.name}/{embedder.dim}",
                       lexical=lexical, vector_weight=mc.vector_weight,
                       keyword_min_mentions=mc.keyword_min_mentions)
