"""Data tools: templates, validation, diffs, citations, jq, CSV, XML, YAML, Parquet, Excel, graphs, SQL."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from tool_helpers import call, result

from llmspell.core.errors import SecurityViolationError, ToolError, ValidationError


async def test_template_tera_and_handlebars(rt: Any) -> None:
    r = await result(rt, "template-creator", {"input": "Hi {{ name }}! {% for i in items %}[{{ i }}]{% endfor %}",
                                              "context": {"name": "Ada", "items": [1, 2]}})
    assert r["rendered"] == "Hi Ada! [1][2]" and r["engine"] == "tera" and r["context_size"] == 2
    hb = await result(rt, "template-creator", {"input": "{{#each people}}<{{this}}>{{/each}}{{#if ok}}yes{{/if}}"
                                               "{{#unless ok}}no{{/unless}}",
                                               "context": {"people": ["a", "b"], "ok": True}})
    assert hb["rendered"] == "<a><b>yes" and hb["engine"] == "handlebars"


async def test_template_is_sandboxed(rt: Any) -> None:
    with pytest.raises(ToolError, match="template"):
        await call(rt, "template-creator", {"input": "{{ ''.__class__.__mro__[1].__subclasses__() }}"})


async def test_data_validator_rules(rt: Any) -> None:
    rules = {"rules": [{"type": "object", "required": ["email", "age"], "additional_properties": False,
                        "properties": {"email": [{"type": "email"}], "age": [{"type": "range", "min": 18}],
                                       "tags": [{"type": "array", "unique": True, "item_rules": [
                                           {"type": "length", "max": 3}]}]}}]}
    ok = await call(rt, "data-validator", {"input": {"email": "a@b.io", "age": 30, "tags": ["x"]}, "rules": rules})
    assert ok["operation"] == "validate_data" and ok["result"] == {"valid": True, "errors": []}
    bad = await result(rt, "data-validator", {"input": {"email": "nope", "age": 12, "tags": ["abcd", "abcd"],
                                                        "extra": 1}, "rules": rules})
    fields = sorted((e["field"], e["rule"]) for e in bad["errors"])
    assert fields == [("age", "range"), ("email", "email"), ("extra", "object"), ("tags", "array"),
                      ("tags[0]", "length"), ("tags[1]", "length")]
    missing = await result(rt, "data-validator", {"input": {}, "rules": rules})
    assert {e["field"] for e in missing["errors"]} == {"email", "age"}


async def test_data_validator_json_schema(rt: Any) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]}
    assert (await result(rt, "data-validator", {"input": {"n": 3}, "json_schema": schema}))["valid"]
    r = await result(rt, "data-validator", {"input": {"n": -1}, "json_schema": schema})
    assert not r["valid"] and r["errors"][0]["field"] == "n"


async def test_diff_text_and_json(rt: Any) -> None:
    r = await result(rt, "diff-calculator", {"old_text": "a\nb\nc\n", "new_text": "a\nB\nc\nd\n"})
    assert "-b\n" in r["diff"] and "+B\n" in r["diff"] and r["lines_added"] == 2 and r["lines_removed"] == 1
    inline = await result(rt, "diff-calculator", {"old_text": "the cat", "new_text": "the dog", "format": "inline"})
    assert "[-cat-]" in inline["diff"] and "{+dog+}" in inline["diff"]
    j = await result(rt, "diff-calculator", {"type": "json", "old_json": {"a": 1, "b": [1]},
                                             "new_json": {"a": 2, "b": [1, 2], "c": True}})
    ops = sorted((c["op"], c["path"]) for c in j["changes"])
    assert ops == [("add", "/b/1"), ("add", "/c"), ("replace", "/a")]


async def test_diff_files(rt: Any, ws: Path) -> None:
    (ws / "o.txt").write_text("x\n")
    (ws / "n.txt").write_text("x\n")
    r = await result(rt, "diff-calculator", {"old_file": "o.txt", "new_file": "n.txt"})
    assert r["identical"] and r["diff"] == ""


BIB = """@article{knuth1984,
  author = {Knuth, Donald E.},
  title = {Literate Programming},
  journal = {The Computer Journal},
  year = {1984},
  volume = {27},
  pages = {97--111}
}
@book{kr1988,
  author = {Kernighan, Brian W. and Ritchie, Dennis M.},
  title = {The C Programming Language},
  publisher = {Prentice Hall},
  year = {1988}
}
"""


async def test_citation_formatter(rt: Any) -> None:
    styles = await result(rt, "citation-formatter", {"operation": "list_styles"})
    assert "apa" in styles["styles"]
    apa = await result(rt, "citation-formatter", {"input": BIB, "format": "bibtex", "style": "apa"})
    texts = {c["id"]: c["citation"] for c in apa["citations"]}
    assert texts["knuth1984"] == "Knuth, D. E. (1984). Literate Programming. The Computer Journal, 27, 97--111."
    assert texts["kr1988"].startswith("Kernighan, B. W., & Ritchie, D. M. (1988).")
    mla = await result(rt, "citation-formatter", {"input": BIB, "format": "bibtex", "style": "mla",
                                                  "cite_keys": ["kr1988"]})
    assert mla["count"] == 1
    assert mla["citations"][0]["citation"].startswith("Kernighan, Brian W., and Dennis M. Ritchie.")
    yml = "- id: x\n  title: Only a title\n"
    v = await result(rt, "citation-formatter", {"operation": "validate_bibliography", "input": yml})
    assert v["valid"] is False and v["problems"] == [{"id": "x", "missing": ["author", "year"]}]
    with pytest.raises(ToolError, match="nope"):
        await call(rt, "citation-formatter", {"input": BIB, "format": "bibtex", "cite_keys": ["nope"]})


async def test_json_processor_jq(rt: Any, ws: Path) -> None:
    data = {"items": [{"name": "a", "price": 5}, {"name": "b", "price": 15}, {"name": "c", "price": 25}]}
    r = await call(rt, "json-processor", {"input": data, "query": "[.items[] | select(.price > 10) | .name]"})
    assert r["success"] and r["result"] == ["b", "c"]
    many = await call(rt, "json-processor", {"input": '{"a": [1, 2]}', "query": ".a[]"})
    assert many["result"] == [1, 2]
    stream = await result(rt, "json-processor", {"operation": "stream", "input": '{"x":1}\n{"x":2}\n',
                                                 "query": ".x * 10"})
    assert stream["result"] == [10, 20]
    (ws / "d.json").write_text('{"k": "v"}')
    assert (await call(rt, "json-processor", {"file": "d.json", "query": ".k"}))["result"] == "v"
    v = await result(rt, "json-processor", {"operation": "validate", "input": {"a": "x"},
                                            "schema": {"properties": {"a": {"type": "number"}}}})
    assert v["valid"] is False and v["errors"][0]["path"] == "a"
    with pytest.raises(ToolError, match="query"):
        await call(rt, "json-processor", {"input": {}, "query": ".[[["})


CSV = "name,age,city\nAda,36,London\nAlan,41,Wilmslow\nGrace,,Arlington\n"


async def test_csv_analyzer(rt: Any) -> None:
    a = await result(rt, "csv-analyzer", {"input": CSV})
    cols = {c["name"]: c for c in a["columns"]}
    assert a["row_count"] == 3 and cols["age"]["type"] == "integer" and cols["age"]["null_count"] == 1
    assert cols["age"]["mean"] == 38.5 and cols["city"]["type"] == "string"
    f = await result(rt, "csv-analyzer", {"operation": "filter", "input": CSV,
                                          "options": {"conditions": [{"column": "age", "operator": ">", "value": 40}]}})
    assert [r["name"] for r in f["rows"]] == ["Alan"]
    s = await result(rt, "csv-analyzer", {"operation": "sample", "input": CSV, "options": {"size": 2}})
    assert s["count"] == 2
    md = await result(rt, "csv-analyzer", {"operation": "convert", "input": CSV, "options": {"format": "markdown"}})
    assert md["output"].splitlines()[0] == "| name | age | city |"
    with pytest.raises(ToolError, match="unknown column"):
        await call(rt, "csv-analyzer", {"operation": "filter", "input": CSV,
                                        "options": {"conditions": [{"column": "zzz", "value": 1}]}})


async def test_xml_processor(rt: Any) -> None:
    xml = '<lib><book id="1"><t>Dune</t></book><book id="2"><t>Emma</t></book></lib>'
    p = await result(rt, "xml-processor", {"input": xml})
    assert p["data"]["lib"]["book"][1]["@id"] == "2"
    q = await result(rt, "xml-processor", {"operation": "query", "input": xml, "xpath": "//book[@id='2']/t"})
    assert q["results"][0]["text"] == "Emma"
    cnt = await result(rt, "xml-processor", {"operation": "query", "input": xml, "xpath": "count(//book)"})
    assert cnt["results"] == [2.0]
    xsd = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="n" type="xs:integer"/>
    </xs:schema>"""
    assert (await result(rt, "xml-processor", {"operation": "validate", "input": "<n>5</n>", "xsd": xsd}))["valid"]
    assert not (await result(rt, "xml-processor", {"operation": "validate", "input": "<n>x</n>", "xsd": xsd}))["valid"]
    assert not (await result(rt, "xml-processor", {"operation": "validate", "input": "<n>"}))["well_formed"]
    out = await result(rt, "xml-processor", {"operation": "to_xml", "input": {"a": 1, "b": "x"}, "pretty": False})
    assert out["xml"].endswith("<root><a>1</a><b>x</b></root>")


