"""Render the API model as an ambient TypeScript declaration file (``llmspell.d.ts``).

No top-level ``import``/``export``, so every declaration is global (reference §2): records and classes
are interfaces, each global is ``interface XStatic`` + ``declare var X: XStatic``; async functions
return ``Promise<T>``; names are the camelCase ``js_name``s. Strings that name a catalog entry get a
literal-union type (``ToolName``), so ``tsc --checkJs`` rejects an unknown tool name; ``Tool.execute``
is generic over the tool name so the parameter object is checked against that tool's parameters.
"""

from __future__ import annotations

import json
import re
from typing import Any

from llmspell_ls.stubgen.luacats import OPEN_CATALOGS, alias_name, static_name
from llmspell_ls.stubgen.types import TypeNode, parse_type

JS_RESERVED = frozenset(
    "break case catch class const continue debugger default delete do else enum export extends false finally "
    "for function if import in instanceof new null return super switch this throw true try typeof var void "
    "while with yield let static implements interface package private protected public await arguments eval"
    .split()
)

ES_BUILTINS = frozenset({"JSON", "Math", "Date", "Promise", "console", "Object", "Array", "String"})
"""Globals the JS engine takes from the language itself; redeclaring them would clash with lib.es5.d.ts."""

_PRIMS = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "any": "any",
    "nil": "null",
    "function": "(...args: any[]) => any",
    "table": "Record<string, any>",
    "userdata": "unknown",
}


def _js_ident(name: str) -> str:
    name = re.sub(r"\W", "_", name)
    return name + "_" if name in JS_RESERVED or not name or name[0].isdigit() else name


def _prop(name: str) -> str:
    return name if re.match(r"^[A-Za-z_$][\w$]*$", name) else json.dumps(name)


def _jsdoc(doc: str, tags: list[str], indent: str) -> list[str]:
    lines = doc.strip().splitlines() if doc.strip() else []
    lines += tags
    if not lines:
        return []
    return [f"{indent}/**"] + [f"{indent} * {line.replace('*/', '* /')}".rstrip() for line in lines] + [f"{indent} */"]


class _Ctx:
    def __init__(self, data: dict[str, Any]):
        self.globals = {g["name"] for g in data.get("globals", []) if g.get("kind") != "value"}
        self.known = {c["name"] for c in data.get("classes", [])} | {r["name"] for r in data.get("records", [])}

    def type_(self, s: str, *, ret: bool = False) -> str:
        t = self._node(parse_type(s))
        if ret and t == "null":
            return "void"
        return t

    def _node(self, n: TypeNode) -> str:
        if n.kind == "union":
            parts: list[str] = []
            for i in n.items or []:
                t = self._node(i)
                if "=>" in t:
                    t = f"({t})"
                if t not in parts:
                    parts.append(t)
            return " | ".join(parts)
        if n.kind == "array":
            inner = self._node((n.items or [])[0])
            return f"({inner})[]" if (" | " in inner or "=>" in inner) else f"{inner}[]"
        if n.kind == "map":
            k, v = n.items or []
            kt = self._node(k)
            kt = "string" if kt not in ("string", "number") else kt
            return f"Record<{kt}, {self._node(v)}>"
        if n.name in _PRIMS:
            return _PRIMS[n.name]
        if n.name in self.known:
            return n.name
        if n.name in self.globals:
            return static_name(n.name)
        return "any"


def _param_type(ctx: _Ctx, p: dict[str, Any]) -> str:
    if p.get("values"):
        return " | ".join(json.dumps(v) for v in p["values"])
    if p.get("names"):
        alias = alias_name(p["names"])
        if p["names"] == "hook_points":
            return f"{alias} | `Custom:${{string}}`"
        return f"{alias} | (string & {{}})" if p["names"] in OPEN_CATALOGS else alias
    return ctx.type_(p.get("type", "any"))


def _method(ctx: _Ctx, owner_type: str, f: dict[str, Any], tool_generic: bool) -> list[str]:
    tags: list[str] = []
    params: list[str] = []
    generic = ""
    schema_from = {p.get("schema_from") for p in f.get("params", []) if p.get("schema_from")}
    for p in f.get("params", []):
        name = _js_ident(p["name"])
        if p.get("doc"):
            tags.append(f"@param {name} {p['doc']}".replace("\n", " "))
        t = _param_type(ctx, p)
        if tool_generic and p["name"] in schema_from and p.get("names") == "tools":
            generic = "<N extends keyof ToolParams>"
            t = "N"
        elif tool_generic and p.get("schema_from") and generic:
            t = "ToolParams[N]"
        if p.get("variadic"):
            params.append(f"...{name}: ({t})[]")
        else:
            params.append(f"{name}{'?' if p.get('optional') else ''}: {t}")
    ret = owner_type if f.get("returns_self") else ctx.type_(f.get("returns", "nil"), ret=True)
    if f.get("is_async"):
        ret = f"Promise<{ret}>"
    if f.get("returns_doc"):
        tags.append(f"@returns {f['returns_doc']}".replace("\n", " "))
    if f.get("deprecated"):
        tags.append(f"@deprecated {f['deprecated']}")
    out = _jsdoc(f.get("doc", ""), tags, "  ")
    out.append(f"  {_prop(f['js_name'])}{generic}({', '.join(params)}): {ret};")
    return out


