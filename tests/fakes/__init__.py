"""Test doubles shared by the runtime tests: the fake OpenAI server and a small offline runtime."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


def offline_runtime(**config: Any) -> Any:
    """A runtime assembled from the real event bus, hooks, tools, state (memory), providers and agents,
    without the pieces agent tests do not need (workflows, security policy files)."""
    from llmspell.agents.registry import AgentRegistry
    from llmspell.config import RuntimeConfig
    from llmspell.events.bus import EventBus
    from llmspell.hooks.registry import HookRegistry
    from llmspell.providers.registry import ProviderRegistry
    from llmspell.state.store import StateStore
    from llmspell.tools.registry import ToolRegistry

    cfg = RuntimeConfig.model_validate(config)
    rt = SimpleNamespace(config=cfg)
    rt.events = EventBus()
    rt.hooks = HookRegistry(rt.events)
    rt.state = StateStore.memory(runtime=rt)
    rt.providers = ProviderRegistry(cfg)
    rt.tools = ToolRegistry(rt)
    rt.agents = AgentRegistry(rt)
    return rt


def collect_events(rt: Any, pattern: str = "*") -> list[Any]:
    """Subscribe to ``pattern`` and return the list the events land in (delivered synchronously)."""
    seen: list[Any] = []
    rt.events.subscribe(pattern, seen.append)
    return seen


async def collect_run(runner: Any, path: Any, **kw: Any) -> tuple[str, Any, list[Any]]:
    """Drive ``runner.run(path, **kw)`` to the end: (printed text, the Finished message or None, the
    other messages in order). One loop for every test that runs a spell through the real SpellRunner."""
    out: list[str] = []
    msgs: list[Any] = []
    finished = None
    async for m in runner.run(path, **kw):
        if m.type == "output":
            out.append(m.text)
        elif m.type == "finished":
            finished = m
        else:
            msgs.append(m)
    return "".join(out), finished, msgs
