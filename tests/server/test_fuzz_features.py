"""In-process fuzzing of every feature function over randomly edited documents (pygls applies the edits).

Faster than the protocol-level robustness test, so it can try more inputs; it found an IndexError on
empty trailing arguments (``f(a, )``). ``LLMSPELL_FUZZ_SEED`` picks other inputs.
"""

from __future__ import annotations

import os
import random

import pytest
from lsprotocol import types as lsp
from pygls.workspace import TextDocument
from test_robustness import JUNK, SPELL_JS, SPELL_LUA

from llmspell_ls.documents import Documents
from llmspell_ls.features.common import ClientOptions
from llmspell_ls.features.completion import completion
from llmspell_ls.features.diagnostics import diagnostics
from llmspell_ls.features.hover import hover
from llmspell_ls.features.signature import signature_help
from llmspell_ls.features.symbols import document_symbols

BASE_SEED = int(os.environ.get("LLMSPELL_FUZZ_SEED", "31"))


@pytest.mark.parametrize("seed", range(BASE_SEED, BASE_SEED + 3))
@pytest.mark.parametrize("ext", ["lua", "js"])
def test_features_never_raise(real_index, seed: int, ext: str) -> None:
    base, lang = (SPELL_LUA, "lua") if ext == "lua" else (SPELL_JS, "javascript")
    rnd = random.Random(seed)
    enc = rnd.choice(["utf-16", "utf-8"])
    opts = ClientOptions(encoding=enc, snippets=rnd.random() < 0.5, resolve_docs=rnd.random() < 0.5)
    uri = f"file:///fuzz.{ext}"
    td = TextDocument(uri, base, version=1)
    docs = Documents()
    docs.open(uri, base, 1, lang)  # type: ignore[arg-type]
    for step in range(50):
        if step % 15 == 14:
            text = [base[: rnd.randrange(len(base))],
                    bytes(rnd.randrange(256) for _ in range(2000)).decode("latin-1"),
                    "Agent." + "x" * 5000 + "\nlocal a = Agent.builder():",
                    base + "\ud800 broken \udfff" + base][step // 15 % 4]
            td.apply_change(lsp.TextDocumentContentChangeWholeDocument(text=text))
        else:
            lines = td.source.split("\n")

            def rp(lines: list[str] = lines) -> lsp.Position:
                line = rnd.randrange(len(lines) + 2)
                width = len(lines[line]) if line < len(lines) else 0
                return lsp.Position(line=line, character=rnd.randrange(width + 3))

            a, b = sorted((rp(), rp()), key=lambda p: (p.line, p.character))
            new = "".join(rnd.choice(JUNK) for _ in range(rnd.randrange(4)))
            try:
                td.apply_change(lsp.TextDocumentContentChangePartial(range=lsp.Range(start=a, end=b), text=new))
            except (IndexError, ValueError):
                continue  # pygls itself refuses some out-of-range edits; the server never sees those
        doc = docs.change(uri, td.source, step + 2)
        diagnostics(doc, real_index, enc)
        document_symbols(doc, real_index, enc)
        lines = td.source.split("\n")
        for _ in range(5):
            line = rnd.randrange(len(lines) + 2)
            ch = rnd.randrange((len(lines[line]) if line < len(lines) else 0) + 3)
            completion(doc, real_index, line, ch, opts)
            hover(doc, real_index, line, ch, opts)
            signature_help(doc, real_index, line, ch, opts)
