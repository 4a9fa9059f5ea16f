"""Vectors + content + metadata in SQLite, searched by brute-force cosine in numpy.

One database file (``<workspace>/.llmspell/rag.db`` by default; ``:memory:`` when the state backend is
``memory``) holds every namespace. A namespace is a ``(scope, scope_id)`` pair (``("global", "")``,
``("tenant", "acme")``, ``("session", "s-1")``...); every read names it in SQL (``WHERE scope=? AND
scope_id=?``), so one tenant's or session's rows are never loaded into another's search.

Search loads one namespace's vectors into a float32 matrix once (cached; dropped when that namespace
is written, or when another connection wrote the file: ``PRAGMA data_version`` is checked) and takes
``matrix @ query`` over it: exact, no approximate index. At 100k 384-d rows that is ~150 MB and a few
milliseconds per query. (sqlite-vec would do the same brute-force scan inside SQLite, but this
Python's ``sqlite3`` has no ``enable_load_extension``; rs-llmspell's own HNSW extension is Rust-only.)

Rows embedded by another embedder than the current one (the ``[rag] embedder`` setting changed) are
re-embedded from their content when their namespace is loaded, so a search never compares vectors of
different models.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

GLOBAL_SCOPE = "global"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    doc_id TEXT,
    scope TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    content TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    embedder TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    tokens INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    expires_at REAL,
    UNIQUE (scope, scope_id, id)
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (scope, scope_id, doc_id);
CREATE INDEX IF NOT EXISTS chunks_expiry ON chunks (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS namespaces (
    scope TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    ttl_s REAL,
    created_at REAL NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (scope, scope_id)
);
CREATE TABLE IF NOT EXISTS generations (
    scope TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    gen INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, scope_id)
);
CREATE TABLE IF NOT EXISTS derived (
    scope TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    gen INTEGER NOT NULL,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (scope, scope_id, kind, name)
);
CREATE TABLE IF NOT EXISTS counters (
    scope TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, scope_id, name)
);
"""


@dataclass
class VectorItem:
    """One chunk to store: its vector (L2-normalised), text and metadata, in a namespace."""

    id: str
    content: str
    vector: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)
    scope: str = GLOBAL_SCOPE
    scope_id: str = ""
    tokens: int = 0
    doc_id: str | None = None
    """The document the chunk came from (:meth:`VectorStore.delete_documents`; ``add`` with
    ``replace_documents`` first removes the document's old chunks)."""


@dataclass
class Hit:
    """A result of :meth:`VectorStore.search`: ``score`` is the cosine similarity."""

    id: str
    content: str
    score: float
    metadata: dict[str, Any]
    scope: str
    scope_id: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "content": self.content, "text": self.content, "score": self.score,
                "metadata": self.metadata}


@dataclass
class Namespace:
    """One namespace's live rows, loaded for search (``version`` changes on every write)."""

    scope: str
    scope_id: str
    version: int
    ids: list[str]
    contents: list[str]
    raw_metadata: list[str]
    matrix: np.ndarray
    next_expiry: float | None = None
    generation: int = 0
    """The namespace's content generation in the file (every write, by any process, bumps it)."""
    _metadata: list[dict[str, Any]] | None = None

    def metadata(self, i: int) -> dict[str, Any]:
        if self._metadata is not None:
            return self._metadata[i]
        return _loads(self.raw_metadata[i])

    def all_metadata(self) -> list[dict[str, Any]]:
        if self._metadata is None:
            self._metadata = [_loads(m) for m in self.raw_metadata]
        return self._metadata

    def __len__(self) -> int:
        return len(self.ids)


def _loads(s: str) -> dict[str, Any]:
    try:
        v = json.loads(s)
    except ValueError:
        return {}
    return v if isinstance(v, dict) else {}


def norm_scope(scope: str | None, scope_id: str | None) -> tuple[str, str]:
    """``(scope, scope_id)`` with the defaults: no scope = the ``global`` namespace."""
    return (scope or GLOBAL_SCOPE), ("" if scope_id is None else str(scope_id))


_RANGE_OPS = ("$gte", "$lte", "$gt", "$lt")


