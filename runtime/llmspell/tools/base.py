"""The base class every builtin tool derives from, so that a tool is ~30 lines.

A tool declares a pydantic ``Params`` model, a ``name``, a ``description``, a ``category``, a
``security_level`` and an ``async run(params, ctx)``. Everything else is derived once per class:
the JSON schema (for ``Tool.get(...).schema``, the API model and the language server), parameter
validation with messages that name the parameter and what was expected, and the rs-llmspell
response envelope that scripts flatten into ``r.success`` / ``r.result.<field>``.

Example::

    class EchoTool(BuiltinTool):
        name = "echo"
        description = "Echo the input back"
        category = "utility"

        class Params(BaseModel):
            input: str = Field(description="Text to echo")

        async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
            return {"echoed": params.input}      # -> envelope {operation, success, result}

``run`` may return a ``dict`` (wrapped in the envelope as ``result``), a :class:`ToolOutput` (used
as is; see :func:`envelope_output` and :func:`text_output`), or a ``str`` (plain text, as
file-operations does).
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from llmspell.api.shapes import envelope_body
from llmspell.core.errors import SecurityViolationError, ToolError, ValidationError
from llmspell.core.traits import Tool, ToolSchema
from llmspell.core.types import ToolOutput

if TYPE_CHECKING:
    from llmspell.runtime import Runtime

V = TypeVar("V")

SecurityLevel = Literal["safe", "restricted", "privileged"]
SECURITY_ORDER: dict[str, int] = {"safe": 0, "restricted": 1, "privileged": 2}


class ToolParams(BaseModel):
    """Base for ``Params`` models: unknown keys are ignored, as rs-llmspell's tools ignore them, and
    numbers are accepted where text is expected (Lua scripts mix them freely: ``input = 42``)."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, defer_build=True)


class NoParams(ToolParams):
    pass


class ToolContext:
    """What a running tool may reach: the runtime's policy, state, events and workspace.

    Kept as a tiny slotted object (built once per call) because it sits on the hot path.
    """

    __slots__ = ("caller", "runtime", "tool_name")

    def __init__(self, runtime: Runtime | None, tool_name: str = "", caller: str | None = None):
        self.runtime = runtime
        self.tool_name = tool_name
        self.caller = caller

    @property
    def policy(self) -> Any:
        return getattr(self.runtime, "policy", None)

    @property
    def state(self) -> Any:
        return getattr(self.runtime, "state", None)

    @property
    def events(self) -> Any:
        return getattr(self.runtime, "events", None)

    @property
    def workspace(self) -> Path:
        ws = getattr(self.runtime, "workspace", None)
        return Path(ws) if ws is not None else Path.cwd()

    def runtime_store(self, attr: str, fallback: dict[str, V]) -> dict[str, V]:
        """A dict kept on the runtime as ``attr`` (created on first use), so per-spell tool state such
        as vector collections or environment overrides is scoped to one runtime, not the process.

        ``fallback`` (a module-level dict owned by the caller) serves a bare tool without a runtime, or
        a runtime object that does not accept new attributes.
        """
        rt: Any = self.runtime
        if rt is None:
            return fallback
        store = getattr(rt, attr, None)
        if store is None:
            store = {}
            try:
                setattr(rt, attr, store)
            except AttributeError:
                return fallback
        return store  # type: ignore[no-any-return]

    def check_path(self, path: str | Path, *, write: bool = False) -> Path:
        """Resolve ``path`` through the security policy (relative paths are workspace-relative).

        Raises :class:`SecurityViolationError` when the policy refuses it. A bare tool used outside a
        runtime gets the default (closed) policy for the current directory, never a more permissive one.
        """
        policy = self.policy
        if policy is None or not hasattr(policy, "check_path"):
            from llmspell.security.policy import SecurityPolicy

            policy = SecurityPolicy(workspace=self.workspace)
        return Path(policy.check_path(path, write=write))


# ----------------------------------------------------------------------------------- output helpers


def envelope_output(operation: str, result: Any = None, *, message: str | None = None, success: bool = True,
                    error: str | None = None, code: str | None = None, extra: dict[str, Any] | None = None,
                    metadata: dict[str, Any] | None = None) -> ToolOutput:
    """The ``llmspell-utils`` response envelope as a :class:`ToolOutput`.

    ``extra`` keys go to the top level of the JSON next to ``operation``/``success`` (rs-llmspell's
    calculator adds ``resource_usage`` there); ``metadata`` becomes ``r.metadata`` for scripts.
    """
    body = envelope_body(operation, result=result, message=message, success=success, error=error, code=code)
    if extra:
        body.update(extra)
    text = json.dumps(body, ensure_ascii=False, default=str)
    return ToolOutput(success=success, text=text, data=result, error=error, metadata=metadata or {})


def text_output(text: str, *, metadata: dict[str, Any] | None = None, data: Any = None,
                success: bool = True, error: str | None = None) -> ToolOutput:
    """A plain-text result (``r.text`` in scripts)."""
    return ToolOutput(success=success, text=text, data=data, error=error, metadata=metadata or {})


# ----------------------------------------------------------------------------------- validation


def _expected_for(model: type[BaseModel], field: str) -> list[str] | None:
    info = model.model_fields.get(field)
    if info is None:
        return None
    return literal_values(info.annotation)


