"""Running spells from the editor: ``llmspell.runSpell`` / ``llmspell.cancelSpell`` and the run stream.

The runtime is asyncio too, but it never shares the language server's loop: every run is driven on one
background *run loop* thread (the runner starts each spell on its own interpreter thread from there), and
messages hop back to the LSP loop with ``call_soon_threadsafe``. So completion and hover never wait for
a spell, whatever the runtime does on its loop.

Per run, the client sees: ``llmspell/runStarted``, ``llmspell/output``, ``llmspell/event``,
``llmspell/hookResult`` (payload = the RunMessage dumped with ``mode="json"`` plus ``runId`` and
``uri``), ``$/progress`` (fresh token, created with ``window/workDoneProgress/create`` when the client
supports it; cancelling it cancels the run), then progress ``end`` and *last* ``llmspell/runFinished``.

Editor runs are traced (:mod:`llmspell.tracing`; ``LLMSPELL_LS_TRACE=0`` in the server's environment
turns it off): just before ``runFinished`` the client gets ``llmspell/trace`` (``runId``, ``uri``,
``spans``: how many) and can fetch the OTLP JSON with the ``llmspell.getTrace`` command (``runId``)
for the last :data:`KEEP_TRACES` runs ("Show trace" in VS Code). With ``OTEL_EXPORTER_OTLP_ENDPOINT``
set for the server, the traces are exported over OTLP/HTTP as well.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import os
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lsprotocol import types as lsp

if TYPE_CHECKING:
    from llmspell_ls.server import LlmspellServer

log = logging.getLogger(__name__)

NOTIFY = {
    "started": "llmspell/runStarted",
    "output": "llmspell/output",
    "event": "llmspell/event",
    "hookResult": "llmspell/hookResult",
    "finished": "llmspell/runFinished",
}
TRACE_ENV = "LLMSPELL_LS_TRACE"
"""``0``/``false`` in the server's environment: editor runs are not traced."""
KEEP_TRACES = 20
"""Traces of finished runs kept for ``llmspell.getTrace`` (oldest dropped first)."""
RUNNER_ENV = "LLMSPELL_LS_RUNNER"
"""``module:callable`` returning a runner object (tests inject a stand-in runner this way)."""

_END = object()


