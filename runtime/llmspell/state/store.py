"""Scoped key/value state: SQLite by default (survives restarts), in memory for tests.

Every value is stored under ``scope:key`` (rs-llmspell's consistent fallback path; its "load reads
the bare key" quirk is not reproduced), as JSON text. ``State.workflow_get(id, step)`` is simply
scope ``workflow:<id>``, key ``<step>``; agents and tools use ``agent:<id>`` / ``tool:<id>``.

Concurrency: one SQLite connection in WAL mode guarded by a ``threading.Lock``. Each operation is
one short statement (tens of microseconds), so it runs inline instead of paying ``to_thread``'s
hand-off for every call; writers from many asyncio tasks and from other threads serialise on the lock
and nothing is lost. Other processes are handled by SQLite's own locking (``busy_timeout``).

With a runtime, the async API runs BeforeStateRead/AfterStateRead/BeforeStateWrite/AfterStateWrite
hooks through ``runtime.hooks.around`` and publishes ``state.changed``/``state.deleted``. The ``*_sync``
variants (for callers off the loop, e.g. script threads) skip hooks but still publish events.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from llmspell.core.errors import StateError
from llmspell.core.types import ComponentId
from llmspell.core.values import finite_json

if TYPE_CHECKING:
    from llmspell.config import StateConfig
    from llmspell.runtime import Runtime

_MISSING = object()


def scoped_key(scope: str, key: str) -> str:
    if not isinstance(scope, str) or not isinstance(key, str):
        raise StateError(f"state scope and key must be strings, got {type(scope).__name__} and {type(key).__name__}")
    return f"{scope}:{key}"


def encode_value(value: Any) -> str:
    try:
        try:
            return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except ValueError:  # NaN/inf somewhere: store them as null (the retry may still meet a function)
            return json.dumps(finite_json(value), ensure_ascii=False, separators=(",", ":"))
    except TypeError as e:
        raise StateError(
            f"state values must be JSON-compatible (tables, strings, numbers, booleans, nil); {e}"
        ) from e


class StateBackend(Protocol):
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str) -> None: ...
    def delete(self, key: str) -> bool: ...
    def keys_with_prefix(self, prefix: str) -> list[str]: ...
    def close(self) -> None: ...


class MemoryBackend:
    """A dict behind a lock; values are kept as JSON text so semantics match SQLite exactly."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        return self._data.get(key)

    def set(self, key: str, value: str) -> None:
        with self._lock:
            self._data[key] = value

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._data.pop(key, None) is not None

    def keys_with_prefix(self, prefix: str) -> list[str]:
        with self._lock:
            return sorted(k for k in self._data if k.startswith(prefix))

    def close(self) -> None:
        pass


