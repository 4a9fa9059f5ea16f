"""Text-and-data tools: template-creator, data-validator, diff-calculator, citation-formatter.

Rendering (:mod:`llmspell.tools.templating`) uses a bounded, immutable Jinja2 sandbox (Tera,
rs-llmspell's default engine, is Jinja-syntax) and, for the handlebars engine, a bounded Mustache
renderer over pystache's parser (Mustache is the logic-less core Handlebars extends; the common
Handlebars block helpers are translated). Caps come from ``limits.max_template_output_bytes`` and
``limits.max_template_operations``. Diffs use difflib and RFC 6902 JSON patches (jsonpatch); citations
are parsed with bibtexparser / PyYAML.
"""

from __future__ import annotations

import difflib
import json
import re
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field

from llmspell.core.errors import ToolError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import read_file

# ----------------------------------------------------------------------------------- template-creator

_HB_BLOCK = re.compile(r"\{\{\s*#(each|if|with)\s+([\w.]+)\s*\}\}")
_HB_UNLESS = re.compile(r"\{\{\s*#unless\s+([\w.]+)\s*\}\}")
_HB_CLOSE = re.compile(r"\{\{\s*/(each|if|with|unless)\s*\}\}")


def _handlebars_to_mustache(tpl: str) -> str:
    """Translate Handlebars' block helpers to their Mustache sections."""
    stack: list[str] = []

    def open_(m: re.Match[str]) -> str:
        stack.append(m.group(2))
        return "{{#" + m.group(2) + "}}"

    def unless(m: re.Match[str]) -> str:
        stack.append(m.group(1))
        return "{{^" + m.group(1) + "}}"

    def close(m: re.Match[str]) -> str:
        return "{{/" + (stack.pop() if stack else "") + "}}"

    out = []
    pos = 0
    token = re.compile(f"{_HB_BLOCK.pattern}|{_HB_UNLESS.pattern}|{_HB_CLOSE.pattern}")
    for m in token.finditer(tpl):
        out.append(tpl[pos:m.start()])
        s = m.group(0)
        if _HB_BLOCK.fullmatch(s):
            out.append(open_(_HB_BLOCK.fullmatch(s)))  # type: ignore[arg-type]
        elif _HB_UNLESS.fullmatch(s):
            out.append(unless(_HB_UNLESS.fullmatch(s)))  # type: ignore[arg-type]
        else:
            out.append(close(m))
        pos = m.end()
    out.append(tpl[pos:])
    return re.sub(r"\{\{\s*this\s*\}\}", "{{.}}", "".join(out))


class TemplateCreatorTool(BuiltinTool):
    name = "template-creator"
    description = "Render a template (Tera/Jinja or Handlebars/Mustache syntax) with a context table"
    category = "utility"
    tags = ("template", "jinja", "tera", "handlebars", "render")

    class Params(ToolParams):
        input: str = Field(description="The template text")
        context: dict[str, Any] = Field(default_factory=dict, description="Values the template refers to")
        engine: Literal["tera", "handlebars", "jinja"] = "tera"
        auto_detect: bool = Field(True, description="Pick handlebars when the template uses {{#each}}/{{#if}}")

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        from llmspell.api.plain import check_value
        from llmspell.tools.templating import TemplateLimitError, render_jinja, render_mustache, template_limits

        config = getattr(ctx.runtime, "config", None)
        # the context is data: a function or an object in it would be walked by the template
        context = check_value(params.context, "template-creator: parameter 'context'", config)
        max_output, max_ops = template_limits(config)
        engine = params.engine
        if params.auto_detect and engine == "tera" and ("{{#" in params.input or "{{/" in params.input):
            engine = "handlebars"
        try:
            if engine == "handlebars":
                rendered = render_mustache(_handlebars_to_mustache(params.input), context,
                                           max_output=max_output, max_operations=max_ops)
            else:
                rendered = render_jinja(params.input, context, max_output=max_output, max_operations=max_ops)
        except TemplateLimitError as e:
            raise ToolError(f"template-creator: template limit: {e}") from None
        except RecursionError:
            raise ToolError("template-creator: template error: recursion too deep") from None
        except MemoryError:
            raise ToolError("template-creator: template limit: out of memory") from None
        except Exception as e:  # jinja's TemplateError/SecurityError, pystache's ParsingError, OverflowError...
            kind = "handlebars template error" if engine == "handlebars" else "template error"
            raise ToolError(f"template-creator: {kind}: {type(e).__name__}: {e}") from None
        return {"rendered": rendered, "engine": engine, "template_length": len(params.input),
                "context_size": len(context)}


