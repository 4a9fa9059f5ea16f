"""AI tools through the configured LLM provider: sentiment-analyzer, text-translator,
image-describer and speech-transcriber.

Text tasks go through the runtime's provider registry (the same path as agents: scripted offline,
litellm online, record/replay). Image and speech tasks need multimodal and audio endpoints, which
the chat abstraction does not carry, so they call the provider's OpenAI-compatible HTTP API
(``/chat/completions`` with an image part, ``/audio/transcriptions``) at the base URL and key the
configuration gives that provider (``[providers.openai] base_url``, ``api_key_env``), e.g. OpenAI,
a local vLLM/Ollama gateway or a test server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import mimetypes
import re
from typing import Any, Literal

from pydantic import Field

from llmspell.core.errors import ToolError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import _ssl_context, check_path, llm_complete, read_file

DEFAULT_BASE_URLS = {"openai": "https://api.openai.com/v1", "groq": "https://api.groq.com/openai/v1",
                     "together": "https://api.together.xyz/v1", "mistral": "https://api.mistral.ai/v1"}


def provider_endpoint(ctx: ToolContext, model: str | None, default_model: str) -> tuple[str, str, str | None, float]:
    """(base_url, bare model name, api key, timeout) for an OpenAI-compatible call to ``model``'s provider."""
    cfg = getattr(ctx.runtime, "config", None)
    model_id = model or default_model
    provider, name = model_id.split("/", 1) if "/" in model_id else ("openai", model_id)
    settings = (getattr(cfg, "providers", None) or {}).get(provider)
    base = getattr(settings, "base_url", None) or DEFAULT_BASE_URLS.get(provider)
    if not base:
        raise ToolError(f"{ctx.tool_name}: provider '{provider}' has no base_url; set [providers.{provider}] "
                        "base_url in llmspell.toml (an OpenAI-compatible endpoint)")
    from llmspell.security.secrets import provider_key_env, vault_of

    # the configured key, from the runtime's vault, and only to this configured (or default) endpoint
    key_env = provider_key_env(cfg, provider) if cfg is not None else None
    key = vault_of(ctx.runtime).get(key_env) if key_env else None
    return base.rstrip("/"), name, key, float(getattr(settings, "timeout_s", 60.0))


async def provider_post(ctx: ToolContext, model: str | None, default_model: str, path: str, *,
                        json_body: Any = None, files: Any = None, data: Any = None) -> Any:
    """POST to the configured provider (trusted configuration, so not subject to the spell network policy)."""
    import httpx

    base, name, key, timeout = provider_endpoint(ctx, model, default_model)
    if json_body is not None:
        json_body = {**json_body, "model": name}
    if data is not None:
        data = {**data, "model": name}
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False, verify=_ssl_context()) as client:
            resp = await client.post(f"{base}{path}", json=json_body, files=files, data=data, headers=headers)
    except httpx.HTTPError as e:
        raise ToolError(f"{ctx.tool_name}: provider request to {base}{path} failed: {e}") from e
    if resp.status_code >= 400:
        raise ToolError(f"{ctx.tool_name}: provider answered HTTP {resp.status_code}: {resp.text[:300]}",
                        details={"status": resp.status_code})
    try:
        return resp.json()
    except ValueError as e:
        raise ToolError(f"{ctx.tool_name}: provider did not return JSON") from e


def extract_json(text: str) -> Any:
    """The first JSON object in a model's reply (models wrap JSON in prose or code fences)."""
    m = re.search(r"\{.*\}", text, re.DOTALL)
    if not m:
        return None
    try:
        return json.loads(m.group(0))
    except ValueError:
        return None


class SentimentAnalyzerTool(BuiltinTool):
    name = "sentiment-analyzer"
    description = "Classify the sentiment of text (positive/negative/neutral/mixed) with the configured LLM"
    category = "ai"
    tags = ("sentiment", "nlp", "llm", "classification")

    class Params(ToolParams):
        input: str | list[str] = Field(description="Text (or a list of texts) to analyse")
        model: str | None = Field(None, description="Model id (default: the runtime's default model)")

    SYSTEM = ("You are a sentiment classifier. Answer with one JSON object only: "
              '{"sentiment": "positive"|"negative"|"neutral"|"mixed", "score": number from -1 to 1, '
              '"confidence": number from 0 to 1, "explanation": short string}.')

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        texts = [params.input] if isinstance(params.input, str) else params.input
        results = []
        model_used = None
        for t in texts:
            reply, model_used = await llm_complete(ctx, f"Text:\n{t}", system=self.SYSTEM, model=params.model)
            d = extract_json(reply)
            if not isinstance(d, dict) or d.get("sentiment") not in ("positive", "negative", "neutral", "mixed"):
                raise ToolError(f"sentiment-analyzer: the model's reply is not the expected JSON "
                                f"({{sentiment, score, confidence}}): {reply[:200]!r}")
            results.append({"text": t, "sentiment": d["sentiment"], "score": _num(d.get("score")),
                            "confidence": _num(d.get("confidence")), "explanation": d.get("explanation")})
        if isinstance(params.input, str):
            return {**results[0], "model": model_used}
        return {"results": results, "count": len(results), "model": model_used}


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


