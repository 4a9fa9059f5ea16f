"""Record a run against a real model, replay it offline and deterministically.

The recording is a JSON Lines file; each line is one call::

    {"fingerprint": "...", "kind": "complete"|"stream"|"error", "model": "...", "last_user": "...",
     "completion": {...} | "chunks": [...] | "error": {"message", "status", "retryable"}}

``fingerprint`` hashes everything that determines the answer (model, messages, tools, temperature,
max_tokens, streaming), so replay answers exactly the requests the recorded run made. Several
identical requests are answered in recorded order (a provider that failed then recovered replays
the same way).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from llmspell.core.errors import ProviderError
from llmspell.providers.base import (
    Completion,
    CompletionRequest,
    LLMProvider,
    ProviderCapabilities,
    StreamChunk,
)


class RecordingProvider:
    """Wraps a provider and appends every call (including failures) to ``path``."""

    def __init__(self, inner: LLMProvider, path: str | Path):
        self.inner = inner
        self.path = Path(path)
        self.name = inner.name
        self.capabilities = inner.capabilities
        self._lock = threading.Lock()

    def _write(self, req: CompletionRequest, kind: str, **payload: Any) -> None:
        line = {
            "fingerprint": req.fingerprint(),
            "kind": kind,
            "model": req.model,
            "last_user": req.last_user_text()[:200],
            **payload,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(line, ensure_ascii=False, default=str) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(text)

    def _write_error(self, req: CompletionRequest, e: ProviderError, kind: str) -> None:
        self._write(req, "error", stream=kind == "stream",
                    error={"message": e.message, "status": e.status, "retryable": e.retryable})

    async def complete(self, req: CompletionRequest) -> Completion:
        try:
            comp = await self.inner.complete(req)
        except ProviderError as e:
            self._write_error(req, e, "complete")
            raise
        self._write(req, "complete", completion=comp.model_dump(mode="json"))
        return comp

    async def stream(self, req: CompletionRequest) -> AsyncIterator[StreamChunk]:
        chunks: list[StreamChunk] = []
        try:
            async for c in self.inner.stream(req):
                chunks.append(c)
                yield c
        except ProviderError as e:
            self._write_error(req, e, "stream")
            raise
        self._write(req, "stream", chunks=[c.model_dump(mode="json") for c in chunks])


class ReplayMissError(ProviderError):
    """The request was not in the recording (the spell or its inputs changed since it was recorded)."""


class ReplayProvider:
    """Answers from a recording made by :class:`RecordingProvider`; never touches the network."""

    name = "replay"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.capabilities = ProviderCapabilities()
        self._entries: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        self._last: dict[str, dict[str, Any]] = {}
        if not self.path.is_file():
            raise ProviderError(f"replay file not found: {self.path} (record one with record_path first)")
        for n, raw in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
            except ValueError as e:
                raise ProviderError(f"{self.path}:{n}: invalid JSON in recording: {e}") from e
            self._entries[entry["fingerprint"]].append(entry)

    def _next(self, req: CompletionRequest) -> dict[str, Any]:
        fp = req.fingerprint()
        q = self._entries.get(fp)
        if q:
            entry = q.popleft()
            self._last[fp] = entry
            return entry
        if fp in self._last:  # asked more often than recorded: repeat the last answer
            return self._last[fp]
        raise ReplayMissError(
            f"request not found in recording {self.path}: model={req.model!r}, "
            f"last user message={req.last_user_text()[:80]!r} (fingerprint {fp}); "
            "the spell or its inputs changed since recording - record again with record_path",
            details={"fingerprint": fp, "file": str(self.path)},
        )

    @staticmethod
    def _raise(entry: dict[str, Any]) -> None:
        err = entry["error"]
        raise ProviderError(err["message"], status=err.get("status"), retryable=bool(err.get("retryable")))

    async def complete(self, req: CompletionRequest) -> Completion:
        entry = self._next(req)
        if entry["kind"] == "error":
            self._raise(entry)
        if entry["kind"] == "stream":  # recorded as a stream, asked as a completion: join it
            chunks = [StreamChunk.model_validate(c) for c in entry["chunks"]]
            last = chunks[-1] if chunks else StreamChunk()
            return Completion(text="".join(c.text for c in chunks), tool_calls=last.tool_calls,
                              finish_reason=last.finish_reason or "stop", usage=last.usage or Completion().usage,
                              model=req.model, provider=self.name)
        comp = Completion.model_validate(entry["completion"])
        return comp.model_copy(update={"provider": self.name})

    async def stream(self, req: CompletionRequest) -> AsyncIterator[StreamChunk]:
        entry = self._next(req)
        if entry["kind"] == "error":
            self._raise(entry)
        if entry["kind"] == "complete":
            comp = Completion.model_validate(entry["completion"])
            if comp.text:
                yield StreamChunk(text=comp.text)
            yield StreamChunk(tool_calls=comp.tool_calls, finish_reason=comp.finish_reason, usage=comp.usage)
            return
        for c in entry["chunks"]:
            yield StreamChunk.model_validate(c)
