"""The ``Tool`` global (rs-llmspell API notes §2.2): run, look up, list and discover tools.

``Tool.execute(name, params)`` returns rs-llmspell's output table (§1.2): envelope tools give
``r.success``, ``r.result.<field>``, ``r.error.message``; file-operations gives ``r.text``. Beyond
rs-llmspell: ``Tool.list()`` entries carry ``category``, underscore names (``hash_calculator``)
resolve, and ``Tool.register`` lets a spell define its own tools.
"""

from __future__ import annotations

import builtins
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, Field

from llmspell.api.context import SpellContext
from llmspell.api.decl import ApiGlobal, ApiObject, Names, SchemaFrom, ScriptFunction, api_class, api_global, expose
from llmspell.api.shapes import output_table
from llmspell.core.errors import ValidationError
from llmspell.core.traits import Tool


class ToolDiscoverFilter(BaseModel):
    """Filter of ``Tool.discover``."""

    api_record_name: ClassVar[str] = "ToolDiscoverFilter"

    category: Annotated[str, Names("tool_categories")] | None = Field(
        None, description="Exact category: filesystem, web, api, analysis, data, system, media, utility, ...")
    tag: str | None = Field(None, description="A tag, or a case-insensitive substring of the description.")


def _registry(ctx: SpellContext) -> Any:
    return ctx.runtime.tools


def rs_schema(tool: Tool) -> dict[str, Any]:
    """rs-llmspell's schema table: ``{name, description, parameters = [{name, type, description, required,
    default?, enum?}]}``."""
    from llmspell.tools.catalog import parameters_from_schema

    try:
        js = tool.schema().parameters
    except Exception:
        js = {}
    params = []
    for p in parameters_from_schema(js):
        entry: dict[str, Any] = {"name": p.name, "type": p.type, "description": p.description, "required": p.required}
        if p.default is not None:
            entry["default"] = p.default
        if p.values:
            entry["enum"] = p.values
        params.append(entry)
    return {"name": tool.name, "description": tool.description, "parameters": params}


async def run_tool(ctx: SpellContext, name: str, params: Any) -> dict[str, Any]:
    if params is None:
        params = {}
    if isinstance(params, list) and not params:
        params = {}  # an empty Lua table can arrive as an empty array
    if not isinstance(params, dict):
        raise ValidationError(f"Tool.execute: parameters for '{name}' must be a table, got {type(params).__name__}")
    out = await _registry(ctx).execute(name, params, caller=f"spell:{ctx.run_id or ctx.spell_name}")
    return shown_temp_paths(ctx, output_table(out.text, out.metadata))


def shown_temp_paths(ctx: SpellContext, value: Any) -> Any:
    """``value`` with host paths of the workspace's private temp folder written the way the spell
    names them (``/tmp/a.txt``, see ``security.temp_dir``): results show the spell's own paths."""
    gate = getattr(getattr(ctx.runtime, "policy", None), "gate", None)
    priv = getattr(gate, "temp_private", None)
    if gate is None or not priv:
        return value
    shown = gate.display(priv)
    if shown == priv:
        return value

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return v.replace(priv, shown) if priv in v else v
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(value)


