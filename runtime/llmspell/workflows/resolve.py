"""Data flow between steps: placeholders in step inputs, resolved just before a step runs.

rs-llmspell's examples write ``{{input.text}}``, ``{{step.generate_id.result}}`` and ``$prev`` in
step inputs but its engine passed them through literally; here they are resolved:

* ``{{input}}``, ``{{input.<key>...}}`` — the workflow's input (a string input is ``{text = s}``);
* ``{{step.<name>.output}}`` — the step's primary value (``text`` of a tool's plain-text result,
  else its ``result``), ``{{step.<name>.result}}`` — its ``result`` field (or the primary value),
  ``{{step.<name>.<path>}}`` — any field of the step's output table (``result.uuid``);
* ``$prev`` / ``{{prev}}`` / ``{{prev.<path>}}`` — the previous step's output;
* ``{{shared.<key>}}`` — workflow shared data; ``{{loop.index}}``, ``{{loop.value}}``,
  ``{{loop.iteration}}`` inside loops; ``{{item}}`` (map step), ``{{map.results}}`` (reduce step);
* ``{{<key>}}`` — shorthand for ``{{input.<key>}}``, then ``{{shared.<key>}}``, then the primary
  value of the step named ``<key>`` (rs-llmspell's content-creator writes ``{{plan_content}}``).

A string that is exactly one placeholder becomes the referenced value itself (a table stays a
table); placeholders inside longer strings are replaced by text (tables as JSON). A placeholder
that cannot be resolved is left as written, so literal text with braces still works.
"""

from __future__ import annotations

import json
import re
from typing import Any

_PH = re.compile(r"\{\{\s*([A-Za-z_$][\w$\-]*(?:\.[\w\-]+)*)\s*\}\}")
_MISSING = object()


def primary(out: Any) -> Any:
    """The main value of a step output: ``text``, else ``result``, else ``output``, else the output."""
    if isinstance(out, dict):
        for k in ("text", "result", "output"):
            if k in out and out[k] is not None:
                return out[k]
    return out


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        return _MISSING
    if isinstance(obj, (list, tuple)):
        try:
            i = int(key)
        except ValueError:
            return _MISSING
        # Lua-style 1-based indices are what spells write
        if 1 <= i <= len(obj):
            return obj[i - 1]
        return _MISSING
    return getattr(obj, key, _MISSING) if not isinstance(obj, (str, int, float, bool)) else _MISSING


def _walk(obj: Any, parts: list[str]) -> Any:
    for p in parts:
        obj = _get(obj, p)
        if obj is _MISSING:
            return _MISSING
    return obj


class Scope:
    """What placeholders can see while one step's input is resolved."""

    def __init__(self, input: Any, outputs: dict[str, Any], shared: dict[str, Any], prev: Any = _MISSING,
                 extra: dict[str, Any] | None = None):
        self.input = input
        self.outputs = outputs
        self.shared = shared
        self.prev = prev
        self.extra = extra or {}

    def lookup(self, path: str) -> Any:
        parts = path.split(".")
        root, rest = parts[0], parts[1:]
        if root in ("$prev", "prev"):
            if self.prev is _MISSING:
                return _MISSING
            if rest and rest[0] == "output":
                return _walk(primary(self.prev), rest[1:])
            return _walk(self.prev, rest)
        if root == "input":
            return _walk(self.input, rest)
        if root in ("step", "steps"):
            if not rest or rest[0] not in self.outputs:
                return _MISSING
            out = self.outputs[rest[0]]
            tail = rest[1:]
            if not tail:
                return out
            if tail[0] == "output":
                return _walk(primary(out), tail[1:])
            if tail[0] == "result" and not (isinstance(out, dict) and "result" in out):
                return _walk(primary(out), tail[1:])
            return _walk(out, tail)
        if root in ("shared", "shared_data"):
            return _walk(self.shared, rest)
        if root in self.extra:
            return _walk(self.extra[root], rest)
        for base in (self.input, self.shared):
            v = _walk(base, parts)
            if v is not _MISSING:
                return v
        if root in self.outputs:  # ``{{plan_content}}``: a step's output by its bare name
            return _walk(primary(self.outputs[root]), rest)
        return _MISSING

    def resolve(self, value: Any) -> Any:
        """Resolve placeholders anywhere inside ``value`` (strings, lists, tables)."""
        if isinstance(value, str):
            return self._resolve_str(value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _resolve_str(self, s: str) -> Any:
        if "{{" not in s and "$prev" not in s:
            return s
        stripped = s.strip()
        if stripped == "$prev":
            return self.prev if self.prev is not _MISSING else s
        m = _PH.fullmatch(stripped)
        if m:
            v = self.lookup(m.group(1))
            return s if v is _MISSING else v

        def sub(mm: re.Match[str]) -> str:
            v = self.lookup(mm.group(1))
            return mm.group(0) if v is _MISSING else to_text(v)

        out = _PH.sub(sub, s)
        if "$prev" in out and self.prev is not _MISSING:
            out = re.sub(r"\$prev\b", lambda _m: to_text(primary(self.prev)), out)
        return out


# Fields that hold a tool result's main value, in the order they are preferred (text-manipulator's
# ``result.result``, base64's ``output``, uuid-generator's ``uuid``, hash-calculator's ``hash``...).
_MAIN_KEYS = ("text", "result", "output", "rendered", "uuid", "hash", "id", "value", "content")


def main_text(v: Any) -> str:
    """The text a table stands for when a placeholder puts it where a string is expected.

    rs-llmspell spells write ``input = "{{step.hash.result}}"`` for a tool's string parameter; the
    step's ``result`` is a table (``{algorithm, hash, format}``), so its main field is used; a table
    without one becomes JSON text.
    """
    for _ in range(8):
        if not isinstance(v, dict):
            break
        for k in _MAIN_KEYS:
            if v.get(k) is not None:
                v = v[k]
                break
        else:
            break
    return to_text(v)


def to_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, dict) and set(v) >= {"text"} and isinstance(v.get("text"), str):
        return v["text"]
    return json.dumps(v, ensure_ascii=False, default=str)


MISSING = _MISSING