@pytest.mark.parametrize("operation", ["query", "parse"])
async def test_xml_external_entities_are_not_resolved(rt: Any, tmp_path: Path, operation: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xxe = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]><r>&x;</r>'
    if operation == "parse":
        with pytest.raises(ToolError, match="entities are not expanded"):
            await call(rt, "xml-processor", {"operation": operation, "input": xxe})
        return
    r = await result(rt, "xml-processor", {"operation": operation, "input": xxe, "xpath": "/r"})
    assert r["count"] == 1 and "TOPSECRET" not in str(r)


async def test_yaml_processor(rt: Any) -> None:
    p = await result(rt, "yaml-processor", {"input": "a: 1\nb: [x, y]\n"})
    assert p["data"] == {"a": 1, "b": ["x", "y"]}
    multi = await result(rt, "yaml-processor", {"input": "a: 1\n---\nb: 2\n"})
    assert multi["documents"] == 2 and multi["data"] == [{"a": 1}, {"b": 2}]
    d = await result(rt, "yaml-processor", {"operation": "dump", "input": {"k": [1, 2]}})
    assert d["yaml"] == "k:\n- 1\n- 2\n"
    assert (await result(rt, "yaml-processor", {"operation": "validate", "input": "a: [1"}))["valid"] is False
    j = await result(rt, "yaml-processor", {"operation": "to_json", "input": "x: true"})
    assert j["json"] == '{"x": true}'
    # the safe loader refuses Python object tags
    with pytest.raises(ToolError, match="invalid YAML"):
        await call(rt, "yaml-processor", {"input": "!!python/object/apply:os.system ['true']"})


