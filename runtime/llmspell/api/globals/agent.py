"""The ``Agent`` global (rs-llmspell API notes §2.1): builder, instances, templates, composites,
agent-as-tool, contexts and shared memory.

Builders and agent instances are handles (colon calls in Lua). ``agent:execute`` returns the §1.2
output table (``r.text``, ``r.metadata`` with model, provider, usage, cost and duration).
"""

from __future__ import annotations

import builtins
import time
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from llmspell.api.context import SpellContext
from llmspell.api.decl import ApiGlobal, ApiObject, Names, SchemaFrom, ScriptFunction, api_class, api_global, expose
from llmspell.api.shapes import output_table
from llmspell.api.streams import ScriptStream
from llmspell.core.errors import AgentError, ValidationError
from llmspell.core.types import AgentInput, MediaItem, new_id

# ------------------------------------------------------------------------------------------ records

M = TypeVar("M", bound=BaseModel)


class AgentExecuteInput(BaseModel):
    """What ``agent:execute`` takes: a table with the text to send."""

    model_config = ConfigDict(extra="allow")
    api_record_name: ClassVar[str] = "AgentInput"

    text: str = Field(description="The message for the agent (required).")
    parameters: dict[str, Any] | None = Field(None, description="Extra parameters (kept in the input).")
    media: list[dict[str, Any]] | None = Field(None, description="Images: {base64, format?, width?, height?}.")
    image: dict[str, Any] | None = Field(None, description="Legacy single image.")
    output_modalities: list[str] | None = Field(None, description="text|image|audio|video|binary")


class AgentModelConfig(BaseModel):
    """``model`` table of ``Agent.register``."""

    api_record_name: ClassVar[str] = "AgentModelConfig"

    provider: str = Field(description="Provider name, e.g. openai, anthropic, ollama.")
    model_id: str = Field(description="Model name, e.g. gpt-4o-mini.")
    temperature: float | None = None
    max_tokens: int | None = None
    settings: dict[str, Any] | None = None


class AgentResourceLimits(BaseModel):
    """Resource limits of an agent."""

    api_record_name: ClassVar[str] = "AgentResourceLimits"

    max_execution_time_secs: float | None = Field(None, description="Wall time per execute (default 300).")
    max_memory_mb: int | None = Field(None, description="Default 512.")
    max_tool_calls: int | None = Field(None, description="Tool calls per execute (default 100).")
    max_recursion_depth: int | None = Field(None, description="Default 10.")


class AgentRegisterConfig(BaseModel):
    """Configuration table of ``Agent.register``."""

    model_config = ConfigDict(extra="allow")
    api_record_name: ClassVar[str] = "AgentConfig"

    name: str | None = Field(None, description="Instance name (default agent_xxxxxxxx).")
    description: str | None = None
    agent_type: str | None = Field(None, description="Agent type (only \"llm\").")
    type: str | None = Field(None, description="Alias of agent_type.")
    model: AgentModelConfig | None = None
    allowed_tools: list[str] | None = None
    custom_config: dict[str, Any] | None = Field(None, description="{system_prompt?, max_conversation_length?}")
    resource_limits: AgentResourceLimits | None = None
    recovery: dict[str, Any] | str | None = Field(
        None, description="retry|circuit_breaker|fallback|degraded, or {strategy, max_attempts, fallback, ...}"
    )


class WrapAsToolConfig(BaseModel):
    """Options of ``Agent.wrap_as_tool``."""

    api_record_name: ClassVar[str] = "WrapAsToolConfig"

    tool_name: str | None = Field(None, description="Tool name (default <agent>_tool).")
    category: str | None = Field(None, description="filesystem|web|api|analysis|data|system|media|utility|...")
    security_level: Literal["safe", "restricted", "privileged"] | None = None


class TemplateParams(BaseModel):
    """Overrides for ``Agent.create_from_template``."""

    model_config = ConfigDict(extra="allow")
    api_record_name: ClassVar[str] = "AgentTemplateParams"

    model: str | None = Field(None, description="provider/model (default: the runtime's default model).")
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    allowed_tools: list[str] | None = None
    extra_tools: list[str] | None = Field(None, description="Tools added to the template's tools.")
    max_tool_calls: int | None = None


class ContextConfig(BaseModel):
    """``Agent.create_context`` configuration."""

    model_config = ConfigDict(extra="allow")
    api_record_name: ClassVar[str] = "AgentContextConfig"

    conversation_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    scope: Any = Field(None, description='"global" or {type = "global|session|workflow|agent|user", id}')
    inheritance: Literal["inherit", "isolate", "copy", "share"] | None = None
    data: dict[str, Any] | None = None


def script_type(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, ApiObject):
        return value.api_name
    return "function" if callable(value) else type(value).__name__


def coerce(model: type[M], value: Any, what: str, example: str) -> M:
    """A script table -> ``model``, with an error naming what was expected."""
    if isinstance(value, model):
        return value
    if value is None:
        value = {}
    if isinstance(value, list) and not value:
        value = {}
    if not isinstance(value, dict):
        raise ValidationError(
            f"{what}: cannot convert {script_type(value)} to a table: expected {example}",
            details={"expected": "table", "got": script_type(value)},
        )
    try:
        return model.model_validate(value)
    except PydanticValidationError as e:
        loc, msg = _first_error(e)
        raise ValidationError(f"{what}: field '{loc}': {msg}; expected {example}") from None


