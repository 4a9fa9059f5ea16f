"""The memory store: episodic entries and semantic entities in one SQLite database.

``<workspace>/.llmspell/memory.db`` by default (``[memory] path``), ``:memory:`` when the state backend
is ``memory``. Every method is synchronous and serialised by one lock; the globals call them through
``asyncio.to_thread``. Embeddings are float32 blobs tagged with the embedder's name: rows written by
another embedder (a configuration change) are re-embedded when they are next searched.

Ranking (``search_episodic``, ``query_entities``): ``vector_weight`` × cosine similarity of the
embeddings + (1 − ``vector_weight``) × BM25 (k1=1.5, b=0.75) relative to the best candidate, ties by
recency. With a session id only that session's entries are candidates; ``""`` means every session.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from llmspell.memory.extract import Mention, extract, normalise

Embed = Callable[[list[str]], np.ndarray]
Lexical = Callable[[str, list[str]], np.ndarray]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS episodic (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    session_id TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    timestamp REAL NOT NULL,
    ingestion_time REAL NOT NULL,
    metadata TEXT NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0,
    embed_model TEXT,
    embedding BLOB
);
CREATE INDEX IF NOT EXISTS episodic_session ON episodic(session_id, seq);
CREATE INDEX IF NOT EXISTS episodic_unprocessed ON episodic(processed, session_id);
CREATE TABLE IF NOT EXISTS entities (
    id TEXT PRIMARY KEY,
    key TEXT UNIQUE NOT NULL,
    name TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    properties TEXT NOT NULL,
    event_time REAL NOT NULL,
    ingestion_time REAL NOT NULL,
    embed_model TEXT,
    embedding BLOB
);
CREATE TABLE IF NOT EXISTS mentions (
    entity_id TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    PRIMARY KEY (entity_id, entry_id)
);
CREATE TABLE IF NOT EXISTS keyword_counts (
    keyword TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    count INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    PRIMARY KEY (keyword, entry_id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_MAX_SOURCES = 20


def iso(t: float) -> str:
    """RFC 3339 in UTC with microseconds, as rs-llmspell serialises its timestamps."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _blob(v: np.ndarray) -> bytes:
    return np.asarray(v, dtype=np.float32).tobytes()


