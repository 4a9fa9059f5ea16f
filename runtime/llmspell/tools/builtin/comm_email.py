"""email-sender: mail over SMTP (aiosmtplib) or SendGrid's HTTP API.

The SMTP server comes from the parameters or ``SMTP_HOST``/``SMTP_PORT``/``SMTP_USERNAME``/
``SMTP_PASSWORD``; it is checked by the same network policy as URLs (a spell cannot talk to an
internal mail relay unless private networks are allowed). Passwords are read from the environment,
never returned.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Literal

from pydantic import Field

from llmspell.core.errors import ToolError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import check_host, credential, http_request, network_timeout, refuse, tool_env


class EmailSenderTool(BuiltinTool):
    name = "email-sender"
    description = "Send email over SMTP (STARTTLS/TLS, auth) or through SendGrid's API"
    category = "communication"
    security_level = "restricted"
    tags = ("email", "smtp", "mail", "notify")

    class Params(ToolParams):
        to: str | list[str] = Field(description="Recipient address(es)")
        subject: str
        body: str
        from_: str | None = Field(None, alias="from", description="Sender (default: SMTP_FROM or the username)")
        html: bool = Field(False, description="The body is HTML")
        provider: Literal["smtp", "sendgrid", "ses"] = "smtp"
        cc: list[str] | None = None
        bcc: list[str] | None = None
        reply_to: str | None = None
        smtp_host: str | None = Field(None, description="Default: SMTP_HOST or localhost")
        smtp_port: int | None = Field(None, gt=0, lt=65536, description="Default: SMTP_PORT or 587")
        username: str | None = Field(None, description="Default: SMTP_USERNAME")
        password_env: str = Field("SMTP_PASSWORD", description="Environment variable holding the password: "
                                  "configuration only (SMTP_PASSWORD in security.tool_env); a spell cannot name "
                                  "another variable")
        security: Literal["auto", "starttls", "tls", "none"] = "auto"
        base_url: str | None = Field(None, description="SendGrid API base URL")
        timeout: float = Field(30, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        to = [params.to] if isinstance(params.to, str) else list(params.to)
        if not to:
            raise ToolError("email-sender: parameter 'to' needs at least one address")
        for addr in [*to, *(params.cc or []), *(params.bcc or [])]:
            if "@" not in addr or any(c in addr for c in "\r\n"):
                raise ToolError(f"email-sender: invalid address {addr!r}")
        if params.provider == "ses":
            raise ToolError("email-sender: provider 'ses' needs AWS request signing, which is not built in; use "
                            "provider='smtp' with the SES SMTP endpoint (email-smtp.<region>.amazonaws.com)")
        if params.password_env != "SMTP_PASSWORD":
            raise refuse(ctx, f"email-sender: parameter 'password_env' cannot name an environment variable "
                              f"({params.password_env!r}): the SMTP password comes from the configuration "
                              "(SMTP_PASSWORD, listed in security.tool_env), never from a spell parameter",
                         operation="env", name=params.password_env)
        username = params.username or tool_env(ctx, "SMTP_USERNAME")
        sender = params.from_ or tool_env(ctx, "SMTP_FROM") or username
        if not sender:
            raise ToolError("email-sender: parameter 'from' is required (or set SMTP_FROM)")
        if params.provider == "sendgrid":
            return await self._sendgrid(ctx, params, sender, to)
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(to), params.subject
        if params.cc:
            msg["Cc"] = ", ".join(params.cc)
        if params.reply_to:
            msg["Reply-To"] = params.reply_to
        msg["Date"] = formatdate(localtime=False)
        msg_id = make_msgid(domain=sender.rsplit("@", 1)[-1])
        msg["Message-ID"] = msg_id
        if params.html:
            msg.set_content("This message is HTML; use an HTML-capable mail reader.")
            msg.add_alternative(params.body, subtype="html")
        else:
            msg.set_content(params.body)
        host = params.smtp_host or tool_env(ctx, "SMTP_HOST") or "localhost"
        port = params.smtp_port or int(tool_env(ctx, "SMTP_PORT") or 587)
        await check_host(ctx, host, port)
        import aiosmtplib

        password = credential(ctx, None, params.password_env, spell_destination=params.smtp_host) \
            if username else None
        sec = params.security
        try:
            resp = await aiosmtplib.send(
                msg, hostname=host, port=port, username=username, password=password,
                use_tls=sec == "tls" or (sec == "auto" and port == 465),
                start_tls=True if sec == "starttls" else (False if sec in ("none", "tls") else None),
                timeout=network_timeout(ctx, params.timeout),
                recipients=[*to, *(params.cc or []), *(params.bcc or [])])
        except aiosmtplib.SMTPException as e:
            raise ToolError(f"email-sender: SMTP delivery via {host}:{port} failed: {e}") from e
        refused, reply = resp
        return {"provider": "smtp", "message_id": msg_id, "to": to, "subject": params.subject,
                "accepted": [a for a in [*to, *(params.cc or []), *(params.bcc or [])] if a not in refused],
                "refused": {k: str(v) for k, v in refused.items()}, "server_reply": reply}

    async def _sendgrid(self, ctx: ToolContext, p: Params, sender: str, to: list[str]) -> dict[str, Any]:
        key = credential(ctx, None, "SENDGRID_API_KEY", spell_destination=p.base_url)
        if not key:
            raise ToolError("email-sender: provider sendgrid needs SENDGRID_API_KEY in the environment")
        base = (p.base_url or tool_env(ctx, "SENDGRID_BASE_URL") or "https://api.sendgrid.com").rstrip("/")
        personal: dict[str, Any] = {"to": [{"email": a} for a in to]}
        if p.cc:
            personal["cc"] = [{"email": a} for a in p.cc]
        if p.bcc:
            personal["bcc"] = [{"email": a} for a in p.bcc]
        body = {"personalizations": [personal], "from": {"email": sender}, "subject": p.subject,
                "content": [{"type": "text/html" if p.html else "text/plain", "value": p.body}]}
        res = await http_request(ctx, "POST", f"{base}/v3/mail/send", json_body=body, timeout=p.timeout,
                                 headers={"Authorization": f"Bearer {key}"})
        if res.status >= 300:
            raise ToolError(f"email-sender: SendGrid answered HTTP {res.status}: {res.text[:300]}")
        return {"provider": "sendgrid", "to": to, "subject": p.subject, "status_code": res.status,
                "message_id": res.headers.get("x-message-id")}


TOOLS = [EmailSenderTool]
