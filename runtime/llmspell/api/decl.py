"""How the script API is declared: once, in Python, with type hints and docstrings.

A *global* (``Agent``, ``Tool`` …) is a subclass of :class:`ApiGlobal`; an object handed to scripts
(``AgentBuilder``, an agent instance …) is a subclass of :class:`ApiObject`. Methods marked with
:func:`expose` are visible to scripts. The engines generate their globals from these classes (via
:class:`Dispatcher`), and :mod:`llmspell.api.introspect` turns the same classes into the API model.

Conventions that the introspection relies on:

* the Lua name is the Python name unless ``expose(lua=...)`` says otherwise (rs-llmspell mixes
  ``snake_case`` and ``camelCase``); the JS name is the camelCase of the Lua name unless ``js=``;
* ``async def`` methods await the runtime (they block in Lua and return Promises in JS), unless
  ``expose(blocking=True)``: quick operations such as ``build()`` that read as plain calls in JS too
  (the JS engine then blocks the spell thread on the loop, as Lua always does);
* ``Annotated[str, Names("tools")]`` marks a string that names something from a catalog;
  ``Annotated[dict[str, Any], SchemaFrom("name")]`` a table whose keys are the named tool's params;
* a parameter annotated :class:`ScriptFunction` receives a callback written in the script;
* returning ``self`` from a builder method is declared with ``expose(returns_self=True)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from llmspell.api.context import SpellContext

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Names:
    """``Annotated`` marker: this string names an entry of the given catalog."""

    catalog: str


@dataclass(frozen=True)
class SchemaFrom:
    """``Annotated`` marker: this table's keys are the parameters of the tool named by ``param``."""

    param: str


@dataclass(frozen=True)
class Doc:
    """``Annotated`` marker: documentation for one parameter."""

    text: str


