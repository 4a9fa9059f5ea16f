"""MCP tool schemas and results as llmspell sees them: argument validation that names the parameter,
and a ``CallToolResult`` mapped to a :class:`~llmspell.core.types.ToolOutput`.

Servers are not required to validate their arguments (the SDK's low-level server does not), and a
spell or an agent deserves the same message a builtin tool gives (``tool: parameter 'a': expected
integer, got "x"``) before anything is sent, so validation happens on our side against the very
schema the server advertised.
"""

from __future__ import annotations

import json
from typing import Any

from llmspell.core.errors import ToolError, ValidationError
from llmspell.core.types import ToolOutput
from llmspell.tools.base import envelope_output, text_output


def _short(value: Any) -> str:
    try:
        s = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        s = repr(value)
    return s if len(s) <= 60 else s[:57] + "..."


def _loc(path: Any) -> str:
    return ".".join(str(p) for p in path)


def _problem(tool: str, err: Any) -> str:
    """One jsonschema error as ``tool: parameter 'x': ...``."""
    loc = _loc(err.absolute_path)
    v = err.validator
    if v == "required":
        inst = err.instance if isinstance(err.instance, dict) else {}
        missing = [r for r in err.validator_value if r not in inst]
        name = ".".join([p for p in (loc, missing[0] if missing else "") if p])
        return f"{tool}: parameter '{name}' is required"
    if v == "additionalProperties":
        allowed = sorted((err.schema.get("properties") or {}).keys())
        inst = err.instance if isinstance(err.instance, dict) else {}
        extra = sorted(k for k in inst if k not in allowed)
        prefix = f"{loc}." if loc else ""
        names = ", ".join(f"'{prefix}{k}'" for k in extra) or "(unknown)"
        return (f"{tool}: parameter {names} is not accepted (expected "
                f"{', '.join(allowed) if allowed else 'no parameters'})")
    where = f"parameter '{loc}'" if loc else "parameters"
    if v == "type":
        want = err.validator_value
        wants = want if isinstance(want, list) else [want]
        return f"{tool}: {where}: expected {' or '.join(str(w) for w in wants)}, got {_short(err.instance)}"
    if v == "enum":
        return (f"{tool}: {where}: expected one of {', '.join(str(x) for x in err.validator_value)}, "
                f"got {_short(err.instance)}")
    return f"{tool}: {where}: {err.message}"


def validate_arguments(tool: str, schema: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """``params`` checked against the server's input schema; :class:`ValidationError` names every bad
    parameter (sorted by location, so the message is stable)."""
    from jsonschema import exceptions as js_exc
    from jsonschema import validators
    from referencing.exceptions import Unresolvable

    if not isinstance(params, dict):
        raise ValidationError(f"{tool}: parameters must be a table, got {type(params).__name__}")
    if not schema:
        return params
    try:
        cls = validators.validator_for(schema)
        validator = cls(schema)
        errors = sorted(validator.iter_errors(params), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    except js_exc.SchemaError as e:
        raise ToolError(f"{tool}: the server's input schema is not a valid JSON schema: {e.message}") from None
    except RecursionError:
        # a server's schema is untrusted: {"$ref": "#"} loops in the validator without end
        raise ToolError(f"{tool}: the server's input schema refers to itself without end ($ref loop); "
                        "the arguments cannot be checked") from None
    except Unresolvable as e:
        # remote $refs are never fetched (no retriever is configured): say so rather than a wrapper's repr
        raise ToolError(f"{tool}: the server's input schema has a $ref that cannot be resolved "
                        f"({str(e)[:200]}); references to other documents are not fetched") from None
    if errors:
        problems = list(dict.fromkeys(_problem(tool, e) for e in errors))
        raise ValidationError("; ".join(problems), details={"tool": tool, "problems": problems})
    return params


def content_text(content: list[Any]) -> str:
    """The text blocks of an MCP result, with a short note for each non-text block."""
    parts: list[str] = []
    for block in content or []:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(str(getattr(block, "text", "")))
        elif kind in ("image", "audio"):
            data = getattr(block, "data", "") or ""
            parts.append(f"[{kind} {getattr(block, 'mime_type', '')}, {len(data) * 3 // 4} bytes]")
        elif kind == "resource_link":
            parts.append(f"[resource {getattr(block, 'uri', '')}]")
        elif kind == "resource":
            res = getattr(block, "resource", None)
            text = getattr(res, "text", None)
            parts.append(str(text) if text is not None else f"[resource {getattr(res, 'uri', '')}]")
        else:
            parts.append(f"[{kind or 'content'}]")
    return "\n".join(parts)


def result_output(tool: str, result: Any) -> ToolOutput:
    """A ``CallToolResult`` as a :class:`ToolOutput`.

    ``isError`` raises :class:`ToolError` with the server's text. Structured content becomes the
    response envelope (``r.result`` in scripts is the server's structured object, ``r.text`` its text
    content); text-only results are plain text (``r.text``).
    """
    text = content_text(getattr(result, "content", None) or [])
    if getattr(result, "is_error", False):
        raise ToolError(f"{tool}: {text or 'the server reported an error without a message'}",
                        details={"tool": tool, "server_error": text})
    structured = getattr(result, "structured_content", None)
    md = {"mcp_tool": tool}
    if structured is not None:
        return envelope_output(tool, structured, extra={"text": text} if text else None, metadata=md)
    return text_output(text, metadata=md)


def public_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The input schema as the model sees it (a missing schema is an object without parameters)."""
    if not isinstance(schema, dict) or not schema:
        return {"type": "object", "properties": {}}
    return dict(schema)
