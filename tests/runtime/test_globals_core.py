"""The core script globals (Hook, Event, State, JSON, Debug, ARGS/arg), called as the engines call them."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from llmspell.api.context import SpellContext
from llmspell.api.decl import GLOBALS, VALUE_GLOBALS, Dispatcher, ScriptFunction
from llmspell.api.globals._corehelpers import run_spell_cleanup
from llmspell.api.globals.args import parse_args
from llmspell.api.globals.debug import DebugGlobal, DebugTimer
from llmspell.api.globals.event import EventGlobal
from llmspell.api.globals.hook import HookGlobal, HookHandleApi
from llmspell.api.globals.json_ import JsonGlobal
from llmspell.api.globals.state import StateGlobal
from llmspell.core.errors import EventError, HookCancelledError, HookError, ValidationError
from llmspell.core.types import ComponentId, HookContext
from llmspell.events.bus import EventBus
from llmspell.hooks.registry import HookRegistry
from llmspell.state.store import StateStore


class LuaFn(ScriptFunction):
    """Stands in for an engine's script function: records calls, returns what ``fn`` returns."""

    language = "lua"

    def __init__(self, fn: Any = None):
        self.fn = fn or (lambda *a: None)
        self.calls: list[tuple[Any, ...]] = []

    async def __call__(self, *args: Any) -> Any:
        self.calls.append(args)
        return self.fn(*args)


def make_runtime(tmp_path: Path) -> Any:
    try:
        from llmspell.runtime import Runtime

        return Runtime(state="memory", workspace=tmp_path)
    except ImportError:  # other subsystems still being written: a stand-in with what these globals use
        events = EventBus()
        hooks = HookRegistry(events)
        rt = SimpleNamespace(events=events, hooks=hooks)
        rt.state = StateStore.memory(runtime=rt)  # type: ignore[arg-type]
        return rt


@pytest.fixture
def ctx(tmp_path: Path) -> SpellContext:
    out: list[tuple[str, str]] = []
    c = SpellContext(runtime=make_runtime(tmp_path), file=tmp_path / "spell.lua", language="lua",
                     args=["in.txt", "--mode", "fast", "out.txt", "--n=3", "--verbose"],
                     emit_output=lambda stream, text: out.append((stream, text)))
    c.extra["out"] = out
    return c


def test_globals_are_declared() -> None:
    for name in ["Hook", "Event", "State", "JSON", "Debug"]:
        assert name in GLOBALS
    assert {"ARGS", "arg"} <= set(VALUE_GLOBALS)


# ------------------------------------------------------------------------------------------ Hook


async def test_hook_register_runs_callback_and_handle_works(ctx: SpellContext) -> None:
    hook = HookGlobal(ctx)
    fn = LuaFn(lambda t: {"type": "modified", "data": {"text": t["data"]["text"] + "!"}})
    handle = Dispatcher.call(hook, "register", ["BeforeAgentExecution", fn, "high"])
    assert isinstance(handle, HookHandleApi)
    assert handle.hook_point() == "BeforeAgentExecution"
    hid = handle.id()
    listed = hook.list("BeforeAgentExecution")
    assert listed[0]["id"] == hid and listed[0]["language"] == "lua"
    assert listed[0]["priority"] == "Priority(-100)"
    hctx = HookContext(point="BeforeAgentExecution", component_id=ComponentId(type="Agent", name="a"),
                       data={"text": "hi"})
    res = await ctx.runtime.hooks.execute(hctx)
    assert res.kind == "modified" and hctx.data == {"text": "hi!"}
    assert fn.calls[0][0]["component_id"] == {"type": "Agent", "name": "a"}
    assert handle.unregister() is True
    assert hook.unregister(handle) is False
    with pytest.raises(HookError, match="unregistered"):
        handle.id()


def test_hook_register_errors(ctx: SpellContext) -> None:
    hook = HookGlobal(ctx)
    with pytest.raises(HookError, match="Unknown hook point: before_execute"):
        hook.register("before_execute", LuaFn())
    with pytest.raises(HookError, match="must be a function"):
        hook.register("BeforeAgentExecution", "not a function")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="no registered hook has the id 'nope'"):
        hook.unregister("nope")
    with pytest.raises(ValidationError, match=r"expected the HookHandle Hook\.register returned"):
        hook.unregister(42)  # type: ignore[arg-type]


async def test_hook_cancel_from_script_stops_a_real_operation(ctx: SpellContext) -> None:
    HookGlobal(ctx).register("BeforeToolExecution", LuaFn(lambda t: "tool disabled by policy"))

    async def op(d: dict[str, Any]) -> str:
        return "ran"

    with pytest.raises(HookCancelledError, match="tool disabled by policy"):
        await ctx.runtime.hooks.around(
            before="BeforeToolExecution", after="AfterToolExecution", error="ToolError",
            component=ComponentId(type="Tool", name="calculator"), data={}, operation=op,
            to_data=lambda o: {"result": o}, from_data=lambda d: d.get("result"),
        )


