"""A minimal synchronous LSP client over stdio, for benchmarks and for driving other servers in tests.

Deliberately tiny (no pygls, no asyncio) so the client adds as little as possible to the measured round
trip: a reader thread parses frames and routes responses by id to waiting callers; server requests
(``workspace/configuration``, ``window/workDoneProgress/create`` …) are answered with ``null``.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class RpcClient:
    def __init__(self, command: Sequence[str], *, cwd: str | None = None, env: dict[str, str] | None = None):
        self.proc = subprocess.Popen(
            list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=None if os.environ.get("RPC_STDERR") else subprocess.DEVNULL,
            cwd=cwd, env=env or dict(os.environ),
        )
        self._id = 0
        self._lock = threading.Lock()
        self._waiters: dict[int, queue.Queue[dict[str, Any]]] = {}
        self.notifications: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # ------------------------------------------------------------------ framing
    def _write(self, msg: dict[str, Any]) -> None:
        body = json.dumps(msg).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read_loop(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = 0
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                k, _, v = line.partition(b":")
                if k.lower() == b"content-length":
                    length = int(v)
            msg = json.loads(out.read(length))
            if "id" in msg and "method" not in msg:
                q = self._waiters.pop(msg["id"], None)
                if q is not None:
                    q.put(msg)
            elif "id" in msg:  # a request from the server
                self._write({"jsonrpc": "2.0", "id": msg["id"], "result": None})
                self.notifications.put(msg)
            else:
                self.notifications.put(msg)

    # ------------------------------------------------------------------ API
    def request(self, method: str, params: Any, timeout: float = 30.0) -> Any:
        with self._lock:
            self._id += 1
            mid = self._id
        q: queue.Queue[dict[str, Any]] = queue.Queue(1)
        self._waiters[mid] = q
        self._write({"jsonrpc": "2.0", "id": mid, "method": method, "params": params})
        msg = q.get(timeout=timeout)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg.get("result")

    def notify(self, method: str, params: Any) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def wait_notification(self, method: str, timeout: float = 30.0, pred: Any = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(method)
            msg = self.notifications.get(timeout=left)
            if msg.get("method") == method and (pred is None or pred(msg.get("params"))):
                return msg["params"]

    def drain(self) -> None:
        while not self.notifications.empty():
            self.notifications.get_nowait()

    def initialize(self, root: Path | None = None, capabilities: dict[str, Any] | None = None,
                   init_options: Any = None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "processId": os.getpid(),
            "capabilities": capabilities or {
                "textDocument": {
                    "completion": {"completionItem": {"snippetSupport": True}},
                    "publishDiagnostics": {"versionSupport": True},
                    "synchronization": {"didSave": True},
                },
                "workspace": {"configuration": True, "workspaceFolders": True},
            },
        }
        if root is not None:
            params["rootUri"] = root.as_uri()
            params["workspaceFolders"] = [{"uri": root.as_uri(), "name": root.name}]
        if init_options is not None:
            params["initializationOptions"] = init_options
        res = self.request("initialize", params, timeout=60)
        self.notify("initialized", {})
        return res  # type: ignore[no-any-return]

    def open(self, uri: str, text: str, language: str = "lua", version: int = 1) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": language, "version": version, "text": text}})

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=5)
            self.notify("exit", None)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
