"""Bounded template rendering: Jinja (Tera syntax) and Mustache (Handlebars' logic-less core).

A template a spell writes is code, run over data the spell chose, so rendering is sandboxed and
bounded whatever the template does:

* **plain data only**: the context is checked with :mod:`llmspell.api.plain` (no function, handle or
  foreign object can be walked from the template), and Jinja runs in an immutable sandbox whose
  attribute lookups only reach data keys and a short list of harmless ``str``/``dict``/``list``
  methods: ``__class__``, ``__globals__``, ``format``, ``pop``, ``append``… give nothing. The
  ``cycler``, ``joiner``, ``namespace`` and ``lipsum`` globals are gone; ``range`` is bounded.
* **bounded operations**: every loop iteration, call, attribute or item lookup, operator and filter
  counts against ``limits.max_template_operations``; a template that goes over fails.
* **bounded output**: every piece of text the template produces, in captured blocks and macros too,
  counts against a budget derived from ``limits.max_template_output_bytes``, and the result may not
  exceed that limit. Operators and filters that could build a huge value in one step (``'a' * n``,
  ``9 ** n``, ``center``, ``indent``, ``format``, ``replace``, ``join``, ``~`` …) are checked *before*
  they run, so ``{{ 'a' * 10**9 }}`` fails at once instead of allocating a gigabyte.

The caps come from the runtime's configuration, never from the template's parameters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

DEFAULT_MAX_OUTPUT = 1 << 20
DEFAULT_MAX_OPERATIONS = 1_000_000
MAX_INT_BITS = 1 << 14
"""Largest integer (in bits, ~4900 digits) an operator may produce."""

_SAFE_STR = frozenset({
    "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha", "isascii",
    "isdecimal", "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "lower", "lstrip",
    "partition", "removeprefix", "removesuffix", "rfind", "rindex", "rpartition", "rsplit", "rstrip", "split",
    "splitlines", "startswith", "strip", "swapcase", "title", "upper",
})
_SAFE_DICT = frozenset({"get", "items", "keys", "values"})
_SAFE_LIST = frozenset({"count", "index"})
_SAFE_LOOP = frozenset({"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth",
                        "depth0", "previtem", "nextitem", "changed", "cycle"})
_NOT_STRINGIFYING = frozenset({
    "length", "count", "first", "last", "list", "sort", "reverse", "unique", "min", "max", "sum", "batch", "slice",
    "select", "reject", "selectattr", "rejectattr", "map", "groupby", "dictsort", "items", "attr", "default",
    "d", "int", "float", "abs", "round", "random", "filesizeformat",
})
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


class TemplateLimitError(Exception):
    """A template went over a limit (operations, output size, one oversized value)."""


def template_limits(config: Any) -> tuple[int, int]:
    """``(max output characters, max operations)`` from a runtime config (defaults when absent)."""
    limits = getattr(config, "limits", None)
    out = getattr(limits, "max_template_output_bytes", None)
    ops = getattr(limits, "max_template_operations", None)
    return (int(out) if isinstance(out, int) and out > 0 else DEFAULT_MAX_OUTPUT,
            int(ops) if isinstance(ops, int) and ops > 0 else DEFAULT_MAX_OPERATIONS)


class _Budget:
    __slots__ = ("allocated", "max_allocated", "max_ops", "max_output", "max_produced", "ops", "produced")

    def __init__(self, max_output: int, max_ops: int):
        self.max_output = max_output
        self.max_produced = max_output * 4
        self.max_allocated = max_output * 16
        self.max_ops = max_ops
        self.ops = 0
        self.produced = 0
        self.allocated = 0

    def tick(self, n: int = 1) -> None:
        self.ops += n
        if self.ops > self.max_ops:
            raise TemplateLimitError(f"the template performed more than {self.max_ops} operations "
                                     "(limits.max_template_operations)")

    def charge(self, n: int) -> None:
        self.produced += n
        if self.produced > self.max_produced:
            raise TemplateLimitError(f"the template produced more than {self.max_output} characters "
                                     "(limits.max_template_output_bytes)")

    def allocate(self, n: int) -> None:
        """Values operators, filters and calls create (strings by length, containers by item count)."""
        self.allocated += n
        if self.allocated > self.max_allocated:
            raise TemplateLimitError(f"the template built more than {self.max_allocated} characters of values "
                                     "(16 x limits.max_template_output_bytes)")

    def too_big(self, what: str) -> TemplateLimitError:
        return TemplateLimitError(f"{what} would exceed {self.max_output} characters "
                                  "(limits.max_template_output_bytes)")


def text_size(v: Any, budget: _Budget, _limit: int | None = None) -> int:
    """An upper-bound estimate of ``len(str(v))`` computed without building it (stops past the limit)."""
    limit = budget.max_output if _limit is None else _limit
    if isinstance(v, str):
        return len(v)
    if v is None or isinstance(v, (bool, float)):
        return 32
    if isinstance(v, int):
        return v.bit_length() // 3 + 2
    budget.tick()  # walking a value is work too: a nest of shared lists cannot make this loop forever
    total = 2
    if isinstance(v, dict):
        for k, x in v.items():
            total += text_size(k, budget, limit) + text_size(x, budget, limit - total) + 4
            if total > limit:
                return total
        return total
    if isinstance(v, (list, tuple, set, frozenset)):
        for x in v:
            total += text_size(x, budget, limit - total) + 2
            if total > limit:
                return total
        return total
    return 64


def _check_format(fmt: str, budget: _Budget) -> None:
    """Refuse printf-style specs whose width or precision could build a huge string."""
    for m in _PERCENT_SPEC.finditer(fmt):
        for g in (m.group(1), m.group(2)):
            if g == "*":
                raise TemplateLimitError("format: '*' widths are not allowed in templates")
            if g is not None and int(g) > budget.max_output:
                raise budget.too_big("format width")


# ------------------------------------------------------------------------------------------ jinja


def _jinja_classes() -> tuple[type, type]:
    """The bounded code generator and environment (built lazily: jinja2 is imported on first use)."""
    global _CLASSES
    if _CLASSES is not None:
        return _CLASSES
    from jinja2 import nodes
    from jinja2.compiler import CodeGenerator
    from jinja2.runtime import BlockReference, LoopContext, Macro, TemplateReference, Undefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    class BoundedCodeGenerator(CodeGenerator):
        """Every piece of output goes through ``environment.charge``, ``~`` through
        ``environment.concat_values``, and every ``for`` iterates ``environment.bounded_iter(...)``."""

        def _output_const_repr(self, group: Iterable[Any]) -> str:
            return f"environment.charge({super()._output_const_repr(group)})"

        def _output_child_pre(self, node: Any, frame: Any, finalize: Any) -> None:
            self.write("environment.charge(")
            super()._output_child_pre(node, frame, finalize)

        def _output_child_post(self, node: Any, frame: Any, finalize: Any) -> None:
            super()._output_child_post(node, frame, finalize)
            self.write(")")

        def visit_Concat(self, node: Any, frame: Any) -> None:
            self.write("environment.concat_values((")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

        def visit_For(self, node: Any, frame: Any) -> None:
            node.iter = nodes.Call(nodes.EnvironmentAttribute("bounded_iter", lineno=node.lineno), [node.iter],
                                   [], None, None, lineno=node.lineno)
            super().visit_For(node, frame)

    class BoundedEnvironment(ImmutableSandboxedEnvironment):
        code_generator_class = BoundedCodeGenerator
        intercepted_binops = frozenset(["*", "**", "+", "%", "//", "/", "-"])

        def __init__(self, budget: _Budget):
            super().__init__(autoescape=False, keep_trailing_newline=True, cache_size=0, auto_reload=False,
                             finalize=self._finalize)
            self.budget = budget
            self.globals.clear()
            self.globals["range"] = self.bounded_range
            self.globals["dict"] = dict
            self.filters = {name: self._bounded_filter(name, f) for name, f in self.filters.items()}

        # -- output and loops
        def charge(self, s: Any) -> Any:
            self.budget.charge(len(s) if isinstance(s, str) else 16)
            return s

        def _finalize(self, v: Any) -> Any:
            if not isinstance(v, str) and text_size(v, self.budget) > self.budget.max_output:
                raise self.budget.too_big("an output value")
            return v

        def bounded_iter(self, iterable: Any) -> Iterator[Any]:
            tick = self.budget.tick
            for x in iterable:
                tick()
                yield x

        def bounded_range(self, *args: Any) -> range:
            self.budget.tick()
            r = range(*args)
            if len(r) > self.budget.max_ops:
                raise TemplateLimitError(f"range() of {len(r)} items is more than the template may iterate "
                                         f"({self.budget.max_ops}; limits.max_template_operations)")
            return r

        def concat_values(self, items: tuple[Any, ...]) -> str:
            self.budget.tick()
            total = 0
            for x in items:
                total += text_size(x, self.budget)
                if total > self.budget.max_output:
                    raise self.budget.too_big("a '~' concatenation")
            self.budget.allocate(total)
            return "".join(x if isinstance(x, str) else str(x) for x in items)

        # -- lookups
        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            if attr.startswith("_"):
                return False
            if isinstance(obj, str):
                return attr in _SAFE_STR
            if isinstance(obj, dict):
                return attr in _SAFE_DICT
            if isinstance(obj, (list, tuple)):
                return attr in _SAFE_LIST
            if isinstance(obj, (int, float, bool)) or obj is None:
                return False
            if isinstance(obj, LoopContext):
                return attr in _SAFE_LOOP
            if isinstance(obj, (Macro, BlockReference, TemplateReference, Undefined)):
                return bool(super().is_safe_attribute(obj, attr, value))
            return False

        def getattr(self, obj: Any, attribute: str) -> Any:
            self.budget.tick()
            if isinstance(obj, dict):
                if attribute in _SAFE_DICT:
                    return getattr(obj, attribute)
                if attribute in obj:
                    return obj[attribute]
                return self.undefined(obj=obj, name=attribute)
            if isinstance(obj, (str, list, tuple, int, float, bool)) or obj is None:
                if isinstance(attribute, str) and self.is_safe_attribute(obj, attribute, None):
                    return getattr(obj, attribute)
                return self.undefined(obj=obj, name=attribute)
            if isinstance(obj, TemplateReference):
                try:
                    return obj[attribute]
                except KeyError:
                    return self.undefined(obj=obj, name=attribute)
            if isinstance(obj, (LoopContext, Macro, BlockReference, Undefined)):
                if isinstance(obj, Undefined) or self.is_safe_attribute(obj, attribute, None):
                    return super().getattr(obj, attribute)
            return self.undefined(obj=obj, name=attribute)

        def getitem(self, obj: Any, argument: Any) -> Any:
            self.budget.tick()
            if isinstance(obj, (dict, list, tuple, str)):
                try:
                    return obj[argument]
                except (KeyError, IndexError, TypeError, ValueError):
                    return self.undefined(obj=obj, name=argument)
            if isinstance(argument, str):
                return self.getattr(obj, argument)
            return self.undefined(obj=obj, name=argument)

        # -- calls and operators
        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            self = __self
            self.budget.tick()
            owner = getattr(__obj, "__self__", None)
            if isinstance(__obj, LoopContext):  # a recursive loop: loop(children)
                args = tuple(self.bounded_iter(a) for a in args)
            elif not (
                __obj is dict or isinstance(__obj, (Macro, BlockReference))
                or (owner is self and getattr(__obj, "__func__", None) in (BoundedEnvironment.bounded_iter,
                                                                           BoundedEnvironment.bounded_range))
                or (owner is not None and isinstance(owner, (str, dict, list, tuple, LoopContext, BlockReference))
                    and self.is_safe_attribute(owner, getattr(__obj, "__name__", "_"), __obj))
            ):
                raise SecurityError(f"{__obj!r} is not callable in templates")
            r = super().call(__context, __obj, *args, **kwargs)
            return self._checked(r, "a call")

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            b = self.budget
            b.tick()
            num = (int, float)
            if operator == "**" and isinstance(left, num) and isinstance(right, num):
                if isinstance(right, int) and isinstance(left, int) and right > 0 and abs(left) > 1:
                    if right * math.log2(abs(left)) > MAX_INT_BITS:
                        raise TemplateLimitError(f"{left} ** {right} is too large for a template")
            elif operator == "*":
                seq, n = (left, right) if isinstance(right, int) else (right, left)
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and not isinstance(n, bool):
                    # by text size, not length: [big] * n shares one string n times
                    if max(len(seq), text_size(seq, b) if n > 1 else 0) * max(n, 0) > b.max_output:
                        raise b.too_big("a repetition")
                elif isinstance(left, int) and isinstance(right, int):
                    if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                        raise TemplateLimitError("a product too large for a template")
            elif operator == "+":
                if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
                    if text_size(left, b) + text_size(right, b) > b.max_output:
                        raise b.too_big("a '+' concatenation")
            elif operator == "%" and isinstance(left, str):
                _check_format(left, b)
                if text_size(right, b) > b.max_output:
                    raise b.too_big("a '%' formatting")
            return self._checked(super().call_binop(context, operator, left, right), f"'{operator}'")

        def _checked(self, r: Any, what: str) -> Any:
            b = self.budget
            if isinstance(r, (str, list, tuple, dict)):
                if len(r) > b.max_output:
                    raise b.too_big(f"the result of {what}")
                b.allocate(len(r))
            if isinstance(r, Iterator) and not isinstance(r, (str, bytes)):
                return self.bounded_iter(r)
            return r

        # -- filters
        def _bounded_filter(self, name: str, f: Callable[..., Any]) -> Callable[..., Any]:
            pass_arg = getattr(f, "jinja_pass_arg", None)

            def bounded(*args: Any, **kwargs: Any) -> Any:
                b = self.budget
                b.tick()
                pos = 1 if pass_arg is not None else 0  # the context / eval context / environment comes first
                value = args[pos] if len(args) > pos else None
                rest = args[pos + 1:]
                for a in (*rest, *kwargs.values()):
                    if isinstance(a, (int, float)) and not isinstance(a, bool) and abs(a) > b.max_output:
                        raise b.too_big(f"filter '{name}' with argument {a}")
                if name not in _NOT_STRINGIFYING:
                    if isinstance(value, Iterator):
                        value = list(self.bounded_iter(value))
                        args = (*args[:pos], value, *rest)
                    # what the filter may turn into text: its value and its arguments
                    for x in (value, *rest, *kwargs.values()):
                        if not isinstance(x, (str, int, float, bool)) and x is not None:
                            if text_size(x, b) > b.max_output:
                                raise b.too_big(f"filter '{name}'")
                    _precheck(name, value, rest, kwargs, b)
                return self._checked(f(*args, **kwargs), f"filter '{name}'")

            for attr in ("jinja_pass_arg",):
                if hasattr(f, attr):
                    setattr(bounded, attr, getattr(f, attr))
            return bounded

    _CLASSES = (BoundedCodeGenerator, BoundedEnvironment)
    return _CLASSES


_CLASSES: tuple[type, type] | None = None


def _precheck(name: str, value: Any, rest: tuple[Any, ...], kwargs: dict[str, Any], b: _Budget) -> None:
    """Filters whose output can be much larger than their input: estimate it before they run (``value``'s
    text size is already known to be within the limit, so ``str(value)`` is cheap)."""
    s = value if isinstance(value, str) else (None if value is None else str(value))
    if name == "indent" and s is not None:
        width = rest[0] if rest else kwargs.get("width", 4)
        w = len(width) if isinstance(width, str) else int(width or 0)
        if len(s) + w * (s.count("\n") + 1) > b.max_output:
            raise b.too_big("filter 'indent'")
    elif name == "wordwrap" and s is not None:
        width = int(rest[0] if rest else kwargs.get("width", 79) or 1)
        wrap = kwargs.get("wrapstring", rest[2] if len(rest) > 2 else "\n") or "\n"
        lines = len(s) // max(width, 1) + s.count("\n") + 1
        if len(s) + lines * len(str(wrap)) > b.max_output:
            raise b.too_big("filter 'wordwrap'")
    elif name == "replace" and s is not None and len(rest) >= 2:
        old, new = str(rest[0]), str(rest[1])
        n = s.count(old) if old else len(s) + 1
        if len(rest) > 2 and isinstance(rest[2], int) and rest[2] >= 0:
            n = min(n, rest[2])
        if len(s) + n * max(0, len(new) - len(old)) > b.max_output:
            raise b.too_big("filter 'replace'")
    elif name == "join":
        sep = str(rest[0] if rest else kwargs.get("d", ""))
        n = len(value) if hasattr(value, "__len__") else 0
        if len(sep) * max(n - 1, 0) > b.max_output:
            raise b.too_big("filter 'join'")
    elif name == "format" and s is not None:
        _check_format(s, b)
    elif name == "center" and s is not None:
        width = int(rest[0] if rest else kwargs.get("width", 80) or 0)
        if width > b.max_output:
            raise b.too_big("filter 'center'")


def render_jinja(template: str, context: dict[str, Any], *, max_output: int = DEFAULT_MAX_OUTPUT,
                 max_operations: int = DEFAULT_MAX_OPERATIONS) -> str:
    """Render a Jinja (Tera-syntax) template over plain data, within the limits.

    Raises :class:`TemplateLimitError` when a limit is hit and ``jinja2.TemplateError`` (also
    ``SecurityError``) for template errors; other exceptions a template can provoke (``OverflowError``,
    ``RecursionError``, ``ZeroDivisionError``…) pass through for the caller to report.
    """
    budget = _Budget(max_output, max_operations)
    if len(template) > budget.max_produced:
        raise budget.too_big("the template text")
    _, env_cls = _jinja_classes()
    env = env_cls(budget)
    tpl = env.from_string(template)
    parts: list[str] = []
    size = 0
    for piece in tpl.generate(**context):
        size += len(piece)
        if size > max_output:
            raise budget.too_big("the rendered text")
        parts.append(piece)
    return "".join(parts)


# ------------------------------------------------------------------------------------------ mustache


def render_mustache(template: str, context: dict[str, Any], *, max_output: int = DEFAULT_MAX_OUTPUT,
                    max_operations: int = DEFAULT_MAX_OPERATIONS) -> str:
    """Render a Mustache template (pystache's parser, this renderer): variables, sections, inverted
    sections, comments and delimiter changes; no partials, no lambdas (the data is plain). Values are
    not HTML-escaped (as the tool always did). Bounded like :func:`render_jinja`."""
    from pystache.parser import parse

    budget = _Budget(max_output, max_operations)
    if len(template) > budget.max_produced:
        raise budget.too_big("the template text")
    tree = parse(template)
    out: list[str] = []
    size = [0]

    def emit(s: str) -> None:
        size[0] += len(s)
        if size[0] > max_output:
            raise budget.too_big("the rendered text")
        out.append(s)

    _render_nodes(tree._parse_tree, [context], emit, budget)
    return "".join(out)


_MISSING = object()


def _lookup(stack: list[Any], key: str) -> Any:
    if key == ".":
        return stack[-1]
    first, *rest = key.split(".")
    v: Any = _MISSING
    for frame in reversed(stack):
        if isinstance(frame, dict) and first in frame:
            v = frame[first]
            break
    for part in rest:
        if isinstance(v, dict) and part in v:
            v = v[part]
        else:
            return _MISSING
    return v


def _render_nodes(nodes: list[Any], stack: list[Any], emit: Callable[[str], None], budget: _Budget) -> None:
    for node in nodes:
        budget.tick()
        if isinstance(node, str):
            emit(node)
            continue
        kind = type(node).__name__
        if kind in ("_EscapeNode", "_LiteralNode"):
            v = _lookup(stack, node.key)
            if v is _MISSING or v is None:
                continue
            if not isinstance(v, str) and text_size(v, budget) > budget.max_output:
                raise budget.too_big("a value")
            emit(v if isinstance(v, str) else str(v))
        elif kind == "_SectionNode":
            v = _lookup(stack, node.key)
            if v is _MISSING or not v:
                continue
            items = v if isinstance(v, (list, tuple)) else [v]
            for item in items:
                budget.tick()
                stack.append(item)
                try:
                    _render_nodes(node.parsed._parse_tree, stack, emit, budget)
                finally:
                    stack.pop()
        elif kind == "_InvertedNode":
            v = _lookup(stack, node.key)
            if v is _MISSING or not v:
                _render_nodes(node.parsed_section._parse_tree, stack, emit, budget)
        # comments, delimiter changes and partials (no loader) render nothing
