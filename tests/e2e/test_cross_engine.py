"""Cross-engine bridge: a Lua spell and a JS spell in one runtime see each other's events, and a hook
registered from JS takes effect on tools called from Lua (and the other way round)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime


@pytest.fixture
async def runtime(tmp_path: Path) -> Any:
    rt = Runtime(workspace=tmp_path, state="memory")
    await rt.start()
    yield rt
    await rt.shutdown()


async def _collect(runner: SpellRunner, path: Path) -> tuple[Any, str, list[Any]]:
    msgs = [m async for m in runner.run(path)]
    out = "".join(m.text for m in msgs if m.type == "output")
    return msgs[-1], out, msgs


async def _pair(runner: SpellRunner, first: Path, second: Path) -> tuple[tuple[Any, str, list[Any]], ...]:
    """Run ``first`` until it prints ``ready`` (its subscriptions exist), then ``second`` beside it."""
    gen = runner.run(first)
    msgs: list[Any] = []
    async for m in gen:
        msgs.append(m)
        if m.type == "output" and m.text == "ready\n":
            break
        assert m.type != "finished", m
    else:  # pragma: no cover
        raise AssertionError("the first spell ended before it was ready")

    async def rest() -> tuple[Any, str, list[Any]]:
        msgs.extend([m async for m in gen])
        out = "".join(m.text for m in msgs if m.type == "output" and m.text != "ready\n")
        return msgs[-1], out, msgs

    return tuple(await asyncio.wait_for(asyncio.gather(rest(), _collect(runner, second)), 20))


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


async def test_events_flow_both_ways_between_lua_and_js(runtime: Runtime, tmp_path: Path) -> None:
    js = _write(tmp_path, "listener.js", """
const fromLua = new Promise((resolve) => {
  Event.subscribe("lua.hel*", (ev) => {
    console.log("js got", ev.event_type, ev.data.n, ev.language);
    resolve(ev.data);
  });
});
const pull = Event.subscribe("lua.pull");
await Event.publish("js.ready", { from: "js" });
const data = await fromLua;
const pulled = await Event.receive(pull, 5000);
return { pushed: data.n, pulled: pulled.data.n };
""")
    lua = _write(tmp_path, "talker.lua", """
local sub = Event.subscribe("js.*")
print("ready")
local ev = Event.receive(sub, 5000)
assert(ev, "no event from the JS spell")
print("lua got", ev.event_type, ev.data.from, ev.language)
Event.publish("lua.pull", {n = 2})
Event.publish("lua.hello", {n = 1})
return ev.data.from
""")
    runner = SpellRunner(runtime=runtime)
    (lfin, lout, _), (jfin, jout, _) = await _pair(runner, lua, js)
    assert jfin.status == "success", (jfin.error, jout)
    assert lfin.status == "success", (lfin.error, lout)
    assert jfin.result == {"pushed": 1, "pulled": 2}
    assert lfin.result == "js"
    assert lout == "lua got\tjs.ready\tjs\tJavaScript\n"
    assert jout == "js got lua.hello 1 Lua\n"


async def test_hook_registered_in_js_applies_to_tools_called_from_lua(runtime: Runtime, tmp_path: Path) -> None:
    js = _write(tmp_path, "guard.js", """
Hook.register("BeforeToolExecution", (ctx) => {
  if (ctx.component_id.name !== "calculator") return "continue";
  const p = ctx.data.parameters;
  console.log("js hook rewrites", p.input);
  return { type: "modified", data: { ...ctx.data, parameters: { ...p, input: "(" + p.input + ") * 10" } } };
});
Hook.register("BeforeToolExecution", (ctx) =>
  ctx.component_id.name === "uuid-generator" ? { type: "cancel", reason: "no uuids today" } : "continue");
const done = new Promise((resolve) => Event.subscribe("lua.done", (ev) => resolve(ev.data)));
await Event.publish("js.hooked", {});
return await done;
""")
    lua = _write(tmp_path, "caller.lua", """