class ScriptFunction:
    """A function written in the spell (Lua or JS), callable from the runtime.

    Engines subclass this. ``await fn(*args)`` posts the call to the spell's own thread (an interpreter
    is only ever entered from its thread) and returns the script's return value converted to Python.
    """

    language: str = "python"

    async def __call__(self, *args: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        return f"<{self.language} function>"


@dataclass
class ExposeInfo:
    lua: str | None = None
    js: str | None = None
    deprecated: str | None = None
    returns_self: bool = False
    doc: str | None = None
    returns_doc: str = ""
    blocking: bool = False


def expose(
    fn: F | None = None,
    *,
    lua: str | None = None,
    js: str | None = None,
    deprecated: str | None = None,
    returns_self: bool = False,
    doc: str | None = None,
    returns_doc: str = "",
    blocking: bool = False,
) -> Any:
    """Mark a method as part of the script API."""

    def mark(f: F) -> F:
        info = ExposeInfo(lua, js, deprecated, returns_self, doc, returns_doc, blocking)
        f.__llmspell_expose__ = info  # type: ignore[attr-defined]
        return f

    return mark(fn) if fn is not None else mark


def camel(name: str) -> str:
    """``list_instances`` -> ``listInstances``; names already in camelCase are kept."""
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


class ApiObject:
    """An object handed to scripts: a handle with methods (colon calls in Lua) and read-only fields.

    ``api_fields`` are snapshotted into the script-side object when it is created (``workflow.id``,
    ``tool.name``); everything else goes through exposed methods.
    """

    api_name: ClassVar[str] = ""
    api_doc: ClassVar[str] = ""
    api_fields: ClassVar[dict[str, str]] = {}
    """field name -> type string."""

    def api_field_values(self) -> dict[str, Any]:
        return {name: getattr(self, name, None) for name in self.api_fields}


class ApiGlobal(ApiObject):
    """A global table of static functions; one instance per spell, bound to its :class:`SpellContext`.

    ``api_namespaces`` declares nested tables of static functions (``Memory.episodic.add(...)``): each
    value is another ``ApiGlobal`` subclass, instantiated with the same context (its ``parent`` is the
    owning instance) and installed by the engines as a field of the global. :func:`api_global` names
    it ``"<Global>.<key>"`` (for messages) and gives it the model type name ``api_model_name``
    (``MemoryEpisodic``), under which the API model lists it among the classes with kind ``global``.
    """

    index_type: ClassVar[str | None] = None
    index_names: ClassVar[str | None] = None
    api_namespaces: ClassVar[dict[str, type[ApiGlobal]]] = {}
    api_model_name: ClassVar[str] = ""
    """The type name in the API model: the global's name, or ``<Global><Key>`` for a namespace."""

    def __init__(self, ctx: SpellContext):
        self.ctx = ctx

    parent: ApiGlobal | None = None
    """For a namespace instance: the global (or namespace) instance it belongs to."""

    def api_namespace(self, key: str) -> ApiGlobal:
        """The instance behind the namespace ``key`` (one per global instance)."""
        objs: dict[str, ApiGlobal] = self.__dict__.setdefault("_namespace_objs", {})
        obj = objs.get(key)
        if obj is None:
            obj = type(self).api_namespaces[key](self.ctx)
            obj.parent = self
            objs[key] = obj
        return obj

    def api_index(self, key: str) -> Any:
        """Dynamic member lookup (``Tool["file-operations"]``); ``None`` when there is no such member."""
        return None


@dataclass
class ValueGlobal:
    """A plain data global such as ``ARGS``; ``factory(ctx)`` gives its value for one spell."""

    name: str
    type: str
    doc: str
    factory: Callable[[SpellContext], Any]


# Registries filled by ``llmspell.api.globals`` (import order = declaration order in the model).
GLOBALS: dict[str, type[ApiGlobal]] = {}
VALUE_GLOBALS: dict[str, ValueGlobal] = {}
CLASSES: dict[str, type[ApiObject]] = {}


NAMESPACES: dict[str, type[ApiGlobal]] = {}
"""Namespace classes (``Memory.episodic``) by their model type name (``MemoryEpisodic``)."""


def _name_namespaces(cls: type[ApiGlobal]) -> None:
    for key, ns in cls.api_namespaces.items():
        if not (isinstance(ns, type) and issubclass(ns, ApiGlobal)):
            raise TypeError(f"{cls.api_name}.api_namespaces[{key!r}] must be an ApiGlobal subclass")
        ns.api_name = f"{cls.api_name}.{key}"
        ns.api_model_name = cls.api_model_name + key[:1].upper() + camel(key[1:])
        ns.api_doc = inspect.cleandoc(ns.__doc__ or "")
        NAMESPACES[ns.api_model_name] = ns
        _name_namespaces(ns)


def api_global(name: str) -> Callable[[type[ApiGlobal]], type[ApiGlobal]]:
    def reg(cls: type[ApiGlobal]) -> type[ApiGlobal]:
        cls.api_name = name
        cls.api_model_name = name
        cls.api_doc = inspect.cleandoc(cls.__doc__ or "")
        GLOBALS[name] = cls
        _name_namespaces(cls)
        return cls

    return reg


def api_class(name: str) -> Callable[[type[ApiObject]], type[ApiObject]]:
    def reg(cls: type[ApiObject]) -> type[ApiObject]:
        cls.api_name = name
        cls.api_doc = inspect.cleandoc(cls.__doc__ or "")
        CLASSES[name] = cls
        return cls

    return reg


def value_global(name: str, type_: str, doc: str, factory: Callable[[SpellContext], Any]) -> None:
    VALUE_GLOBALS[name] = ValueGlobal(name, type_, doc, factory)


# ------------------------------------------------------------------------------------------- dispatch


@dataclass
class BoundMethod:
    """One exposed method, resolved once per class so dispatch is a dict lookup."""

    py_name: str
    lua_name: str
    js_name: str
    is_async: bool
    """Returns a Promise in JS (an ``async def`` not marked ``blocking``)."""
    blocking: bool
    """An ``async def`` that every engine waits for synchronously."""
    nparams: int
    required: int
    variadic: bool
    param_names: tuple[str, ...]
    deprecated: str | None


def exposed_param_hints(cls: type, lua_name: str) -> tuple[tuple[str, Any], ...] | None:
    """(name, type hint or ``inspect.Parameter.empty``) per positional parameter of one exposed
    method, or None when ``cls`` exposes no such method. Resolving hints is the costly part, and both
    the engines' argument coercion and the plain-data check need them: cached on the class, once."""
    cache: dict[str, tuple[tuple[str, Any], ...] | None] | None = cls.__dict__.get("_llmspell_param_hints")
    if cache is None:
        cache = {}
        cls._llmspell_param_hints = cache  # type: ignore[attr-defined]
    if lua_name in cache:
        return cache[lua_name]
    import typing

    bm = exposed_methods(cls).get(lua_name)  # type: ignore[arg-type]
    out: tuple[tuple[str, Any], ...] | None = None
    if bm is not None:
        try:
            hints = typing.get_type_hints(getattr(cls, bm.py_name), include_extras=True)
        except Exception:
            hints = {}
        out = tuple((p, hints.get(p, inspect.Parameter.empty)) for p in bm.param_names)
    cache[lua_name] = out
    return out


def exposed_methods(cls: type[ApiObject]) -> dict[str, BoundMethod]:
    """Exposed methods of ``cls`` keyed by their Lua name (cached on the class)."""
    cache = cls.__dict__.get("_llmspell_methods")
    if cache is not None:
        return cache  # type: ignore[no-any-return]
    out: dict[str, BoundMethod] = {}
    for py_name, fn in inspect.getmembers(cls, predicate=inspect.isfunction):
        info: ExposeInfo | None = getattr(fn, "__llmspell_expose__", None)
        if info is None:
            continue
        sig = inspect.signature(fn)
        params = [p for p in sig.parameters.values() if p.name != "self"]
        variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
        fixed = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        lua_name = info.lua or py_name
        out[lua_name] = BoundMethod(
            py_name=py_name,
            lua_name=lua_name,
            js_name=info.js or camel(lua_name),
            is_async=inspect.iscoroutinefunction(fn) and not info.blocking,
            blocking=inspect.iscoroutinefunction(fn) and info.blocking,
            nparams=len(fixed),
            required=sum(1 for p in fixed if p.default is p.empty),
            variadic=variadic,
            param_names=tuple(p.name for p in fixed),
            deprecated=info.deprecated,
        )
    cls._llmspell_methods = out  # type: ignore[attr-defined]
    return out


class Dispatcher:
    """Calls exposed methods with script arguments; shared by both engines.

    ``call`` returns the method's result, or an awaitable for ``async`` methods: the engine decides
    how to wait (Lua blocks its thread on the loop, JS settles a Promise later). Missing trailing
    arguments become ``None`` (Lua's nil), extra ones are dropped, as Lua would.
    """

    @staticmethod
    def call(obj: ApiObject, lua_name: str, args: list[Any] | tuple[Any, ...]) -> Any | Awaitable[Any]:
        from llmspell.core.errors import ValidationError

        methods = exposed_methods(type(obj))
        m = methods.get(lua_name)
        if m is None:
            raise ValidationError(f"{obj.api_name} has no method '{lua_name}'")
        args = list(args)
        if not m.variadic:
            if len(args) > m.nparams:
                del args[m.nparams:]
            n = len(args)
            # trailing nils from Lua count as "not given"
            while n > m.required and args and args[-1] is None:
                args.pop()
                n -= 1
            if n < m.required:
                missing = m.param_names[n]
                raise ValidationError(
                    f"{obj.api_name}.{lua_name}: missing argument #{n + 1} '{missing}'"
                )
        check_args(obj, lua_name, m, args)
        return getattr(obj, m.py_name)(*args)


_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})