def _first_error(e: PydanticValidationError) -> tuple[str, str]:
    """The dotted location and message of pydantic's first complaint (scripts get one clear line)."""
    err = e.errors()[0]
    return ".".join(str(x) for x in err.get("loc", ())), str(err.get("msg"))


def _str_list(value: Any, what: str) -> list[str]:
    if value is None or value == {}:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{what}: expected an array of strings, got {script_type(value)}")
    return list(value)


def _runtime(ctx: SpellContext) -> Any:
    return ctx.runtime


# ------------------------------------------------------------------------------------------ builder


@api_class("AgentBuilder")
class AgentBuilder(ApiObject):
    """Collects an agent's configuration; ``:build()`` creates it. Every setter returns the builder.

    Example: ``Agent.builder():name("helper"):model("openai/gpt-4o-mini"):system_prompt("..."):build()``
    """

    def __init__(self, ctx: SpellContext):
        self.ctx = ctx
        self.cfg: dict[str, Any] = {}

    @expose(returns_self=True)
    def name(self, name: str) -> AgentBuilder:
        """Set the instance name (unique per runtime; default ``agent_xxxxxxxx``).

        Args:
            name: the agent's name.
        """
        self.cfg["name"] = str(name)
        return self

    @expose(returns_self=True)
    def description(self, description: str) -> AgentBuilder:
        """Set the description (default "LLM-powered agent").

        Args:
            description: what the agent is for.
        """
        self.cfg["description"] = str(description)
        return self

    @expose(returns_self=True)
    def model(self, model: str) -> AgentBuilder:
        """Set the model: ``"provider/model"`` sets both; a bare model gets provider openai unless one is set.

        Without a configured provider the offline scripted provider answers (deterministic, no network).

        Args:
            model: a model id such as ``openai/gpt-4o-mini``, ``anthropic/claude-3-5-haiku-latest``, ``ollama/llama3``.
        """
        model = str(model)
        if "/" in model:
            provider, name = model.split("/", 1)
            self.cfg["provider"] = provider
            self.cfg["model"] = name
        else:
            self.cfg["model"] = model
            self.cfg.setdefault("provider", "openai")
        return self

    @expose(returns_self=True)
    def provider(self, provider: str) -> AgentBuilder:
        """Set the provider (openai, anthropic, ollama, ...).

        Args:
            provider: the provider name.
        """
        self.cfg["provider"] = str(provider)
        return self

    @expose(returns_self=True)
    def system_prompt(self, prompt: str) -> AgentBuilder:
        """Set the system prompt.

        Args:
            prompt: instructions sent before every conversation.
        """
        self.cfg["system_prompt"] = str(prompt)
        return self

    @expose(returns_self=True)
    def temperature(self, temperature: float) -> AgentBuilder:
        """Set the sampling temperature.

        Args:
            temperature: usually 0.0 - 2.0.
        """
        self.cfg["temperature"] = float(temperature)
        return self

    @expose(returns_self=True)
    def max_tokens(self, max_tokens: int) -> AgentBuilder:
        """Set the maximum number of tokens in a reply.

        Args:
            max_tokens: token limit per reply.
        """
        self.cfg["max_tokens"] = int(max_tokens)
        return self

    @expose(returns_self=True)
    def max_conversation_length(self, n: int) -> AgentBuilder:
        """Set the history window: how many earlier messages are sent (default 100).

        Args:
            n: number of messages kept.
        """
        self.cfg["max_conversation_length"] = int(n)
        return self

    @expose(returns_self=True)
    def base_url(self, url: str) -> AgentBuilder:
        """Set the provider's base URL (an OpenAI-compatible server, a local Ollama ...).

        Args:
            url: e.g. ``http://127.0.0.1:11434``.
        """
        self.cfg["base_url"] = str(url)
        return self

    @expose(returns_self=True)
    def api_key(self, key: str) -> AgentBuilder:
        """Set the API key (prefer ``api_key_env`` in llmspell.toml).

        Args:
            key: the provider API key.
        """
        self.cfg["api_key"] = str(key)
        return self

    @expose(returns_self=True)
    def allow_tool(self, tool: Annotated[str, Names("tools")]) -> AgentBuilder:
        """Allow one more tool; the agent calls allowed tools by itself when the model asks for them.

        Args:
            tool: a tool name, e.g. ``calculator``.
        """
        self.cfg.setdefault("allowed_tools", []).append(str(tool))
        return self

    @expose(returns_self=True)
    def allowed_tools(self, tools: list[Annotated[str, Names("tools")]]) -> AgentBuilder:
        """Replace the list of allowed tools.

        Args:
            tools: tool names.
        """
        self.cfg["allowed_tools"] = _str_list(tools, "AgentBuilder:allowed_tools")
        return self

    @expose(returns_self=True)
    def max_execution_time(self, secs: float) -> AgentBuilder:
        """Set the wall-time limit of one execute in seconds (default 300; also the model call timeout).

        Args:
            secs: seconds.
        """
        self.cfg["max_execution_time_secs"] = float(secs)
        return self

    @expose(returns_self=True)
    def max_memory_mb(self, mb: int) -> AgentBuilder:
        """Set the memory limit in MB (recorded; default 512).

        Args:
            mb: megabytes.
        """
        self.cfg["max_memory_mb"] = int(mb)
        return self

    @expose(returns_self=True)
    def max_tool_calls(self, n: int) -> AgentBuilder:
        """Set the maximum number of tool calls per execute (default 100).

        Args:
            n: tool calls.
        """
        self.cfg["max_tool_calls"] = int(n)
        return self

    @expose(returns_self=True)
    def max_recursion_depth(self, n: int) -> AgentBuilder:
        """Set the maximum recursion depth (default 10).

        Args:
            n: depth.
        """
        self.cfg["max_recursion_depth"] = int(n)
        return self

    @expose(returns_self=True, lua="type")
    def agent_type(self, agent_type: str) -> AgentBuilder:
        """Accepted for compatibility and ignored: builder agents are always "llm".

        Args:
            agent_type: ignored.
        """
        return self

    @expose(returns_self=True)
    def custom_config(self, config: dict[str, Any]) -> AgentBuilder:
        """Set custom configuration; ``system_prompt`` and ``max_conversation_length`` are read.

        Args:
            config: ``{system_prompt?, max_conversation_length?}``.
        """
        if not isinstance(config, dict):
            raise ValidationError(f"AgentBuilder:custom_config: expected a table, got {script_type(config)}")
        self.cfg["custom_config"] = dict(config)
        if isinstance(config.get("system_prompt"), str):
            self.cfg["system_prompt"] = config["system_prompt"]
        if isinstance(config.get("max_conversation_length"), int):
            self.cfg["max_conversation_length"] = config["max_conversation_length"]
        return self

    @expose(returns_self=True)
    def resource_limits(self, limits: AgentResourceLimits) -> AgentBuilder:
        """Set several limits at once.

        Args:
            limits: ``{max_execution_time_secs?, max_memory_mb?, max_tool_calls?, max_recursion_depth?}``.
        """
        lim = coerce(AgentResourceLimits, limits, "AgentBuilder:resource_limits",
                     "{max_execution_time_secs?, max_memory_mb?, max_tool_calls?, max_recursion_depth?}")
        self.cfg.update(lim.model_dump(exclude_none=True))
        return self

    @expose(returns_self=True)
    def recovery(self, recovery: Any) -> AgentBuilder:
        """How model failures are handled (an llmspell extension). Default: retry 3 times with backoff.

        Args:
            recovery: a strategy name (retry, circuit_breaker, fail_fast, degraded) or a table
                ``{strategy, max_attempts?, base_delay_ms?, fallback? = "agent name", default?, use_default?}``.
        """
        from llmspell.recovery import RecoveryConfig

        self.cfg["recovery"] = RecoveryConfig.parse(recovery)
        return self

    @expose(blocking=True)
    async def build(self) -> AgentInstance:
        """Create the agent. Raises "Model is required" without ``:model()``, and
        "Agent instance 'X' already exists" when the name is taken.

        Returns:
            the agent instance.
        """
        return await _build(self.ctx, dict(self.cfg))


