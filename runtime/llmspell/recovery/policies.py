"""Recovery building blocks: retry with exponential backoff and jitter, circuit breaker, fallback,
continue-degraded.

Each takes an ``op``: a zero-argument callable returning an awaitable (``lambda: agent.execute(x)``).
Randomness, sleeping and the clock are injectable so tests are exact and fast.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from llmspell.core.errors import (
    CancelledError,
    CircuitOpenError,
    ConfigurationError,
    HookCancelledError,
    ProviderError,
    ResourceLimitError,
    SecurityViolationError,
    ValidationError,
)

T = TypeVar("T")
Op = Callable[[], Awaitable[T]]

_NEVER_RETRY = (HookCancelledError, SecurityViolationError, ValidationError, CancelledError, CircuitOpenError,
                ResourceLimitError, ConfigurationError)
_RETRYABLE_STATUS = frozenset((408, 409, 425, 429, 500, 502, 503, 504))


def default_retry_if(exc: BaseException) -> bool:
    """Retry transient failures only: not cancellations, policy refusals or bad parameters.

    A :class:`ProviderError` is retried when it says it is retryable or its status is transient
    (408/429/5xx); other provider errors (401, 400) fail at once.
    """
    if isinstance(exc, _NEVER_RETRY):
        return False
    if isinstance(exc, ProviderError):
        return exc.retryable or (exc.status in _RETRYABLE_STATUS)
    return isinstance(exc, Exception)


async def _maybe_await(v: Any) -> Any:
    if inspect.isawaitable(v):
        return await v
    return v


@dataclass
class RetryPolicy:
    """Exponential backoff: ``delay(n) = min(max_delay, base * multiplier**(n-1))`` ± ``jitter`` (a fraction).

    ``rng`` (a ``random.Random``) makes the jitter reproducible; ``sleep`` replaces ``asyncio.sleep``.
    """

    max_attempts: int = 3
    base_delay_ms: float = 100.0
    max_delay_ms: float = 10_000.0
    multiplier: float = 2.0
    jitter: float = 0.1
    rng: random.Random | None = None
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep

    def delay_ms(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        d = self.base_delay_ms * (self.multiplier ** max(0, attempt - 1))
        d = min(d, self.max_delay_ms)
        if self.jitter > 0:
            r = (self.rng or random).random()
            d = d * (1.0 - self.jitter + 2.0 * self.jitter * r)
            d = min(d, self.max_delay_ms)
        return max(0.0, d)

    async def run(
        self,
        op: Op[T],
        *,
        on_retry: Callable[[int, float, BaseException], Any] | None = None,
        retry_if: Callable[[BaseException], bool] | None = None,
    ) -> T:
        """Run ``op`` until it succeeds or ``max_attempts`` are used; re-raise the last error.

        ``on_retry(attempt, delay_ms, error)`` (sync or async) is called before each wait.
        """
        check = retry_if or default_retry_if
        attempt = 1
        while True:
            try:
                return await op()
            except Exception as exc:
                if attempt >= max(1, self.max_attempts) or not check(exc):
                    raise
                d = self.delay_ms(attempt)
                if on_retry is not None:
                    await _maybe_await(on_retry(attempt, d, exc))
                await self.sleep(d / 1000.0)
                attempt += 1


BreakerState = Literal["closed", "open", "half_open"]


@dataclass
class CircuitBreaker:
    """Closed -> open after ``failure_threshold`` consecutive failures; open -> half-open after
    ``reset_timeout_s``; half-open lets ``half_open_max_calls`` trial calls through: one success closes
    it, one failure opens it again.

    ``on_transition(breaker, old, new)`` is called on every state change (events are published from it).
    """

    name: str = "default"
    failure_threshold: int = 5
    reset_timeout_s: float = 30.0
    half_open_max_calls: int = 1
    clock: Callable[[], float] = time.monotonic
    on_transition: Callable[[CircuitBreaker, str, str], Any] | None = None
    failure_if: Callable[[BaseException], bool] | None = None
    state: BreakerState = "closed"
    failures: int = 0
    opened_at: float = 0.0
    last_error: str | None = None
    _trials: int = field(default=0, repr=False)

    def _set(self, new: BreakerState) -> None:
        old = self.state
        if old == new:
            return
        self.state = new
        if new == "open":
            self.opened_at = self.clock()
        if new != "half_open":
            self._trials = 0
        if self.on_transition is not None:
            self.on_transition(self, old, new)

    def current_state(self) -> BreakerState:
        """The state now (an open breaker whose timeout passed reports half_open)."""
        if self.state == "open" and self.clock() - self.opened_at >= self.reset_timeout_s:
            self._set("half_open")
        return self.state

    def retry_in_s(self) -> float:
        return max(0.0, self.reset_timeout_s - (self.clock() - self.opened_at))

    async def call(self, op: Op[T]) -> T:
        """Run ``op`` through the breaker; raise :class:`CircuitOpenError` without running it when open."""
        st = self.current_state()
        if st == "open" or (st == "half_open" and self._trials >= max(1, self.half_open_max_calls)):
            raise CircuitOpenError(
                f"circuit '{self.name}' is open after {self.failures} consecutive failures "
                f"(last: {self.last_error}); next trial in {self.retry_in_s():.1f}s",
                details={"name": self.name, "failures": self.failures, "state": st},
            )
        trial = st == "half_open"
        if trial:
            self._trials += 1
        try:
            result = await op()
        except Exception as exc:
            if self.failure_if is not None and not self.failure_if(exc):
                if trial:
                    self._trials -= 1
                raise
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            if trial or self.failures >= self.failure_threshold:
                self._set("open")
                self.opened_at = self.clock()
            raise
        self.failures = 0
        if trial:
            self._set("closed")
        return result

    def reset(self) -> None:
        self.failures = 0
        self._set("closed")


async def with_fallback(
    primary: Op[T],
    fallback: Callable[[], Awaitable[T]] | Callable[[BaseException], Awaitable[T]],
    *,
    fallback_if: Callable[[BaseException], bool] | None = None,
    on_fallback: Callable[[BaseException], Any] | None = None,
) -> T:
    """Run ``primary``; if it fails (and ``fallback_if(error)``), run ``fallback`` (optionally given the error)."""
    try:
        return await primary()
    except Exception as exc:
        if isinstance(exc, (HookCancelledError, CancelledError)):
            raise
        if fallback_if is not None and not fallback_if(exc):
            raise
        if on_fallback is not None:
            await _maybe_await(on_fallback(exc))
        try:
            n = len(inspect.signature(fallback).parameters)
        except (TypeError, ValueError):
            n = 0
        if n >= 1:
            return await fallback(exc)  # type: ignore[call-arg]
        return await fallback()  # type: ignore[call-arg]


@dataclass
class Degraded:
    """The outcome of :func:`continue_degraded`: the value, and whether it is the fallback default."""

    value: Any
    degraded: bool = False
    error: str | None = None


async def continue_degraded(
    op: Op[Any], default: Any = None, *, on_degraded: Callable[[BaseException], Any] | None = None
) -> Degraded:
    """Run ``op``; on failure return ``default`` marked ``degraded`` instead of raising."""
    try:
        return Degraded(await op())
    except Exception as exc:
        if isinstance(exc, (HookCancelledError, CancelledError)):
            raise
        if on_degraded is not None:
            await _maybe_await(on_degraded(exc))
        return Degraded(default, True, f"{type(exc).__name__}: {exc}")
