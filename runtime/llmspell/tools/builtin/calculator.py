"""calculator: a safe arithmetic evaluator written over Python's ``ast`` (never ``eval``).

Only a whitelist of nodes is interpreted: numbers, booleans, variables, + - * / // % ** ^, unary
minus, comparisons, and/or/not, ``a if c else b`` and calls of the functions in :data:`FUNCTIONS`.
``^`` means power, as in rs-llmspell's evaluator (fasteval). Sizes are bounded so an expression
cannot exhaust memory or CPU (``9**9**9`` is refused).
"""

from __future__ import annotations

import ast
import math
import operator
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from llmspell.core.types import ToolOutput
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams, envelope_output

MAX_EXPRESSION_CHARS = 2000
MAX_NODES = 500
MAX_EXPONENT = 10_000
MAX_INT_BITS = 4096


class CalcError(Exception):
    """An expression that cannot be evaluated; the message says why."""


def _round(x: float, nd: int = 0) -> float:
    return round(x, int(nd)) if nd else float(round(x))


FUNCTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "abs": (abs, "absolute value"),
    "sqrt": (math.sqrt, "square root"),
    "cbrt": (lambda x: math.copysign(abs(x) ** (1 / 3), x), "cube root"),
    "exp": (math.exp, "e raised to x"),
    "ln": (math.log, "natural logarithm"),
    # fasteval's convention: log(x) is base 10, log(b, x) is base b
    "log": (lambda a, b=None: math.log10(a) if b is None else math.log(b, a), "log(x) base 10; log(b, x) base b"),
    "log2": (math.log2, "base-2 logarithm"),
    "log10": (math.log10, "base-10 logarithm"),
    "sin": (math.sin, "sine (radians)"),
    "cos": (math.cos, "cosine (radians)"),
    "tan": (math.tan, "tangent (radians)"),
    "asin": (math.asin, "arc sine"),
    "acos": (math.acos, "arc cosine"),
    "atan": (math.atan, "arc tangent"),
    "atan2": (math.atan2, "atan2(y, x)"),
    "sinh": (math.sinh, "hyperbolic sine"),
    "cosh": (math.cosh, "hyperbolic cosine"),
    "tanh": (math.tanh, "hyperbolic tangent"),
    "floor": (math.floor, "round down"),
    "ceil": (math.ceil, "round up"),
    "round": (_round, "round(x) or round(x, digits)"),
    "trunc": (math.trunc, "drop the fraction"),
    "min": (min, "smallest argument"),
    "max": (max, "largest argument"),
    "pow": (lambda a, b: _pow(a, b), "pow(x, y) = x^y"),
    "hypot": (math.hypot, "sqrt(x^2 + y^2 ...)"),
    "sign": (lambda x: (x > 0) - (x < 0), "-1, 0 or 1"),
    "factorial": (lambda n: _factorial(n), "n! for integers 0..1000"),
    "deg": (math.degrees, "radians to degrees"),
    "rad": (math.radians, "degrees to radians"),
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf}

_BIN: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_CMP: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
OPERATORS = ["+", "-", "*", "/", "//", "%", "^", "**", "==", "!=", "<", "<=", ">", ">=", "and", "or", "not",
             "x if cond else y"]


def _pow(a: Any, b: Any) -> Any:
    if isinstance(b, (int, float)) and abs(b) > MAX_EXPONENT:
        raise CalcError(f"exponent {b} is too large (limit {MAX_EXPONENT})")
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a not in (0, 1, -1):
        if b * max(abs(a).bit_length(), 1) > MAX_INT_BITS:
            raise CalcError("result is too large")
    try:
        r = a ** b
    except OverflowError as e:
        raise CalcError("result is too large") from e
    if isinstance(r, complex):
        raise CalcError("result is not a real number")
    return r


def _factorial(n: Any) -> int:
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if not isinstance(n, int) or n < 0 or n > 1000:
        raise CalcError("factorial needs an integer between 0 and 1000")
    return math.factorial(n)


