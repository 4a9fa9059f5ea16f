"""Undefined globals: ``Foo.bar()`` where ``Foo`` is not an API global, not a Lua/JS standard or engine
global, and never bound anywhere in the file → warning ``undefined-global`` ("undefined global 'Foo'").

Only names that are *indexed* (``Foo.x``, ``Foo:m()``, ``Foo[k]``) are reported: indexing nil fails at
run time for certain, while a plain read of an unset global is how Lua spells test optional settings
(``if DEBUG then``).

Zero false positives comes first, so "bound" is deliberately generous and flow-insensitive: a name
declared or assigned *anywhere* in the file (any scope, before or after the use, a table key, a
parameter, a loop variable, a destructured name) counts as defined; rs-llmspell spells assign their
globals at top level without ``local`` and call them from functions defined earlier.

Cost: one identifier regex and a few binding regexes over the text (C speed) find the candidate names;
only the occurrences of the (usually zero) candidates are checked against the tree-sitter tree, which
tells a real read (an ``identifier`` in an expression) from a member name, a table key, a string or a
comment. The typo check in :mod:`llmspell_ls.features.diagnostics` already reports names close to an
API global ("did you mean"); this pass skips what it reported. Its warnings go through the same
``@diagnostic disable-next-line`` suppressions (the hook sits before ``apply_suppressions``).
"""

from __future__ import annotations

import bisect
import re
from typing import Any

from tree_sitter import Node

from llmspell_ls.analysis import javascript as js_lang
from llmspell_ls.analysis import lua as lua_lang
from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.documents import DocState
from llmspell_ls.features.common import range_of

CODE = "undefined-global"
WARNING = 2
MAX_REPORTS = 200
"""At most this many diagnostics per document (a file full of undefined names says so soon enough)."""

LUA_GLOBALS = lua_lang.STDLIB | lua_lang.KEYWORDS | frozenset(
    "self _ENV warn loadstring setfenv getfenv module bit32 newproxy gcinfo jit".split()
)
"""Lua 5.4 base library and libraries, 5.1 names spells still use, ``self`` (implicit in ``function a:b()``)."""
JS_GLOBALS = js_lang.STDLIB | js_lang.KEYWORDS | frozenset(
    # the language (ES2023 globals) ...
    "this arguments eval encodeURI encodeURIComponent decodeURI decodeURIComponent escape unescape "
    "Function Int8Array Uint8Array Uint8ClampedArray Int16Array Uint16Array Int32Array Uint32Array "
    "Float32Array Float64Array BigInt64Array BigUint64Array ArrayBuffer SharedArrayBuffer DataView Atomics "
    "WeakRef FinalizationRegistry AggregateError EvalError ReferenceError SyntaxError URIError InternalError "
    "Intl AsyncFunction Generator GeneratorFunction AsyncGenerator AsyncGeneratorFunction Iterator "
    # ... and what the llmspell JS engine adds (llmspell.engines.js.ENGINE_GLOBALS_DTS)
    "sleep queueMicrotask exit process console setTimeout clearTimeout".split()
)

_IDENT = re.compile(r"[A-Za-z_$][\w$]*")
_LUA_STRIP = re.compile(r"--\[(=*)\[.*?\]\1\]|--[^\n]*|\[(=*)\[.*?\]\2\]|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'",
                        re.S)
_JS_STRIP = re.compile(r"/\*.*?\*/|//[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`", re.S)
# binding forms (generous: every name inside a matched group counts as bound); findall, one group each
_LUA_BINDS = [
    re.compile(r"(?<![.:\w])([A-Za-z_]\w*)[ \t]*=(?!=)"),  # x = ..., table keys {x = ...}
    re.compile(r"(?<![.:\w])([A-Za-z_]\w*)[ \t]*,(?=[\w \t,]*=(?!=))"),  # a, b = ...
    re.compile(r"\blocal[ \t]+(?:function[ \t]+)?([\w \t,<>]*)"),
    re.compile(r"\bfunction[ \t]+([A-Za-z_]\w*)[ \t]*\("),
    re.compile(r"\bfunction\b[^(\n]*\(([^)]*)\)"),
    re.compile(r"\bfor[ \t]+([\w \t,]+?)[ \t]+in\b"),
]
_JS_BINDS = [
    re.compile(r"(?<![.\w$])([A-Za-z_$][\w$]*)\s*(?:[-+*/%&|^]|\*\*|<<|>>>?|\?\?|&&|\|\|)?=(?![=>])"),
    re.compile(r"\b(?:const|let|var)\s+([^=;]*)"),
    re.compile(r"\b(?:function\*?|class)\s*([A-Za-z_$][\w$]*)"),
    re.compile(r"\bfunction\b[^(\n]*\(([^)]*)\)"),
    re.compile(r"\(([^()]*)\)\s*=>"),
    re.compile(r"([A-Za-z_$][\w$]*)\s*=>"),
    re.compile(r"\(([^()]*)\)\s*\{"),  # methods `f(a, b) {` and `catch (e) {` (also `if (x) {`: generous)
]
_HEAD = {
    "lua": re.compile(r"(?<![.:\w])([A-Za-z_]\w*)[ \t]*(?:\.(?![.\d])|:(?!:)|\[(?![\[=]))"),
    "javascript": re.compile(r"(?<![.\w$])([A-Za-z_$][\w$]*)[ \t]*(?:\??\.(?!\.)|\[)"),
}
"""Names indexed as a table/object (``Foo.x``, ``Foo:m()``, ``Foo[k]``), not after a member separator."""


