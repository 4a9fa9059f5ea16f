"""What runs on a Dask worker: the plugin, one runtime + Lua interpreter per run, and the task function.

The plugin carries only plain data (the run's effective configuration as JSON, the link's address and
token, the spell's path): on ``setup`` the worker scrubs its environment as a run's process does, then
builds a :class:`~llmspell.runtime.Runtime` with that configuration (so the same security policy, tool
allow-lists and limits apply) whose State is the run's own over the link, and a sandboxed Lua
interpreter (:class:`~llmspell.cluster.lua_ship.WorkerLuaSpell`). A task is a JSON string; its answer
is a plain dict (``ok``, ``output`` or ``error``, ``worker``) — errors travel as data, not as
pickled exceptions, so a step's error reads the same whatever the worker's Python.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any

try:  # the plugin base class when Dask is there (it always is on a worker)
    from distributed.diagnostics.plugin import WorkerPlugin as _PluginBase
except ImportError:  # pragma: no cover - the module is still importable for type checks
    _PluginBase = object  # type: ignore[assignment,misc]

HOSTS: dict[str, WorkerRunHost] = {}
"""Per worker process: the run hosts by run key (one per run that registered its plugin here)."""
_HOSTS_LOCK = threading.Lock()
FAILED: dict[str, str] = {}
"""Runs whose host could not be built here, with why (a plugin's setup never raises: a worker that
restarts after its run has gone must still start, for the other runs it serves)."""


class WorkerRunHost:
    """One run's runtime and Lua interpreter on this worker, on an event loop thread of its own."""

    def __init__(self, key: str, config: dict[str, Any], link_host: str, link_port: int, token: str,
                 spell_file: str | None, worker: str):
        from llmspell.cluster.link import WorkerLink

        self.key = key
        self.worker = worker
        self._config_data = config
        self._spell_file = spell_file
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._fn_tasks: set[str] = set()
        self._cancelled: set[str] = set()
        """Tasks cancelled before they reached this worker (a cancel can overtake the task)."""
        self.dead = False
        """Set when the run is gone (its socket closed, or the plugin torn down): no new task starts."""
        self.current: str | None = None
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=f"llmspell-run-{key}", daemon=True)
        self._thread.start()
        self.spell: Any = None
        self._spell_task: asyncio.Future[Any] | None = None
        self.link = WorkerLink(link_host, link_port, token, worker, self._on_push)
        try:
            asyncio.run_coroutine_threadsafe(self._build(), self.loop).result(60)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------------------ building

    async def _build(self) -> None:
        from llmspell.cluster.link import RemoteBackend
        from llmspell.config import ClusterConfig, RuntimeConfig
        from llmspell.runtime import Runtime
        from llmspell.state.store import StateStore

        config = RuntimeConfig.model_validate(self._config_data)
        config.cluster = ClusterConfig()  # a worker never dispatches further
        config.state.backend = "memory"  # replaced below: State lives in the run's process
        rt = Runtime(config)
        rt.state = StateStore(RemoteBackend(self.link), runtime=rt)
        await rt.start()
        self.runtime = rt
        rt.events.subscribe("*", self._forward_event)
        rt.hooks.add_observer(self._forward_hook)

    async def spell_now(self) -> Any:
        """The live Lua interpreter (a new one when the last was killed by a cancel)."""
        sp = self.spell
        if sp is not None and not sp._closed.is_set() and sp.ready:
            return sp
        from llmspell.api.context import SpellContext
        from llmspell.cluster.lua_ship import WorkerLuaSpell

        ctx = SpellContext(runtime=self.runtime, file=Path(self._spell_file) if self._spell_file else None,
                           language="lua", run_id=self.key, emit_output=self._emit)
        sp = WorkerLuaSpell(ctx, "")
        self.spell = sp
        self._spell_task = asyncio.ensure_future(sp.run())
        self._spell_task.add_done_callback(lambda f: f.cancelled() or f.exception())
        while not sp.ready:
            if self._spell_task.done():
                exc = self._spell_task.exception()
                raise RuntimeError(f"the worker's Lua interpreter did not start: {exc}")
            await asyncio.sleep(0.002)
        return sp

    # ------------------------------------------------------------------------------ forwarding

    def _emit(self, stream: str, text: str) -> None:
        self.link.notify("output", stream=stream, text=text, task=self.current, worker=self.worker)

    def _forward_event(self, ev: Any) -> None:
        from llmspell.engines.convert import jsonable

        self.link.notify("event", task=self.current, worker=self.worker, event_type=ev.event_type,
                         data=jsonable(ev.data), correlation_id=ev.correlation_id, source=ev.source)

    def _forward_hook(self, ex: Any) -> None:
        self.link.notify("hook", task=self.current, worker=self.worker, execution=ex.to_dict())

    def _on_push(self, msg: dict[str, Any]) -> None:  # the link's reader thread
        op = msg.get("op")
        if op == "cancel":
            ids = [str(t) for t in msg.get("tasks") or []]
            self.loop.call_soon_threadsafe(self._cancel, ids)
        elif op == "disconnected":  # the run is gone: nothing it started may keep running here
            self.loop.call_soon_threadsafe(self._cancel, None)

    def _cancel(self, ids: list[str] | None) -> None:
        if ids is None:
            self.dead = True
        else:
            self._cancelled.update(t for t in ids if t not in self._tasks)
        targets = list(self._tasks) if ids is None else [t for t in ids if t in self._tasks]
        kill_lua = False
        for tid in targets:
            self._tasks[tid].cancel()
            kill_lua = kill_lua or tid in self._fn_tasks
        if kill_lua and self.spell is not None:
            self.spell.cancel("cancelled")  # stops Lua mid-loop; the next task gets a new interpreter

    # ------------------------------------------------------------------------------ one task

    def run(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Called on the Dask task thread: run ``spec`` on this host's loop and wait for the answer."""
        if self.dead or not self.loop.is_running():
            return {"ok": False, "cancelled": True, "error": "the run has ended", "worker": self.worker}
        fut = asyncio.run_coroutine_threadsafe(self._execute(spec), self.loop)
        while True:
            try:
                return fut.result(timeout=0.25)
            except concurrent.futures.TimeoutError:
                if not self.loop.is_running():  # closed under us: never leave the Dask thread waiting
                    return {"ok": False, "cancelled": True, "error": "the run has ended", "worker": self.worker}

    async def _execute(self, spec: dict[str, Any]) -> dict[str, Any]:
        tid = str(spec["task"])
        if self.dead or tid in self._cancelled:
            self._cancelled.discard(tid)
            return {"ok": False, "cancelled": True, "error": "cancelled", "worker": self.worker}
        self.current = tid
        me = asyncio.current_task()
        assert me is not None
        self._tasks[tid] = me
        self.link.notify("started", task=tid, worker=self.worker, pid=os.getpid())
        try:
            out, agent_outputs = await self._step(spec, tid)
            from llmspell.engines.convert import jsonable

            return {"ok": True, "output": jsonable(out), "agent_outputs": jsonable(agent_outputs),
                    "worker": self.worker}
        except asyncio.CancelledError:
            return {"ok": False, "cancelled": True, "error": "cancelled", "worker": self.worker}
        except BaseException as e:
            return {"ok": False, **_error_of(e), "worker": self.worker}
        finally:
            self._tasks.pop(tid, None)
            self._fn_tasks.discard(tid)
            if self.current == tid:
                self.current = None

    async def _step(self, spec: dict[str, Any], tid: str) -> tuple[Any, dict[str, Any]]:
        from llmspell.workflows.engine import WorkflowInstance
        from llmspell.workflows.model import StepDef, WorkflowDef
        from llmspell.workflows.resolve import MISSING, Scope

        wfd = spec["workflow"]
        step = StepDef.model_validate(spec["step"])
        wf = WorkflowInstance(self.runtime, WorkflowDef(name=wfd["name"], type=wfd["type"]), id=wfd["id"])
        wf.execution_id = wfd.get("execution_id")
        ctx = spec.get("ctx") or {}
        wf._input = ctx.get("input")
        wf.outputs = dict(ctx.get("outputs") or {})
        wf.shared_data = dict(ctx.get("shared_data") or {})
        prev = ctx["prev"] if "prev" in ctx else MISSING
        scope = Scope(wf._input, wf.outputs, wf.shared_data, prev, dict(ctx.get("extra") or {}))
        if spec.get("agent") is not None and step.agent:
            agents = self.runtime.agents
            cfg = spec["agent"]
            have = agents.get(step.agent)
            if have is None or getattr(getattr(have, "config", None), "model_dump", lambda **k: None)(
                    mode="json", exclude={"api_key"}) != cfg:
                if have is not None:
                    await agents.remove(step.agent)
                agents.create(cfg)
        if spec.get("fn") is not None:
            fn_spec = spec["fn"]
            self._fn_tasks.add(tid)
            host = self

            async def call(inp: Any, c: Any) -> Any:
                sp = await host.spell_now()
                return await sp.invoke(sp.run_shipped, fn_spec, (inp, c))

            step.fn = call
        out = await wf._exec(step, spec.get("input"), scope)
        return out, dict(wf.agent_outputs)

    def close(self) -> None:
        """Cancel what runs, end the interpreter and the runtime on the loop, then stop the loop."""
        self.dead = True
        if self.loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._aclose(), self.loop).result(10)
        self.link.close()
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _aclose(self) -> None:
        self._cancel(None)
        for _ in range(300):  # cancelled tasks hand back their answer first
            if not self._tasks:
                break
            await asyncio.sleep(0.01)
        if self.spell is not None:
            self.spell.cancel("cancelled")
        if self._spell_task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(self._spell_task), 3)
        rt = getattr(self, "runtime", None)
        if rt is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(rt.shutdown(), 5)


