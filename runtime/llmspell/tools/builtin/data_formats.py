"""Data-format tools: json-processor (jq), csv-analyzer, xml-, yaml-, parquet- and excel-processor.

Libraries: the ``jq`` binding (libjq itself, so queries behave exactly like the jq CLI), the
standard csv module, lxml/xmltodict (entities and network access disabled), PyYAML's safe loader,
pyarrow and openpyxl (the ``data`` extra).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import os
import random
import re
import statistics
import threading
import zipfile
from typing import Any, Literal

from pydantic import Field

from llmspell.core.errors import ToolError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams, envelope_output
from llmspell.tools.builtin._support import check_path, gate_of, need, policy_of, read_file, refuse


def _read_input(ctx: ToolContext, text: Any, file: str | None, what: str) -> Any:
    if file:
        return read_file(ctx, file).decode("utf-8", errors="replace")
    if text is None:
        raise ToolError(f"{ctx.tool_name}: parameter 'input' is required ({what})")
    return text


# ----------------------------------------------------------------------------------- json-processor


def _as_json_value(v: Any) -> Any:
    """Strings that hold JSON are decoded (scripts often pass raw JSON text)."""
    if isinstance(v, str):
        s = v.strip()
        if s[:1] in "{[\"" or s in ("true", "false", "null") or s[:1].isdigit() or s[:1] == "-":
            try:
                return json.loads(s)
            except ValueError:
                return v
    return v


class JsonProcessorTool(BuiltinTool):
    name = "json-processor"
    description = "Query and transform JSON with jq, validate it against a JSON Schema, or stream JSON lines"
    category = "data"
    tags = ("json", "jq", "query", "schema")

    class Params(ToolParams):
        operation: Literal["query", "transform", "jq", "validate", "stream"] = Field(
            "query", description="query (aliases, as in rs-llmspell: transform, jq), validate or stream")
        input: Any = Field(None, description="JSON value or JSON text (JSON lines for stream)")
        query: str = Field(".", description="A jq program, e.g. '.items[] | select(.price > 10) | .name'")
        schema_: dict[str, Any] | None = Field(None, alias="schema", description="JSON Schema (validate)")
        file: str | None = Field(None, description="Read the input from this file instead")

    async def run(self, params: Params, ctx: ToolContext) -> Any:
        raw = _read_input(ctx, params.input, params.file, "JSON value or text")
        if params.operation in ("transform", "jq"):  # rs-llmspell: the same full-jq query
            params.operation = "query"
        if params.operation == "validate":
            import jsonschema

            if params.schema_ is None:
                raise ToolError("json-processor: parameter 'schema' is required for validate")
            data = _as_json_value(raw)
            try:
                v = jsonschema.Draft202012Validator(params.schema_)
            except jsonschema.SchemaError as e:
                raise ToolError(f"json-processor: parameter 'schema': invalid JSON Schema: {e.message}") from e
            errors = [{"path": "/".join(str(p) for p in e.path), "message": e.message} for e in v.iter_errors(data)]
            return {"valid": not errors, "errors": errors}
        try:
            prog = compile_jq(params.query, policy_of(ctx).spell_environ())
        except ValueError as e:
            raise ToolError(f"json-processor: parameter 'query': invalid jq program: {e}") from e
        if params.operation == "stream":
            lines = raw if isinstance(raw, list) else [ln for ln in str(raw).splitlines() if ln.strip()]
            out: list[Any] = []
            for i, line in enumerate(lines):
                try:
                    value = json.loads(line) if isinstance(line, str) else line
                except ValueError as e:
                    raise ToolError(f"json-processor: line {i + 1} is not valid JSON: {e}") from e
                out.extend(_jq_all(prog, value))
            return {"result": out, "count": len(out), "lines": len(lines)}
        value = _as_json_value(raw)
        results = _jq_all(prog, value)
        # rs-llmspell scripts read the query's output as r.result (one output) or a list (several).
        return envelope_output("query", results[0] if len(results) == 1 else results,
                               message=f"{len(results)} result(s)", metadata={"count": len(results)})


# A spell's jq program runs inside this prefix, on the same line so jq's line numbers stay the
# spell's: ``$ENV`` and ``env`` are the spell-visible environment (``security.env_allow``), not the
# process's; module lookups (``modulemeta``, ``get_search_list``...) are gone. Because the program no
# longer starts the text, ``import``/``include`` directives are syntax errors (they read files).
_JQ_PRELUDE = ("$__llmspell_env as $ENV | def env: $ENV; def modulemeta: error(\"jq modules are not available\"); "
               "def get_search_list: []; def get_prog_origin: null; def get_jq_origin: null; (")
_jq_lock = threading.Lock()


def compile_jq(query: str, environ: dict[str, str]) -> Any:
    """Compile a spell's jq program with no access to the process environment or to module files."""
    import jq

    if not isinstance(query, str):
        raise ValueError("the jq program must be a string")
    if re.match(r"\s*(import|include)\b", query):
        raise ValueError("jq 'import'/'include' directives are not allowed (they read module files)")
    text = _JQ_PRELUDE + query + "\n)"
    home = os.environ.get("HOME")
    if home and os.path.lexists(os.path.join(home, ".jq")):
        # libjq auto-includes $HOME/.jq: a file outside the workspace; compile without HOME
        with _jq_lock:
            os.environ.pop("HOME", None)
            try:
                return jq.compile(text, args={"__llmspell_env": environ})
            finally:
                os.environ["HOME"] = home
    return jq.compile(text, args={"__llmspell_env": environ})


