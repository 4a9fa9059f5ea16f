"""Render the API model as LuaCATS (lua-language-server / EmmyLua definition file).

Shape: ``---@meta _`` (globals only, never ``require``d); one ``---@alias`` per catalog (tool names, hook
points …, string-literal enums); one ``---@class`` per record (fields), per class (methods with ``:``)
and per global (``<Name>Static``, functions with ``.``); builder methods return their class so
``Agent.builder():`` chains keep their type.

Checked against emmylua_ls (tests/server/test_stubs_emmylua.py: zero warnings on every bundled example),
which is stricter than lua-language-server, so the stubs are lenient where strictness would be wrong:

- no ``---@async``: the runtime blocks the spell's thread, so every API call is an ordinary call (emmylua_ls
  reports ``await-in-sync`` for an ``@async`` function called outside a coroutine);
- callbacks are ``async fun(...)``, so a function handed to the runtime may ``coroutine.yield``
  (``Streaming.create``); a plain function is accepted there too;
- return types and the fields of records that only come back from the runtime ("output" records) are
  what a spell reads: ``nil`` is dropped from their unions, plain ``table`` is ``any`` (its shape is in the
  doc) and an optional field is present (pydantic defaults fill it) unless its default is ``None`` (then
  it is ``name?``: the runtime leaves it nil). Records a spell writes (parameters)
  keep their optional fields optional, so a table literal need not spell out every key;
- names of tools are ``ToolName|string``: a spell may ``Tool.register`` its own tools;
- the class a builder's ``build()`` returns derives from the builder (``---@class WorkflowInstance:
  WorkflowBuilder``), so rs-llmspell's ``wf = wf:build()`` on a local holding the builder is accepted;
- ``pcall`` returns ``boolean, any``: a runtime error is a table (``err.kind``, ``err.message``), not the
  function's result type.
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
LUA_OPEN_CATALOGS = OPEN_CATALOGS | {"tools"}
"""In LuaCATS also tool names: a spell's own ``Tool.register("word-counter", ...)`` is a valid name."""
CALLBACK = "async fun(...: any): any"
"""A script function handed to the runtime; ``async`` so its body may ``coroutine.yield``."""

PRELUDE = [
    "---Calls ``f(...)`` in protected mode. A runtime error is a table: ``err.kind``, ``err.message``,",
    "---``err.file``, ``err.line`` (``tostring(err)`` is ``file:line: kind error: message``).",
    "---@param f function",
    "---@param ... any",
    "---@return boolean ok",
    "---@return any ...",
    "function pcall(f, ...) end",
    "",
]


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
        self.records = {r["name"] for r in data.get("records", [])}
        self.known = (
            {c["name"] for c in data.get("classes", [])}
            | self.records
            | {static_name(n) for n in self.globals}
        )
        self.input_records = _input_records(data, self.records)

    def type_(self, s: str, *, out: bool = False) -> str:
        """LuaCATS for a model type; ``out`` for what a spell reads back (returns, output-record fields)."""
        n = parse_type(s)
        if out:
            n = _lenient(n)
        return self._node(n, out)

    def _node(self, n: TypeNode, out: bool = False) -> str:
        if n.kind == "union":
            parts: list[str] = []
            for i in n.items or []:
                t = self._node(i, out)
                if t not in parts:
                    parts.append(t)
            return "any" if "any" in parts else "|".join(parts)
        if n.kind == "array":
            inner = self._node((n.items or [])[0], out)
            return f"({inner})[]" if "|" in inner or " " in inner else f"{inner}[]"
        if n.kind == "map":
            k, v = n.items or []
            return f"table<{self._node(k, out)}, {self._node(v, out)}>"
        name = n.name
        if name == "table" and out:
            return "any"
        if name == "function":
            return CALLBACK
        if name in ("string", "integer", "number", "boolean", "any", "nil", "table", "userdata"):
            return name
        if name in self.globals and name not in self.known:
            return static_name(name)
        return name if name in self.known else "any"


def _lenient(n: TypeNode) -> TypeNode:
    """A returned type as a spell uses it: without ``nil``, and a record rather than its legacy array form."""
    if n.kind != "union":
        return n
    items = [i for i in n.items or [] if not (i.kind == "name" and i.name == "nil")]
    named = [i for i in items if i.kind != "array"]
    if named and len(named) < len(items) and any(i.name not in _PRIMITIVES for i in named):
        items = named
    if not items:
        return TypeNode("name", name="nil")
    return items[0] if len(items) == 1 else TypeNode("union", items=items)


_PRIMITIVES = frozenset({"string", "integer", "number", "boolean", "any", "nil", "function", "table", "userdata"})


def _type_names(s: str) -> set[str]:
    names: set[str] = set()

    def walk(n: TypeNode) -> None:
        if n.kind == "name":
            names.add(n.name)
        for i in n.items or []:
            walk(i)

    walk(parse_type(s))
    return names


