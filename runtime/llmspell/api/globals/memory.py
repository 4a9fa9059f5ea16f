"""``Memory`` (episodic + semantic memory, consolidation) and ``Context`` (context assembly).

rs-llmspell's ``llmspell-bridge/src/lua/globals/memory.rs`` and ``context.rs``: ``Memory.episodic`` and
``Memory.semantic`` are namespaces (``Memory.episodic.add(...)``, dot calls). The store lives in
:mod:`llmspell.memory`; everything that touches SQLite or embeddings runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel, Field

from llmspell.api.decl import ApiGlobal, api_global, expose
from llmspell.core.errors import ValidationError

# --------------------------------------------------------------------------------------- records


class EpisodicEntry(BaseModel):
    """One remembered interaction (``Memory.episodic.search`` results)."""

    id: str
    session_id: str
    role: str
    content: str
    timestamp: str = Field(description="When it was added (RFC 3339, UTC)")
    ingestion_time: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    processed: bool = Field(False, description="Already consolidated into semantic memory")
    score: float | None = Field(None, description="Relevance to the query (absent for an empty query)")


class MemoryEntity(BaseModel):
    """A semantic-memory entity made by ``Memory.consolidate`` (``Memory.semantic.query`` results)."""

    id: str
    name: str
    entity_type: str = Field(description="fact, entity, concept or topic")
    properties: dict[str, Any] = Field(
        default_factory=dict, description="mentions, sessions, sources (entry ids), context; value for facts")
    event_time: str = Field(description="When it was last mentioned (RFC 3339)")
    ingestion_time: str
    score: float | None = None


class ConsolidationResult(BaseModel):
    """What ``Memory.consolidate`` did."""

    entries_processed: int
    entities_added: int
    entities_updated: int
    entities_deleted: int
    entries_skipped: int = Field(description="Entries with nothing to extract (still marked processed)")
    entries_failed: int
    duration_ms: int


class MemoryStats(BaseModel):
    """``Memory.stats()``."""

    episodic_count: int
    semantic_count: int
    sessions_with_unprocessed: int
    unprocessed_count: int
    has_episodic: bool
    has_semantic: bool
    has_consolidation: bool
    consolidation_status: str = Field(description="pending (unprocessed entries exist) or idle")
    last_consolidation: str | None = None


class ContextChunk(BaseModel):
    """A retrieved piece of context."""

    id: str
    content: str
    source: str = Field(description="memory:episodic:<session>, memory:semantic:<type> or rag:<source>")
    timestamp: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class RankedChunk(BaseModel):
    """A chunk with its re-ranked score."""

    chunk: ContextChunk
    score: float = Field(description="BM25 score relative to the best chunk (0..1)")
    ranker: str = "bm25"


class AssembledContext(BaseModel):
    """``Context.assemble`` result."""

    chunks: list[RankedChunk]
    total_confidence: float = Field(description="Mean score of the chunks")
    temporal_span: list[str] = Field(description="{oldest, newest} chunk timestamps (empty when no chunk)")
    token_count: int = Field(description="Estimated tokens of the chunks (UTF-8 bytes / 4, rounded up)")
    formatted: str = Field(description="The chunks as one prompt-ready text")


class StrategyStats(BaseModel):
    """``Context.strategy_stats()``."""

    episodic_count: int
    semantic_count: int
    strategies: list[str]


# --------------------------------------------------------------------------------------- arguments


def _text(v: Any, fn: str, what: str, *, empty: bool = True) -> str:
    if not isinstance(v, str):
        got = "nil" if v is None else "boolean" if isinstance(v, bool) else type(v).__name__
        raise ValidationError(f"{fn}: '{what}' must be a string, got {got}")
    if not empty and not v.strip():
        raise ValidationError(f"{fn}: '{what}' must be a non-empty string")
    return v


def _count(v: Any, fn: str, what: str, default: int, lo: int, hi: int) -> int:
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise ValidationError(f"{fn}: '{what}' must be an integer, got {v!r}")
    n = int(v)
    if n < lo or n > hi:
        raise ValidationError(f"{fn}: '{what}' must be between {lo} and {hi}, got {n}")
    return n


def _metadata(v: Any, fn: str) -> dict[str, Any]:
    if v is None or v == []:
        return {}
    if not isinstance(v, dict):
        raise ValidationError(f"{fn}: 'metadata' must be a table of key/value pairs, got {type(v).__name__}")
    return {str(k): x for k, x in v.items()}


def _store(ctx: Any) -> Any:
    from llmspell.memory import memory_store

    return memory_store(ctx.runtime)


MAX_LIMIT = 1000


# --------------------------------------------------------------------------------------- Memory


class MemoryEpisodic(ApiGlobal):
    """Episodic memory: what was said, per session, searchable by meaning.

    Entries persist in ``.llmspell/memory.db`` of the workspace; with a session id a search sees
    only that session's entries.
    """

    @expose
    async def add(self, session_id: str, role: str, content: str, metadata: dict[str, Any] | None = None) -> str:
        """Remember one interaction.

        Args:
            session_id: The session it belongs to (any non-empty string).
            role: Who said it (``"user"``, ``"assistant"``, ``"system"`` …).
            content: What was said.
            metadata: Optional JSON-compatible table kept with the entry (``topic``/``tags`` values
                become topics when consolidated).

        Returns:
            The new entry's id.
        """
        fn = "Memory.episodic.add"
        sid = _text(session_id, fn, "session_id", empty=False)
        r = _text(role, fn, "role", empty=False)
        c = _text(content, fn, "content", empty=False)
        meta = _metadata(metadata, fn)
        store = _store(self.ctx)
        return await asyncio.to_thread(store.add_entry, sid, r, c, meta)  # type: ignore[no-any-return]

    @expose
    async def search(self, session_id: str, query: str, limit: int | None = 10) -> list[EpisodicEntry]:
        """Entries ranked by similarity to the query (embedding cosine blended with BM25).

        Args:
            session_id: Only this session's entries; ``""`` searches every session.
            query: What to look for; ``""`` returns the session's most recent entries in order.
            limit: Most entries returned (1-1000, default 10).

        Returns:
            The entries, best first, each with its ``score``.
        """
        fn = "Memory.episodic.search"
        sid = _text(session_id, fn, "session_id")
        q = _text(query, fn, "query")
        n = _count(limit, fn, "limit", 10, 1, MAX_LIMIT)
        store = _store(self.ctx)
        return await asyncio.to_thread(store.search_entries, sid, q, n)  # type: ignore[no-any-return]


class MemorySemantic(ApiGlobal):
    """Semantic memory: entities and facts consolidated from episodic memory."""

    @expose
    async def query(self, query: str, limit: int | None = 10) -> list[MemoryEntity]:
        """Entities ranked by the query (``""``: the most recently mentioned).

        Args:
            query: What to look for.
            limit: Most entities returned (1-1000, default 10).

        Returns:
            The entities, best first.
        """
        fn = "Memory.semantic.query"
        q = _text(query, fn, "query")
        n = _count(limit, fn, "limit", 10, 1, MAX_LIMIT)
        store = _store(self.ctx)
        return await asyncio.to_thread(store.query_entities, q, n)  # type: ignore[no-any-return]


@api_global("Memory")
class MemoryGlobal(ApiGlobal):
    """Long-term memory: episodic entries per session (``Memory.episodic``), entities consolidated
    from them (``Memory.semantic``), consolidation and statistics.

    Everything is persisted in the workspace's ``.llmspell/memory.db`` (in memory when the state
    backend is ``memory``) and shared by the spells of the workspace.
    """

    api_namespaces = {"episodic": MemoryEpisodic, "semantic": MemorySemantic}

    @expose
    async def consolidate(self, session_id: str | dict[str, Any] | None = None,
                          force: bool | dict[str, Any] | None = None) -> ConsolidationResult:
        """Extract entities from unprocessed episodic entries into semantic memory (offline,
        deterministic): ``key: value`` facts, capitalised names, frequent keywords and metadata
        topics. Entries are marked processed; ``force`` re-reads already processed entries too
        (idempotent: no count changes twice).

        Args:
            session_id: Only this session's entries (nil or ``""``: every session).
            force: ``true`` (or ``{force = true}``) to re-read processed entries as well.

        Returns:
            Counts of what was done.
        """
        fn = "Memory.consolidate"
        if isinstance(session_id, dict):  # Memory.consolidate({force = true})
            session_id, force = None, session_id
        if isinstance(force, dict):
            unknown = sorted(set(map(str, force)) - {"force", "mode"})
            if unknown:
                raise ValidationError(f"{fn}: unknown option(s) {', '.join(unknown)}; expected force")
            mode = force.get("mode")
            force = force.get("force", mode == "immediate")
        if force is not None and not isinstance(force, bool):
            raise ValidationError(f"{fn}: 'force' must be a boolean or {{force = true}}, got {type(force).__name__}")
        sid = None if session_id is None else _text(session_id, fn, "session_id")
        store = _store(self.ctx)
        return await asyncio.to_thread(store.consolidate, sid or None, bool(force))  # type: ignore[no-any-return]

    @expose
    async def stats(self) -> MemoryStats:
        """Counts of episodic entries and entities, and whether consolidation is pending.

        Returns:
            The statistics.
        """
        store = _store(self.ctx)
        return await asyncio.to_thread(store.stats)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------- Context


@api_global("Context")
class ContextGlobal(ApiGlobal):
    """Context assembly for prompts: retrieve from memory (and RAG), re-rank with BM25, fit a token
    budget.

    Strategies: ``episodic`` (conversation entries), ``semantic`` (consolidated entities), ``hybrid``
    (both) and ``rag`` (the RAG index plus hybrid memory).
    """

    @expose
    async def assemble(self, query: str, strategy: str, max_tokens: int | None = 8192,
                       session_id: str | None = None) -> AssembledContext:
        """Assemble context for a query.

        Args:
            query: What the context is for.
            strategy: ``"episodic"``, ``"semantic"``, ``"hybrid"`` or ``"rag"``.
            max_tokens: Token budget (at least 100; default 8192; estimated as UTF-8 bytes / 4).
            session_id: Restrict episodic memory to this session.

        Returns:
            The ranked chunks that fit, their mean score, time span, token count and formatted text.
        """
        return await self._assemble("Context.assemble", query, strategy, max_tokens, session_id)

    async def _assemble(self, fn: str, query: Any, strategy: Any, max_tokens: Any, session_id: Any) -> Any:
        from llmspell.memory import context as cx
        from llmspell.memory.store import iso

        q = _text(query, fn, "query")
        s = _text(strategy, fn, "strategy")
        if s not in cx.STRATEGIES:
            raise ValidationError(f"{fn}: unknown strategy '{s}'; valid: {', '.join(cx.STRATEGIES)}")
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, (int, float))):
            raise ValidationError(f"{fn}: 'max_tokens' must be an integer, got {type(max_tokens).__name__}")
        budget = 8192 if max_tokens is None else int(max_tokens)
        if budget < cx.MIN_TOKENS:
            raise ValidationError(f"{fn}: 'max_tokens' must be >= {cx.MIN_TOKENS}, got {budget}")
        sid = None if session_id is None else _text(session_id, fn, "session_id")
        runtime = self.ctx.runtime
        store = _store(self.ctx)
        mc = runtime.config.memory

        async def episodic(sess: str, text: str, n: int) -> list[dict[str, Any]]:
            return await asyncio.to_thread(store.search_entries, sess, text, n, candidates=mc.max_candidates * 5)

        async def semantic(text: str, n: int) -> list[dict[str, Any]]:
            return await asyncio.to_thread(store.query_entities, text, n, candidates=mc.max_candidates * 5)

        rag = None
        if s == "rag":
            from llmspell.retrieval.index import rag_index

            index = rag_index(runtime)

            async def rag(text: str, n: int) -> list[dict[str, Any]]:
                return list(await index.search(text, top_k=n))

        from llmspell.retrieval.lexical import bm25_scores

        return await cx.assemble(q, s, budget, sid, episodic=episodic, semantic=semantic, rag=rag, bm25=bm25_scores,
                                 candidates=mc.max_candidates, min_confidence=mc.min_confidence,
                                 now_iso=iso(time.time()))

    @expose
    async def test(self, query: str, session_id: str | None = None) -> AssembledContext:
        """``Context.assemble(query, "hybrid", 2000, session_id)``.

        Args:
            query: What the context is for.
            session_id: Restrict episodic memory to this session.

        Returns:
            The assembled context.
        """
        return await self._assemble("Context.test", query, "hybrid", 2000, session_id)  # type: ignore[no-any-return]

    @expose
    async def strategy_stats(self) -> StrategyStats:
        """How much each strategy has to draw from.

        Returns:
            ``{episodic_count, semantic_count, strategies}``.
        """
        from llmspell.memory.context import STRATEGIES

        store = _store(self.ctx)
        st = await asyncio.to_thread(store.stats)
        return {"episodic_count": st["episodic_count"], "semantic_count": st["semantic_count"],  # type: ignore[return-value]
                "strategies": list(STRATEGIES)}