@api_class("ToolHandle")
class ToolHandle(ApiObject):
    """One tool: ``tool:execute({...})`` runs it (colon call), ``tool:getSchema()`` describes its parameters."""

    api_fields = {"name": "string", "description": "string", "version": "string", "category": "string",
                  "security_level": "string", "schema": "table"}

    def __init__(self, ctx: SpellContext, tool: Tool):
        self.ctx = ctx
        self.tool = tool
        self.name = tool.name
        self.description = tool.description
        self.version = getattr(tool, "version", "1.0.0")
        self.category = getattr(tool, "category", "utility")
        self.security_level = getattr(tool, "security_level", "safe")
        self.schema = rs_schema(tool)

    @expose
    async def execute(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run the tool with ``params`` (the same as ``Tool.execute(name, params)``).

        Args:
            params: the tool's parameters, e.g. ``{operation = "generate"}``.

        Returns:
            the output table: ``r.success``, ``r.result``, ``r.error``, or ``r.text`` for plain-text tools.
        """
        return await run_tool(self.ctx, self.name, params)

    @expose(lua="getSchema", js="getSchema")
    def get_schema(self) -> dict[str, Any]:
        """The parameters: ``{name, description, parameters = [{name, type, description, required, default?}]}``.

        Returns:
            the schema table.
        """
        return dict(self.schema)

    @expose(lua="json_schema", js="jsonSchema")
    def json_schema(self) -> dict[str, Any]:
        """The parameters as a JSON schema (``{type = "object", properties = {...}, required = {...}}``).

        Returns:
            the JSON schema table.
        """
        return dict(self.tool.schema().parameters)


@api_global("Tool")
class ToolGlobal(ApiGlobal):
    """Run builtin and spell-defined tools: ``Tool.execute("uuid-generator", {operation = "generate"})``.

    ``Tool["file-operations"]`` and ``Tool.uuid_generator`` give a tool handle (``:execute{...}``).
    """

    index_type = "ToolHandle"
    index_names = "tools"

    def api_index(self, key: str) -> Any:
        reg = _registry(self.ctx)
        if not isinstance(key, str) or not reg.exists(key):
            return None
        tool = reg.get(key)
        return ToolHandle(self.ctx, tool) if tool is not None else None

    @expose
    async def execute(
        self,
        name: Annotated[str, Names("tools")],
        params: Annotated[dict[str, Any], SchemaFrom("name")] | None = None,
    ) -> dict[str, Any]:
        """Run a tool and return its output table.

        Raises "Tool 'x' not found" (with a suggestion), or a validation error naming the bad parameter.

        Args:
            name: the tool name, e.g. ``"file-operations"``, ``"uuid-generator"``, ``"calculator"``.
            params: the tool's parameters, e.g. ``{operation = "read", path = "notes.txt"}``.

        Returns:
            ``{success, operation, result, error?, metadata}`` for most tools (``r.result.uuid``,
            ``r.result.hash`` ...); ``{text, metadata = {operation, response}}`` for file-operations.
        """
        return await run_tool(self.ctx, name, params)

    @expose(deprecated="Tool.invoke is an alias of Tool.execute")
    async def invoke(
        self,
        name: Annotated[str, Names("tools")],
        params: Annotated[dict[str, Any], SchemaFrom("name")] | None = None,
    ) -> dict[str, Any]:
        """Alias of ``Tool.execute`` (some rs-llmspell examples call it).

        Args:
            name: the tool name.
            params: the tool's parameters.

        Returns:
            the output table, as ``Tool.execute``.
        """
        return await run_tool(self.ctx, name, params)

    @expose
    def get(self, name: Annotated[str, Names("tools")]) -> ToolHandle | None:
        """A handle for one tool, or nil when there is no such tool.

        Args:
            name: the tool name.

        Returns:
            ``{name, description, version, category, schema}`` with ``:execute(params)`` and ``:getSchema()``.
        """
        tool = _registry(self.ctx).get(name) if isinstance(name, str) else None
        return ToolHandle(self.ctx, tool) if tool is not None else None

    @expose(blocking=True)
    async def list(self) -> list[dict[str, Any]]:
        """Every tool (builtin and spell-defined), sorted by name (runs the tool discovery hooks).

        Returns:
            ``[{name, description, version, category, security_level}]``.
        """
        found = await _registry(self.ctx).discover_hooked()
        return [{k: d.get(k) for k in ("name", "description", "version", "category", "security_level")}
                for d in found]

    @expose
    def exists(self, name: str) -> bool:
        """Whether a tool with this name exists.

        Args:
            name: the tool name (underscore spellings such as ``hash_calculator`` also resolve).

        Returns:
            true or false.
        """
        return isinstance(name, str) and bool(_registry(self.ctx).exists(name))

    @expose
    def categories(self) -> builtins.list[str]:
        """The categories tools belong to.

        Returns:
            unique category names, sorted.
        """
        return _registry(self.ctx).categories()  # type: ignore[no-any-return]

    @expose(blocking=True)
    async def discover(self, filter: ToolDiscoverFilter | None = None) -> builtins.list[dict[str, Any]]:
        """Find tools by category and/or tag (runs the BeforeToolDiscovery/AfterToolDiscovery hooks).

        Args:
            filter: ``{category? = "filesystem", tag? = "hash"}``; ``tag`` matches a tool's tags or
                a case-insensitive substring of its description.

        Returns:
            ``[{name, description, category, version}]``.
        """
        f: dict[str, Any] = filter if isinstance(filter, dict) else {}
        if filter is not None and not isinstance(filter, dict):
            if isinstance(filter, str):
                f = {"category": filter}
            else:
                raise ValidationError("Tool.discover: filter must be a table {category?, tag?}")
        found = await _registry(self.ctx).discover_hooked(f.get("category"), f.get("tag"))
        return [{k: d.get(k) for k in ("name", "description", "category", "version")} for d in found]

    @expose
    def register(
        self,
        name: str,
        description: str | ScriptFunction,
        fn: ScriptFunction | None = None,
        schema: dict[str, Any] | None = None,
    ) -> ToolHandle:
        """Define a tool in the spell; agents, workflows and ``Tool.execute`` can then call it.

        ``fn(params)`` returns a table (wrapped as ``{success, result}`` unless it already has
        success/result) or a string (``r.text``). The tool lasts until the spell ends.
        ``Tool.register(name, fn)`` (the rs-llmspell appendix form) also works.

        Args:
            name: the tool name, e.g. ``"word-counter"``.
            description: what the tool does (agents see it), or the function itself.
            fn: ``function(params) ... end``.
            schema: parameters as a JSON schema, or ``{parameters = {{name, type, description, required}}}``.

        Returns:
            the tool handle.
        """
        from llmspell.api.globals._corehelpers import on_spell_end
        from llmspell.tools.script import ScriptTool

        if not isinstance(name, str) or not name:
            raise ValidationError("Tool.register: 'name' must be a non-empty string")
        if fn is None and not isinstance(description, str):
            fn, description = description, ""  # Tool.register(name, fn)
        if fn is None or isinstance(fn, (str, dict, list)):
            raise ValidationError(f"Tool.register('{name}'): expected a function(params) as the implementation")
        reg = _registry(self.ctx)
        tool = ScriptTool(name, str(description or f"Spell-defined tool '{name}'"), fn, schema,
                          language=self.ctx.language)
        reg.register(tool, replace=name in getattr(reg, "_custom", {}))
        on_spell_end(self.ctx, lambda: reg.unregister(name))
        return ToolHandle(self.ctx, tool)

    @expose
    def unregister(self, name: str) -> bool:
        """Remove a spell-defined tool (builtin tools cannot be removed).

        Args:
            name: the tool name.

        Returns:
            true when a tool was removed.
        """
        return bool(_registry(self.ctx).unregister(name))
