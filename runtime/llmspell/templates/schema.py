"""Template parameter schemas: rs-llmspell's ``ConfigSchema`` (llmspell-templates/src/validation.rs).

A schema is a list of :class:`Param`. :func:`validate` checks a parameter table the way rs-llmspell
does (required, type, min/max, length, pattern, allowed values) but reports every problem with the
parameter's name and what was expected, and returns the table with defaults filled in. Unknown
parameters are accepted (rs-llmspell only logs them): workflows pass extra keys such as ``depth``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmspell.core.errors import ValidationError

PARAM_TYPES = ("string", "number", "integer", "boolean", "array", "object")
_DEBUG_NAMES = {"string": "String", "number": "Number", "integer": "Integer", "boolean": "Boolean",
                "array": "Array", "object": "Object"}
_TYPE_WORDS = {"string": "a string", "number": "a number", "integer": "an integer", "boolean": "a boolean",
               "array": "an array (a list table)", "object": "an object (a table with keys)"}


@dataclass(frozen=True)
class Param:
    """One template parameter (name, type, required/default, constraints)."""

    name: str
    description: str
    type: str
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    allowed: tuple[Any, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def constraints(self) -> dict[str, Any]:
        c: dict[str, Any] = {}
        for k in ("min", "max", "min_length", "max_length", "pattern"):
            v = getattr(self, k)
            if v is not None:
                c[k] = v
        if self.allowed is not None:
            c["allowed_values"] = list(self.allowed)
        return c

    def table(self) -> dict[str, Any]:
        """The parameter as scripts see it (rs-llmspell's ``convert_parameter_to_lua``: constraints
        flattened; also ``type``, ``default_value`` and ``constraints`` as its examples read them)."""
        t: dict[str, Any] = {"name": self.name, "description": self.description,
                             "param_type": _DEBUG_NAMES[self.type], "type": self.type, "required": self.required}
        if self.default is not None:
            t["default"] = self.default
            t["default_value"] = self.default
        c = self.constraints()
        t.update(c)
        if c:
            t["constraints"] = dict(c)
        return t


def _type_ok(kind: str, v: Any) -> bool:
    if kind == "string":
        return isinstance(v, str)
    if kind == "boolean":
        return isinstance(v, bool)
    if kind == "integer":
        return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    if kind == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if kind == "array":
        return isinstance(v, list) or (isinstance(v, dict) and not v)  # an empty Lua table is both
    if kind == "object":
        return isinstance(v, dict)
    return False


def _kind_of(v: Any) -> str:
    if v is None:
        return "nil"
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
    if isinstance(v, dict):
        return "table"
    return type(v).__name__


def check_param(p: Param, v: Any) -> str | None:
    """The problem with value ``v`` for parameter ``p``, or None."""
    if not _type_ok(p.type, v):
        return f"parameter '{p.name}' must be {_TYPE_WORDS[p.type]}, got {_kind_of(v)}"
    if p.type in ("number", "integer"):
        if p.min is not None and v < p.min:
            return f"parameter '{p.name}' must be >= {_num(p.min)}, got {_num(v)}"
        if p.max is not None and v > p.max:
            return f"parameter '{p.name}' must be <= {_num(p.max)}, got {_num(v)}"
    if isinstance(v, (str, list)):
        what = "length" if isinstance(v, str) else "number of items"
        if p.min_length is not None and len(v) < p.min_length:
            return f"parameter '{p.name}' {what} must be >= {p.min_length}, got {len(v)}"
        if p.max_length is not None and len(v) > p.max_length:
            return f"parameter '{p.name}' {what} must be <= {p.max_length}, got {len(v)}"
    if isinstance(v, dict) and p.min_length is not None and len(v) < p.min_length:
        return f"parameter '{p.name}' must have at least {p.min_length} key(s)"
    if isinstance(v, str) and p.pattern is not None and p.pattern not in v:
        return f"parameter '{p.name}' must contain {p.pattern!r}"
    if p.allowed is not None and v not in p.allowed:
        return f"parameter '{p.name}' must be one of {', '.join(map(str, p.allowed))}; got {v!r}"
    return None


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def validate(where: str, params: list[Param], values: dict[str, Any]) -> dict[str, Any]:
    """Check ``values`` against the schema; return them with defaults filled in.

    Raises :class:`ValidationError` naming every bad parameter (``where`` prefixes the message).
    """
    problems: list[str] = []
    out = dict(values)
    for p in params:
        v = values.get(p.name)
        if v is None:
            if p.required:
                problems.append(f"parameter '{p.name}' is required ({_TYPE_WORDS[p.type]}: {p.description})")
            elif p.default is not None:
                out[p.name] = p.default
            continue
        if p.type == "integer" and isinstance(v, float) and v.is_integer():
            v = out[p.name] = int(v)
        if p.type == "array" and isinstance(v, dict) and not v:
            v = out[p.name] = []
        msg = check_param(p, v)
        if msg:
            problems.append(msg)
    if problems:
        raise ValidationError(f"{where}: " + "; ".join(problems))
    return out


def memory_parameters() -> list[Param]:
    """``session_id``, ``memory_enabled``, ``context_budget`` (rs-llmspell ``memory_parameters``)."""
    return [
        Param("session_id", "Session ID for conversation memory filtering. Enables context-aware execution.",
              "string"),
        Param("memory_enabled", "Enable memory-enhanced execution. Uses episodic + semantic memory for context.",
              "boolean", default=True),
        Param("context_budget", "Token budget for context assembly (100-8000). Higher = more context.",
              "integer", default=2000, min=100, max=8000),
    ]


def provider_parameters() -> list[Param]:
    """``provider_name`` (rs-llmspell ``provider_parameters``)."""
    return [Param("provider_name", "Provider name (e.g., 'ollama', 'openai'). Mutually exclusive with 'model'.",
                  "string")]


def model_param(description: str) -> Param:
    """The ``model`` parameter; its default is the runtime's default model."""
    return Param("model", f"{description} (default: the runtime's default_model)", "string")
