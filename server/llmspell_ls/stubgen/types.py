"""A tiny parser for the model's type strings (LuaCATS-like), shared by both stub renderers.

Grammar: ``union := atom ('|' atom)*``; ``atom := '(' union ')' '[]'* | 'table<' union ',' union '>' '[]'* |
NAME '[]'*``. The result is a small tree the renderers turn into LuaCATS or TypeScript.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(table<|[()<>,|]|\[\]|[A-Za-z_][\w.\-]*|\S)")


@dataclass
class TypeNode:
    kind: str  # "name" | "array" | "union" | "map"
    name: str = ""
    items: list[TypeNode] | None = None


def parse_type(s: str) -> TypeNode:
    tokens = [m.group(1) for m in _TOKEN.finditer(s or "any")]
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        return tok

    def union() -> TypeNode:
        parts = [atom()]
        while peek() == "|":
            take()
            parts.append(atom())
        return parts[0] if len(parts) == 1 else TypeNode("union", items=parts)

    def atom() -> TypeNode:
        tok = take() if peek() is not None else "any"
        if tok == "(":
            node = union()
            if peek() == ")":
                take()
        elif tok == "table<":
            k = union()
            if peek() == ",":
                take()
            v = union()
            if peek() == ">":
                take()
            node = TypeNode("map", items=[k, v])
        else:
            node = TypeNode("name", name=tok)
        while peek() == "[]":
            take()
            node = TypeNode("array", items=[node])
        return node

    try:
        return union()
    except IndexError:
        return TypeNode("name", name="any")
