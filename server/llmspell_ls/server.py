"""The language server: documents, the API model, debounced diagnostics, runs, and a fast response path.

Shape (ruff / esbonio style): ``did*`` notifications only update state, synchronously and quickly
(text + incremental re-parse); requests compute on an immutable :class:`DocState` snapshot through the
pure functions in :mod:`llmspell_ls.features`; every LSP registration lives in :mod:`llmspell_ls.wiring`.

Fast path: request results are cached per (uri, version, method, position) as serialized JSON
(:class:`RawJSON`) and :class:`LlmspellProtocol` writes them straight into the response frame, so a
repeated request costs a dict lookup and a socket write; completion item lists are serialized once
per API model. Diagnostics run on a dedicated analysis thread after a per-document debounce and are
published with the document version.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from llmspell_ls import __version__
from llmspell_ls.apimodel import ApiIndex, load_index
from llmspell_ls.documents import Documents, language_of
from llmspell_ls.features.common import ClientOptions, RawJSON
from llmspell_ls.runs import RunManager

log = logging.getLogger("llmspell_ls")

DEBOUNCE_S = 0.1


class LlmspellProtocol(LanguageServerProtocol):
    """Writes :class:`RawJSON` results without re-serializing them."""

    _pending_writes: set[Any] = set()

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:  # type: ignore[override]
        if error is None and isinstance(result, RawJSON):
            self._result_types.pop(msg_id, None)
            body = f'{{"id":{json.dumps(msg_id)},"jsonrpc":"2.0","result":{result.text}}}'
            self._write_raw(body)
            return
        super()._send_response(msg_id, result, error)

    def notify_raw(self, method: str, params: Any) -> None:
        """Send a notification whose params are plain JSON data (no attrs round trip)."""
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params}, separators=(",", ":"))
        self._write_raw(body)

    def _write_raw(self, body: str) -> None:
        if self.writer is None:
            return
        raw = body.encode("utf-8")
        if self._include_headers:
            head = f"Content-Length: {len(raw)}\r\nContent-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n"
            raw = head.encode("ascii") + raw
        try:
            res = self.writer.write(raw)
            if inspect.isawaitable(res):
                self._pending_writes.add(fut := asyncio.ensure_future(res))
                fut.add_done_callback(self._pending_writes.discard)
        except BrokenPipeError:
            log.error("client went away")


class LlmspellServer(LanguageServer):
    def __init__(self, index: ApiIndex | None = None, runner: Any = None, *, debounce: float = DEBOUNCE_S):
        super().__init__("llmspell-ls", __version__, protocol_cls=LlmspellProtocol,
                         text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.docs = Documents()
        self._index = index
        self.options = ClientOptions()
        self.init_options: dict[str, Any] = {}
        self.debounce = debounce
        self.tasks: set[asyncio.Task[Any]] = set()
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self.run_diagnostics: dict[str, list[dict[str, Any]]] = {}
        self.runs = RunManager(self, runner)
        self.protocol: LlmspellProtocol
        self.analysis_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmspell-analysis")

    # ------------------------------------------------------------------ state
    @property
    def index(self) -> ApiIndex:
        if self._index is None:
            self._index = load_index()
            log.info("API model: %s", self._index.source)
        return self._index

    def workspace_root(self) -> str | None:
        try:
            return self.workspace.root_path
        except Exception:
            return None

    def run_task(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start a tracked background task; failures are logged, never lost or fatal."""
        task = asyncio.get_event_loop().create_task(coro)
        self.tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self.tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task failed", exc_info=t.exception())

        task.add_done_callback(done)
        return task

    def report_server_error(self, error: Exception, source: Any) -> None:  # type: ignore[override]
        """Log instead of popping up a message: a failing notification must not nag the user."""
        log.error("server error (%s): %s", getattr(source, "__name__", source), error, exc_info=error)

    def refresh_code_lens(self) -> None:
        if self.options.code_lens_refresh:
            try:
                self.workspace_code_lens_refresh(None)
            except Exception:
                log.debug("code lens refresh failed", exc_info=True)

    # ------------------------------------------------------------------ documents
    def open_document(self, uri: str, text: str, version: int, language_id: str) -> None:
        lang = language_of(uri, language_id)
        if lang is None:
            return
        self.docs.open(uri, text, version, lang)
        self.run_diagnostics.pop(uri, None)
        self.schedule_diagnostics(uri, delay=0.0)

    def change_document(self, uri: str, version: int) -> None:
        if uri not in self.docs:
            return
        text = self.workspace.get_text_document(uri).source
        self.docs.change(uri, text, version)
        self.run_diagnostics.pop(uri, None)
        self.schedule_diagnostics(uri)

    def close_document(self, uri: str) -> None:
        self.docs.close(uri)
        h = self._pending.pop(uri, None)
        if h is not None:
            h.cancel()
        self.run_diagnostics.pop(uri, None)
        self.protocol.notify_raw("textDocument/publishDiagnostics", {"uri": uri, "diagnostics": []})

    # ------------------------------------------------------------------ diagnostics
    def schedule_diagnostics(self, uri: str, delay: float | None = None) -> None:
        h = self._pending.pop(uri, None)
        if h is not None:
            h.cancel()
        loop = asyncio.get_event_loop()
        self._pending[uri] = loop.call_later(self.debounce if delay is None else delay,
                                             lambda: self.run_task(self._publish(uri)))

    async def _publish(self, uri: str) -> None:
        self._pending.pop(uri, None)
        doc = self.docs.get(uri)
        if doc is None:
            return
        from llmspell_ls.features.diagnostics import diagnostics

        loop = asyncio.get_running_loop()
        diags = await loop.run_in_executor(self.analysis_executor, diagnostics, doc, self.index, self.options.encoding)
        cur = self.docs.get(uri)
        if cur is None or cur.version != doc.version:
            return  # a newer version is on its way
        self._send_diagnostics(uri, doc.version, diags)

    def _send_diagnostics(self, uri: str, version: int | None, diags: list[dict[str, Any]]) -> None:
        extra = self.run_diagnostics.get(uri, [])
        params: dict[str, Any] = {"uri": uri, "diagnostics": [*diags, *extra]}
        if version is not None:
            params["version"] = version
        self.protocol.notify_raw("textDocument/publishDiagnostics", params)

    def set_run_failure(self, uri: str, version: int | None, line: int, column: int | None, message: str) -> None:
        """Show a failed run's error at its line until the document changes."""
        doc = self.docs.get(uri)
        if doc is not None and version is not None and doc.version != version:
            return  # the document changed while the spell ran; the line may be wrong now
        row = max(0, line - 1)
        text_line = doc.line(row) if doc is not None else ""
        start = max(0, (column or 1) - 1) if column else len(text_line) - len(text_line.lstrip())
        from llmspell_ls.features.common import col_to_client

        enc = self.options.encoding
        d = {"range": {"start": {"line": row, "character": col_to_client(text_line, min(start, len(text_line)), enc)},
                       "end": {"line": row, "character": col_to_client(text_line, len(text_line), enc)}},
             "severity": 1, "code": "run-failed", "source": "llmspell", "message": f"run failed: {message}"}
        self.run_diagnostics[uri] = [d]
        if doc is not None:
            self.schedule_diagnostics(uri, delay=0.0)  # republish (analysis thread) with the run's error
        else:
            self._send_diagnostics(uri, None, [])

    # ------------------------------------------------------------------ request cache
    def cached(self, uri: str, key: tuple[Any, ...], compute: Callable[[Any], Any]) -> Any:
        """The serialized result of ``compute(doc)`` for this document version, computed once."""
        doc = self.docs.get(uri)
        if doc is None:
            return RawJSON("null")
        full = ("resp", *key)
        got = doc.cache.get(full)
        if got is None:
            res = compute(doc)
            got = res if isinstance(res, RawJSON) else RawJSON(json.dumps(res, separators=(",", ":")))
            doc.cache[full] = got
        return got


