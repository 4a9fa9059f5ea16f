"""Sans-IO DAP connection: bytes in, messages out; messages in, bytes out.

No sockets, threads or event loop here, so the framing is testable on its own and the session can
drive it from whatever reads stdin. ``receive_data`` buffers bytes; ``next_message`` returns one
complete message (or None); ``send_*`` queue outgoing messages with this side's ``seq`` numbers and
``data_to_send`` drains the encoded bytes.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from llmspell_ls.dap.protocol import Event, ProtocolMessage, Request, Response

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_HEADER_BYTES = 8192


class ProtocolError(Exception):
    """The peer sent bytes that are not a DAP message (bad header, bad JSON, unknown type)."""


class DebugAdapterConnection:
    def __init__(self) -> None:
        self._in = bytearray()
        self._out = bytearray()
        self._seq = 1
        self._want: int | None = None

    # ------------------------------------------------------------------ incoming

    def receive_data(self, data: bytes) -> None:
        self._in += data

    def next_message(self) -> ProtocolMessage | None:
        """The next complete message, or None when more bytes are needed."""
        if self._want is None:
            end = self._in.find(b"\r\n\r\n")
            if end < 0:
                if len(self._in) > MAX_HEADER_BYTES:
                    raise ProtocolError("header too long (no blank line after the Content-Length header)")
                return None
            length: int | None = None
            for line in bytes(self._in[:end]).split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    try:
                        length = int(value.strip())
                    except ValueError:
                        raise ProtocolError(f"bad Content-Length header: {value.strip()!r}") from None
            del self._in[: end + 4]
            if length is None or length < 0:
                raise ProtocolError("message without a Content-Length header")
            if length > MAX_MESSAGE_BYTES:
                raise ProtocolError(f"message of {length} bytes is larger than {MAX_MESSAGE_BYTES}")
            self._want = length
        if len(self._in) < self._want:
            return None
        body = bytes(self._in[: self._want])
        del self._in[: self._want]
        self._want = None
        try:
            data = json.loads(body)
        except ValueError as e:
            raise ProtocolError(f"message is not JSON: {e}") from None
        return parse_message(data)

    # ------------------------------------------------------------------ outgoing

    def _queue(self, msg: dict[str, Any]) -> int:
        seq = self._seq
        self._seq += 1
        msg["seq"] = seq
        raw = json.dumps(msg, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
        self._out += b"Content-Length: %d\r\n\r\n" % len(raw) + raw
        return seq

    def send_response(self, request: Request, body: Any = None, *, success: bool = True,
                      message: str | None = None) -> int:
        msg: dict[str, Any] = {"type": "response", "request_seq": request.seq, "success": success,
                               "command": request.command}
        if message is not None:
            msg["message"] = message
        if body is not None:
            msg["body"] = body
        elif not success:
            msg["body"] = {"error": {"id": 1, "format": message or "failed", "showUser": True}}
        return self._queue(msg)

    def send_event(self, event: str, body: Any = None) -> int:
        msg: dict[str, Any] = {"type": "event", "event": event}
        if body is not None:
            msg["body"] = body
        return self._queue(msg)

    def send_request(self, command: str, arguments: Any = None) -> int:
        msg: dict[str, Any] = {"type": "request", "command": command}
        if arguments is not None:
            msg["arguments"] = arguments
        return self._queue(msg)

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data


def parse_message(data: Any) -> ProtocolMessage:
    if not isinstance(data, dict):
        raise ProtocolError("message must be a JSON object")
    kind = data.get("type")
    try:
        if kind == "request":
            return Request.model_validate(data)
        if kind == "response":
            return Response.model_validate(data)
        if kind == "event":
            return Event.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first.get("loc", ()))
        raise ProtocolError(f"bad {kind} message: {loc}: {first.get('msg')}") from None
    raise ProtocolError(f"unknown message type {kind!r} (expected request, response or event)")
