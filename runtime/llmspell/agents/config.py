"""Agent configuration: what ``Agent.builder()`` and ``Agent.register`` collect."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from llmspell.providers.base import split_model_id
from llmspell.recovery import RecoveryConfig


def default_recovery() -> RecoveryConfig:
    """Provider calls retry transient failures (408, 429, 5xx) three times with backoff and jitter."""
    return RecoveryConfig.model_validate(
        {"strategy": "retry", "max_attempts": 3, "base_delay_ms": 200.0, "max_delay_ms": 5_000.0, "jitter": 0.2}
    )


class AgentConfig(BaseModel):
    """An LLM agent's configuration (rs-llmspell's builder fields and defaults)."""

    name: str
    description: str = "LLM-powered agent"
    agent_type: str = "llm"
    provider: str | None = None
    model: str | None = None
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    max_conversation_length: int = 100
    """History window: how many earlier messages are sent with each request."""
    base_url: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    allowed_tools: list[str] = Field(default_factory=list)
    max_execution_time_secs: float = 300.0
    """Wall-time limit for one execute (also the LLM call timeout)."""
    max_memory_mb: int = 512
    max_tool_calls: int = 100
    """Upper bound on tool calls made by the automatic tool-calling loop in one execute."""
    max_recursion_depth: int = 10
    custom_config: dict[str, Any] = Field(default_factory=dict)
    recovery: RecoveryConfig = Field(default_factory=default_recovery)
    """How provider failures are handled: ``retry`` / ``circuit_breaker`` wrap each model call;
    ``fallback`` (an agent name) and ``use_default``/``default`` apply when an execute finally fails."""
    template: str | None = None

    @field_validator("recovery", mode="before")
    @classmethod
    def _parse_recovery(cls, v: Any) -> RecoveryConfig:
        """Accept a strategy name (``"retry"``) or a table, as scripts write them."""
        return default_recovery() if v is None else RecoveryConfig.parse(v)

    @property
    def model_id(self) -> str:
        """``provider/model`` (a bare model gets provider ``openai``, as rs-llmspell does)."""
        model = self.model or ""
        if self.provider:
            return f"{self.provider}/{model}"
        p, m = split_model_id(model)
        return f"{p}/{m}"

    def public(self) -> dict[str, Any]:
        """Configuration as scripts see it (no API key)."""
        d = self.model_dump(mode="json", exclude={"api_key", "recovery"})
        d["model_id"] = self.model_id
        return d
