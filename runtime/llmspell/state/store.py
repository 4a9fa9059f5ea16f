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

import inspect
import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from llmspell.core.errors import HookCancelledError, StateError
from llmspell.core.types import ComponentId, HookContext
from llmspell.core.values import finite_json

if TYPE_CHECKING:
    from llmspell.config import StateConfig
    from llmspell.runtime import Runtime

_MISSING = object()
META_SCOPE = "llmspell_meta"
"""Scope of the store's own metadata (``schema_version``)."""
_INTERNAL_PREFIXES = (f"{META_SCOPE}:", "workflow_checkpoint:", "session_store:")
"""Scopes a migration never touches: the runtime's own records."""
MigrationFn = Callable[[str, str, Any], Any]


def _resolution(d: dict[str, Any]) -> Any:
    """The value a ``modified`` StateConflict result supplies: its ``value`` field; the ``new`` field of
    the (edited) context data; or, for any other table, the table itself."""
    if "value" in d:
        return d["value"]
    if "new" in d and "scope" in d and "key" in d:
        return d["new"]
    return d


def _same(a: Any, b: Any) -> bool:
    """JSON equality where booleans are not numbers (``true ~= 1``) and 1 == 1.0 (Lua numbers)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return False
    return bool(a == b)


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


def _swap_fallback(backend: StateBackend, lock: threading.Lock, key: str, check: Callable[[str | None], bool],
                   new: str) -> tuple[bool, str | None]:
    """Compare-and-set for a backend without ``swap_if``: atomic within this process (one lock)."""
    with lock:
        raw = backend.get(key)
        if not check(raw):
            return False, raw
        backend.set(key, new)
        return True, raw


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

    def swap_if(self, key: str, check: Callable[[str | None], bool], new: str) -> tuple[bool, str | None]:
        """Set ``key`` to ``new`` when ``check(current raw value)`` holds, atomically; (done, raw before)."""
        with self._lock:
            raw = self._data.get(key)
            if not check(raw):
                return False, raw
            self._data[key] = new
            return True, raw

    def close(self) -> None:
        pass


def _checked_db_path(path: Path, workspace: Path) -> Path:
    """The state database's physical path, its folder made through the path gate.

    A folder or file planted in the workspace (``.llmspell`` -> elsewhere, ``state.db-wal`` -> a file
    outside) must not redirect the database: the folder is created and resolved beneath the
    workspace (a configured path outside it is taken as its own root) with links leaving refused,
    and the database's own files must be regular files or absent, never links.
    """
    from llmspell.core.errors import SecurityViolationError
    from llmspell.security.fs import PathGate

    ws = os.path.realpath(workspace)
    parent = os.path.normpath(str(path.parent))
    inside = parent == ws or parent.startswith(ws.rstrip(os.sep) + os.sep)
    gate = PathGate([ws if inside else parent], ws if inside else parent, refuse_hardlinks=False)
    try:
        gate.mkdir(parent, parents=True, exist_ok=True)
        real_parent = gate.resolve(parent, write=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            name = str(real_parent / (path.name + suffix))
            try:
                st = gate.stat(name, follow=False)
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
                raise StateError(f"cannot open the state database {path}: {name} is not a plain file "
                                 "(a link or special file there could redirect the database); remove it")
    except SecurityViolationError as e:
        raise StateError(f"cannot open the state database {path}: {e.message}") from e
    except OSError as e:
        raise StateError(f"cannot open the state database {path}: {e.strerror or e}") from e
    return real_parent / path.name


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

    def swap_if(self, key: str, check: Callable[[str | None], bool], new: str) -> tuple[bool, str | None]:
        """Compare-and-set in one IMMEDIATE transaction: atomic across threads and processes."""
        with self._lock:
            c = self._c()
            c.execute("BEGIN IMMEDIATE")
            try:
                row = c.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
                raw = None if row is None else row[0]
                if not check(raw):
                    c.execute("COMMIT")
                    return False, raw
                c.execute(
                    "INSERT INTO state(key, value, updated) VALUES(?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                    (key, new, time.time()),
                )
                c.execute("COMMIT")
                return True, raw
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def write_many(self, items: dict[str, str]) -> None:
        """Write several values in one transaction (a migration lands entirely or not at all)."""
        with self._lock:
            c = self._c()
            c.execute("BEGIN IMMEDIATE")
            try:
                now = time.time()
                c.executemany(
                    "INSERT INTO state(key, value, updated) VALUES(?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                    [(k, v, now) for k, v in items.items()],
                )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

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
        self._cas_lock = threading.Lock()
        self._migrations: dict[int, list[tuple[MigrationFn, tuple[str, ...] | None, str]]] = {}

    @classmethod
    def from_config(cls, cfg: StateConfig, *, workspace: Path, runtime: Runtime | None = None) -> StateStore:
        backend_name = (cfg.backend or "sqlite").lower()
        if backend_name == "memory":
            return cls(MemoryBackend(), runtime=runtime)
        if backend_name == "sqlite":
            path = Path(cfg.path).expanduser() if cfg.path else Path(".llmspell") / "state.db"
            if not path.is_absolute():
                path = Path(workspace) / path
            return cls(SqliteBackend(_checked_db_path(path, Path(workspace))), runtime=runtime)
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

    # ------------------------------------------------------------------------------------ compare-and-swap

    async def compare_and_swap(self, scope: str, key: str, expected: Any, new: Any, *,
                               max_conflicts: int = 5) -> bool:
        """Write ``new`` at ``scope:key`` only if the stored value equals ``expected`` (nil = absent or
        null); atomic against every other writer. True when written.

        On a mismatch the StateConflict hooks run with ``{scope, key, expected, actual, new}``:
        ``modified`` (its ``value`` field; the ``new`` field of the edited context data; or the table
        itself) or ``replace`` (its data) supplies the
        value to write instead — conflict resolution, e.g. a merge; it is written if the value is
        still the ``actual`` the hook saw (otherwise the hooks run again, at most ``max_conflicts``
        times). ``cancel`` raises HookCancelledError; anything else returns false (the caller re-reads
        and retries, the usual optimistic loop). Every mismatch publishes ``state.conflict``.
        BeforeStateWrite hooks see the write first (``modified`` rewrites ``new``, ``cancel`` raises,
        ``skipped`` returns false); AfterStateWrite hooks are told of a successful swap.
        """
        skey = scoped_key(scope, key)
        rt = self.runtime
        if rt is not None and rt.hooks.has_hooks("BeforeStateWrite"):
            # a write like any other: BeforeStateWrite may rewrite (modified) or refuse (cancel) it
            ctx = HookContext(point="BeforeStateWrite", component_id=ComponentId(type="State", name=scope),
                              data={"scope": scope, "key": key, "value": new, "expected": expected},
                              operation="state.compare_and_swap")
            res = await rt.hooks.execute(ctx)
            if res.kind == "cancel":
                raise HookCancelledError("BeforeStateWrite", res.reason or "cancelled")
            if res.kind == "skipped":
                return False
            if res.kind == "modified":
                new = ctx.data.get("value", new)
            elif res.kind == "replace":
                new = res.data
        new_raw = encode_value(new)
        for _ in range(max(1, max_conflicts)):
            ok, raw = self._swap_if(skey, expected, new_raw)
            if ok:
                self._publish("state.changed", scope, key)
                if rt is not None and rt.hooks.has_hooks("AfterStateWrite"):
                    await rt.hooks.fire("AfterStateWrite", ComponentId(type="State", name=scope),
                                        {"scope": scope, "key": key, "value": new},
                                        operation="state.compare_and_swap")
                return True
            actual = None if raw is None else json.loads(raw)
            if rt is not None:
                rt.events.publish_nowait("state.conflict", {"scope": scope, "key": key}, source="state")
            if rt is None or not rt.hooks.has_hooks("StateConflict"):
                return False
            ctx = HookContext(point="StateConflict", component_id=ComponentId(type="State", name=scope),
                              data={"scope": scope, "key": key, "expected": expected, "actual": actual, "new": new},
                              operation="state.compare_and_swap")
            res = await rt.hooks.execute(ctx)
            if res.kind == "cancel":
                raise HookCancelledError("StateConflict", res.reason or "cancelled")
            if res.kind == "modified":
                new = _resolution(ctx.data)
            elif res.kind == "replace":
                new = res.data
            else:
                return False
            expected, new_raw = actual, encode_value(new)
        return False

    def _swap_if(self, skey: str, expected: Any, new_raw: str) -> tuple[bool, str | None]:
        def check(raw: str | None) -> bool:
            if raw is None:
                return expected is None
            return _same(json.loads(raw), expected)

        swap = getattr(self.backend, "swap_if", None)
        if swap is not None:
            return swap(skey, check, new_raw)  # type: ignore[no-any-return]
        return _swap_fallback(self.backend, self._cas_lock, skey, check, new_raw)

    # ------------------------------------------------------------------------------------ migrations

    def schema_version(self) -> int:
        """The store's schema version (1 until a migration moved it)."""
        v = self.get_sync(META_SCOPE, "schema_version", 1)
        return int(v) if isinstance(v, (int, float)) else 1

    def register_migration(self, to_version: int, fn: MigrationFn, *, scopes: list[str] | None = None,
                           description: str = "") -> None:
        """Register ``fn(scope, key, value) -> new value`` (sync or async) for the step to ``to_version``.

        ``scopes`` limits it to those scopes; without it every user value is passed (the runtime's own
        scopes — checkpoints, sessions, this metadata — never are).
        """
        if int(to_version) < 2:
            raise StateError(f"register_migration: to_version must be 2 or more (the first schema is 1), "
                             f"got {to_version!r}")
        self._migrations.setdefault(int(to_version), []).append(
            (fn, tuple(scopes) if scopes else None, description))

    def migration_status(self) -> dict[str, Any]:
        """rs-llmspell's ``State.get_migration_status()`` shape."""
        cur = self.schema_version()
        latest = max([cur, *self._migrations])
        targets = sorted(v for v in self._migrations if v > cur)
        return {"current_version": cur, "migration_available": bool(targets),
                "total_schemas": len(self.schema_versions()), "latest_version": latest, "is_latest": cur >= latest,
                "migration_targets": targets}

    def schema_versions(self) -> list[str]:
        return [str(v) for v in sorted({1, self.schema_version(), *self._migrations})]

    async def migrate(self, target_version: int) -> dict[str, Any]:
        """Move every user value to schema ``target_version``, one version step at a time.

        Per item and step: the registered migration functions, then the StateMigration hooks with
        ``{scope, key, storage_key, value, from_version, to_version}``: ``modified`` (its ``value``
        field, or the table itself when it has none) or ``replace`` (its data) is the new value,
        ``skipped`` keeps the value unchanged, ``cancel`` aborts the whole migration
        (nothing is written). All new values are written together, then the version.
        Returns ``{success, status, from_version, to_version, items_migrated, duration_ms, warnings,
        errors, error?}``.
        """
        t0 = time.perf_counter()
        cur = self.schema_version()
        try:
            target = int(target_version)
        except (TypeError, ValueError):
            raise StateError(f"State.migrate: target_version must be an integer, got {target_version!r}") from None

        def result(success: bool, status: str, items: int = 0, error: str | None = None) -> dict[str, Any]:
            r: dict[str, Any] = {"success": success, "status": status, "from_version": cur, "to_version": target,
                                 "items_migrated": items, "duration_ms": round((time.perf_counter() - t0) * 1000, 3),
                                 "warnings": [], "errors": [error] if error else []}
            if error:
                r["error"] = error
            return r

        if target < cur:
            return result(False, "failed", error=f"cannot migrate down from version {cur} to {target}")
        if target == cur:
            return result(True, "completed")
        rt = self.runtime
        hooks = rt.hooks if rt is not None and rt.hooks.has_hooks("StateMigration") else None
        keys = [k for k in self.backend.keys_with_prefix("") if not k.startswith(_INTERNAL_PREFIXES)]
        values: dict[str, Any] = {}
        for k in keys:
            raw = self.backend.get(k)
            if raw is not None:
                values[k] = json.loads(raw)
        original = {k: encode_value(v) for k, v in values.items()}
        for version in range(cur + 1, target + 1):
            fns = self._migrations.get(version, [])
            for skey in list(values):
                scope, _, key = skey.rpartition(":")
                value = values[skey]
                try:
                    for fn, scopes, _desc in fns:
                        if scopes is None or scope in scopes:
                            value = fn(scope, key, value)
                            if inspect.isawaitable(value):
                                value = await value
                except Exception as e:
                    return result(False, "failed", error=f"migration to version {version} failed at "
                                                         f"{skey}: {type(e).__name__}: {e}")
                if hooks is not None:
                    ctx = HookContext(point="StateMigration", component_id=ComponentId(type="State", name=scope),
                                      data={"scope": scope, "key": key, "storage_key": skey, "value": value,
                                            "from_version": version - 1, "to_version": version},
                                      operation="state.migrate")
                    res = await hooks.execute(ctx)
                    if res.kind == "cancel":
                        return result(False, "cancelled", error=f"migration cancelled by a StateMigration hook at "
                                                                f"{skey}: {res.reason or 'cancelled'}")
                    if res.kind == "modified":
                        d = ctx.data
                        value = d["value"] if "value" in d else d
                    elif res.kind == "replace":
                        value = res.data
                    elif res.kind == "skipped":
                        value = values[skey]
                values[skey] = value
        changed = {k: encode_value(v) for k, v in values.items() if encode_value(v) != original.get(k)}
        changed[scoped_key(META_SCOPE, "schema_version")] = encode_value(target)
        many = getattr(self.backend, "write_many", None)
        if many is not None:
            many(changed)
        else:
            for k, v in changed.items():
                self.backend.set(k, v)
        n = len(changed) - 1
        if rt is not None:
            rt.events.publish_nowait("state.migrated", {"from_version": cur, "to_version": target,
                                                        "items_migrated": n}, source="state")
        return result(True, "completed", n)

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
