"""The provider contract: what an agent sends to a model and what comes back.

Every provider (the offline scripted one, litellm, replay) speaks these pydantic models, so agents,
recording and tests never depend on a vendor SDK's types.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from llmspell.core.types import ToolCall, Usage

Role = Literal["system", "user", "assistant", "tool"]


class ChatMessage(BaseModel):
    """One message of a chat. ``tool_calls`` on assistant messages, ``tool_call_id`` on tool results."""

    role: Role
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI chat-completions wire form (what litellm accepts)."""
        d: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            d["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments, sort_keys=True)},
                }
                for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            d["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            d["name"] = self.name
        return d


class CompletionRequest(BaseModel):
    """A chat completion request. ``model`` is the full model id (``openai/gpt-4o-mini``)."""

    model: str
    messages: list[ChatMessage]
    tools: list[dict[str, Any]] = Field(default_factory=list)
    """OpenAI function specs: ``{"type": "function", "function": {name, description, parameters}}``."""
    temperature: float | None = None
    max_tokens: int | None = None
    timeout_s: float = 60.0
    stream: bool = False
    max_retries: int | None = None
    """Retries inside the provider for this call (None: the provider's own ``max_retries``). The agent
    sets 0 because its own recovery loop counts the attempts, so retries are never multiplied."""

    def fingerprint(self) -> str:
        """A stable hash of what determines the answer (not timeouts, not streaming), for record/replay."""
        # Tool results are left out: tools such as uuid-generator, datetime-handler or anything that
        # reports timings give different text on every run, and the model's recorded reaction to
        # them is what a replay must reproduce.
        body = {
            "model": self.model,
            "messages": [
                m.model_dump(mode="json", exclude_none=True, exclude={"content"} if m.role == "tool" else None)
                for m in self.messages
            ],
            "tools": self.tools,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        raw = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def last_user_text(self) -> str:
        for m in reversed(self.messages):
            if m.role == "user":
                return m.content or ""
        return ""

    def system_prompt(self) -> str | None:
        for m in self.messages:
            if m.role == "system":
                return m.content
        return None

    def tool_names(self) -> list[str]:
        return [t.get("function", {}).get("name", "") for t in self.tools]

    def tool_spec(self, name: str) -> dict[str, Any] | None:
        for t in self.tools:
            fn = t.get("function", {})
            if fn.get("name") == name:
                return fn  # type: ignore[no-any-return]
        return None


class Completion(BaseModel):
    """A finished answer: text and/or tool calls, with usage and (when known) cost."""

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str = "stop"
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    provider: str = ""


class StreamChunk(BaseModel):
    """A piece of a streamed answer. The last chunk has ``finish_reason``, ``usage`` and any tool calls."""

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None


class ProviderCapabilities(BaseModel):
    supports_streaming: bool = True
    supports_tools: bool = True
    supports_multimodal: bool = False
    max_context_tokens: int = 128_000
    available_models: list[str] = Field(default_factory=list)


@runtime_checkable
class LLMProvider(Protocol):
    """What agents need from a model backend."""

    name: str
    """Implementation name: ``scripted``, ``litellm``, ``replay``."""
    capabilities: ProviderCapabilities

    async def complete(self, req: CompletionRequest) -> Completion: ...

    def stream(self, req: CompletionRequest) -> AsyncIterator[StreamChunk]: ...


def tool_spec(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI function spec for a tool schema."""
    params = parameters or {"type": "object", "properties": {}}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": params}}


def estimate_tokens(text: str) -> int:
    """A deterministic token estimate (about four characters per token), never 0 for non-empty text."""
    return (len(text) + 3) // 4


def split_model_id(model_id: str, default_provider: str = "openai") -> tuple[str, str]:
    """``"anthropic/claude-3"`` -> (``anthropic``, ``claude-3``); a bare id gets ``default_provider``."""
    if "/" in model_id:
        p, m = model_id.split("/", 1)
        return p, m
    return default_provider, model_id
