"""Plain data across the bridge: what a spell may hand to the runtime, decided by the declaration.

Only JSON-shaped values (nil, booleans, numbers, strings, arrays, tables with string or integer keys)
enter tool parameters, template variables, event payloads, state, agent input, workflow step inputs,
hook results and callback results. A script function is accepted only where the declaration says so
(a parameter or record field typed :class:`~llmspell.api.decl.ScriptFunction`), an API object only
where a parameter or field names its class. Everything else is refused with an error that names the
parameter and the place inside it (``params.context.f``).

The rule is derived once per exposed method from its type hints (:func:`param_shapes`):

* ``ScriptFunction`` (also inside ``X | ScriptFunction``) admits a script function at that position;
* an ``ApiObject`` subclass admits a handle of that class;
* a pydantic record admits what its fields admit, by key (aliases too); a record may add keys that
  are not fields with ``api_script_keys: ClassVar[dict[str, Any]]`` (key -> hint), for the aliases
  rs-llmspell's tables use (``func``/``predicate``…); other keys are plain;
* ``list[X]`` / ``dict[str, X]`` admit what ``X`` admits in their items;
* ``Annotated[Any, Display()]`` takes any value but turns functions and objects into their
  description (``Debug.dump``);
* anything else (``Any``, ``str``, ``dict[str, Any]``…) is plain data only.

Sizes are bounded too: a value nested deeper than :data:`MAX_DEPTH` levels (or containing itself)
or holding more than ``limits.max_value_items`` items fails with a clear error; the engines apply
the same bounds while converting, so a table that shares one sub-table a million times cannot
expand into gigabytes on the Python side.
"""

from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

MAX_DEPTH = 100
"""Nesting levels a value may have when it crosses the bridge (a cycle hits this at once)."""

DEFAULT_MAX_ITEMS = 1_000_000
"""Items (scalars and tables, counted together) one value may hold; ``limits.max_value_items``."""

PLAIN_HELP = "only plain data (nil, booleans, numbers, strings, arrays and tables) is accepted here"


@dataclass(frozen=True)
class Display:
    """``Annotated`` marker: any value is taken, functions and API objects as their description."""


class Keys:
    """``Annotated`` marker for a table parameter: these keys admit what their hints admit
    (``Annotated[dict[str, Any], Keys(callback=ScriptFunction)]``); other keys stay plain."""

    def __init__(self, **hints: Any):
        self.hints = hints
        self.record = keys("Keys", **hints)


def keys(name: str, **hints: Any) -> type:
    """A record shape for tables that have no pydantic model (``plain.keys("Branch", steps=list[Step])``):
    the named keys admit what their hints admit, other keys are plain."""
    return type(name, (), {"api_script_keys": hints})


def max_items(config: Any) -> int:
    """``limits.max_value_items`` of a runtime config (the default when the key is absent)."""
    limits = getattr(config, "limits", None)
    n = getattr(limits, "max_value_items", None)
    return int(n) if isinstance(n, int) and n > 0 else DEFAULT_MAX_ITEMS


class Shape:
    """What may sit at one position of a value (see the module docstring)."""

    __slots__ = ("display", "fields", "fn", "items", "live", "objs")

    def __init__(self) -> None:
        self.fn = False
        self.objs: tuple[type, ...] = ()
        self.fields: dict[str, Shape] = {}
        self.items: Shape | None = None
        self.display = False
        self.live = False
        """True when anything below this position may be a function or an object."""


PLAIN = Shape()
DISPLAY = Shape()
DISPLAY.display = True
DISPLAY.live = True

_CACHE: dict[Any, Shape] = {}


def _strip(hint: Any) -> tuple[Any, bool, list[type]]:
    display = False
    records: list[type] = []
    while get_origin(hint) is typing.Annotated:
        args = get_args(hint)
        display = display or any(isinstance(m, Display) for m in args[1:])
        records.extend(m.record for m in args[1:] if isinstance(m, Keys))
        hint = args[0]
    return hint, display, records


def shape_for(hint: Any, _seen: dict[Any, Shape] | None = None) -> Shape:
    """The shape a declared type admits (cached; recursive records are fine)."""
    try:
        got = _CACHE.get(hint)
    except TypeError:  # unhashable hint
        got = None
    if got is not None:
        return got
    seen = {} if _seen is None else _seen
    sh = _build(hint, seen)
    if _seen is None:
        _finish(sh, set())
        try:
            _CACHE[hint] = sh
        except TypeError:
            pass
    return sh


