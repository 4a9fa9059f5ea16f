"""The machine-readable API model (``stubs/llmspell-api.json``).

This is the contract between the one API declaration (``llmspell.api.globals``) and its consumers:
the Lua and JS engines (which generate their globals from the declaration itself), ``stubgen``
(LuaCATS and ``.d.ts``) and the language server (which loads only this JSON, never the runtime).

Type strings use LuaCATS-like syntax so both stub renderers can parse them with one small grammar:
``string``, ``integer``, ``number``, ``boolean``, ``any``, ``nil``, ``function``, ``table``,
``T[]``, ``table<K, V>``, ``A|B``, a class name (``AgentBuilder``) or a record name (``AgentInput``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

MODEL_VERSION = 1

# Catalogs of names that string arguments can refer to; a param's ``names`` points at one of them.
CatalogName = Literal[
    "tools", "hook_points", "agent_templates", "workflow_types", "event_names", "priorities",
    "providers", "tool_categories", "step_types", "error_strategies", "state_scopes",
]


class ParamModel(BaseModel):
    name: str
    type: str = "any"
    optional: bool = False
    default: Any = None
    doc: str = ""
    values: list[str] | None = None
    """Allowed literal values (from ``Literal[...]``)."""
    names: str | None = None
    """The catalog this string names (``tools``, ``hook_points``, ...)."""
    schema_from: str | None = None
    """For a table param: the name of the param whose value (a tool name) selects its schema."""
    variadic: bool = False


class FunctionModel(BaseModel):
    name: str
    """The Lua name (rs-llmspell's spelling)."""
    js_name: str
    py_name: str
    doc: str = ""
    params: list[ParamModel] = Field(default_factory=list)
    returns: str = "nil"
    returns_doc: str = ""
    is_async: bool = False
    """Awaits the runtime: blocks in Lua, returns a Promise in JS."""
    deprecated: str | None = None
    returns_self: bool = False
    """Builder methods that return their receiver, so chains keep their type."""


class FieldModel(BaseModel):
    name: str
    js_name: str
    type: str = "any"
    doc: str = ""
    optional: bool = False
    values: list[str] | None = None


class ClassModel(BaseModel):
    name: str
    doc: str = ""
    kind: Literal["global", "class", "record", "value"] = "class"
    """global: a table of static functions (dot calls); class: an object with methods (colon calls in
    Lua); record: a parameter/result table shape; value: a plain data global such as ARGS."""
    type: str | None = None
    """For ``value`` globals: their type."""
    functions: list[FunctionModel] = Field(default_factory=list)
    fields: list[FieldModel] = Field(default_factory=list)
    index_type: str | None = None
    """Type of dynamic members (``Tool["file-operations"]``), if the global has any."""
    index_names: str | None = None


class NameEntry(BaseModel):
    name: str
    doc: str = ""
    detail: str = ""
    deprecated: str | None = None


class ToolParamModel(BaseModel):
    name: str
    type: str = "any"
    description: str = ""
    required: bool = False
    default: Any = None
    values: list[str] | None = None


class ToolInfo(BaseModel):
    name: str
    description: str = ""
    category: str = "utility"
    security_level: str = "safe"
    version: str = "1.0.0"
    parameters: list[ToolParamModel] = Field(default_factory=list)
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")

    model_config = {"populate_by_name": True}


class ApiModel(BaseModel):
    version: int = MODEL_VERSION
    globals: list[ClassModel] = Field(default_factory=list)
    classes: list[ClassModel] = Field(default_factory=list)
    records: list[ClassModel] = Field(default_factory=list)
    catalogs: dict[str, list[NameEntry]] = Field(default_factory=dict)
    tools: list[ToolInfo] = Field(default_factory=list)

    def global_(self, name: str) -> ClassModel | None:
        return next((g for g in self.globals if g.name == name), None)

    def class_(self, name: str) -> ClassModel | None:
        return next((c for c in (*self.classes, *self.records, *self.globals) if c.name == name), None)

    def tool(self, name: str) -> ToolInfo | None:
        return next((t for t in self.tools if t.name == name), None)