def _jq_all(prog: Any, value: Any) -> list[Any]:
    try:
        return list(prog.input_value(value).all())
    except ValueError as e:
        raise ToolError(f"json-processor: jq error: {e}") from e


# ----------------------------------------------------------------------------------- csv-analyzer


def _num(v: str) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _convert_cell(v: str) -> Any:
    if v == "":
        return None
    f = _num(v)
    if f is None:
        return v
    return int(f) if f.is_integer() and "." not in v and "e" not in v.lower() else f


_OPS = {
    "==": lambda a, b: a == b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b,
    ">": lambda a, b: a is not None and a > b, ">=": lambda a, b: a is not None and a >= b,
    "<": lambda a, b: a is not None and a < b, "<=": lambda a, b: a is not None and a <= b,
    "contains": lambda a, b: a is not None and str(b) in str(a),
    "startswith": lambda a, b: a is not None and str(a).startswith(str(b)),
}


class CsvAnalyzerTool(BuiltinTool):
    name = "csv-analyzer"
    description = "Analyze CSV (column types, statistics), convert it to JSON/markdown, filter or sample rows"
    category = "data"
    tags = ("csv", "statistics", "table")

    class Params(ToolParams):
        operation: Literal["analyze", "convert", "filter", "sample"] = "analyze"
        input: str | None = Field(None, description="CSV text")
        file: str | None = Field(None, description="Read the CSV from this file instead")
        options: dict[str, Any] = Field(default_factory=dict, description=(
            "delimiter (','), has_headers (true); convert: format = json|jsonl|markdown|tsv; "
            "filter: conditions = [{column, operator (==,!=,>,>=,<,<=,contains,startswith), value}]; "
            "sample: size (10), random (false), seed"))

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        text = _read_input(ctx, params.input, params.file, "CSV text")
        opts = params.options
        delim = str(opts.get("delimiter", ","))
        rows_raw = list(csv.reader(io.StringIO(text), delimiter=delim))
        if not rows_raw:
            raise ToolError("csv-analyzer: the CSV input is empty")
        if opts.get("has_headers", True):
            headers, body = rows_raw[0], rows_raw[1:]
        else:
            headers, body = [f"column_{i + 1}" for i in range(len(rows_raw[0]))], rows_raw
        records = [{h: _convert_cell(r[i]) if i < len(r) else None for i, h in enumerate(headers)} for r in body]
        if params.operation == "analyze":
            cols = []
            for h in headers:
                vals = [r[h] for r in records]
                present = [v for v in vals if v is not None]
                nums = [float(v) for v in present if isinstance(v, (int, float))]
                kind = "empty" if not present else "integer" if all(isinstance(v, int) for v in present) else \
                    "number" if len(nums) == len(present) else "string"
                col: dict[str, Any] = {"name": h, "type": kind, "null_count": len(vals) - len(present),
                                       "unique_count": len({json.dumps(v) for v in present})}
                if nums and kind in ("integer", "number"):
                    col.update(min=min(nums), max=max(nums), mean=statistics.fmean(nums),
                               median=statistics.median(nums), sum=sum(nums),
                               std_dev=statistics.stdev(nums) if len(nums) > 1 else 0.0)
                elif present:
                    lens = [len(str(v)) for v in present]
                    col.update(min_length=min(lens), max_length=max(lens))
                cols.append(col)
            return {"row_count": len(records), "column_count": len(headers), "columns": cols, "headers": headers}
        if params.operation == "filter":
            conds = opts.get("conditions") or ([opts["filter"]] if isinstance(opts.get("filter"), dict) else [])
            if not conds:
                raise ToolError("csv-analyzer: filter needs options.conditions = [{column, operator, value}]")
            for c in conds:
                if c.get("column") not in headers:
                    raise ToolError(f"csv-analyzer: unknown column {c.get('column')!r} (columns: {', '.join(headers)})")
                if c.get("operator", "==") not in _OPS:
                    raise ToolError(f"csv-analyzer: unknown operator {c.get('operator')!r} "
                                    f"(expected {', '.join(_OPS)})")
            out = [r for r in records if all(_OPS[c.get("operator", "==")](r[c["column"]], c.get("value"))
                                              for c in conds)]
            return {"rows": out, "count": len(out), "total": len(records)}
        if params.operation == "sample":
            n = int(opts.get("size", 10))
            sample = random.Random(opts.get("seed")).sample(records, min(n, len(records))) \
                if opts.get("random") else records[:n]
            return {"rows": sample, "count": len(sample), "total": len(records)}
        fmt = str(opts.get("format", "json"))
        if fmt == "json":
            return {"format": fmt, "data": records, "count": len(records)}
        if fmt == "jsonl":
            return {"format": fmt, "output": "\n".join(json.dumps(r) for r in records), "count": len(records)}
        if fmt == "tsv":
            buf = io.StringIO()
            w = csv.writer(buf, delimiter="\t", lineterminator="\n")
            w.writerow(headers)
            w.writerows(body)
            return {"format": fmt, "output": buf.getvalue(), "count": len(records)}
        if fmt == "markdown":
            lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
            lines += ["| " + " | ".join("" if r[h] is None else str(r[h]) for h in headers) + " |" for r in records]
            return {"format": fmt, "output": "\n".join(lines), "count": len(records)}
        raise ToolError(f"csv-analyzer: options.format: expected json, jsonl, tsv or markdown, got {fmt!r}")


