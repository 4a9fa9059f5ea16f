"""The tool registry: lookup by name, discovery, and the one execution path with hooks and events.

Every tool call a spell, an agent or a workflow makes goes through :meth:`ToolRegistry.execute`, so
the lifecycle cannot be forgotten: ``ToolValidation`` hook -> pydantic validation -> permission
check by security level -> ``tool.started`` -> ``BeforeToolExecution`` / run / ``AfterToolExecution``
(or ``ToolError``) -> ``tool.completed`` / ``tool.failed``.

Builtin tools are instantiated lazily (the manifest in :mod:`llmspell.tools.builtin` maps names to
``module:Class`` strings), so creating a runtime costs nothing per tool. The hot path of ``execute``
avoids building anything that nobody will look at.
"""

from __future__ import annotations

import builtins
import difflib
import importlib
import json
import math
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from llmspell.core.errors import (
    SecurityViolationError,
    ToolNotFoundError,
    ValidationError,
    did_you_mean,
    error_text,
)
from llmspell.core.traits import Tool
from llmspell.core.types import ComponentId, HookContext, ToolOutput
from llmspell.tools.base import SECURITY_ORDER, BuiltinTool, ToolContext, envelope_output, text_output
from llmspell.tools.builtin import BUILTIN_TOOLS

if TYPE_CHECKING:
    from llmspell.runtime import Runtime

MANIFEST_PATH = Path(__file__).resolve().parent / "builtin" / "manifest.json"
"""Generated summaries of the builtin tools (see :mod:`llmspell.tools.catalog`)."""