async def test_parquet_roundtrip(rt: Any, ws: Path) -> None:
    pytest.importorskip("pyarrow")
    rows = [{"id": 1, "name": "a", "score": 0.5}, {"id": 2, "name": "b", "score": 1.5}]
    w = await result(rt, "parquet-processor", {"operation": "write", "path": "t.parquet", "rows": rows})
    assert w["rows_written"] == 2
    r = await result(rt, "parquet-processor", {"operation": "read", "path": "t.parquet", "columns": ["id", "score"]})
    assert r["rows"] == [{"id": 1, "score": 0.5}, {"id": 2, "score": 1.5}]
    s = await result(rt, "parquet-processor", {"operation": "schema", "path": "t.parquet"})
    assert [c["name"] for c in s["columns"]] == ["id", "name", "score"]
    st = await result(rt, "parquet-processor", {"operation": "stats", "path": "t.parquet"})
    assert st["num_rows"] == 2


async def test_missing_extra_names_the_extra(rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ToolError, match=r"pip install 'llmspell-ls\[data\]'"):
        await call(rt, "parquet-processor", {"operation": "read", "path": "t.parquet"})


async def test_excel_roundtrip(rt: Any, ws: Path) -> None:
    pytest.importorskip("openpyxl")
    w = await result(rt, "excel-processor", {"operation": "write", "path": "b.xlsx", "sheet": "People",
                                             "rows": [{"name": "Ada", "age": 36}, {"name": "Alan", "age": 41}]})
    assert w["rows_written"] == 2
    assert (await result(rt, "excel-processor", {"operation": "list_sheets", "path": "b.xlsx"}))["sheets"] == ["People"]
    r = await result(rt, "excel-processor", {"operation": "read", "path": "b.xlsx"})
    assert r["headers"] == ["name", "age"] and r["rows"][1] == {"name": "Alan", "age": 41}
    with pytest.raises(ToolError, match="no sheet"):
        await call(rt, "excel-processor", {"operation": "read", "path": "b.xlsx", "sheet": "Nope"})
    (ws / "bad.xlsx").write_text("not a workbook")
    with pytest.raises(ToolError, match="not a readable"):
        await call(rt, "excel-processor", {"operation": "read", "path": "bad.xlsx"})


async def test_graph_builder(rt: Any) -> None:
    created = await result(rt, "graph-builder", {"operation": "create_graph", "graph_type": "directed",
                                                 "input": {"nodes": ["a", "b"], "edges": [{"from": "a", "to": "b"}]}})
    g = created["graph"]
    g = (await result(rt, "graph-builder", {"operation": "add_node", "graph": g, "node_id": "c",
                                            "label": "C"}))["graph"]
    g = (await result(rt, "graph-builder", {"operation": "add_edge", "graph": g, "from": "b", "to": "c",
                                            "weight": 2}))["graph"]
    a = await result(rt, "graph-builder", {"operation": "analyze", "graph": g})
    assert a["node_count"] == 3 and a["edge_count"] == 2 and a["is_dag"] and a["topological_order"] == ["a", "b", "c"]
    g2 = (await result(rt, "graph-builder", {"operation": "add_edge", "graph": g, "from": "c", "to": "a"}))["graph"]
    a2 = await result(rt, "graph-builder", {"operation": "analyze", "graph": g2})
    assert a2["has_cycles"] and not a2["is_dag"]
    sp = await result(rt, "graph-builder", {"operation": "shortest_path", "graph": g, "from": "a", "to": "c"})
    assert sp["path"] == ["a", "b", "c"]
    exp = await result(rt, "graph-builder", {"operation": "export_json", "graph": g})
    imp = await result(rt, "graph-builder", {"operation": "import_json", "input": exp["json"]})
    assert imp["node_count"] == 3
    with pytest.raises(ToolError, match="already exists"):
        await call(rt, "graph-builder", {"operation": "add_node", "graph": g, "node_id": "a"})


