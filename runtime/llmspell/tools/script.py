"""Tools defined by spells (``Tool.register``) and by Python callables.

rs-llmspell cannot do this (its appendix shows ``Tool.register`` but the bridge never had it); here
a script function becomes a real tool: it goes through the registry's hooks and events, agents can
call it, and workflows can use it as a tool step.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

from llmspell.core.errors import ValidationError
from llmspell.core.traits import Tool, ToolSchema
from llmspell.core.types import ToolOutput
from llmspell.tools.base import ToolContext, envelope_output, text_output

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "object": (dict,),
    "array": (list,),
}


def normalise_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    """A JSON schema, or rs-llmspell's ``{parameters = [{name, type, required, description}]}`` form."""
    if not schema:
        return {"type": "object", "properties": {}}
    if "properties" in schema or schema.get("type") == "object":
        return dict(schema)
    params = schema.get("parameters")
    if isinstance(params, dict) and ("properties" in params or params.get("type") == "object"):
        return dict(params)
    props: dict[str, Any] = {}
    required: list[str] = []
    if isinstance(params, list):
        for p in params:
            if not isinstance(p, dict) or "name" not in p:
                continue
            entry = {k: v for k, v in p.items() if k in ("type", "description", "default", "enum")}
            props[str(p["name"])] = entry
            if p.get("required"):
                required.append(str(p["name"]))
    else:  # {param = "type"} shorthand
        for k, v in schema.items():
            props[str(k)] = {"type": v} if isinstance(v, str) else dict(v) if isinstance(v, dict) else {}
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


def to_output(name: str, value: Any) -> ToolOutput:
    """A script function's return value -> :class:`ToolOutput` (tables become the response envelope)."""
    if isinstance(value, ToolOutput):
        return value
    if isinstance(value, str):
        return text_output(value)
    if isinstance(value, dict) and any(k in value for k in ("success", "result", "operation")):
        ok = value.get("success", True) is not False
        err = value.get("error")
        return ToolOutput(success=ok, text=json.dumps(value, ensure_ascii=False, default=str), data=value.get("result"),
                          error=(err.get("message") if isinstance(err, dict) else err) if err else None)
    return envelope_output(name, value)


class ScriptTool(Tool):
    """A tool whose work is a script function ``fn(params) -> table | string``."""

    def __init__(self, name: str, description: str, fn: Callable[..., Any], schema: dict[str, Any] | None = None,
                 *, category: str = "custom", security_level: str = "safe", version: str = "1.0.0",
                 tags: list[str] | None = None, language: str = "lua"):
        super().__init__(name, description, id=f"tool_{name}")
        self.fn = fn
        self.category = category
        self.security_level = security_level  # type: ignore[assignment]
        self.version = version
        self.tags = tuple(tags or ())
        self.language = language
        self._schema = normalise_schema(schema)
        self.state = "ready"

    def schema(self) -> ToolSchema:
        return ToolSchema(name=self.name, description=self.description, parameters=self._schema)

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        props = self._schema.get("properties") or {}
        for req in self._schema.get("required", []) or []:
            if params.get(req) is None:
                raise ValidationError(f"{self.name}: parameter '{req}' is required")
        for k, v in params.items():
            spec = props.get(k)
            if not isinstance(spec, dict) or v is None:
                continue
            t = spec.get("type")
            types = _JSON_TYPES.get(t) if isinstance(t, str) else None
            if types and (not isinstance(v, types) or (t in ("integer", "number") and isinstance(v, bool))):
                raise ValidationError(f"{self.name}: parameter '{k}': expected {t}, got {type(v).__name__}")
            enum = spec.get("enum")
            if enum and v not in enum:
                raise ValidationError(f"{self.name}: parameter '{k}': expected one of "
                                      f"{', '.join(map(str, enum))}, got {v!r}")
        return params

    async def call(self, params: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        r = self.fn(params)
        if inspect.isawaitable(r):
            r = await r
        return to_output(self.name, r)

    async def invoke(self, params: dict[str, Any]) -> ToolOutput:
        return await self.call(self.validate_params(params), ToolContext(None, self.name))
