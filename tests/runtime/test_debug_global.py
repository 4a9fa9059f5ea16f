"""``Debug`` beyond logging: module filters that decide what is emitted, dumps with options, profiling
reports with real figures, recordEvent, and the spell's stack — directly and from real Lua/JS spells."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from llmspell.api.context import SpellContext
from llmspell.api.decl import Dispatcher
from llmspell.api.globals.debug import DebugGlobal
from llmspell.core.errors import ValidationError
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime


@pytest.fixture
def dbg(tmp_path: Path) -> DebugGlobal:
    out: list[tuple[str, str]] = []
    ctx = SpellContext(runtime=Runtime(state="memory", workspace=tmp_path), file=tmp_path / "s.lua",
                       emit_output=lambda stream, text: out.append((stream, text)))
    ctx.extra["out"] = out
    return DebugGlobal(ctx)


def lines(d: DebugGlobal) -> list[str]:
    return [t.rstrip("\n") for _, t in d.ctx.extra["out"]]


def call(d: DebugGlobal, name: str, *args: Any) -> Any:
    return Dispatcher.call(d, name, list(args))


# ------------------------------------------------------------------------------------------ filters


def test_module_filters_decide_what_is_emitted_and_captured(dbg: DebugGlobal) -> None:
    call(dbg, "addModuleFilter", "agent", False)          # hierarchical: agent and its submodules
    call(dbg, "addModuleFilter", "agent.llm", True)       # more specific: wins for agent.llm.*
    call(dbg, "addModuleFilter", "workflow.*", False)     # wildcard
    for mod in ["agent", "agent.tools", "agent::cache", "agent.llm", "agent.llm.stream", "agents", "workflow.step",
                "workflow", "tool", None]:
        dbg.info(f"m={mod}", mod)
    assert lines(dbg) == ["[INFO] [agent.llm] m=agent.llm", "[INFO] [agent.llm.stream] m=agent.llm.stream",
                          "[INFO] [agents] m=agents", "[INFO] [workflow] m=workflow", "[INFO] [tool] m=tool",
                          "[INFO] m=None"]
    assert [e["message"] for e in dbg.get_captured_entries()] == [ln.split("] ")[-1].removeprefix("[INFO] ")
                                                                  for ln in lines(dbg)]
    summary = call(dbg, "getFilterSummary")
    assert summary["default_enabled"] is True and summary["total_rules"] == 3
    assert [(r["pattern"], r["pattern_type"], r["enabled"]) for r in summary["rules"]] == [
        ("agent.llm", "hierarchical", True), ("agent", "hierarchical", False), ("workflow.*", "wildcard", False)]
    assert summary["rules"][1]["description"] == "hide module 'agent' and its submodules"


def test_default_off_with_advanced_filters(dbg: DebugGlobal) -> None:
    call(dbg, "setDefaultFilterEnabled", False)
    call(dbg, "addAdvancedFilter", "db", "exact", True)
    call(dbg, "addAdvancedFilter", r"^net\.(http|dns)$", "regex", True)
    call(dbg, "addAdvancedFilter", "cache?", "wildcard", True)
    call(dbg, "addAdvancedFilter", "ui", "hierarchical", True)
    for mod in ["db", "db.pool", "net.http", "net.https", "cache1", "cache12", "ui/button", "other", None]:
        dbg.warn("x", mod)
    assert [ln.split(" ")[1] for ln in lines(dbg)] == ["[db]", "[net.http]", "[cache1]", "[ui/button]"]
    # removing and clearing really changes what is shown
    assert call(dbg, "removeModuleFilter", "db") is True and call(dbg, "removeModuleFilter", "db") is False
    dbg.warn("again", "db")
    assert len(lines(dbg)) == 4
    call(dbg, "clearModuleFilters")
    assert call(dbg, "getFilterSummary")["total_rules"] == 0
    dbg.warn("still hidden: default is off", "db")
    call(dbg, "setDefaultFilterEnabled", True)
    dbg.warn("shown", "db")
    assert lines(dbg)[-1] == "[WARN] [db] shown" and len(lines(dbg)) == 5


def test_filter_errors_name_what_was_expected(dbg: DebugGlobal) -> None:
    with pytest.raises(ValidationError, match=r"unknown pattern type 'fuzzy'.*exact, wildcard, regex, hierarchical"):
        call(dbg, "addAdvancedFilter", "x", "fuzzy", True)
    with pytest.raises(ValidationError, match="invalid regex"):
        call(dbg, "addAdvancedFilter", "(", "regex", True)
    with pytest.raises(ValidationError, match="non-empty module pattern"):
        call(dbg, "addModuleFilter", "", True)


# ------------------------------------------------------------------------------------------ dumps


def test_dump_with_options(dbg: DebugGlobal) -> None:
    v = {"name": "a long string value", "list": [1, 2, 3, 4, 5], "deep": {"a": {"b": {"c": 1}}}}
    default = call(dbg, "dumpWithOptions", v)
    assert 'name = "a long string value" --[[string]]' in default and "5 --[[number]]" in default
    s = call(dbg, "dumpWithOptions", v, {"max_string_length": 6, "max_array_elements": 2, "max_depth": 2,
                                         "show_types": False, "compact_mode": True}, "v")
    assert s == 'v: {name = "a long...", list = {1, 2, ... (3 more)}, deep = {a = {...}}}'
    s = call(dbg, "dumpWithOptions", {"a": 1, "b": 2, "c": 3}, {"max_table_pairs": 1, "indent_size": 4,
                                                                "show_types": False})
    assert s == "{\n    a = 1,\n    ... (2 more)\n}"
    addr = call(dbg, "dumpWithOptions", {"t": {}}, {"show_addresses": True, "compact_mode": True})
    assert re.fullmatch(r"<table@0x[0-9a-f]+> \{t = <table@0x[0-9a-f]+> \{\}\}", addr)
    verbose = call(dbg, "dumpVerbose", {"n": 2})
    assert verbose == "{\n  n = 2 --[[number]]\n}"
    with pytest.raises(ValidationError, match=r"unknown option.*max_dept"):
        call(dbg, "dumpWithOptions", v, {"max_dept": 1})


# ------------------------------------------------------------------------------------------ profiling


def test_reports_memory_and_record_event(dbg: DebugGlobal) -> None:
    t = dbg.timer("load")
    t.lap("parsed")
    assert call(dbg, "recordEvent", t.id, "cache-miss", {"key": "k1"}) is True
    t.stop()
    running = dbg.timer("idle")
    with pytest.raises(ValidationError, match="no timer with id 'nope'"):
        call(dbg, "recordEvent", "nope", "x")
    report = call(dbg, "performanceReport")
    assert report.startswith("Performance report (2 timer(s)")
    assert re.search(r"^  load: \d+\.\d{3} ms \(stopped\)$", report, re.M)
    assert re.search(r"^    lap parsed: \d+\.\d{3} ms$", report, re.M)
    assert re.search(r'^    event cache-miss at \d+\.\d{3} ms \{key = "k1"\}$', report, re.M)
    assert "  idle: " in report and "(running)" in report
    data = json.loads(call(dbg, "jsonReport"))
    load = data["timers"][0]
    assert load["name"] == "load" and load["stopped"] and load["elapsed_ms"] == round(t.elapsed(), 3)
    assert load["events"][0]["name"] == "cache-miss" and load["events"][0]["metadata"] == {"key": "k1"}
    assert data["timers"][1]["id"] == running.id and not data["timers"][1]["stopped"]
    mem = call(dbg, "memoryStats")
    assert mem["resident_bytes"] > 1_000_000 and mem["allocated_bytes"] >= mem["resident_bytes"] // 2
    assert mem["collections"] >= 0 and mem["used_bytes"] > 0
    flame = call(dbg, "flameGraph").splitlines()
    assert flame[0].startswith("load;parsed ") and flame[1].startswith("load ") and flame[2].startswith("idle ")
    snap = call(dbg, "memorySnapshot")
    assert snap["active_timers"] == 1 and snap["resident_bytes"] > 0


def test_stack_trace_outside_a_spell_is_honest(dbg: DebugGlobal) -> None:
    assert call(dbg, "stackTrace").startswith("stack traceback unavailable: ")
    j = call(dbg, "stackTraceJson")
    assert j["available"] is False and j["frames"] == [] and "not called from a running Lua spell" in j["reason"]


# ------------------------------------------------------------------------------------------ from spells


async def run(tmp_path: Path, src: str, ext: str = ".lua") -> tuple[list[str], list[str], Any]:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    runner = SpellRunner(runtime_factory=lambda: Runtime(workspace=ws, state="memory"))
    out: list[str] = []
    err: list[str] = []
    fin = None
    async for m in runner.run(ws / f"spell{ext}", source=src):
        if m.type == "output":
            (out if m.stream == "stdout" else err).append(m.text)
        elif m.type == "finished":
            fin = m
    assert fin is not None
    text = "".join(out).replace(f"{ws}/", "")  # Lua names the chunk by the spell's path
    return text.splitlines(), "".join(err).splitlines(), fin


async def test_lua_stack_trace_filters_and_memory(tmp_path: Path) -> None:
    out, err, fin = await run(tmp_path, """