def _builder_hint(config: Any, language: str) -> str:
    """The builder chain that replaces an ``Agent.create{...}``-style table (name, model, system prompt)."""
    c = config if isinstance(config, dict) else {}
    js = language == "javascript"
    parts: list[str] = []

    def call(method: str, value: Any) -> None:
        import json as _json

        if isinstance(value, str) and value:
            name = {"system_prompt": "systemPrompt"}.get(method, method) if js else method
            parts.append(f"{'.' if js else ':'}{name}({_json.dumps(value)})")

    call("name", c.get("name"))
    model = c.get("model")
    if isinstance(model, dict):
        model = "/".join(str(model.get(k)) for k in ("provider", "model_id") if model.get(k))
    call("model", model if isinstance(model, str) and model else "openai/gpt-4o-mini")
    call("system_prompt", c.get("system_prompt"))
    sep = "." if js else ":"
    return "Agent.builder()" + "".join(parts) + f"{sep}build()"


def _configured_default_model(ctx: SpellContext) -> tuple[str, str] | None:
    """``(provider, model)`` of the default model when the configuration chooses one (``--model M`` on
    the CLI, ``default_model`` in llmspell.toml or ``LLMSPELL_DEFAULT_MODEL``); None on the embedded
    default ``offline/scripted``, where rs-llmspell's "Model is required" stays."""
    from llmspell.config import DEFAULT_MODEL

    config = getattr(_runtime(ctx), "config", None)
    model_id = str(getattr(config, "default_model", "") or "")
    if not model_id or model_id == DEFAULT_MODEL:
        return None
    provider, _, name = model_id.partition("/")
    return (provider, name) if name else ("openai", provider)


async def _build(ctx: SpellContext, cfg: dict[str, Any]) -> AgentInstance:
    from llmspell.agents.config import AgentConfig

    if not cfg.get("model"):
        default = _configured_default_model(ctx)
        if default is not None and (not cfg.get("provider") or cfg["provider"] == default[0]):
            cfg["provider"], cfg["model"] = default
        else:
            raise ValidationError(
                f'Model is required: call {ctx.method("model", chr(34) + "provider/model" + chr(34))} '
                f'before {ctx.method("build")} (or run with --model provider/model / set default_model in '
                'llmspell.toml)')
    if not cfg.get("provider"):
        raise ValidationError(
            f'Provider is required: call {ctx.method("provider", chr(34) + "openai" + chr(34))} or '
            f'{ctx.method("model", chr(34) + "provider/model" + chr(34))}')
    cfg.setdefault("name", new_id("agent"))
    try:
        config = AgentConfig.model_validate(cfg)
    except PydanticValidationError as e:
        loc, msg = _first_error(e)
        raise ValidationError(f"invalid agent configuration: {loc}: {msg}") from None
    agent = _runtime(ctx).agents.create(config)
    init = getattr(agent, "initialize", None)
    if init is not None:
        await init()
    return AgentInstance(ctx, agent)