def _input_records(data: dict[str, Any], records: set[str]) -> set[str]:
    """Records a spell writes: named by a parameter, or by a field of such a record (transitively)."""
    found: set[str] = set()
    for owner in [*data.get("globals", []), *data.get("classes", [])]:
        for f in owner.get("functions", []):
            for p in f.get("params", []):
                found |= _type_names(p.get("type", "any")) & records
    by_name = {r["name"]: r for r in data.get("records", [])}
    todo = list(found)
    while todo:
        r = by_name[todo.pop()]
        for fld in r.get("fields", []):
            for name in _type_names(fld.get("type", "any")) & records:
                if name not in found:
                    found.add(name)
                    todo.append(name)
    return found


def _param_type(ctx: _Ctx, p: dict[str, Any]) -> str:
    if p.get("values"):
        return "|".join(_lua_str(v) for v in p["values"])
    if p.get("names"):
        alias = alias_name(p["names"])
        return f"{alias}|string" if p["names"] in LUA_OPEN_CATALOGS else alias
    return ctx.type_(p.get("type", "any"))


def _function(ctx: _Ctx, owner: str, f: dict[str, Any], sep: str, self_type: str | None = None) -> list[str]:
    out = _doc_lines(f.get("doc", ""))
    if f.get("deprecated"):
        out.append(f"---@deprecated {f['deprecated']}".rstrip())
    # no ``---@async`` even when ``is_async``: the call blocks the spell's thread (module docstring)
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
    ret = (self_type or owner) if f.get("returns_self") else ctx.type_(f.get("returns", "nil"), out=True)
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


def _fields(ctx: _Ctx, fields: list[dict[str, Any]], *, out: bool = True) -> list[str]:
    """``out``: the fields are read by the spell (objects, output records), else written (input records)."""
    lines = []
    for f in fields:
        t = "|".join(_lua_str(v) for v in f["values"]) if f.get("values") else ctx.type_(f.get("type", "any"), out=out)
        name = f["name"] if re.match(r"^[A-Za-z_]\w*$", f["name"]) else f"[{_lua_str(f['name'])}]"
        # an output field the runtime may leave nil (``X | None = None``) is optional: a spell's ``if r.x``
        # is then a real check, not "unnecessary" (emmylua_ls); one with another default is always there
        top = parse_type(f.get("type", "any"))
        nullable = out and top.kind == "union" and any(i.kind == "name" and i.name == "nil" for i in top.items or [])
        opt = "?" if ((f.get("optional") and not out) or nullable) and not name.startswith("[") else ""
        doc = (" " + f["doc"].replace("\n", " ")) if f.get("doc") else ""
        lines.append(f"---@field {name}{opt} {t}{doc}")
    return lines


def render_lua(data: dict[str, Any]) -> str:
    ctx = _Ctx(data)
    out: list[str] = [
        "---@meta _",
        "-- Generated by llmspell-ls stubgen from stubs/llmspell-api.json. Do not edit.",
        "",
        *PRELUDE,
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
        out += _fields(ctx, r.get("fields", []), out=r["name"] not in ctx.input_records)
        out.append("")
    parents = _built_by(data, ctx)
    for c in data.get("classes", []):
        out += _doc_lines(c.get("doc", ""))
        parent = parents.get(c["name"])
        out.append(f"---@class {c['name']}" + (f": {parent}" if parent else ""))
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
            out.append(f"---@type {ctx.type_(g.get('type') or 'any', out=True)}")
            out.append(f"{g['name']} = {{}}")
            out.append("")
            continue
        cls = static_name(g["name"])
        out += _doc_lines(g.get("doc", ""))
        out.append(f"---@class {cls}")
        out += _fields(ctx, g.get("fields", []))
        if g.get("index_type"):
            out.append(f"---@field [string] {ctx.type_(g['index_type'], out=True)}")
        out.append(f"{g['name']} = {{}}")
        out.append("")
        for f in g.get("functions", []):
            out += _function(ctx, g["name"], f, ".", self_type=cls)
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _built_by(data: dict[str, Any], ctx: _Ctx) -> dict[str, str]:
    """``{product: builder}`` for every builder class whose ``build()`` returns another class.

    The product is declared a subclass of its builder so that rs-llmspell's reassignment
    ``wf = wf:build()`` type-checks in emmylua_ls (it rejects assigning an unrelated class to a local).
    """
    parents: dict[str, str] = {}
    for c in data.get("classes", []):
        for f in c.get("functions", []):
            if f["name"] == "build" and not f.get("returns_self"):
                product = ctx.type_(f.get("returns", "nil"), out=True)
                if product in ctx.known and product != c["name"] and product not in parents:
                    parents[product] = c["name"]
    return parents


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


EMMYRC_SCHEMA = (
    "https://raw.githubusercontent.com/EmmyLuaLs/emmylua-analyzer-rust/refs/heads/main/"
    "crates/emmylua_code_analysis/resources/schema.json"
)


def render_emmyrc(library: str = "stubs/lua/library") -> str:
    """A ``.emmyrc.json`` for a spell workspace: Lua 5.4, the stubs as library, LuaLS-like array indexing.

    ``strict.arrayIndex`` is off because emmylua_ls otherwise says ``t[1] may be nil`` after every
    ``#t > 0`` check spells make (lua-language-server does not); every other default check stays on.
    """
    cfg = {
        "$schema": EMMYRC_SCHEMA,
        "runtime": {"version": "Lua5.4"},
        "strict": {"arrayIndex": False},
        "workspace": {"library": [library]},
    }
    return json.dumps(cfg, indent=2) + "\n"