@dataclass
class RunState:
    run_id: str
    uri: str
    version: int | None
    token: str | None = None
    root: str | None = None
    """The workspace folder the spell is under (its llmspell.toml configures the run)."""
    finished: bool = False
    task: asyncio.Task[Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class RunManager:
    def __init__(self, server: LlmspellServer, runner: Any = None):
        self.server = server
        self._runner = runner
        self._runners: dict[str | None, Any] = {}
        """One runner per workspace folder (each folder's llmspell.toml), created on first use."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.runs: dict[str, RunState] = {}
        self._consumers: set[asyncio.Task[Any]] = set()
        self.traces: OrderedDict[str, dict[str, Any]] = OrderedDict()
        """OTLP JSON of the last runs' traces, by run id (see ``llmspell.getTrace``)."""

    # ------------------------------------------------------------------ run loop thread
    def _run_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def main() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=main, name="llmspell-runs", daemon=True)
                self._thread.start()
                ready.wait(5)
                self._loop = loop
            return self._loop

    def _get_runner(self, root: str | None = None) -> Any:
        """The runner for spells under workspace folder ``root``, created on first use *on the run loop
        thread* (heavy imports stay off the LSP loop). An injected runner serves every folder."""
        if self._runner is not None:
            return self._runner
        spec = os.environ.get(RUNNER_ENV)
        if spec:
            mod, _, attr = spec.partition(":")
            self._runner = getattr(importlib.import_module(mod), attr or "make_runner")()
            return self._runner
        runner = self._runners.get(root)
        if runner is None:
            config = self._load_config(root)
            if config is not None and config.limits.isolation == "none":
                from llmspell.runner import SpellRunner

                runner = SpellRunner(config=config)
            else:
                # every run in its own killable process, forked by a pre-imported zygote (the
                # server itself has threads and its stdout is the LSP stream: it never forks)
                from llmspell.isolation import IsolatedRunner, ZygoteSpawner

                runner = IsolatedRunner(config=config, spawner=ZygoteSpawner(
                    preload=("llmspell.tracing.tracer",) if _tracing_on() else ()))
            self._runners[root] = runner
        return runner


    def _load_config(self, root: str | None = None) -> Any:
        """llmspell.toml of workspace folder ``root`` (default: the first root) + LLMSPELL_* + the client's
        settings (initializationOptions / didChangeConfiguration)."""
        root = root or self.server.workspace_root()
        if root is None:
            return None
        try:
            from llmspell.config import load_config

            return load_config(root, overrides=self.server.init_options or None)
        except Exception:
            log.exception("cannot load llmspell.toml; using defaults")
            return None

    def reconfigure(self) -> None:
        """New settings from the client: runs started from now on use them (running ones keep theirs)."""
        runners = [(None, self._runner)] if self._runner is not None else list(self._runners.items())
        for root, runner in runners:
            if hasattr(runner, "set_config"):
                config = self._load_config(root)
                if config is not None:
                    runner.set_config(config)

    def running_for(self, uri: str) -> str | None:
        return next((r.run_id for r in self.runs.values() if r.uri == uri and not r.finished), None)

    # ------------------------------------------------------------------ commands
    def start(self, uri: str) -> str:
        run_id = uuid.uuid4().hex[:12]
        doc = self.server.docs.get(uri)
        st = RunState(run_id, uri, doc.version if doc else None, root=self.server.workspace_root(uri))
        self.runs[run_id] = st
        st.task = self.server.run_task(self._drive(st, doc.text if doc else None))
        return run_id

    async def cancel(self, run_id: str) -> bool:
        st = self.runs.get(run_id)
        if st is None or st.finished:
            return False
        loop = self._run_loop()

        async def do_cancel() -> bool:
            return bool(await self._get_runner(st.root).cancel(run_id))

        fut = asyncio.run_coroutine_threadsafe(do_cancel(), loop)
        return await asyncio.wrap_future(fut)

    # ------------------------------------------------------------------ one run
    async def _drive(self, st: RunState, source: str | None) -> None:
        ls = self.server
        lsp_loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        path = _path_of(st.uri)
        if ls.options.work_done_progress:
            st.token = f"llmspell-run-{st.run_id}"
            try:
                await asyncio.wait_for(ls.work_done_progress.create_async(st.token), 5)
                ls.work_done_progress.begin(st.token, lsp.WorkDoneProgressBegin(
                    title=f"Running {Path(path).name}", cancellable=True, message="starting"))
                fut = ls.work_done_progress.tokens.get(st.token)
                if fut is not None:
                    fut.add_done_callback(lambda f: f.cancelled() and not st.finished
                                          and ls.run_task(self.cancel(st.run_id)))
            except Exception:
                log.exception("work-done progress unavailable")
                st.token = None
        ls.refresh_code_lens()

        def put(item: Any) -> None:
            lsp_loop.call_soon_threadsafe(queue.put_nowait, item)

        async def consume() -> None:
            # the run loop keeps only weak references to tasks: without this one, a run whose task
            # waits on a stream reader (referenced weakly by its protocol) is garbage-collected mid-run
            task = asyncio.current_task()
            if task is not None:
                self._consumers.add(task)
                task.add_done_callback(self._consumers.discard)
            try:
                runner = self._get_runner(st.root)
                collector = _collector_for(runner, path)
                kw: dict[str, Any] = {"trace": collector.options} if collector is not None else {}
                async for msg in runner.run(Path(path), source=source, run_id=st.run_id, **kw):
                    if collector is not None and collector.observe(msg):
                        continue
                    otlp = None
                    if collector is not None and getattr(msg, "type", None) == "finished":
                        otlp = collector.otlp_json()
                        put(_TraceReady(otlp, len(collector.spans)))
                    put(msg)
                    if otlp is not None:
                        await _export(otlp)  # after runFinished: a slow collector never delays the editor
            except BaseException as e:
                put(e)
            finally:
                put(_END)

        asyncio.run_coroutine_threadsafe(consume(), self._run_loop())
        got_finished = False
        while True:
            item = await queue.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                if not got_finished:
                    self._finish(st, _synthetic_finished(st.run_id, item))
                    got_finished = True
                continue
            if isinstance(item, _TraceReady):
                self.keep_trace(st.run_id, item.otlp)
                ls.protocol.notify_raw("llmspell/trace", {"runId": st.run_id, "uri": st.uri, "spans": item.count})
                continue
            kind = getattr(item, "type", None)
            if kind == "finished":
                if not got_finished:
                    self._finish(st, item)
                got_finished = True
                continue
            if kind == "progress" and st.token is not None:
                ls.work_done_progress.report(st.token, lsp.WorkDoneProgressReport(
                    message=item.message, percentage=item.percentage))
                continue
            method = NOTIFY.get(kind or "")
            if method is not None:
                ls.protocol.notify_raw(method, _payload(item, st))
        if not got_finished:
            self._finish(st, _synthetic_finished(st.run_id, RuntimeError("the run ended without a result")))

    def keep_trace(self, run_id: str, otlp: dict[str, Any]) -> None:
        self.traces[run_id] = otlp
        while len(self.traces) > KEEP_TRACES:
            self.traces.popitem(last=False)

    def trace_of(self, run_id: str) -> dict[str, Any]:
        """The OTLP JSON trace of a finished editor run (``llmspell.getTrace``)."""
        otlp = self.traces.get(run_id)
        if otlp is None:
            known = "no run has a trace yet" if not self.traces else f"traced runs: {', '.join(self.traces)}"
            raise ValueError(f"llmspell.getTrace: no trace for run '{run_id}' ({known})")
        return otlp

    def _finish(self, st: RunState, msg: Any) -> None:
        ls = self.server
        st.finished = True
        if st.token is not None:
            status = getattr(msg, "status", "error")
            ls.work_done_progress.end(st.token, lsp.WorkDoneProgressEnd(message=str(status)))
        err = getattr(msg, "error", None)
        if getattr(msg, "status", None) == "error" and err is not None and err.line:
            ls.set_run_failure(st.uri, st.version, err.line, err.column, err.message)
        ls.protocol.notify_raw(NOTIFY["finished"], _payload(msg, st))
        ls.refresh_code_lens()


