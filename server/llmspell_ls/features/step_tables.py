"""Checks inside workflow step tables: ``builder:add_step({name = …, type = "tool", tool = "…", input = {…}})``.

Found where a step table is certain: the argument table of ``add_step`` / ``add_then_step`` /
``add_else_step`` / ``map_step`` / ``reduce_step`` (Lua ``:`` or JS ``.``), and the elements of ``steps`` /
``body`` in the configuration table of ``Workflow.sequential/parallel/loop/conditional/map_reduce``.

================  =========  ==============================================================
code              severity   what
================  =========  ==============================================================
unknown-step-key  Warning    a key that no step takes (``tols = …``), with "did you mean"
unknown-step-type Error      ``type = "x"`` that is not tool|agent|workflow|function|template
unknown-tool      Warning    ``tool = "x"`` naming no builtin tool (skipped when the spell registers tools;
                             ``text_manipulator`` is ``text-manipulator``, as the runtime resolves it)
unknown-tool-param Info      a key of a tool step's ``input`` table that the tool does not take (the runtime
                             ignores it, so this is information, not a warning)
================  =========  ==============================================================

Only literal keys and literal string values are judged (anything computed is left alone), so a spell
written in rs-llmspell's style gets no false positive.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from lsprotocol import types as lsp

from llmspell_ls.analysis.common import Tok, match_table, spec_for, tokenize
from llmspell_ls.apimodel import ApiIndex, Field
from llmspell_ls.budget import checkpoint
from llmspell_ls.documents import DocState
from llmspell_ls.features.common import pos_of

STEP_METHODS = ("add_step", "add_then_step", "add_else_step", "map_step", "reduce_step")
_ANCHOR = re.compile(r"\b(?:add_step|add_then_step|add_else_step|map_step|reduce_step|addStep|addThenStep|"
                     r"addElseStep|mapStep|reduceStep)\s*\(?\s*\{|\bWorkflow\s*\.\s*(?:sequential|parallel|loop|"
                     r"conditional|map_reduce|mapReduce)\s*\(?\s*\{")
_ANCHOR_WORDS = re.compile(r"add_step|add_then_step|add_else_step|map_step|reduce_step|addStep|addThenStep|"
                           r"addElseStep|mapStep|reduceStep|Workflow")
"""Where an anchor can start: the first words of ``_ANCHOR`` without its leading ``\\b``, which keeps
``re`` from scanning for them as literals (a ``_ANCHOR`` search over 2 MB took ~50 ms, these ~6 ms)."""


def anchors(text: str) -> Iterator[re.Match[str]]:
    """The matches of ``_ANCHOR.finditer(text)``, found by matching ``_ANCHOR`` only where one of its
    words starts (an anchor cannot start inside such a word: its ``\\b`` needs a non-word character
    before it, and the words are all word characters)."""
    last = 0
    for w in _ANCHOR_WORDS.finditer(text):
        at = w.start()
        if at < last:
            continue
        m = _ANCHOR.match(text, at)
        if m is not None:
            last = m.end()
            yield m


STEP_RECORD = "WorkflowStep"
SOURCE = "llmspell"
MAX_TABLE_TOKENS = 20000
MAX_TABLE_CHARS = 262_144


_GROW = "grow"
"""Memo value: the table does not close inside this window (the next, larger window decides)."""
MEMO = "step-tables"


def check_step_tables(doc: DocState, index: ApiIndex, enc: str = "utf-16", memo: bool = True) -> list[lsp.Diagnostic]:
    """Diagnostics for every step table in ``doc`` (see the module docstring).

    Each anchor's result is a function of the text of its line before the table, the table's window of
    text and whether the spell registers tools; it is memoised on those (by length and hash, no copy of
    the text kept), with offsets relative to the table's brace, in ``doc.shared``: a table met again —
    further down the file, or unchanged after an edit elsewhere — costs two hashes instead of a
    tokenization. ``memo=False``: nothing memoised or reused (the reference the tests compare with)."""
    text = doc.text
    if "step" not in text and "Workflow" not in text:
        return []
    rec = index.records.get(STEP_RECORD)
    if rec is None:
        return []
    fields = {f.lname(doc.lang): f for f in rec.fields}
    type_values = next((f.values for f in rec.fields if f.name == "type" and f.values), None)
    spec = spec_for(doc.lang)
    checker = _Checker(doc, index, spec, fields, type_values or [], enc)
    kept: dict[Any, Any] = doc.shared.setdefault((MEMO, id(index), enc), {}) if memo else {}
    fresh: dict[Any, Any] = {}
    n_text = len(text)
    for n, m in enumerate(anchors(text)):
        if not n & 63:
            checkpoint()  # a cancelled or over-budget request stops here
        brace = m.end() - 1
        line_start = text.rfind("\n", 0, m.start()) + 1
        prefix = text[line_start:brace]
        head = (len(prefix), hash(prefix), checker._registers)
        # tokens of this table only, in growing windows until its brace closes: the cost follows the
        # step tables, not the document (a whole-document scan per anchor took minutes on 8,000 lines)
        size = 256
        while True:
            end = min(n_text, brace + size)
            window = text[brace:end]
            key = (head, len(window), hash(window), end == n_text)
            got = fresh.get(key) if memo else None
            if got is None:
                got = kept.get(key)
            if got is None:
                got = _check_window(checker, spec, text, m, brace, end, size)
            if memo:
                fresh[key] = got
            if got is not _GROW:
                break
            size *= 4
        for a, b, code, severity, message in got:
            checker.diag_at(brace + a, brace + b, code, severity, message)
    if memo:
        kept.clear()  # keep only this version's tables (bounded memory)
        kept.update(fresh)
    return checker.out


def _check_window(checker: _Checker, spec: ModuleType, text: str, m: re.Match[str], brace: int, end: int,
                  size: int) -> Any:
    """The findings (relative to ``brace``) of the table opening at ``brace``, read from the window up to
    ``end``; ``_GROW`` when it does not close there and a larger window may be read."""
    if size == 256 and _in_comment_or_string(spec, text, m.start()):
        return ()
    toks = tokenize(spec, text, brace, end)
    match = match_table(toks)
    close = match.get(0, len(toks))
    if not (close < len(toks) or end == len(text) or size >= MAX_TABLE_CHARS):
        return _GROW
    if not toks or toks[0].text != "{" or close - 0 > MAX_TABLE_TOKENS:
        return ()
    checker.raw = []
    if m.group().lstrip().startswith("Workflow"):
        checker.config_table(toks, 0, close, match)
    else:
        checker.step_table(toks, 0, close, match)
    return tuple((a - brace, b - brace, *rest) for a, b, *rest in checker.raw)


def _in_comment_or_string(spec: ModuleType, text: str, at: int) -> bool:
    line_start = text.rfind("\n", 0, at) + 1
    toks = tokenize(spec, text, line_start, at)
    rest = text[toks[-1].end if toks else line_start:at]
    if "--" in rest or "//" in rest:
        return True
    return bool(toks) and toks[-1].kind == "string" and not spec.string_closed(toks[-1].text)


class _Checker:
    def __init__(self, doc: DocState, index: ApiIndex, spec: ModuleType, fields: dict[str, Field],
                 type_values: list[str], enc: str):
        self.doc = doc
        self.index = index
        self.spec = spec
        self.fields = fields
        self.type_values = type_values
        self.enc = enc
        self.out: list[lsp.Diagnostic] = []
        self.raw: list[tuple[int, int, str, lsp.DiagnosticSeverity, str]] = []
        self._registers = "Tool.register" in doc.text or "Tool.register" in doc.text.replace(" ", "")

    def diag(self, tok: Tok, code: str, severity: lsp.DiagnosticSeverity, message: str,
             start: int | None = None, end: int | None = None) -> None:
        """Record a finding by string offsets (see :func:`check_step_tables`: memoised, then placed)."""
        self.raw.append((tok.start if start is None else start, tok.end if end is None else end, code, severity,
                         message))

    def diag_at(self, start: int, end: int, code: str, severity: lsp.DiagnosticSeverity, message: str) -> None:
        s = pos_of(self.doc, start, self.enc)
        e = pos_of(self.doc, end, self.enc)
        self.out.append(lsp.Diagnostic(
            range=lsp.Range(start=lsp.Position(**s), end=lsp.Position(**e)),
            message=message, severity=severity, code=code, source=SOURCE))

    def entries(self, toks: list[Tok], open_i: int, close_i: int,
                match: dict[int, int]) -> list[tuple[Tok | None, int, int]]:
        """(key token or None for a positional element, value start, value end) of a table's entries."""
        out: list[tuple[Tok | None, int, int]] = []
        i = open_i + 1
        kv = self.spec.KEY_VALUE_SEP
        while i < close_i:
            start = i
            key: Tok | None = None
            if i + 1 < close_i and toks[i].kind in ("name", "string") and toks[i + 1].text == kv \
                    and toks[i + 1].kind == "op":
                key = toks[i]
                i += 2
            elif toks[i].text == "[" and toks[i].kind == "op":  # ``["k"] = v``: computed, skip the key
                i = match.get(i, close_i) + 1
                if i < close_i and toks[i].text == kv:
                    i += 1
            vstart = i
            depth_block = 0
            while i < close_i:
                t = toks[i]
                if t.kind == "op" and t.text in "([{":
                    i = match.get(i, close_i) + 1
                    continue
                if t.kind == "name" and t.text in self.spec.BLOCK_OPEN:
                    depth_block += 1
                elif t.kind == "name" and t.text in self.spec.BLOCK_CLOSE:
                    depth_block -= 1
                elif depth_block <= 0 and t.kind == "op" and t.text in (",", ";"):
                    break
                i += 1
            if i > start:
                out.append((key, vstart, i))
            i += 1
        return out

    def config_table(self, toks: list[Tok], open_i: int, close_i: int, match: dict[int, int]) -> None:
        """``Workflow.sequential({steps = {{…}, {…}}})``: check each element of ``steps``/``body``."""
        for key, vs, ve in self.entries(toks, open_i, close_i, match):
            if key is None or key.kind != "name" or key.text not in ("steps", "body"):
                continue
            if vs < ve and toks[vs].text == "{" and match.get(vs) == ve - 1:
                for k2, s2, e2 in self.entries(toks, vs, ve - 1, match):
                    if k2 is None and s2 < e2 and toks[s2].text == "{" and match.get(s2) == e2 - 1:
                        self.step_table(toks, s2, e2 - 1, match)

    def step_table(self, toks: list[Tok], open_i: int, close_i: int, match: dict[int, int]) -> None:
        spec = self.spec
        values: dict[str, tuple[Tok, str]] = {}
        tables: dict[str, tuple[int, int]] = {}
        for key, vs, ve in self.entries(toks, open_i, close_i, match):
            if key is None:
                continue
            name = key.text if key.kind == "name" else str(spec.string_value(key.text))
            if name not in self.fields:
                close = difflib.get_close_matches(name, list(self.fields), n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.diag(key, "unknown-step-key", lsp.DiagnosticSeverity.Warning,
                          f"a workflow step has no key '{name}'{hint}")
                continue
            if ve - vs == 1 and toks[vs].kind == "string" and spec.string_closed(toks[vs].text):
                values[name] = (toks[vs], str(spec.string_value(toks[vs].text)))
            elif vs < ve and toks[vs].text == "{" and match.get(vs) == ve - 1:
                tables[name] = (vs, ve - 1)
        if "type" in values and self.type_values:
            tok, v = values["type"]
            if v not in self.type_values:
                close = difflib.get_close_matches(v, self.type_values, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.diag(tok, "unknown-step-type", lsp.DiagnosticSeverity.Error,
                          f"unknown step type '{v}' (one of {', '.join(self.type_values)}){hint}")
        step_type = values.get("type", (None, "tool"))[1]
        if "tool" in values and step_type == "tool":
            tok, v = values["tool"]
            tool = self.index.tools.get(v) or self.index.tools.get(v.replace("_", "-").lower())
            if tool is None:
                if not self._registers:
                    close = difflib.get_close_matches(v, list(self.index.tools), n=1, cutoff=0.6)
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    self.diag(tok, "unknown-tool", lsp.DiagnosticSeverity.Warning, f"unknown tool '{v}'{hint}")
            elif "input" in tables:
                known = [p.name for p in tool.parameters]
                a, b = tables["input"]
                for k3, _, _ in self.entries(toks, a, b, match):
                    if k3 is None or k3.kind != "name" or k3.text in known:
                        continue
                    close = difflib.get_close_matches(k3.text, known, n=1, cutoff=0.6)
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    self.diag(k3, "unknown-tool-param", lsp.DiagnosticSeverity.Information,
                              f"tool '{v}' has no parameter '{k3.text}'{hint}")
