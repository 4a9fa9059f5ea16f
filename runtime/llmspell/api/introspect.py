"""Turn the Python declaration into the API model, and write ``stubs/llmspell-api.json``.

Run ``python -m llmspell.api`` (or ``llmspell-ls --stubs DIR``) after changing the declaration; a test
regenerates the model and fails when the committed JSON differs.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel

from llmspell.api.decl import (
    CLASSES,
    GLOBALS,
    NAMESPACES,
    VALUE_GLOBALS,
    ApiGlobal,
    ApiObject,
    Doc,
    ExposeInfo,
    Names,
    SchemaFrom,
    ScriptFunction,
    camel,
    exposed_methods,
)
from llmspell.api.model import ApiModel, ClassModel, FieldModel, FunctionModel, ParamModel

_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", bytes: "string"}


class _TypeRenderer:
    def __init__(self) -> None:
        self.records: dict[str, ClassModel] = {}

    def render(self, tp: Any) -> tuple[str, dict[str, Any]]:
        """(type string, extras) where extras may carry ``values``/``names``/``schema_from``/``doc``."""
        extras: dict[str, Any] = {}
        origin = get_origin(tp)
        if origin is Annotated:
            base, *marks = get_args(tp)
            s, extras = self.render(base)
            for m in marks:
                if isinstance(m, Names):
                    extras["names"] = m.catalog
                elif isinstance(m, SchemaFrom):
                    extras["schema_from"] = m.param
                elif isinstance(m, Doc):
                    extras["doc"] = m.text
            return s, extras
        if tp is Any or tp is inspect.Parameter.empty:
            return "any", extras
        if tp is None or tp is type(None):
            return "nil", extras
        if tp in _SIMPLE:
            return _SIMPLE[tp], extras
        if origin is Literal:
            vals = [v for v in get_args(tp)]
            extras["values"] = [str(v) for v in vals]
            kinds = {type(v) for v in vals}
            return ("string" if kinds <= {str} else "any"), extras
        if origin in (Union, types.UnionType):
            parts: list[str] = []
            for a in get_args(tp):
                s, ex = self.render(a)
                for k, v in ex.items():
                    extras.setdefault(k, v)
                if s not in parts:
                    parts.append(s)
            return "|".join(parts), extras
        if origin in (list, tuple, set, frozenset, typing.Sequence) or tp in (list, tuple):
            args = get_args(tp)
            if args and not ((origin is tuple and len(args) != 2) or (len(args) == 2 and args[1] is Ellipsis)):
                inner, _ = self.render(args[0])
            elif args:
                inner, _ = self.render(args[0])
            else:
                inner = "any"
            return (f"({inner})[]" if "|" in inner else f"{inner}[]"), extras
        if origin in (dict, typing.Mapping) or tp is dict:
            args = get_args(tp)
            if args:
                k, _ = self.render(args[0])
                v, _ = self.render(args[1])
                if (k, v) == ("string", "any"):
                    return "table", extras
                return f"table<{k}, {v}>", extras
            return "table", extras
        if inspect.isclass(tp):
            if issubclass(tp, ScriptFunction):
                return "function", extras
            if issubclass(tp, ApiObject) and tp.api_name:
                return tp.api_name, extras
            if issubclass(tp, BaseModel):
                return self.record(tp), extras
        if tp is typing.Callable or origin is typing.Callable or origin is __import__("collections.abc").abc.Callable:
            return "function", extras
        return "any", extras

    def record(self, model: type[BaseModel]) -> str:
        name = getattr(model, "api_record_name", None) or model.__name__
        if name in self.records:
            return name
        self.records[name] = ClassModel(name=name, kind="record", doc=inspect.cleandoc(model.__doc__ or ""))
        fields: list[FieldModel] = []
        hints = get_type_hints(model, include_extras=True)
        for fname, finfo in model.model_fields.items():
            alias = finfo.alias or fname
            s, ex = self.render(hints.get(fname, finfo.annotation))
            fields.append(
                FieldModel(
                    name=alias,
                    js_name=alias,
                    type=s,
                    doc=finfo.description or ex.get("doc", ""),
                    optional=not finfo.is_required(),
                    values=ex.get("values"),
                )
            )
        self.records[name].fields = fields
        return name


_ARG_LINE = re.compile(r"^\s{0,8}(\w+)\s*(?:\([^)]*\))?:\s*(.+)$")


def _split_doc(doc: str) -> tuple[str, dict[str, str], str]:
    """Split a docstring into (summary+body, {param: doc}, returns doc) from ``Args:``/``Returns:``."""
    doc = inspect.cleandoc(doc or "")
    body: list[str] = []
    params: dict[str, str] = {}
    returns: list[str] = []
    section = None
    last = None
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            section = "args"
            continue
        if stripped in ("Returns:", "Return:"):
            section = "returns"
            continue
        if section == "args":
            m = _ARG_LINE.match(line)
            if m and not line.startswith("        "):
                last = m.group(1)
                params[last] = m.group(2).strip()
            elif last and stripped:
                params[last] += " " + stripped
            elif not stripped:
                section = None
            continue
        if section == "returns":
            if stripped:
                returns.append(stripped)
                continue
            section = None
        body.append(line)
    return "\n".join(body).strip(), params, " ".join(returns)


def _function_model(cls: type[ApiObject], lua_name: str, renderer: _TypeRenderer) -> FunctionModel:
    bm = exposed_methods(cls)[lua_name]
    fn = getattr(cls, bm.py_name)
    info: ExposeInfo = fn.__llmspell_expose__
    hints = get_type_hints(fn, include_extras=True)
    sig = inspect.signature(fn)
    doc, pdocs, rdoc = _split_doc(info.doc or fn.__doc__ or "")
    params: list[ParamModel] = []
    for p in sig.parameters.values():
        if p.name == "self":
            continue
        s, ex = renderer.render(hints.get(p.name, Any))
        optional = p.default is not p.empty or p.kind is p.VAR_POSITIONAL
        if optional and s.endswith("|nil"):
            s = s[: -len("|nil")]
        default = None
        if p.default is not p.empty and isinstance(p.default, (str, int, float, bool)):
            default = p.default
        params.append(
            ParamModel(
                name=p.name,
                type=s,
                optional=optional,
                default=default,
                doc=ex.get("doc") or pdocs.get(p.name, ""),
                values=ex.get("values"),
                names=ex.get("names"),
                schema_from=ex.get("schema_from"),
                variadic=p.kind is p.VAR_POSITIONAL,
            )
        )
    ret_hint = hints.get("return", Any)
    if info.returns_self:
        ret = cls.api_name
    else:
        ret, _ = renderer.render(ret_hint)
    if bm.is_async and ret == "any" and ret_hint is None:
        ret = "nil"
    return FunctionModel(
        name=lua_name,
        js_name=bm.js_name,
        py_name=bm.py_name,
        doc=doc,
        params=params,
        returns=ret,
        returns_doc=info.returns_doc or rdoc,
        is_async=bm.is_async,
        deprecated=info.deprecated,
        returns_self=info.returns_self,
    )


def _class_model(cls: type[ApiObject], kind: str, renderer: _TypeRenderer) -> ClassModel:
    functions = [_function_model(cls, n, renderer) for n in sorted(exposed_methods(cls))]
    fields = [FieldModel(name=f, js_name=camel(f), type=t) for f, t in cls.api_fields.items()]
    name = cls.api_name
    if isinstance(cls, type) and issubclass(cls, ApiGlobal):
        name = cls.api_model_name or name
        for key, ns in cls.api_namespaces.items():  # ``Memory.episodic``: a field typed by the namespace
            first = ns.api_doc.split("\n\n", 1)[0].replace("\n", " ")
            fields.append(FieldModel(name=key, js_name=key, type=ns.api_model_name, doc=first))
    cm = ClassModel(name=name, doc=cls.api_doc, kind=kind, functions=functions, fields=fields)  # type: ignore[arg-type]
    if kind == "global":
        cm.index_type = getattr(cls, "index_type", None)
        cm.index_names = getattr(cls, "index_names", None)
    return cm


def build_model() -> ApiModel:
    """Import the declaration and describe it."""
    import llmspell.api.globals  # noqa: F401  (registers every global and class)
    from llmspell.api.catalogs import build_catalogs, build_tool_infos

    renderer = _TypeRenderer()
    globals_ = [_class_model(cls, "global", renderer) for cls in GLOBALS.values()]
    for vg in VALUE_GLOBALS.values():
        globals_.append(ClassModel(name=vg.name, kind="value", type=vg.type, doc=vg.doc))
    classes = [_class_model(cls, "class", renderer) for _, cls in sorted(CLASSES.items())]
    # namespaces (``Memory.episodic``) are tables of static functions: classes of kind "global"
    classes += [_class_model(cls, "global", renderer) for _, cls in sorted(NAMESPACES.items())]
    classes.sort(key=lambda c: c.name)
    return ApiModel(
        globals=globals_,
        classes=classes,
        records=sorted(renderer.records.values(), key=lambda r: r.name),
        catalogs=build_catalogs(),
        tools=build_tool_infos(),
    )


def model_json(model: ApiModel | None = None) -> str:
    model = model or build_model()
    data = model.model_dump(mode="json", by_alias=True, exclude_defaults=False)
    return json.dumps(data, indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def default_json_path() -> Path:
    return Path(__file__).resolve().parents[3] / "stubs" / "llmspell-api.json"


def write_model(path: Path | None = None) -> Path:
    path = path or default_json_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(model_json(), encoding="utf-8")
    return path
