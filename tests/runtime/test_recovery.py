"""Recovery: backoff with seeded jitter, breaker transitions, fallback, degraded, and their events."""

from __future__ import annotations

import random
from typing import Any

import pytest

from llmspell.core.errors import (
    CircuitOpenError,
    ConfigurationError,
    HookCancelledError,
    ProviderError,
    ToolError,
    ValidationError,
)
from llmspell.core.types import ComponentId
from llmspell.events.bus import EventBus
from llmspell.recovery import (
    CircuitBreaker,
    RecoveryConfig,
    RetryPolicy,
    apply_recovery,
    continue_degraded,
    default_retry_if,
    with_fallback,
)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, s: float) -> None:
        self.calls.append(s)


def flaky(fail_times: int, exc: Exception | None = None) -> Any:
    state = {"n": 0}

    async def op() -> str:
        state["n"] += 1
        if state["n"] <= fail_times:
            raise exc or ProviderError("rate limited", status=429)
        return f"ok after {state['n']}"

    op.state = state  # type: ignore[attr-defined]
    return op


def test_backoff_is_exponential_capped_and_jitter_is_reproducible() -> None:
    p = RetryPolicy(max_attempts=6, base_delay_ms=100, max_delay_ms=500, multiplier=2, jitter=0)
    assert [p.delay_ms(n) for n in range(1, 6)] == [100, 200, 400, 500, 500]
    a = RetryPolicy(base_delay_ms=100, jitter=0.5, rng=random.Random(7))
    b = RetryPolicy(base_delay_ms=100, jitter=0.5, rng=random.Random(7))
    da = [a.delay_ms(n) for n in range(1, 5)]
    assert da == [b.delay_ms(n) for n in range(1, 5)]
    for n, d in enumerate(da, start=1):
        nominal = 100 * 2 ** (n - 1)
        assert 0.5 * nominal <= d <= 1.5 * nominal
    assert len(set(da)) == 4


async def test_retry_succeeds_after_failures_with_expected_waits() -> None:
    sleeps = Sleeps()
    seen: list[tuple[int, float]] = []
    p = RetryPolicy(max_attempts=4, base_delay_ms=10, multiplier=3, jitter=0, sleep=sleeps)
    out = await p.run(flaky(2), on_retry=lambda a, d, e: seen.append((a, d)))
    assert out == "ok after 3"
    assert sleeps.calls == [0.01, 0.03]
    assert seen == [(1, 10), (2, 30)]


async def test_retry_gives_up_after_max_attempts() -> None:
    op = flaky(10)
    p = RetryPolicy(max_attempts=3, base_delay_ms=0, jitter=0, sleep=Sleeps())
    with pytest.raises(ProviderError, match="rate limited"):
        await p.run(op)
    assert op.state["n"] == 3


async def test_non_transient_errors_are_not_retried() -> None:
    assert not default_retry_if(ProviderError("bad key", status=401))
    assert default_retry_if(ProviderError("overloaded", status=503))
    assert default_retry_if(ProviderError("odd", retryable=True))
    assert not default_retry_if(ValidationError("bad param"))
    assert not default_retry_if(HookCancelledError("BeforeToolExecution", "no"))
    op = flaky(5, ProviderError("bad key", status=401))
    with pytest.raises(ProviderError):
        await RetryPolicy(sleep=Sleeps()).run(op)
    assert op.state["n"] == 1


async def test_breaker_opens_half_opens_and_closes() -> None:
    clock = Clock()
    transitions: list[tuple[str, str]] = []
    b = CircuitBreaker("svc", failure_threshold=3, reset_timeout_s=10, clock=clock,
                       on_transition=lambda br, old, new: transitions.append((old, new)))
    boom = flaky(100, ToolError("down"))
    for _ in range(3):
        with pytest.raises(ToolError):
            await b.call(boom)
    assert b.state == "open" and transitions == [("closed", "open")]
    calls_before = boom.state["n"]
    with pytest.raises(CircuitOpenError, match="circuit 'svc' is open after 3 consecutive failures"):
        await b.call(boom)
    assert boom.state["n"] == calls_before  # not even tried
    clock.t += 10
    assert b.current_state() == "half_open"
    with pytest.raises(ToolError):  # the trial fails: open again
        await b.call(boom)
    assert b.state == "open"
    clock.t += 10

    async def good() -> str:
        return "fine"

    assert await b.call(good) == "fine"
    assert b.state == "closed" and b.failures == 0
    assert transitions == [("closed", "open"), ("open", "half_open"), ("half_open", "open"),
                           ("open", "half_open"), ("half_open", "closed")]


