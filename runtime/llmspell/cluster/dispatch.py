"""The run's side of the cluster: start or reach it, ship steps as tasks, relay what workers report.

One :class:`ClusterDispatcher` per runtime (a runtime service, so ``Runtime.shutdown`` closes it),
made on the first step that goes to the cluster: the cluster starts then, not for spells that never
map. ``local:N`` starts a Dask ``LocalCluster`` (N worker processes under nannies, one thread each)
from the run's own process: under the isolated runner they are that process's descendants, so
cancel and the wall-time kill (which kill the run's whole process tree) end them too. The scheduler
is told ``allowed-failures = 0``: a worker that dies under a task fails that task at once, and the
step's own retry policy (``retry_count``, ``error_strategy = "retry"``) decides whether it runs
again, on whichever worker is free. ``tcp://host:port`` uses an existing scheduler; its own
``allowed-failures`` setting then applies as well.

Dask's client runs its own event loop thread; task completions are handed to the run's loop with
``call_soon_threadsafe``, so the workflow engine awaits cluster tasks like any other step.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

from llmspell.cluster import MISSING_EXTRA, dask_available
from llmspell.cluster.address import ClusterAddress, parse_address
from llmspell.core.errors import ConfigurationError, WorkflowError

SERVICE = "cluster"
SHIPPABLE_STEPS = ("tool", "agent", "function")


def dispatcher_for(runtime: Any) -> ClusterDispatcher | None:
    """The runtime's dispatcher when ``[cluster] address`` is set, else None."""
    cfg = getattr(getattr(runtime, "config", None), "cluster", None)
    if cfg is None or not cfg.address:
        return None
    if hasattr(runtime, "service"):
        return runtime.service(SERVICE, ClusterDispatcher)  # type: ignore[no-any-return]
    return None