@dataclass
class _TraceReady:
    otlp: dict[str, Any]
    count: int


def _tracing_on() -> bool:
    return os.environ.get(TRACE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _collector_for(runner: Any, path: str) -> Any:
    """A TraceCollector for this run, or None (tracing off, or a runner that cannot trace)."""
    if not _tracing_on():
        return None
    try:
        if "trace" not in inspect.signature(runner.run).parameters:
            return None
        from llmspell.runner import language_for
        from llmspell.tracing.collect import TraceCollector
    except (TypeError, ValueError, ImportError):
        return None
    return TraceCollector(path, language_for(path) or "lua")


async def _export(otlp: dict[str, Any]) -> None:
    """OTLP/HTTP export when the server's environment names an endpoint (off the run loop)."""
    from llmspell.tracing import otlp_endpoint

    endpoint = otlp_endpoint()
    if not endpoint:
        return
    from llmspell.tracing.export import export_otlp

    problem = await asyncio.to_thread(export_otlp, otlp, endpoint)
    if problem:
        log.warning("%s", problem)


def _payload(msg: Any, st: RunState) -> dict[str, Any]:
    data: dict[str, Any] = msg.model_dump(mode="json") if hasattr(msg, "model_dump") else dict(msg)
    data["runId"] = st.run_id
    data["uri"] = st.uri
    return data


def _synthetic_finished(run_id: str, exc: BaseException) -> Any:
    from llmspell.messages import ErrorInfo, Finished

    status: Literal["cancelled", "error"] = "cancelled" if isinstance(exc, asyncio.CancelledError) else "error"
    return Finished(run_id=run_id, status=status, exit_code=1,
                    error=ErrorInfo(message=f"{type(exc).__name__}: {exc}", kind="internal"))


def _path_of(uri: str) -> str:
    from pygls.uris import to_fs_path

    return to_fs_path(uri) or uri
