"""interactive-chat (category chat): one turn of a conversation kept per session."""

from __future__ import annotations

import uuid
from typing import Any

from llmspell.core.errors import ValidationError
from llmspell.templates.base import CostEstimate, Template, TemplateRun
from llmspell.templates.schema import Param, memory_parameters, model_param, provider_parameters

DEFAULT_SYSTEM = "You are a helpful AI assistant. Provide clear, accurate, and concise responses."


class InteractiveChat(Template):
    """Programmatic mode: ``message`` is answered by an agent that sees the session's earlier turns
    (kept in the state store under scope ``template_chat:<session_id>``, so a later run with the same
    ``session_id`` continues the conversation). ``tools`` are offered to the agent."""

    id = "interactive-chat"
    name = "Interactive Chat"
    description = ("Session-based conversational AI with tool integration. Supports programmatic mode "
                   "(single message) and maintains conversation history per session, optionally using tools.")
    category = "chat"
    requires = ("local-llm",)
    tags = ("chat", "conversation", "interactive", "session", "tools")

    def params(self) -> list[Param]:
        return [
            model_param("LLM model to use for conversation"),
            Param("system_prompt", "System prompt to set conversation context and behavior", "string",
                  default=DEFAULT_SYSTEM),
            Param("max_turns", "Maximum number of conversation turns kept (1-100)", "integer", default=10,
                  min=1, max=100),
            Param("tools", "List of tool names to make available during conversation", "array", default=[]),
            Param("enable_memory", "Enable long-term memory", "boolean", default=False),
            Param("message", "The message to answer (required in spells: the stdin loop of rs-llmspell's "
                  "interactive mode has no terminal in a spell run)", "string"),
            Param("temperature", "Sampling temperature (0-2)", "number", min=0, max=2),
            *memory_parameters(), *provider_parameters(),
        ]

    def estimate(self, params: dict[str, Any]) -> CostEstimate:
        turns = int(params.get("max_turns") or 10)
        return CostEstimate(tokens=100 + turns * 300, duration_ms=500 + turns * 2000, confidence=0.7)

    async def execute(self, run: TemplateRun) -> Any:
        p = run.params
        where = f"Template.execute('{self.id}')"
        msg = p.get("message")
        if not isinstance(msg, str) or not msg.strip():
            raise ValidationError(f"{where}: parameter 'message' is required in a spell (a string to answer); "
                                  "the interactive stdin mode is only available from a terminal")
        tools = [str(t) for t in p["tools"]]
        known = set(run.runtime.tools.names()) if hasattr(run.runtime.tools, "names") else None
        if known is not None:
            bad = [t for t in tools if t not in known]
            if bad:
                raise ValidationError(f"{where}: parameter 'tools' names unknown tool(s) {', '.join(bad)}")
        sid = p.get("session_id") or f"chat-{uuid.uuid4().hex[:12]}"
        state = run.runtime.state
        scope = f"template_chat:{sid}"
        history: list[dict[str, str]] = list(await state.get(scope, "history") or [])
        keep = 2 * int(p["max_turns"])
        history = history[-keep:]
        memory = await run.memory_context(msg) if (p.get("enable_memory") or p.get("memory_enabled", True)) else ""
        system = p["system_prompt"] + (f"\n\nRelevant memory:\n{memory}" if memory else "")
        reply = await run.agent("chat", msg, system_prompt=system, temperature=p.get("temperature"),
                                tools=tools, history=history)
        history += [{"role": "user", "content": msg}, {"role": "assistant", "content": reply}]
        history = history[-keep:]
        await state.set(scope, "history", history)
        run.metrics.custom.update({"turn_count": len(history) // 2, "total_tokens": run.metrics.tokens_used,
                                   "session_id": sid})
        await run.remember(f"User: {msg[:500]}", f"Assistant: {reply[:500]}")
        return reply
