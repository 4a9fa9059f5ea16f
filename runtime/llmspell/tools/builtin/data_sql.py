"""SQL tools: database-connector (SQLite files, rs-llmspell parameters) and sql-query (SQL over tables).

SQLite through the standard library. The database file is read through the path gate (an fd opened
beneath the allowed roots: no URI, no percent-decoding, no symlink or hard link out) and loaded into
an in-memory database (``sqlite3.Connection.deserialize``); SQLite itself never opens a file by name,
so ATTACH, VACUUM INTO and extensions have nothing to reach (they are refused too). SELECT queries
run with ``query_only``; a write runs on the in-memory copy, which is then written back through the
gate (a new file beside the old one, renamed over it). Databases larger than the policy's
``max_database_bytes`` are refused; a database with a pending write-ahead log (``-wal``) is refused
until it is checkpointed (its last changes are not in the main file).
Other databases need drivers the runtime does not ship; the error says which URL schemes work.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import sqlite3
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from llmspell.core.errors import LLMSpellError, ToolError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import check_path, gate_of, policy_of

_WRITE_TYPES = ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "EXECUTE")


def _authorize(action: int, arg1: Any = None, arg2: Any = None, *_: Any) -> int:
    """Refuse ATTACH/DETACH (and so ``VACUUM INTO``) and load_extension: they would reach files."""
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == getattr(sqlite3, "SQLITE_FUNCTION", 31) and str(arg2 or "").lower() == "load_extension":
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _row_cap(ctx: ToolContext) -> int:
    """``security.max_result_rows``: the policy, not the spell's ``limit``, bounds a result."""
    return int(getattr(policy_of(ctx), "max_result_rows", 100_000) or 100_000)


def _rows(cur: sqlite3.Cursor, limit: int) -> tuple[list[str], list[dict[str, Any]], bool]:
    cols = [d[0] for d in cur.description or []]
    rows = cur.fetchmany(limit + 1)
    truncated = len(rows) > limit
    return cols, [dict(zip(cols, _plain(r), strict=False)) for r in rows[:limit]], truncated


def _plain(row: tuple[Any, ...]) -> list[Any]:
    return [v.hex() if isinstance(v, bytes) else v for v in row]


def _db_path(ctx: ToolContext, database: str, write: bool) -> str:
    """The file path a ``database`` parameter names (the text after ``sqlite://`` taken literally)."""
    if "://" in database:
        scheme, rest = database.split("://", 1)
        if scheme not in ("sqlite", "file"):
            raise ToolError(f"database-connector: parameter 'database': only SQLite is supported "
                            f"(a file path or sqlite:///path), got a {scheme}:// URL")
        database = rest[1:] if rest.startswith("/") and not rest.startswith("//") and scheme == "sqlite" else rest
        database = database or ":memory:"
    if database == ":memory:":
        raise ToolError("database-connector: parameter 'database': expected a SQLite file path, got ':memory:'")
    check_path(ctx, database, write=write)  # the refusal message, before any file is touched
    return database


