"""Size caps of blocking and parsing tools come from policy, never from the spell's parameters."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from llmspell.config import RuntimeConfig
from llmspell.runtime import Runtime

ROWS = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 50000) SELECT x FROM c")


def rt(ws: Path, **security: object) -> Runtime:
    return Runtime(RuntimeConfig.model_validate({"workspace": str(ws), "state": {"backend": "memory"},
                                                 "security": security}))


async def test_a_spell_limit_cannot_raise_the_policy_row_cap(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "t.db").close()
    r = rt(tmp_path, max_result_rows=1000)
    out = await r.tools.execute("database-connector", {"operation": "query", "database": "t.db",
                                                       "query": ROWS, "limit": 5_000_000})
    res = out.data
    assert res["row_count"] == 1000 and res["truncated"] is True


async def test_sql_query_rows_are_capped_by_policy_too(tmp_path: Path) -> None:
    r = rt(tmp_path, max_result_rows=10)
    out = await r.tools.execute("sql-query", {"query": "SELECT a FROM t", "limit": 1_000_000,
                                              "tables": {"t": [{"a": i} for i in range(100)]}})
    res = out.data
    assert res["row_count"] == 10 and res["truncated"] is True


async def test_database_size_cap_comes_from_config(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "big.db")
    con.execute("CREATE TABLE t (x)")
    con.executemany("INSERT INTO t VALUES (?)", [("y" * 1000,) for _ in range(3000)])
    con.commit()
    con.close()
    r = rt(tmp_path, max_database_bytes=100_000)
    with pytest.raises(Exception, match=r"max_database_bytes|too large|larger"):
        await r.tools.execute("database-connector", {"operation": "query", "database": "big.db",
                                                     "query": "SELECT count(*) FROM t"})
    ok = await rt(tmp_path).tools.execute("database-connector", {"operation": "query", "database": "big.db",
                                                                  "query": "SELECT count(*) AS n FROM t"})
    res = ok.data
    assert res["rows"] == [{"n": 3000}]
