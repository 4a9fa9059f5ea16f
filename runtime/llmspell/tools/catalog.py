"""The builtin tool catalogue as data, computed from the tool classes without running them.

Feeds ``stubs/llmspell-api.json`` (``tools`` and the ``tools``/``tool_categories`` catalogs), from
which the language server completes tool names and checks parameter tables.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmspell.api.model import ToolInfo, ToolParamModel
from llmspell.tools.base import BuiltinTool
from llmspell.tools.builtin import BUILTIN_TOOLS
from llmspell.tools.registry import MANIFEST_PATH, load_builtin_class, tool_summary

_JSON_TO_TYPE = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean",
                 "object": "table", "array": "any[]", "null": "nil"}


def builtin_classes() -> list[type[BuiltinTool]]:
    return [load_builtin_class(spec) for _, spec in sorted(BUILTIN_TOOLS.items())]


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return dict(root.get("$defs", {}).get(ref.split("/")[-1], {}))
    return schema


def json_type(schema: dict[str, Any], root: dict[str, Any]) -> tuple[str, list[str] | None]:
    """JSON schema fragment -> (LuaCATS-like type string, enum values)."""
    schema = _resolve(schema, root)
    if "enum" in schema:
        return "string", [str(v) for v in schema["enum"]]
    if "const" in schema:
        return "string", [str(schema["const"])]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts: list[str] = []
            values: list[str] | None = None
            for sub in schema[key]:
                t, v = json_type(sub, root)
                if t == "nil":
                    continue
                if v and values is None:
                    values = v
                if t not in parts:
                    parts.append(t)
            return ("|".join(parts) or "any"), values
    jt: Any = schema.get("type")
    if isinstance(jt, list):
        names = [_JSON_TO_TYPE.get(x, "any") for x in jt if x != "null"]
        return ("|".join(names) or "any"), None
    if jt == "array":
        items = schema.get("items")
        inner = json_type(items, root)[0] if isinstance(items, dict) else "any"
        return (f"({inner})[]" if "|" in inner else f"{inner}[]"), None
    return _JSON_TO_TYPE.get(str(jt), "any"), None


def parameters_from_schema(schema: dict[str, Any]) -> list[ToolParamModel]:
    required = set(schema.get("required", []) or [])
    out: list[ToolParamModel] = []
    for pname, prop in (schema.get("properties") or {}).items():
        t, values = json_type(prop, schema)
        out.append(ToolParamModel(
            name=pname,
            type=t,
            description=str(prop.get("description", "")),
            required=pname in required,
            default=prop.get("default"),
            values=values,
        ))
    return out


def tool_info(cls: type[BuiltinTool]) -> ToolInfo:
    schema = cls.parameters_schema()
    return ToolInfo(
        name=cls.name,
        description=cls.description,
        category=cls.category,
        security_level=cls.security_level,
        version=cls.version,
        parameters=parameters_from_schema(schema),
        schema=schema,
    )


def tool_infos() -> list[ToolInfo]:
    """One :class:`ToolInfo` per builtin tool, sorted by name."""
    return [tool_info(c) for c in builtin_classes()]


def tool_categories() -> list[str]:
    """The categories that builtin tools use, plus rs-llmspell's documented ones."""
    base = {"filesystem", "web", "api", "analysis", "data", "system", "media", "utility"}
    return sorted(base | {c.category for c in builtin_classes()})


# ----------------------------------------------------------------------------------- the manifest
#
# ``builtin/manifest.json`` holds summaries of the builtin tools (name, description, version,
# category, security level, tags) so that ``Tool.list()`` does not import every tool module:
# importing ~50 modules with their pydantic models costs far more than rs-llmspell's 20 ms budget.
# Regenerate with ``python -m llmspell.tools.catalog`` after adding or changing a tool; a test fails
# when it is stale, and the registry falls back to importing any tool the manifest does not match.


def manifest_entries() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, spec in sorted(BUILTIN_TOOLS.items()):
        out[name] = {**tool_summary(load_builtin_class(spec)), "spec": spec}
    return out


def manifest_json() -> str:
    return json.dumps(manifest_entries(), indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def write_manifest(path: Path = MANIFEST_PATH) -> Path:
    path.write_text(manifest_json(), encoding="utf-8")
    return path


if __name__ == "__main__":  # python -m llmspell.tools.catalog
    import argparse

    argparse.ArgumentParser(
        prog="python -m llmspell.tools.catalog",
        description="Regenerate llmspell/tools/builtin/manifest.json (what Tool.list() reports without imports).",
    ).parse_args()
    print(f"wrote {write_manifest()}")