local function inner()
  local s = Debug.stackTrace()
  return s
end
local function outer() local s = inner(); return s end
print(outer())
local co = coroutine.create(function() local s = inner(); print(s) end)
coroutine.resume(co)
local j = Debug.stackTraceJson({max_depth = 1})
print(j.available, #j.frames, j.frames[1].line, j.frames[1]["function"])
Debug.addModuleFilter("noisy", false)
Debug.info("dropped", "noisy.sub")
Debug.info("kept", "quiet")
local m = Debug.memoryStats()
print(m.source, m.used_bytes > 1000, m.resident_bytes > m.used_bytes)
local t = Debug.timer("t")
Debug.recordEvent(t.id, "mark")
print(Debug.performanceReport():match("event mark at") ~= nil)
""")
    assert fin.status == "success", fin.error
    assert out[:4] == ["stack traceback:", "\tspell.lua:3: in function 'inner'",
                       "\tspell.lua:6: in function 'outer'", "\tspell.lua:7: in main chunk"]
    assert out[4:7] == ["stack traceback:", "\tspell.lua:3: in function 'inner'",
                        "\tspell.lua:8: in function <spell.lua:8>"]
    assert out[7] == "true\t1\t10\tmain chunk"
    assert out[8] == "lua\ttrue\ttrue"
    assert out[9] == "true"
    assert err == ["[INFO] [quiet] kept"]


async def test_js_stack_trace_says_why_it_is_unavailable(tmp_path: Path) -> None:
    out, _, fin = await run(tmp_path, "console.log(Debug.stackTrace());\n"
                                      "Debug.addAdvancedFilter('^a', 'regex', false);\n"
                                      "console.log(JSON.stringify(Debug.getFilterSummary()));\n", ".js")
    assert fin.status == "success", fin.error
    assert out[0] == ("stack traceback unavailable: the JavaScript engine does not expose the caller's frames "
                      "to the runtime; use new Error().stack in the spell")
    assert json.loads(out[1]) == {"default_enabled": True, "total_rules": 1, "rules": [
        {"pattern": "^a", "pattern_type": "regex", "enabled": False, "description": "hide modules matching /^a/"}]}
