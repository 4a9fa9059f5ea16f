"""A real DAP client for the adapter tests: spawns ``python -m llmspell_ls.dap`` and speaks
Content-Length framed JSON over its stdin/stdout, with its own framing code (not the adapter's), so a
framing bug in the adapter cannot hide behind a shared implementation."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30.0


class DapError(AssertionError):
    pass


class DapClient:
    def __init__(self, cwd: Path | None = None, argv: list[str] | None = None):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "runtime"), str(ROOT / "server"),
                                             env.get("PYTHONPATH", "")])
        env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        env.setdefault("HF_HUB_OFFLINE", "1")
        self.proc = subprocess.Popen(argv or [sys.executable, "-m", "llmspell_ls.dap"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env)
        self.seq = 1
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self._responses: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self.stderr = b""
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    # ------------------------------------------------------------------ wire
    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr += line

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            headers: dict[str, str] = {}
            while True:
                line = out.readline()
                if not line:
                    with self._cond:
                        self._cond.notify_all()
                    return
                line = line.strip()
                if not line:
                    break
                k, _, v = line.decode().partition(":")
                headers[k.strip().lower()] = v.strip()
            body = out.read(int(headers["content-length"]))
            msg = json.loads(body)
            with self._cond:
                if msg["type"] == "response":
                    self._responses[msg["request_seq"]] = msg
                else:
                    self.events.append(msg)
                self._cond.notify_all()

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, command: str, arguments: Any = None) -> int:
        seq = self.seq
        self.seq += 1
        msg: dict[str, Any] = {"seq": seq, "type": "request", "command": command}
        if arguments is not None:
            msg["arguments"] = arguments
        raw = json.dumps(msg).encode()
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(raw) + raw)
        return seq

    def response(self, seq: int, timeout: float = TIMEOUT) -> dict[str, Any]:
        end = time.monotonic() + timeout
        with self._cond:
            while seq not in self._responses:
                left = end - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and seq not in self._responses):
                    raise DapError(f"no response to request {seq}; stderr: {self.stderr.decode()[-2000:]}")
                self._cond.wait(min(left, 0.2))
            return self._responses.pop(seq)

    def request(self, command: str, arguments: Any = None, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Send and wait; raises when the response is not a success."""
        r = self.response(self.send(command, arguments), timeout)
        if not r["success"]:
            raise DapError(f"{command} failed: {r.get('message')}")
        return r.get("body") or {}

    def request_error(self, command: str, arguments: Any = None) -> str:
        r = self.response(self.send(command, arguments))
        assert r["success"] is False, f"{command} unexpectedly succeeded: {r}"
        return str(r.get("message"))

    def wait_event(self, name: str, timeout: float = TIMEOUT, after: int = 0,
                   pred: Any = None) -> dict[str, Any]:
        """The first event ``name`` at index >= ``after`` in the event list (matching ``pred``)."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, ev in enumerate(self.events[after:], start=after):
                    if ev["event"] == name and (pred is None or pred(ev.get("body") or {})):
                        ev["_index"] = i
                        return ev
                left = end - time.monotonic()
                if left <= 0:
                    names = [e["event"] for e in self.events]
                    raise DapError(f"no {name} event within {timeout}s; events: {names}; "
                                   f"stderr: {self.stderr.decode()[-2000:]}")
                self._cond.wait(min(left, 0.2))

    def output(self) -> str:
        with self._cond:
            return "".join((e.get("body") or {}).get("output", "") for e in self.events if e["event"] == "output")

    # ------------------------------------------------------------------ sessions
    def start(self, program: Path, breakpoints: dict[Path, list[dict[str, Any]]] | None = None,
              exceptions: dict[str, Any] | None = None, **launch: Any) -> dict[str, Any]:
        """initialize, launch, breakpoints, configurationDone; returns the capabilities."""
        caps = self.request("initialize", {"clientID": "pytest", "adapterID": "llmspell", "linesStartAt1": True,
                                           "columnsStartAt1": True, "pathFormat": "path"})
        self.wait_event("initialized")
        self.request("launch", {"program": str(program), **launch})
        for path, bps in (breakpoints or {}).items():
            self.request("setBreakpoints", {"source": {"path": str(path)}, "breakpoints": bps})
        if exceptions is not None:
            self.request("setExceptionBreakpoints", exceptions)
        self.request("configurationDone")
        return caps

    def stopped(self, after: int = 0, timeout: float = TIMEOUT) -> dict[str, Any]:
        ev = self.wait_event("stopped", timeout, after=after)
        self.last_index = ev["_index"] + 1
        return ev["body"]

    def next_stop(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        return self.stopped(after=getattr(self, "last_index", 0), timeout=timeout)

    def top_frame(self) -> dict[str, Any]:
        return self.request("stackTrace", {"threadId": 1})["stackFrames"][0]

    def locals(self, frame_id: int | None = None) -> dict[str, str]:
        fid = frame_id if frame_id is not None else self.top_frame()["id"]
        scopes = self.request("scopes", {"frameId": fid})["scopes"]
        ref = next(s["variablesReference"] for s in scopes if s["name"] == "Locals")
        return {v["name"]: v["value"] for v in self.request("variables", {"variablesReference": ref})["variables"]}

    def scope_vars(self, name: str, frame_id: int | None = None) -> list[dict[str, Any]]:
        fid = frame_id if frame_id is not None else self.top_frame()["id"]
        scopes = self.request("scopes", {"frameId": fid})["scopes"]
        ref = next(s["variablesReference"] for s in scopes if s["name"] == name)
        return list(self.request("variables", {"variablesReference": ref})["variables"])

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.response(self.send("disconnect", {"terminateDebuggee": True}), timeout=10)
            except Exception:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for s in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
