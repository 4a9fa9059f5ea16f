"""Hooks change what happens: order, modify, cancel, retry, replace, skip, redirect, background, observe."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from llmspell.api.decl import ScriptFunction
from llmspell.core.errors import HookCancelledError, HookError, ToolError
from llmspell.core.types import HOOK_POINT_NAMES, ComponentId, HookContext, HookResult
from llmspell.events.bus import EventBus
from llmspell.hooks.registry import CONTINUE, HookExecution, HookRegistry, parse_priority
from llmspell.hooks.results import to_hook_result

TOOL = ComponentId(type="Tool", name="calculator")


class FakeScriptFn(ScriptFunction):
    """Stands in for a Lua function: receives the context *table* and returns a Lua-style value."""

    language = "lua"

    def __init__(self, fn: Any):
        self.fn = fn
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, *args: Any) -> Any:
        self.calls.append(args[0])
        return self.fn(args[0])


@pytest.fixture
def reg() -> HookRegistry:
    r = HookRegistry(EventBus())
    return r


def around_kwargs(op: Any, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(
        before="BeforeToolExecution", after="AfterToolExecution", error="ToolError", component=TOOL,
        data={"x": 1}, operation=op, to_data=lambda out: {"result": out},
        from_data=lambda d: d.get("result"), operation_name="tool.execute",
    )
    base.update(kw)
    return base


def test_43_points_and_custom_are_accepted(reg: HookRegistry) -> None:
    assert len(HOOK_POINT_NAMES) == 43
    for p in HOOK_POINT_NAMES:
        reg.register(p, lambda c: None)
    reg.register("Custom:my_point", lambda c: None)
    assert len(reg.list()) == 44


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        ("before_tool_execution", "Did you mean 'BeforeToolExecution'?"),
        ("BeforeToolExecuton", "BeforeToolExecution"),
        ("Custom", "Custom:<name>"),
        ("nonsense", "43 hook points"),
    ],
)
def test_unknown_point_raises_with_suggestion(reg: HookRegistry, bad: str, hint: str) -> None:
    with pytest.raises(HookError, match=r"Unknown hook point: ") as ei:
        reg.register(bad, lambda c: None)
    assert hint in str(ei.value)


def test_priorities() -> None:
    assert parse_priority("highest") < parse_priority("high") < parse_priority("normal") < parse_priority("low")
    assert parse_priority("LOWEST") == 2**31 - 1
    assert parse_priority(5) == 5 and parse_priority("Priority(-100)") == -100
    assert parse_priority("whatever") == 0  # rs-llmspell: unknown -> normal


async def test_zero_hooks_returns_shared_continue(reg: HookRegistry) -> None:
    res = await reg.execute(HookContext(point="BeforeAgentExecution"))
    assert res is CONTINUE and res.should_continue


async def test_priority_order_and_modified_data_flows_to_later_hooks(reg: HookRegistry) -> None:
    order: list[str] = []

    def make(name: str, add: int | None = None) -> Any:
        def hook(ctx: HookContext) -> Any:
            order.append(name)
            if add is not None:
                return HookResult(kind="modified", data={**ctx.data, "x": ctx.data["x"] + add})
            return None
        return hook

    reg.register("BeforeToolExecution", make("low", 100), priority="low")
    reg.register("BeforeToolExecution", make("highest", 1), priority="highest")
    reg.register("BeforeToolExecution", make("normal-1"))
    reg.register("BeforeToolExecution", make("normal-2", 10))
    reg.register("BeforeToolExecution", make("high"), priority="high")
    ctx = HookContext(point="BeforeToolExecution", data={"x": 0})
    res = await reg.execute(ctx)
    assert order == ["highest", "high", "normal-1", "normal-2", "low"]
    assert res.kind == "modified" and ctx.data == {"x": 111}
    names = [h["priority"] for h in reg.list("BeforeToolExecution")]
    assert names[0] == f"Priority({-(2**31)})" and names[-1] == "Priority(100)"


async def test_first_stopping_result_ends_the_chain(reg: HookRegistry) -> None:
    ran: list[str] = []
    reg.register("BeforeToolExecution", lambda c: ran.append("a") or "cancel me", priority="high")
    reg.register("BeforeToolExecution", lambda c: ran.append("b"))
    res = await reg.execute(HookContext(point="BeforeToolExecution"))
    assert res.kind == "cancel" and res.reason == "cancel me"
    assert ran == ["a"]


@pytest.mark.parametrize(
    ("value", "kind", "attr"),
    [
        ("continue", "continue", None),
        ("skip", "skipped", None),
        ("skipped", "skipped", None),
        ("cancel", "cancel", ("reason", "cancel")),
        ("too expensive", "cancel", ("reason", "too expensive")),
        ({"type": "modified", "data": {"a": 1}}, "modified", ("data", {"a": 1})),
        ({"type": "cancel"}, "cancel", ("reason", "cancelled")),
        ({"type": "redirect", "target": "other"}, "redirect", ("target", "other")),
        ({"type": "replace", "data": {"r": 2}}, "replace", ("data", {"r": 2})),
        ({"type": "retry"}, "retry", ("delay_ms", 1000)),
        ({"type": "retry", "delay_ms": 5, "max_attempts": 7}, "retry", ("max_attempts", 7)),
        ({"type": "skipped", "reason": "r"}, "skipped", ("reason", "r")),
        ({"type": "bogus"}, "continue", None),
        ({"no": "type"}, "continue", None),
        (None, "continue", None),
        (42, "continue", None),
    ],
)
def test_lua_result_conversion(value: Any, kind: str, attr: tuple[str, Any] | None) -> None:
    res = to_hook_result(value)
    assert res.kind == kind
    if attr:
        assert getattr(res, attr[0]) == attr[1]


def test_redirect_without_target_is_an_error() -> None:
    with pytest.raises(HookError, match="without 'target'"):
        to_hook_result({"type": "redirect"}, point="BeforeAgentExecution")


async def test_script_hook_receives_context_table(reg: HookRegistry) -> None:
    fn = FakeScriptFn(lambda t: {"type": "modified", "data": {"input": t["data"]["input"].upper()}})
    h = reg.register("BeforeAgentExecution", fn)
    ctx = HookContext(point="BeforeAgentExecution", component_id=ComponentId(type="Agent", name="bob"),
                      data={"input": "hi"}, metadata={"k": "v"})
    res = await reg.execute(ctx)
    assert res.kind == "modified" and ctx.data == {"input": "HI"}
    t = fn.calls[0]
    assert t["point"] == "BeforeAgentExecution"
    assert t["component_id"] == {"type": "Agent", "name": "bob"}
    assert t["metadata"] == {"k": "v"} and t["correlation_id"] == ctx.correlation_id
    entry = reg.list()[0]
    assert entry["language"] == "lua" and entry["name"] == f"lua_{h.id}"
    assert entry["description"] == "lua hook for BeforeAgentExecution"
    assert entry["tags"] == ["cross-language", "lua"] and entry["version"] == "1.0.0"


async def test_raising_hook_is_observed_and_counts_as_continue(reg: HookRegistry) -> None:
    seen: list[HookExecution] = []
    reg.add_observer(seen.append)

    def broken(ctx: HookContext) -> None:
        raise KeyError("nope")

    reg.register("BeforeToolExecution", broken, name="broken")
    reg.register("BeforeToolExecution", lambda c: {"type": "modified", "data": {"ok": True}}, name="fixer")
    ctx = HookContext(point="BeforeToolExecution", component_id=TOOL)
    res = await reg.execute(ctx)
    assert res.kind == "modified"
    assert [(o.hook, o.result) for o in seen] == [("broken", "error"), ("fixer", "modified")]
    assert "KeyError" in (seen[0].reason or "")
    assert seen[0].component == "Tool:calculator" and seen[0].duration_us >= 0
    assert reg.recent()[-1].hook == "fixer"


async def test_observer_failure_does_not_break_hooks(reg: HookRegistry) -> None:
    def bad_observer(o: HookExecution) -> None:
        raise RuntimeError("observer down")

    reg.add_observer(bad_observer)
    reg.register("SystemStartup", lambda c: "continue")
    assert (await reg.execute(HookContext(point="SystemStartup"))).kind == "continue"


async def test_background_hooks_run_but_never_change_the_result(reg: HookRegistry) -> None:
    started = asyncio.Event()
    done: list[str] = []

    async def slow(ctx: HookContext) -> str:
        started.set()
        await asyncio.sleep(0.05)
        done.append(ctx.point)
        return "cancel from background"

    seen: list[HookExecution] = []
    reg.add_observer(seen.append)
    reg.register("AfterToolExecution", slow, mode="background")
    res = await reg.execute(HookContext(point="AfterToolExecution"))
    assert res.kind == "continue" and done == []  # returned without waiting for the hook
    await reg.drain()
    assert done == ["AfterToolExecution"]
    assert seen[0].mode == "background" and seen[0].result == "cancel"


async def test_unregister_and_list_filters(reg: HookRegistry) -> None:
    h1 = reg.register("BeforeToolExecution", lambda c: None, tags=("audit",))
    reg.register("AfterToolExecution", FakeScriptFn(lambda t: None), priority="low")
    assert [h["point"] for h in reg.list({"language": "lua"})] == ["AfterToolExecution"]
    assert [h["point"] for h in reg.list({"tag": "aud"})] == ["BeforeToolExecution"]
    assert [h["point"] for h in reg.list({"priority": "low"})] == ["AfterToolExecution"]
    assert h1.unregister() is True and h1.unregister() is False
    assert reg.unregister("no-such-id") is False and reg.unregister(42) is False
    assert not reg.has_hooks("BeforeToolExecution")


# ------------------------------------------------------------------------------------------ around()


async def test_around_without_hooks_just_runs(reg: HookRegistry) -> None:
    async def op(d: dict[str, Any]) -> int:
        return d["x"] * 2

    assert await reg.around(**around_kwargs(op)) == 2


async def test_around_modifies_input_and_output(reg: HookRegistry) -> None:
    seen_inputs: list[dict[str, Any]] = []

    async def op(d: dict[str, Any]) -> int:
        seen_inputs.append(d)
        return d["x"] * 2

    reg.register("BeforeToolExecution", lambda c: {"type": "modified", "data": {"x": 21}})
    reg.register("AfterToolExecution", lambda c: {"type": "modified", "data": {"result": c.data["result"] + 1}})
    assert await reg.around(**around_kwargs(op)) == 43
    assert seen_inputs == [{"x": 21}]


async def test_around_cancel_before_raises_clear_error_and_skips_op(reg: HookRegistry) -> None:
    ran: list[int] = []

    async def op(d: dict[str, Any]) -> int:
        ran.append(1)
        return 1

    reg.register("BeforeToolExecution", lambda c: {"type": "cancel", "reason": "budget exceeded"})
    with pytest.raises(HookCancelledError) as ei:
        await reg.around(**around_kwargs(op))
    assert ran == []
    assert ei.value.point == "BeforeToolExecution" and ei.value.reason == "budget exceeded"
    assert "cancelled by a BeforeToolExecution hook: budget exceeded" in str(ei.value)


async def test_around_cancel_after_the_fact(reg: HookRegistry) -> None:
    async def op(d: dict[str, Any]) -> str:
        return "secret output"

    reg.register("AfterToolExecution", lambda c: "contains secrets" if "secret" in c.data["result"] else None)
    with pytest.raises(HookCancelledError, match="contains secrets"):
        await reg.around(**around_kwargs(op))


async def test_around_skip_and_replace_do_not_run_op(reg: HookRegistry) -> None:
    ran: list[int] = []

    async def op(d: dict[str, Any]) -> str:
        ran.append(1)
        return "real"

    h = reg.register("BeforeToolExecution", lambda c: "skip")
    assert await reg.around(**around_kwargs(op)) is None  # from_data({})
    h.unregister()
    reg.register("BeforeToolExecution", lambda c: {"type": "replace", "data": {"result": "cached"}})
    assert await reg.around(**around_kwargs(op)) == "cached"
    assert ran == []


async def test_around_error_hook_retries_with_delay_then_succeeds(reg: HookRegistry) -> None:
    attempts: list[float] = []

    async def flaky(d: dict[str, Any]) -> str:
        attempts.append(time.perf_counter())
        if len(attempts) < 3:
            raise ToolError("temporarily down")
        return "ok"

    errors: list[dict[str, Any]] = []

    def on_error(ctx: HookContext) -> Any:
        errors.append(dict(ctx.data))
        return {"type": "retry", "delay_ms": 30, "max_attempts": 5}

    reg.register("ToolError", on_error)
    assert await reg.around(**around_kwargs(flaky)) == "ok"
    assert len(attempts) == 3
    assert attempts[1] - attempts[0] >= 0.025 and attempts[2] - attempts[1] >= 0.025
    assert errors[0]["error"] == "temporarily down" and errors[0]["error_type"] == "tool"
    assert [e["attempt"] for e in errors] == [1, 2]


async def test_around_retry_stops_at_max_attempts(reg: HookRegistry) -> None:
    calls = 0

    async def always_fails(d: dict[str, Any]) -> str:
        nonlocal calls
        calls += 1
        raise ToolError(f"fail {calls}")

    reg.register("ToolError", lambda c: {"type": "retry", "delay_ms": 1, "max_attempts": 3})
    with pytest.raises(ToolError, match="fail 3"):
        await reg.around(**around_kwargs(always_fails))
    assert calls == 3


async def test_around_error_hook_replace_recovers(reg: HookRegistry) -> None:
    async def boom(d: dict[str, Any]) -> str:
        raise ToolError("no")

    reg.register("ToolError", lambda c: {"type": "replace", "data": {"result": "fallback value"}})
    assert await reg.around(**around_kwargs(boom)) == "fallback value"


async def test_around_error_without_recovery_reraises(reg: HookRegistry) -> None:
    async def boom(d: dict[str, Any]) -> str:
        raise ToolError("original")

    reg.register("ToolError", lambda c: None)
    with pytest.raises(ToolError, match="original"):
        await reg.around(**around_kwargs(boom))


async def test_around_redirect(reg: HookRegistry) -> None:
    async def op(d: dict[str, Any]) -> str:
        return "primary"

    reg.register("BeforeToolExecution", lambda c: {"type": "redirect", "target": "backup"})
    with pytest.raises(HookError, match="redirected to 'backup'"):
        await reg.around(**around_kwargs(op))

    async def redirect(target: str, data: dict[str, Any]) -> str:
        return f"ran {target} with {data['x']}"

    assert await reg.around(**around_kwargs(op), redirect=redirect) == "ran backup with 1"


async def test_around_after_retry_reruns_operation(reg: HookRegistry) -> None:
    answers = iter(["bad", "bad", "good"])

    async def op(d: dict[str, Any]) -> str:
        return next(answers)

    reg.register("AfterToolExecution",
                 lambda c: {"type": "retry", "delay_ms": 1, "max_attempts": 5} if c.data["result"] == "bad" else None)
    assert await reg.around(**around_kwargs(op)) == "good"


async def test_hook_executed_event_is_published_when_someone_listens() -> None:
    bus = EventBus()
    reg = HookRegistry(bus)
    sub = bus.subscribe("hook.executed")
    reg.register("BeforeAgentExecution", lambda c: "continue", name="watcher")
    await reg.execute(HookContext(point="BeforeAgentExecution"))
    ev = await sub.receive(0.5)
    assert ev is not None and ev.data["hook"] == "watcher" and ev.data["result"] == "continue"


async def test_register_from_another_thread_while_executing(reg: HookRegistry) -> None:
    import threading

    stop = False
    count = 0

    def spam() -> None:
        handles = []
        while not stop:
            handles.append(reg.register("BeforeToolExecution", lambda c: None))
            if len(handles) > 20:
                handles.pop(0).unregister()

    th = threading.Thread(target=spam)
    th.start()
    try:
        for _ in range(2000):
            await reg.execute(HookContext(point="BeforeToolExecution"))
            count += 1
            if count % 100 == 0:
                await asyncio.sleep(0)
    finally:
        stop = True
        th.join()
    assert count == 2000


async def test_catch_all_subscribers_do_not_trigger_hook_executed_events() -> None:
    bus = EventBus()
    reg = HookRegistry(bus)
    seen: list[str] = []
    bus.subscribe("*", lambda e: seen.append(e.event_type))  # like the run stream
    reg.register("BeforeAgentExecution", lambda c: None)
    await reg.execute(HookContext(point="BeforeAgentExecution"))
    assert seen == []