# ------------------------------------------------------------------------------------------ instance


@api_class("AgentInstance")
class AgentInstance(ApiObject):
    """An agent: ``agent:execute({text = "..."})`` returns ``{text, metadata}``."""

    api_fields = {"name": "string", "id": "string"}

    def __init__(self, ctx: SpellContext, agent: Any):
        self.ctx = ctx
        self.agent = agent
        self.name = agent.name
        self.id = agent.id
        self._alerts: list[dict[str, Any]] = []

    def _input(self, input: Any, what: str) -> AgentInput:
        if isinstance(input, str):
            raise ValidationError(
                f"{what}: cannot convert string to agent input: expected a table with a 'text' field, "
                f'e.g. agent:execute({{text = "{input[:40]}"}})',
                details={"expected": "table", "got": "string"},
            )
        data = coerce(AgentExecuteInput, input, what, '{text = "..."}')
        media = [MediaItem.model_validate(m) for m in (data.media or [])]
        if data.image:
            media.append(MediaItem.model_validate(data.image))
        return AgentInput(text=data.text, parameters=data.parameters or {}, media=media)

    @staticmethod
    def _table(out: Any) -> dict[str, Any]:
        return output_table(out.text, out.metadata)

    async def _run(self, inp: AgentInput, **kw: Any) -> Any:
        run = getattr(self.agent, "run", None)
        return await (run(inp, **kw) if run is not None else self.agent.execute(inp))

    @expose
    async def execute(self, input: AgentExecuteInput) -> dict[str, Any]:
        """Send a message and wait for the answer (tools the model asks for run automatically).

        Args:
            input: ``{text = "...", parameters? = {...}}``; a plain string is an error.

        Returns:
            ``{text, metadata = {model, provider, estimated_tokens, usage, cost_usd, duration_ms, ...}}``
            (a JSON answer with success/result/operation is flattened, other JSON goes to ``data``).
        """
        return self._table(await self._run(self._input(input, "agent:execute")))

    @expose(deprecated="agent:complete does not exist in rs-llmspell; use agent:execute({text = ...}).text")
    def complete(self, prompt: Any = None) -> None:
        """Not part of rs-llmspell's agent API (some of its examples call it): always raises, saying what
        to write instead.

        Args:
            prompt: ignored.
        """
        js = self.ctx.language == "javascript"
        call = "(await agent.execute({text: prompt})).text" if js else "agent:execute({text = prompt}).text"
        raise AgentError(f"agent{'.' if js else ':'}complete() is not an agent method (rs-llmspell has none): "
                         f"write {call} instead")

    @expose(deprecated="agent:invoke is an alias of agent:execute")
    async def invoke(self, input: AgentExecuteInput) -> dict[str, Any]:
        """Same as ``agent:execute`` (older rs-llmspell docs and examples call it ``invoke``).

        Args:
            input: ``{text = "..."}``.
        """
        return await self.execute(input)

    @expose(lua="invokeStream")
    async def invoke_stream(self, input: AgentExecuteInput, callback: ScriptFunction) -> dict[str, Any]:
        """Stream the answer: ``callback(chunk)`` is called for every chunk ``{text, index}``.

        Args:
            input: ``{text = "..."}``.
            callback: called with each chunk table.

        Returns:
            ``{success = true, chunks_received = n, text = full text, metadata = {...}}``.
        """
        inp = self._input(input, "agent:invokeStream")
        count = 0

        async def on_chunk(text: str) -> None:
            nonlocal count
            chunk = {"text": text, "content": text, "index": count}
            count += 1
            await callback(chunk)

        out = await self._run(inp, on_chunk=on_chunk)
        return {"success": True, "chunks_received": count, "text": out.text, "metadata": dict(out.metadata)}

    @expose
    def stream(self, input: AgentExecuteInput) -> ScriptStream:
        """The answer as a stream of chunks, pulled one at a time (the model call starts at the first
        ``next()``). Lua: ``while true do local c = s:next(); if not c then break end ... end``; JS:
        ``for await (const c of agent.stream({text: "..."}))``.

        Args:
            input: ``{text = "..."}``.

        Returns:
            a stream of ``{text, content, index}`` chunks (``next``, ``isDone``, ``collect``, ``close``).
        """
        from llmspell.api.streams import agent_stream

        inp = self._input(input, "agent:stream")
        return agent_stream(self.ctx, lambda on_chunk: self._run(inp, on_chunk=on_chunk))

    @expose
    async def execute_with_context(self, input: AgentExecuteInput, context_id: str) -> dict[str, Any]:
        """Execute with the data of a context created by ``Agent.create_context``.

        Args:
            input: ``{text = "..."}``.
            context_id: the context id.

        Returns:
            the output table, as ``execute``.
        """
        inp = self._input(input, "agent:execute_with_context")
        c = _runtime(self.ctx).agents.context(context_id)
        conf = c.get("config", {})
        inp.context = {"context_id": context_id, "data": dict(c["data"]),
                       "session_id": conf.get("session_id"), "conversation_id": conf.get("conversation_id")}
        return self._table(await self._run(inp))

    @expose(lua="invokeTool")
    async def invoke_tool(self, tool_name: Annotated[str, Names("tools")],
                          params: Annotated[dict[str, Any], SchemaFrom("tool_name")]) -> dict[str, Any]:
        """Run a tool on the agent's behalf (through the registry: hooks, events, policy apply).

        Args:
            tool_name: the tool's name.
            params: the tool's parameters.

        Returns:
            the tool's output table (``r.success``, ``r.result`` ...).
        """
        out = await _runtime(self.ctx).tools.execute(tool_name, params or {}, caller=self.agent.name)
        return output_table(out.text, out.metadata)

    @expose
    def discover_tools(self) -> list[str]:
        """Names of the tools this agent may use.

        Returns:
            tool names.
        """
        return list(getattr(getattr(self.agent, "config", None), "allowed_tools", []) or [])

    @expose
    def has_tool(self, name: Annotated[str, Names("tools")]) -> bool:
        """Whether the agent may use a tool.

        Args:
            name: tool name.
        """
        return name in self.discover_tools()

    def _tool_meta(self, name: str) -> dict[str, Any] | None:
        tool = _runtime(self.ctx).tools.get(name)
        if tool is None:
            return None
        return {"name": tool.name, "description": tool.description, "version": getattr(tool, "version", "1.0.0")}

    @expose
    def get_tool_metadata(self, name: Annotated[str, Names("tools")]) -> dict[str, Any] | None:
        """``{name, description, version}`` of an allowed tool, or nil.

        Args:
            name: tool name.
        """
        return self._tool_meta(name) if self.has_tool(name) else None

    @expose
    def get_all_tool_metadata(self) -> dict[str, Any]:
        """``{tool_name = {name, description, version}}`` for every allowed tool that exists."""
        return {n: m for n in self.discover_tools() if (m := self._tool_meta(n)) is not None}

    @expose
    def get_state(self) -> str:
        """The lifecycle state: Uninitialized, Ready, Running, Paused, Stopped, Terminated or Error."""
        from llmspell.agents.llm import STATE_NAMES

        return STATE_NAMES.get(self.agent.state, str(self.agent.state))

    @expose
    def get_agent_state(self) -> str:
        """Same as ``get_state``."""
        return self.get_state()

    @expose
    def get_config(self) -> dict[str, Any]:
        """The agent's configuration (no API key)."""
        cfg = getattr(self.agent, "config", None)
        return cfg.public() if cfg is not None else {}

    @expose
    def set_state(self, state: dict[str, Any]) -> None:
        """Accepted for compatibility (no effect, as in rs-llmspell).

        Args:
            state: ignored.
        """
        return None

    def _state_scope(self) -> str:
        return f"agent:{self.agent.name}"

    @expose
    async def save_state(self) -> None:
        """Persist the conversation history and usage in the state store (scope ``agent:<name>``)."""
        st = _runtime(self.ctx).state
        await st.set(self._state_scope(), "history", list(getattr(self.agent, "history", [])))
        usage = getattr(self.agent, "usage", None)
        await st.set(self._state_scope(), "usage", usage.model_dump() if usage is not None else None)

    @expose
    async def load_state(self) -> bool:
        """Restore the history saved by ``save_state``.

        Returns:
            true when saved state was found.
        """
        from llmspell.providers.base import ChatMessage

        hist = await _runtime(self.ctx).state.get(self._state_scope(), "history")
        if not isinstance(hist, list):
            return False
        if hasattr(self.agent, "_history"):
            self.agent._history = [ChatMessage.model_validate(m) for m in hist]
        return True

    @expose
    async def delete_state(self) -> None:
        """Delete the state saved by ``save_state``."""
        st = _runtime(self.ctx).state
        await st.delete(self._state_scope(), "history")
        await st.delete(self._state_scope(), "usage")

    @expose
    def get_metrics(self) -> dict[str, Any] | None:
        """``{agent_id, requests_total, requests_failed, requests_active, tool_invocations, memory_bytes,
        cpu_percent}``."""
        fn = getattr(self.agent, "get_metrics", None)
        return fn() if fn is not None else None

    @expose
    def get_health(self) -> dict[str, Any]:
        """``{status, message, timestamp}``: healthy unless the agent is in the Error or Terminated state."""
        healthy = self.is_healthy()
        return {"status": "healthy" if healthy else "unhealthy",
                "message": "ok" if healthy else (getattr(self.agent, "last_error", None) or self.get_state()),
                "timestamp": time.time()}

    @expose
    def get_performance(self) -> dict[str, Any] | None:
        """``{total_executions, avg_execution_time_ms, success_rate, error_rate}``."""
        fn = getattr(self.agent, "get_performance", None)
        return fn() if fn is not None else None

    @expose
    def get_usage(self) -> dict[str, Any]:
        """Token usage and cost accumulated over all executes (an llmspell extension).

        Returns:
            ``{prompt_tokens, completion_tokens, total_tokens, cost_usd}``.
        """
        u = getattr(self.agent, "usage", None)
        return u.model_dump() if u is not None else {}

    @expose
    def get_history(self) -> list[dict[str, Any]]:
        """The conversation history (``{role, content}`` messages; an llmspell extension)."""
        return [{"role": m.get("role"), "content": m.get("content")} for m in getattr(self.agent, "history", [])]

    @expose
    def clear_history(self) -> None:
        """Forget the conversation so far (an llmspell extension)."""
        fn = getattr(self.agent, "clear_history", None)
        if fn is not None:
            fn()

    @expose(lua="logEvent")
    async def log_event(self, event_type: str, message: str) -> None:
        """Publish an event ``event_type`` with ``{agent, message}``.

        Args:
            event_type: event name, e.g. ``app.agent_note`` (the runtime's own prefixes, such as ``agent.``
                and ``tool.``, are reserved).
            message: text.
        """
        from llmspell.events.reserved import check_spell_event_name, spell_metadata

        check_spell_event_name(event_type, "AgentInstance:logEvent")
        await _runtime(self.ctx).events.publish(event_type, {"agent": self.agent.name, "message": message},
                                                source=self.agent.name, metadata=spell_metadata(self.ctx.spell_name))

    @expose
    def configure_alerts(self, config: dict[str, Any]) -> None:
        """Store an alert configuration (``{name, severity, condition, ...}``); reported by ``get_alerts``.

        Args:
            config: the alert configuration.
        """
        if not isinstance(config, dict) or not config.get("name"):
            raise ValidationError("agent:configure_alerts: expected a table with a 'name' and a 'condition'")
        self._alerts.append(dict(config))

    @expose
    def get_alerts(self) -> list[dict[str, Any]]:
        """Alerts raised so far: ``[{severity, message, timestamp}]`` (error-rate conditions are checked)."""
        out = []
        perf = self.get_performance() or {}
        for a in self._alerts:
            cond = a.get("condition") or {}
            if cond.get("type") == "error_rate" and perf.get("error_rate", 0) * 100 >= float(
                    cond.get("rate_percent", 100)) and perf.get("total_executions", 0):
                out.append({"severity": a.get("severity", "warning"),
                            "message": f"{a['name']}: error rate {perf['error_rate'] * 100:.0f}%",
                            "timestamp": time.time()})
        return out

    @expose
    def get_bridge_metrics(self) -> dict[str, Any]:
        """A flat table of numbers and strings about this agent."""
        m = dict(self.get_metrics() or {})
        m.update({k: v for k, v in (self.get_performance() or {}).items()})
        m.update({f"usage_{k}": v for k, v in self.get_usage().items() if v is not None})
        m["state"] = self.get_state()
        return m

    # lifecycle ----------------------------------------------------------------------------------

    @expose
    async def initialize(self) -> None:
        """Run the init hooks and move to Ready (done automatically by ``build``)."""
        fn = getattr(self.agent, "initialize", None)
        if fn is not None:
            await fn()

    def _move(self, state: str, reason: str) -> None:
        fn = getattr(self.agent, "transition", None)
        if fn is None:
            self.agent.state = state
        else:
            fn(state, reason)

    @expose
    def start(self) -> None:
        """Move to Running."""
        self._move("running", "start")

    @expose
    def pause(self) -> None:
        """Move to Paused."""
        self._move("paused", "pause")

    @expose
    def resume(self) -> None:
        """Move back to Ready."""
        self._move("ready", "resume")

    @expose
    def stop(self) -> None:
        """Move to Stopped."""
        self._move("stopped", "stop")

    @expose
    def terminate(self) -> None:
        """Move to Terminated (the agent refuses further work)."""
        self._move("terminated", "terminate")

    @expose
    def set_error(self, message: str) -> None:
        """Move to Error with a message.

        Args:
            message: what went wrong.
        """
        self._move("error", str(message))

    @expose
    def recover(self) -> None:
        """Leave the Error state (back to Ready) and count a recovery attempt."""
        if hasattr(self.agent, "recovery_attempts"):
            self.agent.recovery_attempts += 1
        self._move("ready", "recover")

    @expose
    def get_state_history(self) -> list[dict[str, Any]]:
        """``[{from, to, timestamp, elapsed, reason}]``."""
        return [dict(t) for t in getattr(self.agent, "state_history", [])]

    @expose
    def get_last_error(self) -> str | None:
        """The last error message, or nil."""
        return getattr(self.agent, "last_error", None)

    @expose
    def get_recovery_attempts(self) -> int:
        """How many retries / recoveries happened."""
        return int(getattr(self.agent, "recovery_attempts", 0))

    @expose
    def is_healthy(self) -> bool:
        """False in the Error or Terminated state."""
        return self.agent.state not in ("error", "terminated")

    @expose
    def get_state_metrics(self) -> dict[str, Any]:
        """``{current_state, total_transitions, error_count, recovery_attempts, uptime, last_transition,
        state_time_distribution}``."""
        hist = self.get_state_history()
        dist: dict[str, float] = {}
        for t in hist:
            dist[t["from"]] = dist.get(t["from"], 0.0) + t["elapsed"]
        return {
            "current_state": self.get_state(),
            "total_transitions": len(hist),
            "error_count": sum(1 for t in hist if t["to"] == "Error"),
            "recovery_attempts": self.get_recovery_attempts(),
            "uptime": time.time() - getattr(self.agent, "created_at", time.time()),
            "last_transition": hist[-1] if hist else None,
            "state_time_distribution": dist,
        }

    @expose
    async def destroy(self) -> None:
        """Run the shutdown hooks and remove the instance (its name becomes free)."""
        await _runtime(self.ctx).agents.remove(self.agent.name)


