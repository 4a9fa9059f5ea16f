"""Which provider answers a model id.

Resolution (first match wins):

1. an explicit registration (``registry.register("offline/flaky", provider)``; tests, embedders);
2. ``config.replay_path`` set -> the recording answers everything (offline, deterministic);
3. ``offline/...``, ``scripted/...``, ``mock/...`` -> the scripted provider;
4. a provider that is *configured* -> litellm. Configured means: ``config.providers`` has an entry
   for it, or a ``base_url``/``api_key`` was given (builder), or ``config.default_model`` names it
   (``--model M`` on the CLI);
5. anything else -> the scripted provider, so rs-llmspell spells that name ``openai/gpt-4o-mini``
   run offline unchanged (the agent's output metadata says ``offline = true``).

``config.record_path`` wraps whatever answers in a recorder.

Keys: a configured provider's key comes from the runtime's secret vault (``api_key_env``, default
``<PROVIDER>_API_KEY``) and is sent only to the configured endpoint. A ``base_url`` chosen by the
spell gets no configured key (only a key the spell gave itself) and is marked ``spell_endpoint`` so
the agent puts it through the network policy before the first call.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from llmspell.config import RuntimeConfig
from llmspell.providers.base import LLMProvider, split_model_id
from llmspell.providers.scripted import ScriptedProvider

OFFLINE_PROVIDERS = frozenset({"offline", "scripted", "mock"})


@dataclass
class ProviderEntry:
    """One initialised provider instance, as ``Provider.list()`` reports it."""

    impl: str
    provider: str
    model: str
    instance: LLMProvider
    offline: bool
    max_retries: int | None = None
    """The configured retries of a provider that retries by itself (litellm): a call is attempted
    ``1 + max_retries`` times in all."""
    spell_endpoint: str | None = None
    """A base URL the spell chose (not the configuration's): must pass ``SecurityPolicy.check_url``."""

    @property
    def name(self) -> str:
        return f"{self.impl}/{self.provider}/{self.model}"

    def info(self, *, with_models: bool = True) -> dict[str, Any]:
        caps = self.instance.capabilities
        c: dict[str, Any] = {
            "supports_streaming": caps.supports_streaming,
            "supports_multimodal": caps.supports_multimodal,
            "supports_tools": caps.supports_tools,
            "max_context_tokens": caps.max_context_tokens,
        }
        if with_models:
            c["available_models"] = list(caps.available_models or [f"{self.provider}/{self.model}"])
        return {"name": self.name, "enabled": True, "offline": self.offline, "capabilities": c}


def _norm(url: str | None) -> str:
    return (url or "").strip().rstrip("/").lower()


class ProviderRegistry:
    def __init__(self, config: RuntimeConfig, secrets: Any = None):
        from llmspell.security.secrets import SecretVault

        self.config = config
        self.secrets: SecretVault = secrets if isinstance(secrets, SecretVault) else SecretVault.for_config(config)
        self._explicit: dict[str, LLMProvider] = {}
        self._cache: dict[tuple[str, str | None, str | None], ProviderEntry] = {}
        self._replay: LLMProvider | None = None

    # ------------------------------------------------------------------------------------ resolution

    def register(self, model_id: str, provider: LLMProvider) -> None:
        """Answer ``model_id`` with ``provider`` from now on (overrides every other rule)."""
        self._explicit[model_id] = provider
        for key in [k for k in self._cache if k[0] == model_id]:
            del self._cache[key]

    def is_configured(self, provider: str, *, base_url: str | None = None, api_key: str | None = None) -> bool:
        """Would a real (litellm) provider answer for ``provider``?"""
        if provider in OFFLINE_PROVIDERS:
            return False
        if base_url or api_key or provider in self.config.providers:
            return True
        default_provider, _ = split_model_id(self.config.default_model)
        return default_provider == provider

    def get(self, model_id: str, *, base_url: str | None = None, api_key: str | None = None) -> LLMProvider:
        """The provider that answers ``model_id`` (see the module docstring for the rules)."""
        return self.entry(model_id, base_url=base_url, api_key=api_key).instance

    def entry(self, model_id: str, *, base_url: str | None = None, api_key: str | None = None) -> ProviderEntry:
        """Like :meth:`get`, with the facts ``Provider.list`` and agent metadata report."""
        key = (model_id, base_url, api_key)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        provider, model = split_model_id(model_id)
        entry: ProviderEntry
        if model_id in self._explicit:
            inst = self._explicit[model_id]
            entry = ProviderEntry(inst.name, provider, model, inst, offline=inst.name != "litellm")
        elif self.config.replay_path:
            if self._replay is None:
                from llmspell.providers.recording import ReplayProvider

                self._replay = ReplayProvider(self.config.replay_path)
            entry = ProviderEntry("replay", provider, model, self._replay, offline=True)
        elif self.is_configured(provider, base_url=base_url, api_key=api_key):
            from llmspell.providers.litellm_provider import LiteLLMProvider
            from llmspell.security.secrets import provider_key_env

            settings = self.config.providers.get(provider)
            configured = settings.base_url if settings else None
            spell_endpoint = base_url if base_url and _norm(base_url) != _norm(configured) else None
            key_value = api_key
            if key_value is None and spell_endpoint is None:
                env = provider_key_env(self.config, provider)
                key_value = self.secrets.get(env) if env else None
            inst = LiteLLMProvider(
                f"{provider}/{model}",
                api_base=base_url or configured,
                api_key=key_value,
                timeout_s=settings.timeout_s if settings else 60.0,
                max_retries=settings.max_retries if settings else 2,
            )
            entry = ProviderEntry("litellm", provider, model, inst, offline=False, spell_endpoint=spell_endpoint,
                                  max_retries=inst.max_retries)
        else:
            inst = ScriptedProvider(f"{provider}/{model}", rules=self.config.scripted_rules)
            entry = ProviderEntry("scripted", provider, model, inst, offline=True)
        if self.config.record_path and entry.impl != "replay":
            from llmspell.providers.recording import RecordingProvider

            entry.instance = RecordingProvider(entry.instance, self.config.record_path)
        self._cache[key] = entry
        return entry

    # ------------------------------------------------------------------------------------ listing

    def list(self) -> builtins.list[dict[str, Any]]:
        """rs-llmspell's ``Provider.list()`` shape: one entry per initialised provider instance.

        The default model's provider is always listed, so a fresh runtime is never empty.
        """
        self.entry(self.config.default_model)
        seen: dict[str, dict[str, Any]] = {}
        for e in self._cache.values():
            seen.setdefault(e.name, e.info())
        return list(seen.values())

    def find(self, name: str) -> ProviderEntry | None:
        """Look an entry up by ``impl/provider/model``, ``provider/model`` or ``provider``."""
        for e in self._cache.values():
            if name in (e.name, f"{e.provider}/{e.model}", e.provider, e.impl):
                return e
        return None
