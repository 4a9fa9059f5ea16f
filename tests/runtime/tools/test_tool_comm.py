"""Communication tools: email over a real SMTP server on 127.0.0.1 (aiosmtpd), Slack, Discord,
Telegram, SMS and SendGrid against a local HTTP server standing in for their APIs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from tool_helpers import call, result

from fakes.servers import FakeHttpServer, FakeSmtpServer
from llmspell.core.errors import SecurityViolationError, ToolError


async def test_email_plain_with_cc_bcc(rt: Any, smtp: FakeSmtpServer) -> None:
    r = await result(rt, "email-sender", {"to": "ada@example.com", "subject": "Report", "body": "All done.",
                                          "from": "bot@example.com", "cc": ["cc@example.com"],
                                          "bcc": ["hidden@example.com"], "smtp_host": "127.0.0.1",
                                          "smtp_port": smtp.port, "security": "none"})
    assert r["accepted"] == ["ada@example.com", "cc@example.com", "hidden@example.com"] and r["refused"] == {}
    for _ in range(50):
        if smtp.messages:
            break
        await asyncio.sleep(0.02)
    mail = smtp.messages[0]
    assert mail.mail_from == "bot@example.com"
    assert sorted(mail.rcpt_tos) == ["ada@example.com", "cc@example.com", "hidden@example.com"]
    assert mail.message["Subject"] == "Report" and mail.message["Cc"] == "cc@example.com"
    assert "Bcc" not in mail.message and mail.message.get_payload().strip() == "All done."
    assert mail.message["Message-ID"] == r["message_id"]


async def test_email_html_and_auth(runtime_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeSmtpServer(auth=("user", "pw")).start()
    try:
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(server.port))
        monkeypatch.setenv("SMTP_PASSWORD", "pw")
        # tool settings are copied into the runtime's secret vault when it is built
        rt = runtime_factory(allow_private_network=True)
        r = await result(rt, "email-sender", {"to": ["a@example.com"], "subject": "Hi", "body": "<b>bold</b>",
                                              "html": True, "from": "me@example.com", "username": "user",
                                              "security": "none"})
        assert r["accepted"] == ["a@example.com"]
        for _ in range(50):
            if server.messages:
                break
            await asyncio.sleep(0.02)
        msg = server.messages[0].message
        assert msg.is_multipart() and any(p.get_content_type() == "text/html" for p in msg.walk())
        monkeypatch.setenv("SMTP_PASSWORD", "wrong")
        rt = runtime_factory(allow_private_network=True)
        with pytest.raises(ToolError, match="SMTP delivery"):
            await call(rt, "email-sender", {"to": "a@example.com", "subject": "x", "body": "y",
                                            "from": "me@example.com", "username": "user", "security": "none"})
    finally:
        server.stop()


async def test_email_to_private_smtp_refused_by_default(closed_rt: Any, smtp: FakeSmtpServer) -> None:
    with pytest.raises(SecurityViolationError):
        await call(closed_rt, "email-sender", {"to": "a@example.com", "subject": "s", "body": "b",
                                               "from": "me@example.com", "smtp_host": "127.0.0.1",
                                               "smtp_port": smtp.port})
    assert smtp.messages == []


async def test_email_validation(rt: Any) -> None:
    with pytest.raises(ToolError, match="invalid address"):
        await call(rt, "email-sender", {"to": "nobody", "subject": "s", "body": "b", "from": "me@example.com"})
    with pytest.raises(ToolError, match="ses"):
        await call(rt, "email-sender", {"to": "a@b.c", "subject": "s", "body": "b", "provider": "ses"})


async def test_email_sendgrid(runtime_factory: Any, http: FakeHttpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    http.text("/v3/mail/send", "", status=202, headers={"X-Message-Id": "sg-1"})
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.key")
    monkeypatch.setenv("SENDGRID_BASE_URL", http.base_url)  # the operator's endpoint, not the spell's
    rt = runtime_factory(allow_private_network=True)  # the vault copies them when the runtime is built
    r = await result(rt, "email-sender", {"to": "a@example.com", "subject": "S", "body": "B", "from": "me@example.com",
                                          "provider": "sendgrid"})
    assert r["status_code"] == 202 and r["message_id"] == "sg-1"
    req = http.requests_to("/v3/mail/send")[0]
    assert req.headers["Authorization"] == "Bearer SG.key"
    assert req.json()["personalizations"][0]["to"] == [{"email": "a@example.com"}]


async def test_slack_webhook_and_api(rt: Any, http: FakeHttpServer) -> None:
    http.text("/hook", "ok")
    r = await result(rt, "slack-sender", {"text": "deploy done", "webhook_url": http.url("/hook")})
    assert r["mode"] == "webhook" and http.requests_to("/hook")[0].json() == {"text": "deploy done"}

    async def post(req: web.Request) -> web.StreamResponse:
        body = await req.json()
        if req.headers.get("Authorization") != "Bearer xoxb-1":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response({"ok": True, "channel": body["channel"], "ts": "123.456"})

    http.route("POST", "/api/chat.postMessage", post)
    a = await result(rt, "slack-sender", {"text": "hi", "channel": "C1", "token": "xoxb-1",
                                          "base_url": http.url("/api")})
    assert a == {"mode": "api", "sent": True, "channel": "C1", "ts": "123.456"}
    with pytest.raises(ToolError, match="invalid_auth"):
        await call(rt, "slack-sender", {"text": "hi", "channel": "C1", "token": "bad", "base_url": http.url("/api")})


async def test_discord(rt: Any, http: FakeHttpServer) -> None:
    http.json("/api/webhooks/1/abc", {"id": "m-9"})
    r = await result(rt, "discord-sender", {"content": "hello", "username": "bot",
                                            "webhook_url": http.url("/api/webhooks/1/abc")})
    assert r["message_id"] == "m-9"
    req = http.requests_to("/api/webhooks/1/abc")[0]
    assert req.query == {"wait": "true"} and req.json() == {"content": "hello", "username": "bot"}


async def test_telegram(rt: Any, http: FakeHttpServer) -> None:
    async def send(req: web.Request) -> web.StreamResponse:
        body = await req.json()
        return web.json_response({"ok": True, "result": {"message_id": 5, "chat": {"id": body["chat_id"]}}})

    http.route("POST", "/botT0K/sendMessage", send)
    r = await result(rt, "telegram-sender", {"chat_id": 42, "text": "ping", "token": "T0K", "base_url": http.base_url})
    assert r == {"sent": True, "message_id": 5, "chat_id": 42}
    http.json("/botBAD/sendMessage", {"ok": False, "description": "Unauthorized"}, status=401)
    with pytest.raises(ToolError, match="Unauthorized") as ei:
        await call(rt, "telegram-sender", {"chat_id": 42, "text": "x", "token": "BAD", "base_url": http.base_url})
    assert "BAD" not in str(ei.value).replace("Unauthorized", "")


async def test_sms_twilio(rt: Any, http: FakeHttpServer) -> None:
    http.json("/2010-04-01/Accounts/AC1/Messages.json", {"sid": "SM1", "status": "queued", "num_segments": "1"},
              status=201)
    r = await result(rt, "sms-sender", {"to": "+15551234567", "body": "code 1234", "from": "+15550000000",
                                        "account_sid": "AC1", "auth_token": "tok", "base_url": http.base_url})
    assert r["sid"] == "SM1" and r["status"] == "queued"
    req = http.requests_to("/2010-04-01/Accounts/AC1/Messages.json")[0]
    assert "To=%2B15551234567" in req.text and "Body=code+1234" in req.text
    assert req.headers["Authorization"].startswith("Basic ")


async def test_env_secrets_are_not_sent_to_spell_chosen_endpoints(runtime_factory: Any, http: FakeHttpServer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A spell cannot read SLACK_BOT_TOKEN, so it must not be able to mail it to a host of its choice either."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret")
    monkeypatch.setenv("SMTP_PASSWORD", "pw")
    http.json("/api/chat.postMessage", {"ok": True, "channel": "C1", "ts": "1"})
    rt = runtime_factory(allow_private_network=True)
    seen: list[Any] = []
    rt.events.subscribe("security.violation", seen.append)
    with pytest.raises(SecurityViolationError, match="SLACK_BOT_TOKEN"):
        await call(rt, "slack-sender", {"text": "hi", "channel": "C1", "base_url": http.url("/api")})
    with pytest.raises(SecurityViolationError, match="SMTP_PASSWORD"):
        await call(rt, "email-sender", {"to": "a@example.com", "subject": "s", "body": "b", "from": "m@example.com",
                                        "username": "u", "smtp_host": "127.0.0.1", "smtp_port": 25})
    with pytest.raises(SecurityViolationError, match="password_env"):  # a spell cannot name a variable
        monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
        await call(rt, "email-sender", {"to": "a@example.com", "subject": "s", "body": "b", "from": "m@example.com",
                                        "username": "u", "password_env": "OPENAI_API_KEY",
                                        "smtp_host": "127.0.0.1", "smtp_port": 25})
    assert http.requests == [] and len(seen) == 3
    allowed = runtime_factory(allow_private_network=True, env_allow=["SLACK_BOT_TOKEN"])
    r = await result(allowed, "slack-sender", {"text": "hi", "channel": "C1", "base_url": http.url("/api")})
    assert r["sent"] and http.requests[0].headers["Authorization"] == "Bearer xoxb-secret"


async def test_sms_rejects_bad_number(rt: Any) -> None:
    from llmspell.core.errors import ValidationError

    with pytest.raises(ValidationError, match="parameter 'to'"):
        await call(rt, "sms-sender", {"to": "call me", "body": "x"})
