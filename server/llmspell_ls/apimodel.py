"""The API model as the language server sees it: loaded once from JSON, indexed for fast lookups.

The JSON follows :class:`llmspell.api.model.ApiModel` exactly (a test checks every field name), but the
server reads it into plain slotted classes instead of pydantic models: importing pydantic costs about
80 ms and validating the model about as much again, which would go straight into ``initialize`` time.
The server never imports the runtime.

Where the model comes from (one source of truth, the committed ``stubs/llmspell-api.json``):

1. ``$LLMSPELL_API_MODEL`` if set (tests and users pointing at their own model);
2. ``<repo>/stubs/llmspell-api.json`` computed from this package's location (editable installs);
3. the package-data copy ``llmspell_ls/data/llmspell-api.json`` (wheels), kept identical to 2 by
   ``write_stubs`` and checked by a test.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

Lang = Literal["lua", "javascript"]

REPO_STUBS_JSON = Path(__file__).resolve().parents[2] / "stubs" / "llmspell-api.json"
PACKAGE_JSON = "data/llmspell-api.json"


@dataclass(slots=True)
class Param:
    name: str
    type: str = "any"
    optional: bool = False
    default: Any = None
    doc: str = ""
    values: list[str] | None = None
    names: str | None = None
    schema_from: str | None = None
    variadic: bool = False


@dataclass(slots=True)
class Function:
    name: str
    js_name: str
    py_name: str = ""
    doc: str = ""
    params: list[Param] = field(default_factory=list)
    returns: str = "nil"
    returns_doc: str = ""
    is_async: bool = False
    deprecated: str | None = None
    returns_self: bool = False
    owner: str = ""
    """Name of the class/global this function belongs to (filled by the index)."""

    def lname(self, lang: Lang) -> str:
        return self.name if lang == "lua" else self.js_name

    @property
    def required(self) -> int:
        return sum(1 for p in self.params if not p.optional and not p.variadic)

    @property
    def variadic(self) -> bool:
        return any(p.variadic for p in self.params)


@dataclass(slots=True)
class Field:
    name: str
    js_name: str
    type: str = "any"
    doc: str = ""
    optional: bool = False
    values: list[str] | None = None

    def lname(self, lang: Lang) -> str:
        return self.name if lang == "lua" else self.js_name


@dataclass(slots=True)
class Class:
    name: str
    doc: str = ""
    kind: str = "class"
    type: str | None = None
    functions: list[Function] = field(default_factory=list)
    fields: list[Field] = field(default_factory=list)
    index_type: str | None = None
    index_names: str | None = None


@dataclass(slots=True)
class NameEntry:
    name: str
    doc: str = ""
    detail: str = ""
    deprecated: str | None = None


@dataclass(slots=True)
class ToolParam:
    name: str
    type: str = "any"
    description: str = ""
    required: bool = False
    default: Any = None
    values: list[str] | None = None


@dataclass(slots=True)
class Tool:
    name: str
    description: str = ""
    category: str = "utility"
    security_level: str = "safe"
    version: str = "1.0.0"
    parameters: list[ToolParam] = field(default_factory=list)
    schema: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> ToolParam | None:
        return next((p for p in self.parameters if p.name == name), None)


def _mk(cls: type, data: dict[str, Any]) -> Any:
    """Build a slotted dataclass from a dict, ignoring keys it does not know (forward compatible)."""
    names = cls.__dataclass_fields__  # type: ignore[attr-defined]
    return cls(**{k: v for k, v in data.items() if k in names})


def _class(data: dict[str, Any]) -> Class:
    c = _mk(Class, {**data, "functions": [], "fields": []})
    for f in data.get("functions", []):
        fm = _mk(Function, {**f, "params": [_mk(Param, p) for p in f.get("params", [])]})
        fm.owner = c.name
        c.functions.append(fm)
    c.fields = [_mk(Field, f) for f in data.get("fields", [])]
    return c


_TYPE_SPLIT = re.compile(r"\s*\|\s*")


class ApiIndex:
    """The loaded model plus the lookups every feature needs, computed once."""

    def __init__(self, data: dict[str, Any], source: str = "<memory>"):
        self.source = source
        self.version: int = data.get("version", 1)
        self.globals: dict[str, Class] = {g["name"]: _class(g) for g in data.get("globals", [])}
        self.classes: dict[str, Class] = {c["name"]: _class(c) for c in data.get("classes", [])}
        self.records: dict[str, Class] = {r["name"]: _class(r) for r in data.get("records", [])}
        self.catalogs: dict[str, dict[str, NameEntry]] = {
            k: {e["name"]: _mk(NameEntry, e) for e in v} for k, v in data.get("catalogs", {}).items()
        }
        self.tools: dict[str, Tool] = {}
        for t in data.get("tools", []):
            params = [_mk(ToolParam, p) for p in t.get("parameters", [])]
            self.tools[t["name"]] = _mk(Tool, {**t, "parameters": params})
        if "tools" not in self.catalogs and self.tools:
            self.catalogs["tools"] = {n: NameEntry(n, t.description, t.category) for n, t in self.tools.items()}
        self._members: dict[tuple[str, Lang], dict[str, Function | Field]] = {}

    # ------------------------------------------------------------------ lookups
    def type_(self, name: str) -> Class | None:
        """A class, record or global by name (classes first, as in ``ApiModel.class_``)."""
        return self.classes.get(name) or self.records.get(name) or self.globals.get(name)

    def members(self, type_name: str, lang: Lang) -> dict[str, Function | Field]:
        """Functions and fields of a type keyed by their name in ``lang`` (cached)."""
        key = (type_name, lang)
        got = self._members.get(key)
        if got is None:
            c = self.type_(type_name)
            got = {}
            if c is not None:
                for f in c.fields:
                    got[f.lname(lang)] = f
                for fn in c.functions:
                    got[fn.lname(lang)] = fn
            self._members[key] = got
        return got

    def resolve(self, type_str: str | None) -> str | None:
        """The first known class/record/global named in a type string (``AgentInstance|nil`` -> ``AgentInstance``)."""
        if not type_str:
            return None
        for part in _TYPE_SPLIT.split(type_str.strip("() ")):
            part = part.strip("() ")
            if part in self.classes or part in self.records or part in self.globals:
                return part
        return None

    def catalog(self, name: str | None) -> dict[str, NameEntry]:
        return self.catalogs.get(name or "", {})

    @cached_property
    def global_names(self) -> list[str]:
        return list(self.globals)

    @cached_property
    def async_functions(self) -> frozenset[str]:
        return frozenset(
            f.js_name for c in (*self.globals.values(), *self.classes.values()) for f in c.functions if f.is_async
        )


def find_model_path() -> Path | None:
    env = os.environ.get("LLMSPELL_API_MODEL")
    if env:
        return Path(env)
    if REPO_STUBS_JSON.is_file():
        return REPO_STUBS_JSON
    return None


def load_index(path: str | os.PathLike[str] | None = None) -> ApiIndex:
    """Load the API model (see module docstring for where from). An empty model if none is found."""
    p = Path(path) if path else find_model_path()
    if p is not None:
        return ApiIndex(json.loads(p.read_text(encoding="utf-8")), str(p))
    try:
        text = resources.files("llmspell_ls").joinpath(PACKAGE_JSON).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        return ApiIndex({}, "<empty>")
    return ApiIndex(json.loads(text), f"package:{PACKAGE_JSON}")
