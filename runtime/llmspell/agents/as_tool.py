"""Agent-as-tool: any agent can be called as a tool (by another agent's tool loop, a workflow step,
or ``Tool.execute``). The agent really runs, with its own hooks, events and history."""

from __future__ import annotations

from typing import Any

from llmspell.core.errors import ValidationError
from llmspell.core.traits import BaseAgent, Tool, ToolSchema
from llmspell.core.types import AgentInput, ToolOutput
from llmspell.tools.base import SECURITY_ORDER

TOOL_CATEGORIES = ("filesystem", "web", "api", "analysis", "data", "system", "media", "utility")


class AgentTool(Tool):
    """Wraps an agent; parameters ``{input: string, context?: table}`` (``text``/``prompt`` accepted)."""

    def __init__(
        self,
        agent: BaseAgent,
        *,
        tool_name: str | None = None,
        category: str = "analysis",
        security_level: str = "safe",
        description: str | None = None,
    ):
        name = tool_name or f"{agent.name}_tool"
        super().__init__(name, description or f"Ask the agent '{agent.name}': {agent.description}".strip())
        if security_level not in SECURITY_ORDER:
            raise ValidationError(
                f"wrap_as_tool: security_level must be safe, restricted or privileged, got '{security_level}'"
            )
        self.agent = agent
        self.category = category
        self.security_level = security_level  # type: ignore[assignment]
        self.state = "ready"

    def schema(self) -> ToolSchema:
        return ToolSchema(
            name=self.name,
            description=self.description,
            parameters={
                "type": "object",
                "properties": {
                    "input": {"type": "string", "description": f"What to ask the agent '{self.agent.name}'."},
                    "context": {"type": "object", "description": "Extra context passed to the agent."},
                },
                "required": ["input"],
            },
        )

    async def invoke(self, params: dict[str, Any]) -> ToolOutput:
        text = params.get("input", params.get("text", params.get("prompt")))
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(f"tool '{self.name}': parameter 'input' (string) is required: what to ask the agent")
        raw_ctx = params.get("context")
        ctx: dict[str, Any] = raw_ctx if isinstance(raw_ctx, dict) else {}
        run = getattr(self.agent, "run", None)
        inp = AgentInput(text=text, context=ctx)
        out = await (run(inp) if run is not None else self.agent.execute(inp))
        md = {"agent": self.agent.name, **{k: v for k, v in out.metadata.items() if not isinstance(v, dict)}}
        return ToolOutput(success=True, text=out.text, data={"agent": self.agent.name, "text": out.text}, metadata=md)