# ----------------------------------------------------------------------------------- xml-processor


_XSD_NS = "http://www.w3.org/2001/XMLSchema"


def _safe_parser(etree: Any) -> Any:
    """No entities expanded, no DTD loaded, no network; and a resolver that refuses every external
    resource (DTDs, entities, XInclude, schema includes), so nothing outside the gate is ever read."""

    class _Refuse(etree.Resolver):  # type: ignore[misc,name-defined]
        def resolve(self, url: Any, pubid: Any, context: Any) -> Any:
            raise ValueError(f"external resource {url!r} refused: XML tools load nothing from files or the network")

    # XInclude is processed only by an explicit xinclude() call, which these tools never make
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, attribute_defaults=False)
    parser.resolvers.add(_Refuse())
    return parser


def _refuse_schema_loads(ctx: ToolContext, etree: Any, xsd_doc: Any) -> None:
    """xs:include / xs:import / xs:redefine / xs:override with a schemaLocation would load another file."""
    for tag in ("include", "import", "redefine", "override"):
        for el in xsd_doc.iter(f"{{{_XSD_NS}}}{tag}"):
            loc = el.get("schemaLocation")
            if loc:
                raise refuse(ctx, f"xml-processor: parameter 'xsd': xs:{tag} of {loc!r} refused; schemas must be "
                             "self-contained (nothing is loaded from files or the network)",
                             operation="file.read", path=loc)


