"""Any litellm model id (``openai/gpt-4o-mini``, ``anthropic/...``, ``ollama/...``) as an LLMProvider.

litellm costs 3-4 s and 160 MB to import, so it is imported lazily, in a worker thread, on the first
call; ``LITELLM_LOCAL_MODEL_COST_MAP`` and ``HF_HUB_OFFLINE`` are set before that import so litellm
never reaches the network on its own (see runtime-libs §3.2). Every call passes an explicit timeout
and retry count: litellm's defaults retry silently and multiply the timeout.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator
from typing import Any

from llmspell.core.errors import ProviderError
from llmspell.core.types import ToolCall, Usage
from llmspell.providers.base import (
    Completion,
    CompletionRequest,
    ProviderCapabilities,
    StreamChunk,
)
from llmspell.providers.scripted import is_retryable_status

_litellm: Any = None
_import_lock = threading.Lock()


def prepare_environment() -> None:
    """Environment litellm must see before it is imported (offline cost map, no Hub downloads)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOG", "ERROR")


def _import_litellm() -> Any:
    global _litellm
    with _import_lock:
        if _litellm is None:
            prepare_environment()
            import litellm

            litellm.suppress_debug_info = True
            litellm.telemetry = False
            _litellm = litellm
    return _litellm


async def load_litellm() -> Any:
    """Import litellm once, off the event loop (the import blocks for seconds)."""
    if _litellm is not None:
        return _litellm
    return await asyncio.to_thread(_import_litellm)


def map_exception(e: BaseException, model: str) -> ProviderError:
    """A litellm / OpenAI SDK exception -> ProviderError with an HTTP-like status and retryability."""
    if isinstance(e, ProviderError):
        return e
    name = type(e).__name__
    status = getattr(e, "status_code", None)
    if not isinstance(status, int):
        status = None
    if name in ("Timeout", "APITimeoutError") or isinstance(e, (asyncio.TimeoutError, TimeoutError)):
        status = 408
    elif name == "RateLimitError":
        status = 429
    elif status is None and name in ("APIConnectionError", "ServiceUnavailableError", "InternalServerError"):
        status = 503 if name == "ServiceUnavailableError" else 500
    message = str(getattr(e, "message", None) or e) or name
    if "Missing credentials" in message or name == "AuthenticationError":
        # litellm reports a missing key as a 500; it is a configuration problem, never worth a retry
        status = 401
        provider = model.split("/", 1)[0] if "/" in model else "openai"
        message += (f" (set api_key_env under [providers.{provider}] in llmspell.toml, or :api_key() on the "
                    "builder)")
    retry_after = None
    response = getattr(e, "response", None)
    headers = getattr(response, "headers", None)
    if headers is not None:
        try:
            retry_after = headers.get("retry-after")
        except Exception:  # pragma: no cover - exotic header containers
            retry_after = None
    details: dict[str, Any] = {"model": model, "exception": name}
    if status is not None:
        details["status"] = status
    if retry_after is not None:
        details["retry_after"] = retry_after
    return ProviderError(
        f"litellm provider: {model}: {name}: {message}",
        status=status,
        retryable=is_retryable_status(status),
        details=details,
        cause=e if isinstance(e, Exception) else None,
    )


def _usage_of(u: Any, cost: float | None) -> Usage:
    if u is None:
        return Usage(cost_usd=cost)
    get = u.get if isinstance(u, dict) else lambda k, d=None: getattr(u, k, d)
    p = int(get("prompt_tokens", 0) or 0)
    c = int(get("completion_tokens", 0) or 0)
    t = int(get("total_tokens", 0) or (p + c))
    return Usage(prompt_tokens=p, completion_tokens=c, total_tokens=t, cost_usd=cost)


