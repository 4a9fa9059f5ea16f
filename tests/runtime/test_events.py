"""Event bus behaviour a spell author relies on: patterns, ordering, isolation of bad subscribers."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from llmspell.core.types import Event, HookContext
from llmspell.events.bus import EventBus
from llmspell.events.patterns import compile_pattern
from llmspell.hooks.registry import HookRegistry


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("*", "anything.at.all", True),
        ("agent.*", "agent.started", True),
        ("agent.*", "agent.stream.chunk", True),
        ("agent.*", "agentx.started", False),
        ("agent.*", "tool.started", False),
        ("*.failed", "tool.failed", True),
        ("*.failed", "workflow.step.failed", True),
        ("*.failed", "tool.failed.twice", False),
        ("workflow.*.failed", "workflow.step.failed", True),
        ("workflow.*.failed", "workflow.failed", False),
        ("tool.?", "tool.x", True),
        ("user.login", "user.login", True),
        ("user.login", "user.logout", False),
        ("User.login", "user.login", False),
        ("test*", "testing", True),
    ],
)
def test_pattern_matching(pattern: str, name: str, expected: bool) -> None:
    assert compile_pattern(pattern)(name) is expected


def test_empty_pattern_is_rejected() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        compile_pattern("")


async def test_wildcard_subscribers_each_get_their_events() -> None:
    bus = EventBus()
    every: list[str] = []
    agents: list[str] = []
    failures: list[str] = []
    bus.subscribe("*", lambda e: every.append(e.event_type))
    bus.subscribe("agent.*", lambda e: agents.append(e.event_type))
    bus.subscribe("*.failed", lambda e: failures.append(e.event_type))
    for name in ["agent.started", "tool.failed", "agent.failed", "workflow.completed"]:
        await bus.publish(name, {"n": 1})
    assert every == ["agent.started", "tool.failed", "agent.failed", "workflow.completed"]
    assert agents == ["agent.started", "agent.failed"]
    assert failures == ["tool.failed", "agent.failed"]


async def test_events_carry_increasing_sequence_timestamp_and_correlation() -> None:
    bus = EventBus()
    sub = bus.subscribe("job.*")
    t0 = time.time()
    published = [await bus.publish("job.step", {"i": i}, correlation_id="corr-1", source="test") for i in range(50)]
    got = [await sub.receive(0.5) for _ in range(50)]
    assert [e.data["i"] for e in got if e] == list(range(50))
    seqs = [e.sequence for e in published]
    assert seqs == sorted(seqs) and len(set(seqs)) == 50
    assert all(e.correlation_id == "corr-1" and e.source == "test" for e in got if e)
    assert all(t0 - 1 <= e.timestamp <= time.time() + 1 for e in got if e)
    assert len({e.id for e in published}) == 50
    # a pydantic model that validates and serialises like any other Event
    assert Event.model_validate(published[0].model_dump()) == published[0]


async def test_pull_subscriber_times_out_and_then_receives() -> None:
    bus = EventBus()
    sub = bus.subscribe("tick")
    t = time.perf_counter()
    assert await sub.receive(0.05) is None
    assert 0.04 <= time.perf_counter() - t < 1.0

    async def later() -> None:
        await asyncio.sleep(0.02)
        bus.publish_nowait("tick", 7)

    task = asyncio.create_task(later())
    ev = await sub.receive(2.0)
    await task
    assert ev is not None and ev.data == 7


async def test_unsubscribe_wakes_a_waiting_receiver() -> None:
    bus = EventBus()
    sub = bus.subscribe("x")
    waiter = asyncio.create_task(sub.receive(5.0))
    await asyncio.sleep(0.01)
    assert bus.unsubscribe(sub.id) is True
    assert await asyncio.wait_for(waiter, 1.0) is None
    assert bus.unsubscribe(sub.id) is False


async def test_concurrent_receivers_share_one_subscription() -> None:
    bus = EventBus()
    sub = bus.subscribe("x")
    r1 = asyncio.create_task(sub.receive(2.0))
    r2 = asyncio.create_task(sub.receive(2.0))
    await asyncio.sleep(0.01)
    r1.cancel()  # cancelling one receiver must not break the other
    await bus.publish("x", 1)
    ev = await asyncio.wait_for(r2, 1.0)
    assert ev is not None and ev.data == 1


async def test_slow_async_subscriber_does_not_block_publisher_or_others() -> None:
    bus = EventBus()
    fast: list[int] = []
    slow: list[int] = []

    async def slow_cb(e: Event) -> None:
        await asyncio.sleep(0.05)
        slow.append(e.data)

    bus.subscribe("n", slow_cb)
    bus.subscribe("n", lambda e: fast.append(e.data))
    t = time.perf_counter()
    for i in range(20):
        await bus.publish("n", i)
    elapsed = time.perf_counter() - t
    assert elapsed < 0.5, "publishing must not wait for a slow subscriber (it would take 1 s)"
    assert fast == list(range(20))
    assert slow == []
    await asyncio.sleep(0.12)
    assert slow[:1] == [0]  # order is kept for the slow one too
    await bus.drain(5.0)
    assert slow == list(range(20))


async def test_failing_subscribers_do_not_break_publish() -> None:
    bus = EventBus()
    hooks = HookRegistry(bus)
    seen: list[HookContext] = []
    hooks.register("EventHandlerError", lambda ctx: seen.append(ctx))
    good: list[int] = []

    def bad(e: Event) -> None:
        raise RuntimeError("boom")

    async def bad_async(e: Event) -> None:
        raise ValueError("async boom")

    bus.subscribe("n", bad)
    bus.subscribe("n", bad_async)
    bus.subscribe("n", lambda e: good.append(e.data))
    for i in range(3):
        ev = await bus.publish("n", i)
        assert ev.sequence == i + 1
    await bus.drain()
    await hooks.drain()
    assert good == [0, 1, 2]
    st = bus.stats()
    assert st["handler_errors"] == 6
    assert st["events_processed"] == 3  # the errors published nothing themselves
    assert len(seen) == 6 and {c.data["error"] for c in seen} == {"boom", "async boom"}


async def test_bounded_buffer_drops_oldest_and_counts() -> None:
    bus = EventBus()
    sub = bus.subscribe("x", maxsize=3)
    for i in range(5):
        await bus.publish("x", i)
    got = [sub.receive_nowait() for _ in range(4)]
    assert [e.data for e in got if e] == [2, 3, 4]
    assert got[-1] is None
    assert bus.stats()["events_dropped"] == 2


async def test_ttl_expired_events_are_skipped() -> None:
    bus = EventBus()
    sub = bus.subscribe("x")
    ev = await bus.publish("x", "old", ttl_seconds=1)
    ev.timestamp -= 5  # pretend it has waited too long
    await bus.publish("x", "new")
    got = await sub.receive(0.1)
    assert got is not None and got.data == "new"


async def test_publish_nowait_from_another_thread_is_delivered_in_order() -> None:
    bus = EventBus()
    got: list[int] = []
    bus.subscribe("t", lambda e: got.append(e.data))
    await bus.publish("t", -1)  # the bus learns its loop

    def worker() -> None:
        for i in range(200):
            bus.publish_nowait("t", i)

    th = threading.Thread(target=worker)
    th.start()
    await asyncio.to_thread(th.join)
    for _ in range(100):
        if len(got) == 201:
            break
        await asyncio.sleep(0.005)
    assert got == [-1, *range(200)]


async def test_subscribe_while_publishing_sees_later_events_only() -> None:
    bus = EventBus()
    late: list[int] = []

    def first(e: Event) -> None:
        if e.data == 1:
            bus.subscribe("x", lambda ev: late.append(ev.data))

    bus.subscribe("x", first)
    for i in range(4):
        await bus.publish("x", i)
    assert late == [2, 3]


async def test_emit_hooks_modify_and_suppress_events() -> None:
    bus = EventBus()
    hooks = HookRegistry(bus)
    got: list[object] = []
    bus.subscribe("*", lambda e: got.append(e.data))

    def before(ctx: HookContext) -> object:
        if ctx.data["event_type"] == "secret":
            return {"type": "cancel", "reason": "not for subscribers"}
        return {"type": "modified", "data": {"data": {"wrapped": ctx.data["data"]}}}

    h = hooks.register("BeforeEventEmit", before)
    ev = await bus.publish("secret", 1)
    assert ev.metadata["suppressed"] == "not for subscribers"
    await bus.publish("plain", 2)
    assert got == [{"wrapped": 2}]
    h.unregister()
    await bus.publish("plain", 3)
    assert got[-1] == 3


async def test_stats_and_listing() -> None:
    bus = EventBus()
    a = bus.subscribe("a.*", language="lua")
    bus.subscribe("b", lambda e: None)
    await bus.publish("a.x")
    listing = {s["id"]: s for s in bus.list_subscriptions()}
    assert listing[a.id]["pattern"] == "a.*" and listing[a.id]["mode"] == "pull"
    st = bus.stats()
    assert st["events_processed"] == 1
    assert st["buffer_size"] == 1
    assert st["active_subscriptions"] == 2
    assert st["subscriptions_by_language"] == {"lua": 1, "python": 1}


async def test_emit_hook_that_publishes_does_not_loop() -> None:
    bus = EventBus()
    hooks = HookRegistry(bus)
    got: list[str] = []
    bus.subscribe("*", lambda e: got.append(e.event_type))

    async def audit(ctx: HookContext) -> None:
        await bus.publish("audit.emitted", {"of": ctx.data["event_type"]})

    hooks.register("AfterEventEmit", audit)
    await bus.publish("user.click", 1)
    assert got == ["user.click", "audit.emitted"]
