"""The runtime: one object that owns every subsystem a spell can reach.

Several spells (Lua and JS) can share one runtime: they then see each other's events, hooks, state,
agents and workflows, which is how the cross-engine bridge works. Construction is cheap and
synchronous; nothing heavy (litellm) is imported here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from llmspell.config import RuntimeConfig, load_config

T = TypeVar("T")


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
            self.config.state.backend = state  # type: ignore[assignment]
        self.workspace = self.config.workspace_path
        self.policy = SecurityPolicy.from_config(self.config.security, workspace=self.workspace)
        from llmspell.security.secrets import SecretVault

        # the secrets the configuration names (provider keys, tool credentials), copied once: providers
        # and tools read them here, never from os.environ, which a run's process empties
        self.secrets = SecretVault.for_config(self.config)
        self.events = EventBus()
        self.hooks = HookRegistry(self.events)
        report_violations_to(self.policy, self.events, self.hooks)
        self.state = StateStore.from_config(self.config.state, workspace=self.workspace, runtime=self)
        self.providers = ProviderRegistry(self.config, self.secrets)
        self.tools = ToolRegistry(self)
        self.agents = AgentRegistry(self)
        self.workflows = WorkflowRegistry(self)
        from llmspell.sessions import SessionManager

        self.sessions = SessionManager(self)
        self._services: dict[str, Any] = {}
        self._started = False

    def service(self, name: str, factory: Callable[[Runtime], T]) -> T:
        """The runtime's one instance of an optional subsystem (RAG index, memory, artifacts...),
        made on first use by ``factory(runtime)``.

        Subsystems that most spells never touch (and whose imports are heavy: numpy, bm25s) are not
        built with the runtime; the global that needs one asks for it here, so every spell of the
        runtime shares it. A service with a ``close()`` method is closed at :meth:`shutdown`.
        """
        svc = self._services.get(name)
        if svc is None:
            svc = self._services[name] = factory(self)
        return svc  # type: ignore[no-any-return]

    # Parts of the configuration that are bound when the runtime is built and cannot change under it.
    _FIXED_CONFIG = ("state", "workspace")

    async def update_config(self, changes: dict[str, Any]) -> RuntimeConfig:
        """Validate and apply a configuration change (the language server calls this on
        ``workspace/didChangeConfiguration``); returns the new configuration.

        ``changes`` is a partial config (``{"limits": {"wall_time_s": 60}, "default_model": "..."}``),
        deep-merged over the current one. The ConfigurationChange hooks run first with
        ``{changes, current}``: ``cancel`` rejects the change (ConfigurationError naming the reason);
        ``modified`` whose data has ``changes`` applies those instead. Applied: security policy
        (rebuilt), limits (read at each run), default model and providers (the provider registry sees
        the new config); ``state`` and ``workspace`` are fixed for a runtime's life (rebuild it).
        """
        from llmspell.config import _deep_merge
        from llmspell.core.errors import ConfigurationError
        from llmspell.core.types import ComponentId, HookContext
        from llmspell.security.policy import SecurityPolicy, report_violations_to

        if not isinstance(changes, dict):
            raise ConfigurationError(f"update_config: expected a table of changes, got {type(changes).__name__}")
        current = self.config.model_dump(mode="json")
        if self.hooks.has_hooks("ConfigurationChange"):
            ctx = HookContext(point="ConfigurationChange", component_id=ComponentId(type="System", name="config"),
                              data={"changes": changes, "current": current}, operation="update_config")
            res = await self.hooks.execute(ctx)
            if res.kind == "cancel":
                raise ConfigurationError(
                    f"configuration change rejected by a ConfigurationChange hook: {res.reason or 'cancelled'}",
                    details={"changes": changes})
            if res.kind == "modified" and isinstance(ctx.data.get("changes"), dict):
                changes = ctx.data["changes"]
        fixed = [k for k in self._FIXED_CONFIG if k in changes and changes[k] != current.get(k)]
        if fixed:
            raise ConfigurationError(f"update_config: {', '.join(fixed)} cannot change while the runtime runs; "
                                     "restart the runtime (or the language server) with the new settings",
                                     details={"keys": fixed})
        from llmspell.config import _leaf_paths, validate_config

        merged = _deep_merge(current, changes)
        try:
            new = validate_config(merged, source="update_config",
                                  sources={p: "update_config" for p in _leaf_paths(merged)})
        except ConfigurationError as e:
            raise ConfigurationError(e.message, details={"changes": changes}) from e
        self.config = new
        if "security" in changes:
            self.policy = SecurityPolicy.from_config(new.security, workspace=self.workspace)
            report_violations_to(self.policy, self.events, self.hooks)
        if any(k in changes for k in ("providers", "security", "default_model")):
            from llmspell.security.secrets import SecretVault

            self.secrets = SecretVault.for_config(new)
            if hasattr(self.providers, "secrets"):
                self.providers.secrets = self.secrets
        if hasattr(self.providers, "config"):
            self.providers.config = new
            if any(k in changes for k in ("providers", "scripted_rules", "record_path", "replay_path")):
                getattr(self.providers, "_cache", {}).clear()  # resolve models again under the new settings
        await self.events.publish("config.changed", {"changes": changes}, source="runtime")
        return new

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
        aclose = getattr(self.tools, "aclose", None)
        if aclose is not None:
            await aclose()  # MCP server connections
        self.close_services()
        self.state.close()

    def close_services(self) -> None:
        """Close every service made by :meth:`service` (each at most once; one failing never keeps
        the others open)."""
        services, self._services = self._services, {}
        for svc in services.values():
            close = getattr(svc, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # shutting down: the others must still close
                    pass
