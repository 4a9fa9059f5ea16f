"""The socket between cluster workers and the run's process: State, events, hook results, output, cancel.

Why a socket of our own rather than a shared SQLite file: the run's State may be the in-memory store,
a remote cluster's workers do not share the run's disk, and State hooks, events and ``state.changed``
must stay those of one runtime. So the run's process is the single writer: workers send every State
operation to it (get, set, delete, keys, and an atomic compare-and-swap on the raw value), and it
applies them to the run's own backend, in order, on its event loop. Concurrent writes from several
workers are therefore serialised in one place; ``State.compare_and_swap`` keeps its meaning across
processes (see :class:`RemoteBackend.swap_if`).

Wire format: JSON Lines over TCP. A connection starts with ``{"op": "hello", "token", "role",
"worker"}``; the token is a random secret of the run, handed to workers in the plugin, compared in
constant time. Role ``rpc`` carries requests (``{"id", "op", ...}`` -> ``{"id", "ok", "value"|"error"}``)
one at a time; role ``notify`` carries the worker's events/output/hook results/``started`` one way and
the run's ``cancel`` pushes the other way. A worker that loses the run's socket cancels that run's
tasks (the run is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from llmspell.core.errors import StateError

MAX_LINE = 64 << 20
HELLO_TIMEOUT_S = 10.0
MAX_HELLO = 4096
"""Bytes read before the token is checked: a peer without it must not make the run buffer MAX_LINE."""


async def _read_hello(reader: asyncio.StreamReader) -> bytes:
    """The first line, at most MAX_HELLO bytes (the stream's own limit is MAX_LINE, for authenticated
    lines; ``readuntil`` would buffer up to that before giving up)."""
    buf = bytearray()
    while len(buf) < MAX_HELLO:
        b = await reader.read(1)  # served from the stream's buffer: cheap, and never past the newline
        if not b:
            break
        buf += b
        if b == b"\n":
            return bytes(buf)
    return b""


def _line(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8") + b"\n"


class RunLink:
    """The run's side: an asyncio server on the run's loop."""

    def __init__(self, backend: Any, token: str, on_notify: Callable[[dict[str, Any]], Awaitable[None]]):
        self.backend = backend
        self.token = token
        self.on_notify = on_notify
        self._server: asyncio.AbstractServer | None = None
        self._notify: dict[asyncio.StreamWriter, str] = {}
        self._writers: set[asyncio.StreamWriter] = set()
        self._lock = threading.Lock()
        self.host = ""
        self.port = 0

    async def start(self, host: str) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._handle, host, 0, limit=MAX_LINE)
        sock = self._server.sockets[0]
        self.host, self.port = host, int(sock.getsockname()[1])
        return self.host, self.port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            line = await asyncio.wait_for(_read_hello(reader), HELLO_TIMEOUT_S)
            hello = json.loads(line or b"{}")
            if (not isinstance(hello, dict) or hello.get("op") != "hello"
                    or not hmac.compare_digest(str(hello.get("token", "")), self.token)):
                return  # wrong or missing token: close without a word
            role = hello.get("role")
            if role == "notify":
                self._notify[writer] = str(hello.get("worker", ""))
            while True:
                line = await reader.readline()
                if not line:
                    return
                msg = json.loads(line)
                if not isinstance(msg, dict):
                    continue
                if role == "rpc":
                    writer.write(_line(self._request(msg)))
                    await writer.drain()
                else:
                    with contextlib.suppress(Exception):
                        await self.on_notify(msg)
        except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # a closed connection, or the run's loop shutting down
        finally:
            self._notify.pop(writer, None)
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    def _request(self, msg: dict[str, Any]) -> dict[str, Any]:
        rid = msg.get("id")
        op = msg.get("op")
        b = self.backend
        try:
            key = str(msg.get("key", ""))
            if op == "state.get":
                value: Any = b.get(key)
            elif op == "state.set":
                b.set(key, str(msg["value"]))
                value = None
            elif op == "state.delete":
                value = bool(b.delete(key))
            elif op == "state.keys":
                value = list(b.keys_with_prefix(str(msg.get("prefix", ""))))
            elif op == "state.swap":
                expect = msg.get("expect")
                swap = getattr(b, "swap_if", None)
                check = (lambda raw: raw == expect)  # noqa: E731
                if swap is not None:
                    done, before = swap(key, check, str(msg["new"]))
                else:
                    with self._lock:
                        before = b.get(key)
                        done = check(before)
                        if done:
                            b.set(key, str(msg["new"]))
                value = [bool(done), before]
            else:
                return {"id": rid, "ok": False, "error": f"unknown operation {op!r}"}
            return {"id": rid, "ok": True, "value": value}
        except Exception as e:
            return {"id": rid, "ok": False, "error": f"{type(e).__name__}: {e}"}

    async def push(self, msg: dict[str, Any]) -> None:
        """Send ``msg`` to every connected worker (a ``cancel``)."""
        data = _line(msg)
        for w in list(self._notify):
            with contextlib.suppress(Exception):
                w.write(data)
                await w.drain()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            with contextlib.suppress(Exception):
                w.close()


class WorkerLink:
    """The worker's side: two blocking sockets (requests; notifications + pushes read by a thread)."""

    def __init__(self, host: str, port: int, token: str, worker: str,
                 on_push: Callable[[dict[str, Any]], None], timeout_s: float = 30.0):
        self._rpc = socket.create_connection((host, port), timeout=timeout_s)
        self._rpc.settimeout(None)
        self._rpc.sendall(_line({"op": "hello", "token": token, "role": "rpc", "worker": worker}))
        self._rfile = self._rpc.makefile("rb")
        self._ntf = socket.create_connection((host, port), timeout=timeout_s)
        self._ntf.settimeout(None)
        self._ntf.sendall(_line({"op": "hello", "token": token, "role": "notify", "worker": worker}))
        self._rlock = threading.Lock()
        self._nlock = threading.Lock()
        self._ids = 0
        self._on_push = on_push
        self.closed = False
        self._reader = threading.Thread(target=self._read_pushes, name="llmspell-link", daemon=True)
        self._reader.start()

    def _read_pushes(self) -> None:
        f = self._ntf.makefile("rb")
        try:
            for line in f:
                with contextlib.suppress(Exception):
                    msg = json.loads(line)
                    if isinstance(msg, dict):
                        self._on_push(msg)
        except (OSError, ValueError):
            pass
        if not self.closed:
            self._on_push({"op": "disconnected"})

    def request(self, op: str, **kw: Any) -> Any:
        with self._rlock:
            self._ids += 1
            rid = self._ids
            try:
                self._rpc.sendall(_line({"id": rid, "op": op, **kw}))
                line = self._rfile.readline(MAX_LINE)
            except OSError as e:
                raise StateError(f"State: the run's process cannot be reached from this worker ({e})") from None
        if not line:
            raise StateError("State: the run's process closed the connection (the run has ended)")
        resp = json.loads(line)
        if not resp.get("ok"):
            raise StateError(f"State: {resp.get('error')}")
        return resp.get("value")

    def notify(self, op: str, **kw: Any) -> None:
        data = _line({"op": op, **kw})
        with self._nlock:
            with contextlib.suppress(OSError):
                self._ntf.sendall(data)

    def close(self) -> None:
        self.closed = True
        for s in (self._rpc, self._ntf):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()


class RemoteBackend:
    """A :class:`~llmspell.state.store.StateBackend` whose data lives in the run's process."""

    def __init__(self, link: WorkerLink):
        self.link = link

    def get(self, key: str) -> str | None:
        v = self.link.request("state.get", key=key)
        return None if v is None else str(v)

    def set(self, key: str, value: str) -> None:
        self.link.request("state.set", key=key, value=value)

    def delete(self, key: str) -> bool:
        return bool(self.link.request("state.delete", key=key))

    def keys_with_prefix(self, prefix: str) -> list[str]:
        return [str(k) for k in self.link.request("state.keys", prefix=prefix) or []]

    def swap_if(self, key: str, check: Callable[[str | None], bool], new: str) -> tuple[bool, str | None]:
        """Compare-and-set across processes: read, check here, then swap in the run's process only if
        the raw value is still the one that was checked; otherwise read again."""
        raw: str | None = None
        for _ in range(1000):
            raw = self.get(key)
            if not check(raw):
                return False, raw
            done, before = self.link.request("state.swap", key=key, expect=raw, new=new)
            if done:
                return True, before
        return False, raw

    def close(self) -> None:
        pass