# ----------------------------------------------------------------------------------- data-validator

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "number": (int, float), "integer": (int,), "boolean": (bool,),
    "array": (list,), "object": (dict,), "null": (type(None),),
}


def _type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object" if isinstance(v, dict) else type(v).__name__


def _rules_list(rules: Any) -> list[dict[str, Any]]:
    if isinstance(rules, dict) and "rules" in rules:
        rules = rules["rules"]
    if isinstance(rules, dict):
        rules = [rules]
    if not isinstance(rules, list):
        raise ToolError("data-validator: parameter 'rules': expected {rules = [ {type = ...}, ... ]}")
    return rules


def validate_value(value: Any, rules: list[dict[str, Any]], path: str, errors: list[dict[str, Any]]) -> None:
    """Apply rs-llmspell's ValidationRule variants to one value, collecting errors."""

    def err(rule: str, msg: str) -> None:
        errors.append({"field": path or "$", "rule": rule, "message": msg, "value": value})

    for rule in rules:
        t = rule.get("type")
        if t == "required":
            if value is None or value == "":
                err("required", "value is required")
                return
        elif value is None:
            continue
        elif t == "type":
            exp = rule.get("expected", "string")
            ok = isinstance(value, _TYPES.get(exp, (object,))) and not (exp in ("number", "integer")
                                                                          and isinstance(value, bool))
            if exp == "integer" and isinstance(value, float) and value.is_integer():
                ok = True
            if not ok:
                err("type", f"expected {exp}, got {_type_name(value)}")
        elif t == "length":
            n = len(value) if hasattr(value, "__len__") else None
            if n is None:
                err("length", f"length applies to strings and arrays, got {_type_name(value)}")
            elif rule.get("min") is not None and n < rule["min"]:
                err("length", f"length {n} is less than {rule['min']}")
            elif rule.get("max") is not None and n > rule["max"]:
                err("length", f"length {n} is more than {rule['max']}")
        elif t == "range":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                err("range", f"expected a number, got {_type_name(value)}")
            elif rule.get("min") is not None and value < rule["min"]:
                err("range", f"{value} is less than {rule['min']}")
            elif rule.get("max") is not None and value > rule["max"]:
                err("range", f"{value} is more than {rule['max']}")
        elif t == "pattern":
            try:
                if not isinstance(value, str) or not re.search(rule.get("regex", ""), value):
                    err("pattern", f"does not match {rule.get('regex')!r}")
            except re.error as e:
                err("pattern", f"invalid regex {rule.get('regex')!r}: {e}")
        elif t == "enum":
            if value not in (rule.get("values") or []):
                err("enum", f"expected one of {rule.get('values')}")
        elif t == "email":
            if not isinstance(value, str) or not _EMAIL.match(value):
                err("email", "not a valid email address")
        elif t == "url":
            parts = urlsplit(value) if isinstance(value, str) else None
            if not parts or parts.scheme not in ("http", "https", "ftp") or not parts.netloc:
                err("url", "not a valid URL")
        elif t == "date":
            fmt = rule.get("format", "%Y-%m-%d")
            try:
                datetime.strptime(str(value), fmt)
            except ValueError:
                err("date", f"not a date in format {fmt}")
        elif t == "array":
            if not isinstance(value, list):
                err("array", f"expected array, got {_type_name(value)}")
                continue
            if rule.get("min_items") is not None and len(value) < rule["min_items"]:
                err("array", f"{len(value)} items, fewer than {rule['min_items']}")
            if rule.get("max_items") is not None and len(value) > rule["max_items"]:
                err("array", f"{len(value)} items, more than {rule['max_items']}")
            if rule.get("unique"):
                seen = [json.dumps(v, sort_keys=True, default=str) for v in value]
                if len(set(seen)) != len(seen):
                    err("array", "items are not unique")
            if rule.get("item_rules"):
                for i, item in enumerate(value):
                    validate_value(item, _rules_list(rule["item_rules"]), f"{path}[{i}]", errors)
        elif t == "object":
            if not isinstance(value, dict):
                err("object", f"expected object, got {_type_name(value)}")
                continue
            props = rule.get("properties") or {}
            for req in rule.get("required") or []:
                if req not in value:
                    errors.append({"field": f"{path}.{req}" if path else req, "rule": "required",
                                   "message": "field is required", "value": None})
            for key, sub in props.items():
                if key in value:
                    validate_value(value[key], _rules_list(sub), f"{path}.{key}" if path else key, errors)
            if rule.get("additional_properties") is False:
                for key in value:
                    if key not in props:
                        errors.append({"field": f"{path}.{key}" if path else key, "rule": "object",
                                       "message": "additional property not allowed", "value": value[key]})
        elif t == "custom":
            name = rule.get("name", "")
            checks = {"phone": r"^\+?[\d\s().-]{7,}$", "uuid": r"^[0-9a-fA-F-]{36}$",
                      "ipv4": r"^(\d{1,3}\.){3}\d{1,3}$",
                      "alphanumeric": r"^[A-Za-z0-9]+$", "slug": r"^[a-z0-9]+(?:-[a-z0-9]+)*$"}
            if name not in checks:
                err("custom", f"unknown custom rule {name!r} (known: {', '.join(checks)})")
            elif not isinstance(value, str) or not re.match(checks[name], value):
                err("custom", f"not a valid {name}")
        else:
            err(str(t), f"unknown rule type {t!r}")


