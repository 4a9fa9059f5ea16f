"""The fast diagnostics pass gives exactly the reference's diagnostics and symbols.

The fast path (``analyze_document``): statement results replayed for text met earlier in the same
pass and across versions (keyed on the text and on the *contents* of the top-level environment), the
chunk resolver (a name's binding occurrences listed once per chunk), the step-table memo, C-speed line
offsets. The reference (``analyze_document(..., reference=True)``): none of that, every statement checked
with the general scope resolver. Compared on the bundled examples (alone, concatenated as the benchmark
builds its spells, and mutated with mistakes and broken lines), on rs-llmspell-style spells, on a
generated large file, and along a sequence of edits.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from llmspell_ls.analysis.scopes import ChunkResolver, ScopeResolver, line_offsets
from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.documents import DocState, Documents
from llmspell_ls.features import diagnostics as D
from llmspell_ls.features.step_tables import check_step_tables

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES.parent / "benchmarks"))
from lsp.corpus import examples_spell  # noqa: E402  (the benchmark's spells)

MUTATIONS = [
    "Agent.bulder()",
    "Foo.bar()",
    "local x = Agent.builder():nam('x'):build()",
    "Tool.execute('nope', {})",
    "if x then",
    "Workflow.sequential({steps = {{type = 'tol', tool = 'calculator', toool = 1}}})",
    "Stat.get('k')",
    "x = Agent.builder()",
    "local Agent = 1",
    "agent = nil",
    "---@diagnostic disable-next-line",
    "end end",
    "Hook.register('BeforeX', function() end)",
    "local s = 'Agent.x' -- Agent.bulder",
    "builder:add_step({name = 's', type = 'tool', tool = 'calculatr', input = {expresion = '1'}})",
    "local café = Agent.builder():name('é')  -- non-ASCII",
]

RS_STYLE = """-- rs-llmspell style: globals without `local`, helpers before the tables that use them
function log_step(name, data)
    print("[" .. name .. "] " .. JSON.stringify(data))
end

config = { model = "openai/gpt-4o-mini", retries = 2 }
agent = Agent.builder():name("writer"):model(config.model):build()

local function run(input)
    local ok, result = pcall(function() return agent:execute({ text = input }) end)
    if not ok then
        log_step("error", { error = tostring(result) })
        return nil
    end
    return result
end

for i = 1, 3 do
    local r = run("hello " .. i)
    if r then log_step("done", r) end
