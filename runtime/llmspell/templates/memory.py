"""Memory-aware templates: prior context of a session and storage of executions.

Uses the runtime's memory subsystem (``llmspell.memory``, built by the ``Memory`` global) when it is
installed; without it, ``session_id`` / ``memory_enabled`` / ``context_budget`` are accepted and have
no effect (no error), as the brief for rs-llmspell parity asks. Memory failures never fail a template.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

log = logging.getLogger(__name__)


def backend(runtime: Any) -> Any:
    """The runtime's memory subsystem, or None when ``llmspell.memory`` is not installed."""
    try:
        import llmspell.memory as mem
    except ImportError:
        return None
    factory = getattr(mem, "memory_store", None) or getattr(mem, "memory_service", None)
    if factory is None:
        return None
    try:
        return factory(runtime)
    except Exception as e:
        log.debug("memory subsystem unavailable: %s", e)
        return None


async def _maybe(v: Any) -> Any:
    return await v if inspect.isawaitable(v) else v


async def recall(runtime: Any, session_id: str, query: str, budget_tokens: int) -> str:
    """Earlier entries of ``session_id`` as ``role: content`` lines, within about ``budget_tokens``."""
    mem = backend(runtime)
    if mem is None:
        return ""
    try:
        search = getattr(mem, "search_entries", None) or getattr(mem, "episodic_search", None)
        if search is None:
            return ""
        entries = await _maybe(search(session_id, query, 20))
    except Exception as e:
        log.debug("memory recall failed: %s", e)
        return ""
    lines: list[str] = []
    used = 0
    for ent in entries or []:
        d = ent if isinstance(ent, dict) else getattr(ent, "__dict__", {})
        line = f"{d.get('role', 'note')}: {d.get('content', '')}"
        cost = max(1, len(line) // 4)
        if used + cost > budget_tokens:
            break
        used += cost
        lines.append(line)
    return "\n".join(lines)


async def store(runtime: Any, session_id: str, template_id: str, input_summary: str, output_summary: str) -> bool:
    """Record one execution (an input and an output entry) in the session's episodic memory."""
    mem = backend(runtime)
    if mem is None:
        return False
    try:
        add = getattr(mem, "add_entry", None) or getattr(mem, "episodic_add", None)
        if add is None:
            return False
        meta = {"template_id": template_id, "source": "template"}
        await _maybe(add(session_id, "user", input_summary, meta))
        await _maybe(add(session_id, "assistant", output_summary, meta))
        return True
    except Exception as e:
        log.debug("memory store failed: %s", e)
        return False