@dataclass
class _Pending:
    wf: Any
    ev: dict[str, Any]
    started: bool = False
    worker: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ClusterDispatcher:
    """Ships workflow steps to a Dask cluster for one runtime (see the module docstring)."""

    def __init__(self, runtime: Any):
        self.runtime = runtime
        self.cfg = runtime.config.cluster
        self.address: ClusterAddress = parse_address(self.cfg.address)
        self.key = uuid.uuid4().hex[:12]
        self.token = secrets.token_urlsafe(24)
        self.emit_output: Any = None
        """Where printed output of worker-side functions goes (the run's stream); set per workflow."""
        self.workers: dict[str, int] = {}
        """worker address -> pid (as the workers report it)."""
        self.scheduler = ""
        self._client: Any = None
        self._cluster: Any = None
        self._link: Any = None
        self._lock: asyncio.Lock | None = None
        self._start_error: BaseException | None = None
        self._pending: dict[str, _Pending] = {}
        self._shipped: dict[tuple[int, str | None], asyncio.Future[Any]] = {}
        self._bg: set[asyncio.Future[Any]] = set()
        self._plugin_name = f"llmspell-{self.key}"

    # ------------------------------------------------------------------------------ start / stop

    async def start(self, spell_file: str | None = None) -> None:
        if self._client is not None:
            return
        if self._start_error is not None:
            raise self._start_error
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is not None:
                return
            try:
                await self._start(spell_file)
            except BaseException as e:
                self._start_error = e if isinstance(e, Exception) else None
                self._stop_sync()
                raise

    async def _start(self, spell_file: str | None) -> None:
        if not dask_available():
            raise ConfigurationError(f"cluster.address = {self.cfg.address!r}: {MISSING_EXTRA}")
        from llmspell.cluster.link import RunLink

        t0 = time.perf_counter()
        a = self.address
        rpc_host = self.cfg.rpc_host or ("127.0.0.1" if a.kind == "local" else _route_to(a.host, a.port))
        self._link = RunLink(self.runtime.state.backend, self.token, self._on_notify)
        host, port = await self._link.start(rpc_host)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._start_sync, host, port, spell_file)
        ms = round((time.perf_counter() - t0) * 1000.0, 1)
        await self.runtime.events.publish(
            "cluster.started", {"address": self.cfg.address, "scheduler": self.scheduler, "workers": dict(self.workers),
                                "start_ms": ms}, source="cluster")

    def _start_sync(self, link_host: str, link_port: int, spell_file: str | None) -> None:
        import dask
        from distributed import Client, LocalCluster

        from llmspell.cluster.worker import LLMSpellWorkerPlugin, host_status

        a = self.address
        timeout = float(self.cfg.start_timeout_s)
        warnings.filterwarnings("ignore", message=r"Port \d+ is already in use", category=UserWarning)
        if a.kind == "local":
            # a worker that dies under a task fails it now; the step's retry policy decides what next
            dask.config.set({"distributed.scheduler.allowed-failures": 0})
            self._cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None, host="127.0.0.1", silence_logs=logging.CRITICAL,
                                         scheduler_port=0)
            self._client = Client(self._cluster, timeout=timeout)
        else:
            try:
                self._client = Client(a.url, timeout=timeout)
            except (OSError, TimeoutError) as e:
                raise ConfigurationError(f"cluster.address = {a.url!r}: cannot reach the Dask scheduler there "
                                         f"within {timeout:g} s ({type(e).__name__}: {e})") from None
        self.scheduler = str(self._client.scheduler.address)
        config = self.runtime.config.model_dump(mode="json")
        config["workspace"] = str(self.runtime.config.workspace_path)
        plugin = LLMSpellWorkerPlugin(self.key, config, link_host, link_port, self.token, spell_file)
        self._client.register_plugin(plugin, name=self._plugin_name)
        bad = {w: why for w, why in self._client.run(host_status, self.key).items() if why}
        if bad:
            w, why = next(iter(bad.items()))
            raise ConfigurationError(f"cluster: the worker {w} could not build the llmspell runtime: {why}")
        self.workers = {str(k): int(v) for k, v in self._client.run(os.getpid).items()}
        if not self.workers:
            raise ConfigurationError(f"cluster.address = {self.cfg.address!r}: the scheduler has no workers")

    def close(self) -> None:
        """Stop the local cluster (or leave the remote one, unregistering this run's plugin)."""
        self._stop_sync()

    def _stop_sync(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None
        client, self._client = self._client, None
        cluster, self._cluster = self._cluster, None
        if client is not None:
            if cluster is None:
                with contextlib.suppress(Exception):
                    client.unregister_worker_plugin(self._plugin_name)
            with contextlib.suppress(Exception):
                client.close(timeout=5)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=5)

    # ------------------------------------------------------------------------------ one step

    async def run_step(self, wf: Any, step: Any, inp: Any, scope: Any, *, label: str, index: int,
                       ev: dict[str, Any], where: dict[str, Any]) -> Any:
        """Run ``step`` on a worker; returns its output, raises WorkflowError naming item/step on failure."""
        from llmspell.cluster.worker import run_task

        if getattr(wf, "emit_output", None) is not None:
            self.emit_output = wf.emit_output
        spell_file = None
        fn = getattr(step, "fn", None)
        host = getattr(fn, "host", None)
        if host is not None and getattr(host.ctx, "file", None) is not None:
            spell_file = str(host.ctx.file)
        what = _what(step, label, scope)
        spec = await self._spec(wf, step, inp, scope, label, index, what)  # refusals come before any start
        await self.start(spell_file)
        tid = spec["task"]
        pending = _Pending(wf=wf, ev=ev)
        self._pending[tid] = pending
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[str, Any]] = loop.create_future()

        def settle(f: Any) -> None:  # a Dask callback thread
            try:
                r: tuple[str, Any] = ("ok", f.result())
            except BaseException as e:
                r = ("exc", e)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_set, done, r)

        dfut = self._client.submit(run_task, json.dumps(spec), key=f"{label}-{tid}", pure=False)
        dfut.add_done_callback(settle)
        try:
            kind, value = await done
        except asyncio.CancelledError:
            self._background(loop.run_in_executor(None, _cancel_quietly, dfut))
            if self._link is not None:
                self._background(asyncio.ensure_future(self._link.push({"op": "cancel", "tasks": [tid]})))
            raise
        finally:
            self._pending.pop(tid, None)
        if kind == "exc":
            e = value
            name = type(e).__name__
            if name == "KilledWorker":
                w = getattr(getattr(e, "last_worker", None), "address", None) or "a worker"
                where["worker"] = w
                raise WorkflowError(f"{what}: the worker running it ({w}) died",
                                    details={"step": step.name, "item": _item(scope), "worker": w})
            if name in ("CancelledError", "FutureCancelledError"):
                raise WorkflowError(f"{what}: its cluster task was cancelled",
                                    details={"step": step.name, "item": _item(scope)})
            raise WorkflowError(f"{what}: the cluster could not run it: {name}: {e}",
                                details={"step": step.name, "item": _item(scope)})
        res: dict[str, Any] = value
        w = str(res.get("worker") or "")
        where["worker"] = w
        await self._started(pending, w)
        if res.get("ok"):
            ao = res.get("agent_outputs")
            if isinstance(ao, dict) and ao:
                wf.agent_outputs.update(ao)
            return res.get("output")
        if res.get("cancelled"):
            raise WorkflowError(f"{what}: cancelled on the worker {w}", details={"step": step.name, "worker": w})
        err = WorkflowError(f"{what} failed on worker {w}: {res.get('error')}",
                            details={"step": step.name, "item": _item(scope), "worker": w,
                                     "file": res.get("file"), "line": res.get("line")})
        raise err

    def _background(self, fut: asyncio.Future[Any]) -> None:
        self._bg.add(fut)
        fut.add_done_callback(self._bg.discard)

    async def _spec(self, wf: Any, step: Any, inp: Any, scope: Any, label: str, index: int,
                    what: str) -> dict[str, Any]:
        from llmspell.engines.convert import jsonable
        from llmspell.workflows.resolve import MISSING

        fn_spec = await self._ship_fn(wf, step) if step.type == "function" else None
        agent = self._agent_config(step) if step.type == "agent" else None
        ctx: dict[str, Any] = {"input": jsonable(wf._input), "outputs": jsonable(wf.outputs),
                               "shared_data": jsonable(wf.shared_data), "extra": jsonable(scope.extra)}
        if scope.prev is not MISSING:
            ctx["prev"] = jsonable(scope.prev)
        try:
            step_data = step.model_dump(mode="json")
            json.dumps(inp, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise WorkflowError(f"{what}: its input cannot be sent to a cluster worker (only plain data can): {e}",
                                details={"step": step.name}) from None
        return {"task": uuid.uuid4().hex, "run": self.key, "label": label, "index": index,
                "workflow": {"id": wf.id, "name": wf.name, "type": wf.type, "execution_id": wf.execution_id},
                "step": step_data, "input": inp, "ctx": ctx, "fn": fn_spec, "agent": agent}

    async def _ship_fn(self, wf: Any, step: Any) -> dict[str, Any]:
        from llmspell.engines.lua.spell import LuaFunction

        fn = step.fn
        if not isinstance(fn, LuaFunction):
            lang = getattr(fn, "language", None) or "Python"
            if fn is None:
                raise WorkflowError(f"step '{step.name}' is a function step without its function "
                                    "(script functions are not saved in checkpoints)")
            raise WorkflowError(
                f"step '{step.name}' cannot run on the cluster: its function is {lang} code, and only Lua "
                "functions are sent to cluster workers (JavaScript closures cannot be rebuilt from their source "
                "reliably); run this spell without --cluster, or make the step a tool step",
                details={"step": step.name})
        key = (id(fn), wf.execution_id)
        fut = self._shipped.get(key)
        if fut is None:
            from llmspell.cluster.lua_ship import ship_lua_function

            fut = asyncio.ensure_future(fn.host.invoke(ship_lua_function, fn.host, fn.lua_fn, step.name))
            self._shipped[key] = fut
        return await asyncio.shield(fut)  # type: ignore[no-any-return]

    def _agent_config(self, step: Any) -> dict[str, Any]:
        agents = getattr(self.runtime, "agents", None)
        agent = agents.get(step.agent) if agents is not None else None
        if agent is None:
            raise WorkflowError(f"step '{step.name}': Agent '{step.agent}' not found "
                                "(create it with Agent.builder():name(...):build() before running the workflow)")
        cfg = getattr(agent, "config", None)
        if cfg is None or not hasattr(cfg, "model_dump") or type(agent).__name__ != "LLMAgent":
            raise WorkflowError(f"step '{step.name}' cannot run on the cluster: agent '{step.agent}' is a "
                                f"{type(agent).__name__}; only LLM agents (Agent.builder()) are rebuilt on workers")
        data: dict[str, Any] = cfg.model_dump(mode="json", exclude={"api_key"})
        return data

    # ------------------------------------------------------------------------------ what workers report

    async def _started(self, p: _Pending, worker: str) -> None:
        if p.started:
            return
        p.started = True
        p.worker = worker
        events = getattr(self.runtime, "events", None)
        if events is not None:
            await events.publish("workflow.step.started", {**p.ev, "worker": worker},
                                 correlation_id=p.wf.execution_id, source=p.wf.id)

    async def _on_notify(self, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        worker = str(msg.get("worker") or "")
        if op == "started":
            p = self._pending.get(str(msg.get("task")))
            if p is not None:
                await self._started(p, worker)
        elif op == "event":
            data = msg.get("data")
            if isinstance(data, dict):
                data = {**data, "worker": worker}
            await self.runtime.events.publish(str(msg.get("event_type")), data,
                                              correlation_id=msg.get("correlation_id"), source=msg.get("source"),
                                              metadata={"worker": worker})
        elif op == "output":
            emit = self.emit_output
            if emit is not None:
                emit(str(msg.get("stream") or "stdout"), str(msg.get("text") or ""))
        elif op == "hook":
            from llmspell.hooks.registry import HookExecution

            ex = msg.get("execution") or {}
            try:
                obs = HookExecution(**ex)
            except TypeError:
                return
            for fn in list(getattr(self.runtime.hooks, "_observers", [])):
                with contextlib.suppress(Exception):
                    fn(obs)


def _set(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _cancel_quietly(dfut: Any) -> None:
    with contextlib.suppress(Exception):
        dfut.cancel(force=True)


def _item(scope: Any) -> int | None:
    m = scope.extra.get("map") if isinstance(scope.extra, dict) else None
    return int(m["index"]) if isinstance(m, dict) and "index" in m else None


def _what(step: Any, label: str, scope: Any) -> str:
    """How an error names the task: the item (1-based, as Lua counts) and the step, or the branch."""
    item = _item(scope)
    if item is not None:
        return f"item {item} of map step '{step.name}'"
    b = scope.extra.get("branch") if isinstance(scope.extra, dict) else None
    if isinstance(b, dict) and b.get("name"):
        return f"step '{label}' of branch '{b['name']}'"
    return f"step '{label}'"


def _route_to(host: str, port: int) -> str:
    """The local address of the interface that reaches ``host`` (what the scheduler's workers can reach)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((host, port))
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"
