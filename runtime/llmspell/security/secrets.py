"""Secrets and the environment: spells see only the variables the configuration names.

Two rules, both allow-lists:

* **What a spell may see** (``os.getenv`` in Lua, environment-reader, jq ``$ENV``/``env``, and the
  environment of a process-executor child): exactly the variables matching ``security.env_allow``
  (names or glob patterns). Nothing else, not even ``HOME`` or ``PATH``: there is no built-in
  "harmless" set, because every such set has turned out to hold something (``DATABASE_URL``,
  ``HTTP_PROXY=http://user:pass@...``, ``GIT_ASKPASS``). Spells that want ``LANG`` or ``TZ`` list them.
* **What the runtime itself may use** (provider keys, the credentials and settings builtin tools read
  from the environment): the names the configuration gives -- ``providers.<p>.api_key_env`` (or the
  conventional ``<P>_API_KEY`` of a provider the configuration names) and ``security.tool_env`` --
  are copied into a :class:`SecretVault` when the runtime is built. Providers and tools read them
  from the vault, never from ``os.environ``, so the environment can be emptied under them.

:func:`scrub_environment` applies both to the process: it snapshots the vault, then removes from
``os.environ`` every variable that is neither spell-visible nor needed by the process itself
(:data:`PROCESS_ENV`: ``PATH``, ``HOME``, locale, temp dirs, CA bundles, proxies). The run's child
process calls it first thing, so C libraries (libjq's ``$ENV``) see the scrubbed environment too.
The variables kept for the process are still invisible to spells unless ``env_allow`` names them.
"""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

# Environment variables builtin tools read for their own settings and credentials. These are the
# default of ``security.tool_env``: tools get them from the vault, spells never see them.
TOOL_ENV: tuple[str, ...] = (
    "SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_FROM", "SMTP_PASSWORD",
    "SENDGRID_API_KEY", "SENDGRID_BASE_URL",
    "SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN", "SLACK_API_URL",
    "DISCORD_WEBHOOK_URL",
    "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL",
    "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "TWILIO_API_URL",
    "LLMSPELL_SEARCH_PROVIDER", "LLMSPELL_SEARCH_*_URL",
    "BRAVE_API_KEY", "TAVILY_API_KEY", "SERPAPI_API_KEY", "SERPER_API_KEY", "GOOGLE_SEARCH_API_KEY",
    "GOOGLE_SEARCH_ENGINE_ID", "BING_SEARCH_API_KEY",
)

# What the runtime's own process needs to work (locale, temp files, TLS trust, outbound proxies,
# finding programs). Kept in ``os.environ`` by :func:`scrub_environment`, never shown to spells
# unless ``security.env_allow`` names them.
PROCESS_ENV: tuple[str, ...] = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_*", "TZ", "TMPDIR", "TMP", "TEMP",
    "SYSTEMROOT", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    "LLMSPELL_NO_OPENAT2",
)

_OFFLINE = frozenset({"offline", "scripted", "mock", "replay"})


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(name == p or fnmatch.fnmatchcase(name, p) for p in patterns)


def default_key_env(provider: str) -> str:
    """The conventional key variable of a provider: ``openai`` -> ``OPENAI_API_KEY``."""
    return provider.upper().replace("-", "_").replace(".", "_") + "_API_KEY"


def provider_key_env(config: Any, provider: str) -> str | None:
    """The variable holding ``provider``'s key, if the configuration names that provider."""
    if provider in _OFFLINE:
        return None
    settings = (getattr(config, "providers", None) or {}).get(provider)
    if settings is not None:
        return getattr(settings, "api_key_env", None) or default_key_env(provider)
    default_model = str(getattr(config, "default_model", "") or "")
    if "/" in default_model and default_model.split("/", 1)[0] == provider:
        return default_key_env(provider)
    return None


def secret_names(config: Any) -> list[str]:
    """Names and patterns the vault takes from the environment for ``config`` (never visible to spells)."""
    names: list[str] = []
    providers = dict(getattr(config, "providers", None) or {})
    default_model = str(getattr(config, "default_model", "") or "")
    if "/" in default_model:
        providers.setdefault(default_model.split("/", 1)[0], None)
    for p in providers:
        env = provider_key_env(config, p)
        if env:
            names.append(env)
    sec = getattr(config, "security", None)
    tool_env = getattr(sec, "tool_env", None) if sec is not None else None
    names.extend(TOOL_ENV if tool_env is None else [str(n) for n in tool_env])
    mcp = getattr(config, "mcp", None)
    for server in (getattr(mcp, "servers", None) or {}).values():  # [mcp.servers.<name>] env: for the server only
        names.extend(str(n) for n in (getattr(server, "env", None) or []))
        names.extend(str(n) for n in (getattr(server, "headers_env", None) or {}).values())
    return list(dict.fromkeys(names))


