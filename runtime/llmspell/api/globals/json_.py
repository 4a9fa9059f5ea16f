"""``JSON``: parse and stringify, with rs-llmspell's conversion rules."""

from __future__ import annotations

import json
import math
from typing import Any

from llmspell.api.decl import ApiGlobal, ScriptFunction, api_global, expose
from llmspell.core.errors import ValidationError


def _plain(v: Any, path: str) -> Any:
    """Script value -> JSON value; NaN/inf -> null, functions and other objects raise."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _plain(x, f"{path}.{k}") for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x, f"{path}[{i + 1}]") for i, x in enumerate(v)]
    kind = "function" if isinstance(v, ScriptFunction) or callable(v) else type(v).__name__
    raise ValidationError(f"JSON stringify error: cannot convert a {kind} to JSON (at {path})")


@api_global("JSON")
class JsonGlobal(ApiGlobal):
    """JSON encoding and decoding.

    Tables with consecutive integer keys 1..n become arrays, other tables objects, an empty table ``{}``;
    JSON null becomes nil.
    """

    @expose
    def parse(self, text: str) -> Any:
        """Decode a JSON string.

        Args:
            text: The JSON text.

        Returns:
            The decoded value (objects become tables, arrays 1-based tables, null nil).
        """
        if not isinstance(text, str):
            raise ValidationError(f"JSON parse error: expected a string, got {type(text).__name__}")
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ValidationError(f"JSON parse error: {e.msg} at line {e.lineno} column {e.colno}") from e

    @expose
    def stringify(self, value: Any) -> str:
        """Encode a value as compact JSON.

        Args:
            value: A table, string, number, boolean or nil; functions cannot be encoded.

        Returns:
            The JSON text (no extra whitespace; NaN and infinities become null).
        """
        return json.dumps(_plain(value, "value"), ensure_ascii=False, separators=(",", ":"))