class DatabaseConnectorTool(BuiltinTool):
    name = "database-connector"
    description = "Query a SQLite database file or read its schema (SELECT runs read-only)"
    category = "data"
    security_level = "restricted"
    tags = ("sql", "sqlite", "database")

    class Params(ToolParams):
        operation: Literal["query", "schema", "execute"]
        database: str = Field(description="SQLite file path (or sqlite:///path)")
        query: str | None = None
        query_type: Literal["SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "EXECUTE"] = "SELECT"
        parameters: list[Any] | dict[str, Any] | None = Field(None, description="Bound query parameters")
        limit: int = Field(1000, ge=1, description="At most this many rows")

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        write = params.operation == "execute" or params.query_type in _WRITE_TYPES
        name = _db_path(ctx, params.database, write)
        return await asyncio.to_thread(self._run, ctx, name, params, write)

    def _run(self, ctx: ToolContext, name: str, params: Params, write: bool) -> dict[str, Any]:
        gate = gate_of(ctx)
        path = gate.resolve(name, write=write)
        cap = int(getattr(policy_of(ctx), "max_database_bytes", 256 << 20))
        try:
            wal = gate.stat(name + "-wal").st_size
        except (FileNotFoundError, NotADirectoryError):
            wal = 0
        if wal:
            raise ToolError(f"database-connector: {path} has a pending write-ahead log ({path}-wal); "
                            "checkpoint it first (PRAGMA wal_checkpoint(TRUNCATE) in its own application)")
        try:
            data = gate.read_bytes(name, max_bytes=cap)
        except (FileNotFoundError, NotADirectoryError):
            if not write:
                raise ToolError(f"database-connector: no database file at {path}") from None
            data = b""
        except IsADirectoryError:
            raise ToolError(f"database-connector: {path} is a directory, not a database file") from None
        except OSError as e:
            raise ToolError(f"database-connector: cannot read {path}: {e.strerror or e}") from None
        if data and len(data) >= 20 and data[18:20] == b"\x02\x02":
            data = data[:18] + b"\x01\x01" + data[20:]  # WAL mode header -> rollback (in memory only)
        conn = sqlite3.connect(":memory:")
        try:
            if data:
                conn.deserialize(data)
        except sqlite3.Error as e:
            conn.close()
            raise ToolError(f"database-connector: {path} is not a SQLite database: {e}") from e
        conn.set_authorizer(_authorize)
        if not write:
            conn.execute("PRAGMA query_only = ON")
        try:
            if params.operation == "schema":
                tables = []
                for name, kind, sql in conn.execute(
                        "SELECT name, type, sql FROM sqlite_master WHERE type IN ('table','view') "
                        "AND name NOT LIKE 'sqlite_%' ORDER BY name"):
                    cols = [{"name": c[1], "type": c[2], "not_null": bool(c[3]), "default": c[4],
                             "primary_key": bool(c[5])} for c in conn.execute(f'PRAGMA table_info("{name}")')]
                    count = conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] if kind == "table" else None
                    tables.append({"name": name, "type": kind, "columns": cols, "row_count": count, "sql": sql})
                return {"database": str(path), "tables": tables, "count": len(tables)}
            if not params.query:
                raise ToolError("database-connector: parameter 'query' is required")
            first = re.match(r"\s*(\w+)", params.query)
            verb = first.group(1).upper() if first else ""
            if not write and verb not in ("SELECT", "WITH", "EXPLAIN", "PRAGMA", "VALUES"):
                raise ToolError(f"database-connector: a {verb} statement needs query_type={verb!r} "
                                "(queries with query_type='SELECT' run read-only)")
            try:
                cur = conn.execute(params.query, params.parameters or ())
            except sqlite3.Error as e:
                raise ToolError(f"database-connector: SQL error: {e}") from e
            if cur.description:
                names, rows, truncated = _rows(cur, min(params.limit, _row_cap(ctx)))
                out: dict[str, Any] = {"columns": names, "rows": rows, "row_count": len(rows),
                                       "truncated": truncated}
            else:
                out = {"rows_affected": cur.rowcount, "last_insert_id": cur.lastrowid}
            if write:
                conn.commit()
                _write_back(gate, name, conn.serialize(), path)
            return out
        finally:
            conn.close()


def _write_back(gate: Any, name: str, image: bytes, path: Path) -> None:
    """Replace the database file with ``image``: a new file beside it (exclusive create), then a rename
    over it, both through the gate; a failure leaves the old file as it was."""
    tmp = f"{name}.llmspell-{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        with gate.open(tmp, "xb", parents=True) as f:
            f.write(image)
        gate.rename(tmp, name, into_dir=False)
    except OSError as e:
        with contextlib.suppress(OSError, LLMSpellError):
            gate.remove(tmp)
        raise ToolError(f"database-connector: cannot write {path}: {e.strerror or e}") from e


class SqlQueryTool(BuiltinTool):
    name = "sql-query"
    description = "Run SQL over tables given as lists of records (joins, grouping, aggregates) in memory"
    category = "data"
    tags = ("sql", "query", "aggregate", "join")

    class Params(ToolParams):
        query: str = Field(description="The SQL (SQLite dialect) to run")
        tables: dict[str, list[dict[str, Any]]] = Field(description="Table name -> list of records")
        parameters: list[Any] | dict[str, Any] | None = None
        limit: int = Field(10000, ge=1)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        return await asyncio.to_thread(self._run, params, _row_cap(ctx))

    def _run(self, params: Params, row_cap: int) -> dict[str, Any]:
        conn = sqlite3.connect(":memory:")
        conn.set_authorizer(_authorize)
        try:
            for name, records in params.tables.items():
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    raise ToolError(f"sql-query: parameter 'tables': invalid table name {name!r}")
                cols = list(dict.fromkeys(k for r in records for k in r))
                if not cols:
                    raise ToolError(f"sql-query: table {name!r} has no columns")
                conn.execute(f'CREATE TABLE "{name}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in cols)})')
                conn.executemany(
                    f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(cols))})',
                    [[_scalar(r.get(c)) for c in cols] for r in records])
            conn.commit()
            try:
                cur = conn.execute(params.query, params.parameters or ())
            except sqlite3.Error as e:
                raise ToolError(f"sql-query: SQL error: {e}") from e
            if not cur.description:
                return {"columns": [], "rows": [], "row_count": 0, "truncated": False}
            cols_out, rows, truncated = _rows(cur, min(params.limit, row_cap))
            return {"columns": cols_out, "rows": rows, "row_count": len(rows), "truncated": truncated}
        finally:
            conn.close()


def _scalar(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        import json

        return json.dumps(v)
    return v


TOOLS = [DatabaseConnectorTool, SqlQueryTool]