def _build(hint: Any, seen: dict[Any, Shape]) -> Shape:
    hint, display, records = _strip(hint)
    if display:
        return DISPLAY
    if records:
        return _merge([_build(hint, seen), *(_build(r, seen) for r in records)])
    key = id(hint) if not isinstance(hint, type) else hint
    try:
        if key in seen:
            return seen[key]
    except TypeError:
        pass
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        members = [_build(a, seen) for a in get_args(hint)]
        return _merge(members)
    from llmspell.api.decl import ApiObject, ScriptFunction

    if inspect.isclass(hint):
        if issubclass(hint, ScriptFunction):
            sh = Shape()
            sh.fn = True
            return sh
        if issubclass(hint, ApiObject):
            sh = Shape()
            sh.objs = (hint,)
            return sh
        if issubclass(hint, BaseModel) or "api_script_keys" in hint.__dict__:
            sh = Shape()
            seen[key] = sh
            try:
                hints = typing.get_type_hints(hint, include_extras=True)
            except Exception:
                hints = {}
            model_fields = hint.model_fields if issubclass(hint, BaseModel) else {}
            for fname, finfo in model_fields.items():
                sub = _build(hints.get(fname, finfo.annotation), seen)
                sh.fields[fname] = sub
                if finfo.alias:
                    sh.fields[finfo.alias] = sub
            extra: dict[str, Any] = getattr(hint, "api_script_keys", None) or {}
            for k, h in extra.items():
                sub = _build(h, seen)
                sh.fields[k] = _merge([sh.fields[k], sub]) if k in sh.fields else sub
            return sh
    if origin in (list, tuple, set, frozenset, typing.Sequence, typing.MutableSequence) or hint in (list, tuple):
        args = get_args(hint)
        sh = Shape()
        sh.items = _build(args[0], seen) if args else PLAIN
        return sh
    if origin in (dict, typing.Mapping) or hint is dict:
        args = get_args(hint)
        sh = Shape()
        sh.items = _build(args[1], seen) if len(args) == 2 else PLAIN
        return sh
    return PLAIN


def _merge(members: list[Shape]) -> Shape:
    members = [m for m in members if m is not PLAIN]
    if not members:
        return PLAIN
    if len(members) == 1:
        return members[0]
    if any(m.display for m in members):
        return DISPLAY
    sh = Shape()
    for m in members:
        sh.fn = sh.fn or m.fn
        sh.objs = sh.objs + tuple(o for o in m.objs if o not in sh.objs)
        for k, v in m.fields.items():
            sh.fields[k] = _merge([sh.fields[k], v]) if k in sh.fields else v
        if m.items is not None:
            sh.items = m.items if sh.items is None else _merge([sh.items, m.items])
    return sh


def _finish(sh: Shape, visiting: set[int]) -> bool:
    """Compute ``live`` bottom-up (recursive records: a cycle adds nothing)."""
    if sh is PLAIN or sh is DISPLAY:
        return sh.live
    if id(sh) in visiting:
        return sh.live
    visiting.add(id(sh))
    live = sh.fn or bool(sh.objs)
    for sub in sh.fields.values():
        live = _finish(sub, visiting) or live
    if sh.items is not None:
        live = _finish(sh.items, visiting) or live
    sh.live = live
    if not live:
        sh.fields = {}
        sh.items = None
    return live


def param_shapes(cls: type, lua_name: str) -> tuple[Shape, ...] | None:
    """Shapes of the positional parameters of one exposed method (cached on the class)."""
    from llmspell.api.decl import exposed_param_hints

    cache: dict[str, tuple[Shape, ...] | None] = cls.__dict__.get("_llmspell_shapes") or {}
    if "_llmspell_shapes" not in cls.__dict__:
        cls._llmspell_shapes = cache  # type: ignore[attr-defined]
    if lua_name in cache:
        return cache[lua_name]
    hints = exposed_param_hints(cls, lua_name)
    out = None if hints is None else tuple(
        shape_for(Any if h is inspect.Parameter.empty else h) for _, h in hints)
    cache[lua_name] = out
    return out


# ------------------------------------------------------------------------------------------ checking


class Opaque:
    """A script value with no data meaning (a Lua coroutine or userdata, a foreign object): the engines
    convert it to this inert stand-in so the check below can refuse it by name and place."""

    __slots__ = ("_llmspell_kind",)

    def __init__(self, kind: str):
        self._llmspell_kind = kind

    def __repr__(self) -> str:
        return f"<{self._llmspell_kind}>"

    __str__ = __repr__

_SCALARS = (str, int, float, bool, type(None))


class PlainDataError(Exception):
    """Raised by :func:`check`; the engines turn it into a ValidationError naming the parameter."""

    def __init__(self, where: str, message: str):
        super().__init__(message)
        self.where = where
        self.message = message


