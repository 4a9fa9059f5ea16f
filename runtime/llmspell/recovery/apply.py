"""Per-component recovery configuration and the one function that applies it.

Agents, tools and workflows carry a :class:`RecoveryConfig` (from a builder option or a script table
such as ``{strategy = "retry", max_attempts = 5}``) and wrap their operation in
:func:`apply_recovery`, which publishes ``recovery.retry``, ``recovery.fallback``,
``recovery.degraded`` and ``recovery.circuit.opened|half_open|closed`` on the event bus.

Circuit breakers must outlive a single call, so they live in a :class:`BreakerRegistry`; by default
one registry per event bus (i.e. per runtime), keyed by the breaker name (the component name unless
``breaker_name`` says otherwise).
"""

from __future__ import annotations

import random
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmspell.core.types import ComponentId
from llmspell.recovery.policies import (
    CircuitBreaker,
    RetryPolicy,
    continue_degraded,
    default_retry_if,
    with_fallback,
)

if TYPE_CHECKING:
    from llmspell.events.bus import EventBus

RecoveryStrategy = Literal["fail_fast", "retry", "fallback", "circuit_breaker", "degraded"]


class RecoveryConfig(BaseModel):
    """How a component recovers from failure.

    ``retry`` and ``circuit_breaker`` may also name a ``fallback`` (used when retries are exhausted
    or the circuit is open) and a ``default`` (continue degraded as the last resort).
    """

    model_config = ConfigDict(extra="ignore")

    strategy: RecoveryStrategy = "fail_fast"
    max_attempts: int = Field(3, ge=1, description="Attempts in total (retry strategy).")
    base_delay_ms: float = Field(100.0, ge=0)
    max_delay_ms: float = Field(10_000.0, ge=0)
    multiplier: float = Field(2.0, ge=1.0)
    jitter: float = Field(0.1, ge=0.0, le=1.0, description="Fraction of the delay added or removed at random.")
    failure_threshold: int = Field(5, ge=1, description="Consecutive failures that open the circuit.")
    reset_timeout_s: float = Field(30.0, ge=0)
    half_open_max_calls: int = Field(1, ge=1)
    breaker_name: str | None = None
    fallback: str | None = Field(None, description="Name of the agent or tool to fall back to.")
    default: Any = Field(None, description="Value returned when continuing degraded.")
    use_default: bool = Field(False, description="Continue degraded with `default` when everything else failed.")

    @classmethod
    def parse(cls, value: Any) -> RecoveryConfig:
        """Accept a config, a strategy name (``"retry"``) or a table; raise ConfigurationError when invalid."""
        from llmspell.core.errors import ConfigurationError

        if value is None:
            return cls.model_validate({})
        if isinstance(value, RecoveryConfig):
            return value
        if isinstance(value, str):
            value = {"strategy": value}
        if not isinstance(value, dict):
            raise ConfigurationError(
                f"a recovery setting must be a strategy name or a table, got {type(value).__name__}"
            )
        try:
            return cls.model_validate(value)
        except Exception as e:
            raise ConfigurationError(
                "invalid recovery settings: strategy must be one of fail_fast, retry, fallback, "
                f"circuit_breaker, degraded ({e})"
            ) from e

    def retry_policy(self, *, rng: random.Random | None = None,
                     sleep: Callable[[float], Awaitable[Any]] | None = None) -> RetryPolicy:
        p = RetryPolicy(self.max_attempts, self.base_delay_ms, self.max_delay_ms, self.multiplier, self.jitter, rng)
        if sleep is not None:
            p.sleep = sleep
        return p


class BreakerRegistry:
    """Named circuit breakers that survive across calls."""

    def __init__(self) -> None:
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, name: str, cfg: RecoveryConfig, events: EventBus | None, component: str) -> CircuitBreaker:
        b = self._breakers.get(name)
        if b is None:
            b = CircuitBreaker(name, cfg.failure_threshold, cfg.reset_timeout_s, cfg.half_open_max_calls)
            if events is not None:
                b.on_transition = _transition_publisher(events, component)
            self._breakers[name] = b
        return b

    def all(self) -> dict[str, CircuitBreaker]:
        return dict(self._breakers)


_BREAKERS: weakref.WeakKeyDictionary[Any, BreakerRegistry] = weakref.WeakKeyDictionary()
_GLOBAL_BREAKERS = BreakerRegistry()


