"""The language's own library in completion, hover and signature help (Lua sandbox and QuickJS globals),
completion ranking, and no completion inside comments."""

from __future__ import annotations

from lsp_helpers import doc_at, items, labels

from llmspell_ls.analysis import stdlib
from llmspell_ls.features.completion import completion
from llmspell_ls.features.hover import hover
from llmspell_ls.features.signature import signature_help


def comp(index, opts, text: str, lang: str = "lua"):
    doc, line, ch = doc_at(text, lang)
    return completion(doc, index, line, ch, opts)


def hov(index, opts, text: str, lang: str = "lua") -> str | None:
    doc, line, ch = doc_at(text, lang)
    h = hover(doc, index, line, ch, opts)
    return None if h is None else h["contents"]["value"]


def test_library_members_after_dot(real_index, opts) -> None:
    assert {"format", "rep", "gsub", "sub", "upper"} <= set(labels(comp(real_index, opts, "string.|")))
    assert {"insert", "concat", "sort", "unpack"} <= set(labels(comp(real_index, opts, "table.|")))
    assert {"floor", "max", "random", "pi"} <= set(labels(comp(real_index, opts, "math.|")))
    assert {"char", "codes"} <= set(labels(comp(real_index, opts, "utf8.|")))
    assert {"wrap", "yield"} <= set(labels(comp(real_index, opts, "coroutine.|")))
    assert {"max", "floor", "PI"} <= set(labels(comp(real_index, opts, "Math.|", "javascript")))
    assert {"log", "error"} <= set(labels(comp(real_index, opts, "console.|", "javascript")))
    assert {"all", "race"} <= set(labels(comp(real_index, opts, "Promise.|", "javascript")))
    assert {"parse", "stringify"} <= set(labels(comp(real_index, opts, "JSON.|", "javascript")))


def test_only_what_the_sandbox_provides(real_index, opts) -> None:
    os_members = set(labels(comp(real_index, opts, "os.|")))
    assert {"time", "date", "clock", "getenv", "remove", "tmpname"} <= os_members
    assert "setlocale" not in os_members  # not in the spell sandbox's os table
    assert set(labels(comp(real_index, opts, "io.|"))) >= {"write", "open", "lines"}
    assert "popen" not in set(labels(comp(real_index, opts, "io.|")))
    assert "dump" not in set(labels(comp(real_index, opts, "string.|")))  # removed by the sandbox
    top = set(labels(comp(real_index, opts, "|")))
    assert {"print", "pairs", "ipairs", "tostring", "pcall", "string", "table"} <= top
    assert "debug" not in top  # no debug library in spells
    assert stdlib.lookup("lua", "debug.traceback") is None


def test_library_calls_snippets(real_index, opts) -> None:
    it = {i["label"]: i for i in items(comp(real_index, opts, "string.|"))}
    assert it["format"]["insertText"] == "format($1)$0" and it["format"]["kind"] == 3
    assert it["format"]["detail"].startswith("string.format(fmt: string")
    it = {i["label"]: i for i in items(comp(real_index, opts, "math.|"))}
    assert "insertText" not in it["pi"]  # a value, not a function


def test_a_local_of_the_same_name_hides_the_library(real_index, opts) -> None:
    assert labels(comp(real_index, opts, "local string = {x = 1}\nstring.|")) == ["x"]
    assert labels(comp(real_index, opts, "string:|")) == []


def test_hover_and_signature_of_library_functions(real_index, opts) -> None:
    assert "print(...: any)" in hov(real_index, opts, 'pr|int("x")')
    assert "string.format(fmt: string" in hov(real_index, opts, 'string.for|mat("%d", 1)')
    assert "(library) string" in hov(real_index, opts, 'str|ing.format("%d", 1)')
    assert "Math.max(" in hov(real_index, opts, "Math.m|ax(1, 2)", "javascript")
    doc, line, ch = doc_at('string.format("%d items", |)')
    s = signature_help(doc, real_index, line, ch, opts)
    assert s["signatures"][0]["label"].startswith("string.format(") and s["activeParameter"] == 1
    doc, line, ch = doc_at("table.insert(t, |)")
    assert signature_help(doc, real_index, line, ch, opts)["activeParameter"] == 1


def test_nothing_inside_comments(real_index, opts) -> None:
    assert labels(comp(real_index, opts, "-- Ag|")) == []
    assert labels(comp(real_index, opts, "local a = 1 -- see Agent.|")) == []
    assert labels(comp(real_index, opts, "--[[ long\ncomment Ag|")) == []
    assert labels(comp(real_index, opts, "// Ag|", "javascript")) == []
    assert labels(comp(real_index, opts, "/* Tool.| */", "javascript")) == []
    # after a comment that is closed the list is back
    assert "Agent" in labels(comp(real_index, opts, "--[[ x ]] Ag|"))
    assert "Agent" in labels(comp(real_index, opts, "-- note\nAg|"))
    assert "Agent" in labels(comp(real_index, opts, "/* x */ Ag|", "javascript"))
    # plain strings: nothing (named strings keep their completions)
    assert labels(comp(real_index, opts, 'print("Ag|")')) == []
    assert "calculator" in labels(comp(real_index, opts, 'Tool.execute("calc|'))


def test_ranking_locals_common_globals_then_rare(real_index, opts) -> None:
    got = sorted(items(comp(real_index, opts, "local myagent = 1\n|")), key=lambda i: i["sortText"])
    order = [i["label"] for i in got]
    assert order[0] == "myagent"
    assert order[1:6] == ["Agent", "Tool", "Workflow", "State", "JSON"]
    assert order.index("print") < order.index("Replay")
    assert order.index("Replay") < order.index("local")  # keywords last
    # methods by their use in rs-llmspell's examples, then alphabetical
    got = sorted(items(comp(real_index, opts, "local b = Agent.builder()\nb:|")), key=lambda i: i["sortText"])
    order = [i["label"] for i in got]
    assert order.index("build") < order.index("model") < order.index("allow_tool")
    got = sorted(items(comp(real_index, opts, "string.|")), key=lambda i: i["sortText"])
    assert got[0]["label"] == "format"
