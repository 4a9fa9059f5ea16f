"""Which provider answers a model id.

Resolution (first match wins):

1. an explicit registration (``registry.register("offline/flaky", provider)``; tests, embedders);
2. ``config.replay_path`` set -> the recording answers everything (offline, deterministic);
3. ``offline/...``, ``scripted/...``, ``mock/...`` -> the scripted provider;
4. a local model (``[local_llm]``): ``local/<model>[@backend]``, ``ollama/<model>`` when an Ollama
   backend is configured, ``<backend>/<model>`` for a configured backend's name -> litellm against
   that server (``ollama_chat/`` or ``openai/``), with the backend's timeout;
5. a provider that is *configured* -> litellm. Configured means: ``config.providers`` has an entry
   for it, or a ``base_url``/``api_key`` was given (builder), or ``config.default_model`` names it
   (``--model M`` on the CLI). Its key must be in the secret vault (``api_key_env``, default
   ``<PROVIDER>_API_KEY``), else the agent's build fails naming the variable (local servers such as
   ``ollama`` need none);
6. ``local/...`` with no backend, or ``ollama/...`` with no Ollama backend in a runtime configured
   for real models -> an error: "no local LLM backend: set [local_llm] ..." (never an offline reply);
   ``ollama/...`` in a runtime that configures no real model at all follows rule 7 like any provider
   name in rs-llmspell's examples (answered offline, and saying so); ``LocalLLM.status()`` still
   reports that no backend runs;
7. any other provider:

   * in a runtime that configures no real model at all (no ``[providers]``, no ``[local_llm]``
     backend, an offline ``default_model``) -> the scripted provider, so rs-llmspell spells that name
     ``openai/gpt-4o-mini`` run offline unchanged, and say so: the reply starts with
     ``[offline openai/gpt-4o-mini]`` and the output metadata has ``offline = true``;
   * otherwise (the runtime is set up for real models, e.g. ``--model openai/gpt-4o`` or a
     ``[providers.openai]`` table) -> an error naming the provider, the key variable and the
     configuration table to add, and that ``offline/scripted`` works offline. A spell that names a
     provider nobody configured is a mistake there, not a request for a canned answer.

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
from llmspell.core.errors import ConfigurationError
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
        if provider == "local" or provider in self.config.local_llm.backends:
            return bool(self.config.local_llm.backends)
        if provider == "ollama" and any(b.kind_for(n) == "ollama" for n, b in self.config.local_llm.backends.items()):
            return True
        default_provider, _ = split_model_id(self.config.default_model)
        return default_provider == provider

    @property
    def offline_only(self) -> bool:
        """True when the configuration names no real model anywhere: no ``[providers]`` table, no
        ``[local_llm]`` backend, and an offline ``default_model``. Only then does the scripted provider
        answer for providers nobody configured (rs-llmspell's examples run offline unchanged)."""
        default_provider, _ = split_model_id(self.config.default_model)
        return (not self.config.providers and not self.config.local_llm.backends
                and default_provider in OFFLINE_PROVIDERS)

    def _unconfigured_error(self, model_id: str, provider: str) -> ConfigurationError:
        from llmspell.security.secrets import default_key_env

        env = default_key_env(provider)
        configured = sorted(set(self.config.providers) | set(self.config.local_llm.backends))
        default_provider, _ = split_model_id(self.config.default_model)
        if default_provider not in OFFLINE_PROVIDERS and default_provider not in configured:
            configured.append(default_provider)
        why = (f"this runtime is configured for real models ({', '.join(configured)}), so providers it does not "
               "configure are not answered offline")
        return ConfigurationError(
            f'model "{model_id}": provider {provider} has no credentials: set {env} and add '
            f'[providers.{provider}] (api_key_env = "{env}") to llmspell.toml, or pass the key with '
            f':api_key(); {why}; the offline provider "offline/scripted" works without any',
            details={"model": model_id, "provider": provider, "api_key_env": env,
                     "config_key": f"providers.{provider}"})

    def _missing_key_error(self, model_id: str, provider: str, env: str) -> ConfigurationError:
        return ConfigurationError(
            f'model "{model_id}": provider {provider} has no credentials: the environment variable {env} '
            f"is not set (it is read when the runtime starts: [providers.{provider}] api_key_env, default "
            f"{provider.upper()}_API_KEY), or pass the key with :api_key(); the offline provider "
            '"offline/scripted" works without any',
            details={"model": model_id, "provider": provider, "api_key_env": env,
                     "config_key": f"providers.{provider}.api_key_env"})

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
        elif (provider not in self.config.providers and not base_url and not api_key
              and (local := self._local_target(provider, model)) is not None):
            from llmspell.providers.litellm_provider import LiteLLMProvider

            inst = LiteLLMProvider(
                local.litellm_model, api_base=local.base_url,
                api_key=None if local.kind == "ollama" else "no-key",  # a placeholder, not a secret
                timeout_s=local.timeout_s, max_retries=0, local_backend=local.backend,
            )
            entry = ProviderEntry("litellm", provider, model, inst, offline=False, max_retries=0)
        elif self.is_configured(provider, base_url=base_url, api_key=api_key):
            from llmspell.providers.litellm_provider import KEYLESS_PROVIDERS, LiteLLMProvider
            from llmspell.security.secrets import provider_key_env

            settings = self.config.providers.get(provider)
            configured = settings.base_url if settings else None
            spell_endpoint = base_url if base_url and _norm(base_url) != _norm(configured) else None
            key_value = api_key
            if key_value is None and spell_endpoint is None:
                env = provider_key_env(self.config, provider)
                key_value = self.secrets.get(env) if env else None
                if not key_value and env and provider not in KEYLESS_PROVIDERS:
                    raise self._missing_key_error(model_id, provider, env)
            inst = LiteLLMProvider(
                f"{provider}/{model}",
                api_base=base_url or configured,
                api_key=key_value,
                timeout_s=settings.timeout_s if settings else 60.0,
                max_retries=settings.max_retries if settings else 2,
            )
            entry = ProviderEntry("litellm", provider, model, inst, offline=False, spell_endpoint=spell_endpoint,
                                  max_retries=inst.max_retries)
        elif provider in OFFLINE_PROVIDERS or (self.offline_only and provider != "local"):
            inst = ScriptedProvider(f"{provider}/{model}", rules=self.config.scripted_rules)
            entry = ProviderEntry("scripted", provider, model, inst, offline=True)
        elif provider in ("local", "ollama"):
            from llmspell.providers.local import no_backend_error

            raise no_backend_error(f'model "{model_id}"')
        else:
            raise self._unconfigured_error(model_id, provider)
        if self.config.record_path and entry.impl != "replay":
            from llmspell.providers.recording import RecordingProvider

            entry.instance = RecordingProvider(entry.instance, self.config.record_path)
        self._cache[key] = entry
        return entry

    def _local_target(self, provider: str, model: str) -> Any:
        """The ``[local_llm]`` backend for ``provider/model`` (None when it is not a local model id)."""
        if provider not in ("local", "ollama") and provider not in self.config.local_llm.backends:
            return None
        from llmspell.providers.local import resolve

        return resolve(self.config.local_llm, provider, model)

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