def breakers_for(events: EventBus | None) -> BreakerRegistry:
    """The breaker registry of one runtime (keyed by its event bus)."""
    if events is None:
        return _GLOBAL_BREAKERS
    reg = _BREAKERS.get(events)
    if reg is None:
        reg = _BREAKERS[events] = BreakerRegistry()
    return reg


_TRANSITION_EVENTS = {"open": "recovery.circuit.opened", "half_open": "recovery.circuit.half_open",
                      "closed": "recovery.circuit.closed"}


def _transition_publisher(events: EventBus, component: str) -> Callable[[CircuitBreaker, str, str], None]:
    def publish(b: CircuitBreaker, old: str, new: str) -> None:
        events.publish_nowait(
            _TRANSITION_EVENTS[new],
            {"name": b.name, "component": component, "from": old, "to": new, "failures": b.failures,
             "error": b.last_error},
            source="recovery",
        )

    return publish


def _component_str(component: ComponentId | str | None) -> str:
    if component is None:
        return "component"
    if isinstance(component, ComponentId):
        return f"{component.type}:{component.name}"
    return str(component)


async def apply_recovery(
    cfg: RecoveryConfig | dict[str, Any] | str | None,
    op: Callable[[], Awaitable[Any]],
    *,
    events: EventBus | None,
    component: ComponentId | str | None,
    fallback: Callable[[], Awaitable[Any]] | None = None,
    breakers: BreakerRegistry | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[Any]] | None = None,
    retry_if: Callable[[BaseException], bool] | None = None,
    on_degraded: Callable[[BaseException], Any] | None = None,
) -> Any:
    """Run ``op`` under ``cfg``'s strategy; ``fallback`` is the caller-resolved fallback operation
    (e.g. the agent named by ``cfg.fallback``).

    fail_fast: run once. retry: RetryPolicy, then fallback/default if configured. fallback: run once,
    then the fallback. circuit_breaker: through the component's breaker (CircuitOpenError when open),
    then fallback/default. degraded: on failure return ``cfg.default`` (``on_degraded`` is told).
    """
    cfg = RecoveryConfig.parse(cfg)
    comp = _component_str(component)

    def pub(event_type: str, data: dict[str, Any]) -> None:
        if events is not None:
            events.publish_nowait(event_type, {"component": comp, **data}, source="recovery")

    if cfg.strategy == "fail_fast":
        return await op()

    async def degraded_default(exc: BaseException) -> Any:
        pub("recovery.degraded", {"error": f"{type(exc).__name__}: {exc}", "default": cfg.default})
        if on_degraded is not None:
            r = on_degraded(exc)
            if hasattr(r, "__await__"):
                await r
        return cfg.default

    if cfg.strategy == "degraded":
        out = await continue_degraded(op, cfg.default)
        if out.degraded:
            pub("recovery.degraded", {"error": out.error, "default": cfg.default})
            if on_degraded is not None:
                r = on_degraded(RuntimeError(out.error or "failed"))
                if hasattr(r, "__await__"):
                    await r
        return out.value

    if cfg.strategy == "retry":
        policy = cfg.retry_policy(rng=rng, sleep=sleep)

        def on_retry(attempt: int, delay_ms: float, exc: BaseException) -> None:
            pub("recovery.retry", {"attempt": attempt, "next_attempt": attempt + 1, "max_attempts": cfg.max_attempts,
                                   "delay_ms": round(delay_ms, 3), "error": f"{type(exc).__name__}: {exc}"})

        async def guarded() -> Any:
            return await policy.run(op, on_retry=on_retry, retry_if=retry_if or default_retry_if)
        primary = guarded
    elif cfg.strategy == "circuit_breaker":
        reg = breakers or breakers_for(events)
        breaker = reg.get(cfg.breaker_name or comp, cfg, events, comp)

        async def guarded() -> Any:
            return await breaker.call(op)
        primary = guarded
    else:  # fallback
        primary = op  # type: ignore[assignment]

    last_resort = fallback
    if last_resort is None and not cfg.use_default and cfg.strategy != "fallback":
        return await primary()

    async def on_fallback(exc: BaseException) -> None:
        if fallback is not None:
            pub("recovery.fallback", {"fallback": cfg.fallback or "fallback", "error": f"{type(exc).__name__}: {exc}"})

    async def second(exc: BaseException) -> Any:
        if fallback is not None:
            if cfg.use_default:
                try:
                    return await fallback()
                except Exception as exc2:
                    return await degraded_default(exc2)
            return await fallback()
        if cfg.use_default:
            return await degraded_default(exc)
        raise exc

    return await with_fallback(primary, second, on_fallback=on_fallback)
