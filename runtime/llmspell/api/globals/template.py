"""``Template``: rs-llmspell's built-in templates (discovery, schemas, execution, cost estimates)."""

from __future__ import annotations

import builtins
from typing import Any

from llmspell.api.decl import ApiGlobal, api_global, expose
from llmspell.core.errors import ValidationError


def _opt_str(v: Any, fn: str, name: str) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise ValidationError(f"Template.{fn}: '{name}' must be a string, got {type(v).__name__}")
    return v


@api_global("Template")
class TemplateGlobal(ApiGlobal):
    """Ready-made AI workflows: research-assistant, interactive-chat, data-analysis, code-generator,
    document-processor, workflow-orchestrator, code-review, content-generation, file-classification,
    knowledge-management.

    Each has metadata, a parameter schema checked on execute (a missing, mistyped or out-of-range
    parameter is an error naming it), a cost estimate, and an execute that runs real agents (on the
    configured model; the offline one by default) and builtin tools. Categories: research, chat,
    analysis, codegen, document, workflow (and the custom Development, Content, Productivity).
    """

    @property
    def _reg(self) -> Any:
        from llmspell.templates import registry

        return registry(self.ctx.runtime)

    @expose
    def list(self, category: str | None = None) -> builtins.list[dict[str, Any]]:
        """The templates, optionally of one category.

        Args:
            category: research, chat, analysis, codegen, document, workflow, or a custom category
                name (case-insensitive); an unknown category gives an empty list.

        Returns:
            A list of ``{id, name, description, category, version, author, requires, tags}``.
        """
        return self._reg.list(_opt_str(category, "list", "category"))  # type: ignore[no-any-return]

    @expose
    def info(self, name: str, show_schema: bool | None = None) -> dict[str, Any]:
        """A template's metadata, and its parameter schema when asked.

        Args:
            name: The template id (e.g. ``"research-assistant"``).
            show_schema: Include ``schema`` (default false).

        Returns:
            ``{metadata = {id, name, ...}, schema?}``; the metadata fields are also at the top level.
        """
        return self._reg.info(name, bool(show_schema))  # type: ignore[no-any-return]

    @expose
    def schema(self, name: str) -> dict[str, Any]:
        """A template's parameter schema.

        Args:
            name: The template id.

        Returns:
            ``{version, parameters = {{name, description, param_type, type, required, default?, min?,
            max?, min_length?, max_length?, pattern?, allowed_values?, constraints?}, ...}}``.
        """
        return self._reg.schema(name)  # type: ignore[no-any-return]

    @expose
    def search(self, query: str, category: str | None = None) -> builtins.list[dict[str, Any]]:
        """Templates whose id, name, description or tags contain ``query`` (case-insensitive).

        Args:
            query: The text to look for.
            category: Only this category.

        Returns:
            A list of template metadata tables (as ``Template.list``).
        """
        if not isinstance(query, str):
            raise ValidationError(f"Template.search: 'query' must be a string, got {type(query).__name__}")
        return self._reg.search(query, _opt_str(category, "search", "category"))  # type: ignore[no-any-return]

    @expose
    async def execute(self, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a template (its agents answer on the ``model`` parameter, default the runtime's model).

        Args:
            name: The template id.
            params: The template's parameters (see ``Template.schema(name)``).

        Returns:
            ``{success, result_type = "text"|"structured"|"file"|"multiple", result, artifacts =
            {{filename, content, mime_type, size, path, metadata?}, ...}, notes, metadata = {template_id,
            template_version, executed_at, execution_id, model, parameters}, metrics = {duration_ms,
            agents_invoked, tools_invoked, llm_calls, rag_queries, tokens_used?, cost_usd?, custom?}}``.
            Artifacts are also written under ``.llmspell/templates/<id>/<execution id>/``.
        """
        return await self._reg.execute(name, params)  # type: ignore[no-any-return]

    @expose
    async def estimate_cost(self, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """What running a template with these parameters is expected to cost (nothing is run).

        Args:
            name: The template id.
            params: The parameters you would pass to ``execute`` (validated the same way).

        Returns:
            ``{estimated_tokens, estimated_cost_usd?, estimated_duration_ms, confidence, model, pricing}``;
            ``pricing`` is ``offline`` (cost 0), ``litellm`` (the model's known prices) or ``unknown``.
        """
        return await self._reg.estimate_cost(name, params)  # type: ignore[no-any-return]
