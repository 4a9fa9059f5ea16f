"""The component traits from the design: BaseAgent, Agent, Tool, Workflow.

Everything a spell can run (an LLM agent, a builtin tool, a workflow, an agent wrapped as a tool)
is a :class:`BaseAgent`: it has an id, a name, a kind, capabilities and ``execute``. The runtime's
lifecycle (hooks, events, recovery) is applied by the registries around ``execute``, so
implementations stay small and cannot forget it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from llmspell.core.types import AgentInput, AgentOutput, ComponentId, ToolOutput, Usage, new_id

LifecycleState = Literal["uninitialized", "ready", "running", "paused", "stopped", "terminated", "error"]


class BaseAgent(ABC):
    """Anything executable by name."""

    kind: ClassVar[Literal["Agent", "Tool", "Workflow"]] = "Agent"

    def __init__(self, name: str, description: str = "", *, id: str | None = None):
        self.id = id or new_id(self.kind.lower())
        self.name = name
        self.description = description
        self.state: LifecycleState = "uninitialized"
        self.capabilities: list[str] = []

    @property
    def component_id(self) -> ComponentId:
        return ComponentId(type=self.kind, name=self.name)

    @abstractmethod
    async def execute(self, input: AgentInput) -> AgentOutput:
        """Do the work once. Registries wrap this with hooks, events and recovery."""


class Agent(BaseAgent):
    """An agent backed by a model: system prompt, model config, history, usage and cost."""

    kind = "Agent"
    model: str
    system_prompt: str | None
    usage: Usage

    @abstractmethod
    def stream(self, input: AgentInput) -> AsyncIterator[str]:
        """Yield output text chunks as they arrive."""

    @property
    def history(self) -> list[dict[str, Any]]:
        return []


class ToolSchema(BaseModel):
    name: str
    description: str
    parameters: dict[str, Any]
    """JSON schema of the parameters object."""
    returns: dict[str, Any] | None = None


class Tool(BaseAgent):
    """A tool: parameters validated against a JSON schema, a category, a security level."""

    kind = "Tool"
    category: str = "utility"
    security_level: Literal["safe", "restricted", "privileged"] = "safe"
    version: str = "1.0.0"

    @abstractmethod
    def schema(self) -> ToolSchema: ...

    @abstractmethod
    async def invoke(self, params: dict[str, Any]) -> ToolOutput:
        """Run with already-validated parameters."""

    async def execute(self, input: AgentInput) -> AgentOutput:
        out = await self.invoke(input.parameters.get("parameters", input.parameters))
        return AgentOutput(text=out.text, metadata=out.metadata)


class Workflow(BaseAgent):
    """A workflow: steps, run, pause (checkpoint), resume, cancel, progress."""

    kind = "Workflow"

    @abstractmethod
    async def run(self, input: dict[str, Any] | None = None) -> dict[str, Any]: ...

    @abstractmethod
    async def pause(self) -> str:
        """Stop after the current step and return the id of a persisted checkpoint."""

    @abstractmethod
    async def resume(self, checkpoint_id: str) -> dict[str, Any]: ...

    @abstractmethod
    async def cancel(self) -> None: ...

    async def execute(self, input: AgentInput) -> AgentOutput:
        r = await self.run({"text": input.text, **input.parameters})
        return AgentOutput(text=str(r.get("text", "")), metadata=r.get("metadata", {}))
