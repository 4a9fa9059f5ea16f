"""Undefined globals: ``Foo.bar()`` where ``Foo`` is not an API global, not a Lua/JS standard or engine
global, and never bound anywhere in the file → warning ``undefined-global`` ("undefined global 'Foo'").

Only names that are *indexed* (``Foo.x``, ``Foo:m()``, ``Foo[k]``) are reported: indexing nil fails at
run time for certain, while a plain read of an unset global is how Lua spells test optional settings
(``if DEBUG then``).

Zero false positives comes first, so "bound" is deliberately generous and flow-insensitive: a name
declared or assigned *anywhere* in the file (any scope, before or after the use, a table key, a
parameter, a loop variable, a destructured name) counts as defined; rs-llmspell spells assign their
globals at top level without ``local`` and call them from functions defined earlier.

Cost: one identifier regex and a few binding regexes over the text (C speed) find the candidate names,
slice by slice between top-level statements (:func:`text_slices`: a checkpoint between slices, so the
pass runs under the diagnostics budget and never holds the GIL for long; slice results are reused
across passes and versions);
only the occurrences of the (usually zero) candidates are checked against the tree-sitter tree, which
tells a real read (an ``identifier`` in an expression) from a member name, a table key, a string or a
comment. The typo check in :mod:`llmspell_ls.features.diagnostics` already reports names close to an
API global ("did you mean"); this pass skips what it reported. Its warnings go through the same
``@diagnostic disable-next-line`` suppressions (the hook sits before ``apply_suppressions``).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from typing import Any

from tree_sitter import Node

from llmspell_ls.analysis import javascript as js_lang
from llmspell_ls.analysis import lua as lua_lang
from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.budget import checkpoint
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
    # a, b = ... (the look-ahead is bounded: unbounded, a long comma list without ``=`` is quadratic)
    re.compile(r"(?<![.:\w])([A-Za-z_]\w*)[ \t]*,(?=[\w \t,]{0,200}=(?!=))"),
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
    re.compile(r"(?<![\w$])([A-Za-z_$][\w$]*)\s*=>"),  # at a name's start only (else quadratic on long words)
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


SLICE_MIN_CHARS = 16_000
"""A slice of the text (for the regex passes) is at least this long ..."""
SLICE_MAX_CHARS = 128_000
"""... and is cut at the first chosen top-level statement after that; past this, at any top-level statement."""
_CUT = re.compile(r"\n(?=[A-Za-z_$])")
"""Where a slice may end: before a line that starts at column 0 (checked against the tree)."""


def _top_level_at(root: Node, row: int) -> bool:
    """Does a top-level statement start at column 0 of ``row`` (so no comment or string spans the cut)?"""
    node: Node | None = root.descendant_for_point_range((row, 0), (row, 0))
    while node is not None and node.parent is not None and node.parent.parent is not None:
        node = node.parent
    return node is not None and node.parent is not None and node.start_point == (row, 0)


def text_slices(doc: DocState) -> list[tuple[int, int]]:
    """String ranges covering the text, cut between top-level statements.

    Why slices: the regex passes cost ~0.5 s on 50,000 lines and ``re`` holds the GIL for a whole call;
    per slice they take a few ms, with a :func:`checkpoint` between (the diagnostics pass yields to
    requests there and stops at its budget). Why content-chosen cuts: a cut ends a slice at the first
    top-level line past ``SLICE_MIN_CHARS`` whose start hashes to 0 mod 8, so an edit moves the cuts of
    its own slice at most, and the other slices' results are reused from the previous version."""
    text = doc.text
    n = len(text)
    if n <= SLICE_MAX_CHARS:
        return [(0, n)]
    root = doc.tree.root_node
    out: list[tuple[int, int]] = []
    pos = 0
    row_at, row = 0, 0  # row of offset ``row_at``
    while pos < n:
        checkpoint()
        cut = -1
        fallback = -1
        for m in _CUT.finditer(text, min(n, pos + SLICE_MIN_CHARS), min(n, pos + SLICE_MAX_CHARS)):
            at = m.start() + 1
            head = text[at:at + 40]
            chosen = zlib.crc32(head.encode("utf-8", "surrogatepass")) & 7 == 0
            if not chosen and fallback >= 0:
                continue
            row += text.count("\n", row_at, at)
            row_at = at
            if not _top_level_at(root, row):
                continue
            if chosen:
                cut = at
                break
            fallback = at
        if cut < 0:
            cut = fallback if fallback >= 0 and pos + SLICE_MAX_CHARS < n else n
        out.append((pos, cut))
        if cut > row_at:
            row += text.count("\n", row_at, cut)
            row_at = cut
        pos = cut
    return out