def _parse_args(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        v = json.loads(raw)
    except (ValueError, TypeError):
        return {"_raw": raw}
    return v if isinstance(v, dict) else {"value": v}


def _cost(resp: Any) -> float | None:
    hidden = getattr(resp, "_hidden_params", None) or {}
    cost = hidden.get("response_cost") if isinstance(hidden, dict) else None
    return float(cost) if isinstance(cost, (int, float)) else None


# providers that need no key (local servers): given a placeholder so litellm reads no variable
KEYLESS_PROVIDERS = frozenset({"ollama", "ollama_chat", "lm_studio", "llamafile", "hosted_vllm", "vllm",
                               "xinference", "triton", "local"})


class LiteLLMProvider:
    """Calls ``litellm.acompletion``; ``model`` is the full litellm model id."""

    name = "litellm"

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        extra: dict[str, Any] | None = None,
        local_backend: str | None = None,
    ):
        self.model = model
        self.local_backend = local_backend
        """The ``[local_llm]`` backend this provider talks to (its model id is then always ``model``, and
        an unreachable server is reported naming the backend and its base_url)."""
        self.api_base = api_base
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.extra = dict(extra or {})
        self.capabilities = ProviderCapabilities(
            supports_streaming=True, supports_tools=True, max_context_tokens=128_000, available_models=[model]
        )

    def _kwargs(self, req: CompletionRequest) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "model": self.model if self.local_backend else (req.model or self.model),
            "messages": [m.to_openai() for m in req.messages],
            # Measured against the fake server: ``num_retries=r`` alone gives exactly 1 + r attempts;
            # adding ``max_retries`` as well multiplies them, and leaving both out retries silently.
            "timeout": min(req.timeout_s, self.timeout_s) if req.timeout_s else self.timeout_s,
            "num_retries": self.max_retries if req.max_retries is None else max(0, req.max_retries),
            **self.extra,
        }
        if self.api_base:
            kw["api_base"] = self.api_base
        if self.api_key:
            kw["api_key"] = self.api_key
        else:
            # never let litellm fall back to reading <PROVIDER>_API_KEY from the environment: the key
            # would go to whatever endpoint this provider has, which may be one a spell chose
            provider = kw["model"].split("/", 1)[0] if "/" in kw["model"] else "openai"
            if provider not in KEYLESS_PROVIDERS:
                raise ProviderError(
                    f"no API key for {provider}"
                    + (f" at {self.api_base}" if self.api_base else "")
                    + f": set api_key_env under [providers.{provider}] in llmspell.toml (the key is sent only to "
                    "the configured base_url), or :api_key() on the agent builder",
                    status=401, retryable=False, details={"provider": provider})
            kw["api_key"] = "none"
        if req.temperature is not None:
            kw["temperature"] = req.temperature
        if req.max_tokens is not None:
            kw["max_tokens"] = req.max_tokens
        if req.tools:
            kw["tools"] = req.tools
            # litellm 1.106 imports the proxy's MCP handler whenever tools are passed (runtime-libs §3.3)
            kw["_skip_mcp_handler"] = True
        return kw

    def _map(self, e: BaseException, model: str) -> ProviderError:
        if self.local_backend and not isinstance(e, ProviderError):
            name = type(e).__name__
            text = str(e)
            if name in ("APIConnectionError", "ServiceUnavailableError", "ConnectError", "ConnectionError") or (
                    "Connection refused" in text or "ConnectError" in text or "All connection attempts" in text):
                from llmspell.providers.local import _connect_error

                return _connect_error(self.local_backend, self.api_base or "", e)
        return map_exception(e, model)

    async def complete(self, req: CompletionRequest) -> Completion:
        litellm = await load_litellm()
        try:
            resp = await litellm.acompletion(**self._kwargs(req))
        except Exception as e:
            raise self._map(e, req.model) from e
        choice = resp.choices[0]
        msg = choice.message
        calls = [
            ToolCall(id=tc.id or f"call_{i}", name=tc.function.name, arguments=_parse_args(tc.function.arguments))
            for i, tc in enumerate(getattr(msg, "tool_calls", None) or [])
        ]
        finish = choice.finish_reason or ("tool_calls" if calls else "stop")
        return Completion(
            text=msg.content or "",
            tool_calls=calls,
            finish_reason=finish,
            usage=_usage_of(getattr(resp, "usage", None), _cost(resp)),
            model=req.model,
            provider=self.name,
        )

    async def stream(self, req: CompletionRequest) -> AsyncIterator[StreamChunk]:
        litellm = await load_litellm()
        kw = self._kwargs(req)
        kw["stream"] = True
        kw["stream_options"] = {"include_usage": True}
        try:
            it = await litellm.acompletion(**kw)
        except Exception as e:
            raise self._map(e, req.model) from e
        usage: Usage | None = None
        finish: str | None = None
        calls: dict[int, dict[str, Any]] = {}
        try:
            async for chunk in it:
                u = getattr(chunk, "usage", None)
                if u is not None and (getattr(u, "total_tokens", 0) or 0) > 0:
                    usage = _usage_of(u, _cost(chunk))
                for choice in getattr(chunk, "choices", None) or []:
                    delta = choice.delta
                    if choice.finish_reason:
                        finish = choice.finish_reason
                    for tc in getattr(delta, "tool_calls", None) or []:
                        slot = calls.setdefault(tc.index or 0, {"id": None, "name": "", "args": ""})
                        if tc.id:
                            slot["id"] = tc.id
                        fn = tc.function
                        if fn is not None:
                            if fn.name:
                                slot["name"] = fn.name
                            if fn.arguments:
                                slot["args"] += fn.arguments
                    if delta.content:
                        yield StreamChunk(text=delta.content)
        except Exception as e:
            raise self._map(e, req.model) from e
        tool_calls = [
            ToolCall(id=s["id"] or f"call_{i}", name=s["name"], arguments=_parse_args(s["args"]))
            for i, s in sorted(calls.items())
        ]
        yield StreamChunk(
            tool_calls=tool_calls,
            finish_reason=finish or ("tool_calls" if tool_calls else "stop"),
            usage=usage or Usage(),
        )
