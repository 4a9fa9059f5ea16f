"""What a template is, and the run context its ``execute`` works through.

A :class:`Template` is declarative metadata (id, name, description, category, version, tags,
requires), a parameter schema (:mod:`llmspell.templates.schema`), a cost heuristic, and an
``execute`` that really runs agents and tools through a :class:`TemplateRun`:

* :meth:`TemplateRun.agent` builds an LLM agent in ``runtime.agents`` (the same path
  ``Agent.builder():build()`` takes), so the configured provider answers (the offline scripted one by
  default), ``agent.*`` events and agent hooks fire, and usage is counted; the agent is removed after;
* :meth:`TemplateRun.tool` calls a builtin tool through ``runtime.tools.execute`` (validation,
  security level, ``tool.*`` events, tool hooks);
* :meth:`TemplateRun.save_artifact` writes a file through the path policy's gate under
  ``<workspace>/.llmspell/templates/<template id>/<execution id>/`` and records it as an artifact.

The result table has rs-llmspell's shape (``template_output_to_lua_table``): ``result_type``
(text | structured | file | multiple), ``result``, ``artifacts``, ``metadata`` and ``metrics``.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from llmspell.core.errors import ValidationError
from llmspell.templates.schema import Param, validate

CATEGORY_NAMES = {"research": "Research", "chat": "Chat", "analysis": "Analysis", "codegen": "CodeGen",
                  "document": "Document", "workflow": "Workflow"}
"""rs-llmspell's categories (``TemplateCategory``); a template may also use a custom name."""

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class CostEstimate:
    """What a template execution is expected to cost (rs-llmspell ``CostEstimate``)."""

    tokens: int
    duration_ms: int
    confidence: float


