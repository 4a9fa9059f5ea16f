"""``LocalLLM``: local model servers configured in ``[local_llm]`` (rs-llmspell
``llmspell-bridge/src/lua/globals/local_llm.rs``).

``status()`` reports every backend (``ollama`` and ``candle`` always, as rs-llmspell does, plus each
configured one); ``list``/``info``/``pull`` ask the configured servers over HTTP with explicit
timeouts. Chat with a local model is an ordinary agent: ``Agent.builder():model("ollama/llama3")``
or ``:model("local/llama3@ollama")``. Without a configured backend the errors say how to add one;
nothing is ever answered offline in a local model's name.
"""

from __future__ import annotations

import builtins
from typing import Any

from llmspell.api.decl import ApiGlobal, api_global, expose
from llmspell.core.errors import LLMSpellError, ProviderError, ValidationError


def _cfg(ctx: Any) -> Any:
    return ctx.runtime.config.local_llm


def _check_str(value: Any, what: str, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        from llmspell.api.globals.agent import script_type

        got = "an empty string" if isinstance(value, str) else script_type(value)
        raise ValidationError(f"{what}: expected a model name such as {example}, got {got}",
                              details={"expected": "string"})
    return value.strip()


@api_global("LocalLLM")
class LocalLLMGlobal(ApiGlobal):
    """Local model backends (Ollama, or an OpenAI-compatible server such as llama.cpp, vLLM or LM Studio)
    configured under ``[local_llm.backends.<name>]`` in llmspell.toml. Chat through an agent:
    ``Agent.builder():model("ollama/llama3"):build()`` or ``:model("local/llama3@ollama")``."""

    @expose
    async def status(self) -> dict[str, Any]:
        """Health of each local backend (at most 5 s per backend).

        Returns:
            ``{ollama = {running, models = <count>, configured, version?, base_url?, reason?, error?},
            candle = {ready = false, models = 0, configured = false, reason}, <other backend> = {running,
            models, configured, base_url, kind, reason?, error?}}``. Not running: ``reason`` says why; a
            configured backend that does not answer also has the failure in ``error`` (a backend that is
            simply not configured is not an error).
        """
        from llmspell.providers.local import HOW_TO_CONFIGURE, KNOWN_BACKENDS, STATUS_TIMEOUT_S

        cfg = _cfg(self.ctx)
        out: dict[str, Any] = {}
        for name in dict.fromkeys([*KNOWN_BACKENDS, *cfg.backends]):
            key = "ready" if name == "candle" else "running"
            b = cfg.backends.get(name)
            if b is None:
                why = (f"Not configured: candle (in-process GGUF models) is not supported by llmspell-ls; "
                       f"use Ollama or an OpenAI-compatible server: {HOW_TO_CONFIGURE}") if name == "candle" \
                    else f"Not configured: {HOW_TO_CONFIGURE}"
                out[name] = {key: False, "models": 0, "configured": False, "reason": why}
                continue
            kind = b.kind_for(name)
            entry: dict[str, Any] = {key: False, "models": 0, "configured": True, "base_url": b.base_url,
                                     "kind": kind}
            timeout = min(STATUS_TIMEOUT_S, float(b.timeout_s or cfg.timeout_s))
            try:
                rows = await self._models_of(name, timeout)
                entry[key] = True
                entry["models"] = len(rows)
                entry["model_ids"] = [r["id"] for r in rows]
                if kind == "ollama":
                    from llmspell.providers.local import request

                    try:
                        v = await request(name, b.base_url, "GET", "/api/version", timeout_s=timeout)
                        if isinstance(v, dict) and v.get("version"):
                            entry["version"] = str(v["version"])
                    except LLMSpellError:
                        pass  # old servers have no /api/version; the model list already answered
            except LLMSpellError as e:
                entry["error"] = entry["reason"] = e.message
            out[name] = entry
        return out

    @expose
    async def list(self, backend: str | None = None) -> builtins.list[dict[str, Any]]:
        """Models available on the configured backends.

        Args:
            backend: one backend's name (``ollama`` ...); nil or ``"all"`` for every configured backend.

        Returns:
            ``{{id, backend, size_bytes, quantization?, modified_at? (epoch seconds), format?, family?,
            parameter_size?}, ...}``; an empty list when no backend is configured at all (``status()``
            says why). A named backend that is not configured, or a backend that does not answer, is an
            error.
        """
        cfg = _cfg(self.ctx)
        if backend is not None and not isinstance(backend, str):
            from llmspell.api.globals.agent import script_type

            raise ValidationError(f"LocalLLM.list: backend: expected a backend name or nil, got {script_type(backend)}")
        if backend in (None, "all"):
            names = builtins.list(cfg.backends)
        else:
            if backend not in cfg.backends:
                from llmspell.providers.local import no_backend_error

                raise no_backend_error(f"LocalLLM.list({backend!r})", backend)
            names = [backend]
        rows: builtins.list[dict[str, Any]] = []
        for name in names:
            b = cfg.backends[name]
            rows.extend(await self._models_of(name, float(b.timeout_s or cfg.timeout_s)))
        return rows

    @expose
    async def info(self, model_id: str) -> dict[str, Any]:
        """Details of one local model.

        Args:
            model_id: the model (``llama3``, ``llama3.1:8b@ollama``; ``@backend`` picks the backend).

        Returns:
            ``{id, backend, format, size_bytes, loaded, parameter_count?, quantization?, context_length?,
            architecture?, family?, modified_at?}``.
        """
        from llmspell.providers.local import no_backend_error, split_spec

        spec = _check_str(model_id, "LocalLLM.info: model_id", '"llama3" or "llama3.1:8b@ollama"')
        cfg = _cfg(self.ctx)
        name, backend = split_spec(spec)
        if backend is not None and backend not in cfg.backends:
            raise no_backend_error(f"LocalLLM.info({spec!r})", backend)
        names = [backend] if backend else builtins.list(cfg.backends)
        if not names:
            raise no_backend_error(f"LocalLLM.info({spec!r})")
        tried: builtins.list[str] = []
        for b in names:
            found = await self._info_on(b, name)
            if found is not None:
                return found
            tried.append(b)
        raise ProviderError(f"LocalLLM.info: model {name!r} not found in any backend (asked: {', '.join(tried)}); "
                            "LocalLLM.list() shows the models there", status=404, details={"model": name})

    @expose
    async def pull(self, spec: str) -> dict[str, Any]:
        """Download a model through the backend's pull API (Ollama's ``/api/pull``).

        Args:
            spec: ``model[@backend]``, e.g. ``"llama3.1:8b@ollama"`` (the backend defaults to ``ollama``).

        Returns:
            ``{model_id, status = "complete"|"failed", percent_complete, bytes_downloaded, bytes_total?,
            error?}``.
        """
        from llmspell.providers.local import no_backend_error, request, split_spec

        text = _check_str(spec, "LocalLLM.pull: spec", '"llama3.1:8b@ollama"')
        cfg = _cfg(self.ctx)
        name, backend = split_spec(text)
        backend = backend or "ollama"
        if backend not in cfg.backends:
            raise no_backend_error(f"LocalLLM.pull({text!r})", backend)
        b = cfg.backends[backend]
        if b.kind_for(backend) != "ollama":
            raise ProviderError(f"LocalLLM.pull: backend {backend} is an OpenAI-compatible server, which has no pull "
                                "API: download the model with the server's own tool (llama.cpp: a GGUF file; "
                                "vLLM: --model; LM Studio: its model browser)", details={"backend": backend})
        timeout = max(float(b.timeout_s or cfg.timeout_s), 600.0)
        lines = await request(backend, b.base_url, "POST", "/api/pull", body={"model": name, "stream": True},
                              timeout_s=timeout, stream_lines=True)
        done = 0
        total: int | None = None
        error: str | None = None
        complete = False
        for ln in lines if isinstance(lines, builtins.list) else []:
            if not isinstance(ln, dict):
                continue
            if ln.get("error"):
                error = str(ln["error"])
            if isinstance(ln.get("total"), int):
                total = int(ln["total"])
            if isinstance(ln.get("completed"), int):
                done = max(done, int(ln["completed"]))
            if ln.get("status") == "success":
                complete = True
        result: dict[str, Any] = {
            "model_id": name, "backend": backend, "status": "complete" if complete and not error else "failed",
            "bytes_downloaded": done,
            "percent_complete": 100.0 if complete and not error else (round(100.0 * done / total, 1) if total else 0.0),
        }
        if total is not None:
            result["bytes_total"] = total
        if error or not complete:
            result["error"] = error or "the server ended the pull without reporting success"
        return result

    # ------------------------------------------------------------------------------------ helpers

    async def _models_of(self, name: str, timeout: float) -> builtins.list[dict[str, Any]]:
        from llmspell.providers.local import ollama_model, openai_model, request

        b = _cfg(self.ctx).backends[name]
        if b.kind_for(name) == "ollama":
            data = await request(name, b.base_url, "GET", "/api/tags", timeout_s=timeout)
            models = data.get("models") if isinstance(data, dict) else None
            return [ollama_model(m, name) for m in models or [] if isinstance(m, dict)]
        data = await request(name, b.base_url, "GET", "/models", timeout_s=timeout)
        items = data.get("data") if isinstance(data, dict) else None
        return [openai_model(m, name) for m in items or [] if isinstance(m, dict)]

    async def _info_on(self, name: str, model: str) -> dict[str, Any] | None:
        from llmspell.providers.local import _param_count, request

        cfg = _cfg(self.ctx)
        b = cfg.backends[name]
        timeout = float(b.timeout_s or cfg.timeout_s)
        rows = await self._models_of(name, timeout)
        row = next((r for r in rows if r["id"] in (model, f"{model}:latest")), None)
        if b.kind_for(name) != "ollama":
            if row is None:
                return None
            return {**row, "format": "unknown", "loaded": True}
        try:
            show = await request(name, b.base_url, "POST", "/api/show", body={"model": model}, timeout_s=timeout)
        except ProviderError as e:
            if getattr(e, "status", None) == 404:
                return None
            raise
        if not isinstance(show, dict):
            return None
        d = show.get("details") or {}
        mi = show.get("model_info") or {}
        arch = mi.get("general.architecture") or d.get("family")
        info: dict[str, Any] = {
            "id": row["id"] if row else model, "backend": name, "format": str(d.get("format") or "unknown"),
            "size_bytes": int(row["size_bytes"]) if row else 0, "loaded": False,
        }
        pc = _param_count(mi.get("general.parameter_count")) or _param_count(d.get("parameter_size"))
        if pc:
            info["parameter_count"] = pc
        if d.get("quantization_level"):
            info["quantization"] = str(d["quantization_level"])
        if arch:
            info["architecture"] = str(arch)
            ctx_len = mi.get(f"{arch}.context_length")
            if isinstance(ctx_len, int):
                info["context_length"] = ctx_len
        if d.get("family"):
            info["family"] = str(d["family"])
        if row and "modified_at" in row:
            info["modified_at"] = row["modified_at"]
        return info
