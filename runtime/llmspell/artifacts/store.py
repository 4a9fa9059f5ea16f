"""The artifact store behind ``Artifact`` (rs-llmspell's session artifacts).

Layout under the workspace (``[artifacts] path``, default ``.llmspell/artifacts``)::

    index.db            SQLite: one row per artifact (session, sequence, hash, metadata)
    blobs/ab/abcdef...  the content, named by its SHA-256 (identical content is stored once)

An artifact is identified as in rs-llmspell by ``{content_hash, session_id, sequence}``: the sequence
counts the artifacts a session stored (never reused after a delete). The folder is created and
resolved through the path gate beneath the workspace (a planted link cannot redirect it), and the
blobs are written and read through a gate rooted at that folder. Sizes are capped by
``[artifacts] max_artifact_bytes / max_session_bytes / max_total_bytes``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmspell.core.errors import ResourceLimitError, StateError, ValidationError

if TYPE_CHECKING:
    from llmspell.config import ArtifactsConfig
    from llmspell.security.fs import PathGate

_KNOWN_TYPES = {
    "agent_output": "AgentOutput",
    "tool_result": "ToolResult",
    "user_input": "UserInput",
    "system_generated": "SystemGenerated",
}
MAX_NAME_CHARS = 255
MAX_TAG_CHARS = 64
MAX_TAGS = 100


def parse_artifact_type(value: Any, where: str) -> str:
    """rs-llmspell's ``parse_artifact_type``: the four built-in types (any case) or a custom one.

    Returns the stored form: ``AgentOutput``/``ToolResult``/``UserInput``/``SystemGenerated`` or
    ``Custom("name")`` (rs-llmspell's ``{:?}`` rendering, which its metadata shows)."""
    if not isinstance(value, str):
        raise ValidationError(f"{where}: 'type' must be a string such as \"agent_output\", \"tool_result\", "
                              f"\"user_input\", \"system_generated\" or a custom name, got "
                              f"{'nil' if value is None else type(value).__name__}")
    if not value:
        raise ValidationError(f"{where}: Artifact type cannot be empty")
    known = _KNOWN_TYPES.get(value.lower())
    return known if known is not None else f"Custom({json.dumps(value)})"


def plain_type(stored: str) -> str:
    """``AgentOutput`` -> ``agent_output``; ``Custom("data")`` -> ``data``."""
    for k, v in _KNOWN_TYPES.items():
        if v == stored:
            return k
    if stored.startswith("Custom(") and stored.endswith(")"):
        try:
            return str(json.loads(stored[7:-1]))
        except ValueError:
            pass
    return stored


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


def parse_time(value: Any, where: str, key: str) -> float:
    """An RFC 3339 timestamp (``2024-01-01T00:00:00Z``) or epoch seconds."""
    if isinstance(value, bool) or value is None:
        raise ValidationError(f"{where}: '{key}' must be an RFC 3339 time such as \"2024-01-01T00:00:00Z\" "
                              f"or epoch seconds, got {'nil' if value is None else 'boolean'}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValidationError(f"{where}: '{key}' must be an RFC 3339 time such as \"2024-01-01T00:00:00Z\", "
                                  f"got {json.dumps(value)}") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    raise ValidationError(f"{where}: '{key}' must be an RFC 3339 time string or epoch seconds, "
                          f"got {type(value).__name__}")


@dataclass
class ArtifactQuery:
    """rs-llmspell's ``ArtifactQuery``; every field optional."""

    session_id: str | None = None
    artifact_type: str | None = None
    name_pattern: str | None = None
    tags: list[str] = field(default_factory=list)
    created_after: float | None = None
    created_before: float | None = None
    min_size: int | None = None
    max_size: int | None = None
    limit: int | None = None


def _limit_error(key: str, message: str, limit: int) -> ResourceLimitError:
    return ResourceLimitError(f"{message} (limit {limit} bytes: [artifacts] {key} in llmspell.toml)",
                              details={"limit": limit, "key": f"artifacts.{key}"})


class ArtifactStore:
    """One workspace's artifacts; thread-safe (one SQLite connection behind a lock)."""

    def __init__(self, workspace: Path, cfg: ArtifactsConfig):
        from llmspell.security.fs import PathGate
        from llmspell.state.store import _checked_db_path

        self.cfg = cfg
        folder = Path(cfg.path).expanduser() if cfg.path else Path(".llmspell") / "artifacts"
        if not folder.is_absolute():
            folder = Path(workspace) / folder
        try:
            db_path = _checked_db_path(folder / "index.db", Path(workspace))
        except StateError as e:
            raise StateError(e.message.replace("state database", "artifact index")) from None
        self.root = db_path.parent
        self.gate: PathGate = PathGate([self.root], self.root, refuse_hardlinks=True)
        self._lock = threading.Lock()
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                str(db_path), check_same_thread=False, isolation_level=None, timeout=10.0)
            c = self._conn
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA busy_timeout=10000")
            c.execute("""CREATE TABLE IF NOT EXISTS artifacts (
                session_id TEXT NOT NULL, sequence INTEGER NOT NULL, content_hash TEXT NOT NULL,
                name TEXT NOT NULL, artifact_type TEXT NOT NULL, mime_type TEXT NOT NULL, size INTEGER NOT NULL,
                tags TEXT NOT NULL, custom TEXT NOT NULL, created_at REAL NOT NULL,
                PRIMARY KEY (session_id, sequence))""")
            c.execute("CREATE TABLE IF NOT EXISTS counters (session_id TEXT PRIMARY KEY, last INTEGER NOT NULL)")
            c.execute("CREATE INDEX IF NOT EXISTS artifacts_hash ON artifacts (content_hash)")
        except sqlite3.Error as e:
            raise StateError(f"cannot open the artifact index {db_path}: {e}") from e

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StateError("the artifact store is closed")
        return self._conn

    # ------------------------------------------------------------------------------ blobs

    @staticmethod
    def _blob(h: str) -> str:
        return f"blobs/{h[:2]}/{h}"

    def _write_blob(self, h: str, content: bytes) -> None:
        name = self._blob(h)
        try:
            if self.gate.kind(name) == "file" and self.gate.stat(name).st_size == len(content):
                return  # content-addressed: the same bytes are there already
        except OSError:
            pass
        tmp = f"blobs/{h[:2]}/.{h}.{uuid.uuid4().hex}.tmp"
        self.gate.write_bytes(tmp, content, exclusive=True, parents=True)
        self.gate.rename(tmp, name, into_dir=False)

    def _read_blob(self, h: str, size: int) -> bytes:
        try:
            data = self.gate.read_bytes(self._blob(h), max_bytes=max(size, 0))
        except FileNotFoundError:
            raise StateError(f"artifact content {h[:12]}... is missing from {self.root / 'blobs'}") from None
        if hashlib.sha256(data).hexdigest() != h:
            raise StateError(f"artifact content {h[:12]}... in {self.root / 'blobs'} is corrupt "
                             "(its SHA-256 does not match)")
        return data

    # ------------------------------------------------------------------------------ rows

    @staticmethod
    def _meta(row: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
        (sid, seq, h, name, atype, mime, size, tags, custom, created) = row
        return {
            "name": name,
            "description": None,
            "artifact_type": atype,
            "type": plain_type(atype),
            "mime_type": mime,
            "size": size,
            "tags": json.loads(tags),
            "custom": json.loads(custom),
            "version": 1,
            "created_at": rfc3339(created),
            "created_by": None,
            "parent_artifact": None,
            "is_compressed": False,
            "original_size": None,
            "id": {"content_hash": h, "session_id": sid, "sequence": seq},
        }

    _COLS = "session_id, sequence, content_hash, name, artifact_type, mime_type, size, tags, custom, created_at"

    def has_session(self, session_id: str) -> bool:
        with self._lock:
            row = self._c().execute("SELECT 1 FROM counters WHERE session_id = ?", (session_id,)).fetchone()
        return row is not None

    def store(self, session_id: str, artifact_type: str, name: str, content: bytes,
              metadata: dict[str, Any] | None) -> dict[str, Any]:
        """Store content; returns the artifact id ``{content_hash, session_id, sequence}``.

        As in rs-llmspell, ``metadata.mime_type`` and ``metadata.tags`` set those fields; every other
        key is kept in ``custom``."""
        size = len(content)
        cfg = self.cfg
        if size > cfg.max_artifact_bytes:
            raise _limit_error("max_artifact_bytes", f"Artifact size {size} exceeds maximum of "
                               f"{cfg.max_artifact_bytes} bytes", cfg.max_artifact_bytes)
        mime = "application/octet-stream"
        tags: list[str] = []
        custom: dict[str, Any] = {}
        for k, v in (metadata or {}).items():
            if k == "mime_type" and isinstance(v, str):
                if "/" not in v:
                    raise ValidationError(f"Artifact.store: Invalid MIME type: {json.dumps(v)} (expected type/subtype)")
                mime = v
            elif k == "tags" and isinstance(v, list):
                tags = [str(t) for t in v if isinstance(t, str)]
            else:
                custom[str(k)] = v
        if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG_CHARS or not t for t in tags):
            raise ValidationError(f"Artifact.store: tags must be at most {MAX_TAGS} non-empty strings of at most "
                                  f"{MAX_TAG_CHARS} characters")
        h = hashlib.sha256(content).hexdigest()
        with self._lock:
            c = self._c()
            sess_total = c.execute("SELECT COALESCE(SUM(size), 0) FROM artifacts WHERE session_id = ?",
                                   (session_id,)).fetchone()[0]
            if sess_total + size > cfg.max_session_bytes:
                raise _limit_error("max_session_bytes", f"Would exceed session storage limit: session {session_id} "
                                   f"holds {sess_total} bytes, this artifact has {size}", cfg.max_session_bytes)
            total = c.execute("SELECT COALESCE(SUM(size), 0) FROM artifacts").fetchone()[0]
            if total + size > cfg.max_total_bytes:
                raise _limit_error("max_total_bytes", f"Would exceed the artifact store's limit: it holds {total} "
                                   f"bytes, this artifact has {size}", cfg.max_total_bytes)
            self._write_blob(h, content)
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute("INSERT INTO counters (session_id, last) VALUES (?, 1) "
                          "ON CONFLICT(session_id) DO UPDATE SET last = last + 1", (session_id,))
                seq = c.execute("SELECT last FROM counters WHERE session_id = ?", (session_id,)).fetchone()[0]
                c.execute(f"INSERT INTO artifacts ({self._COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          (session_id, seq, h, name, artifact_type, mime, size, json.dumps(tags),
                           json.dumps(custom, ensure_ascii=False), time.time()))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return {"content_hash": h, "session_id": session_id, "sequence": int(seq)}

    def _row(self, artifact_id: dict[str, Any]) -> tuple[Any, ...] | None:
        with self._lock:
            row: tuple[Any, ...] | None = self._c().execute(
                f"SELECT {self._COLS} FROM artifacts WHERE session_id = ? AND sequence = ? AND content_hash = ?",
                (artifact_id["session_id"], artifact_id["sequence"], artifact_id["content_hash"])).fetchone()
        return row

    def get(self, artifact_id: dict[str, Any]) -> tuple[dict[str, Any], bytes] | None:
        row = self._row(artifact_id)
        if row is None:
            return None
        return self._meta(row), self._read_blob(row[2], int(row[6]))

    def delete(self, artifact_id: dict[str, Any]) -> bool:
        with self._lock:
            c = self._c()
            cur = c.execute("DELETE FROM artifacts WHERE session_id = ? AND sequence = ? AND content_hash = ?",
                            (artifact_id["session_id"], artifact_id["sequence"], artifact_id["content_hash"]))
            if cur.rowcount == 0:
                return False
            h = artifact_id["content_hash"]
            still = c.execute("SELECT 1 FROM artifacts WHERE content_hash = ? LIMIT 1", (h,)).fetchone()
        if still is None:
            try:
                self.gate.remove(self._blob(h))
            except FileNotFoundError:
                pass
        return True

    def list_session(self, session_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._c().execute(f"SELECT {self._COLS} FROM artifacts WHERE session_id = ? ORDER BY sequence "
                                     "LIMIT ?", (session_id, self.cfg.max_query_results)).fetchall()
        return [self._meta(r) for r in rows]

    def query(self, q: ArtifactQuery) -> list[dict[str, Any]]:
        """rs-llmspell's query: every filter optional, newest first; ``name_pattern`` is a
        case-insensitive substring (or a glob when it has ``*``/``?``), ``tags`` must all be present."""
        sql = f"SELECT {self._COLS} FROM artifacts WHERE 1=1"
        args: list[Any] = []
        if q.session_id is not None:
            sql += " AND session_id = ?"
            args.append(q.session_id)
        if q.artifact_type is not None:
            sql += " AND artifact_type = ?"
            args.append(q.artifact_type)
        if q.created_after is not None:
            sql += " AND created_at >= ?"
            args.append(q.created_after)
        if q.created_before is not None:
            sql += " AND created_at <= ?"
            args.append(q.created_before)
        if q.min_size is not None:
            sql += " AND size >= ?"
            args.append(q.min_size)
        if q.max_size is not None:
            sql += " AND size <= ?"
            args.append(q.max_size)
        sql += " ORDER BY created_at DESC, sequence DESC"
        cap = self.cfg.max_query_results
        limit = min(q.limit, cap) if q.limit is not None else cap
        out: list[dict[str, Any]] = []
        pat = q.name_pattern.lower() if q.name_pattern else None
        glob = pat is not None and any(ch in pat for ch in "*?[")
        with self._lock:
            cur = self._c().execute(sql, args)
            for row in cur:
                name = str(row[3]).lower()
                if pat is not None and not (fnmatch.fnmatchcase(name, pat) if glob else pat in name):
                    continue
                if q.tags:
                    have = set(json.loads(row[7]))
                    if not all(t in have for t in q.tags):
                        continue
                out.append(self._meta(row))
                if len(out) >= limit:
                    break
        return out

    def stats(self) -> dict[str, Any]:
        with self._lock:
            n, total = self._c().execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM artifacts").fetchone()
        return {"artifacts": n, "total_bytes": total, "path": os.fspath(self.root)}