def _prepare(expr: str) -> ast.Expression:
    if len(expr) > MAX_EXPRESSION_CHARS:
        raise CalcError(f"expression is longer than {MAX_EXPRESSION_CHARS} characters")
    src = expr.replace("^", "**").replace("&&", " and ").replace("||", " or ")
    try:
        tree = ast.parse(src.strip(), mode="eval")
    except SyntaxError as e:
        raise CalcError(f"syntax error at column {e.offset or 0}: {e.msg}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalcError(f"expression has more than {MAX_NODES} parts")
    return tree


class Evaluator:
    """Walks a parsed expression; anything not whitelisted is a :class:`CalcError`."""

    def __init__(self, variables: dict[str, Any]):
        self.vars = variables

    def eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return self.eval(node.body)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or isinstance(node.value, (int, float)):
                return node.value
            raise CalcError(f"unsupported literal {node.value!r}")
        if isinstance(node, ast.Name):
            if node.id in self.vars:
                return self.vars[node.id]
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            if node.id in ("true", "false"):
                return node.id == "true"
            raise CalcError(f"unknown variable '{node.id}'")
        if isinstance(node, ast.BinOp):
            left, right = self.eval(node.left), self.eval(node.right)
            if isinstance(node.op, ast.Pow):
                return _pow(left, right)
            fn = _BIN.get(type(node.op))
            if fn is None:
                raise CalcError(f"operator {type(node.op).__name__} is not supported")
            try:
                return fn(left, right)
            except ZeroDivisionError:
                raise CalcError("division by zero") from None
        if isinstance(node, ast.UnaryOp):
            v = self.eval(node.operand)
            if isinstance(node.op, ast.USub):
                return -v
            if isinstance(node.op, ast.UAdd):
                return +v
            if isinstance(node.op, ast.Not):
                return not v
            raise CalcError("unsupported unary operator")
        if isinstance(node, ast.BoolOp):
            vals = [self.eval(v) for v in node.values]
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        if isinstance(node, ast.Compare):
            left = self.eval(node.left)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self.eval(comp)
                fn = _CMP.get(type(op))
                if fn is None:
                    raise CalcError("unsupported comparison")
                if not fn(left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                name = node.func.id if isinstance(node.func, ast.Name) else "?"
                raise CalcError(f"unknown function '{name}' (Calculator functions: {', '.join(FUNCTIONS)})")
            args = [self.eval(a) for a in node.args]
            try:
                return FUNCTIONS[node.func.id][0](*args)
            except CalcError:
                raise
            except (ValueError, TypeError, OverflowError, ZeroDivisionError) as e:
                raise CalcError(f"{node.func.id}: {e}") from None
        raise CalcError(f"'{type(node).__name__}' is not allowed in an expression")


def evaluate(expression: str, variables: dict[str, Any] | None = None) -> Any:
    """Evaluate ``expression`` safely; raises :class:`CalcError`."""
    vars_: dict[str, Any] = {}
    for k, v in (variables or {}).items():
        if isinstance(v, bool) or isinstance(v, (int, float)):
            vars_[k] = v
        else:
            raise CalcError(f"variable '{k}' must be a number, got {type(v).__name__}")
    return Evaluator(vars_).eval(_prepare(expression))


def _result_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    return "float"


class CalculatorParams(ToolParams):
    operation: Literal["evaluate", "validate", "functions"] = Field(
        "evaluate", description="evaluate, validate (syntax only) or functions (list what is available)")
    input: str | None = Field(None, description="The expression, e.g. 'sqrt(x^2 + y^2)'")
    expression: str | None = Field(None, description="Alias of `input`")
    variables: dict[str, float | int | bool] = Field(default_factory=dict, description="Variables by name")


class CalculatorTool(BuiltinTool):
    name = "calculator"
    description = "Evaluate arithmetic and logical expressions safely, with variables and math functions"
    category = "utility"
    tags = ("math", "calculator", "expression")
    Params = CalculatorParams

    async def run(self, p: CalculatorParams, ctx: ToolContext) -> ToolOutput:
        if p.operation == "functions":
            return envelope_output("functions", {
                "functions": {k: d for k, (_, d) in FUNCTIONS.items()},
                "operators": OPERATORS,
                "constants": list(CONSTANTS),
            })
        expr = p.input if p.input is not None else p.expression
        if expr is None or not expr.strip():
            from llmspell.core.errors import ValidationError

            raise ValidationError(f"{self.name}: parameter 'input' is required (the expression)")
        t0 = time.perf_counter()
        if p.operation == "validate":
            try:
                _prepare(expr)
                tree_ok, err = True, None
            except CalcError as e:
                tree_ok, err = False, str(e)
            res: dict[str, Any] = {"valid": tree_ok, "input": expr}
            if err:
                res["error"] = err
            return envelope_output("validate", res)
        try:
            value = evaluate(expr, p.variables)
        except CalcError as e:
            return envelope_output("evaluate", None, success=False, error=f"Evaluation failed: {e}",
                                   code="EVALUATION_ERROR")
        elapsed = (time.perf_counter() - t0) * 1000.0
        if isinstance(value, float) and not math.isfinite(value):
            return envelope_output("evaluate", None, success=False, error="result is not a finite number",
                                   code="EVALUATION_ERROR")
        return envelope_output(
            "evaluate",
            {"input": expr, "result": value, "result_type": _result_type(value), "variables": p.variables},
            extra={"resource_usage": {"evaluation_time_ms": round(elapsed, 4)}},
        )