def literal_values(tp: Any) -> list[str] | None:
    """Allowed values of a ``Literal[...]`` (possibly inside ``Optional``), else ``None``."""
    origin = get_origin(tp)
    if origin is Literal:
        return [str(v) for v in get_args(tp)]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        for a in get_args(tp):
            vals = literal_values(a)
            if vals:
                return vals
    return None


def _short(value: Any) -> str:
    s = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return s if len(s) <= 60 else s[:57] + "..."


_UNION_TAG = re.compile(r"^(str|int|float|bool|none|bytes|dict|list|tuple|any)$|[\[\]()-]")


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the union-member tags pydantic adds (``variables.x.float``) so a path names the parameter."""
    out = [loc[0]] if loc else []
    out.extend(p for p in loc[1:] if not (isinstance(p, str) and _UNION_TAG.search(p)))
    return tuple(out)


def validation_message(tool_name: str, model: type[BaseModel], err: PydanticValidationError) -> str:
    """One clause per bad parameter: ``tool: parameter 'x': expected ..., got ...``."""
    grouped: dict[tuple[Any, ...], list[Any]] = {}
    for e in err.errors():
        grouped.setdefault(_clean_loc(tuple(e.get("loc", ()))), []).append(dict(e))
    lines: list[str] = []
    for loc_t, errs in grouped.items():
        loc = ".".join(str(p) for p in loc_t) or "(parameters)"
        first = errs[0]
        got = first.get("input")
        if any(e.get("type") == "missing" for e in errs):
            lines.append(f"{tool_name}: parameter '{loc}' is required")
            continue
        if first.get("type") == "literal_error":
            vals = _expected_for(model, str(loc_t[0])) if len(loc_t) == 1 else None
            expected = ", ".join(vals) if vals else str(first.get("ctx", {}).get("expected", ""))
            lines.append(f"{tool_name}: parameter '{loc}': expected one of {expected}, got {_short(got)}")
            continue
        wants: list[str] = []
        for e in errs:
            msg = str(e.get("msg", "invalid value"))
            if msg.startswith("Input should be "):
                msg = msg[len("Input should be "):].split(",")[0]
            elif msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            if msg not in wants:
                wants.append(msg)
        lines.append(f"{tool_name}: parameter '{loc}': expected {' or '.join(wants)}, got {_short(got)}")
    return "; ".join(lines) or f"{tool_name}: invalid parameters"


# ----------------------------------------------------------------------------------- the base class


class BuiltinTool(Tool):
    """Base of builtin tools: declare ``Params`` and ``run``; schema and validation come for free."""

    # Plain class attributes (not ClassVar): the Tool trait declares them as instance attributes.
    name: str = ""
    description: str = ""
    category: str = "utility"
    security_level: SecurityLevel = "safe"
    version: str = "1.0.0"
    tags: ClassVar[tuple[str, ...]] = ()
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, runtime: Runtime | None = None):
        # BaseAgent.__init__ assigns instance attributes name/description; keep the class values.
        self.id = f"tool_{self.name}"
        self.state = "ready"
        self.capabilities = list(self.tags)
        self.runtime = runtime

    # -- schema -----------------------------------------------------------------------------

    @classmethod
    def parameters_schema(cls) -> dict[str, Any]:
        cached = cls.__dict__.get("_schema_cache")
        if cached is None:
            cached = cls.Params.model_json_schema()
            cached.pop("title", None)
            cls._schema_cache = cached  # type: ignore[attr-defined]
        return cached  # type: ignore[no-any-return]

    def schema(self) -> ToolSchema:
        return ToolSchema(name=self.name, description=self.description, parameters=self.parameters_schema())

    # -- validation and execution -----------------------------------------------------------

    @classmethod
    def validate_params(cls, params: dict[str, Any] | BaseModel | None) -> BaseModel:
        """Dict -> ``Params``; raises llmspell :class:`ValidationError` naming the parameter."""
        if isinstance(params, cls.Params):
            return params
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ValidationError(f"{cls.name}: parameters must be a table, got {type(params).__name__}")
        try:
            return cls.Params.model_validate(params)
        except PydanticValidationError as e:
            raise ValidationError(validation_message(cls.name, cls.Params, e),
                                  details={"tool": cls.name, "errors": e.errors(include_url=False)}) from None

    async def run(self, params: Any, ctx: ToolContext) -> ToolOutput | dict[str, Any] | str:
        """Do the work with validated ``params``. Raise :class:`ToolError` for hard failures."""
        raise NotImplementedError

    async def call(self, params: BaseModel, ctx: ToolContext) -> ToolOutput:
        """Run with validated params and normalise the return value to a :class:`ToolOutput`."""
        try:
            out = await self.run(params, ctx)
        except (ToolError, ValidationError, SecurityViolationError):
            raise
        except FileNotFoundError as e:
            raise ToolError(f"{self.name}: no such file or directory: {e.filename}") from e
        except PermissionError as e:
            raise ToolError(f"{self.name}: permission denied: {e.filename}") from e
        except (OSError, ValueError, TypeError, ArithmeticError) as e:
            raise ToolError(f"{self.name}: {e}") from e
        if isinstance(out, ToolOutput):
            return out
        if isinstance(out, str):
            return text_output(out)
        op = params.__dict__.get("operation") if "operation" in type(params).model_fields else None
        return envelope_output(str(op or self.name), out)

    async def invoke(self, params: dict[str, Any]) -> ToolOutput:
        """Validate and run outside the registry (no hooks/events); used by tests and wrappers."""
        return await self.call(self.validate_params(params), ToolContext(self.runtime, self.name))