end
"""




def mutated(text: str, k: int, seed: int = 7) -> str:
    rnd = random.Random(seed)
    lines = text.split("\n")
    for _ in range(k):
        lines.insert(rnd.randrange(len(lines)), rnd.choice(MUTATIONS))
    return "\n".join(lines)


def doc_of(text: str, lang: str = "lua", uri: str = "file:///w/spell.lua") -> DocState:
    return Documents().open(uri, text, 1, lang)  # type: ignore[arg-type]


def outcome(an: D.Analysis) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    return an.diagnostics, [(s.name, s.detail, s.kind, s.start, s.end, s.sel_start, s.sel_end) for s in an.symbols]


def reference(text: str, index: ApiIndex, lang: str = "lua") -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    return outcome(D.analyze_document(doc_of(text, lang), index, "utf-16", reference=True))


def fast(text: str, index: ApiIndex, lang: str = "lua") -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    return outcome(D.analyze_document(doc_of(text, lang), index, "utf-16"))


def cases() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for f in sorted(EXAMPLES.glob("*.lua")):
        out[f.name] = (f.read_text(encoding="utf-8"), "lua")
    for f in sorted(EXAMPLES.glob("*.js")):
        out[f.name] = (f.read_text(encoding="utf-8"), "javascript")
    out["examples wrapped x3"] = (examples_spell(2400), "lua")
    out["examples plain x3"] = (examples_spell(2400, wrap=False), "lua")
    out["examples js x3"] = (examples_spell(2400, wrap=False, suffix=".js"), "javascript")
    out["examples wrapped, mutated"] = (mutated(examples_spell(2400), 12), "lua")
    out["examples plain, mutated"] = (mutated(examples_spell(2400, wrap=False), 12, seed=3), "lua")
    out["rs style x8"] = (RS_STYLE * 8, "lua")
    out["rs style x8, mutated"] = (mutated(RS_STYLE * 8, 6, seed=11), "lua")
    return out


CASES = cases()


@pytest.mark.parametrize("name", list(CASES))
def test_fast_path_equals_the_reference(real_index: ApiIndex, name: str) -> None:
    text, lang = CASES[name]
    assert fast(text, real_index, lang) == reference(text, real_index, lang)


def test_fast_path_equals_the_reference_on_a_generated_large_file(real_index: ApiIndex) -> None:
    text = mutated(examples_spell(12_000), 8, seed=5) + RS_STYLE
    got, want = fast(text, real_index), reference(text, real_index)
    assert got == want
    assert len(want[0]) >= 5  # it does report things (the mutations)


def test_fast_path_equals_the_reference_along_edits(real_index: ApiIndex) -> None:
    text = mutated(examples_spell(6000), 6, seed=9)
    docs = Documents()
    doc = docs.open("file:///w/edit.lua", text, 1, "lua")
    D.analyze_document(doc, real_index, "utf-16")
    lines = text.split("\n")
    edits = [(10, " "), (len(lines) // 2, "Agent.bulder() "), (len(lines) // 3, "local zz = Tool.execute('x', {}) "),
             (len(lines) // 4, "if x then "), (len(lines) // 4, "end "), (5, "-- ")]
    for version, (row, ins) in enumerate(edits, 2):
        lines[row] = ins + lines[row]
        doc = docs.change(doc.uri, "\n".join(lines), version)
        assert outcome(D.analyze_document(doc, real_index, "utf-16")) == reference(doc.text, real_index), (row, ins)


def test_repeated_text_is_checked_once(real_index: ApiIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    """The benchmark's 50,000-line spell repeats the examples: each distinct chunk is checked once, the
    other copies are replayed (and still reported at their own places)."""
    calls = []
    api = D._Checker.api

    def counting(self: Any, start: int = 0, end: int | None = None) -> None:
        calls.append(start)
        api(self, start, end)

    monkeypatch.setattr(D._Checker, "api", counting)
    once = examples_spell(800)
    text = examples_spell(8000)
    doc = doc_of(text)
    an = D.analyze_document(doc, real_index, "utf-16")
    assert text.startswith(once)
    chunks = len(D.group_statements(text, [(c.start_byte, c.end_byte) for c in doc.tree.root_node.children]))
    assert len(calls) < chunks / 4
    # a mistake repeated in every copy is reported in every copy
    bad = examples_spell(8000).replace("Agent.builder()", "Agent.bulder()")
    bad_an = D.analyze_document(doc_of(bad), real_index, "utf-16")
    assert len([d for d in bad_an.diagnostics if d["code"] == "unknown-member"]) == bad.count("Agent.bulder()")
    assert an.diagnostics == reference(text, real_index)[0]


def test_chunk_resolver_answers_as_the_general_resolver() -> None:
    text = examples_spell(1200, wrap=True) + RS_STYLE * 2 + mutated(examples_spell(600, wrap=False), 5)
    doc = doc_of(text)
    general, chunked = ScopeResolver(doc), ChunkResolver(doc)
    bounds = D.group_statements(text, [(c.start_byte, c.end_byte) for c in doc.tree.root_node.children])
    seen = 0
    for s, e in bounds:
        chunked.set_chunk(s, e)
        general.clear()
        for m in re.finditer(r"[A-Za-z_]\w*", text[s:e]):
            at = s + m.start()
            b = general.to_byte(at)
            assert chunked.to_byte(at) == b and chunked.to_offset(b) == general.to_offset(b) == at
            for before in (at, s + m.end(), e):
                assert chunked.resolve(m.group(), before, s) == general.resolve(m.group(), before, s), (m.group(), at)
                seen += 1
    assert seen > 10_000
    assert not text.isascii()  # the per-line table and the ASCII-chunk shortcut are both exercised


def test_line_offsets_count_utf8_bytes() -> None:
    text = "a = 1\nlocal café = 'é—x'\n\n😀 = 2\nend"
    offs, boffs = line_offsets(text)
    lines = text.split("\n")
    want_o, want_b = [0], [0]
    for ln in lines:
        want_o.append(want_o[-1] + len(ln) + 1)
        want_b.append(want_b[-1] + len(ln.encode("utf-8", "surrogatepass")) + 1)
    assert (offs, boffs) == (want_o, want_b)
    assert line_offsets("x\ny") == ([0, 2, 4], [0, 2, 4])


def test_step_table_findings_are_placed_at_each_copy(real_index: ApiIndex) -> None:
    step = "b:add_step({name = 's', type = 'tool', tool = 'calculatr', toool = 1})\n"
    text = "local b = Workflow.builder()\n" + step + "print(1)\n" + step + "-- " + step + "local é = 1\n" + step
    doc = doc_of(text)
    got = [(d.range.start.line, d.range.start.character, d.code) for d in check_step_tables(doc, real_index)]
    want = [(d.range.start.line, d.range.start.character, d.code)
            for d in check_step_tables(doc_of(text), real_index, memo=False)]
    assert got == want
    assert sorted({line for line, _, _ in got}) == [1, 3, 6]  # not the commented-out copy


def test_anchors_are_the_anchor_regex_matches() -> None:
    from llmspell_ls.features.step_tables import _ANCHOR, anchors

    texts = [examples_spell(1500), examples_spell(900, wrap=False, suffix=".js"),
             "xadd_step({}) add_step({}) add_then_step ( { Workflowadd_step({ Workflow . sequential ({ "
             "wf.addStep({}) mapStep{ reduce_step\n{ Workflow.map_reduce({ _map_step({ Workflow.loop"]
    for text in texts:
        assert [(m.start(), m.end()) for m in anchors(text)] == [(m.start(), m.end()) for m in _ANCHOR.finditer(text)]


def _byte_edit_reference(old: bytes, new: bytes) -> tuple[int, int, int]:
    n = min(len(old), len(new))
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if old[:mid] == new[:mid] else (lo, mid - 1)
    start = lo
    lo, hi = 0, n - start
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if old[len(old) - mid:] == new[len(new) - mid:] else (lo, mid - 1)
    return start, len(old) - lo, len(new) - lo


@pytest.mark.parametrize("block", [1 << 15, 4, 1])
def test_byte_edit_finds_the_longest_prefix_and_suffix(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmspell_ls import documents

    monkeypatch.setattr(documents, "_EDIT_BLOCK", block)
    rnd = random.Random(block)
    for _ in range(2000):
        base = bytes(rnd.choice(b"ab\n") for _ in range(rnd.randrange(0, 60)))
        a0 = rnd.randrange(len(base) + 1)
        a1 = rnd.randrange(a0, len(base) + 1)
        new = base[:a0] + bytes(rnd.choice(b"ab") for _ in range(rnd.randrange(0, 5))) + base[a1:]
        assert documents.byte_edit(base, new) == _byte_edit_reference(base, new), (base, new)
    big = examples_spell(3000).encode()
    edited = big[:70_000] + b"x" + big[70_001:]
    assert documents.byte_edit(big, edited) == (70_000, 70_001, 70_001) == _byte_edit_reference(big, edited)
