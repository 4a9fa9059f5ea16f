"""An OpenAI-compatible chat-completions server on 127.0.0.1 for integration tests.

The scenario is chosen by the model name (the part after ``openai/``), so one server serves every
test:

* anything else   -> a plain reply (``server.reply``), SSE streaming with a usage chunk when asked;
* ``err500``      -> HTTP 500;  ``err429`` -> HTTP 429 with ``Retry-After: server.retry_after``;
* ``hang``        -> never answers (until the client times out);
* ``tools``       -> when tools are offered and the last message is the user's, a tool call to the
                     first offered tool with ``server.tool_arguments[name]`` (default ``{}``);
                     after a tool result, ``"Tool said: <content>"``;
* ``server.fail_next(model, 503, 503)`` queues failures for a model before it answers normally.

``GET /v1/models`` lists ``server.model_ids`` (as llama.cpp, vLLM and LM Studio do).

Every request is recorded in ``server.hits`` as ``(model, body)``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict, deque
from typing import Any

from aiohttp import web


class FakeOpenAIServer:
    def __init__(self, reply: str = "Hello from the fake server") -> None:
        self.reply = reply
        self.retry_after = "0"
        self.tool_arguments: dict[str, dict[str, Any]] = {}
        self.hits: list[tuple[str, dict[str, Any]]] = []
        self.auth: list[str | None] = []
        self.model_ids: list[str] = ["qwen2.5-0.5b-instruct"]
        """What ``GET /v1/models`` lists."""
        """The Authorization header of every request, in order."""
        self._fail: dict[str, deque[int]] = defaultdict(deque)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---------------------------------------------------------------------------------- control

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail_next(self, model: str, *statuses: int) -> None:
        self._fail[model].extend(statuses)

    def hits_for(self, model: str) -> int:
        return sum(1 for m, _ in self.hits if m == model)

    async def __aenter__(self) -> FakeOpenAIServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ---------------------------------------------------------------------------------- handler

    async def _models(self, request: web.Request) -> web.Response:
        """``GET /v1/models`` (llama.cpp / vLLM / LM Studio list their models here)."""
        self.hits.append(("GET /v1/models", {}))
        return web.json_response({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1714000000, "owned_by": "local"} for m in self.model_ids]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = str(body.get("model", ""))
        self.hits.append((model, body))
        self.auth.append(request.headers.get("Authorization"))
        if self._fail[model]:
            status = self._fail[model].popleft()
            return self._error(status)
        if model.startswith("err500"):
            return self._error(500)
        if model.startswith("err429"):
            return self._error(429)
        if model.startswith("hang"):
            await asyncio.sleep(3600)
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        tools = body.get("tools") or []
        tool_call: dict[str, Any] | None = None
        text = self.reply
        if model.startswith("tools") and tools and last.get("role") == "user":
            name = tools[0]["function"]["name"]
            tool_call = {
                "id": f"call_{len(self.hits)}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(self.tool_arguments.get(name, {}))},
            }
            text = ""
        elif last.get("role") == "tool":
            text = f"Tool said: {last.get('content')}"
        usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": text or None}
            if tool_call:
                message["tool_calls"] = [tool_call]
            return web.json_response({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "message": message,
                             "finish_reason": "tool_calls" if tool_call else "stop"}],
                "usage": usage,
            })
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return ("data: " + json.dumps({
                "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }) + "\n\n").encode()

        if tool_call:
            await resp.write(chunk({"role": "assistant", "tool_calls": [{"index": 0, **tool_call}]}))
            await resp.write(chunk({}, "tool_calls"))
        else:
            for i, w in enumerate(text.split(" ")):
                await resp.write(chunk({"content": w if i == 0 else " " + w}))
            await resp.write(chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            await resp.write(("data: " + json.dumps({
                "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
            }) + "\n\n").encode())
        await resp.write(b"data: [DONE]\n\n")
        return resp

    def _error(self, status: int) -> web.Response:
        headers = {"Retry-After": self.retry_after} if status == 429 else {}
        return web.json_response(
            {"error": {"message": f"fake server error {status}", "type": "server_error", "code": status}},
            status=status, headers=headers,
        )