# ------------------------------------------------------------------------------------------ global


@api_global("Agent")
class AgentGlobal(ApiGlobal):
    """Create and manage LLM agents. Start with ``Agent.builder()``."""

    @expose
    def builder(self) -> AgentBuilder:
        """A new agent builder.

        Returns:
            the builder; finish with ``:build()``.
        """
        return AgentBuilder(self.ctx)

    @expose(deprecated="Agent.create was removed; use Agent.builder():model(...):build()")
    def create(self, config: Any = None) -> None:
        """Removed in rs-llmspell: always raises, pointing to ``Agent.builder()``.

        Args:
            config: ignored.
        """
        raise AgentError(
            "Agent.create() is deprecated and no longer supported: use "
            'Agent.builder():name("x"):model("openai/gpt-4o-mini"):build()'
        )

    @expose(lua="createAsync", deprecated="Agent.createAsync was removed; use Agent.builder():model(...):build()")
    def create_async(self, config: Any = None) -> None:
        """Removed in rs-llmspell (older examples call it): always raises, saying what to write instead.

        Args:
            config: ignored.
        """
        js = self.ctx.language == "javascript"
        hint = _builder_hint(config, self.ctx.language)
        run = "await agent.execute({text: ...})" if js else "agent:execute({text = ...})"
        raise AgentError(f"Agent.createAsync() was removed from rs-llmspell and is not supported: write {hint} "
                         f"(build() returns the agent at once; {run} runs it)")

    @expose
    def list(self) -> builtins.list[dict[str, Any]]:
        """Active agent instances.

        Returns:
            ``[{name}]``.
        """
        return _runtime(self.ctx).agents.list()  # type: ignore[no-any-return]

    @expose
    def list_instances(self) -> builtins.list[str]:
        """Names of the active agent instances."""
        return _runtime(self.ctx).agents.names()  # type: ignore[no-any-return]

    @expose
    def discover(self) -> builtins.list[dict[str, Any]]:
        """Registered agent types.

        Returns:
            ``[{type}]``.
        """
        return _runtime(self.ctx).agents.discover()  # type: ignore[no-any-return]

    @expose
    def get(self, name: str) -> AgentInstance | None:
        """An existing agent by name, or nil.

        Args:
            name: instance name.
        """
        a = _runtime(self.ctx).agents.get(name)
        return AgentInstance(self.ctx, a) if a is not None else None

    @expose(blocking=True)
    async def register(self, config: AgentRegisterConfig) -> str:
        """Create an agent from a configuration table.

        Args:
            config: ``{name?, description?, model = {provider, model_id, temperature?, max_tokens?},
                allowed_tools?, custom_config? = {system_prompt?}, resource_limits?}``.

        Returns:
            the instance name.
        """
        c = coerce(AgentRegisterConfig, config, "Agent.register",
                   '{name = "x", model = {provider = "openai", model_id = "gpt-4o-mini"}}')
        if c.model is None:
            raise ValidationError(
                'Invalid agent configuration: model = {provider = "...", model_id = "..."} is required')
        cfg: dict[str, Any] = {"provider": c.model.provider, "model": c.model.model_id,
                               "temperature": c.model.temperature, "max_tokens": c.model.max_tokens}
        if c.name:
            cfg["name"] = c.name
        if c.description:
            cfg["description"] = c.description
        if c.allowed_tools is not None:
            cfg["allowed_tools"] = c.allowed_tools
        if c.custom_config:
            cfg["custom_config"] = c.custom_config
            if isinstance(c.custom_config.get("system_prompt"), str):
                cfg["system_prompt"] = c.custom_config["system_prompt"]
        if c.resource_limits is not None:
            cfg.update(c.resource_limits.model_dump(exclude_none=True))
        if c.recovery is not None:
            cfg["recovery"] = c.recovery if isinstance(c.recovery, dict) else {"strategy": c.recovery}
        inst = await _build(self.ctx, {k: v for k, v in cfg.items() if v is not None})
        return inst.name

    @expose
    def get_info(self, agent_type: str) -> dict[str, Any]:
        """Information about an agent *type* (see ``Agent.discover``).

        Args:
            agent_type: e.g. ``llm``.

        Returns:
            ``{name, description, category, complexity, required_parameters, optional_parameters}``.
        """
        return _runtime(self.ctx).agents.type_info(agent_type)  # type: ignore[no-any-return]

    @expose
    def get_details(self, name: str) -> dict[str, Any] | None:
        """Details of an instance: ``{id, name, description, config, capabilities, state, metrics, ...}``.

        Args:
            name: instance name.
        """
        a = _runtime(self.ctx).agents.get(name)
        if a is None:
            return None
        fn = getattr(a, "details", None)
        if fn is not None:
            return fn()  # type: ignore[no-any-return]
        return {"id": a.id, "name": a.name, "description": a.description, "capabilities": list(a.capabilities),
                "type": getattr(a, "agent_type", "agent"), "state": str(a.state)}

    @expose
    def list_capabilities(self) -> dict[str, Any]:
        """``{agent_name = {capability, ...}}``."""
        return {n: list(a.capabilities) for n in _runtime(self.ctx).agents.names()
                if (a := _runtime(self.ctx).agents.get(n)) is not None}

    @expose
    def discover_by_capability(self, capability: str) -> builtins.list[str]:
        """Names of agents with a capability (chat, streaming, tool_calling, delegation ...).

        Args:
            capability: the capability.
        """
        return _runtime(self.ctx).agents.by_capability(capability)  # type: ignore[no-any-return]

    @expose
    def wrap_as_tool(self, agent_name: str | AgentInstance, config: WrapAsToolConfig | None = None) -> str:
        """Register an agent as a tool that other agents, workflows and ``Tool.execute`` can call.

        Args:
            agent_name: the agent's name, or the agent itself.
            config: ``{tool_name?, category?, security_level?}``.

        Returns:
            the tool name (parameters: ``{input = "..."}``).
        """
        if isinstance(agent_name, AgentInstance):  # the documented form passes the agent itself
            agent_name = agent_name.name
        if isinstance(config, dict) and "tool_name" not in config and isinstance(config.get("name"), str):
            config = {**config, "tool_name": config["name"]}  # the appendix spells it ``name``
        c = coerce(WrapAsToolConfig, config, "Agent.wrap_as_tool", "{tool_name?, category?, security_level?}")
        return _runtime(self.ctx).agents.wrap_as_tool(  # type: ignore[no-any-return]
            agent_name, tool_name=c.tool_name, category=c.category or "analysis",
            security_level=c.security_level or "safe")

    @expose
    def create_composite(self, name: str, agent_names: builtins.list[str], routing: Any = "hierarchical") -> None:
        """Combine agents: ``"hierarchical"`` (the first agent supervises the others, or
        ``{strategy = "hierarchical", supervisor = "x"}``), ``"sequential"``, ``"parallel"`` or ``"vote"``.
        The composite is an agent: ``Agent.get(name):execute({text = ...})``.

        Args:
            name: the composite's name.
            agent_names: member agents.
            routing: strategy name or ``{strategy, supervisor?, timeout_ms?, fallback_agent?}``.
        """
        _runtime(self.ctx).agents.create_composite(name, _str_list(agent_names, "Agent.create_composite"),
                                                   routing or "hierarchical")

    @expose
    def get_hierarchy(self, name: str) -> dict[str, Any]:
        """The composition tree of an agent: ``{name, type, strategy?, supervisor?, children}``.

        Args:
            name: agent name.
        """
        a = _runtime(self.ctx).agents.require(name)
        fn = getattr(a, "hierarchy", None)
        if fn is not None:
            return fn()  # type: ignore[no-any-return]
        return {"name": a.name, "type": getattr(a, "agent_type", "llm"), "children": []}

    @expose
    def list_templates(self) -> builtins.list[str]:
        """Agent template names (research, code, data_analysis)."""
        from llmspell.agents.templates import TEMPLATES

        return sorted(TEMPLATES)

    @expose(blocking=True)
    async def create_from_template(self, instance_name: str, template_name: Annotated[str, Names("agent_templates")],
                                   params: TemplateParams | None = None) -> AgentInstance:
        """Create an agent from a template.

        Args:
            instance_name: the new agent's name.
            template_name: research, code or data_analysis.
            params: overrides ``{model?, system_prompt?, temperature?, allowed_tools?, extra_tools?}``.

        Returns:
            the agent instance.
        """
        from llmspell.agents.templates import config_from_template

        p = coerce(TemplateParams, params, "Agent.create_from_template", '{model = "openai/gpt-4o-mini", ...}')
        overrides = p.model_dump(exclude_none=True)
        model = str(overrides.pop("model", None) or _runtime(self.ctx).config.default_model)
        cfg = config_from_template(instance_name, template_name, overrides)
        provider, _, mname = model.partition("/")
        cfg["provider"], cfg["model"] = (provider, mname) if mname else ("openai", provider)
        return await _build(self.ctx, cfg)

    # contexts and shared memory -----------------------------------------------------------------

    @expose
    def create_context(self, config: ContextConfig | None = None) -> str:
        """Create a context whose data agents can use (``agent:execute_with_context``).

        Args:
            config: ``{conversation_id?, user_id?, session_id?, scope?, inheritance?, data?}``.

        Returns:
            the context id.
        """
        c = coerce(ContextConfig, config, "Agent.create_context", "{data = {...}}")
        return _runtime(self.ctx).agents.create_context(c.model_dump(exclude_none=True))  # type: ignore[no-any-return]

    @expose
    def create_child_context(self, parent_id: str, scope: Any, inheritance: str = "inherit") -> str:
        """Create a child context (inherit/copy: the parent's data is copied; share: shared; isolate: empty).

        Args:
            parent_id: parent context id.
            scope: ``"global"`` or ``{type, id}``.
            inheritance: inherit, isolate, copy or share.
        """
        return _runtime(self.ctx).agents.create_context(  # type: ignore[no-any-return]
            {"scope": scope, "inheritance": inheritance}, parent=parent_id)

    @expose
    def update_context(self, context_id: str, key: str, value: Any) -> None:
        """Set one value in a context.

        Args:
            context_id: the context.
            key: key.
            value: any value.
        """
        _runtime(self.ctx).agents.context(context_id)["data"][key] = value

    @expose
    def get_context_data(self, context_id: str, key: str) -> Any:
        """One value of a context, or nil.

        Args:
            context_id: the context.
            key: key.
        """
        return _runtime(self.ctx).agents.context(context_id)["data"].get(key)

    @expose
    def remove_context(self, context_id: str) -> None:
        """Delete a context.

        Args:
            context_id: the context.
        """
        _runtime(self.ctx).agents.remove_context(context_id)

    @expose
    def set_shared_memory(self, scope: Any, key: str, value: Any) -> None:
        """Store a value visible to every agent in ``scope``.

        Args:
            scope: ``"global"`` or ``{type = "session", id = "s1"}``.
            key: key.
            value: any value.
        """
        _runtime(self.ctx).agents.set_shared(scope, key, value)

    @expose
    def get_shared_memory(self, scope: Any, key: str) -> Any:
        """A value stored with ``set_shared_memory``, or nil.

        Args:
            scope: ``"global"`` or ``{type, id}``.
            key: key.
        """
        return _runtime(self.ctx).agents.get_shared(scope, key)
