"""All agent instances of a runtime, by unique name, plus contexts and shared memory."""

from __future__ import annotations

import builtins
import copy
from typing import Any

from llmspell.agents.config import AgentConfig
from llmspell.core.errors import AgentError, ValidationError
from llmspell.core.traits import BaseAgent
from llmspell.core.types import new_id

AGENT_TYPES: dict[str, dict[str, Any]] = {
    "llm": {
        "name": "llm",
        "description": "An LLM-backed agent with a system prompt, conversation history and a tool-calling loop.",
        "category": "llm",
        "complexity": "basic",
        "required_parameters": ["model"],
        "optional_parameters": ["system_prompt", "temperature", "max_tokens", "allowed_tools",
                                "max_conversation_length", "max_tool_calls", "base_url", "api_key"],
    },
    "composite": {
        "name": "composite",
        "description": "Routes work over existing agents: hierarchical (supervisor/workers), sequential, "
                       "parallel or vote.",
        "category": "composition",
        "complexity": "advanced",
        "required_parameters": ["agents", "routing"],
        "optional_parameters": ["supervisor", "timeout_ms", "fallback_agent"],
    },
}


class AgentRegistry:
    def __init__(self, runtime: Any):
        self.runtime = runtime
        self._agents: dict[str, BaseAgent] = {}
        self._contexts: dict[str, dict[str, Any]] = {}
        self._shared: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------------------------ instances

    def add(self, agent: BaseAgent) -> BaseAgent:
        if agent.name in self._agents:
            raise AgentError(f"Agent instance '{agent.name}' already exists; choose another name or destroy it first",
                             details={"name": agent.name})
        self._agents[agent.name] = agent
        return agent

    def create(self, config: AgentConfig | dict[str, Any]) -> BaseAgent:
        """Build an LLM agent (synchronous; the init hooks run on first use or ``initialize()``)."""
        from llmspell.agents.llm import LLMAgent

        cfg = config if isinstance(config, AgentConfig) else AgentConfig.model_validate(config)
        if not cfg.model:
            raise ValidationError("Model is required: call :model(\"provider/model\") on the builder")
        if cfg.name in self._agents:
            raise AgentError(f"Agent instance '{cfg.name}' already exists; choose another name or destroy it first",
                             details={"name": cfg.name})
        return self.add(LLMAgent(self.runtime, cfg))

    def create_composite(self, name: str, members: builtins.list[str], routing: str | dict[str, Any]) -> BaseAgent:
        from llmspell.agents.hierarchical import CompositeAgent

        missing = [m for m in members if m not in self._agents]
        if missing:
            raise ValidationError(f"create_composite '{name}': unknown agent(s) {missing}; "
                                  f"existing agents: {sorted(self._agents)}")
        opts: dict[str, Any] = {"strategy": routing} if isinstance(routing, str) else dict(routing or {})
        strategy = str(opts.pop("strategy", opts.pop("type", "hierarchical")))
        comp = CompositeAgent(
            self.runtime, name, list(members), strategy,
            supervisor=opts.get("supervisor"), timeout_ms=opts.get("timeout_ms"),
            fallback_agent=opts.get("fallback_agent"),
        )
        return self.add(comp)

    def get(self, name: str) -> BaseAgent | None:
        return self._agents.get(name)

    def require(self, name: str) -> BaseAgent:
        a = self._agents.get(name)
        if a is None:
            raise AgentError(f"no agent named '{name}'; existing agents: {sorted(self._agents) or 'none'}",
                             details={"name": name})
        return a

    def names(self) -> builtins.list[str]:
        return list(self._agents)

    def list(self) -> builtins.list[dict[str, Any]]:
        return [{"name": n} for n in self._agents]

    def discover(self) -> builtins.list[dict[str, Any]]:
        return [{"type": t} for t in AGENT_TYPES]

    def type_info(self, agent_type: str) -> dict[str, Any]:
        info = AGENT_TYPES.get(agent_type)
        if info is None:
            raise ValidationError(f"unknown agent type '{agent_type}'; expected one of {sorted(AGENT_TYPES)}")
        return copy.deepcopy(info)

    def by_capability(self, capability: str) -> builtins.list[str]:
        return [n for n, a in self._agents.items() if capability in a.capabilities]

    async def remove(self, name: str) -> bool:
        a = self._agents.pop(name, None)
        if a is None:
            return False
        shutdown = getattr(a, "shutdown", None)
        if shutdown is not None:
            await shutdown()
        tools = getattr(self.runtime, "tools", None)
        for tool_name in list(getattr(a, "wrapped_as", [])):
            if tools is not None:
                tools.unregister(tool_name)
        return True

    def wrap_as_tool(self, agent_name: str, *, tool_name: str | None = None, category: str = "analysis",
                     security_level: str = "safe") -> str:
        """Register agent ``agent_name`` as a tool in ``runtime.tools``; returns the tool name."""
        from llmspell.agents.as_tool import AgentTool

        agent = self.require(agent_name)
        tool = AgentTool(agent, tool_name=tool_name, category=category, security_level=security_level)
        self.runtime.tools.register(tool)
        wrapped = getattr(agent, "wrapped_as", None)
        if wrapped is None:
            wrapped = []
            agent.wrapped_as = wrapped  # type: ignore[attr-defined]
        wrapped.append(tool.name)
        return tool.name

    # ------------------------------------------------------------------------------------ contexts

    def create_context(self, config: dict[str, Any] | None = None, *, parent: str | None = None) -> str:
        config = dict(config or {})
        cid = str(config.get("conversation_id") or "") and f"ctx_{config['conversation_id']}"
        cid = cid or new_id("ctx")
        inherit = str(config.get("inheritance", "inherit"))
        data: dict[str, Any] = {}
        if parent is not None:
            p = self._contexts.get(parent)
            if p is None:
                raise ValidationError(f"unknown context '{parent}'")
            if inherit in ("inherit", "copy"):
                data = copy.deepcopy(p["data"])
            elif inherit == "share":
                data = p["data"]
        data.update(config.get("data") or {})
        self._contexts[cid] = {"id": cid, "parent": parent, "scope": config.get("scope", "global"),
                               "inheritance": inherit, "data": data, "config": config}
        return cid

    def context(self, cid: str) -> dict[str, Any]:
        c = self._contexts.get(cid)
        if c is None:
            raise ValidationError(f"unknown context '{cid}'; create one with Agent.create_context")
        return c

    def remove_context(self, cid: str) -> None:
        self._contexts.pop(cid, None)

    @staticmethod
    def scope_key(scope: Any) -> str:
        if isinstance(scope, dict):
            return f"{scope.get('type', 'global')}:{scope.get('id', '')}"
        return str(scope or "global")

    def set_shared(self, scope: Any, key: str, value: Any) -> None:
        self._shared.setdefault(self.scope_key(scope), {})[key] = value

    def get_shared(self, scope: Any, key: str) -> Any:
        return self._shared.get(self.scope_key(scope), {}).get(key)