class TextTranslatorTool(BuiltinTool):
    name = "text-translator"
    description = "Translate text between languages with the configured LLM"
    category = "ai"
    tags = ("translate", "translation", "language", "llm")

    class Params(ToolParams):
        input: str = Field(description="Text to translate", min_length=1)
        target_language: str = Field(description="e.g. 'French' or 'fr'")
        source_language: str | None = Field(None, description="Default: detected")
        model: str | None = None
        preserve_formatting: bool = True

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        system = ("You are a translator. Translate the user's text into "
                  f"{params.target_language}" + (f" from {params.source_language}" if params.source_language else "")
                  + ". Answer with one JSON object only: {\"translation\": string, \"source_language\": string}."
                  + (" Keep line breaks and markup." if params.preserve_formatting else ""))
        reply, model_used = await llm_complete(ctx, params.input, system=system, model=params.model)
        d = extract_json(reply)
        if not isinstance(d, dict) or not isinstance(d.get("translation"), str):
            raise ToolError(f"text-translator: the model's reply is not the expected JSON ({{translation}}): "
                            f"{reply[:200]!r}")
        return {"translation": d["translation"], "source_language": d.get("source_language") or params.source_language,
                "target_language": params.target_language, "model": model_used}


class ImageDescriberTool(BuiltinTool):
    name = "image-describer"
    description = "Describe or answer questions about an image with the configured multimodal model"
    category = "ai"
    tags = ("image", "vision", "caption", "multimodal", "llm")

    class Params(ToolParams):
        file_path: str = Field(description="The image file")
        prompt: str = Field("Describe this image.", description="What to ask about the image")
        model: str | None = Field(None, description="Default: openai/gpt-4o-mini")
        max_tokens: int = Field(300, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        path = check_path(ctx, params.file_path)
        mime = mimetypes.guess_type(path.name)[0] or "image/png"
        if not mime.startswith("image/"):
            raise ToolError(f"image-describer: {path.name} is not an image ({mime})")
        raw = await asyncio.to_thread(read_file, ctx, params.file_path)
        data_url = f"data:{mime};base64,{base64.b64encode(raw).decode()}"
        body = {"max_tokens": params.max_tokens, "messages": [{"role": "user", "content": [
            {"type": "text", "text": params.prompt}, {"type": "image_url", "image_url": {"url": data_url}}]}]}
        d = await provider_post(ctx, params.model, "openai/gpt-4o-mini", "/chat/completions", json_body=body)
        try:
            text = d["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as e:
            raise ToolError("image-describer: unexpected provider response (no choices[0].message.content)") from e
        return {"description": text, "model": d.get("model") or params.model, "file": str(path)}


class SpeechTranscriberTool(BuiltinTool):
    name = "speech-transcriber"
    description = "Transcribe speech in an audio file with the configured provider (Whisper-compatible API)"
    category = "ai"
    tags = ("speech", "transcription", "audio", "whisper")

    class Params(ToolParams):
        file_path: str = Field(description="The audio file (wav, mp3, m4a, ...)")
        model: str | None = Field(None, description="Default: openai/whisper-1")
        language: str | None = Field(None, description="ISO-639-1 hint, e.g. 'en'")
        prompt: str | None = None
        response_format: Literal["json", "verbose_json"] = "json"

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        path = check_path(ctx, params.file_path)
        audio = await asyncio.to_thread(read_file, ctx, params.file_path)
        form: dict[str, Any] = {"response_format": params.response_format}
        if params.language:
            form["language"] = params.language
        if params.prompt:
            form["prompt"] = params.prompt
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        files = {"file": (path.name, audio, mime)}
        d = await provider_post(ctx, params.model, "openai/whisper-1", "/audio/transcriptions", files=files, data=form)
        if not isinstance(d, dict) or "text" not in d:
            raise ToolError("speech-transcriber: unexpected provider response (no 'text')")
        return {"text": d["text"], "language": d.get("language") or params.language,
                "duration_seconds": d.get("duration"), "file": str(path)}


TOOLS = [SentimentAnalyzerTool, TextTranslatorTool, ImageDescriberTool, SpeechTranscriberTool]