class XmlProcessorTool(BuiltinTool):
    name = "xml-processor"
    description = "Parse XML to a table, query it with XPath, validate it (XSD) or build XML from a table"
    category = "data"
    tags = ("xml", "xpath", "xsd")

    class Params(ToolParams):
        operation: Literal["parse", "query", "validate", "to_xml"] = "parse"
        input: Any = Field(None, description="XML text (or a table for to_xml)")
        file: str | None = None
        xpath: str | None = Field(None, description="XPath expression (query)")
        namespaces: dict[str, str] | None = None
        xsd: str | None = Field(None, description="XML Schema text (validate)")
        root: str = Field("root", description="Root element name (to_xml when the table has several keys)")
        pretty: bool = True

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        import xmltodict

        if params.operation == "to_xml":
            data = params.input
            if not isinstance(data, dict):
                raise ToolError("xml-processor: to_xml expects 'input' to be a table")
            if len(data) != 1:
                data = {params.root: data}
            return {"xml": xmltodict.unparse(data, pretty=params.pretty)}
        text = _read_input(ctx, params.input, params.file, "XML text")
        from lxml import etree

        parser = _safe_parser(etree)
        try:
            doc = etree.fromstring(text.encode() if isinstance(text, str) else text, parser)
        except etree.XMLSyntaxError as e:
            if params.operation == "validate":
                return {"valid": False, "well_formed": False, "errors": [str(e)]}
            raise ToolError(f"xml-processor: invalid XML: {e}") from e
        if params.operation == "parse":
            from xml.parsers.expat import ExpatError

            try:
                data = xmltodict.parse(etree.tostring(doc), disable_entities=True)
            except (ExpatError, ValueError) as e:  # entity references are never expanded
                raise ToolError(f"xml-processor: cannot convert the document: {e} (entities are not expanded)") from e
            return {"data": data, "root": doc.tag}
        if params.operation == "query":
            if not params.xpath:
                raise ToolError("xml-processor: parameter 'xpath' is required for query")
            try:
                found = doc.xpath(params.xpath, namespaces=params.namespaces)
            except etree.XPathError as e:
                raise ToolError(f"xml-processor: parameter 'xpath': invalid XPath: {e}") from e
            items = found if isinstance(found, list) else [found]
            out: list[Any] = []
            for it in items:
                if isinstance(it, etree._Element):
                    out.append({"tag": it.tag, "text": (it.text or "").strip(), "attributes": dict(it.attrib),
                                "xml": etree.tostring(it, encoding="unicode").strip()})
                else:
                    out.append(str(it) if not isinstance(it, (int, float, bool)) else it)
            return {"results": out, "count": len(out)}
        if not params.xsd:
            return {"valid": True, "well_formed": True, "errors": []}
        try:
            xsd_doc = etree.fromstring(params.xsd.encode(), parser)
            _refuse_schema_loads(ctx, etree, xsd_doc)
            schema = etree.XMLSchema(xsd_doc)
        except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as e:
            raise ToolError(f"xml-processor: parameter 'xsd': invalid schema: {e}") from e
        ok = schema.validate(doc)
        return {"valid": bool(ok), "well_formed": True, "errors": [str(e.message) for e in schema.error_log]}


# ----------------------------------------------------------------------------------- yaml-processor


class YamlProcessorTool(BuiltinTool):
    name = "yaml-processor"
    description = "Parse YAML (all documents) to tables, dump tables as YAML, validate or convert to JSON"
    category = "data"
    tags = ("yaml", "config")

    class Params(ToolParams):
        operation: Literal["parse", "dump", "validate", "to_json"] = "parse"
        input: Any = Field(None, description="YAML text (or a value for dump)")
        file: str | None = None
        sort_keys: bool = False

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        import yaml

        if params.operation == "dump":
            if params.input is None:
                raise ToolError("yaml-processor: parameter 'input' is required for dump")
            return {"yaml": yaml.safe_dump(params.input, sort_keys=params.sort_keys, allow_unicode=True)}
        text = _read_input(ctx, params.input, params.file, "YAML text")
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError as e:
            if params.operation == "validate":
                return {"valid": False, "error": str(e)}
            raise ToolError(f"yaml-processor: invalid YAML: {e}") from e
        if params.operation == "validate":
            return {"valid": True, "documents": len(docs)}
        data = docs[0] if len(docs) == 1 else docs
        if params.operation == "to_json":
            return {"json": json.dumps(data, default=str, sort_keys=params.sort_keys)}
        return {"data": data, "documents": len(docs)}


# ----------------------------------------------------------------------------------- parquet / excel