def matches(meta: dict[str, Any], filters: dict[str, Any] | None) -> bool:
    """Metadata filter: every key must equal the filter's value (a list value = any of them; a list in
    the metadata matches when it contains the value; ``{"$in": [...]}``, ``{"$ne": v}``,
    ``{"$gte"|"$lte"|"$gt"|"$lt": n}`` and ``{"$exists": bool}`` work too)."""
    if not filters:
        return True
    for k, want in filters.items():
        have = meta.get(k)
        if isinstance(want, dict) and want and all(isinstance(op, str) and op.startswith("$") for op in want):
            for op, arg in want.items():
                if op == "$in" and have not in (arg if isinstance(arg, list) else [arg]):
                    return False
                if op == "$ne" and have == arg:
                    return False
                if op == "$exists" and (k in meta) != bool(arg):
                    return False
                if op in _RANGE_OPS:
                    if (not isinstance(have, (int, float)) or isinstance(have, bool)
                            or not isinstance(arg, (int, float))):
                        return False
                    ok = {"$gte": have >= arg, "$lte": have <= arg, "$gt": have > arg, "$lt": have < arg}[op]
                    if not ok:
                        return False
            continue
        if isinstance(want, list):
            if isinstance(have, list):
                if not any(w in have for w in want):
                    return False
            elif have not in want:
                return False
        elif isinstance(have, list):
            if want not in have:
                return False
        elif have != want:
            return False
    return True