class MemoryStore:
    """Episodic entries, entities and their mentions; see the module docstring."""

    def __init__(self, path: Path | None, *, embed: Embed, embed_name: str, lexical: Lexical,
                 vector_weight: float = 0.6, keyword_min_mentions: int = 2):
        self.path = path
        self._embed = embed
        self.embed_name = embed_name
        self._lexical = lexical
        self.vector_weight = vector_weight
        self.keyword_min_mentions = keyword_min_mentions
        self._lock = threading.RLock()
        target = ":memory:" if path is None else str(path)
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            target, check_same_thread=False, isolation_level=None, timeout=10.0)
        c = self._conn
        if path is not None:
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
        c.execute("PRAGMA busy_timeout=10000")
        c.executescript(_SCHEMA)

    # ------------------------------------------------------------------------------------- plumbing

    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the memory store is closed")
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _embed_one(self, text: str) -> np.ndarray:
        return np.asarray(self._embed([text]), dtype=np.float32)[0]

    def _ensure_embeddings(self, table: str, key_col: str, rows: list[tuple[Any, str, str | None, bytes | None]]
                           ) -> dict[Any, np.ndarray]:
        """Vectors for (key, text, model, blob) rows, (re-)embedding those of another embedder."""
        out: dict[Any, np.ndarray] = {}
        stale: list[tuple[Any, str]] = []
        dim = 0
        for key, text, model, blob in rows:
            if model == self.embed_name and blob is not None:
                v = np.frombuffer(blob, dtype=np.float32)
                dim = dim or v.shape[0]
                if v.shape[0] == dim:
                    out[key] = v
                    continue
            stale.append((key, text))
        if stale:
            vecs = np.asarray(self._embed([t for _, t in stale]), dtype=np.float32)
            c = self._c()
            c.execute("BEGIN")
            try:
                for (key, _), v in zip(stale, vecs, strict=True):
                    out[key] = v
                    c.execute(f"UPDATE {table} SET embed_model = ?, embedding = ? WHERE {key_col} = ?",
                              (self.embed_name, _blob(v), key))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return out

    def _rank(self, query: str, keys: list[Any], texts: list[str], vecs: dict[Any, np.ndarray],
              recency: list[float]) -> list[tuple[Any, float]]:
        """(key, score) best first: weighted cosine + relative BM25, ties by recency."""
        if not keys:
            return []
        q = self._embed_one(query)
        mat = np.stack([vecs[k] for k in keys]) if keys else np.zeros((0, q.shape[0]), np.float32)
        cos = np.clip(mat @ q, 0.0, 1.0) if mat.shape[1] == q.shape[0] else np.zeros(len(keys))
        lex = np.asarray(self._lexical(query, texts), dtype=np.float64)
        top = float(lex.max()) if lex.size else 0.0
        lex = lex / top if top > 0 else np.zeros(len(keys))
        w = self.vector_weight
        score = w * cos + (1.0 - w) * lex
        order = sorted(range(len(keys)), key=lambda i: (-score[i], -recency[i]))
        return [(keys[i], float(score[i])) for i in order]

    # ------------------------------------------------------------------------------------- episodic

    def add_entry(self, session_id: str, role: str, content: str, metadata: dict[str, Any]) -> str:
        entry_id = str(uuid.uuid4())
        now = time.time()
        vec = self._embed_one(content)
        with self._lock:
            self._c().execute(
                "INSERT INTO episodic (id, session_id, role, content, timestamp, ingestion_time, metadata, "
                "processed, embed_model, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (entry_id, session_id, role, content, now, now, json.dumps(metadata), self.embed_name, _blob(vec)))
        return entry_id

    @staticmethod
    def _entry(row: Sequence[Any], score: float | None = None) -> dict[str, Any]:
        out = {
            "id": row[0], "session_id": row[1], "role": row[2], "content": row[3],
            "timestamp": iso(row[4]), "ingestion_time": iso(row[5]), "metadata": json.loads(row[6]),
            "processed": bool(row[7]),
        }
        if score is not None:
            out["score"] = round(score, 6)
        return out

    _ENTRY_COLS = "id, session_id, role, content, timestamp, ingestion_time, metadata, processed"

    def search_entries(self, session_id: str, query: str, limit: int, *, candidates: int | None = None
                       ) -> list[dict[str, Any]]:
        """Entries of ``session_id`` (every session for ``""``) ranked by ``query``; an empty query
        gives the most recent entries, oldest first."""
        with self._lock:
            c = self._c()
            where, args = ("WHERE session_id = ?", [session_id]) if session_id else ("", [])
            if not query.strip():
                rows = c.execute(f"SELECT {self._ENTRY_COLS} FROM episodic {where} ORDER BY seq DESC LIMIT ?",
                                 (*args, limit)).fetchall()
                return [self._entry(r) for r in reversed(rows)]
            sql = f"SELECT {self._ENTRY_COLS}, embed_model, embedding FROM episodic {where} ORDER BY seq DESC"
            if candidates is not None:
                sql += f" LIMIT {int(candidates)}"
            rows = c.execute(sql, args).fetchall()
            vecs = self._ensure_embeddings("episodic", "id", [(r[0], r[3], r[8], r[9]) for r in rows])
        by_id = {r[0]: r for r in rows}
        ranked = self._rank(query, [r[0] for r in rows], [r[3] for r in rows], vecs, [r[4] for r in rows])
        return [self._entry(by_id[k], s) for k, s in ranked[:limit]]

    def count_entries(self) -> int:
        with self._lock:
            return int(self._c().execute("SELECT COUNT(*) FROM episodic").fetchone()[0])

    # ------------------------------------------------------------------------------------- semantic

    @staticmethod
    def _entity_text(name: str, entity_type: str, props: dict[str, Any]) -> str:
        parts = [name, entity_type.replace("_", " ")]
        for k, v in props.items():
            if k in ("value", "context") and isinstance(v, str):
                parts.append(v)
        return " ".join(parts)

    def _entity(self, row: Sequence[Any], score: float | None = None) -> dict[str, Any]:
        out = {
            "id": row[0], "name": row[2], "entity_type": row[3], "properties": json.loads(row[4]),
            "event_time": iso(row[5]), "ingestion_time": iso(row[6]),
        }
        if score is not None:
            out["score"] = round(score, 6)
        return out

    _ENTITY_COLS = "id, key, name, entity_type, properties, event_time, ingestion_time"

    def query_entities(self, query: str, limit: int, *, candidates: int | None = None) -> list[dict[str, Any]]:
        """Entities ranked by ``query`` (most recently seen first for an empty query)."""
        with self._lock:
            c = self._c()
            if not query.strip():
                rows = c.execute(f"SELECT {self._ENTITY_COLS} FROM entities ORDER BY event_time DESC, name LIMIT ?",
                                 (limit,)).fetchall()
                return [self._entity(r) for r in rows]
            sql = f"SELECT {self._ENTITY_COLS}, embed_model, embedding FROM entities ORDER BY event_time DESC"
            if candidates is not None:
                sql += f" LIMIT {int(candidates)}"
            rows = c.execute(sql).fetchall()
            texts = [self._entity_text(r[2], r[3], json.loads(r[4])) for r in rows]
            vecs = self._ensure_embeddings("entities", "id",
                                           [(r[0], t, r[7], r[8]) for r, t in zip(rows, texts, strict=True)])
        by_id = {r[0]: r for r in rows}
        ranked = self._rank(query, [r[0] for r in rows], texts, vecs, [r[5] for r in rows])
        return [self._entity(by_id[k], s) for k, s in ranked[:limit]]

    def count_entities(self) -> int:
        with self._lock:
            return int(self._c().execute("SELECT COUNT(*) FROM entities").fetchone()[0])

    # --------------------------------------------------------------------------------- consolidation

    def consolidate(self, session_id: str | None, force: bool) -> dict[str, Any]:
        """Extract entities from the unprocessed entries (all entries of the scope with ``force``) of
        ``session_id`` (every session when None/""), upsert them, and mark the entries processed.

        Idempotent: mentions are kept per (entity, entry), so processing an entry again changes no
        count. An entity is *added* when its key (type + normalised name) is new, *updated* when an
        existing entity gains a mention or a fact changes value.
        """
        t0 = time.perf_counter()
        stats = {"entries_processed": 0, "entities_added": 0, "entities_updated": 0, "entities_deleted": 0,
                 "entries_skipped": 0, "entries_failed": 0}
        with self._lock:
            c = self._c()
            conds: list[str] = []
            args: list[Any] = []
            if session_id:
                conds.append("session_id = ?")
                args.append(session_id)
            if not force:
                conds.append("processed = 0")
            where = ("WHERE " + " AND ".join(conds)) if conds else ""
            rows = c.execute(f"SELECT id, session_id, content, timestamp, metadata FROM episodic {where} ORDER BY seq",
                             args).fetchall()
            added: set[str] = set()
            updated: set[str] = set()
            touched_keywords: set[str] = set()
            known = {r[0] for r in c.execute("SELECT key FROM entities WHERE entity_type = 'entity'")}
            c.execute("BEGIN")
            try:
                for entry_id, sess, content, ts, meta_json in rows:
                    try:
                        meta = json.loads(meta_json)
                        mentions, kws = extract(content, meta, frozenset(k[len("entity:"):] for k in known))
                    except Exception:
                        stats["entries_failed"] += 1
                        continue
                    if not mentions and not kws:
                        stats["entries_skipped"] += 1
                        c.execute("UPDATE episodic SET processed = 1 WHERE id = ?", (entry_id,))
                        continue
                    for mn in mentions:
                        self._upsert_mention(c, mn, entry_id, sess, ts, added, updated)
                        if mn.entity_type == "entity":
                            known.add(mn.key)
                    for kw, n in kws.items():
                        c.execute("INSERT OR REPLACE INTO keyword_counts VALUES (?, ?, ?, ?, ?)",
                                  (kw, entry_id, sess, n, ts))
                        touched_keywords.add(kw)
                    c.execute("UPDATE episodic SET processed = 1 WHERE id = ?", (entry_id,))
                    stats["entries_processed"] += 1
                self._promote_keywords(c, touched_keywords, added, updated)
                c.execute("INSERT OR REPLACE INTO meta VALUES ('last_consolidation', ?)", (str(time.time()),))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        stats["entities_added"] = len(added)
        stats["entities_updated"] = len(updated - added)
        stats["duration_ms"] = int((time.perf_counter() - t0) * 1000)
        return stats

    def _upsert_mention(self, c: sqlite3.Connection, mn: Mention, entry_id: str, session: str, ts: float,
                        added: set[str], updated: set[str]) -> None:
        row = c.execute("SELECT id, properties, event_time FROM entities WHERE key = ?", (mn.key,)).fetchone()
        now = time.time()
        if row is None:
            ent_id = str(uuid.uuid4())
            props = dict(mn.properties)
            props.update(mentions=1, sessions=[session], sources=[entry_id], context=mn.context)
            c.execute("INSERT INTO entities (id, key, name, entity_type, properties, event_time, ingestion_time) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (ent_id, mn.key, mn.name, mn.entity_type, json.dumps(props), ts, now))
            c.execute("INSERT OR IGNORE INTO mentions VALUES (?, ?, ?)", (ent_id, entry_id, session))
            added.add(ent_id)
            return
        ent_id, props_json, event_time = row
        props = json.loads(props_json)
        changed = False
        fresh = c.execute("INSERT OR IGNORE INTO mentions VALUES (?, ?, ?)", (ent_id, entry_id, session)).rowcount > 0
        if fresh:
            props["mentions"] = int(c.execute("SELECT COUNT(*) FROM mentions WHERE entity_id = ?",
                                              (ent_id,)).fetchone()[0])
            sessions = list(props.get("sessions") or [])
            if session not in sessions:
                sessions.append(session)
            props["sessions"] = sessions
            sources = [s for s in props.get("sources") or [] if s != entry_id] + [entry_id]
            props["sources"] = sources[-_MAX_SOURCES:]
            changed = True
        if "value" in mn.properties and props.get("value") != mn.properties["value"] and ts >= event_time:
            props["value"] = mn.properties["value"]
            props["context"] = mn.context
            changed = True
        if changed:
            c.execute("UPDATE entities SET properties = ?, event_time = ?, embed_model = NULL, embedding = NULL "
                      "WHERE id = ?", (json.dumps(props), max(ts, event_time), ent_id))
            updated.add(ent_id)

    def _promote_keywords(self, c: sqlite3.Connection, keywords: set[str], added: set[str], updated: set[str]) -> None:
        """Keywords mentioned often enough (over every consolidated entry) become ``concept``s."""
        for kw in sorted(keywords):
            rows = c.execute("SELECT entry_id, session_id, count, timestamp FROM keyword_counts WHERE keyword = ?",
                             (kw,)).fetchall()
            total = sum(r[2] for r in rows)
            if total < self.keyword_min_mentions:
                continue
            key = f"concept:{normalise(kw)}"
            row = c.execute("SELECT id, properties FROM entities WHERE key = ?", (key,)).fetchone()
            sessions = sorted({r[1] for r in rows})
            sources = [r[0] for r in sorted(rows, key=lambda r: r[3])][-_MAX_SOURCES:]
            latest = max(r[3] for r in rows)
            props = {"mentions": total, "sessions": sessions, "sources": sources}
            if row is None:
                ent_id = str(uuid.uuid4())
                c.execute("INSERT INTO entities (id, key, name, entity_type, properties, event_time, ingestion_time) "
                          "VALUES (?, ?, ?, 'concept', ?, ?, ?)",
                          (ent_id, key, kw, json.dumps(props), latest, time.time()))
                added.add(ent_id)
            else:
                old = json.loads(row[1])
                if old.get("mentions") != total or old.get("sessions") != sessions:
                    c.execute("UPDATE entities SET properties = ?, event_time = ?, embed_model = NULL, "
                              "embedding = NULL WHERE id = ?", (json.dumps(props), latest, row[0]))
                    updated.add(row[0])
            for entry_id, sess, _, _ in rows:
                ent = c.execute("SELECT id FROM entities WHERE key = ?", (key,)).fetchone()[0]
                c.execute("INSERT OR IGNORE INTO mentions VALUES (?, ?, ?)", (ent, entry_id, sess))

    # ------------------------------------------------------------------------------------- stats

    def stats(self) -> dict[str, Any]:
        with self._lock:
            c = self._c()
            episodic = int(c.execute("SELECT COUNT(*) FROM episodic").fetchone()[0])
            semantic = int(c.execute("SELECT COUNT(*) FROM entities").fetchone()[0])
            pending = int(c.execute("SELECT COUNT(*) FROM episodic WHERE processed = 0").fetchone()[0])
            sessions = int(c.execute(
                "SELECT COUNT(DISTINCT session_id) FROM episodic WHERE processed = 0").fetchone()[0])
            last = c.execute("SELECT value FROM meta WHERE key = 'last_consolidation'").fetchone()
        out: dict[str, Any] = {
            "episodic_count": episodic,
            "semantic_count": semantic,
            "sessions_with_unprocessed": sessions,
            "unprocessed_count": pending,
            "has_episodic": True,
            "has_semantic": True,
            "has_consolidation": True,
            "consolidation_status": "pending" if pending else "idle",
        }
        if last is not None:
            out["last_consolidation"] = iso(float(last[0]))
        return out
