"""The LLM agent: system prompt, model config, a history window, usage and cost, streaming, and an
automatic tool-calling loop over the agent's allowed tools.

Each ``execute`` runs between the BeforeAgentExecution / AfterAgentExecution / AgentError hook
points (via ``runtime.hooks.around``, so continue/modified/cancel/skip/replace/retry all apply),
publishes ``agent.started`` / ``agent.completed`` / ``agent.failed`` (data keys as rs-llmspell's
``BaseAgent::execute``), and retries retryable provider failures (429, 408, 5xx) with exponential
backoff and jitter, publishing ``recovery.retry`` before each retry.

Tools requested by the model are executed through ``runtime.tools.execute`` (so tool hooks, events
and the security policy apply) and their results are fed back until the model answers in text, at
most ``max_tool_calls`` times per execute.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from llmspell.agents.config import AgentConfig, default_recovery
from llmspell.core.errors import (
    AgentError,
    HookCancelledError,
    LLMSpellError,
    ResourceLimitError,
    ValidationError,
    error_text,
)
from llmspell.core.traits import Agent, LifecycleState
from llmspell.core.types import AgentInput, AgentOutput, ComponentId, ToolCall, Usage, new_id
from llmspell.providers.base import (
    ChatMessage,
    Completion,
    CompletionRequest,
    StreamChunk,
    split_model_id,
    tool_spec,
)
from llmspell.recovery import apply_recovery, default_retry_if

if TYPE_CHECKING:
    from llmspell.providers.registry import ProviderEntry

ChunkCallback = Callable[[str], Awaitable[Any]]

STATE_NAMES: dict[str, str] = {
    "uninitialized": "Uninitialized",
    "ready": "Ready",
    "running": "Running",
    "paused": "Paused",
    "stopped": "Stopped",
    "terminated": "Terminated",
    "error": "Error",
}


def output_to_data(out: Any) -> dict[str, Any]:
    """AgentOutput -> the table hooks see (After* points, replace results)."""
    if isinstance(out, AgentOutput):
        return {"text": out.text, "metadata": dict(out.metadata)}
    if isinstance(out, dict):
        return out
    return {"text": "" if out is None else str(out), "metadata": {}}


def output_from_data(d: dict[str, Any]) -> AgentOutput:
    """Hook data -> AgentOutput (``{}`` from a skip gives an empty answer)."""
    if not isinstance(d, dict):
        return AgentOutput(text=str(d))
    text = d.get("text", d.get("value", ""))
    md = d.get("metadata")
    return AgentOutput(text="" if text is None else str(text), metadata=md if isinstance(md, dict) else {})


class LLMAgent(Agent):
    """An agent backed by an LLM provider (the scripted one offline, litellm when configured)."""

    kind = "Agent"

    def __init__(self, runtime: Any, config: AgentConfig):
        super().__init__(config.name, config.description)
        self.runtime = runtime
        self.config = config
        self.agent_type = config.agent_type
        self.model = config.model_id
        self.system_prompt = config.system_prompt or config.custom_config.get("system_prompt")
        window = config.custom_config.get("max_conversation_length")
        if isinstance(window, int):
            config.max_conversation_length = window
        self.usage = Usage()
        self.capabilities = ["chat", "streaming", "tool_calling", "conversation_history"]
        self._history: list[ChatMessage] = []
        self.state_history: list[dict[str, Any]] = []
        self._state_since = time.time()
        self.created_at = time.time()
        self.last_error: str | None = None
        self.recovery_attempts = 0
        self.metrics: dict[str, float] = {
            "requests_total": 0,
            "requests_failed": 0,
            "requests_active": 0,
            "tool_invocations": 0,
            "provider_requests": 0,
            "total_execution_ms": 0.0,
        }
        self.last_output: AgentOutput | None = None
        # The provider client is chosen at build time, as in rs-llmspell.
        self.provider_entry: ProviderEntry = runtime.providers.entry(
            self.model, base_url=config.base_url, api_key=config.api_key
        )
        self._endpoint_checked = False

    # ------------------------------------------------------------------------------------ facts

    @property
    def history(self) -> list[dict[str, Any]]:
        return [m.model_dump(exclude_none=True, exclude_defaults=True) | {"role": m.role} for m in self._history]

    def clear_history(self) -> None:
        self._history.clear()

    @property
    def provider_name(self) -> str:
        return split_model_id(self.model)[0]

    @property
    def model_name(self) -> str:
        return split_model_id(self.model)[1]

    def _set_state(self, new: LifecycleState, reason: str = "") -> None:
        if new == self.state:
            return
        now = time.time()
        self.state_history.append({
            "from": STATE_NAMES[self.state], "to": STATE_NAMES[new], "timestamp": now,
            "elapsed": round(now - self._state_since, 6), "reason": reason,
        })
        self.state = new
        self._state_since = now

    async def _publish(self, event_type: str, data: dict[str, Any], cid: str | None) -> None:
        events = getattr(self.runtime, "events", None)
        if events is not None:
            await events.publish(event_type, data, correlation_id=cid, source=self.name)

    # ------------------------------------------------------------------------------------ lifecycle

    async def initialize(self) -> None:
        """Uninitialized -> Ready, between the BeforeAgentInit and AfterAgentInit hooks."""
        if self.state != "uninitialized":
            return

        async def op(d: dict[str, Any]) -> dict[str, Any]:
            self._set_state("ready", "initialized")
            return d

        await self.runtime.hooks.around(
            before="BeforeAgentInit", after="AfterAgentInit", error="AgentError",
            component=self.component_id,
            data={"agent": self.name, "model": self.model, "config": self.config.public()},
            operation=op, to_data=lambda o: o if isinstance(o, dict) else {}, from_data=lambda d: d,
            operation_name="initialize",
        )
        if self.state == "uninitialized":  # a hook skipped/replaced the init: the agent is still usable
            self._set_state("ready", "initialized (hook skipped)")

    async def shutdown(self) -> None:
        """Run the shutdown hooks and move to Terminated (``agent:destroy()``)."""
        if self.state == "terminated":
            return

        async def op(d: dict[str, Any]) -> dict[str, Any]:
            self._set_state("terminated", "destroyed")
            return d

        await self.runtime.hooks.around(
            before="BeforeAgentShutdown", after="AfterAgentShutdown", error="AgentError",
            component=self.component_id, data={"agent": self.name},
            operation=op, to_data=lambda o: o if isinstance(o, dict) else {}, from_data=lambda d: d,
            operation_name="shutdown",
        )
        self._set_state("terminated", "destroyed")

    def transition(self, new: LifecycleState, reason: str = "") -> None:
        """Script-driven lifecycle moves (start/pause/resume/stop/terminate/set_error/recover)."""
        if self.state == "terminated" and new != "terminated":
            raise AgentError(f"agent '{self.name}' is terminated; create a new agent instead")
        if new == "error":
            self.last_error = reason or "error"
        self._set_state(new, reason)

    # ------------------------------------------------------------------------------------ execute

    async def execute(self, input: AgentInput) -> AgentOutput:
        return await self.run(input)

    async def run(self, input: AgentInput, *, on_chunk: ChunkCallback | None = None) -> AgentOutput:
        """Execute once (hooks, events, retries, tool loop); ``on_chunk`` turns on streaming."""
        if not isinstance(input, AgentInput):
            raise ValidationError(f"agent '{self.name}': expected an AgentInput, got {type(input).__name__}")
        if not input.text.strip():
            raise ValidationError(
                f"agent '{self.name}': input text is empty; expected a table with a non-empty 'text' field, "
                'e.g. agent:execute({text = "Hello"})'
            )
        if self.state == "terminated":
            raise AgentError(f"agent '{self.name}' was destroyed; build a new one with Agent.builder()")
        if self.state == "uninitialized":
            await self.initialize()
        cid = new_id()
        start = time.perf_counter()
        self.metrics["requests_total"] += 1
        self.metrics["requests_active"] += 1
        prev_state = self.state
        self._set_state("running", "execute")
        first = input

        async def op(d: dict[str, Any]) -> AgentOutput:
            params = d.get("parameters")
            inp = first if d is data else AgentInput(
                text=str(d.get("text", first.text)),
                parameters=params if isinstance(params, dict) else first.parameters,
                media=first.media, context=first.context,
            )
            await self._publish("agent.started", {
                "component_name": self.name, "component_version": "1.0.0", "agent_id": self.id,
                "input_text_length": len(inp.text), "parameter_keys": sorted(inp.parameters),
                "session_id": inp.context.get("session_id"), "conversation_id": inp.context.get("conversation_id"),
                "model": self.model,
            }, cid)
            try:
                async with asyncio.timeout(self.config.max_execution_time_secs):
                    return await self._turn(inp, on_chunk, cid, start)
            except TimeoutError as e:
                from llmspell.hooks.system import fire_resource_limit

                await fire_resource_limit(self.runtime, self.component_id, limit="max_execution_time_secs",
                                          value=self.config.max_execution_time_secs, agent=self.name)
                raise ResourceLimitError(
                    f"agent '{self.name}' exceeded max_execution_time ({self.config.max_execution_time_secs:g} s)",
                    details={"limit_s": self.config.max_execution_time_secs},
                ) from e

        data: dict[str, Any] = {
            "agent": self.name, "text": input.text, "parameters": dict(input.parameters), "model": self.model,
        }
        try:
            out = await self.runtime.hooks.around(
                before="BeforeAgentExecution", after="AfterAgentExecution", error="AgentError",
                component=self.component_id, data=data, operation=op,
                to_data=output_to_data, from_data=output_from_data,
                operation_name="execute", correlation_id=cid,
                scope_info={"agent_id": self.id, "provider": self.provider_name},
            )
            if not isinstance(out, AgentOutput):
                out = output_from_data(output_to_data(out))
        except Exception as e:
            recovered = await self._recover(input, e, cid)
            if recovered is None:
                await self._failed(e, start, prev_state, cid)
                raise
            out = recovered
        except BaseException as e:
            await self._failed(e, start, prev_state, cid)
            raise
        ms = (time.perf_counter() - start) * 1000
        self.metrics["requests_active"] -= 1
        if self.runtime.hooks.has_hooks("PerformanceThresholdExceeded"):
            from llmspell.hooks.system import check_slow

            await check_slow(self.runtime, self.component_id, ms, operation="agent.execute", agent=self.name)
        self.metrics["total_execution_ms"] += ms
        self._set_state(prev_state if prev_state not in ("running",) else "ready", "execute done")
        out.metadata.setdefault("duration_ms", math.ceil(ms))
        self.last_output = out
        await self._publish("agent.completed", {
            "component_name": self.name, "agent_id": self.id, "duration_ms": round(ms, 3),
            "output_text_length": len(out.text), "has_tool_calls": bool(out.tool_calls),
            "tool_call_count": len(out.tool_calls), "confidence": None, "model_used": self.model,
            "usage": out.usage.model_dump() if out.usage else None,
        }, cid)
        return out

    async def _recover(self, input: AgentInput, e: Exception, cid: str) -> AgentOutput | None:
        """Execute-level recovery: a fallback agent, then continue degraded with a default answer."""
        cfg = self.config.recovery
        if isinstance(e, (HookCancelledError, ValidationError)):
            return None
        if cfg.fallback and cfg.fallback != self.name:
            agents = getattr(self.runtime, "agents", None)
            fb = agents.get(cfg.fallback) if agents is not None else None
            if fb is not None:
                await self._publish("recovery.fallback", {"component": f"Agent:{self.name}", "fallback": cfg.fallback,
                                                          "error": f"{type(e).__name__}: {e}"}, cid)
                try:
                    run = getattr(fb, "run", None)
                    out: AgentOutput = await (run(input) if run is not None else fb.execute(input))
                except Exception:
                    if not cfg.use_default:
                        raise
                else:
                    out.metadata.update({"fallback_from": self.name, "fallback_error": str(e)})
                    return out
        if cfg.use_default:
            await self._publish("recovery.degraded", {"component": f"Agent:{self.name}",
                                                      "error": f"{type(e).__name__}: {e}", "default": cfg.default}, cid)
            return AgentOutput(text="" if cfg.default is None else str(cfg.default),
                               metadata={"degraded": True, "error": str(e), "model": self.model_name,
                                         "provider": self.provider_name})
        return None

    async def _failed(self, e: BaseException, start: float, prev_state: LifecycleState, cid: str) -> None:
        self.metrics["requests_failed"] += 1
        self.metrics["requests_active"] -= 1
        self.last_error = error_text(e)
        self._set_state(prev_state if prev_state != "running" else "ready", "execute failed")
        if not isinstance(e, asyncio.CancelledError):
            await self._publish("agent.failed", {
                "component_name": self.name, "agent_id": self.id, "error": self.last_error,
                "error_type": type(e).__name__,
                "duration_ms": round((time.perf_counter() - start) * 1000, 3),
            }, cid)

    async def stream(self, input: AgentInput) -> AsyncIterator[str]:
        """Yield text chunks as the model produces them; the full output is in ``last_output`` after."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        done = object()

        async def cb(text: str) -> None:
            queue.put_nowait(text)

        task = asyncio.ensure_future(self.run(input, on_chunk=cb))
        task.add_done_callback(lambda _t: queue.put_nowait(done))
        try:
            while True:
                item = await queue.get()
                if item is done:
                    break
                yield item
            await task
        finally:
            if not task.done():
                task.cancel()

    # ------------------------------------------------------------------------------------ the turn

    def _messages(self, text: str) -> list[ChatMessage]:
        msgs: list[ChatMessage] = []
        if self.system_prompt:
            msgs.append(ChatMessage(role="system", content=self.system_prompt))
        window = max(0, self.config.max_conversation_length)
        if window:
            msgs.extend(self._history[-window:])
        msgs.append(ChatMessage(role="user", content=text))
        return msgs

    def tool_specs(self) -> tuple[list[dict[str, Any]], dict[str, str], list[str]]:
        """(OpenAI function specs, spec name -> registry name, allowed tools that do not exist)."""
        specs: list[dict[str, Any]] = []
        names: dict[str, str] = {}
        missing: list[str] = []
        tools = getattr(self.runtime, "tools", None)
        if tools is None or self.config.max_tool_calls <= 0:
            return specs, names, list(self.config.allowed_tools) if tools is None else []
        for allowed in self.config.allowed_tools:
            tool = tools.get(allowed)
            if tool is None:
                missing.append(allowed)
                continue
            schema = tool.schema()
            if schema.name in names:
                continue
            names[schema.name] = allowed
            specs.append(tool_spec(schema.name, schema.description, schema.parameters))
        return specs, names, missing

    async def _turn(self, inp: AgentInput, on_chunk: ChunkCallback | None, cid: str, start: float) -> AgentOutput:
        messages = self._messages(inp.text)
        prepare = getattr(getattr(self.runtime, "tools", None), "prepare", None)
        if prepare is not None and self.config.allowed_tools:
            await prepare(self.config.allowed_tools)  # tools that appear on first use (MCP servers')
        specs, names, missing = self.tool_specs()
        turn: list[ChatMessage] = []
        usage = Usage()
        calls_made: list[ToolCall] = []
        requests = 0
        limit = self.config.max_tool_calls
        while True:
            req = CompletionRequest(
                model=self.model, messages=messages + turn, tools=specs,
                temperature=self.config.temperature, max_tokens=self.config.max_tokens,
                timeout_s=self.config.max_execution_time_secs, stream=on_chunk is not None,
            )
            comp = await self._call_provider(req, on_chunk, cid)
            requests += 1
            usage = usage.add(comp.usage)
            if not (comp.tool_calls and specs):
                break
            if len(calls_made) + len(comp.tool_calls) > limit:
                from llmspell.hooks.system import fire_resource_limit

                await fire_resource_limit(self.runtime, self.component_id, limit="max_tool_calls", value=limit,
                                          agent=self.name, tool_calls_made=len(calls_made),
                                          tool_calls_requested=len(comp.tool_calls))
                raise ResourceLimitError(
                    f"agent '{self.name}' stopped: the model asked for more than max_tool_calls={limit} tool calls "
                    f"in one execute (made {len(calls_made)}, asked for {len(comp.tool_calls)} more); "
                    "raise it with :max_tool_calls(n) or make the prompt more specific",
                    details={"max_tool_calls": limit, "tool_calls_made": len(calls_made)},
                )
            turn.append(ChatMessage(role="assistant", content=comp.text or None, tool_calls=comp.tool_calls))
            for call in comp.tool_calls:
                calls_made.append(call)
                result = await self._run_tool(call, names, cid)
                turn.append(ChatMessage(role="tool", content=result, tool_call_id=call.id, name=call.name))
        text = comp.text
        # history keeps the user message and the final answer (tool exchanges stay inside the turn)
        self._history.append(ChatMessage(role="user", content=inp.text))
        self._history.append(ChatMessage(role="assistant", content=text))
        window = max(0, self.config.max_conversation_length)
        if len(self._history) > window:
            del self._history[: len(self._history) - window]
        self.usage = self.usage.add(usage)
        entry = self.provider_entry
        md: dict[str, Any] = {
            "model": self.model_name,
            "provider": self.provider_name,
            "model_id": self.model,
            "answered_by": entry.impl,
            "offline": entry.offline,
            "estimated_tokens": usage.total_tokens,
            "usage": usage.model_dump(),
            "cost_usd": usage.cost_usd,
            "estimated_cost_cents": round((usage.cost_usd or 0.0) * 100, 6),
            # whole milliseconds, as rs-llmspell (spells format it with %d)
            "duration_ms": math.ceil((time.perf_counter() - start) * 1000),
            "provider_total_requests": int(self.metrics["provider_requests"]),
            "requests": requests,
            "finish_reason": comp.finish_reason,
            "tool_call_count": len(calls_made),
        }
        if calls_made:
            md["tools_used"] = [c.name for c in calls_made]
        if missing:
            md["missing_tools"] = missing
        return AgentOutput(text=text, tool_calls=calls_made, metadata=md, usage=usage)

    async def _call_provider(self, req: CompletionRequest, on_chunk: ChunkCallback | None, cid: str) -> Completion:
        """One model call under the agent's recovery settings (retry / circuit breaker)."""
        provider = self.provider_entry.instance
        emitted = 0
        endpoint = self.provider_entry.spell_endpoint
        if endpoint and not self._endpoint_checked:
            # a base_url the spell chose: it got no configured key, and it must pass the network policy
            policy = getattr(self.runtime, "policy", None)
            if policy is not None:
                await policy.check_url(endpoint)
            self._endpoint_checked = True
        # the agent's recovery loop is the only one: the provider makes one attempt per call
        req = req.model_copy(update={"max_retries": 0})

        hooks = self.runtime.hooks

        async def once() -> Completion:
            # one model call is one scope (a ``chat`` span when tracing); retries are separate calls
            return await hooks.scoped("chat", self.component_id, {
                "agent": self.name, "model": req.model, "provider": self.provider_name,
                "temperature": req.temperature, "max_tokens": req.max_tokens, "stream": req.stream,
            }, call)

        async def call() -> Completion:
            nonlocal emitted
            emitted = 0
            self.metrics["provider_requests"] += 1
            if on_chunk is None:
                return await provider.complete(req)
            parts: list[str] = []
            last = StreamChunk()
            events = getattr(self.runtime, "events", None)
            async for ch in provider.stream(req):
                if ch.text:
                    parts.append(ch.text)
                    emitted += 1
                    if events is not None:
                        events.publish_nowait("agent.stream.chunk",
                                              {"agent": self.name, "text": ch.text, "index": emitted - 1},
                                              correlation_id=cid, source=self.name)
                    await on_chunk(ch.text)
                if ch.finish_reason is not None or ch.usage is not None or ch.tool_calls:
                    last = ch
            return Completion(text="".join(parts), tool_calls=last.tool_calls,
                              finish_reason=last.finish_reason or "stop", usage=last.usage or Usage(),
                              model=req.model, provider=provider.name)

        def retry_if(exc: BaseException) -> bool:
            # never retry a stream that already delivered chunks (the script saw them)
            if emitted or not default_retry_if(exc):
                return False
            self.recovery_attempts += 1
            return True

        cfg = self.config.recovery
        if cfg.strategy not in ("retry", "circuit_breaker"):
            return await once()
        retries = self.provider_entry.max_retries
        if retries is not None and ("recovery" not in self.config.model_fields_set
                                    or self.config.recovery == default_recovery()):
            # not set by the spell: the provider's configured max_retries decides (1 + max_retries attempts)
            cfg = cfg.model_copy(update={"max_attempts": 1 + retries})
        cfg = cfg.model_copy(update={"fallback": None, "use_default": False,
                                     "breaker_name": cfg.breaker_name or f"agent:{self.name}:{self.model}"})
        return await apply_recovery(  # type: ignore[no-any-return]
            cfg, once, events=getattr(self.runtime, "events", None), component=self.component_id,
            retry_if=retry_if,
        )

    async def _run_tool(self, call: ToolCall, names: dict[str, str], cid: str) -> str:
        """Run one tool call; failures go back to the model as a result it can react to."""
        self.metrics["tool_invocations"] += 1
        await self._publish("agent.tool_call", {
            "agent": self.name, "tool": call.name, "arguments": call.arguments, "call_id": call.id,
        }, cid)
        target = names.get(call.name)
        if target is None:
            return json.dumps({"success": False, "error": {
                "message": f"tool '{call.name}' is not available to this agent; available: {sorted(names)}"}})
        try:
            out = await self.runtime.tools.execute(target, dict(call.arguments), caller=self.name, call_id=call.id)
        except LLMSpellError as e:
            return json.dumps({"success": False, "error": {"message": e.message, "kind": e.kind}})
        if out.text:
            return out.text
        return json.dumps({"success": out.success, "result": out.data, "error": out.error}, default=str)

    # ------------------------------------------------------------------------------------ reports

    def component(self) -> ComponentId:
        return self.component_id

    def get_metrics(self) -> dict[str, Any]:
        return {
            "agent_id": self.id,
            "requests_total": int(self.metrics["requests_total"]),
            "requests_failed": int(self.metrics["requests_failed"]),
            "requests_active": int(self.metrics["requests_active"]),
            "tool_invocations": int(self.metrics["tool_invocations"]),
            "memory_bytes": 0,
            "cpu_percent": 0.0,
        }

    def get_performance(self) -> dict[str, Any]:
        total = int(self.metrics["requests_total"])
        failed = int(self.metrics["requests_failed"])
        ok = total - failed
        return {
            "total_executions": total,
            "avg_execution_time_ms": (self.metrics["total_execution_ms"] / ok) if ok else 0.0,
            "success_rate": (ok / total) if total else 1.0,
            "error_rate": (failed / total) if total else 0.0,
        }

    def details(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "type": self.agent_type,
            "model": self.model,
            "provider": self.provider_name,
            "answered_by": self.provider_entry.impl,
            "config": self.config.public() | {"system_prompt": self.system_prompt},
            "capabilities": list(self.capabilities),
            "state": STATE_NAMES[self.state],
            "metrics": self.get_metrics(),
            "usage": self.usage.model_dump(),
            "history_length": len(self._history),
        }