def test_spell_cleanup_removes_hooks_and_subscriptions(ctx: SpellContext) -> None:
    HookGlobal(ctx).register("SystemStartup", LuaFn())
    sid = EventGlobal(ctx).subscribe("x.*")
    assert ctx.runtime.hooks.list() and ctx.runtime.events.get_subscription(sid)
    run_spell_cleanup(ctx)
    assert ctx.runtime.hooks.list() == []
    assert ctx.runtime.events.get_subscription(sid) is None


# ------------------------------------------------------------------------------------------ Event


async def test_event_pull_round_trip(ctx: SpellContext) -> None:
    ev = EventGlobal(ctx)
    sid = ev.subscribe("user.*")
    assert re.fullmatch(r"[0-9a-f-]{36}", sid)
    assert await ev.publish("user.login", {"name": "ada", "tags": [1, 2]},
                            {"correlation_id": "c-1", "language": "js", "ttl_seconds": 60}) is True
    await ev.publish("other.thing", 1)
    got = await ev.receive(sid, 500)
    assert got is not None
    assert got["event_type"] == "user.login" and got["data"] == {"name": "ada", "tags": [1, 2]}
    assert got["correlation_id"] == "c-1" and got["language"] == "JavaScript"
    assert got["target_language"] == "Lua" and got["serialization_version"] == "1.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", got["timestamp"])
    assert got["metadata"]["correlation_id"] == "c-1" and got["ttl"] == 60
    assert isinstance(got["sequence"], int)
    assert await ev.receive(sid, 20) is None  # other.thing did not match


async def test_event_push_callback(ctx: SpellContext) -> None:
    ev = EventGlobal(ctx)
    fn = LuaFn()
    sid = ev.subscribe("*.failed", fn)
    sid2 = ev.subscribe("job.*", {"callback": fn, "language": "lua"})
    await ev.publish("build.failed", {"e": 1})
    await ev.publish("job.done", 2)
    await ctx.runtime.events.drain()
    assert [c[0]["event_type"] for c in fn.calls] == ["build.failed", "job.done"]
    with pytest.raises(EventError, match="delivers to its callback"):
        await ev.receive(sid, 10)
    assert {s["id"] for s in ev.list_subscriptions()} == {sid, sid2}
    assert ev.unsubscribe(sid) is True and ev.unsubscribe(sid) is False


async def test_event_errors_and_stats(ctx: SpellContext) -> None:
    ev = EventGlobal(ctx)
    with pytest.raises(EventError, match="No active subscription found: nope"):
        await ev.receive("nope", 10)
    with pytest.raises(ValidationError, match="unknown language"):
        await ev.publish("x", 1, {"language": "cobol"})
    with pytest.raises(ValidationError, match="pattern"):
        ev.subscribe("")
    ev.subscribe("a")
    await ev.publish("a", 1)
    st = ev.get_stats()
    assert st["event_bus_stats"]["events_processed"] >= 1
    assert st["bridge_stats"] == {"active_subscriptions": 1, "subscriptions_by_language": {"lua": 1}}


async def test_event_receive_waits_for_a_later_publish(ctx: SpellContext) -> None:
    ev = EventGlobal(ctx)
    sid = ev.subscribe("later")
    task = asyncio.create_task(ev.receive(sid, 2000))
    await asyncio.sleep(0.02)
    await ev.publish("later", "hello")
    got = await task
    assert got is not None and got["data"] == "hello"


# ------------------------------------------------------------------------------------------ State


async def test_state_functions_and_key_layout(ctx: SpellContext) -> None:
    st = StateGlobal(ctx)
    await st.save("global", "counter", 3)
    await st.save("custom", ":weird", "colon")
    assert await st.load("global", "counter") == 3
    assert await st.load("custom", ":weird") == "colon"  # scope:key everywhere (no rs load quirk)
    assert await st.list_keys("global") == ["counter"]
    await st.delete("global", "counter")
    assert await st.load("global", "counter") is None
    await st.agent_set("agent-1", "memory", {"turns": 2})
    assert await st.agent_get("agent-1", "memory") == {"turns": 2}
    await st.tool_set("calc", "last", 42)
    assert await st.tool_get("calc", "last") == 42
    store = ctx.runtime.state
    await store.set("workflow:wf-9", "fetch", {"rows": 3})
    await store.set("workflow:wf-9", "summarise", "done")
    assert await st.workflow_get("wf-9", "fetch") == {"rows": 3}
    assert await st.workflow_list("wf-9") == ["fetch", "summarise"]
    assert store.get_sync("agent:agent-1", "memory") == {"turns": 2}
    with pytest.raises(ValidationError, match="'scope' must be a string"):
        await st.save(None, "k", 1)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ JSON


