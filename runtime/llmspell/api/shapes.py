"""Result shapes that rs-llmspell's bridge gives scripts (API notes §1.2), shared by Agent and Tool.

Scripts written for rs-llmspell read ``r.text``, ``r.success``, ``r.result.<field>``,
``r.error.message`` and ``r.metadata``; these functions produce exactly those tables.
"""

from __future__ import annotations

import json
import math
from typing import Any

_FLATTEN_KEYS = ("success", "result", "operation")


def output_table(
    text: str, metadata: dict[str, Any] | None = None, media: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """AgentOutput -> script table: JSON envelopes are flattened, other JSON goes to ``data``."""
    r: dict[str, Any] = {}
    decoded: Any = None
    parsed = False
    stripped = text.strip()
    if stripped[:1] in ("{", "[", '"') or stripped in ("true", "false") or _is_number(stripped):
        try:
            decoded = json.loads(stripped)
            parsed = True
        except ValueError:
            parsed = False
    if parsed and isinstance(decoded, dict) and any(k in decoded for k in _FLATTEN_KEYS):
        r.update(decoded)
        r["_raw_text"] = text
    elif parsed:
        r["data"] = decoded
        r["text"] = text
    else:
        r["text"] = text
    md: dict[str, Any] = {}
    for k, v in (metadata or {}).items():
        if k == "extra" and isinstance(v, dict):
            md.update(v)
        else:
            md[k] = v
    r["metadata"] = md
    if media:
        r["media"] = media
    return r


def _is_number(s: str) -> bool:
    try:
        f = float(s)
    except ValueError:
        return False
    return math.isfinite(f)


def envelope_body(operation: str, *, result: Any = None, message: str | None = None, success: bool = True,
                  error: str | None = None, code: str | None = None,
                  metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``llmspell-utils`` response envelope most tools emit, as a dict (keys in rs-llmspell's order)."""
    body: dict[str, Any] = {"operation": operation, "success": success}
    if message is not None:
        body["message"] = message
    if result is not None:
        body["result"] = result
    if error is not None:
        body["error"] = {"message": error, **({"code": code} if code else {})}
    if metadata:
        body["metadata"] = metadata
    return body


def envelope(operation: str, *, result: Any = None, message: str | None = None, success: bool = True,
             error: str | None = None, code: str | None = None, metadata: dict[str, Any] | None = None) -> str:
    """The ``llmspell-utils`` response envelope most tools emit, as JSON text."""
    body = envelope_body(operation, result=result, message=message, success=success, error=error, code=code,
                         metadata=metadata)
    return json.dumps(body, ensure_ascii=False, default=str)