async def test_database_connector(rt: Any, ws: Path, tmp_path: Path) -> None:
    conn = sqlite3.connect(ws / "app.db")
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    conn.executemany("INSERT INTO users (name) VALUES (?)", [("ada",), ("alan",)])
    conn.commit()
    conn.close()
    s = await result(rt, "database-connector", {"operation": "schema", "database": "app.db"})
    assert s["tables"][0]["name"] == "users" and s["tables"][0]["row_count"] == 2
    q = await result(rt, "database-connector", {"operation": "query", "database": "sqlite:///" + str(ws / "app.db"),
                                                "query": "SELECT name FROM users WHERE id = ?", "parameters": [2]})
    assert q["rows"] == [{"name": "alan"}]
    with pytest.raises(ToolError, match="query_type"):
        await call(rt, "database-connector", {"operation": "query", "database": "app.db",
                                              "query": "DELETE FROM users"})
    # even a sneaky write inside a SELECT-typed call cannot modify the read-only database
    with pytest.raises(ToolError, match="SQL error"):
        await call(rt, "database-connector", {"operation": "query", "database": "app.db",
                                              "query": "WITH x AS (SELECT 1) INSERT INTO users (name) SELECT 'z'"})
    ins = await result(rt, "database-connector", {"operation": "query", "database": "app.db", "query_type": "INSERT",
                                                  "query": "INSERT INTO users (name) VALUES ('grace')"})
    assert ins["rows_affected"] == 1
    with pytest.raises(ToolError, match="only SQLite"):
        await call(rt, "database-connector", {"operation": "query", "database": "postgres://h/db", "query": "SELECT 1"})
    with pytest.raises(SecurityViolationError):
        await call(rt, "database-connector", {"operation": "schema", "database": str(tmp_path / "x.db")})


async def test_sql_query_over_tables(rt: Any) -> None:
    r = await result(rt, "sql-query", {
        "query": "SELECT c.name, SUM(o.total) AS spent FROM customers c JOIN orders o ON o.cid = c.id "
                 "GROUP BY c.name ORDER BY spent DESC",
        "tables": {"customers": [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Alan"}],
                   "orders": [{"cid": 1, "total": 10}, {"cid": 1, "total": 5}, {"cid": 2, "total": 30}]}})
    assert r["rows"] == [{"name": "Alan", "spent": 30}, {"name": "Ada", "spent": 15}]
    with pytest.raises(ToolError, match="invalid table name"):
        await call(rt, "sql-query", {"query": "SELECT 1", "tables": {"bad name": [{"a": 1}]}})


@pytest.mark.parametrize("sql", ["ATTACH DATABASE '{p}' AS x", "VACUUM INTO '{p}'"])
async def test_sql_cannot_reach_files_outside(rt: Any, ws: Path, tmp_path: Path, sql: str) -> None:
    target = tmp_path / "escaped.db"
    with pytest.raises(ToolError, match=r"not authorized|authorization denied"):
        await call(rt, "sql-query", {"query": sql.format(p=target), "tables": {"t": [{"a": 1}]}})
    sqlite3.connect(ws / "w.db").close()
    with pytest.raises(ToolError, match=r"not authorized|authorization denied"):
        await call(rt, "database-connector", {"operation": "execute", "database": "w.db", "query_type": "EXECUTE",
                                              "query": sql.format(p=target)})
    assert not target.exists()


async def test_invalid_parameters_name_the_parameter(rt: Any) -> None:
    with pytest.raises(ValidationError, match=r"csv-analyzer: parameter 'operation': expected one of analyze"):
        await call(rt, "csv-analyzer", {"operation": "pivot", "input": "a"})
    with pytest.raises(ValidationError, match=r"graph-builder: parameter 'graph_type'"):
        await call(rt, "graph-builder", {"graph_type": "tree"})
    with pytest.raises(ValidationError, match=r"sql-query: parameter 'tables' is required"):
        await call(rt, "sql-query", {"query": "SELECT 1"})
