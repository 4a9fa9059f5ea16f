"""Local HTTP, webhook and SMTP servers for the tool tests (127.0.0.1 only, random ports).

``FakeHttpServer`` records every request and answers from routes the test registers (static
bodies, JSON, handlers, or a sequence of statuses for retry tests). ``FakeSmtpServer`` is a real
SMTP server (aiosmtpd) that keeps the messages it accepts.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class FakeHttpServer:
    """An aiohttp server on 127.0.0.1 whose answers the test decides."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._routes: dict[tuple[str, str], Handler] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- routes ---------------------------------------------------------------------------------

    def route(self, method: str, path: str, handler: Handler) -> None:
        self._routes[(method.upper(), path)] = handler

    def text(self, path: str, body: str | bytes, *, content_type: str = "text/plain", status: int = 200,
             method: str = "*", headers: dict[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body

        async def h(_: web.Request) -> web.StreamResponse:
            return web.Response(body=data, status=status, content_type=content_type, headers=headers)

        self.route(method, path, h)

    def html(self, path: str, body: str, **kw: Any) -> None:
        self.text(path, body, content_type="text/html", **kw)

    def json(self, path: str, data: Any, *, status: int = 200, method: str = "*",
             headers: dict[str, str] | None = None) -> None:
        self.text(path, json.dumps(data), content_type="application/json", status=status, method=method,
                  headers=headers)

    def statuses(self, path: str, statuses: list[int], final: Any = None, method: str = "*") -> None:
        """Answer with each status in turn (the last one repeats); bodies are ``{"attempt": n}``."""
        calls = {"n": 0}

        async def h(_: web.Request) -> web.StreamResponse:
            i = min(calls["n"], len(statuses) - 1)
            calls["n"] += 1
            body = final if (final is not None and i == len(statuses) - 1) else {"attempt": calls["n"]}
            return web.json_response(body, status=statuses[i])

        self.route(method, path, h)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        async def h(_: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(location) if status == 302 else web.HTTPMovedPermanently(location)

        self.route("*", path, h)

    def slow(self, path: str, delay_s: float, body: str = "late") -> None:
        async def h(_: web.Request) -> web.StreamResponse:
            await asyncio.sleep(delay_s)
            return web.Response(text=body)

        self.route("*", path, h)

    def echo(self, path: str = "/echo") -> None:
        """Answer with what was received: method, headers, query, body (JSON when it parses)."""

        async def h(req: web.Request) -> web.StreamResponse:
            raw = await req.read()
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            return web.json_response({"method": req.method, "headers": dict(req.headers), "query": dict(req.query),
                                      "body": body, "path": req.path})

        self.route("*", path, h)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    async def _dispatch(self, req: web.Request) -> web.StreamResponse:
        body = await req.read()
        self.requests.append(RecordedRequest(req.method, req.path, dict(req.query), dict(req.headers), body))
        h = self._routes.get((req.method, req.path)) or self._routes.get(("*", req.path))
        if h is None:
            return web.Response(status=404, text=f"no route for {req.method} {req.path}")
        return await h(req)

    async def start(self) -> FakeHttpServer:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined,union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


# ----------------------------------------------------------------------------------- SMTP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: Message = field(init=False)

    def __post_init__(self) -> None:
        self.message = message_from_bytes(self.data)


class _Handler:
    def __init__(self, box: list[ReceivedMail]) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.box.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                     or envelope.content))
        return "250 Message accepted for delivery"


class FakeSmtpServer:
    """aiosmtpd on 127.0.0.1 (its own thread); ``messages`` holds what it accepted."""

    def __init__(self, *, auth: tuple[str, str] | None = None) -> None:
        self.messages: list[ReceivedMail] = []
        self.port = free_port()
        self.auth = auth
        self._controller: Any = None

    def start(self) -> FakeSmtpServer:
        from aiosmtpd.controller import Controller

        kw: dict[str, Any] = {}
        if self.auth is not None:
            user, pw = self.auth

            def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
                from aiosmtpd.smtp import AuthResult, LoginPassword

                ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == pw
                return AuthResult(success=ok, handled=False)

            kw = {"authenticator": authenticator, "auth_require_tls": False}
        self._controller = Controller(_Handler(self.messages), hostname="127.0.0.1", port=self.port, **kw)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