def _error_of(e: BaseException) -> dict[str, Any]:
    from llmspell.core.errors import LLMSpellError
    from llmspell.engines.host import SpellCancelled

    if isinstance(e, SpellCancelled):
        return {"error": "cancelled", "cancelled": True}
    if isinstance(e, LLMSpellError):
        return {"error": e.message, "kind": e.kind, "file": getattr(e, "file", None),
                "line": getattr(e, "line", None), "type": type(e).__name__}
    return {"error": f"{type(e).__name__}: {e}", "kind": "runtime", "type": type(e).__name__}


class LLMSpellWorkerPlugin(_PluginBase):  # type: ignore[misc,valid-type]
    """Registered by the run for its workers (``name`` is the run's key); plain data only."""

    def __init__(self, key: str, config: dict[str, Any], link_host: str, link_port: int, token: str,
                 spell_file: str | None):
        self.name = f"llmspell-{key}"
        self.key = key
        self.config = config
        self.link_host = link_host
        self.link_port = link_port
        self.token = token
        self.spell_file = spell_file

    def setup(self, worker: Any) -> None:
        try:
            _contain(self.config)
            host = WorkerRunHost(self.key, self.config, self.link_host, self.link_port, self.token,
                                 self.spell_file, str(worker.address))
        except Exception as e:
            FAILED[self.key] = f"{type(e).__name__}: {e}"
            return
        FAILED.pop(self.key, None)
        with _HOSTS_LOCK:
            old = HOSTS.pop(self.key, None)
            HOSTS[self.key] = host
        if old is not None:
            old.close()

    def teardown(self, worker: Any) -> None:
        FAILED.pop(self.key, None)
        with _HOSTS_LOCK:
            host = HOSTS.pop(self.key, None)
        if host is not None:
            host.close()