class DataValidatorTool(BuiltinTool):
    name = "data-validator"
    description = "Validate data against rules (required, type, length, range, pattern, enum...) or a JSON Schema"
    category = "data"
    tags = ("validate", "schema", "rules")

    class Params(ToolParams):
        input: Any = Field(description="The data to validate")
        rules: dict[str, Any] | list[dict[str, Any]] | None = Field(
            None, description="{rules = [{type = 'required'}, {type = 'object', properties = {...}}, ...]}")
        json_schema: dict[str, Any] | None = Field(None, description="Validate against a JSON Schema instead")

    async def run(self, params: Params, ctx: ToolContext) -> Any:
        from llmspell.tools.base import envelope_output

        errors: list[dict[str, Any]] = []
        if params.json_schema is not None:
            import jsonschema

            try:
                validator = jsonschema.Draft202012Validator(params.json_schema)
            except jsonschema.SchemaError as e:
                raise ToolError(f"data-validator: parameter 'json_schema': invalid schema: {e.message}") from e
            for ve in sorted(validator.iter_errors(params.input), key=lambda v: list(v.path)):
                errors.append({"field": ".".join(str(p) for p in ve.path) or "$", "rule": str(ve.validator),
                               "message": ve.message, "value": ve.instance})
        elif params.rules is not None:
            validate_value(params.input, _rules_list(params.rules), "", errors)
        else:
            raise ToolError("data-validator: parameter 'rules' is required (or give 'json_schema')")
        return envelope_output("validate_data", {"valid": not errors, "errors": errors})


# ----------------------------------------------------------------------------------- diff-calculator


