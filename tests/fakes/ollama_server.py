"""An Ollama-style server on 127.0.0.1 for integration tests (the native API, not the OpenAI one).

Endpoints: ``GET /api/version``, ``GET /api/tags``, ``POST /api/show``, ``POST /api/chat`` (JSON or
NDJSON streaming), ``POST /api/pull`` (JSON or NDJSON progress). The chat reply is
``server.reply`` followed by `` (<model>)``, so a test sees which model answered. Every request is
recorded in ``server.hits`` as ``(path, body)``. A model that is not in ``server.models`` gets
Ollama's 404 ``{"error": "model 'x' not found"}``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from aiohttp import web

LLAMA3: dict[str, Any] = {
    "name": "llama3:latest",
    "model": "llama3:latest",
    "modified_at": "2024-05-01T10:00:00.000000000Z",
    "size": 4661224676,
    "digest": "365c0bd3c000a25d28ddbf732fe1c6add414de7275464c4e4d1c3b5fcb5d8ad1",
    "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                "parameter_size": "8.0B", "quantization_level": "Q4_0"},
}

TINY: dict[str, Any] = {
    "name": "tinyllama:1.1b",
    "model": "tinyllama:1.1b",
    "modified_at": "2024-06-02T12:30:00Z",
    "size": 637700138,
    "digest": "2644915ede352ea7bdfaff0bfac0be74c719d5d5202acb63a6fb095b52f394a4",
    "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                "parameter_size": "1B", "quantization_level": "Q4_0"},
}


class FakeOllamaServer:
    def __init__(self, reply: str = "Hello from fake Ollama", models: list[dict[str, Any]] | None = None) -> None:
        self.reply = reply
        self.version = "0.5.7"
        self.models: list[dict[str, Any]] = [dict(m) for m in (models if models is not None else [LLAMA3, TINY])]
        self.hits: list[tuple[str, dict[str, Any]]] = []
        self.pullable: set[str] = {"phi3:mini"}
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [p for p, _ in self.hits]

    async def __aenter__(self) -> FakeOllamaServer:
        # The server runs on its own thread and loop, like a real Ollama in another process: litellm
        # makes one synchronous /api/show request from the caller's loop after a streamed answer (its
        # cost lookup), which would deadlock a server sharing that loop.
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="fake-ollama", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Ollama server did not start")
        return self

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def start() -> None:
            app = web.Application()
            app.router.add_get("/api/version", self._version)
            app.router.add_get("/api/tags", self._tags)
            app.router.add_post("/api/show", self._show)
            app.router.add_post("/api/chat", self._chat)
            app.router.add_post("/api/pull", self._pull)
            self._runner = web.AppRunner(app, shutdown_timeout=0.1)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        if self._runner is not None:
            loop.run_until_complete(self._runner.cleanup())
        loop.close()

    async def __aexit__(self, *exc: object) -> None:
        loop = getattr(self, "_loop", None)
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(self._thread.join, 10)

    # ------------------------------------------------------------------------------------ handlers

    def _find(self, name: str) -> dict[str, Any] | None:
        for m in self.models:
            if name in (m["name"], m["model"]) or m["name"] == f"{name}:latest":
                return m
        return None

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        self.hits.append((request.path, body if isinstance(body, dict) else {}))
        return body if isinstance(body, dict) else {}

    async def _version(self, request: web.Request) -> web.Response:
        self.hits.append((request.path, {}))
        return web.json_response({"version": self.version})

    async def _tags(self, request: web.Request) -> web.Response:
        self.hits.append((request.path, {}))
        return web.json_response({"models": self.models})

    async def _show(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        name = str(body.get("model") or body.get("name") or "")
        m = self._find(name)
        if m is None:
            return web.json_response({"error": f"model '{name}' not found"}, status=404)
        d = m["details"]
        return web.json_response({
            "modelfile": f"FROM {m['name']}", "parameters": "stop \"<|eot_id|>\"", "template": "{{ .Prompt }}",
            "details": d, "modified_at": m["modified_at"],
            "model_info": {"general.architecture": d["family"], "general.parameter_count": 8030261248
                           if d["parameter_size"] == "8.0B" else 1100048384,
                           f"{d['family']}.context_length": 8192},
            "capabilities": ["completion"],
        })

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        name = str(body.get("model") or "")
        if self._find(name) is None:
            return web.json_response({"error": f"model '{name}' not found, try pulling it first"}, status=404)
        text = f"{self.reply} ({name})"
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        final = {"model": name, "created_at": now, "message": {"role": "assistant", "content": ""},
                 "done": True, "done_reason": "stop", "total_duration": 1000, "prompt_eval_count": 7,
                 "eval_count": 5}
        if not body.get("stream", True):
            final["message"] = {"role": "assistant", "content": text}
            return web.json_response(final)
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        for word in text.split(" "):
            piece = word if word == text.split(" ")[0] else " " + word
            line = {"model": name, "created_at": now, "message": {"role": "assistant", "content": piece},
                    "done": False}
            await resp.write((json.dumps(line) + "\n").encode())
        await resp.write((json.dumps(final) + "\n").encode())
        await resp.write_eof()
        return resp

    async def _pull(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        name = str(body.get("model") or body.get("name") or "")
        if name not in self.pullable and self._find(name) is None:
            return web.json_response({"error": "pull model manifest: file does not exist"}, status=500)
        total = 2_000_000
        if self._find(name) is None:
            self.models.append({**TINY, "name": name, "model": name, "size": total})
        steps = [{"status": "pulling manifest"},
                 {"status": "downloading", "digest": "sha256:abc", "total": total, "completed": total // 2},
                 {"status": "downloading", "digest": "sha256:abc", "total": total, "completed": total},
                 {"status": "verifying sha256 digest"}, {"status": "success"}]
        if not body.get("stream", True):
            return web.json_response({"status": "success"})
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        for s in steps:
            await resp.write((json.dumps(s) + "\n").encode())
        await resp.write_eof()
        return resp