class Template:
    """A built-in template: metadata, parameter schema, cost heuristic, execute."""

    id: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str]
    category: ClassVar[str]
    version: ClassVar[str] = "0.1.0"
    author: ClassVar[str] = "LLMSpell Team"
    requires: ClassVar[tuple[str, ...]] = ()
    tags: ClassVar[tuple[str, ...]] = ()

    def params(self) -> list[Param]:  # pragma: no cover - every template overrides
        raise NotImplementedError

    def estimate(self, params: dict[str, Any]) -> CostEstimate:  # pragma: no cover
        raise NotImplementedError

    async def execute(self, run: TemplateRun) -> Any:  # pragma: no cover
        """Do the work; return the result value (set ``run.result_type`` for non-text results)."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------ descriptions

    def category_key(self) -> str:
        return self.category.lower()

    def metadata(self) -> dict[str, Any]:
        """``{id, name, description, category, version, author, requires, tags}`` (``category`` as
        rs-llmspell prints it: ``Research``, ``Chat``, ``Analysis``, ``CodeGen``, ``Document``,
        ``Workflow`` or the custom name)."""
        return {"id": self.id, "name": self.name, "description": self.description,
                "category": CATEGORY_NAMES.get(self.category, self.category), "version": self.version,
                "author": self.author, "requires": list(self.requires), "tags": list(self.tags)}

    def schema_params(self, default_model: str) -> list[Param]:
        out = []
        for p in self.params():
            if p.name == "model" and p.default is None:
                p = Param(p.name, p.description, p.type, default=default_model)
            out.append(p)
        return out

    def schema(self, default_model: str) -> dict[str, Any]:
        return {"version": "1.0", "parameters": [p.table() for p in self.schema_params(default_model)]}

    def validate(self, values: dict[str, Any], default_model: str) -> dict[str, Any]:
        return validate(f"Template.execute('{self.id}')", self.schema_params(default_model), values)


# ---------------------------------------------------------------------------------------- run


@dataclass
class Metrics:
    agents_invoked: int = 0
    tools_invoked: int = 0
    llm_calls: int = 0
    rag_queries: int = 0
    tokens_used: int = 0
    cost_usd: float = 0.0
    priced: bool = True
    custom: dict[str, Any] = field(default_factory=dict)


class TemplateRun:
    """One execution of a template: the validated parameters, the runtime, metrics and artifacts."""

    def __init__(self, runtime: Any, template: Template, params: dict[str, Any], raw: dict[str, Any]):
        self.runtime = runtime
        self.template = template
        self.params = params
        self.raw_params = raw
        self.execution_id = f"tpl_{uuid.uuid4().hex[:12]}"
        self.metrics = Metrics()
        self.artifacts: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.result_type = "text"
        self.started = time.perf_counter()
        self.model = resolve_model(runtime, template.id, raw, params)

    # ------------------------------------------------------------------------------ agents, tools

    async def agent(self, role: str, prompt: str, *, system_prompt: str | None = None,
                    temperature: float | None = None, max_tokens: int | None = None,
                    tools: list[str] | None = None, history: list[dict[str, str]] | None = None) -> str:
        """Ask a fresh agent (``<template>-<role>-<id>``) one question; its text answer."""
        from llmspell.agents.config import AgentConfig
        from llmspell.core.types import AgentInput

        name = f"{self.template.id}-{role}-{uuid.uuid4().hex[:8]}"
        cfg = AgentConfig(name=name, description=f"{self.template.name}: {role}", model=self.model,
                          system_prompt=system_prompt, temperature=temperature, max_tokens=max_tokens,
                          allowed_tools=list(tools or []))
        agents = self.runtime.agents
        agent = agents.create(cfg)
        try:
            init = getattr(agent, "initialize", None)
            if init is not None:
                await init()
            if history:
                hist = getattr(agent, "_history", None)
                if isinstance(hist, list):
                    from llmspell.providers.base import ChatMessage

                    hist.extend(ChatMessage(role=h["role"], content=h["content"])  # type: ignore[arg-type]
                                for h in history if h.get("role") in ("user", "assistant"))
            out = await agent.execute(AgentInput(text=prompt))
        finally:
            await agents.remove(name)
        self.metrics.agents_invoked += 1
        md = getattr(out, "metadata", None) or {}
        self.metrics.llm_calls += int(md.get("requests") or 1)
        self.metrics.tools_invoked += int(md.get("tool_call_count") or 0)
        usage = getattr(out, "usage", None)
        if usage is not None:
            self.metrics.tokens_used += int(getattr(usage, "total_tokens", 0) or 0)
            cost = getattr(usage, "cost_usd", None)
            if cost is None:
                self.metrics.priced = False
            else:
                self.metrics.cost_usd += float(cost)
        return str(getattr(out, "text", out) or "")

    async def tool(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Call a builtin tool; its result table (``{success, result, ...}``). A failure raises."""
        from llmspell.api.shapes import output_table
        from llmspell.core.errors import ToolError

        self.metrics.tools_invoked += 1
        out = await self.runtime.tools.execute(name, params, caller=f"template:{self.template.id}",
                                               correlation_id=self.execution_id)
        table = output_table(out.text, out.metadata)
        if not out.success:
            err = out.error or (table.get("error") if isinstance(table, dict) else None) or "the tool reported failure"
            if isinstance(err, dict):
                err = err.get("message") or str(err)
            raise ToolError(f"{self.template.id}: tool '{name}' failed: {err}")
        return table  # type: ignore[no-any-return]

    # ------------------------------------------------------------------------------ files

    @property
    def output_dir(self) -> str:
        return str(self.runtime.workspace / ".llmspell" / "templates" / self.template.id / self.execution_id)

    def save_artifact(self, filename: str, content: str, mime_type: str, **metadata: Any) -> dict[str, Any]:
        """Write ``content`` to this execution's output folder (through the path policy) and record it."""
        safe = _SAFE_NAME.sub("_", filename).strip("._") or "artifact"
        path = f"{self.output_dir}/{safe}"
        self.runtime.policy.gate.write_text(path, content)
        art: dict[str, Any] = {"filename": safe, "content": content, "mime_type": mime_type,
                               "size": len(content.encode("utf-8")), "path": path}
        if metadata:
            art["metadata"] = metadata
        self.artifacts.append(art)
        return art

    def read_text(self, path: str, *, max_bytes: int = 2_000_000) -> str:
        """Read a file the spell may read (through the path policy's gate)."""
        gate = self.runtime.policy.gate
        data: bytes = gate.read_bytes(path, max_bytes=max_bytes)
        return data.decode("utf-8", "replace")

    # ------------------------------------------------------------------------------ memory

    async def memory_context(self, query: str) -> str:
        """Prior context of ``session_id`` from the memory subsystem (empty when memory is off,
        there is no session, or no memory subsystem is installed)."""
        from llmspell.templates.memory import recall

        if not self.params.get("memory_enabled", True):
            return ""
        sid = self.params.get("session_id")
        if not isinstance(sid, str) or not sid:
            return ""
        text = await recall(self.runtime, sid, query, int(self.params.get("context_budget") or 2000))
        if text:
            self.metrics.custom["memory_context_chars"] = len(text)
        return text

    async def remember(self, input_summary: str, output_summary: str) -> None:
        from llmspell.templates.memory import store

        sid = self.params.get("session_id")
        if self.params.get("memory_enabled", True) and isinstance(sid, str) and sid:
            if await store(self.runtime, sid, self.template.id, input_summary, output_summary):
                self.metrics.custom["memory_stored"] = True

    # ------------------------------------------------------------------------------ result

    def output(self, result: Any) -> dict[str, Any]:
        m = self.metrics
        metrics: dict[str, Any] = {
            "duration_ms": int((time.perf_counter() - self.started) * 1000),
            "agents_invoked": m.agents_invoked, "tools_invoked": m.tools_invoked, "llm_calls": m.llm_calls,
            "rag_queries": m.rag_queries,
        }
        if m.tokens_used:
            metrics["tokens_used"] = m.tokens_used
        if m.agents_invoked and m.priced:
            metrics["cost_usd"] = round(m.cost_usd, 8)
        custom = dict(m.custom)
        if self.notes:
            custom["notes"] = list(self.notes)
        if custom:
            metrics["custom"] = custom
        return {
            "success": True,
            "result_type": self.result_type,
            "result": result,
            "artifacts": self.artifacts,
            "notes": list(self.notes),
            "metadata": {"template_id": self.template.id, "template_version": self.template.version,
                         "executed_at": datetime.now(UTC).isoformat(), "execution_id": self.execution_id,
                         "model": self.model, "parameters": self.raw_params},
            "metrics": metrics,
        }