def _fields(ctx: _Ctx, fields: list[dict[str, Any]], readonly: bool = False) -> list[str]:
    out: list[str] = []
    for f in fields:
        t = " | ".join(json.dumps(v) for v in f["values"]) if f.get("values") else ctx.type_(f.get("type", "any"))
        out += _jsdoc(f.get("doc", ""), [], "  ")
        ro = "readonly " if readonly else ""
        out.append(f"  {ro}{_prop(f.get('js_name') or f['name'])}{'?' if f.get('optional') else ''}: {t};")
    return out


def _engine_globals() -> str:
    """What the JS engine adds to ``globalThis`` (console, sleep, setTimeout, exit …), declared by the engine."""
    from llmspell.engines.js import ENGINE_GLOBALS_DTS  # cheap: quickjs is imported on first use

    return ENGINE_GLOBALS_DTS


def render_jsconfig(stubs: str = "stubs/js/llmspell.d.ts") -> str:
    """A ``jsconfig.json`` for a spell workspace: spells as ES2022 modules (top-level ``await``), no DOM."""
    cfg = {
        "compilerOptions": {
            "checkJs": True,
            "allowJs": True,
            "noEmit": True,
            "target": "ES2022",
            "module": "ES2022",
            "moduleDetection": "force",
            "lib": ["ES2022"],
            "types": [],
            "allowUnreachableCode": True,
        },
        "include": ["**/*.js", stubs],
    }
    return json.dumps(cfg, indent=2) + "\n"


def render_dts(data: dict[str, Any]) -> str:
    ctx = _Ctx(data)
    out = [
        "// Generated by llmspell-ls stubgen from stubs/llmspell-api.json. Do not edit.",
        "// Ambient declarations: reference this file from a jsconfig.json (\"checkJs\": true) or with",
        '// /// <reference path="llmspell.d.ts" />',
        "",
        "// A spell is the body of an async function: top-level `await` is accepted with the jsconfig.json",
        "// next to this file (module ES2022, moduleDetection force); tsc rejects a top-level `return`",
        "// (TS1108, no option turns it off): put `// @ts-ignore` on the line before it.",
        "",
        "// The JS engine's own globals (it has no DOM or Node globals).",
        *_engine_globals().rstrip("\n").splitlines(),
        "",
    ]
    for cat, entries in data.get("catalogs", {}).items():
        if not entries:
            continue
        out.append(f"type {alias_name(cat)} =")
        out += [f"  | {json.dumps(e['name'])}" for e in entries]
        out[-1] += ";"
        out.append("")
    tools = data.get("tools", [])
    has_tool_names = bool(data.get("catalogs", {}).get("tools"))
    if tools:
        if not has_tool_names:
            out.append("type ToolName = " + " | ".join(json.dumps(t["name"]) for t in tools) + ";")
            out.append("")
        out.append("/** Parameters of each builtin tool, by tool name. */")
        out.append("interface ToolParams {")
        for t in tools:
            out += _jsdoc(t.get("description", ""), [], "  ")
            out.append(f"  {json.dumps(t['name'])}: {{")
            for p in t.get("parameters", []):
                pt = (" | ".join(json.dumps(v) for v in p["values"]) if p.get("values")
                      else ctx.type_(p.get("type", "any")))
                out += [("  " + x) for x in _jsdoc(p.get("description", ""), [], "  ")]
                out.append(f"    {_prop(p['name'])}{'' if p.get('required') else '?'}: {pt};")
            out.append("    [key: string]: any;")
            out.append("  };")
        out.append("}")
        out.append("")
    for r in data.get("records", []):
        out += _jsdoc(r.get("doc", ""), [], "")
        out.append(f"interface {r['name']} {{")
        out += _fields(ctx, r.get("fields", []))
        out.append("  [key: string]: any;")
        out.append("}")
        out.append("")
    for c in data.get("classes", []):
        out += _jsdoc(c.get("doc", ""), [], "")
        out.append(f"interface {c['name']} {{")
        out += _fields(ctx, c.get("fields", []), readonly=True)
        for f in c.get("functions", []):
            out += _method(ctx, c["name"], f, tool_generic=False)
        out.append("}")
        out.append("")
    for g in data.get("globals", []):
        if g["name"] in ES_BUILTINS:
            out.append(f"// {g['name']}: the JavaScript built-in (lib.es5.d.ts) already declares it.")
            out.append("")
            continue
        if g.get("kind") == "value":
            out += _jsdoc(g.get("doc", ""), [], "")
            out.append(f"declare var {g['name']}: {ctx.type_(g.get('type') or 'any')};")
            out.append("")
            continue
        st = static_name(g["name"])
        out += _jsdoc(g.get("doc", ""), [], "")
        out.append(f"interface {st} {{")
        out += _fields(ctx, g.get("fields", []), readonly=True)
        for f in g.get("functions", []):
            out += _method(ctx, st, f, tool_generic=bool(tools) and g["name"] == "Tool")
        out.append("}")
        var_type = st
        if g.get("index_type") and g.get("index_names") == "tools" and tools:
            var_type = f"{st} & {{ readonly [K in ToolName]: {ctx.type_(g['index_type'])} }}"
        out += _jsdoc(g.get("doc", ""), [], "")
        out.append(f"declare var {g['name']}: {var_type};")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