def env_allow_of(config: Any) -> list[str]:
    sec = getattr(config, "security", None)
    return list(getattr(sec, "env_allow", None) or [])


def spell_visible(name: str, env_allow: Iterable[str]) -> bool:
    """The one rule: a spell sees ``name`` only when ``security.env_allow`` names it (or a pattern does)."""
    return isinstance(name, str) and bool(name) and _matches(name, env_allow)


def spell_environ(env_allow: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The part of ``environ`` (default ``os.environ``) a spell may see."""
    allow = list(env_allow)
    src = os.environ if environ is None else environ
    return {k: v for k, v in src.items() if spell_visible(k, allow)}


class SecretVault:
    """Secrets the configuration names, copied from the environment when the runtime is built.

    ``get(name)`` answers only for names the vault was built for; the values never appear in
    ``repr``/``str`` and the vault is not iterable, so printing or serialising it reveals nothing.
    """

    __slots__ = ("_names", "_values")

    def __init__(self, values: Mapping[str, str] | None = None, names: Iterable[str] = ()):
        self._values: dict[str, str] = dict(values or {})
        self._names: tuple[str, ...] = tuple(dict.fromkeys([*names, *self._values]))

    @classmethod
    def for_config(cls, config: Any, environ: Mapping[str, str] | None = None) -> SecretVault:
        """The vault for ``config``: named values from ``environ`` (default ``os.environ``), and from
        the snapshot :func:`scrub_environment` took before it emptied this process's environment."""
        names = secret_names(config)
        src: dict[str, str] = {}
        with _lock:
            src.update(_scrubbed)
        src.update(os.environ if environ is None else environ)
        return cls({k: v for k, v in src.items() if _matches(k, names)}, names)

    def knows(self, name: str) -> bool:
        """Is ``name`` one the configuration gives to the runtime (set or not)?"""
        return _matches(name, self._names)

    def get(self, name: str | None) -> str | None:
        if not name or not self.knows(name):
            return None
        return self._values.get(name)

    def values(self) -> list[str]:
        """The secret values (for redaction), longest first."""
        return sorted({v for v in self._values.values() if v}, key=len, reverse=True)

    def __repr__(self) -> str:
        return f"SecretVault({len(self._values)} value(s) for {len(self._names)} name(s))"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickled with its values
        raise TypeError("a SecretVault cannot be serialised")


# What scrub_environment removed, so a runtime built afterwards in this process still gets the
# secrets its configuration names (the child process scrubs first, then builds its runtime).
_scrubbed: dict[str, str] = {}
_lock = threading.Lock()


def process_needed(name: str) -> bool:
    return _matches(name, PROCESS_ENV)


def scrub_environment(config: Any, environ: MutableMapping[str, str] | None = None) -> SecretVault:
    """Empty the process environment down to what spells may see and the process needs.

    Call it once, first thing in a run's child process, before any spell code or C library runs.
    Every variable the configuration names as a secret is snapshotted first (the returned vault,
    also remembered for :meth:`SecretVault.for_config` in this process), then every variable that
    is neither spell-visible (``security.env_allow``) nor in :data:`PROCESS_ENV` is removed from
    ``environ`` (default ``os.environ``, so ``unsetenv`` reaches the C-level environment too).
    Idempotent.
    """
    env = os.environ if environ is None else environ
    names = secret_names(config)
    allow = env_allow_of(config)
    with _lock:
        for k, v in list(env.items()):
            if _matches(k, names):
                _scrubbed[k] = v
        for k in list(env):
            if not (spell_visible(k, allow) or process_needed(k)):
                del env[k]
    return SecretVault.for_config(config, environ=env)


def vault_of(runtime: Any) -> SecretVault:
    """The runtime's vault (an empty one when the runtime has none, e.g. a bare test context)."""
    v = getattr(runtime, "secrets", None)
    return v if isinstance(v, SecretVault) else SecretVault()


__all__ = [
    "PROCESS_ENV", "TOOL_ENV", "SecretVault", "default_key_env", "process_needed", "provider_key_env",
    "scrub_environment", "secret_names", "spell_environ", "spell_visible", "vault_of",
]
