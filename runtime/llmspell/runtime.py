"""The runtime: one object that owns every subsystem a spell can reach.

Several spells (Lua and JS) can share one runtime: they then see each other's events, hooks, state,
agents and workflows, which is how the cross-engine bridge works. Construction is cheap and
synchronous; nothing heavy (litellm) is imported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmspell.config import RuntimeConfig, load_config


class Runtime:
    def __init__(
        self,
        config: RuntimeConfig | None = None,
        *,
        workspace: Path | str | None = None,
        state: str | None = None,
        overrides: dict[str, Any] | None = None,
    ):
        """``state="memory"`` forces the in-memory state store (tests)."""
        from llmspell.agents.registry import AgentRegistry
        from llmspell.events.bus import EventBus
        from llmspell.hooks.registry import HookRegistry
        from llmspell.providers.registry import ProviderRegistry
        from llmspell.security.policy import SecurityPolicy, report_violations_to
        from llmspell.state.store import StateStore
        from llmspell.tools.registry import ToolRegistry
        from llmspell.workflows.registry import WorkflowRegistry

        self.config = config or load_config(workspace, overrides=overrides)
        if state is not None:
            self.config.state.backend = state
        self.workspace = self.config.workspace_path
        self.policy = SecurityPolicy.from_config(self.config.security, workspace=self.workspace)
        self.events = EventBus()
        self.hooks = HookRegistry(self.events)
        report_violations_to(self.policy, self.events, self.hooks)
        self.state = StateStore.from_config(self.config.state, workspace=self.workspace, runtime=self)
        self.providers = ProviderRegistry(self.config)
        self.tools = ToolRegistry(self)
        self.agents = AgentRegistry(self)
        self.workflows = WorkflowRegistry(self)
        self._started = False

    async def start(self) -> None:
        """Run SystemStartup hooks and publish ``system.started`` (idempotent)."""
        if self._started:
            return
        self._started = True
        from llmspell.core.types import ComponentId, HookContext

        await self.hooks.execute(HookContext(point="SystemStartup", component_id=ComponentId(type="System")))
        await self.events.publish("system.started", {}, source="runtime")

    async def shutdown(self) -> None:
        from llmspell.core.types import ComponentId, HookContext

        if not self._started:
            return
        self._started = False
        await self.events.publish("system.shutdown", {}, source="runtime")
        await self.hooks.execute(HookContext(point="SystemShutdown", component_id=ComponentId(type="System")))
        self.state.close()