def check_args(obj: ApiObject, lua_name: str, m: BoundMethod, args: list[Any]) -> None:
    """Plain data only, except where the declaration admits a function or an API object
    (:mod:`llmspell.api.plain`); replaces ``args[i]`` in place for ``Display`` parameters."""
    from llmspell.api import plain
    from llmspell.core.errors import ValidationError

    shapes: tuple[plain.Shape, ...] | None = None
    limit = base = 0
    for i, a in enumerate(args):
        if type(a) in _SCALAR_TYPES:
            continue
        if shapes is None:
            shapes = plain.param_shapes(type(obj), lua_name) or ()
            ctx = getattr(obj, "ctx", None)
            limit = plain.max_items(getattr(getattr(ctx, "runtime", None), "config", None))
            base = 1 if getattr(ctx, "language", None) == "lua" else 0
        if i < len(shapes):
            shape, pname = shapes[i], m.param_names[i]
        else:  # variadic extras
            shape, pname = plain.PLAIN, f"#{i + 1}"
        try:
            args[i] = plain.check(a, shape, pname, limit, base)
        except plain.PlainDataError as e:
            at = f" (at {e.where})" if e.where != pname else ""
            raise ValidationError(
                f"{obj.api_name}.{lua_name}: argument #{i + 1} '{pname}'{at}: {e.message}",
                details={"parameter": pname, "at": e.where},
            ) from None
