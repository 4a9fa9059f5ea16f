"""Script values as JSON values, with rs-llmspell's Lua->JSON rules: NaN and infinities become null,
table keys become strings, arrays and tuples become lists.

One walk serves ``JSON.stringify`` (which refuses functions and other objects, naming where they are)
and the state store (which leaves them for ``json.dumps`` to refuse), so both treat numbers and keys
the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


def _keep(v: Any, path: str) -> Any:
    return v


def finite_json(v: Any, on_other: Callable[[Any, str], Any] = _keep, path: str = "value") -> Any:
    """``v`` with non-finite floats replaced by ``None`` and dict keys made strings, recursively.

    ``on_other(value, path)`` decides what becomes of anything that is not None, a bool, a number, a
    string, a dict, a list or a tuple (by default it is kept as is); ``path`` names the value's place
    (``value.items[2]``, 1-based like Lua) for error messages.
    """
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): finite_json(x, on_other, f"{path}.{k}") for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [finite_json(x, on_other, f"{path}[{i + 1}]") for i, x in enumerate(v)]
    return on_other(v, path)