def test_json(ctx: SpellContext) -> None:
    js = JsonGlobal(ctx)
    assert js.parse('{"a": [1, 2.5, null, "x"], "b": {}}') == {"a": [1, 2.5, None, "x"], "b": {}}
    assert js.stringify({"a": [1, 2], "b": "é", "c": float("nan"), "d": {}}) == '{"a":[1,2],"b":"é","c":null,"d":{}}'
    with pytest.raises(ValidationError, match=r"^JSON parse error: Expecting .* at line 1 column 2"):
        js.parse("{nope")
    with pytest.raises(ValidationError, match="JSON stringify error: cannot convert a function"):
        js.stringify({"f": LuaFn()})
    with pytest.raises(ValidationError, match=r"cannot convert a function to JSON \(at value\.xs\[2\]\)$"):
        js.stringify({"xs": [1, LuaFn()]})
    with pytest.raises(ValidationError, match="JSON parse error"):
        js.parse(5)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ Debug


def test_debug_levels_capture_and_output(ctx: SpellContext) -> None:
    dbg = DebugGlobal(ctx)
    out = ctx.extra["out"]
    dbg.debug("hidden at info level")
    dbg.info("shown", "loader")
    dbg.warn("careful")
    Dispatcher.call(dbg, "logWithData", ["error", "failed", {"code": 7}])
    assert [o[0] for o in out] == ["stderr"] * 3
    assert out[0][1] == "[INFO] [loader] shown\n"
    assert out[2][1] == "[ERROR] failed {code = 7}\n"
    Dispatcher.call(dbg, "setLevel", ["trace"])
    assert Dispatcher.call(dbg, "getLevel", []) == "trace"
    dbg.trace("now visible")
    entries = Dispatcher.call(dbg, "getCapturedEntries", [2])
    assert [e["message"] for e in entries] == ["failed", "now visible"]
    assert entries[0]["metadata"] == {"code": 7}
    Dispatcher.call(dbg, "setEnabled", [False])
    assert Dispatcher.call(dbg, "isEnabled", []) is False
    dbg.error("silenced")
    assert len(out) == 4
    Dispatcher.call(dbg, "clearCaptured", [])
    assert dbg.get_captured_entries() == []
    with pytest.raises(ValidationError, match="unknown level 'loud'"):
        dbg.log("loud", "x")


def test_debug_timer_and_dumps(ctx: SpellContext) -> None:
    dbg = DebugGlobal(ctx)
    t = dbg.timer("work")
    assert isinstance(t, DebugTimer) and t.api_field_values()["name"] == "work"
    lap = t.lap("half")
    total = t.stop()
    assert 0 <= lap <= total and t.stop() == total and t.elapsed() == total
    assert dbg.dump({"name": "x", "list": [1, 2.0, True, None]}, "v") == (
        'v: {\n  name = "x",\n  list = {\n    1,\n    2,\n    true,\n    nil\n  }\n}'
    )
    compact = Dispatcher.call(dbg, "dumpCompact", [{"a": {"b": [1]}, "my key": "q\""}])
    assert compact == '{a = {b = {1}}, ["my key"] = "q\\""}'


# ------------------------------------------------------------------------------------------ ARGS / arg


def test_args_and_arg(ctx: SpellContext) -> None:
    ARGS = VALUE_GLOBALS["ARGS"].factory(ctx)
    arg = VALUE_GLOBALS["arg"].factory(ctx)
    script = str(ctx.file)
    assert ARGS == {0: script, 1: "in.txt", "mode": "fast", "verbose": "true", 2: "out.txt", "n": "3"}
    assert arg == {0: script, 1: "in.txt", 2: "out.txt"}
    assert parse_args("s.lua", []) == ({0: "s.lua"}, {0: "s.lua"})
    assert parse_args("s.lua", ["--last"])[0] == {0: "s.lua", "last": "true"}


# ------------------------------------------------------------------------------------------ runtime wiring


async def test_runtime_reports_security_violations(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path)
    if not hasattr(rt, "policy"):
        pytest.skip("full Runtime not importable yet")
    seen: list[Any] = []
    rt.events.subscribe("security.violation", seen.append)
    hooked: list[dict[str, Any]] = []
    rt.hooks.register("SecurityViolation", lambda c: hooked.append(c.data))
    with pytest.raises(Exception, match="outside the allowed paths"):
        rt.policy.check_path("/etc/passwd")
    await rt.hooks.drain()
    assert seen and seen[0].data["operation"] == "file.read"
    assert hooked and hooked[0]["path"] == "/etc/passwd"


async def test_state_global_runs_state_hooks_of_the_runtime(ctx: SpellContext) -> None:
    fn = LuaFn(lambda t: {"type": "cancel", "reason": "state is read-only"} if t["data"]["key"] == "ro" else None)
    HookGlobal(ctx).register("BeforeStateWrite", fn)
    st = StateGlobal(ctx)
    await st.save("g", "ok", 1)
    with pytest.raises(HookCancelledError, match="state is read-only"):
        await st.save("g", "ro", 1)
    assert await st.list_keys("g") == ["ok"]
    assert fn.calls[0][0]["component_id"] == {"type": "State", "name": "g"}