def _contain(config: dict[str, Any]) -> None:
    """What the run's process does to itself before a spell runs: the environment scrubbed down to
    what the configuration allows, no core dumps, the open-file and file-size ceilings. (A local
    cluster's workers also inherit the run's address-space and CPU rlimits as its children.)"""
    from llmspell.config import RuntimeConfig
    from llmspell.isolation.procs import ProcessLimits
    from llmspell.security.secrets import scrub_environment

    cfg = RuntimeConfig.model_validate(config)
    scrub_environment(cfg)
    lim = cfg.limits
    ProcessLimits(file_size_bytes=int(lim.max_file_mb) << 20 if lim.max_file_mb else 0).apply()


def run_task(spec_json: str) -> dict[str, Any]:
    """The Dask task: a JSON spec in, a plain dict out."""
    spec = json.loads(spec_json)
    host = HOSTS.get(str(spec.get("run")))
    if host is None:
        why = FAILED.get(str(spec.get("run")), "its plugin did not set up")
        return {"ok": False, "error": f"this worker could not build the llmspell runtime for the run: {why}",
                "kind": "internal", "worker": _address()}
    return host.run(spec)


def host_status(key: str) -> str | None:
    """Run on each worker after registration: None when the run's host is up, else why not."""
    if key in HOSTS:
        return None
    return FAILED.get(key, "the llmspell plugin did not run")


def _address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except Exception:
        return ""