def _norm(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


def load_builtin_class(spec: str) -> type[BuiltinTool]:
    mod_name, _, cls_name = spec.partition(":")
    return getattr(importlib.import_module(mod_name), cls_name)  # type: ignore[no-any-return]


def tool_summary(tool: type[Tool] | Tool) -> dict[str, Any]:
    """The entry shape of ``Tool.list()``/``Tool.discover()``: name, description, version, category."""
    return {
        "name": getattr(tool, "name", ""),
        "description": getattr(tool, "description", ""),
        "version": getattr(tool, "version", "1.0.0"),
        "category": getattr(tool, "category", "utility"),
        "security_level": getattr(tool, "security_level", "safe"),
        "tags": list(getattr(tool, "tags", ()) or ()),
    }


def output_to_hook_data(tool_name: str, out: ToolOutput) -> dict[str, Any]:
    """What After* hooks see: the raw output and the table the script will receive."""
    from llmspell.api.shapes import output_table

    return {
        "tool": tool_name,
        "output": {"success": out.success, "text": out.text, "metadata": out.metadata, "error": out.error},
        "result": output_table(out.text, out.metadata),
    }


def output_from_hook_data(tool_name: str, d: Any) -> ToolOutput:
    """A hook's ``modified``/``replace`` data back to a :class:`ToolOutput`.

    Accepts ``{output = {text = ...}}`` (the shape hooks receive), ``{text = ...}``, a plain string,
    or any other table (wrapped in the response envelope as ``result``).
    """
    if isinstance(d, ToolOutput):
        return d
    if isinstance(d, str):
        return text_output(d)
    if isinstance(d, dict):
        inner = d.get("output", d)
        if isinstance(inner, ToolOutput):
            return inner
        if isinstance(inner, str):
            return text_output(inner)
        if isinstance(inner, dict) and "text" in inner:
            return ToolOutput(
                success=bool(inner.get("success", True)),
                text=str(inner.get("text") or ""),
                metadata=dict(inner.get("metadata") or {}),
                error=inner.get("error"),
            )
        if isinstance(inner, dict):
            return envelope_output(tool_name, inner)
    return envelope_output(tool_name, d)


class ToolRegistry:
    """All tools a runtime knows: the builtin catalogue plus tools registered at run time."""

    def __init__(self, runtime: Runtime | Any):
        self.runtime = runtime
        self._specs: dict[str, str] = dict(BUILTIN_TOOLS)
        self._classes: dict[str, type[BuiltinTool]] = {}
        self._instances: dict[str, Tool] = {}
        self._custom: dict[str, Tool] = {}
        self._norm_index: dict[str, str] | None = None
        self._manifest: dict[str, dict[str, Any]] | None = None
        sec = getattr(getattr(runtime, "config", None), "security", None)
        self.max_security_level: str = str(getattr(sec, "max_tool_security_level", "privileged"))
        """Tools above this level are refused (``safe`` < ``restricted`` < ``privileged``)."""
        self.mcp: Any = None
        """:class:`llmspell.mcp.tools.MCPTools` when ``[mcp.servers]`` is configured: their tools
        (``mcp.<server>.<tool>``) are registered here when a server is first used."""
        mcp_cfg = getattr(getattr(runtime, "config", None), "mcp", None)
        if mcp_cfg is not None and getattr(mcp_cfg, "servers", None):
            from llmspell.mcp.tools import MCPTools

            self.mcp = MCPTools(self, mcp_cfg)

    # ------------------------------------------------------------------------------ names

    def names(self) -> list[str]:
        return sorted({*self._specs, *self._custom})

    def resolve(self, name: str) -> str | None:
        """Exact name, else the underscore spelling (``hash_calculator``) or a case/separator variant.

        rs-llmspell only resolved exact names; several of its examples use underscore names, so
        accepting them here makes those examples work instead of failing at lookup.
        """
        if name in self._custom or name in self._specs:
            return name
        if self.mcp is not None and name.startswith("mcp."):
            self.mcp.prepare_sync(name)  # a spell thread's Tool.get: start that server and list its tools
            return name if name in self._custom else None
        if self._norm_index is None:
            self._norm_index = {_norm(n): n for n in self.names()}
        return self._norm_index.get(_norm(name))

    def suggest(self, name: str) -> list[str]:
        return difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)

    def not_found(self, name: str) -> ToolNotFoundError:
        hint = self.suggest(name)
        msg = f"Tool '{name}' not found"
        if hint:
            msg += ". " + did_you_mean(hint)
        else:
            msg += ". Tool.list() shows the available tools."
        return ToolNotFoundError(msg, details={"tool": name, "suggestions": hint})

    # ------------------------------------------------------------------------------ lookup

    def tool_class(self, name: str) -> type[BuiltinTool] | None:
        cls = self._classes.get(name)
        if cls is None:
            spec = self._specs.get(name)
            if spec is None:
                return None
            cls = self._classes[name] = load_builtin_class(spec)
        return cls

    def get(self, name: str) -> Tool | None:
        """The tool instance (created on first use), or ``None``."""
        tool = self._instances.get(name)
        if tool is not None:
            return tool
        real = self.resolve(name)
        if real is None:
            return None
        tool = self._custom.get(real)
        if tool is None:
            cls = self.tool_class(real)
            if cls is None:
                return None
            tool = cls(self.runtime)
        self._instances[real] = tool
        if real != name:
            self._instances[name] = tool
        return tool

    def require(self, name: str) -> Tool:
        tool = self.get(name)
        if tool is None:
            raise self.not_found(name)
        return tool

    def exists(self, name: str) -> bool:
        return self.resolve(name) is not None

    def register(self, tool: Tool, *, replace: bool = False) -> None:
        """Add a tool (a script-defined tool, an agent wrapped as a tool, ...)."""
        if not replace and (tool.name in self._custom or tool.name in self._specs):
            raise ValidationError(f"a tool named '{tool.name}' already exists (pass replace to override)")
        self._custom[tool.name] = tool
        self._instances = {k: v for k, v in self._instances.items() if v.name != tool.name}
        self._instances[tool.name] = tool
        self._norm_index = None

    def unregister(self, name: str) -> bool:
        if name not in self._custom:
            return False
        del self._custom[name]
        self._instances = {k: v for k, v in self._instances.items() if v.name != name}
        self._norm_index = None
        return True

    async def prepare(self, names: builtins.list[str]) -> None:
        """Make tools that appear on first use (MCP servers' ``mcp.<server>.<tool>``) known before a
        synchronous lookup (an agent's tool specs) needs them."""
        if self.mcp is not None:
            for n in names:
                if isinstance(n, str) and n.startswith("mcp.") and n not in self._custom:
                    await self.mcp.prepare(n)

    async def aclose(self) -> None:
        """Stop what tools started (MCP server connections); the runtime calls it at shutdown."""
        if self.mcp is not None:
            await self.mcp.aclose()

    # ------------------------------------------------------------------------------ discovery

    def _manifest_entries(self) -> dict[str, dict[str, Any]]:
        if self._manifest is None:
            try:
                self._manifest = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._manifest = {}
        return self._manifest or {}

    def list(self) -> list[dict[str, Any]]:
        """``[{name, description, version, category, security_level, tags}]`` sorted by name.

        Builtin tools not loaded yet are described from the generated manifest (no import); a tool
        missing from it, or listed there under another class, is imported instead.
        """
        manifest = self._manifest_entries()
        out: list[dict[str, Any]] = []
        for n, spec in self._specs.items():
            if n in self._custom:
                continue
            cls = self._classes.get(n)
            entry = manifest.get(n)
            if cls is None and entry is not None and entry.get("spec") == spec:
                out.append({k: v for k, v in entry.items() if k != "spec"})
                continue
            cls = cls or self.tool_class(n)
            if cls is not None:
                out.append(tool_summary(cls))
        out.extend(tool_summary(self._custom[n]) for n in self._custom)
        return sorted(out, key=lambda d: d["name"])

    def categories(self) -> builtins.list[str]:
        return sorted({d["category"] for d in self.list()})

    def discover(self, category: str | None = None, tag: str | None = None) -> builtins.list[dict[str, Any]]:
        """Filter by category (exact) and tag (a declared tag, or a substring of the description)."""
        out = []
        for d in self.list():
            if category and d["category"] != category:
                continue
            if tag:
                t = tag.lower()
                if t not in (x.lower() for x in d["tags"]) and t not in d["description"].lower():
                    continue
            out.append(d)
        return out

    async def discover_hooked(self, category: str | None = None,
                              tag: str | None = None) -> builtins.list[dict[str, Any]]:
        """:meth:`discover` wrapped in ``BeforeToolDiscovery``/``AfterToolDiscovery`` hooks.

        A Before hook may modify the filter (``data.category``/``data.tag``) or cancel; an After hook
        may modify the list (``data.tools``).
        """
        if self.mcp is not None:
            await self.mcp.prepare_all()
        hooks = getattr(self.runtime, "hooks", None)
        if hooks is None:
            return self.discover(category, tag)

        async def op(d: dict[str, Any]) -> builtins.list[dict[str, Any]]:
            return self.discover(d.get("category"), d.get("tag"))

        result = await hooks.around(
            before="BeforeToolDiscovery",
            after="AfterToolDiscovery",
            error="ToolError",
            component=ComponentId(type="Tool", name="registry"),
            data={"category": category, "tag": tag},
            operation=op,
            to_data=lambda tools: {"tools": tools, "category": category, "tag": tag},
            from_data=lambda d: d.get("tools", []) if isinstance(d, dict) else d,
        )
        return list(result or [])

    # ------------------------------------------------------------------------------ execution

    def _check_permission(self, tool: Tool, caller: str | None) -> None:
        level = getattr(tool, "security_level", "safe")
        if SECURITY_ORDER.get(level, 2) > SECURITY_ORDER.get(self.max_security_level, 2):
            reason = (f"tool '{tool.name}' needs security level '{level}' but this runtime allows at most "
                      f"'{self.max_security_level}' (security.max_tool_security_level)")
            events = getattr(self.runtime, "events", None)
            if events is not None:
                _publish_nowait(events, "security.violation",
                                {"operation": "tool.execute", "tool": tool.name, "reason": reason, "caller": caller})
            raise SecurityViolationError(reason, details={"tool": tool.name, "security_level": level})

    def _validate(self, tool: Tool, params: dict[str, Any]) -> Any:
        if isinstance(tool, BuiltinTool):
            return tool.validate_params(params)
        validate: Callable[[dict[str, Any]], Any] | None = getattr(tool, "validate_params", None)
        if validate is not None:
            return validate(params)
        _check_required(tool, params)
        return params

    async def execute(self, name: str, params: dict[str, Any] | None = None, *, caller: str | None = None,
                      correlation_id: str | None = None, call_id: str | None = None) -> ToolOutput:
        """Run a tool through the full lifecycle and return its :class:`ToolOutput`.

        Raises :class:`ToolNotFoundError` (with a did-you-mean), :class:`ValidationError` naming
        the bad parameter, :class:`SecurityViolationError`, :class:`HookCancelledError`, or the
        tool's own :class:`ToolError`.
        """
        if self.mcp is not None and name not in self._instances and name.startswith("mcp."):
            await self.mcp.prepare(name)
        tool = self._instances.get(name) or self.require(name)
        tname = tool.name
        rt = self.runtime
        hooks = getattr(rt, "hooks", None)
        events = getattr(rt, "events", None)
        if params is None:
            params = {}
        elif isinstance(params, BaseModel):
            params = params.model_dump()
        elif not isinstance(params, dict):
            raise ValidationError(f"{tname}: parameters must be a table, got {type(params).__name__}")
        component = ComponentId(type="Tool", name=tname)
        cid = correlation_id or uuid.uuid4().hex  # one UUID, not new_id()'s two (hot path)

        if hooks is not None and _has_hooks(hooks, "ToolValidation"):
            hr = await hooks.execute(HookContext(point="ToolValidation", component_id=component, correlation_id=cid,
                                                 data={"tool": tname, "parameters": params, "caller": caller}))
            kind = getattr(hr, "kind", "continue")
            if kind == "cancel":
                raise ValidationError(f"{tname}: parameters rejected by a ToolValidation hook: "
                                      f"{getattr(hr, 'reason', None) or 'cancelled'}")
            if kind in ("modified", "replace") and isinstance(getattr(hr, "data", None), dict):
                params = hr.data.get("parameters", hr.data)
        validated = self._validate(tool, params)
        self._check_permission(tool, caller)

        ctx = ToolContext(rt, tname, caller)
        start = time.perf_counter()
        if events is not None:
            _publish_nowait(events, "tool.started",
                            {"tool": tname, "parameter_keys": list(params), "caller": caller},
                            correlation_id=cid, source=tname)
        try:
            if hooks is not None:
                first = params

                async def op(d: dict[str, Any]) -> ToolOutput:
                    p = d.get("parameters", first) if isinstance(d, dict) else first
                    v = validated if p is first else self._validate(tool, p)
                    return await _call(tool, v, ctx)

                out = await hooks.around(
                    before="BeforeToolExecution",
                    after="AfterToolExecution",
                    error="ToolError",
                    component=component,
                    data={"tool": tname, "parameters": params, "caller": caller},
                    operation=op,
                    to_data=lambda o: output_to_hook_data(tname, o),
                    from_data=lambda d: output_from_hook_data(tname, d),
                    scope_info={"call_id": call_id, "description": getattr(tool, "description", "")},
                )
                if not isinstance(out, ToolOutput):
                    out = output_from_hook_data(tname, out)
            else:
                out = await _call(tool, validated, ctx)
        except BaseException as e:
            if events is not None:
                err = error_text(e)
                _publish_nowait(events, "tool.failed",
                                {"tool": tname, "error": err, "error_type": type(e).__name__, "caller": caller,
                                 "duration_ms": (time.perf_counter() - start) * 1000.0},
                                correlation_id=cid, source=tname)
            raise
        ms = (time.perf_counter() - start) * 1000.0
        out.metadata.setdefault("execution_time_ms", math.ceil(ms))  # whole ms like rs-llmspell; spells use %d
        if hooks is not None and _has_hooks(hooks, "PerformanceThresholdExceeded"):
            from llmspell.hooks.system import check_slow

            await check_slow(rt, component, ms, operation="tool.execute", tool=tname, caller=caller)
        if events is not None:
            _publish_nowait(events, "tool.completed",
                            {"tool": tname, "duration_ms": ms, "success": out.success, "caller": caller},
                            correlation_id=cid, source=tname)
        return out