def resolve_model(runtime: Any, template_id: str, raw: dict[str, Any], params: dict[str, Any]) -> str:
    """The model the template's agents use: ``model``, else ``provider_name``'s configured model, else
    the runtime's default model. ``model`` and ``provider_name`` together are an error."""
    model = raw.get("model")
    prov = raw.get("provider_name")
    if model and prov:
        raise ValidationError(f"Template.execute('{template_id}'): give either 'model' or 'provider_name', "
                              "not both")
    if isinstance(model, str) and model:
        return model
    if isinstance(prov, str) and prov:
        from llmspell.providers.registry import OFFLINE_PROVIDERS

        if prov in OFFLINE_PROVIDERS:
            return f"{prov}/scripted"
        settings = runtime.config.providers.get(prov)
        configured = getattr(settings, "default_model", None) or getattr(settings, "model", None)
        if configured:
            return configured if "/" in str(configured) else f"{prov}/{configured}"
        default = str(runtime.config.default_model)
        if default.startswith(prov + "/"):
            return default
        known = sorted(runtime.config.providers) or ["none"]
        raise ValidationError(f"Template.execute('{template_id}'): provider_name '{prov}' has no model: "
                              f"configure [providers.{prov}] in llmspell.toml or pass 'model' "
                              f"(configured providers: {', '.join(known)})")
    return str(params.get("model") or runtime.config.default_model)
