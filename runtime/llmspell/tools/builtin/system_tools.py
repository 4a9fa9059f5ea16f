"""System tools: process-executor, environment-reader, system-monitor (psutil), service-checker.

process-executor runs only programs on the policy's allow-list, never through a shell, with a
small environment and a time limit; environment-reader never reveals secret-looking variables
unless the policy allows them. Both are the places a spell could reach outside its sandbox, so
their refusals go through the policy (SecurityViolation hook and ``security.violation`` event).
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field

from llmspell.core.errors import ToolError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams
from llmspell.tools.builtin._support import (
    check_host,
    check_path,
    http_request,
    policy_of,
    refuse,
    resolve_checked,
)


def spell_env(ctx: ToolContext) -> dict[str, str]:
    """Variables a spell set with environment-reader ``set``: scoped to the runtime, not the process.

    Changing ``os.environ`` would leak into every other spell and the language server itself.
    """
    return ctx.runtime_store("_tool_env", _LOCAL_ENV)


_LOCAL_ENV: dict[str, str] = {}


class ProcessExecutorTool(BuiltinTool):
    name = "process-executor"
    description = "Run an allow-listed program (no shell) with arguments and capture its output"
    category = "system"
    security_level = "privileged"
    tags = ("process", "command", "exec")

    class Params(ToolParams):
        executable: str = Field(description="Program name or path (must be in security.process_allow)")
        arguments: list[str] = Field(default_factory=list, description="Arguments, passed as is (no shell)")
        working_directory: str | None = None
        environment: dict[str, str] = Field(default_factory=dict, description="Extra environment variables")
        timeout: float = Field(30, gt=0, description="Seconds before the process is killed")
        max_output_bytes: int = Field(1 << 20, gt=0, description="stdout/stderr are cut at this size")
        input: str | None = Field(None, description="Text sent to the program's standard input")

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        pol = policy_of(ctx)
        exe = pol.check_executable(params.executable)
        cwd = check_path(ctx, params.working_directory) if params.working_directory else ctx.workspace
        if not cwd.is_dir():
            raise ToolError(f"process-executor: parameter 'working_directory': not a directory: {cwd}")
        plan = pol.process_plan(params.executable, exe, list(params.arguments), cwd)
        from llmspell.security.process import child_environment, safe_search_path

        cap = min(params.max_output_bytes, int(getattr(pol, "max_response_bytes", 10 * 1024 * 1024)))
        home = tempfile.mkdtemp(prefix="llmspell-home-")  # an empty HOME: no user or spell dotfiles
        try:
            env = child_environment({**spell_env(ctx), **params.environment}, getattr(pol, "env_allow", []), home,
                                    lambda why: refuse(ctx, f"process-executor: {why}", operation="process",
                                                       program=params.executable),
                                    search_path=safe_search_path(getattr(pol, "allowed_roots", [])))
            env.update(plan.env)
            return await self._spawn(params, exe, [*plan.prefix, *params.arguments], cwd, env, cap)
        finally:
            shutil.rmtree(home, ignore_errors=True)

    async def _spawn(self, params: Params, exe: str, argv: list[str], cwd: Path, env: dict[str, str],
                     cap: int) -> dict[str, Any]:
        start = time.perf_counter()
        stdin = params.input.encode() if params.input is not None else None
        code, out, err, timed_out, truncated = await asyncio.to_thread(
            _run_process, [exe, *argv], str(cwd), env, stdin, float(params.timeout), cap)
        return {
            "executable": params.executable, "resolved_path": exe, "arguments": params.arguments,
            "exit_code": code, "success": code == 0 and not timed_out, "timed_out": timed_out,
            "stdout": out.decode(errors="replace"), "stderr": err.decode(errors="replace"),
            "truncated": truncated,
            "duration_ms": round((time.perf_counter() - start) * 1000, 3), "working_directory": str(cwd),
        }


def _run_process(argv: list[str], cwd: str, env: dict[str, str], stdin: bytes | None, timeout: float,
                 cap: int) -> tuple[int | None, bytes, bytes, bool, bool]:
    """Run ``argv`` in its own session; read at most ``cap`` bytes of each stream (the rest is read and
    dropped, so memory stays bounded); when it exits or times out, SIGKILL its whole process group
    (grandchildren included). Pipes held by a descendant that left the group are abandoned shortly after."""
    import selectors
    import subprocess

    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, close_fds=True)
    bufs = {"out": bytearray(), "err": bytearray()}
    dropped = 0
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    pending = memoryview(stdin or b"")
    if proc.stdin is not None:
        os.set_blocking(proc.stdin.fileno(), False)
        if pending:
            sel.register(proc.stdin, selectors.EVENT_WRITE, "in")
        else:
            proc.stdin.close()
    deadline = time.monotonic() + timeout
    timed_out = False
    ended_at: float | None = None
    try:
        while sel.get_map():
            now = time.monotonic()
            if ended_at is None and proc.poll() is not None:
                ended_at = now
                _kill_group(proc.pid)  # the program is done: whatever it left running goes too
            if ended_at is None and now >= deadline:
                timed_out = True
                _kill_group(proc.pid)
                proc.wait()
                ended_at = time.monotonic()
            if ended_at is not None and time.monotonic() - ended_at > 1.0:
                break  # a descendant outside the group still holds a pipe
            for key, _ in sel.select(timeout=0.05):
                f: Any = key.fileobj
                if key.data == "in":
                    try:
                        n = os.write(f.fileno(), pending[:65536])
                        pending = pending[n:]
                    except (BrokenPipeError, BlockingIOError, OSError):
                        pending = memoryview(b"")
                    if not pending:
                        sel.unregister(f)
                        f.close()
                    continue
                chunk = os.read(f.fileno(), 65536)
                if not chunk:
                    sel.unregister(f)
                    continue
                buf = bufs[key.data]
                room = cap - len(buf)
                if room > 0:
                    buf += chunk[:room]
                dropped += max(0, len(chunk) - max(room, 0))
    finally:
        if proc.returncode is None and not timed_out:
            # both pipes closed: the program is exiting; let it finish so its own status is reported
            # (killing first raced with its exit and reported -9 for a clean run)
            try:
                proc.wait(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                pass
        _kill_group(proc.pid)
        sel.close()
        for s in (proc.stdin, proc.stdout, proc.stderr):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        proc.wait()
    return proc.returncode, bytes(bufs["out"]), bytes(bufs["err"]), timed_out, dropped > 0


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class EnvironmentReaderTool(BuiltinTool):
    name = "environment-reader"
    description = "Read environment variables (secret-looking names stay hidden unless allowed)"
    category = "system"
    security_level = "restricted"
    tags = ("environment", "env", "variables")

    class Params(ToolParams):
        operation: Literal["get", "list", "pattern", "set"]
        variable_name: str | None = None
        value: str | None = None
        pattern: str | None = Field(None, description="Glob on names, e.g. 'LLMSPELL_*'")

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        pol = policy_of(ctx)
        overlay = spell_env(ctx)
        if params.operation in ("get", "set") and not params.variable_name:
            raise ToolError(f"environment-reader: parameter 'variable_name' is required for {params.operation}")
        if params.operation == "get":
            name = params.variable_name or ""
            pol.check_env(name)
            val = overlay.get(name, os.environ.get(name))
            return {"variable_name": name, "value": val, "found": val is not None}
        if params.operation == "set":
            name = params.variable_name or ""
            pol.check_env(name)
            if params.value is None:
                raise ToolError("environment-reader: parameter 'value' is required for set")
            overlay[name] = params.value
            return {"variable_name": name, "value": params.value, "scope": "runtime"}
        # only what the spell may see: the allow-listed part of the environment (and its own overlay)
        env = {**pol.spell_environ(), **{k: v for k, v in overlay.items() if pol.env_visible(k)}}
        names = sorted(env)
        if params.operation == "pattern":
            if not params.pattern:
                raise ToolError("environment-reader: parameter 'pattern' is required for pattern")
            names = [n for n in names if fnmatch.fnmatchcase(n, params.pattern)]
        visible = {n: env[n] for n in names}
        out: dict[str, Any] = {"variables": visible, "count": len(visible)}
        if params.pattern:
            out["pattern"] = params.pattern
        return out


class SystemMonitorTool(BuiltinTool):
    name = "system-monitor"
    description = "CPU, memory, disk and process statistics of this machine (psutil)"
    category = "system"
    tags = ("cpu", "memory", "disk", "monitoring")

    class Params(ToolParams):
        operation: Literal["all", "stats", "cpu", "memory", "disk"] = "all"

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        return await asyncio.to_thread(self._collect, params.operation, str(ctx.workspace))

    @staticmethod
    def _collect(op: str, workspace: str) -> dict[str, Any]:
        import psutil

        out: dict[str, Any] = {}
        if op in ("all", "cpu"):
            try:
                load = list(os.getloadavg())
            except OSError:
                load = None
            out["cpu"] = {"usage_percent": psutil.cpu_percent(interval=0.1), "core_count": psutil.cpu_count(),
                          "physical_cores": psutil.cpu_count(logical=False), "load_average": load}
        if op in ("all", "memory"):
            vm, sw = psutil.virtual_memory(), psutil.swap_memory()
            out["memory"] = {"total_bytes": vm.total, "available_bytes": vm.available, "used_bytes": vm.used,
                             "usage_percent": vm.percent, "swap_total_bytes": sw.total, "swap_used_bytes": sw.used}
        if op in ("all", "disk"):
            disks = []
            for part in psutil.disk_partitions(all=False):
                try:
                    u = psutil.disk_usage(part.mountpoint)
                except OSError:
                    continue
                disks.append({"mount_point": part.mountpoint, "filesystem": part.fstype, "total_bytes": u.total,
                              "used_bytes": u.used, "free_bytes": u.free, "usage_percent": u.percent})
            w = psutil.disk_usage(workspace)
            out["disk"] = {"disks": disks, "workspace": {"path": workspace, "total_bytes": w.total,
                                                         "free_bytes": w.free, "usage_percent": w.percent}}
        if op in ("all", "stats"):
            boot = psutil.boot_time()
            out["stats"] = {"process_count": len(psutil.pids()), "boot_time": boot,
                            "uptime_seconds": round(time.time() - boot, 1),
                            "hostname": socket.gethostname()}
        return out


class ServiceCheckerTool(BuiltinTool):
    name = "service-checker"
    description = "Check whether a TCP port, an HTTP(S) endpoint or a DNS name is reachable"
    category = "system"
    tags = ("health", "tcp", "http", "dns", "ping")

    class Params(ToolParams):
        target: str = Field(description="host:port (tcp), URL or host (http/https), host name (dns)")
        check_type: Literal["tcp", "http", "https", "dns"]
        timeout_seconds: float = Field(5, gt=0)

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        t = params.timeout_seconds
        start = time.perf_counter()
        base: dict[str, Any] = {"target": params.target, "check_type": params.check_type}
        if params.check_type == "dns":
            host = params.target
            await check_host(ctx, host)  # allow-list, and no answers about private hosts unless allowed
            try:
                # the answer reported is the one the policy checked (a second lookup could differ)
                addrs = await asyncio.wait_for(resolve_checked(ctx, host, 0), t)
            except ToolError as e:
                return {**base, "available": False, "error": e.message, "response_time_ms": _ms(start)}
            except (OSError, TimeoutError) as e:
                return {**base, "available": False, "error": str(e) or "timed out",
                        "response_time_ms": _ms(start)}
            return {**base, "available": True, "addresses": sorted(set(addrs)),
                    "response_time_ms": _ms(start)}
        if params.check_type == "tcp":
            host, _, port_s = params.target.rpartition(":")
            if not host or not port_s.isdigit():
                raise ToolError(f"service-checker: parameter 'target': expected host:port for tcp, got "
                                f"{params.target!r}")
            host = host.strip("[]")
            await check_host(ctx, host, int(port_s))
            # connect to the addresses the policy checked, never to the name again: a second DNS
            # answer (rebinding) could otherwise swap in 127.0.0.1 between the check and the connect
            addrs = await resolve_checked(ctx, host, int(port_s))
            try:
                _, writer = await asyncio.wait_for(_connect_any(addrs, int(port_s)), t)
                writer.close()
                try:
                    await writer.wait_closed()
                except OSError:
                    pass
            except (OSError, TimeoutError) as e:
                return {**base, "available": False, "error": str(e) or "timed out", "response_time_ms": _ms(start)}
            return {**base, "available": True, "response_time_ms": _ms(start)}
        url = params.target
        if not urlsplit(url).scheme:
            url = f"{params.check_type}://{url}"
        try:
            res = await http_request(ctx, "GET", url, timeout=t)
        except ToolError as e:
            return {**base, "available": False, "error": e.message, "response_time_ms": _ms(start)}
        return {**base, "available": res.status < 500, "status_code": res.status, "response_time_ms": _ms(start)}


async def _connect_any(addrs: list[str], port: int) -> tuple[Any, Any]:
    """Open a TCP connection to the first of ``addrs`` that answers (the last error otherwise)."""
    last: OSError | None = None
    for a in addrs:
        try:
            return await asyncio.open_connection(a, port)
        except OSError as e:
            last = e
    raise last or OSError(f"no address to connect to on port {port}")


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


TOOLS = [ProcessExecutorTool, EnvironmentReaderTool, SystemMonitorTool, ServiceCheckerTool]
