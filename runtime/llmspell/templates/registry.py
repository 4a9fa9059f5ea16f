"""The template registry: discovery, schemas, validation, execution and cost estimates.

One instance per runtime (``runtime.service("templates", TemplateRegistry)``), shared by the
``Template`` global and workflow template steps.
"""

from __future__ import annotations

import builtins
from typing import Any

from llmspell.core.errors import LLMSpellError, ValidationError
from llmspell.templates.base import Template, TemplateRun

PROMPT_SHARE = 0.6
"""Cost estimates assume 60% of a template's tokens are prompt tokens and 40% completion tokens."""


class TemplateRegistry:
    def __init__(self, runtime: Any):
        from llmspell.templates.builtin import BUILTIN

        self.runtime = runtime
        self._templates: dict[str, Template] = {t.id: t() for t in BUILTIN}

    # ------------------------------------------------------------------------------ discovery

    def ids(self) -> builtins.list[str]:
        return sorted(self._templates)

    def require(self, name: Any, where: str) -> Template:
        if not isinstance(name, str) or not name:
            raise ValidationError(f"{where}: 'name' must be a template id string, got "
                                  f"{'nil' if name is None else type(name).__name__}")
        t = self._templates.get(name) or self._templates.get(name.replace("_", "-").lower())
        if t is None:
            raise ValidationError(f"{where}: Template not found: '{name}'; available templates: "
                                  f"{', '.join(self.ids())}")
        return t

    def list(self, category: str | None = None) -> builtins.list[dict[str, Any]]:
        ts = [t for t in self._templates.values() if not category or t.category_key() == category.lower()]
        return [t.metadata() for t in ts]

    def search(self, query: str, category: str | None = None) -> builtins.list[dict[str, Any]]:
        """Templates whose id, name, description or tags contain ``query`` (case-insensitive)."""
        q = query.lower()
        out = []
        for md in self.list(category):
            hay = " ".join([md["id"], md["name"], md["description"], *md["tags"]]).lower()
            if q in hay:
                out.append(md)
        return out

    @property
    def default_model(self) -> str:
        return str(self.runtime.config.default_model)

    def info(self, name: str, show_schema: bool = False) -> dict[str, Any]:
        t = self.require(name, "Template.info")
        md = t.metadata()
        out: dict[str, Any] = {**md, "metadata": md}
        if show_schema:
            out["schema"] = t.schema(self.default_model)
        return out

    def schema(self, name: str) -> dict[str, Any]:
        return self.require(name, "Template.schema").schema(self.default_model)

    # ------------------------------------------------------------------------------ execution

    def _params(self, params: Any, where: str) -> dict[str, Any]:
        if params is None:
            return {}
        if not isinstance(params, dict):
            raise ValidationError(f"{where}: 'params' must be a table of parameters, got {type(params).__name__}")
        return {str(k): v for k, v in params.items()}

    async def execute(self, name: str, params: Any = None) -> dict[str, Any]:
        t = self.require(name, "Template.execute")
        raw = self._params(params, f"Template.execute('{t.id}')")
        values = t.validate(raw, self.default_model)
        run = TemplateRun(self.runtime, t, values, raw)
        result = await t.execute(run)
        return run.output(result)

    async def estimate_cost(self, name: str, params: Any = None) -> dict[str, Any]:
        """``{estimated_tokens, estimated_cost_usd?, estimated_duration_ms, confidence, model, pricing}``.

        Tokens and duration come from the template's heuristic (rs-llmspell's figures). The cost is 0
        for a model the offline provider answers; otherwise tokens x the model's per-token prices from
        litellm's local cost map (``PROMPT_SHARE`` prompt, the rest completion); when the map does not
        know the model, ``estimated_cost_usd`` is nil and ``pricing = "unknown"``.
        """
        t = self.require(name, "Template.estimate_cost")
        raw = self._params(params, f"Template.estimate_cost('{t.id}')")
        values = t.validate(raw, self.default_model)
        from llmspell.templates.base import resolve_model

        model = resolve_model(self.runtime, t.id, raw, values)
        est = t.estimate(values)
        out: dict[str, Any] = {"estimated_tokens": est.tokens, "estimated_duration_ms": est.duration_ms,
                               "confidence": est.confidence, "model": model}
        try:
            offline = bool(self.runtime.providers.entry(model).offline)
        except LLMSpellError:  # e.g. a configured provider without credentials: still priced
            offline = False
        if offline:
            out["estimated_cost_usd"] = 0.0
            out["pricing"] = "offline"
            return out
        prices = model_prices(model)
        if prices is None:
            out["pricing"] = "unknown"
        else:
            cin, cout = prices
            out["estimated_cost_usd"] = round(est.tokens * (PROMPT_SHARE * cin + (1 - PROMPT_SHARE) * cout), 8)
            out["pricing"] = "litellm"
        return out


def model_prices(model: str) -> tuple[float, float] | None:
    """(input, output) USD per token from litellm's local cost map, or None when it does not know the model."""
    try:
        import litellm
    except ImportError:  # pragma: no cover - litellm is a dependency
        return None
    cost_map: dict[str, Any] = getattr(litellm, "model_cost", {}) or {}
    for key in (model, model.split("/", 1)[-1]):
        info = cost_map.get(key)
        if isinstance(info, dict) and "input_cost_per_token" in info:
            return float(info.get("input_cost_per_token") or 0.0), float(info.get("output_cost_per_token") or 0.0)
    return None


def registry(runtime: Any) -> TemplateRegistry:
    """The runtime's template registry (made on first use)."""
    return runtime.service("templates", TemplateRegistry)  # type: ignore[no-any-return]
