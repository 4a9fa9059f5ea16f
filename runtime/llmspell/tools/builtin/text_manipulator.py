"""text-manipulator: case changes, trimming, replacing, splitting, wrapping and friends."""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any, Literal

from pydantic import Field

from llmspell.core.errors import ValidationError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams

Operation = Literal[
    "uppercase", "lowercase", "reverse", "trim", "replace", "substring", "split", "join", "snake_case",
    "camel_case", "pascal_case", "kebab_case", "title_case", "sanitize", "truncate", "indent", "dedent",
    "normalize_whitespace", "word_wrap", "count",
]


class TextManipulatorParams(ToolParams):
    input: str = Field(description="The text to transform")
    operation: Operation = Field(description="The transformation to apply")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Per-operation options: replace {from, to}, substring {start, end}, split/join {separator}, "
                    "truncate {length, suffix}, indent {prefix|spaces}, word_wrap {width}")


def _words(s: str) -> list[str]:
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", s)
    return [w for w in re.split(r"[^A-Za-z0-9]+", s) if w]


class TextManipulatorTool(BuiltinTool):
    name = "text-manipulator"
    description = "Transform text: case conversion, trim, replace, substring, split/join, wrap, truncate, count"
    category = "utility"
    tags = ("text", "string", "format")
    Params = TextManipulatorParams

    async def run(self, p: TextManipulatorParams, ctx: ToolContext) -> dict[str, Any]:
        s, o, op = p.input, p.options, p.operation
        result: Any
        if op == "uppercase":
            result = s.upper()
        elif op == "lowercase":
            result = s.lower()
        elif op == "reverse":
            result = s[::-1]
        elif op == "trim":
            result = s.strip()
        elif op == "replace":
            if "from" not in o:
                raise ValidationError(f"{self.name}: operation 'replace' needs options.from (and options.to)")
            result = s.replace(str(o["from"]), str(o.get("to", "")))
        elif op == "substring":
            start = int(o.get("start", 0))
            end = o.get("end")
            result = s[start:int(end) if end is not None else None]
        elif op == "split":
            sep = o.get("separator", o.get("delimiter"))
            result = s.split(sep) if sep else s.split()
        elif op == "join":
            sep = str(o.get("separator", o.get("delimiter", " ")))
            try:
                parts = json.loads(s)
            except ValueError:
                parts = None
            if not isinstance(parts, list):
                parts = s.splitlines()
            result = sep.join(str(x) for x in parts)
        elif op == "snake_case":
            result = "_".join(w.lower() for w in _words(s))
        elif op == "kebab_case":
            result = "-".join(w.lower() for w in _words(s))
        elif op == "camel_case":
            ws = _words(s)
            result = (ws[0].lower() + "".join(w.capitalize() for w in ws[1:])) if ws else ""
        elif op == "pascal_case":
            result = "".join(w.capitalize() for w in _words(s))
        elif op == "title_case":
            result = s.title()
        elif op == "sanitize":
            result = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", s)
            result = re.sub(r"<[^>]*>", "", result)
        elif op == "truncate":
            length = int(o.get("length", o.get("max_length", 100)))
            suffix = str(o.get("suffix", "..."))
            result = s if len(s) <= length else s[: max(0, length - len(suffix))] + suffix
        elif op == "indent":
            prefix = str(o["prefix"]) if "prefix" in o else " " * int(o.get("spaces", 4))
            result = textwrap.indent(s, prefix)
        elif op == "dedent":
            result = textwrap.dedent(s)
        elif op == "normalize_whitespace":
            result = " ".join(s.split())
        elif op == "word_wrap":
            result = textwrap.fill(s, width=int(o.get("width", 80)))
        else:  # count
            result = {"characters": len(s), "words": len(s.split()), "lines": len(s.splitlines()) or (1 if s else 0)}
        out_len = len(result) if isinstance(result, (str, list)) else result.get("words", 0)
        return {"result": result, "operation": op, "original_length": len(s), "result_length": out_len}
