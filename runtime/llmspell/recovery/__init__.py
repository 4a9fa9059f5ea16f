"""Error recovery: retry with backoff and jitter, circuit breaker, fallback, continue degraded."""

from llmspell.recovery.apply import BreakerRegistry, RecoveryConfig, apply_recovery, breakers_for
from llmspell.recovery.policies import (
    CircuitBreaker,
    Degraded,
    RetryPolicy,
    continue_degraded,
    default_retry_if,
    with_fallback,
)

__all__ = [
    "BreakerRegistry",
    "CircuitBreaker",
    "Degraded",
    "RecoveryConfig",
    "RetryPolicy",
    "apply_recovery",
    "breakers_for",
    "continue_degraded",
    "default_retry_if",
    "with_fallback",
]