def client_options(caps: lsp.ClientCapabilities, encoding: str) -> ClientOptions:
    from pygls.capabilities import get_capability

    def cap(path: str, default: Any = None) -> Any:
        try:
            return get_capability(caps, path, default)
        except Exception:
            return default

    ci = cap("text_document.completion.completion_item")
    doc_formats = getattr(ci, "documentation_format", None) or []
    tags = getattr(getattr(ci, "tag_support", None), "value_set", None) or []
    hover_formats = cap("text_document.hover.content_format") or []
    sig_info = cap("text_document.signature_help.signature_information")
    sig_formats = getattr(sig_info, "documentation_format", None) or []
    return ClientOptions(
        encoding=encoding,
        snippets=bool(getattr(ci, "snippet_support", False)),
        markdown=lsp.MarkupKind.Markdown in doc_formats,
        deprecated_tag=lsp.CompletionItemTag.Deprecated in tags,
        deprecated_flag=bool(getattr(ci, "deprecated_support", False)),
        hover_markdown=lsp.MarkupKind.Markdown in hover_formats or not hover_formats,
        signature_markdown=lsp.MarkupKind.Markdown in sig_formats,
        label_details=bool(getattr(ci, "label_details_support", False)),
        diagnostic_tags=bool(cap("text_document.publish_diagnostics.tag_support")),
        code_action_literals=bool(cap("text_document.code_action.code_action_literal_support")),
        work_done_progress=bool(cap("window.work_done_progress", False)),
        code_lens_refresh=bool(cap("workspace.code_lens.refresh_support", False)),
        resolve_docs="documentation" in (getattr(getattr(ci, "resolve_support", None), "properties", None) or []),
    )


def create_server(index: ApiIndex | None = None, runner: Any = None, **kw: Any) -> LlmspellServer:
    from llmspell_ls.wiring import register

    server = LlmspellServer(index, runner, **kw)
    register(server)
    return server


def serve(tcp: str | None = None, log_file: str | None = None) -> int:
    """Serve LSP over stdio (or TCP ``host:port`` for debugging). Logs go to stderr or ``log_file``."""
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if log_file else logging.WARNING, handlers=[handler])
    logging.getLogger("pygls").setLevel(logging.WARNING)
    # spells and analysis run on other threads and compete for the GIL; the interval can be tuned
    # (measured: no clear gain from 1 ms or 0.2 ms over Python's 5 ms default on 2 cores)
    if os.environ.get("LLMSPELL_LS_SWITCH_INTERVAL"):
        sys.setswitchinterval(float(os.environ["LLMSPELL_LS_SWITCH_INTERVAL"]))
    server = create_server()
    if tcp:
        host, _, port = tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()
    return 0