async def test_fallback_and_degraded_helpers() -> None:
    async def primary() -> str:
        raise ToolError("primary down")

    async def backup() -> str:
        return "backup"

    got: list[str] = []
    assert await with_fallback(primary, backup, on_fallback=lambda e: got.append(str(e))) == "backup"
    assert got == ["primary down"]

    async def uses_error(e: BaseException) -> str:
        return f"handled {e}"

    assert await with_fallback(primary, uses_error) == "handled primary down"
    out = await continue_degraded(primary, default={"items": []})
    assert out.degraded and out.value == {"items": []} and "primary down" in (out.error or "")
    ok = await continue_degraded(backup, default=None)
    assert not ok.degraded and ok.value == "backup"


def test_recovery_config_parsing() -> None:
    assert RecoveryConfig.parse(None).strategy == "fail_fast"
    assert RecoveryConfig.parse("retry").strategy == "retry"
    cfg = RecoveryConfig.parse({"strategy": "circuit_breaker", "failure_threshold": 2, "unknown": 1})
    assert cfg.failure_threshold == 2
    with pytest.raises(ConfigurationError, match="strategy must be one of"):
        RecoveryConfig.parse({"strategy": "pray"})
    with pytest.raises(ConfigurationError):
        RecoveryConfig.parse(42)


async def test_apply_recovery_retry_publishes_events() -> None:
    bus = EventBus()
    events: list[Any] = []
    bus.subscribe("recovery.*", events.append)
    cfg = RecoveryConfig(strategy="retry", max_attempts=3, base_delay_ms=5, jitter=0.2)
    out = await apply_recovery(cfg, flaky(2), events=bus, component=ComponentId(type="Agent", name="a1"),
                               rng=random.Random(1), sleep=Sleeps())
    assert out == "ok after 3"
    assert [e.event_type for e in events] == ["recovery.retry", "recovery.retry"]
    assert events[0].data["component"] == "Agent:a1" and events[0].data["attempt"] == 1
    assert "rate limited" in events[0].data["error"]


async def test_apply_recovery_retry_then_fallback() -> None:
    bus = EventBus()
    kinds: list[str] = []
    bus.subscribe("recovery.*", lambda e: kinds.append(e.event_type))

    async def fb() -> str:
        return "from backup agent"

    cfg = RecoveryConfig(strategy="retry", max_attempts=2, base_delay_ms=0, fallback="backup")
    out = await apply_recovery(cfg, flaky(5), events=bus, component="Agent:main", fallback=fb, sleep=Sleeps())
    assert out == "from backup agent"
    assert kinds == ["recovery.retry", "recovery.fallback"]


async def test_apply_recovery_circuit_breaker_is_shared_across_calls_and_emits_events() -> None:
    bus = EventBus()
    kinds: list[str] = []
    bus.subscribe("recovery.circuit.*", lambda e: kinds.append(e.event_type))
    cfg = RecoveryConfig(strategy="circuit_breaker", failure_threshold=2, reset_timeout_s=0.0)
    boom = flaky(2, ToolError("down"))
    for _ in range(2):
        with pytest.raises(ToolError):
            await apply_recovery(cfg, boom, events=bus, component="Tool:web")
    assert kinds == ["recovery.circuit.opened"]
    # reset_timeout 0: the next call is a half-open trial, which succeeds and closes the circuit
    assert await apply_recovery(cfg, boom, events=bus, component="Tool:web") == "ok after 3"
    assert kinds == ["recovery.circuit.opened", "recovery.circuit.half_open", "recovery.circuit.closed"]


async def test_apply_recovery_open_circuit_uses_default_when_degraded_allowed() -> None:
    bus = EventBus()
    cfg = RecoveryConfig(strategy="circuit_breaker", failure_threshold=1, reset_timeout_s=60,
                         use_default=True, default="cached")
    boom = flaky(100, ToolError("down"))
    assert await apply_recovery(cfg, boom, events=bus, component="Tool:x") == "cached"
    assert await apply_recovery(cfg, boom, events=bus, component="Tool:x") == "cached"
    assert boom.state["n"] == 1  # the second call never reached the tool


async def test_apply_recovery_degraded_and_fail_fast() -> None:
    bus = EventBus()
    kinds: list[str] = []
    bus.subscribe("recovery.*", lambda e: kinds.append(e.event_type))
    out = await apply_recovery({"strategy": "degraded", "default": []}, flaky(1, ToolError("x")),
                               events=bus, component="Tool:t")
    assert out == [] and kinds == ["recovery.degraded"]
    with pytest.raises(ToolError):
        await apply_recovery(None, flaky(1, ToolError("x")), events=bus, component="Tool:t")