def _bound_names(code: str, lang: str) -> set[str]:
    names: set[str] = set()
    for rx in _LUA_BINDS if lang == "lua" else _JS_BINDS:
        for group in rx.findall(code):
            if _IDENT.fullmatch(group):
                names.add(group)
            else:
                names.update(_IDENT.findall(group))
    return names


def _is_read(node: Node, lang: str) -> bool:
    """An identifier node used as a variable (not a member name, key, label …)."""
    if node.type != "identifier":
        return False
    parent = node.parent
    if parent is None:
        return False
    if lang == "lua":
        for kind, field in (("dot_index_expression", "field"), ("method_index_expression", "method"),
                            ("field", "name")):
            if parent.type == kind and parent.child_by_field_name(field) == node:
                return False
        return parent.type not in ("label_statement", "goto_statement", "attribute")
    return parent.type not in ("labeled_statement", "break_statement", "continue_statement")


def undefined_globals(doc: DocState, index: ApiIndex, enc: str,
                      reported: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """``undefined-global`` warnings for names read but never bound (see the module docstring)."""
    lang = doc.lang
    text = doc.text
    code = (_LUA_STRIP if lang == "lua" else _JS_STRIP).sub(" ", text)
    known = LUA_GLOBALS if lang == "lua" else JS_GLOBALS
    words = set(_HEAD[lang].findall(code)) - known
    words -= set(index.globals)
    if not words:
        return []
    words -= _bound_names(code, lang)
    if not words:
        return []
    seen = {(d["range"]["start"]["line"], d["range"]["start"]["character"])
            for d in reported or [] if d.get("code") == CODE}
    out: list[dict[str, Any]] = []
    root = doc.tree.root_node
    starts = [0] + [m.end() for m in re.finditer("\n", text)]  # tree-sitter rows end at "\n"
    for name in sorted(words):
        width = len(name.encode("utf-8"))
        for m in re.finditer(r"(?<![.:\w$])" + re.escape(name) + r"(?![\w$])", text):
            if not _HEAD[lang].match(text, m.start()):
                continue  # only indexing a nil global is certainly an error (a plain read may test it)
            row = bisect.bisect_right(starts, m.start()) - 1
            col = len(text[starts[row]: m.start()].encode("utf-8"))
            node = root.descendant_for_point_range((row, col), (row, col + width))
            if node is None or node.start_point != (row, col) or node.end_point != (row, col + width) \
                    or not _is_read(node, lang):
                continue
            rng = range_of(doc, m.start(), m.end(), enc)
            if (rng["start"]["line"], rng["start"]["character"]) in seen:
                continue
            out.append({"range": rng, "severity": WARNING, "code": CODE, "source": "llmspell",
                        "message": f"undefined global '{name}'"})
            if len(out) >= MAX_REPORTS:
                break
    out.sort(key=lambda d: (d["range"]["start"]["line"], d["range"]["start"]["character"]))
    return out[:MAX_REPORTS]


def with_undefined_globals(doc: DocState, index: ApiIndex, enc: str,
                           diags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``diags`` plus the undefined-global warnings not already among them (computed once per version)."""
    key = ("undefined-globals", id(index), enc)
    extra = doc.cache.get(key)
    if extra is None:
        extra = doc.cache[key] = undefined_globals(doc, index, enc, diags)
    return diags + extra if extra else diags