async def _call(tool: Tool, validated: Any, ctx: ToolContext) -> ToolOutput:
    if isinstance(tool, BuiltinTool):
        return await tool.call(validated, ctx)
    call = getattr(tool, "call", None)
    if call is not None:
        return await call(validated, ctx)  # type: ignore[no-any-return]
    return await tool.invoke(validated if isinstance(validated, dict) else validated.model_dump())


def _check_required(tool: Tool, params: dict[str, Any]) -> None:
    try:
        schema = tool.schema().parameters
    except Exception:  # a tool without a usable schema accepts anything
        return
    for req in schema.get("required", []) or []:
        if req not in params:
            raise ValidationError(f"{tool.name}: parameter '{req}' is required")


def _has_hooks(hooks: Any, point: str) -> bool:
    """Ask the hook registry whether anything is registered at ``point`` (cheap skip when empty)."""
    probe = getattr(hooks, "has_hooks", None)
    if probe is None:
        return True
    try:
        return bool(probe(point))
    except TypeError:
        return True


def _publish_nowait(events: Any, event_type: str, data: dict[str, Any], **kw: Any) -> None:
    pub = getattr(events, "publish_nowait", None)
    if pub is not None:
        pub(event_type, data, **kw)
        return
    import asyncio

    task = asyncio.ensure_future(events.publish(event_type, data, **kw))
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


_PENDING: set[Any] = set()