local sub = Event.subscribe("js.hooked")
print("ready")
assert(Event.receive(sub, 5000), "the JS spell never registered its hook")
local r = Tool.execute("calculator", {input = "1 + 1"})
print("lua calculator:", r.result.result)
local ok, err = pcall(Tool.execute, "uuid-generator", {operation = "generate"})
print("uuid allowed:", ok, tostring(err):find("no uuids today") ~= nil)
Event.publish("lua.done", {value = r.result.result})
return r.result.result
""")
    runner = SpellRunner(runtime=runtime)
    (lfin, lout, lmsgs), (jfin, jout, jmsgs) = await _pair(runner, lua, js)
    assert jfin.status == "success", (jfin.error, jout)
    assert lfin.status == "success", (lfin.error, lout)
    assert lfin.result == 20 and jfin.result == {"value": 20}
    assert lout == "lua calculator:\t20\nuuid allowed:\tfalse\ttrue\n"
    assert jout == "js hook rewrites 1 + 1\n"
    # the hook's results are part of the run streams, attributed to JavaScript
    hook_msgs = [m for m in (*jmsgs, *lmsgs) if m.type == "hookResult" and m.point == "BeforeToolExecution"]
    assert {"modified", "cancel"} <= {m.result for m in hook_msgs}
    assert all(m.language == "javascript" for m in hook_msgs if m.result in ("modified", "cancel"))


async def test_hook_registered_in_lua_applies_to_tools_called_from_js(runtime: Runtime, tmp_path: Path) -> None:
    lua = _write(tmp_path, "guard.lua", """
Hook.register("BeforeToolExecution", function(ctx)
  if ctx.component_id.name == "calculator" then
    return {type = "cancel", reason = "lua says no"}
  end
  return "continue"
end)
local sub = Event.subscribe("js.done")
Event.publish("lua.hooked", {})
local ev = Event.receive(sub, 5000)
return ev and ev.data.caught
""")
    js = _write(tmp_path, "caller.js", """
const sub = Event.subscribe("lua.hooked");
console.log("ready");
if (!(await Event.receive(sub, 5000))) throw new Error("the Lua spell never registered its hook");
let caught = null;
try { await Tool.execute("calculator", { input: "2 + 2" }); } catch (e) { caught = e.name + ": " + e.message; }
await Event.publish("js.done", { caught });
return caught;
""")
    runner = SpellRunner(runtime=runtime)
    (jfin, jout, _), (lfin, lout, _) = await _pair(runner, js, lua)
    assert jfin.status == "success", (jfin.error, jout)
    assert lfin.status == "success", (lfin.error, lout)
    assert "HookCancelledError" in jfin.result and "lua says no" in jfin.result
    assert lfin.result == jfin.result


async def test_js_events_reach_python_subscribers_and_back(runtime: Runtime, tmp_path: Path) -> None:
    seen: list[Any] = []

    async def on_event(ev: Any) -> None:
        seen.append((ev.event_type, ev.data, ev.language))
        await runtime.events.publish("py.reply", {"echo": ev.data["n"] * 2}, source="python")

    sub = runtime.events.subscribe("js.ping", on_event)
    try:
        js = _write(tmp_path, "ping.js", """
const reply = new Promise((resolve) => Event.subscribe("py.reply", (ev) => resolve(ev.data.echo)));
await Event.publish("js.ping", { n: 21 });
return await reply;
""")
        fin, out, _ = await asyncio.wait_for(_collect(SpellRunner(runtime=runtime), js), 10)
    finally:
        runtime.events.unsubscribe(sub)
    assert fin.status == "success", (fin.error, out)
    assert fin.result == 42
    assert seen == [("js.ping", {"n": 21}, "javascript")]


async def test_what_a_js_spell_registered_ends_with_it(runtime: Runtime, tmp_path: Path) -> None:
    js = _write(tmp_path, "shortlived.js", """
Hook.register("BeforeToolExecution", () => ({ type: "cancel", reason: "js hook still alive" }));
Tool.register("js-only-tool", "exists while the JS spell runs", () => ({ success: true, result: 1 }));
const r = await Tool.execute("js-only-tool", {}).catch(e => e.message);
return typeof r === "string" ? r : r.result;
""")
    fin, out, _ = await _collect(SpellRunner(runtime=runtime), js)
    assert fin.status == "success", (fin.error, out)
    assert "js hook still alive" in fin.result  # the hook was live while the spell ran
    lua = _write(tmp_path, "after.lua", """
local r = Tool.execute("calculator", {input = "3 + 4"})
return {value = r.result.result, js_tool = Tool.exists("js-only-tool")}
""")
    fin, out, _ = await _collect(SpellRunner(runtime=runtime), lua)
    assert fin.status == "success", (fin.error, out)
    assert fin.result == {"value": 7, "js_tool": False}
