"""Local model servers (``[local_llm]``): which backend answers ``ollama/...`` and ``local/...`` model
ids, and the small HTTP client ``LocalLLM`` uses for status, model lists, model info and pulls.

Two kinds of backend:

* ``ollama``: Ollama's native API (``/api/version``, ``/api/tags``, ``/api/show``, ``/api/pull``);
  chat goes through litellm's ``ollama_chat/<model>`` (``/api/chat``);
* ``openai``: an OpenAI-compatible server (llama.cpp, vLLM, LM Studio): ``/models`` under its base
  URL lists models, chat goes through litellm's ``openai/<model>`` with that base URL.

A backend's ``base_url`` is operator configuration, so calls to it are allowed whatever the network
policy says about loopback and private addresses (the policy governs what *spells* reach). Every
request carries an explicit timeout. Nothing here falls back to an offline reply: without a backend
the error says how to configure one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from llmspell.core.errors import ConfigurationError, ProviderError

if TYPE_CHECKING:
    from llmspell.config import LocalBackendSettings, LocalLLMConfig

LOCAL_PROVIDERS = frozenset({"local", "ollama"})
"""Model-id prefixes that always mean a local server."""

KNOWN_BACKENDS = ("ollama", "candle")
"""Backends rs-llmspell's ``LocalLLM.status()`` always reports (candle is not supported here)."""

STATUS_TIMEOUT_S = 5.0

HOW_TO_CONFIGURE = ('set [local_llm.backends.ollama] base_url = "http://localhost:11434" in llmspell.toml '
                    '(Ollama), or [local_llm.backends.<name>] kind = "openai", base_url = '
                    '"http://localhost:8080/v1" for an OpenAI-compatible server (llama.cpp, vLLM, LM Studio)')


def no_backend_error(what: str, backend: str | None = None) -> ConfigurationError:
    """The one "no local backend" error: names what was asked and how to configure a backend."""
    which = f" named {json.dumps(backend)}" if backend else ""
    return ConfigurationError(f"{what}: no local LLM backend{which}: {HOW_TO_CONFIGURE}",
                              details={"backend": backend} if backend else {})


