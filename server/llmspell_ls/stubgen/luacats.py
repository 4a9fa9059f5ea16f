"""Render the API model as LuaCATS (lua-language-server / EmmyLua definition file).

Shape: ``---@meta _`` (globals only, never ``require``d); one ``---@alias`` per catalog (tool names, hook
points …, string-literal enums); one ``---@class`` per record (fields), per class (methods with ``:``)
and per global (``<Name>Static``, functions with ``.``); builder methods return their class so
``Agent.builder():`` chains keep their type.
"""

from __future__ import annotations

import json
import re
from typing import Any

from llmspell_ls.stubgen.types import TypeNode, parse_type

LUA_KEYWORDS = frozenset(
    "and break do else elseif end false for function goto if in local nil not or repeat return then true "
    "until while".split()
)

CATALOG_ALIASES = {
    "tools": "ToolName",
    "hook_points": "HookPointName",
    "agent_templates": "AgentTemplateName",
    "workflow_types": "WorkflowTypeName",
    "event_names": "EventName",
    "priorities": "PriorityName",
    "providers": "ProviderName",
    "tool_categories": "ToolCategoryName",
    "step_types": "StepTypeName",
    "error_strategies": "ErrorStrategyName",
    "state_scopes": "StateScopeName",
}
OPEN_CATALOGS = frozenset({"event_names", "providers", "state_scopes", "hook_points"})
"""Catalogs whose strings may also be other names (custom events, ``Custom:x`` hook points …)."""


def alias_name(catalog: str) -> str:
    return CATALOG_ALIASES.get(catalog) or "".join(p.capitalize() for p in catalog.split("_")) + "Name"


def static_name(global_name: str) -> str:
    return f"{global_name}Static"


def _lua_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _doc_lines(doc: str) -> list[str]:
    return [f"---{line}".rstrip() for line in doc.strip().splitlines()] if doc.strip() else []


def _ident(name: str) -> str:
    return name + "_" if name in LUA_KEYWORDS or not re.match(r"^[A-Za-z_]\w*$", name) else name


class _Ctx:
    def __init__(self, data: dict[str, Any]):
        self.globals = {g["name"] for g in data.get("globals", []) if g.get("kind") != "value"}
        self.known = (
            {c["name"] for c in data.get("classes", [])}
            | {r["name"] for r in data.get("records", [])}
            | {static_name(n) for n in self.globals}
        )

    def type_(self, s: str) -> str:
        return self._node(parse_type(s))

    def _node(self, n: TypeNode) -> str:
        if n.kind == "union":
            return "|".join(self._node(i) for i in n.items or [])
        if n.kind == "array":
            inner = self._node((n.items or [])[0])
            return f"({inner})[]" if "|" in inner else f"{inner}[]"
        if n.kind == "map":
            k, v = n.items or []
            return f"table<{self._node(k)}, {self._node(v)}>"
        name = n.name
        if name in ("string", "integer", "number", "boolean", "any", "nil", "function", "table", "userdata"):
            return name
        if name in self.globals and name not in self.known:
            return static_name(name)
        return name if name in self.known else "any"


def _param_type(ctx: _Ctx, p: dict[str, Any]) -> str:
    if p.get("values"):
        return "|".join(_lua_str(v) for v in p["values"])
    if p.get("names"):
        alias = alias_name(p["names"])
        return f"{alias}|string" if p["names"] in OPEN_CATALOGS else alias
    return ctx.type_(p.get("type", "any"))


def _function(ctx: _Ctx, owner: str, f: dict[str, Any], sep: str, self_type: str | None = None) -> list[str]:
    out = _doc_lines(f.get("doc", ""))
    if f.get("deprecated"):
        out.append(f"---@deprecated {f['deprecated']}".rstrip())
    if f.get("is_async"):
        out.append("---@async")
    names: list[str] = []
    for p in f.get("params", []):
        desc = (" " + p["doc"].replace("\n", " ")) if p.get("doc") else ""
        if p.get("variadic"):
            out.append(f"---@param ... {_param_type(ctx, p)}{desc}")
            names.append("...")
            continue
        n = _ident(p["name"])
        opt = "?" if p.get("optional") else ""
        out.append(f"---@param {n}{opt} {_param_type(ctx, p)}{desc}")
        names.append(n)
    ret = (self_type or owner) if f.get("returns_self") else ctx.type_(f.get("returns", "nil"))
    if ret != "nil":
        rdoc = f.get("returns_doc", "").replace("\n", " ")
        out.append(f"---@return {ret}" + (f" # {rdoc}" if rdoc else ""))
    fname = f["name"]
    args = ", ".join(names)
    if fname in LUA_KEYWORDS or not re.match(r"^[A-Za-z_]\w*$", fname):
        self_arg = "self" + (", " + args if args else "") if sep == ":" else args
        out.append(f"{owner}[{_lua_str(fname)}] = function({self_arg}) end")
    else:
        out.append(f"function {owner}{sep}{fname}({args}) end")
    return out