class SqliteBackend:
    """One connection (``check_same_thread=False``), WAL, one lock; each statement commits at once."""

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=10.0
            )
            c = self._conn
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute("PRAGMA busy_timeout=10000")
            c.execute(
                "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated REAL NOT NULL)"
            )
        except sqlite3.Error as e:
            raise StateError(f"cannot open the state database {path}: {e}") from e
        self._lock = threading.Lock()

    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StateError(f"the state store {self.path} is closed")
        return self._conn

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._c().execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set(self, key: str, value: str) -> None:
        with self._lock:
            self._c().execute(
                "INSERT INTO state(key, value, updated) VALUES(?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                (key, value, time.time()),
            )

    def delete(self, key: str) -> bool:
        with self._lock:
            cur = self._c().execute("DELETE FROM state WHERE key = ?", (key,))
            return cur.rowcount > 0

    def keys_with_prefix(self, prefix: str) -> list[str]:
        # range scan on the primary key: [prefix, prefix + U+10FFFF)
        with self._lock:
            rows = self._c().execute(
                "SELECT key FROM state WHERE key >= ? AND key < ? ORDER BY key", (prefix, prefix + "\U0010ffff")
            ).fetchall()
        return [r[0] for r in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class StateStore:
    """Scoped key/value state with JSON values (see the module docstring)."""

    def __init__(self, backend: StateBackend, *, runtime: Runtime | None = None):
        self.backend = backend
        self.runtime = runtime

    @classmethod
    def from_config(cls, cfg: StateConfig, *, workspace: Path, runtime: Runtime | None = None) -> StateStore:
        backend_name = (cfg.backend or "sqlite").lower()
        if backend_name == "memory":
            return cls(MemoryBackend(), runtime=runtime)
        if backend_name == "sqlite":
            path = Path(cfg.path).expanduser() if cfg.path else Path(".llmspell") / "state.db"
            if not path.is_absolute():
                path = Path(workspace) / path
            return cls(SqliteBackend(path), runtime=runtime)
        raise StateError(f"unknown state backend {cfg.backend!r}: expected 'sqlite' or 'memory'")

    @classmethod
    def memory(cls, *, runtime: Runtime | None = None) -> StateStore:
        return cls(MemoryBackend(), runtime=runtime)

    # ------------------------------------------------------------------------------------ sync API

    def get_sync(self, scope: str, key: str, default: Any = None) -> Any:
        raw = self.backend.get(scoped_key(scope, key))
        return default if raw is None else json.loads(raw)

    def set_sync(self, scope: str, key: str, value: Any) -> None:
        self.backend.set(scoped_key(scope, key), encode_value(value))
        self._publish("state.changed", scope, key)

    def delete_sync(self, scope: str, key: str) -> bool:
        existed = self.backend.delete(scoped_key(scope, key))
        if existed:
            self._publish("state.deleted", scope, key)
        return existed

    def list_keys_sync(self, scope: str) -> list[str]:
        prefix = scoped_key(scope, "")
        n = len(prefix)
        return [k[n:] for k in self.backend.keys_with_prefix(prefix)]

    def items_sync(self, scope: str) -> dict[str, Any]:
        return {k: self.get_sync(scope, k) for k in self.list_keys_sync(scope)}

    # ------------------------------------------------------------------------------------ async API

    async def get(self, scope: str, key: str, default: Any = None) -> Any:
        """The value at ``scope:key`` or ``default``; runs the state-read hooks when a runtime is attached."""
        rt = self.runtime
        if rt is None or not (rt.hooks.has_hooks("BeforeStateRead") or rt.hooks.has_hooks("AfterStateRead")):
            return self.get_sync(scope, key, default)

        async def op(d: dict[str, Any]) -> Any:
            return self.get_sync(str(d.get("scope", scope)), str(d.get("key", key)), default)

        return await rt.hooks.around(
            before="BeforeStateRead", after="AfterStateRead", error=None,
            component=ComponentId(type="State", name=scope), data={"scope": scope, "key": key},
            operation=op, to_data=lambda v: {"scope": scope, "key": key, "value": v},
            from_data=lambda d: d.get("value", default), operation_name="state.read",
        )

    async def set(self, scope: str, key: str, value: Any) -> None:
        """Store ``value`` (JSON-compatible; ``None`` is stored as null) at ``scope:key``. Runs state-write hooks."""
        rt = self.runtime
        if rt is None or not (rt.hooks.has_hooks("BeforeStateWrite") or rt.hooks.has_hooks("AfterStateWrite")):
            self.set_sync(scope, key, value)
            return

        async def op(d: dict[str, Any]) -> Any:
            v = d.get("value")
            self.set_sync(str(d.get("scope", scope)), str(d.get("key", key)), v)
            return v

        await rt.hooks.around(
            before="BeforeStateWrite", after="AfterStateWrite", error=None,
            component=ComponentId(type="State", name=scope), data={"scope": scope, "key": key, "value": value},
            operation=op, to_data=lambda v: {"scope": scope, "key": key, "value": v},
            from_data=lambda d: None, operation_name="state.write",
        )

    async def delete(self, scope: str, key: str) -> bool:
        """Remove ``scope:key``; True when it existed. Runs state-write hooks (value ``None``)."""
        rt = self.runtime
        if rt is None or not (rt.hooks.has_hooks("BeforeStateWrite") or rt.hooks.has_hooks("AfterStateWrite")):
            return self.delete_sync(scope, key)

        async def op(d: dict[str, Any]) -> bool:
            return self.delete_sync(str(d.get("scope", scope)), str(d.get("key", key)))

        out = await rt.hooks.around(
            before="BeforeStateWrite", after="AfterStateWrite", error=None,
            component=ComponentId(type="State", name=scope),
            data={"scope": scope, "key": key, "value": None, "delete": True},
            operation=op, to_data=lambda v: {"scope": scope, "key": key, "deleted": bool(v)},
            from_data=lambda d: bool(d.get("deleted", False)), operation_name="state.delete",
        )
        return bool(out)

    async def list_keys(self, scope: str) -> list[str]:
        """Keys of ``scope`` (without the ``scope:`` prefix), sorted."""
        return self.list_keys_sync(scope)

    async def items(self, scope: str) -> dict[str, Any]:
        return self.items_sync(scope)

    def close(self) -> None:
        self.backend.close()

    # ------------------------------------------------------------------------------------ events

    def _publish(self, event_type: str, scope: str, key: str) -> None:
        rt = self.runtime
        if rt is None:
            return
        rt.events.publish_nowait(event_type, {"scope": scope, "key": key}, source="state")
