"""Replay: rs-llmspell's data structures and comparator, and real hook replay (record, persist,
replay through today's hooks, compare), provider recordings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fakes import collect_run
from llmspell.core.errors import ValidationError
from llmspell.hookreplay import apply_modification, compare, compare_json
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime


def make_rt(ws: Path, **overrides: Any) -> Runtime:
    ws.mkdir(parents=True, exist_ok=True)
    return Runtime(workspace=ws, state="memory", overrides=overrides or None)


async def run(rt: Runtime, src: str, name: str = "spell.lua") -> tuple[list[str], Any]:
    text, fin, _ = await collect_run(SpellRunner(runtime=rt), rt.workspace / name, source=src)
    assert fin is not None
    return text.splitlines(), fin


# ------------------------------------------------------------------------------------------ comparator


def test_comparator_matches_rs_llmspell() -> None:
    same = compare({"result": "continue"}, {"result": "continue"})
    assert same == {"identical": True, "similarity_score": 1.0, "summary": "Results are identical", "differences": []}
    variant = compare({"result": "continue"}, {"result": "cancel", "reason": "no"})
    assert not variant["identical"] and variant["similarity_score"] == pytest.approx(0.9)
    assert variant["differences"][0]["path"] == "variant" and variant["differences"][0]["severity"] == "critical"
    assert variant["summary"] == "Found 1 differences (different result types): 1 critical, 0 major, 0 minor"
    data = compare_json({"a": 1, "b": [1, 2], "error": "x", "timestamp": 1}, {"a": 2, "b": [1], "error": "y",
                                                                            "timestamp": 2, "extra": True})
    paths = {d["path"]: d["severity"] for d in data["differences"]}
    assert paths == {"a": "major", "b.length": "major", "error": "critical", "extra": "major"}
    # weights: 3 major (0.5) + 1 critical (1.0) = 2.5 -> (100 - 25) / 100
    assert data["similarity_score"] == pytest.approx(0.75)
    assert data["summary"].startswith("Found 4 differences (multiple differences): 1 critical, 3 major")
    reasons = compare({"result": "cancel", "reason": "a"}, {"result": "cancel", "reason": "b"})
    assert reasons["differences"][0]["path"] == "cancel_reason"
    skipped = compare({"result": "skipped", "reason": "a"}, {"result": "skipped", "reason": "b"})
    assert skipped["differences"][0]["severity"] == "minor"
    assert compare_json({"x": True}, {"x": 1})["identical"] is False
    assert compare_json({"x": 1}, {"x": 1.0})["identical"] is True


def test_apply_modification_paths() -> None:
    base = {"params": {"temperature": 0.9}, "items": [1, 2]}
    assert apply_modification(base, "params.temperature", 0.5)["params"]["temperature"] == 0.5
    assert apply_modification(base, "data.params.max_tokens", 10)["params"] == {"temperature": 0.9, "max_tokens": 10}
    assert apply_modification(base, "context.data.new.deep", 1)["new"] == {"deep": 1}
    assert apply_modification(base, "items.2", 9)["items"] == [1, 9]
    assert apply_modification(base, "items.3", 3)["items"] == [1, 2, 3]
    assert base == {"params": {"temperature": 0.9}, "items": [1, 2]}  # the recording is not changed
    with pytest.raises(ValidationError, match="names no field"):
        apply_modification(base, ".", 1)
    with pytest.raises(ValidationError, match="not a table"):
        apply_modification({"a": 1}, "a.b", 1)


# ------------------------------------------------------------------------------------------ data structures


async def test_rs_llmspell_data_structures_in_lua(tmp_path: Path) -> None:
    rt = make_rt(tmp_path / "ws")
    lines, fin = await run(rt, """
        print(Replay.modes.exact:name(), Replay.modes.modified:name(), Replay.modes.simulate:name(),
              Replay.modes.debug:name())
        local cfg = Replay.create_config(Replay.modes.modified)
        cfg:add_modification("params.temperature", 0.5, true)
        cfg:add_modification("params.top_p", 0.1)
        print(cfg:get_mode():name(), cfg:should_compare_results(), cfg:get_timeout_seconds(),
              cfg:should_stop_on_error(), #cfg:get_modifications())
        local m = cfg:get_modifications()[1]
        print(m:get_path(), m:get_value(), m:is_enabled())
        m:set_enabled(false)
        print(m:is_enabled(), Replay.create_config():get_mode():name(), Replay.create_config("debug"):get_mode():name())
        local mod = Replay.create_modification("params.max_tokens", 1000, false)
        print(mod:get_path(), mod:get_value(), mod:is_enabled())
        print(Replay.schedules.once(5.0):type_name(), Replay.schedules.interval(0, 60, 10):type_name(),
              Replay.schedules.cron("0 */5 * * * *"):type_name())
        local t = Replay.schedules.interval(1, 60, 10):to_table()
        print(t.type, t.initial_delay_seconds, t.interval_seconds, t.max_executions)
        local cmp = Replay.create_comparator()
        local r = cmp:compare_json({a = 1}, {a = 2})
        print(r.identical, r.similarity_score, r.summary, r.differences[1].path, r.differences[1].description)
        print(cmp:compare_json({a = {1, 2}}, {a = {1, 2}}).identical, cmp:compare_json({}, {}).differences)
        local function try(f, ...)
          local ok, err = pcall(f, ...)
          print(ok and "ok" or (err.kind .. ": " .. err.message))
        end
        try(Replay.create_config, "fast")
        try(Replay.create_modification, 5, 1)
        try(Replay.schedules.once, -1)
        try(Replay.schedules.interval, 0, 0)
        try(Replay.schedules.cron, "every minute")
    """)
    assert fin.status == "success", fin.error
    assert lines[:10] == [
        "exact\tmodified\tsimulate\tdebug",
        "modified\ttrue\t30\ttrue\t2",
        "params.temperature\t0.5\ttrue",
        "false\texact\tdebug",
        "params.max_tokens\t1000\tfalse",
        "once\tinterval\tcron",
        "interval\t1\t60\t10",
        "false\t0.95\tFound 1 differences (different data values): 0 critical, 1 major, 0 minor\ta\tValues differ",
        "true\tnil",
        "validation: Replay.create_config: 'mode' must be one of Replay.modes (exact, modified, simulate, debug), "
        "got 'fast'",
    ]
    assert lines[10].startswith("validation: Replay.create_modification: 'path' must be a dotted path string")
    assert lines[11].startswith("validation: Replay.schedules.once: 'delay_seconds' must be a number >= 0")
    assert lines[12] == "validation: Replay.schedules.interval: 'interval' must be > 0"
    assert lines[13].startswith("validation: Replay.schedules.cron: 'expression' must be a cron expression")
    await rt.shutdown()


# ------------------------------------------------------------------------------------------ real replay


RECORD = """
    Replay.start_recording({points = {"BeforeToolExecution"}, id = "calc"})
    print(Replay.is_recording())
    -- a hook active while recording: it refuses one expression
    local h = Hook.register("BeforeToolExecution", function(ctx)
      if ctx.data.parameters and ctx.data.parameters.input == "6 / 0" then
        return {type = "cancel", reason = "no division by zero"}
      end
    end)
    print(Tool.execute("calculator", {input = "1 + 1"}).result.result)
    print(pcall(Tool.execute, "calculator", {input = "6 / 0"}))
    Hook.unregister(h)
    local s = Replay.stop_recording()
    print(s.id, s.executions, s.points[1], Replay.is_recording())
"""


async def test_record_then_replay_in_a_later_runtime(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    rt = make_rt(ws)
    lines, fin = await run(rt, RECORD)
    assert fin.status == "success", fin.error
    assert lines[0] == "true" and lines[1] == "2"
    assert lines[2].startswith("false")
    assert lines[3] == "calc\t2\tBeforeToolExecution\tfalse"
    saved = json.loads((ws / ".llmspell" / "replay" / "calc.json").read_text())
    ex = saved["executions_list"]
    assert [e["result"] for e in ex] == ["continue", "cancel"]
    assert ex[1]["reason"] == "no division by zero" and ex[1]["input"]["parameters"]["input"] == "6 / 0"
    assert ex[0]["hooks"][0]["result"] == "continue" and ex[0]["output"] is not None
    await rt.shutdown()

    # a later runtime: no hook now -> the cancel is not reproduced; a new hook modifies
    rt2 = make_rt(ws)
    lines, fin = await run(rt2, """
        print(#Replay.list_recordings(), Replay.list_recordings()[1].id, #Replay.get_recording("calc").executions_list)
        local r = Replay.replay("calc")
        print(r.success, r.replayed, r.identical, r.different, r.results[2].original.result,
              r.results[2].replayed.result, r.results[2].comparison.differences[1].path)
        local h = Hook.register("BeforeToolExecution", function(ctx)
          if ctx.data.parameters.input == "6 / 0" then return {type = "cancel", reason = "no division by zero"} end
        end)
        r = Replay.replay("calc")
        print(r.identical, r.different, #r.results[1].hooks)
        -- modified mode: the recorded input is changed before the hooks see it
        local cfg = Replay.create_config(Replay.modes.modified)
        cfg:add_modification("parameters.input", "6 / 0")
        r = Replay.replay("calc", cfg)
        print(r.results[1].replayed.result, r.results[1].replayed.reason, r.identical)
        -- simulate: nothing runs
        local calls = 0
        Hook.register("BeforeToolExecution", function() calls = calls + 1 end)
        r = Replay.replay("calc", Replay.create_config(Replay.modes.simulate))
        print(r.identical, calls)
        -- debug: inputs and the recorded per-hook results are included
        r = Replay.replay("calc", Replay.create_config(Replay.modes.debug), {points = {"BeforeToolExecution"}})
        print(r.results[1].input.parameters.input, #r.results[1].recorded_hooks, calls)
        print(Replay.delete_recording("calc"), Replay.delete_recording("calc"), #Replay.list_recordings())
    """)
    assert fin.status == "success", fin.error
    assert lines == [
        "1\tcalc\t2",
        "true\t2\t1\t1\tcancel\tcontinue\tvariant",
        "2\t0\t1",
        "cancel\tno division by zero\t1",
        "2\t0",
        "1 + 1\t1\t1",
        "true\tfalse\t0",
    ]
    await rt2.shutdown()


async def test_replay_stop_on_error_and_timeouts(tmp_path: Path) -> None:
    rt = make_rt(tmp_path / "ws")
    lines, fin = await run(rt, RECORD + """
        Hook.register("BeforeToolExecution", function(ctx) error("hook broke") end)
        local r = Replay.replay("calc")
        print(r.success, r.errors, r.replayed, r.stopped ~= nil, r.results[1].error ~= nil)
        local cfg = Replay.create_config()
        cfg:set_stop_on_error(false)
        r = Replay.replay("calc", cfg)
        print(r.success, r.errors, r.replayed)
    """)
    assert fin.status == "success", fin.error
    assert lines[4:] == ["false\t1\t1\ttrue\ttrue", "false\t2\t2"]
    await rt.shutdown()


async def test_recording_bad_input(tmp_path: Path) -> None:
    rt = make_rt(tmp_path / "ws")
    lines, fin = await run(rt, """
        local function try(f, ...)
          local ok, err = pcall(f, ...)
          print(ok and "ok" or (err.kind .. ": " .. err.message))
        end
        try(Replay.stop_recording)
        try(Replay.start_recording, {points = {"NoSuchPoint"}})
        try(Replay.start_recording, {id = "../escape"})
        try(Replay.replay, "missing")
        try(Replay.replay, "../x")
        try(Replay.replay, "x", {mode = "exact"})
        Replay.start_recording()
        try(Replay.start_recording)
        Replay.stop_recording()
    """)
    assert fin.status == "success", fin.error
    assert lines[0] == ("validation: Replay.stop_recording: no recording is running "
                        "(Replay.start_recording() first)")
    assert lines[1].startswith("validation: Replay.start_recording:") and "NoSuchPoint" in lines[1]
    assert lines[2].startswith("validation: Replay.start_recording: a recording id is 1-100 letters")
    assert lines[3] == "validation: Replay: no recording 'missing' (Replay.list_recordings() lists them)"
    assert lines[4].startswith("validation: Replay.replay: a recording id")
    assert "'config' must come from Replay.create_config()" in lines[5] or "argument #2" in lines[5]
    assert lines[6].startswith("validation: Replay.start_recording: recording 'hooks-")
    await rt.shutdown()


async def test_replay_in_js(tmp_path: Path) -> None:
    rt = make_rt(tmp_path / "ws")
    lines, fin = await run(rt, """
        console.log(Replay.modes.exact.name(), Replay.schedules.once(1).typeName());
        Replay.startRecording({points: ["BeforeToolExecution"], id: "js"});
        await Tool.execute("calculator", {input: "2 + 2"});
        const s = await Replay.stopRecording();
        const h = Hook.register("BeforeToolExecution", (ctx) => ({type: "cancel", reason: "closed"}));
        const r = await Replay.replay("js");
        console.log(s.executions, r.different, r.results[0].replayed.reason);
        console.log(Replay.createComparator().compareJson({a: 1}, {a: 1}).identical);
    """, name="spell.js")
    assert fin.status == "success", fin.error
    assert lines == ["exact once", "1 1 closed", "true"]
    await rt.shutdown()


async def test_provider_recording_answers_the_run(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    rec = ws / "calls.jsonl"
    rt = make_rt(ws, record_path=str(rec))
    lines, fin = await run(rt, """
        local a = Agent.builder():name("a"):model("offline/scripted"):build()
        print(a:execute({text = "hello there"}).text ~= nil)
    """)
    assert fin.status == "success", fin.error
    await rt.shutdown()
    assert rec.is_file()
    recorded = [json.loads(x) for x in rec.read_text().splitlines()]
    # make the recorded answer recognisable, so a replayed answer can only come from the file
    recorded[0]["completion"]["text"] = "FROM THE RECORDING"
    rec.write_text("".join(json.dumps(r) + "\n" for r in recorded))

    rt2 = make_rt(ws)
    lines, fin = await run(rt2, """
        local calls = Replay.provider_calls("calls.jsonl")
        print(#calls, calls[1].kind, calls[1].text)
        print(Replay.use_provider_recording("calls.jsonl"))
        local a = Agent.builder():name("a"):model("offline/scripted"):build()
        print(a:execute({text = "hello there"}).text)
        local ok, err = pcall(function() return a:execute({text = "something never recorded"}) end)
        print(ok, tostring(err):find("not found in recording", 1, true) ~= nil)
        local ok2, err2 = pcall(Replay.provider_calls, "/etc/passwd")
        print(ok2, err2.kind)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["1\tcomplete\tFROM THE RECORDING", "1", "FROM THE RECORDING", "false\ttrue",
                     "false\tsecurity"]
    await rt2.shutdown()


async def test_a_recording_left_running_is_saved_when_the_spell_ends(tmp_path: Path) -> None:
    rt = make_rt(tmp_path / "ws")
    lines, fin = await run(rt, """
        Replay.start_recording({points = {"BeforeToolExecution"}, id = "left-open"})
        Tool.execute("calculator", {input = "1 + 2"})
    """)
    assert fin.status == "success", fin.error
    lines, fin = await run(rt, """
        print(Replay.is_recording(), Replay.get_recording("left-open").executions)
        Tool.execute("calculator", {input = "3 + 4"})
        print(Replay.get_recording("left-open").executions)
    """)
    assert fin.status == "success", fin.error
    assert lines == ["false\t1", "1"]
    assert not rt.hooks.has_hooks("BeforeToolExecution")  # the recorder's hooks are gone
    await rt.shutdown()