class VectorStore:
    """Chunks with vectors in SQLite, one namespace per ``(scope, scope_id)``.

    Thread-safe (one connection behind a lock): the RAG index calls it from worker threads.
    ``embedder`` tags the rows with the current embedder and ``reembed`` (texts -> vectors) redoes
    rows another embedder made, when their namespace is loaded.
    """

    def __init__(self, path: Path | str | None, *, embedder: str, dim: int,
                 reembed: Callable[[list[str]], np.ndarray] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = None if path is None or str(path) == ":memory:" else Path(path)
        self._db = sqlite3.connect(":memory:" if self.path is None else str(self.path),
                                   check_same_thread=False, isolation_level=None, timeout=10.0)
        self._lock = threading.RLock()
        self.embedder = embedder
        self.dim = dim
        self._reembed = reembed
        self._clock = clock
        self._cache: dict[tuple[str, str], Namespace] = {}
        self._versions: dict[tuple[str, str], int] = {}
        self._closed = False
        with self._lock:
            if self.path is not None:
                # rows are ~1-2 KB (a 384-d vector is 1.5 KB): 4 KB pages would hold one or two
                self._db.execute("PRAGMA page_size=16384")
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._data_version = self._file_version()
            self.purge_expired()

    # -- plumbing -----------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the RAG vector store is closed")

    def _file_version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def _fresh(self) -> None:
        """Drop every cached namespace if another connection (another process) wrote the file."""
        v = self._file_version()
        if v != self._data_version:
            for ns in list(self._cache):
                self._bump(ns)
            self._data_version = v

    def _bump(self, ns: tuple[str, str]) -> None:
        self._cache.pop(ns, None)
        self._versions[ns] = self._versions.get(ns, 0) + 1

    def version(self, scope: str | None, scope_id: str | None) -> int:
        """Changes whenever the namespace is written (derived caches compare it)."""
        return self._versions.get(norm_scope(scope, scope_id), 0)

    def _touch(self, ns: tuple[str, str]) -> None:
        """Bump the namespace's generation (inside the write's transaction)."""
        self._db.execute("INSERT INTO generations (scope, scope_id, gen) VALUES (?,?,1) ON CONFLICT (scope, scope_id)"
                         " DO UPDATE SET gen = gen + 1", ns)

    def _generation(self, ns: tuple[str, str]) -> int:
        row = self._db.execute("SELECT gen FROM generations WHERE scope=? AND scope_id=?", ns).fetchone()
        return 0 if row is None else int(row[0])

    def _ttl(self, ns: tuple[str, str]) -> float | None:
        row = self._db.execute("SELECT ttl_s FROM namespaces WHERE scope=? AND scope_id=?", ns).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    # -- writing ------------------------------------------------------------------------------------

    def add(self, items: Iterable[VectorItem], *, replace_documents: bool = True) -> int:
        """Store chunks (a chunk whose id already exists in its namespace is replaced; with
        ``replace_documents`` the other old chunks of the items' documents are deleted first). A
        namespace with a time to live gives its new chunks an expiry. Returns how many were written."""
        now = self._clock()
        rows: list[tuple[Any, ...]] = []
        touched: set[tuple[str, str]] = set()
        ttls: dict[tuple[str, str], float | None] = {}
        docs: set[tuple[str, str, str]] = set()
        with self._lock:
            self._check_open()
            for it in items:
                ns = norm_scope(it.scope, it.scope_id)
                if ns not in ttls:
                    ttls[ns] = self._ttl(ns)
                ttl = ttls[ns]
                vec = np.ascontiguousarray(it.vector, dtype=np.float32).reshape(-1)
                if vec.shape[0] != self.dim:
                    raise ValueError(f"vector of {vec.shape[0]} dimensions for a {self.dim}-dimension store")
                if it.doc_id is not None and replace_documents:
                    docs.add((ns[0], ns[1], it.doc_id))
                rows.append((it.id, it.doc_id, ns[0], ns[1], it.content,
                             json.dumps(it.metadata, ensure_ascii=False, default=str), self.embedder, self.dim,
                             vec.tobytes(), int(it.tokens), now, None if ttl is None else now + ttl))
                touched.add(ns)
            if not rows:
                return 0
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if docs:
                    self._db.executemany("DELETE FROM chunks WHERE scope=? AND scope_id=? AND doc_id=?", sorted(docs))
                self._db.executemany(
                    "INSERT INTO chunks (id, doc_id, scope, scope_id, content, metadata, embedder, dim, vector,"
                    " tokens, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT (scope, scope_id, id) DO UPDATE SET doc_id=excluded.doc_id,"
                    " content=excluded.content, metadata=excluded.metadata, embedder=excluded.embedder,"
                    " dim=excluded.dim, vector=excluded.vector, tokens=excluded.tokens,"
                    " created_at=excluded.created_at, expires_at=excluded.expires_at", rows)
                for ns in touched:
                    self._touch(ns)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            for ns in touched:
                self._bump(ns)
        return len(rows)

    def delete_documents(self, scope: str | None, scope_id: str | None, doc_ids: Iterable[str]) -> int:
        """Delete the chunks of these documents in one namespace; returns how many were deleted."""
        ns = norm_scope(scope, scope_id)
        with self._lock:
            self._check_open()
            n = 0
            for d in doc_ids:
                n += self._db.execute("DELETE FROM chunks WHERE scope=? AND scope_id=? AND doc_id=?",
                                      (ns[0], ns[1], d)).rowcount
            if n:
                self._touch(ns)
                self._bump(ns)
            return int(n)

    def delete_scope(self, scope: str | None, scope_id: str | None = None) -> int:
        """Delete a namespace's chunks, record and counters (every ``scope_id`` of ``scope`` when
        ``scope_id`` is None); returns how many chunks were deleted."""
        with self._lock:
            self._check_open()
            if scope_id is None:
                sc = scope or GLOBAL_SCOPE
                n = self._db.execute("DELETE FROM chunks WHERE scope=?", (sc,)).rowcount
                self._db.execute("DELETE FROM namespaces WHERE scope=?", (sc,))
                self._db.execute("DELETE FROM counters WHERE scope=?", (sc,))
                self._db.execute("DELETE FROM derived WHERE scope=?", (sc,))
                self._db.execute("UPDATE generations SET gen = gen + 1 WHERE scope=?", (sc,))
                for ns in [k for k in set(self._versions) | set(self._cache) if k[0] == sc]:
                    self._bump(ns)
            else:
                ns = norm_scope(scope, scope_id)
                n = self._db.execute("DELETE FROM chunks WHERE scope=? AND scope_id=?", ns).rowcount
                self._db.execute("DELETE FROM namespaces WHERE scope=? AND scope_id=?", ns)
                self._db.execute("DELETE FROM counters WHERE scope=? AND scope_id=?", ns)
                self._db.execute("DELETE FROM derived WHERE scope=? AND scope_id=?", ns)
                self._touch(ns)
                self._bump(ns)
            return int(n)

    def purge_expired(self, now: float | None = None) -> int:
        """Delete chunks whose time to live has passed (by ``now``); returns how many."""
        with self._lock:
            now = self._clock() if now is None else now
            rows = self._db.execute("SELECT DISTINCT scope, scope_id FROM chunks WHERE expires_at IS NOT NULL"
                                    " AND expires_at <= ?", (now,)).fetchall()
            if not rows:
                return 0
            n = self._db.execute("DELETE FROM chunks WHERE expires_at IS NOT NULL AND expires_at <= ?",
                                 (now,)).rowcount
            for r in rows:
                self._touch((r[0], r[1]))
                self._bump((r[0], r[1]))
            return int(n)

    def set_namespace(self, scope: str, scope_id: str, *, ttl_s: float | None = None,
                      settings: dict[str, Any] | None = None) -> dict[str, Any]:
        """Create or update a namespace's record (a session collection's time to live, settings).
        A time to live applies to chunks added from now on."""
        ns = norm_scope(scope, scope_id)
        with self._lock:
            self._check_open()
            old = self.namespace_info(*ns)
            merged = dict(old["settings"]) if old else {}
            merged.update(settings or {})
            ttl = ttl_s if ttl_s is not None else (old["ttl_s"] if old else None)
            created = old["created_at"] if old else self._clock()
            self._db.execute("INSERT OR REPLACE INTO namespaces (scope, scope_id, ttl_s, created_at, settings)"
                             " VALUES (?,?,?,?,?)", (ns[0], ns[1], ttl, created, json.dumps(merged, default=str)))
            return {"scope": ns[0], "scope_id": ns[1], "ttl_s": ttl, "created_at": created, "settings": merged}

    def namespace_info(self, scope: str, scope_id: str) -> dict[str, Any] | None:
        """A namespace's record (None when it has none: plain namespaces need no record)."""
        with self._lock:
            self._check_open()
            row = self._db.execute("SELECT ttl_s, created_at, settings FROM namespaces WHERE scope=? AND scope_id=?",
                                   norm_scope(scope, scope_id)).fetchone()
        if row is None:
            return None
        return {"scope": scope, "scope_id": scope_id, "ttl_s": row[0], "created_at": row[1],
                "settings": _loads(row[2])}

    def bump_counter(self, scope: str | None, scope_id: str | None, name: str, by: int = 1) -> None:
        """Add to a namespace's usage counter (``searches_performed``...)."""
        ns = norm_scope(scope, scope_id)
        with self._lock:
            self._check_open()
            self._db.execute("INSERT INTO counters (scope, scope_id, name, value) VALUES (?,?,?,?)"
                             " ON CONFLICT (scope, scope_id, name) DO UPDATE SET value = value + excluded.value",
                             (ns[0], ns[1], name, int(by)))

    def counters(self, scope: str | None, scope_id: str | None) -> dict[str, int]:
        with self._lock:
            self._check_open()
            rows = self._db.execute("SELECT name, value FROM counters WHERE scope=? AND scope_id=?",
                                    norm_scope(scope, scope_id)).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    # -- reading ------------------------------------------------------------------------------------

    def namespace(self, scope: str | None, scope_id: str | None) -> Namespace:
        """The namespace's live (unexpired) rows, loaded once and cached until it is written."""
        ns = norm_scope(scope, scope_id)
        with self._lock:
            self._check_open()
            self._fresh()
            hit = self._cache.get(ns)
            now = self._clock()
            if hit is not None and (hit.next_expiry is None or hit.next_expiry > now):
                return hit
            self.purge_expired(now)  # so that the generation describes exactly the rows loaded
            self._refresh_stale(ns)
            self._db.execute("BEGIN")  # one snapshot: the rows and their generation agree
            try:
                gen = self._generation(ns)
                rows = self._db.execute(
                    "SELECT id, content, metadata, vector, expires_at FROM chunks WHERE scope=? AND scope_id=?"
                    " AND embedder=? AND dim=? AND (expires_at IS NULL OR expires_at > ?) ORDER BY rowid",
                    (ns[0], ns[1], self.embedder, self.dim, now)).fetchall()
            finally:
                self._db.execute("COMMIT")
            matrix = np.empty((len(rows), self.dim), dtype=np.float32)  # aligned, writable
            for i, r in enumerate(rows):
                matrix[i] = np.frombuffer(r[3], dtype=np.float32)
            space = Namespace(ns[0], ns[1], self._versions.get(ns, 0), [r[0] for r in rows],
                              [r[1] for r in rows], [r[2] for r in rows], matrix,
                              min((r[4] for r in rows if r[4] is not None), default=None), gen)
            self._cache[ns] = space
            return space

    def _refresh_stale(self, ns: tuple[str, str]) -> None:
        """Re-embed the namespace's rows made by another embedder (or of another size)."""
        if self._reembed is None:
            return
        stale = self._db.execute("SELECT rowid, content FROM chunks WHERE scope=? AND scope_id=? AND"
                                 " (embedder<>? OR dim<>?)", (ns[0], ns[1], self.embedder, self.dim)).fetchall()
        for start in range(0, len(stale), 512):
            part = stale[start:start + 512]
            vecs = np.asarray(self._reembed([r[1] for r in part]), dtype=np.float32)
            self._db.executemany("UPDATE chunks SET vector=?, embedder=?, dim=? WHERE rowid=?",
                                 [(vecs[i].tobytes(), self.embedder, self.dim, r[0]) for i, r in enumerate(part)])

    def load_derived(self, space: Namespace, kind: str) -> dict[str, bytes] | None:
        """Blobs saved by :meth:`save_derived` for exactly this generation of the namespace, or None."""
        with self._lock:
            self._check_open()
            rows = self._db.execute("SELECT name, data FROM derived WHERE scope=? AND scope_id=? AND kind=? AND gen=?",
                                    (space.scope, space.scope_id, kind, space.generation)).fetchall()
        return {r[0]: bytes(r[1]) for r in rows} or None

    def save_derived(self, space: Namespace, kind: str, blobs: dict[str, bytes]) -> bool:
        """Keep data derived from the namespace's rows (its BM25 index) for other processes; not saved
        when the namespace changed since ``space`` was loaded. Returns whether it was saved."""
        with self._lock:
            self._check_open()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self._generation((space.scope, space.scope_id)) != space.generation:
                    self._db.execute("ROLLBACK")
                    return False
                self._db.execute("DELETE FROM derived WHERE scope=? AND scope_id=? AND kind=?",
                                 (space.scope, space.scope_id, kind))
                self._db.executemany("INSERT INTO derived (scope, scope_id, kind, gen, name, data)"
                                     " VALUES (?,?,?,?,?,?)",
                                     [(space.scope, space.scope_id, kind, space.generation, k, v)
                                      for k, v in blobs.items()])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return True

    def search(self, vector: np.ndarray, k: int, scope: str | None = None, scope_id: str | None = None,
               threshold: float | None = None, filters: dict[str, Any] | None = None) -> list[Hit]:
        """The ``k`` rows of the namespace most cosine-similar to ``vector`` (best first), only those
        with similarity >= ``threshold`` and metadata matching ``filters``."""
        if k <= 0:
            return []
        space = self.namespace(scope, scope_id)
        if not len(space):
            return []
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        sims = space.matrix @ q
        if filters:
            metas = space.all_metadata()
            allowed = np.fromiter((matches(m, filters) for m in metas), dtype=bool, count=len(metas))
            sims = np.where(allowed, sims, -np.inf)
        hits: list[Hit] = []
        for i in top_k_indices(sims, k):
            s = float(sims[i])
            if s == -np.inf or (threshold is not None and s < threshold):
                continue
            hits.append(Hit(space.ids[i], space.contents[i], s, space.metadata(int(i)), space.scope, space.scope_id))
        return hits

    def count(self, scope: str | None = None, scope_id: str | None = None) -> int:
        """Live chunks in a namespace (in the whole store when both are None)."""
        with self._lock:
            self._check_open()
            now = self._clock()
            if scope is None and scope_id is None:
                row = self._db.execute("SELECT COUNT(*) FROM chunks WHERE expires_at IS NULL OR expires_at > ?",
                                       (now,)).fetchone()
            else:
                row = self._db.execute("SELECT COUNT(*) FROM chunks WHERE scope=? AND scope_id=? AND"
                                       " (expires_at IS NULL OR expires_at > ?)",
                                       (*norm_scope(scope, scope_id), now)).fetchone()
        return int(row[0])

    def stats(self, scope: str | None = None, scope_id: str | None = None) -> dict[str, Any]:
        """Counts and sizes of one namespace (with ``scope_id`` None, of every namespace of ``scope``;
        with both None, of the whole store)."""
        now = self._clock()
        where = "(expires_at IS NULL OR expires_at > ?)"
        args: list[Any] = [now]
        if scope is not None or scope_id is not None:
            sc, sid = norm_scope(scope, scope_id)
            where += " AND scope=?"
            args.append(sc)
            if scope_id is not None:
                where += " AND scope_id=?"
                args.append(sid)
        with self._lock:
            self._check_open()
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(vector)),0), COALESCE(SUM(LENGTH(content)),0),"
                " COALESCE(SUM(LENGTH(metadata)),0), COALESCE(SUM(tokens),0),"
                f" COUNT(DISTINCT scope || ':' || scope_id) FROM chunks WHERE {where}", args).fetchone()
        return {"total_vectors": int(row[0]), "total_storage_bytes": int(row[1] + row[2] + row[3]),
                "vector_bytes": int(row[1]), "total_tokens": int(row[4]), "namespaces": int(row[5]),
                "dimensions": self.dim, "embedder": self.embedder}

    def namespaces(self) -> list[tuple[str, str, int]]:
        """Every ``(scope, scope_id, chunks)`` holding chunks."""
        with self._lock:
            self._check_open()
            rows = self._db.execute("SELECT scope, scope_id, COUNT(*) FROM chunks GROUP BY scope, scope_id"
                                    " ORDER BY scope, scope_id").fetchall()
        return [(r[0], r[1], int(r[2])) for r in rows]

    def save(self) -> None:
        """Make everything written durable in the main file (a WAL checkpoint; each write is already
        committed)."""
        with self._lock:
            self._check_open()
            if self.path is not None:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._cache.clear()
            try:
                if self.path is not None:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._db.close()


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first (argpartition, then a sort of those k)."""
    n = scores.shape[0]
    if n == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= n:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]