def _fields(ctx: _Ctx, fields: list[dict[str, Any]]) -> list[str]:
    out = []
    for f in fields:
        t = "|".join(_lua_str(v) for v in f["values"]) if f.get("values") else ctx.type_(f.get("type", "any"))
        name = f["name"] if re.match(r"^[A-Za-z_]\w*$", f["name"]) else f"[{_lua_str(f['name'])}]"
        opt = "?" if f.get("optional") and not name.startswith("[") else ""
        doc = (" " + f["doc"].replace("\n", " ")) if f.get("doc") else ""
        out.append(f"---@field {name}{opt} {t}{doc}")
    return out


def render_lua(data: dict[str, Any]) -> str:
    ctx = _Ctx(data)
    out: list[str] = [
        "---@meta _",
        "-- Generated by llmspell-ls stubgen from stubs/llmspell-api.json. Do not edit.",
        "",
    ]
    for cat, entries in data.get("catalogs", {}).items():
        if not entries:
            continue
        out.append(f"---@alias {alias_name(cat)}")
        for e in entries:
            doc = (e.get("doc") or e.get("detail") or "").replace("\n", " ")
            out.append(f"---| {_lua_str(e['name'])}" + (f" # {doc}" if doc else ""))
        out.append("")
    for tool in data.get("tools", []):
        cls = _tool_params_class(tool["name"])
        out += _doc_lines(f"Parameters of the `{tool['name']}` tool.")
        out.append(f"---@class {cls}")
        for p in tool.get("parameters", []):
            t = "|".join(_lua_str(v) for v in p["values"]) if p.get("values") else ctx.type_(p.get("type", "any"))
            name = p["name"] if re.match(r"^[A-Za-z_]\w*$", p["name"]) else f"[{_lua_str(p['name'])}]"
            opt = "" if p.get("required") or name.startswith("[") else "?"
            desc = (" " + p["description"].replace("\n", " ")) if p.get("description") else ""
            out.append(f"---@field {name}{opt} {t}{desc}")
        out.append("")
    for r in data.get("records", []):
        out += _doc_lines(r.get("doc", ""))
        out.append(f"---@class {r['name']}")
        out += _fields(ctx, r.get("fields", []))
        out.append("")
    for c in data.get("classes", []):
        out += _doc_lines(c.get("doc", ""))
        out.append(f"---@class {c['name']}")
        out += _fields(ctx, c.get("fields", []))
        # a class named like a global (``Agent``) must not shadow the global table in this file
        var = f"_{c['name']}" if c["name"] in ctx.globals else c["name"]
        out.append(f"local {var} = {{}}")
        out.append("")
        # kind "global" here is a namespace of a global (``Memory.episodic``): static functions
        sep = "." if c.get("kind") == "global" else ":"
        for f in c.get("functions", []):
            out += _function(ctx, var, f, sep, self_type=c["name"])
            out.append("")
    for g in data.get("globals", []):
        if g.get("kind") == "value":
            out += _doc_lines(g.get("doc", ""))
            out.append(f"---@type {ctx.type_(g.get('type') or 'any')}")
            out.append(f"{g['name']} = {{}}")
            out.append("")
            continue
        cls = static_name(g["name"])
        out += _doc_lines(g.get("doc", ""))
        out.append(f"---@class {cls}")
        out += _fields(ctx, g.get("fields", []))
        if g.get("index_type"):
            out.append(f"---@field [string] {ctx.type_(g['index_type'])}")
        out.append(f"{g['name']} = {{}}")
        out.append("")
        for f in g.get("functions", []):
            out += _function(ctx, g["name"], f, ".", self_type=cls)
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _tool_params_class(tool: str) -> str:
    return "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", tool) if p) + "Params"


def render_addon_config(data: dict[str, Any]) -> str:
    names = [g["name"] for g in data.get("globals", [])]
    cfg = {
        "$schema": "https://raw.githubusercontent.com/LuaLS/LLS-Addons/main/schemas/addon_config.schema.json",
        "name": "llmspell",
        "words": [f"{n}%." for n in names if n not in ("JSON", "ARGS")] or ["llmspell"],
        "files": [],
        "settings": {
            "Lua.runtime.version": "Lua 5.4",
            "Lua.diagnostics.globals": names,
        },
    }
    return json.dumps(cfg, indent=2) + "\n"