class ParquetProcessorTool(BuiltinTool):
    name = "parquet-processor"
    description = "Read, write and inspect Apache Parquet files (needs the 'data' extra: pyarrow)"
    category = "data"
    tags = ("parquet", "arrow", "columnar")

    class Params(ToolParams):
        operation: Literal["read", "write", "schema", "stats"] = "read"
        path: str = Field(description="The .parquet file")
        rows: list[dict[str, Any]] | None = Field(None, description="Records to write (write)")
        columns: list[str] | None = Field(None, description="Only these columns (read)")
        limit: int = Field(1000, ge=0, description="At most this many rows (read)")
        compression: Literal["snappy", "gzip", "zstd", "none"] = "snappy"

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        pa = need("pyarrow", "data", tool=self.name)
        pq = need("pyarrow.parquet", "data", package="pyarrow", tool=self.name)
        if params.operation == "write":
            if not params.rows:
                raise ToolError("parquet-processor: parameter 'rows' is required for write (a list of records)")
            dst = check_path(ctx, params.path, write=True)
            table = pa.Table.from_pylist(params.rows)

            def _write() -> None:
                with gate_of(ctx).open(params.path, "wb", parents=True) as fh:
                    pq.write_table(table, fh, compression=None if params.compression == "none"
                                   else params.compression)

            await asyncio.to_thread(_write)
            return {"path": str(dst), "rows_written": table.num_rows, "columns": table.column_names}
        src = check_path(ctx, params.path)
        with gate_of(ctx).open(params.path, "rb") as fh:
            pf = pq.ParquetFile(fh)
            if params.operation == "schema":
                return {"path": str(src), "columns": [{"name": f.name, "type": str(f.type), "nullable": f.nullable}
                                                       for f in pf.schema_arrow]}
            if params.operation == "stats":
                md = pf.metadata
                return {"path": str(src), "num_rows": md.num_rows, "num_columns": md.num_columns,
                        "num_row_groups": md.num_row_groups, "created_by": md.created_by,
                        "size": os.fstat(fh.fileno()).st_size}
            table = await asyncio.to_thread(pf.read, columns=params.columns)
        rows = table.slice(0, params.limit).to_pylist()
        return {"path": str(src), "rows": rows, "count": len(rows), "total_rows": table.num_rows,
                "columns": table.column_names}


class ExcelProcessorTool(BuiltinTool):
    name = "excel-processor"
    description = "Read and write Excel .xlsx workbooks, list their sheets (needs the 'data' extra: openpyxl)"
    category = "data"
    tags = ("excel", "xlsx", "spreadsheet")

    class Params(ToolParams):
        operation: Literal["read", "write", "list_sheets"] = "read"
        path: str = Field(description="The .xlsx file")
        sheet: str | None = Field(None, description="Sheet name (default: the active sheet)")
        rows: list[dict[str, Any]] | list[list[Any]] | None = Field(None, description="Records or rows to write")
        has_headers: bool = True
        limit: int = Field(10000, ge=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        openpyxl = need("openpyxl", "data", tool=self.name)
        if params.operation == "write":
            if not params.rows:
                raise ToolError("excel-processor: parameter 'rows' is required for write")
            dst = check_path(ctx, params.path, write=True)
            wb = openpyxl.Workbook()
            ws = wb.active
            ws.title = params.sheet or "Sheet1"
            n = 0
            if isinstance(params.rows[0], dict):
                headers = list(dict.fromkeys(k for r in params.rows for k in r))  # type: ignore[union-attr]
                ws.append(headers)
                for r in params.rows:
                    ws.append([r.get(h) for h in headers])  # type: ignore[union-attr]
                    n += 1
            else:
                for row in params.rows:
                    ws.append(list(row))  # type: ignore[arg-type]
                    n += 1
            def _save() -> None:
                buf = io.BytesIO()
                wb.save(buf)
                gate_of(ctx).write_bytes(params.path, buf.getvalue(), parents=True)

            await asyncio.to_thread(_save)
            return {"path": str(dst), "sheet": ws.title, "rows_written": n}
        src = check_path(ctx, params.path)
        try:
            raw = await asyncio.to_thread(read_file, ctx, params.path)
            wb = await asyncio.to_thread(openpyxl.load_workbook, io.BytesIO(raw), read_only=True, data_only=True)
        except (KeyError, OSError, ValueError, zipfile.BadZipFile,
                openpyxl.utils.exceptions.InvalidFileException) as e:
            raise ToolError(f"excel-processor: {src.name} is not a readable .xlsx workbook: {e}") from e
        try:
            if params.operation == "list_sheets":
                return {"path": str(src), "sheets": list(wb.sheetnames), "count": len(wb.sheetnames)}
            if params.sheet and params.sheet not in wb.sheetnames:
                raise ToolError(f"excel-processor: no sheet {params.sheet!r} (sheets: {', '.join(wb.sheetnames)})")
            ws = wb[params.sheet] if params.sheet else wb.active
            values = [list(r) for r in ws.iter_rows(values_only=True)]
        finally:
            wb.close()
        if params.has_headers and values:
            headers = [str(h) if h is not None else f"column_{i + 1}" for i, h in enumerate(values[0])]
            data: list[Any] = [dict(zip(headers, r, strict=False)) for r in values[1:]]
        else:
            headers, data = [], values
        return {"path": str(src), "sheet": ws.title, "headers": headers, "rows": data[: params.limit],
                "count": min(len(data), params.limit), "total_rows": len(data)}


TOOLS = [JsonProcessorTool, CsvAnalyzerTool, XmlProcessorTool, YamlProcessorTool, ParquetProcessorTool,
         ExcelProcessorTool]