def candidate_names(doc: DocState, index: ApiIndex) -> set[str]:
    """Names indexed somewhere but bound nowhere, neither known globals nor API globals. Per slice, the
    indexed names first and the bound names only when some indexed name is unknown (most spells: none);
    both are kept in ``doc.shared`` (keyed by the slice's text) for the next pass and the next version."""
    lang = doc.lang
    text = doc.text
    strip = _LUA_STRIP if lang == "lua" else _JS_STRIP
    cache: dict[tuple[int, int], list[frozenset[str] | None]] = doc.shared.setdefault(SLICE_CACHE, {})
    known = LUA_GLOBALS if lang == "lua" else JS_GLOBALS
    used: dict[tuple[int, int], list[frozenset[str] | None]] = {}
    pieces: list[tuple[tuple[int, int], int, int]] = []
    heads: set[str] = set()
    for s, e in text_slices(doc):
        checkpoint()
        if e - s > max(SLICE_SKIP_CHARS, 2 * SLICE_MAX_CHARS):
            return set()  # one statement of megabytes (generated): no guess (each regex would hold the GIL long)
        piece = text[s:e]
        key = (len(piece), hash(piece))  # no copy of the text kept per document
        got = cache.get(key)
        if got is None:
            got = cache[key] = [frozenset(_HEAD[lang].findall(strip.sub(" ", piece))), None]
        used[key] = got
        pieces.append((key, s, e))
        heads |= got[0] or frozenset()
    words = heads - known - set(index.globals)
    if words:
        for key, s, e in pieces:
            checkpoint()
            got = used[key]
            bound = got[1]
            if bound is None:
                bound = got[1] = frozenset(_bound_names(strip.sub(" ", text[s:e]), lang))
            words -= bound
            if not words:
                break
    cache.clear()  # complete: keep only this version's slices (bounded memory)
    cache.update(used)
    return words


SLICE_CACHE = "undefined-slices"
SLICE_SKIP_CHARS = 256 * 1024
"""A document with a top-level statement longer than this gets no undefined-global warnings: the regex
passes over it are single calls that hold the GIL (~0.1 s a megabyte each), stalling requests."""


NAMES_DONE = "undefined-names-done"


def progress(doc: DocState) -> int:
    """How many slices and names the pass has behind it (grows while a pass cut short by its budget
    resumes: each pass of a version continues where the last one stopped)."""
    return len(doc.shared.get(SLICE_CACHE) or ()) + len(doc.cache.get(NAMES_DONE) or ())


def _find_all(text: str, name: str) -> Iterator[int]:
    """Offsets of ``name`` as a whole word not after a member separator (``str.find``: C speed; a
    regex starting with a look-behind would try every position of the text)."""
    n = len(name)
    at = text.find(name)
    while at >= 0:
        prev = text[at - 1] if at > 0 else " "
        nxt = text[at + n:at + n + 1]
        if not (prev.isalnum() or prev in "_$.:") and not (nxt and (nxt.isalnum() or nxt in "_$")):
            yield at
        at = text.find(name, at + n)


def undefined_globals(doc: DocState, index: ApiIndex, enc: str,
                      reported: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """``undefined-global`` warnings for names read but never bound (see the module docstring).

    Calls :func:`~llmspell_ls.budget.checkpoint` between slices and every few occurrences: under the
    diagnostics pass's token it yields to requests and stops at the budget (raising ``Cancelled``; the
    slices done are kept, the next pass continues)."""
    lang = doc.lang
    words = candidate_names(doc, index)
    if not words:
        return []
    text = doc.text
    seen = {(d["range"]["start"]["line"], d["range"]["start"]["character"])
            for d in reported or [] if d.get("code") == CODE}
    out: list[dict[str, Any]] = []
    root = doc.tree.root_node
    done: dict[str, list[dict[str, Any]]] = doc.cache.setdefault(NAMES_DONE, {})
    for name in sorted(words):
        if name in done:  # checked by an earlier pass of this version (cut short by its budget)
            out.extend(done[name])
            continue
        mark = len(out)
        width = len(name.encode("utf-8"))
        row, row_at = 0, 0
        for i, at in enumerate(_find_all(text, name)):
            if not i & 63:
                checkpoint()
            if not _HEAD[lang].match(text, at):
                continue  # only indexing a nil global is certainly an error (a plain read may test it)
            row += text.count("\n", row_at, at)  # tree-sitter rows end at "\n"
            row_at = at
            line_start = text.rfind("\n", 0, at) + 1
            col = len(text[line_start:at].encode("utf-8"))
            node = root.descendant_for_point_range((row, col), (row, col + width))
            if node is None or node.start_point != (row, col) or node.end_point != (row, col + width) \
                    or not _is_read(node, lang):
                continue
            rng = range_of(doc, at, at + len(name), enc)
            if (rng["start"]["line"], rng["start"]["character"]) in seen:
                continue
            out.append({"range": rng, "severity": WARNING, "code": CODE, "source": "llmspell",
                        "message": f"undefined global '{name}'"})
            if len(out) >= MAX_REPORTS:
                break
        done[name] = out[mark:]
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
