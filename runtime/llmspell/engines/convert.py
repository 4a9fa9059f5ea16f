"""Value-conversion helpers shared by the script engines (engine-independent parts).

Script tables are converted to plain Python values by each engine (they know their own table types);
what is shared lives here:

* :func:`arg_coercers` — per exposed method, fix-ups that depend on the declared parameter types.
  The one that matters: Lua has a single empty table ``{}``, which the conversion rules (rs-llmspell
  API notes §1.1) turn into ``{}`` (an object). A parameter declared as a list (or a pydantic field
  declared as a list, at any depth) receives ``[]`` instead, so ``allowed_tools = {}`` validates.
* :func:`jsonable` — a spell's return value (or an event payload) as JSON-compatible data for the run
  stream: handles become ``{"type": ..., fields…}``, script functions their description.
* :func:`parse_script_args` — rs-llmspell's ``ARGS`` table from command-line arguments (§2.8).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import inspect
import math
import types
import typing
from collections.abc import Callable
from pathlib import PurePath
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from llmspell.api.decl import ApiObject, ScriptFunction, exposed_param_hints

Coercer = Callable[[Any], Any]

_LIST_ORIGINS = (list, tuple, set, frozenset, typing.Sequence, typing.MutableSequence)


def _strip(hint: Any) -> Any:
    """Annotated[X, ...] -> X."""
    while get_origin(hint) is typing.Annotated:
        hint = get_args(hint)[0]
    return hint


def _union_members(hint: Any) -> tuple[Any, ...]:
    hint = _strip(hint)
    if get_origin(hint) in (Union, types.UnionType):
        return tuple(_strip(a) for a in get_args(hint))
    return (hint,)


def is_list_hint(hint: Any) -> bool:
    """True when the declared type accepts a list (``list[str]``, ``list[str] | None``…) and not a dict."""
    members = _union_members(hint)
    has_list = any(m in (list, tuple) or get_origin(m) in _LIST_ORIGINS for m in members)
    has_dict = any(m is dict or get_origin(m) in (dict, typing.Mapping) for m in members)
    return has_list and not has_dict


def _model_of(hint: Any) -> type[BaseModel] | None:
    for m in _union_members(hint):
        if inspect.isclass(m) and issubclass(m, BaseModel):
            return m
    return None


def coercer_for(hint: Any, _depth: int = 0) -> Coercer | None:
    """A function that turns empty dicts into lists where ``hint`` (recursively) expects lists."""
    if _depth > 8:
        return None
    if is_list_hint(hint):
        return lambda v: [] if isinstance(v, dict) and not v else v
    model = _model_of(hint)
    if model is None:
        return None
    fields: dict[str, Coercer] = {}
    try:
        hints = typing.get_type_hints(model, include_extras=True)
    except Exception:
        hints = {}
    for fname, finfo in model.model_fields.items():
        c = coercer_for(hints.get(fname, finfo.annotation), _depth + 1)
        if c is not None:
            fields[finfo.alias or fname] = c
            if finfo.alias and finfo.alias != fname:
                fields[fname] = c
    if not fields:
        return None

    def fix(v: Any) -> Any:
        if isinstance(v, dict):
            for k, c in fields.items():
                if k in v:
                    v[k] = c(v[k])
        return v

    return fix


def arg_coercers(cls: type[ApiObject], lua_name: str) -> tuple[tuple[int, Coercer], ...]:
    """(index, coercer) for the positional parameters of an exposed method that need one (cached)."""
    cache: dict[str, tuple[tuple[int, Coercer], ...]] = cls.__dict__.get("_llmspell_coercers") or {}
    if "_llmspell_coercers" not in cls.__dict__:
        cls._llmspell_coercers = cache  # type: ignore[attr-defined]
    got = cache.get(lua_name)
    if got is not None:
        return got
    out: list[tuple[int, Coercer]] = []
    for i, (_, hint) in enumerate(exposed_param_hints(cls, lua_name) or ()):
        if hint is not inspect.Parameter.empty:
            c = coercer_for(hint)
            if c is not None:
                out.append((i, c))
    cache[lua_name] = tuple(out)
    return cache[lua_name]


def jsonable(v: Any, _depth: int = 0) -> Any:
    """JSON-compatible data for the run stream (never raises; unknown objects become strings)."""
    if _depth > 100:
        return "<nested too deep>"
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): jsonable(x, _depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [jsonable(x, _depth + 1) for x in v]
    if isinstance(v, BaseModel):
        return jsonable(v.model_dump(mode="json"), _depth + 1)
    if isinstance(v, ApiObject):
        try:
            fields = v.api_field_values()
        except Exception:
            fields = {}
        return {"type": v.api_name or type(v).__name__, **{k: jsonable(x, _depth + 1) for k, x in fields.items()}}
    if isinstance(v, ScriptFunction):
        return v.describe()
    if isinstance(v, enum.Enum):
        return jsonable(v.value, _depth + 1)
    if isinstance(v, (_dt.datetime, _dt.date)):
        return v.isoformat()
    if isinstance(v, PurePath):
        return str(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return jsonable(dataclasses.asdict(v), _depth + 1)
    return str(v)


def parse_script_args(file: str | None, args: list[str]) -> dict[Any, str]:
    """rs-llmspell's ARGS: ``[0]`` = script name, positional args at 1..n, ``--key value`` as
    ``ARGS.key = "value"``, a bare ``--flag`` as ``ARGS.flag = "true"``; every value is a string."""
    out: dict[Any, str] = {}
    if file is not None:
        out[0] = file
    pos = 1
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--") and len(a) > 2:
            key = a[2:]
            if "=" in key:
                key, val = key.split("=", 1)
                out[key] = val
            elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                out[key] = args[i + 1]
                i += 1
            else:
                out[key] = "true"
        else:
            out[pos] = a
            pos += 1
        i += 1
    return out
