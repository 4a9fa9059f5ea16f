"""The ``Provider`` global (rs-llmspell API notes §2.9): read-only facts about LLM providers.

Names are hierarchical, ``"<impl>/<provider>/<model>"``: ``scripted/openai/gpt-4o-mini`` when the
offline provider answers for that model, ``litellm/openai/gpt-4o-mini`` when a real one does.
"""

from __future__ import annotations

import builtins
from typing import Any

from llmspell.api.decl import ApiGlobal, api_global, expose


@api_global("Provider")
class ProviderGlobal(ApiGlobal):
    """LLM providers known to the runtime (one entry per initialised provider instance)."""

    def _reg(self) -> Any:
        return self.ctx.runtime.providers

    @expose
    def list(self) -> builtins.list[dict[str, Any]]:
        """Every initialised provider (the default model's provider is always listed).

        Returns:
            ``[{name = "impl/provider/model", enabled, capabilities = {supports_streaming,
            supports_multimodal, max_context_tokens, available_models}}]``.
        """
        return self._reg().list()  # type: ignore[no-any-return]

    @expose
    def get(self, name: str) -> dict[str, Any] | None:
        """One provider entry, or nil.

        Args:
            name: ``impl/provider/model``, ``provider/model`` or a provider name.

        Returns:
            ``{name, enabled, capabilities}`` (without ``available_models``).
        """
        self._reg().list()
        e = self._reg().find(name)
        return e.info(with_models=False) if e is not None else None

    @expose(lua="getCapabilities")
    def get_capabilities(self, name: str) -> dict[str, Any] | None:
        """The capabilities table of a provider, or nil.

        Args:
            name: provider name as in ``Provider.list()``.
        """
        info = self.get(name)
        return info["capabilities"] if info is not None else None

    @expose(lua="isAvailable")
    def is_available(self, name: str) -> bool:
        """Whether a provider can answer: it is initialised or configured (offline providers always are).

        Args:
            name: provider name as in ``Provider.list()``, or a provider such as ``openai``.
        """
        reg = self._reg()
        if self.get(name) is not None:
            return True
        provider = name.split("/")[1] if name.count("/") >= 2 else name.split("/")[0]
        return provider in ("offline", "scripted", "mock") or bool(reg.is_configured(provider))