@dataclass(frozen=True)
class LocalTarget:
    """A resolved local model: the backend, its settings and the model name on that server."""

    backend: str
    kind: str
    base_url: str
    model: str
    timeout_s: float

    @property
    def litellm_model(self) -> str:
        return f"ollama_chat/{self.model}" if self.kind == "ollama" else f"openai/{self.model}"


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"llama3.1:8b@ollama"`` -> (``llama3.1:8b``, ``ollama``); no ``@`` -> (spec, None)."""
    if "@" in spec:
        model, _, backend = spec.rpartition("@")
        return model, (backend or None)
    return spec, None


def backend_kind(cfg: LocalLLMConfig, name: str) -> str:
    return cfg.backends[name].kind_for(name)


def default_backend(cfg: LocalLLMConfig) -> str | None:
    """``default_backend``, else ``ollama`` when configured, else the only backend."""
    if cfg.default_backend:
        return cfg.default_backend
    if "ollama" in cfg.backends:
        return "ollama"
    if len(cfg.backends) == 1:
        return next(iter(cfg.backends))
    return None


def _target(cfg: LocalLLMConfig, name: str, model: str, what: str) -> LocalTarget:
    b: LocalBackendSettings = cfg.backends[name]
    model = model or (b.default_model or "")
    if not model:
        raise ConfigurationError(f"{what}: no model named and [local_llm.backends.{name}] has no default_model",
                                 details={"backend": name})
    return LocalTarget(name, b.kind_for(name), b.base_url, model, float(b.timeout_s or cfg.timeout_s))


def resolve(cfg: LocalLLMConfig, provider: str, model: str) -> LocalTarget | None:
    """The local backend for ``provider/model``, or None when it is not a local model id.

    * ``ollama/<model>``: the backend named ``ollama``, else the only ``kind = "ollama"`` backend;
    * ``local/<model>[@backend]``: the named backend, else the default one;
    * ``<backend>/<model>`` where ``<backend>`` is a configured local backend's name.

    Raises the "no local LLM backend" error when ``ollama``/``local`` names nothing configured.
    """
    what = f"model {json.dumps(provider + '/' + model)}"
    if provider == "ollama":
        names = [n for n in cfg.backends if backend_kind(cfg, n) == "ollama"]
        name = "ollama" if "ollama" in names else (names[0] if len(names) == 1 else None)
        if name is None:
            return None  # the caller decides: [providers.ollama] or --model, else no_backend_error
        m, _ = split_spec(model)
        return _target(cfg, name, m, what)
    if provider == "local":
        m, backend = split_spec(model)
        name = backend or default_backend(cfg)
        if name is None or name not in cfg.backends:
            if name is None and cfg.backends:
                raise ConfigurationError(
                    f"{what}: several local backends are configured ({', '.join(sorted(cfg.backends))}): "
                    "name one (local/<model>@<backend>) or set [local_llm] default_backend",
                    details={"backends": sorted(cfg.backends)})
            raise no_backend_error(what, name)
        return _target(cfg, name, m, what)
    if provider in cfg.backends:
        m, _ = split_spec(model)
        return _target(cfg, provider, m, what)
    return None


# ------------------------------------------------------------------------------------------ HTTP client


def _connect_error(backend: str, url: str, e: BaseException) -> ProviderError:
    reason = type(e).__name__
    text = str(e).strip()
    if text:
        reason += f": {text[:200]}"
    return ProviderError(
        f"local LLM backend {backend} at {url} is not reachable ({reason}): start the server (Ollama: "
        f"ollama serve) or fix [local_llm.backends.{backend}] base_url in llmspell.toml",
        status=503, retryable=False, details={"backend": backend, "base_url": url})


async def request(backend: str, base_url: str, method: str, path: str, *, body: dict[str, Any] | None = None,
                  timeout_s: float, stream_lines: bool = False) -> Any:
    """One JSON request to a configured backend. ``stream_lines`` reads an NDJSON body into a list.

    Raises ProviderError naming the backend (unreachable, HTTP error with the server's message, or a
    body that is not JSON).
    """
    import httpx

    url = base_url.rstrip("/") + path
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), follow_redirects=False,
                                     trust_env=False) as client:
            resp = await client.request(method, url, json=body)
            raw = resp.text
    except httpx.TimeoutException as e:
        raise ProviderError(f"local LLM backend {backend} at {base_url}: no answer within {timeout_s:g} s "
                            f"({method} {path})", status=408, retryable=False,
                            details={"backend": backend, "base_url": base_url}) from e
    except httpx.HTTPError as e:
        raise _connect_error(backend, base_url, e) from e
    if resp.status_code >= 400:
        msg = raw[:300]
        try:
            err = json.loads(raw)
            if isinstance(err, dict):
                inner = err.get("error")
                msg = str(inner.get("message") if isinstance(inner, dict) else inner or msg)
        except ValueError:
            pass
        raise ProviderError(f"local LLM backend {backend}: {method} {path}: HTTP {resp.status_code}: {msg}",
                            status=resp.status_code, retryable=False,
                            details={"backend": backend, "status": resp.status_code})
    try:
        if stream_lines:
            return [json.loads(ln) for ln in raw.splitlines() if ln.strip()]
        return json.loads(raw) if raw.strip() else {}
    except ValueError as e:
        raise ProviderError(f"local LLM backend {backend}: {method} {path}: the answer is not JSON",
                            details={"backend": backend}) from e


def _epoch(ts: Any) -> float | None:
    """Ollama's RFC 3339 ``modified_at`` (nanosecond fractions) -> seconds since the epoch."""
    if isinstance(ts, (int, float)):
        return float(ts)
    if not isinstance(ts, str) or not ts:
        return None
    s = re.sub(r"(\.\d{6})\d+", r"\1", ts.strip()).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(s).timestamp()
    except ValueError:
        return None


def _param_count(v: Any) -> int | None:
    """``"8.0B"`` -> 8000000000, ``"770M"`` -> 770000000; ints pass."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if not isinstance(v, str):
        return None
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMBT]?)\s*", v.upper())
    if not m:
        return None
    mult = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}[m.group(2)]
    try:
        return int(float(m.group(1)) * mult)
    except ValueError:
        return None


def ollama_model(m: dict[str, Any], backend: str) -> dict[str, Any]:
    """One ``/api/tags`` entry as rs-llmspell's ``LocalLLM.list()`` row."""
    d = m.get("details") or {}
    row: dict[str, Any] = {"id": str(m.get("name") or m.get("model") or ""), "backend": backend,
                           "size_bytes": int(m.get("size") or 0)}
    if d.get("quantization_level"):
        row["quantization"] = str(d["quantization_level"])
    ts = _epoch(m.get("modified_at"))
    if ts is not None:
        row["modified_at"] = int(ts)
    if d.get("format"):
        row["format"] = str(d["format"])
    if d.get("family"):
        row["family"] = str(d["family"])
    if d.get("parameter_size"):
        row["parameter_size"] = str(d["parameter_size"])
    if m.get("digest"):
        row["digest"] = str(m["digest"])
    return row


def openai_model(m: dict[str, Any], backend: str) -> dict[str, Any]:
    """One ``/models`` entry of an OpenAI-compatible server as a ``LocalLLM.list()`` row."""
    row: dict[str, Any] = {"id": str(m.get("id") or ""), "backend": backend, "size_bytes": 0}
    if isinstance(m.get("created"), (int, float)):
        row["modified_at"] = int(m["created"])
    if m.get("owned_by"):
        row["owned_by"] = str(m["owned_by"])
    return row
