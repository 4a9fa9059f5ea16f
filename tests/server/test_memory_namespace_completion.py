"""The language server resolves namespaces of globals (``Memory.episodic.``) from the real model."""

from __future__ import annotations

from lsp_helpers import doc_at, labels

from llmspell_ls.features.completion import completion
from llmspell_ls.features.hover import hover


def complete(index, opts, text: str, lang: str = "lua"):
    doc, line, ch = doc_at(text, lang)
    return completion(doc, index, line, ch, opts)


def test_memory_members_include_its_namespaces(real_index, opts) -> None:
    got = set(labels(complete(real_index, opts, "Memory.|")))
    assert {"episodic", "semantic", "consolidate", "stats"} <= got


def test_namespace_members_are_static_functions_in_lua(real_index, opts) -> None:
    assert set(labels(complete(real_index, opts, "Memory.episodic.|"))) == {"add", "search"}
    assert labels(complete(real_index, opts, "Memory.semantic.|")) == ["query"]
    assert labels(complete(real_index, opts, "Memory.episodic:|")) == []


def test_namespace_members_in_js(real_index, opts) -> None:
    got = labels(complete(real_index, opts, "await Memory.episodic.|", "javascript"))
    assert set(got) == {"add", "search"}


def test_namespace_call_result_types_flow(real_index, opts) -> None:
    got = set(labels(complete(real_index, opts, "local st = Memory.stats()\nst.|")))
    assert {"episodic_count", "semantic_count", "consolidation_status"} <= got
    got = set(labels(complete(real_index, opts, 'local c = Context.assemble("q", "hybrid")\nc.|')))
    assert {"chunks", "token_count", "formatted", "temporal_span"} <= got


def test_hover_on_namespace_function(real_index, opts) -> None:
    doc, line, ch = doc_at('Memory.episodic.ad|d("s", "user", "hi")', "lua")
    h = hover(doc, real_index, line, ch, opts)
    assert h is not None and "Remember one interaction" in str(h)
