"""``JSON``: parse and stringify, with rs-llmspell's conversion rules."""

from __future__ import annotations

import json
from typing import Any

from llmspell.api.decl import ApiGlobal, ScriptFunction, api_global, expose
from llmspell.core.errors import ValidationError
from llmspell.core.values import finite_json


def _refuse(v: Any, path: str) -> Any:
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
        return json.dumps(finite_json(value, _refuse), ensure_ascii=False, separators=(",", ":"))