class DiffCalculatorTool(BuiltinTool):
    name = "diff-calculator"
    description = "Compare two texts, files or JSON values (unified/context/inline diffs, JSON patches)"
    category = "utility"
    tags = ("diff", "compare", "patch")

    class Params(ToolParams):
        type: Literal["text", "json"] = "text"
        old_text: str | None = None
        new_text: str | None = None
        old_json: Any = None
        new_json: Any = None
        old_file: str | None = None
        new_file: str | None = None
        format: Literal["unified", "context", "inline", "simple"] = "unified"
        context_lines: int = Field(3, ge=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        old, new = params.old_text, params.new_text
        if params.old_file:
            old = read_file(ctx, params.old_file).decode("utf-8", errors="replace")
        if params.new_file:
            new = read_file(ctx, params.new_file).decode("utf-8", errors="replace")
        if params.type == "json":
            import jsonpatch

            a = params.old_json if params.old_json is not None else _load_json(old, "old")
            b = params.new_json if params.new_json is not None else _load_json(new, "new")
            patch = jsonpatch.make_patch(a, b).patch
            return {"type": "json", "identical": not patch, "changes": patch, "change_count": len(patch)}
        if old is None or new is None:
            raise ToolError("diff-calculator: text diffs need old_text and new_text (or old_file and new_file)")
        a_lines, b_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
        added = removed = 0
        for line in difflib.ndiff(a_lines, b_lines):
            if line.startswith("+ "):
                added += 1
            elif line.startswith("- "):
                removed += 1
        fa, fb = params.old_file or "old", params.new_file or "new"
        if params.format == "unified":
            diff = "".join(difflib.unified_diff(a_lines, b_lines, fa, fb, n=params.context_lines))
        elif params.format == "context":
            diff = "".join(difflib.context_diff(a_lines, b_lines, fa, fb, n=params.context_lines))
        elif params.format == "inline":
            sm = difflib.SequenceMatcher(None, old, new)
            parts = []
            for op, i1, i2, j1, j2 in sm.get_opcodes():
                if op == "equal":
                    parts.append(old[i1:i2])
                if op in ("delete", "replace"):
                    parts.append(f"[-{old[i1:i2]}-]")
                if op in ("insert", "replace"):
                    parts.append(f"{{+{new[j1:j2]}+}}")
            diff = "".join(parts)
        else:
            diff = "".join(ln if ln.endswith("\n") else ln + "\n"
                           for ln in difflib.ndiff(a_lines, b_lines) if ln[:1] in "+-")
        return {"type": "text", "format": params.format, "diff": diff, "identical": old == new,
                "lines_added": added, "lines_removed": removed,
                "similarity": round(difflib.SequenceMatcher(None, old, new).ratio(), 4)}


def _load_json(text: str | None, which: str) -> Any:
    if text is None:
        raise ToolError(f"diff-calculator: json diffs need {which}_json (or {which}_text/{which}_file with JSON)")
    try:
        return json.loads(text)
    except ValueError as e:
        raise ToolError(f"diff-calculator: {which} input is not valid JSON: {e}") from e


# ----------------------------------------------------------------------------------- citation-formatter

STYLES = ("apa", "mla", "chicago", "harvard", "ieee")


def _authors(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """[(family, given)] from 'Last, First and Last2, First2' or a YAML list."""
    raw = entry.get("author") or entry.get("authors") or []
    if isinstance(raw, str):
        raw = [a.strip() for a in re.split(r"\s+and\s+", raw) if a.strip()]
    out = []
    for a in raw:
        if isinstance(a, dict):
            out.append((str(a.get("family", a.get("last", ""))), str(a.get("given", a.get("first", "")))))
        elif "," in str(a):
            fam, giv = str(a).split(",", 1)
            out.append((fam.strip(), giv.strip()))
        else:
            parts = str(a).split()
            out.append((parts[-1], " ".join(parts[:-1])) if parts else ("", ""))
    return out


def _initials(given: str) -> str:
    return " ".join(f"{p[0]}." for p in re.split(r"[\s-]+", given) if p)


def format_citation(e: dict[str, Any], style: str) -> str:
    au = _authors(e)
    year = str(e.get("year") or e.get("issued") or "n.d.")
    title = str(e.get("title", "")).strip("{}")
    venue = str(e.get("journal") or e.get("booktitle") or e.get("container-title") or e.get("publisher") or "")
    vol, pages = e.get("volume"), e.get("pages")
    if style == "apa":
        names = [f"{f}, {_initials(g)}".strip(", ") for f, g in au]
        who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + ", & " + names[-1] if names else ""
        s = f"{who} ({year}). {title}."
        if venue:
            s += f" {venue}" + (f", {vol}" if vol else "") + (f", {pages}" if pages else "") + "."
    elif style == "mla":
        if not au:
            who = ""
        elif len(au) == 1:
            who = f"{au[0][0]}, {au[0][1]}"
        elif len(au) == 2:
            who = f"{au[0][0]}, {au[0][1]}, and {au[1][1]} {au[1][0]}"
        else:
            who = f"{au[0][0]}, {au[0][1]}, et al"
        s = f"{who}. \u201c{title}.\u201d" + (f" {venue}" if venue else "") + (f", vol. {vol}" if vol else "") + \
            f", {year}" + (f", pp. {pages}" if pages else "") + "."
    elif style == "chicago":
        names = [f"{au[0][0]}, {au[0][1]}"] + [f"{g} {f}" for f, g in au[1:]] if au else []
        who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + ", and " + names[-1] if names else ""
        s = f"{who}. {year}. \u201c{title}.\u201d" + (f" {venue}" if venue else "") + (f" {vol}" if vol else "") + \
            (f": {pages}" if pages else "") + "."
    elif style == "harvard":
        names = [f"{f}, {_initials(g)}" for f, g in au]
        who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else ""
        s = f"{who} ({year}) '{title}'" + (f", {venue}" if venue else "") + (f", {vol}" if vol else "") + \
            (f", pp. {pages}" if pages else "") + "."
    else:  # ieee
        names = [f"{_initials(g)} {f}".strip() for f, g in au]
        who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + ", and " + names[-1] if names else ""
        s = f"{who}, \u201c{title},\u201d" + (f" {venue}," if venue else "") + (f" vol. {vol}," if vol else "") + \
            (f" pp. {pages}," if pages else "") + f" {year}."
    return re.sub(r"\s+", " ", s).strip()


def parse_bibliography(text: str, fmt: str) -> list[dict[str, Any]]:
    if fmt == "bibtex":
        import bibtexparser

        lib = bibtexparser.parse_string(text)
        if lib.failed_blocks:
            raise ToolError(f"citation-formatter: {len(lib.failed_blocks)} BibTeX entries could not be parsed")
        out = []
        for ent in lib.entries:
            d = {k.lower(): str(v.value if hasattr(v, "value") else v) for k, v in ent.fields_dict.items()}
            d["id"], d["type"] = ent.key, ent.entry_type
            out.append(d)
        return out
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ToolError(f"citation-formatter: invalid YAML: {e}") from e
    if isinstance(data, dict) and "references" in data:
        data = data["references"]
    if isinstance(data, dict):
        data = [{"id": k, **v} if isinstance(v, dict) else {"id": k} for k, v in data.items()]
    if not isinstance(data, list):
        raise ToolError("citation-formatter: YAML input must be a list of references (or {references: [...]})")
    return [d for d in data if isinstance(d, dict)]


class CitationFormatterTool(BuiltinTool):
    name = "citation-formatter"
    description = "Format BibTeX or YAML references in APA, MLA, Chicago, Harvard or IEEE style"
    category = "utility"
    tags = ("citation", "bibliography", "bibtex", "apa")

    class Params(ToolParams):
        operation: Literal["format_citation", "validate_bibliography", "list_styles"] = "format_citation"
        input: str | None = Field(None, description="The bibliography (YAML or BibTeX text)")
        format: Literal["yaml", "bibtex"] = "yaml"
        style: Literal["apa", "mla", "chicago", "harvard", "ieee"] = "apa"
        cite_keys: list[str] | None = Field(None, description="Only these entries (by id/key)")

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        if params.operation == "list_styles":
            return {"styles": list(STYLES), "count": len(STYLES)}
        if not params.input:
            raise ToolError("citation-formatter: parameter 'input' is required (YAML or BibTeX bibliography)")
        entries = parse_bibliography(params.input, params.format)
        if params.cite_keys:
            keys = set(params.cite_keys)
            missing = sorted(keys - {str(e.get("id")) for e in entries})
            if missing:
                raise ToolError(f"citation-formatter: cite_keys not in the bibliography: {', '.join(missing)}")
            entries = [e for e in entries if str(e.get("id")) in keys]
        if params.operation == "validate_bibliography":
            problems = []
            for e in entries:
                miss = [f for f in ("title", "author", "year")
                        if not (e.get(f) or (f == "author" and e.get("authors")))]
                if miss:
                    problems.append({"id": e.get("id"), "missing": miss})
            return {"valid": not problems, "entries": len(entries), "problems": problems}
        cites = [{"id": e.get("id"), "citation": format_citation(e, params.style)} for e in entries]
        return {"style": params.style, "citations": cites, "bibliography": "\n".join(str(c["citation"]) for c in cites),
                "count": len(cites)}


TOOLS = [TemplateCreatorTool, DataValidatorTool, DiffCalculatorTool, CitationFormatterTool]