def describe_kind(v: Any) -> str:
    from llmspell.api.decl import ApiObject, ScriptFunction

    if isinstance(v, ScriptFunction):
        return "a function"
    if isinstance(v, ApiObject):
        return f"an API object ({v.api_name or type(v).__name__})"
    if callable(v):
        return "a function"
    name = getattr(v, "_llmspell_kind", None)
    return f"a {name}" if name else f"a {type(v).__name__} value"


def _too_large(where: str, budget: list[int]) -> PlainDataError:
    return PlainDataError(where, f"value too large to pass to the runtime (more than {budget[1]} items; "
                                 "limits.max_value_items)")


def _join(where: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    if isinstance(key, str) and key.isidentifier():
        return f"{where}.{key}" if where else key
    return f"{where}[{key!r}]"


def check(value: Any, shape: Shape, where: str, max_items: int = DEFAULT_MAX_ITEMS, base: int = 0) -> Any:
    """``value`` if it fits ``shape`` (or a copy with functions described, for :class:`Display`);
    raises :class:`PlainDataError` naming the place otherwise. ``where`` is the parameter name."""
    if type(value) in _SCALARS:
        return value
    budget = [max_items, max_items, base]
    return _check(value, shape, where, 0, budget, bool(shape.display))


def _check(v: Any, sh: Shape, where: str, depth: int, budget: list[int], display: bool) -> Any:
    """``budget`` = [items left, item limit, index base of arrays in messages (1 in Lua)]."""
    from llmspell.api.decl import ApiObject, ScriptFunction

    budget[0] -= 1
    if budget[0] < 0:
        raise _too_large(where, budget)
    t = type(v)
    if t in _SCALARS or t is bytes:
        return v
    if depth > MAX_DEPTH:
        raise PlainDataError(where, f"value nested too deeply to pass to the runtime (more than {MAX_DEPTH} "
                                    "levels, or a table that contains itself)")
    if t is dict or isinstance(v, dict):
        out: dict[Any, Any] | None = None
        fields = sh.fields
        items = sh.items
        for k, x in v.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise PlainDataError(where, f"table keys must be strings or integers, got {describe_kind(k)}")
            sub = fields.get(k) if fields and isinstance(k, str) else None
            if sub is None:
                sub = items if items is not None else (DISPLAY if display else PLAIN)
            if type(x) in _SCALARS:
                budget[0] -= 1
                if budget[0] < 0:
                    raise _too_large(where, budget)
                continue
            y = _check(x, sub, _join(where, k), depth + 1, budget, display or sub.display)
            if y is not x:
                if out is None:
                    out = dict(v)
                out[k] = y
        return v if out is None else out
    if t is list or isinstance(v, (list, tuple)):
        sub = sh.items if sh.items is not None else (DISPLAY if display else PLAIN)
        lout: list[Any] | None = None
        for i, x in enumerate(v):
            if type(x) in _SCALARS:
                budget[0] -= 1
                if budget[0] < 0:
                    raise _too_large(where, budget)
                continue
            y = _check(x, sub, f"{where}[{i + budget[2]}]", depth + 1, budget, display or sub.display)
            if y is not x:
                if lout is None:
                    lout = list(v)
                lout[i] = y
        return v if lout is None else lout
    if isinstance(v, ScriptFunction):
        if sh.fn:
            return v
        if display:
            return v.describe()
        raise PlainDataError(where, f"a function cannot be passed here; {PLAIN_HELP}")
    if isinstance(v, ApiObject):
        if sh.objs and isinstance(v, sh.objs):
            return v
        if display:
            return f"<{v.api_name or type(v).__name__}>"
        raise PlainDataError(where, f"{describe_kind(v)} cannot be passed here; {PLAIN_HELP}")
    if display:
        return f"<{type(v).__name__}>"
    raise PlainDataError(where, f"{describe_kind(v)} cannot be passed here; {PLAIN_HELP}")



def check_value(value: Any, what: str, config: Any = None, shape: Shape = PLAIN, base: int = 0) -> Any:
    """:func:`check` raising the runtime's ValidationError: ``what`` names the value
    (``"the return value of the hook at spell.lua:3"``)."""
    if type(value) in _SCALARS:
        return value
    from llmspell.core.errors import ValidationError

    try:
        return check(value, shape, "", max_items(config), base)
    except PlainDataError as e:
        prefix = what + (f" (at {e.where})" if e.where else "")
        raise ValidationError(f"{prefix}: {e.message}" if prefix else e.message, details={"at": e.where}) from None
