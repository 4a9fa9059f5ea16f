"""Chat and SMS tools over the services' HTTP APIs: slack-sender, discord-sender, telegram-sender, sms-sender.

Each has a ``base_url`` (parameter or environment variable) so it can point at a test server, a
proxy or a compatible self-hosted service; tokens come from parameters or the usual environment
variables and are never echoed back.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from llmspell.core.errors import ToolError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import credential, http_request, parse_body, tool_env


def _base(ctx: ToolContext, param: str | None, env: str, default: str) -> str:
    return (param or tool_env(ctx, env) or default).rstrip("/")


class SlackSenderTool(BuiltinTool):
    name = "slack-sender"
    description = "Post a message to Slack (incoming webhook or chat.postMessage with a bot token)"
    category = "communication"
    security_level = "restricted"
    tags = ("slack", "chat", "notify")

    class Params(ToolParams):
        text: str = Field(description="Message text (mrkdwn)")
        channel: str | None = Field(None, description="Channel id or name (bot token mode)")
        webhook_url: str | None = Field(None, description="An incoming-webhook URL (default: SLACK_WEBHOOK_URL)")
        token: str | None = Field(None, description="Bot token (default: SLACK_BOT_TOKEN)")
        blocks: list[dict[str, Any]] | None = None
        thread_ts: str | None = None
        username: str | None = None
        base_url: str | None = Field(None, description="Slack Web API base (default https://slack.com/api)")
        timeout: float = Field(30, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        body: dict[str, Any] = {"text": params.text}
        if params.blocks:
            body["blocks"] = params.blocks
        if params.username:
            body["username"] = params.username
        hook = params.webhook_url or (None if params.token else tool_env(ctx, "SLACK_WEBHOOK_URL"))
        if hook:
            res = await http_request(ctx, "POST", hook, json_body=body, timeout=params.timeout)
            if res.status >= 300:
                raise ToolError(f"slack-sender: webhook answered HTTP {res.status}: {res.text[:200]}")
            return {"mode": "webhook", "status_code": res.status, "sent": True}
        token = credential(ctx, params.token, "SLACK_BOT_TOKEN", spell_destination=params.base_url)
        if not token:
            raise ToolError("slack-sender: give webhook_url (or SLACK_WEBHOOK_URL) or a bot token "
                            "(token or SLACK_BOT_TOKEN)")
        if not params.channel:
            raise ToolError("slack-sender: parameter 'channel' is required with a bot token")
        body["channel"] = params.channel
        if params.thread_ts:
            body["thread_ts"] = params.thread_ts
        url = _base(ctx, params.base_url, "SLACK_API_URL", "https://slack.com/api") + "/chat.postMessage"
        res = await http_request(ctx, "POST", url, json_body=body, timeout=params.timeout,
                                 headers={"Authorization": f"Bearer {token}"})
        d = parse_body(res)
        if res.status >= 300 or not (isinstance(d, dict) and d.get("ok")):
            err = d.get("error") if isinstance(d, dict) else res.text[:200]
            raise ToolError(f"slack-sender: Slack refused the message (HTTP {res.status}): {err}")
        return {"mode": "api", "sent": True, "channel": d.get("channel"), "ts": d.get("ts")}


class DiscordSenderTool(BuiltinTool):
    name = "discord-sender"
    description = "Post a message to a Discord channel through a webhook URL"
    category = "communication"
    security_level = "restricted"
    tags = ("discord", "chat", "notify")

    class Params(ToolParams):
        content: str = Field(description="Message text", max_length=2000)
        webhook_url: str | None = Field(None, description="Default: DISCORD_WEBHOOK_URL")
        username: str | None = None
        avatar_url: str | None = None
        embeds: list[dict[str, Any]] | None = None
        timeout: float = Field(30, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        hook = params.webhook_url or tool_env(ctx, "DISCORD_WEBHOOK_URL")
        if not hook:
            raise ToolError("discord-sender: parameter 'webhook_url' is required (or set DISCORD_WEBHOOK_URL)")
        body: dict[str, Any] = {"content": params.content}
        for k in ("username", "avatar_url", "embeds"):
            v = getattr(params, k)
            if v:
                body[k] = v
        sep = "&" if "?" in hook else "?"
        res = await http_request(ctx, "POST", f"{hook}{sep}wait=true", json_body=body, timeout=params.timeout)
        if res.status >= 300:
            raise ToolError(f"discord-sender: Discord answered HTTP {res.status}: {res.text[:200]}")
        d = parse_body(res)
        return {"sent": True, "status_code": res.status, "message_id": d.get("id") if isinstance(d, dict) else None}


class TelegramSenderTool(BuiltinTool):
    name = "telegram-sender"
    description = "Send a message through a Telegram bot (Bot API sendMessage)"
    category = "communication"
    security_level = "restricted"
    tags = ("telegram", "chat", "notify")

    class Params(ToolParams):
        chat_id: str | int = Field(description="Chat id or @channelusername")
        text: str = Field(max_length=4096)
        token: str | None = Field(None, description="Bot token (default: TELEGRAM_BOT_TOKEN)")
        parse_mode: str | None = Field(None, description="MarkdownV2, HTML or Markdown")
        disable_notification: bool = False
        base_url: str | None = Field(None, description="Bot API base (default https://api.telegram.org)")
        timeout: float = Field(30, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        token = credential(ctx, params.token, "TELEGRAM_BOT_TOKEN", spell_destination=params.base_url)
        if not token:
            raise ToolError("telegram-sender: a bot token is required (token or TELEGRAM_BOT_TOKEN)")
        url = f"{_base(ctx, params.base_url, 'TELEGRAM_API_URL', 'https://api.telegram.org')}/bot{token}/sendMessage"
        body: dict[str, Any] = {"chat_id": params.chat_id, "text": params.text,
                                "disable_notification": params.disable_notification}
        if params.parse_mode:
            body["parse_mode"] = params.parse_mode
        try:
            res = await http_request(ctx, "POST", url, json_body=body, timeout=params.timeout)
        except ToolError as e:  # the URL contains the token: never show it
            raise ToolError(e.message.replace(token, "<token>")) from None
        d = parse_body(res)
        if res.status >= 300 or not (isinstance(d, dict) and d.get("ok")):
            desc = d.get("description") if isinstance(d, dict) else res.text[:200]
            raise ToolError(f"telegram-sender: Telegram refused the message (HTTP {res.status}): {desc}")
        result = d.get("result") or {}
        return {"sent": True, "message_id": result.get("message_id"), "chat_id": (result.get("chat") or {}).get("id")}


class SmsSenderTool(BuiltinTool):
    name = "sms-sender"
    description = "Send an SMS through Twilio's Messages API (or a compatible endpoint)"
    category = "communication"
    security_level = "restricted"
    tags = ("sms", "twilio", "text message", "notify")

    class Params(ToolParams):
        to: str = Field(description="Destination phone number (E.164, e.g. +15551234567)", pattern=r"^\+?[0-9]{6,16}$")
        body: str = Field(max_length=1600)
        from_: str | None = Field(None, alias="from", description="Sender number (default: TWILIO_FROM_NUMBER)")
        account_sid: str | None = Field(None, description="Default: TWILIO_ACCOUNT_SID")
        auth_token: str | None = Field(None, description="Default: TWILIO_AUTH_TOKEN")
        base_url: str | None = Field(None, description="API base (default https://api.twilio.com)")
        timeout: float = Field(30, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        sid = params.account_sid or tool_env(ctx, "TWILIO_ACCOUNT_SID")
        token = credential(ctx, params.auth_token, "TWILIO_AUTH_TOKEN", spell_destination=params.base_url)
        sender = params.from_ or tool_env(ctx, "TWILIO_FROM_NUMBER")
        if not sid or not token:
            raise ToolError("sms-sender: account_sid and auth_token are required (or TWILIO_ACCOUNT_SID / "
                            "TWILIO_AUTH_TOKEN)")
        if not sender:
            raise ToolError("sms-sender: parameter 'from' is required (or set TWILIO_FROM_NUMBER)")
        url = f"{_base(ctx, params.base_url, 'TWILIO_API_URL', 'https://api.twilio.com')}/2010-04-01/Accounts/{sid}/Messages.json"
        res = await http_request(ctx, "POST", url, form={"To": params.to, "From": sender, "Body": params.body},
                                 auth=(sid, token), timeout=params.timeout)
        d = parse_body(res)
        if res.status >= 300:
            msg = d.get("message") if isinstance(d, dict) else res.text[:200]
            raise ToolError(f"sms-sender: the SMS API answered HTTP {res.status}: {msg}")
        return {"sent": True, "sid": d.get("sid") if isinstance(d, dict) else None,
                "status": d.get("status") if isinstance(d, dict) else None, "to": params.to,
                "segments": d.get("num_segments") if isinstance(d, dict) else None}


TOOLS = [SlackSenderTool, DiscordSenderTool, TelegramSenderTool, SmsSenderTool]
