"""The language server: documents, the API model, debounced diagnostics, runs, and a fast response path.

Shape (ruff / esbonio style): ``did*`` notifications only update state, synchronously and quickly
(text + incremental re-parse); requests compute on an immutable :class:`DocState` snapshot through the
pure functions in :mod:`llmspell_ls.features`; every LSP registration lives in :mod:`llmspell_ls.wiring`.

Fast path: request results are cached per (uri, version, method, position) as serialized JSON
(:class:`RawJSON`) and :class:`LlmspellProtocol` writes them straight into the response frame, so a
repeated request costs a dict lookup and a socket write; completion item lists are serialized once
per API model. Diagnostics run on a dedicated analysis thread after a per-document debounce and are
published with the document version.

Requests that can be slow run through :meth:`LlmspellServer.compute`: off the event loop on a small
request pool, cancellable (``$/cancelRequest`` trips the computation's :class:`~llmspell_ls.budget.Token`,
which the walks check with :func:`~llmspell_ls.budget.checkpoint`) and bounded (over its budget a request
answers with what it has, ``null`` at worst). The diagnostics pass has a budget per run too and yields
the GIL to requests in flight; a pass cut short keeps its per-statement progress and continues shortly,
so a 200,000-line file gets its diagnostics in slices while completion keeps answering.

Diagnostics reach the client by *pull* (``textDocument/diagnostic``, ``workspace/diagnostic``, with
result ids) when the client supports it, else by *push*; never both.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcMethodNotFound
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method

from llmspell_ls import __version__
from llmspell_ls.apimodel import ApiIndex, load_index
from llmspell_ls.budget import Cancelled, Token, running
from llmspell_ls.documents import WINDOW_MIN_BYTES, DocState, Documents, apply_changes, language_of
from llmspell_ls.features.common import ClientOptions, RawJSON
from llmspell_ls.runs import RunManager

log = logging.getLogger("llmspell_ls")

DEBOUNCE_S = 0.1
REQUEST_BUDGET_MS = 150.0
"""Default budget of a request computed through :meth:`LlmspellServer.compute`."""
DIAGNOSTICS_BUDGET_MS = 1000.0
"""Budget of one diagnostics pass; a pass cut short continues (from its cached statements) shortly."""
DIAGNOSTICS_RESUME_S = 0.05
MAX_DIAGNOSTIC_PASSES = 60
"""A document whose diagnostics need more passes than this gets what they found (bounded work)."""
YIELD_MAX_S = 0.2
"""How long a background pass waits at a checkpoint for the requests in flight (GIL to requests)."""

REQUEST_DEADLINE_MS = 130.0
"""No request computed through :meth:`LlmspellServer.compute` is answered later than this after its
bytes were read (:data:`ARRIVED`: the time spent before its handler ran — the loop applying a 10 MB
``didOpen`` ahead of it — counts), unless its handler opts out. Its computation gets what is left minus
``DEADLINE_MARGIN_MS`` to answer with what it has; past the deadline the loop answers ``empty`` itself."""
DEADLINE_MARGIN_MS = 50.0
MIN_WORK_MS = 20.0
"""However late a request's handler starts, its computation gets at least this (a cached or cheap
answer still comes)."""

LAST_READ = [0.0]
"""``time.monotonic()`` of the last read from the client (a background parse waits for a quiet moment)."""
QUIET_MS = 30.0
"""A background parse pauses until nothing was read from the client for this long (requests come in
bursts, right after a ``didOpen`` above all: the loop applying them should not share the CPU with it)."""

ARRIVED: contextvars.ContextVar[float] = contextvars.ContextVar("llmspell_arrived", default=0.0)
"""``time.monotonic()`` when the message being handled was read (set by :class:`FrameReader`; 0: unknown)."""


def late_ms() -> float:
    """Milliseconds since the current request was read (0 when unknown)."""
    arrived = ARRIVED.get()
    return (time.monotonic() - arrived) * 1000.0 if arrived else 0.0


def time_left_ms(deadline_ms: float) -> float:
    """``deadline_ms`` minus :func:`late_ms` (at least ``DEADLINE_MARGIN_MS + MIN_WORK_MS``)."""
    return max(DEADLINE_MARGIN_MS + MIN_WORK_MS, deadline_ms - late_ms())

UNBOUNDED = os.environ.get("LLMSPELL_LS_UNBOUNDED", "") not in ("", "0")
"""Reference mode (benchmarks, tests): requests computed through :meth:`LlmspellServer.compute` get no
budget, no deadline and no window: the unbounded answer partial ones are judged against. Never for users."""

PARSE_IN_BUDGET_BYTES = 512 * 1024
"""A document at least this large is never parsed within a request's budget (tree-sitter reads ~4 MB/s
on a busy machine): a request that needs its tree, and has no window to answer from, answers empty at
once until the background parse is done."""

INLINE_MAX_DOC_CHARS = 1_000_000
"""Largest document whose cheap requests (``compute(..., cheap=line)``) run on the loop."""
INLINE_MAX_LINE_CHARS = 2_000
"""Longest cursor line for which a cheap request runs on the loop."""
INLINE_SLOW_MS = 20.0
"""An inline computation over this sends the rest of the document version's requests off the loop."""
INLINE_BUDGET_MS = 20.0
"""Budget of a computation on the loop: one stopped by it (at a checkpoint) is re-run on the pool."""

_DROPPED = object()
"""A request answered at deserialization time (invalid params): nothing more to do."""


class RpcError:
    """A handler's *expected* error answer (ServerCancelled while diagnostics are computed), returned
    rather than raised: pygls logs a raised one with its traceback, at every retry."""

    __slots__ = ("code", "data", "message")

    def __init__(self, code: int, message: str, data: Any = None):
        self.code, self.message, self.data = code, message, data


class _FastRequest:
    """A request with a fast path, still as parsed JSON (see :attr:`LlmspellServer.fast_paths`)."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]):
        self.data = data


FastPath = Callable[["LlmspellServer", Any], "RawJSON | None"]
_NO_FAST_PATHS: dict[str, FastPath] = {}
"""``(server, raw params) -> answer`` when it needs no thread (cached, or cheap on the loop), else None."""


def text_position(params: Any) -> tuple[str, int, int] | None:
    """(uri, line, character) of raw ``TextDocumentPositionParams``; None unless well-formed (then the
    ordinary path, with its InvalidParams answer, handles the request)."""
    try:
        uri = params["textDocument"]["uri"]
        pos = params["position"]
        line, ch = pos["line"], pos["character"]
    except (KeyError, TypeError):
        return None
    if type(uri) is not str or type(line) is not int or type(ch) is not int or line < 0 or ch < 0:
        return None
    if line > 0x7FFFFFFF or ch > 0x7FFFFFFF:
        return None
    return uri, line, ch


class LlmspellProtocol(LanguageServerProtocol):
    """Writes :class:`RawJSON` results without re-serializing them."""

    _pending_writes: set[Any] = set()

    @property
    def _fast_paths(self) -> dict[str, FastPath]:
        return getattr(self._server, "fast_paths", _NO_FAST_PATHS)

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:  # type: ignore[override]
        if error is None and isinstance(result, RpcError):
            self._result_types.pop(msg_id, None)
            err: dict[str, Any] = {"code": result.code, "message": result.message}
            if result.data is not None:
                err["data"] = result.data
            self._write_raw(json.dumps({"id": msg_id, "jsonrpc": "2.0", "error": err}, separators=(",", ":")))
            return
        if error is None and isinstance(result, RawJSON):
            self._result_types.pop(msg_id, None)
            rid = str(msg_id) if type(msg_id) is int else json.dumps(msg_id)
            body = f'{{"id":{rid},"jsonrpc":"2.0","result":{result.text}}}'
            self._write_raw(body)
            return
        super()._send_response(msg_id, result, error)

    def structure_message(self, data: dict[str, Any]) -> Any:  # type: ignore[override]
        """As pygls, but a request whose params do not fit the method's type (a negative position, a
        missing field) gets an InvalidParams *response* instead of silence, and nothing is logged
        with a traceback. A request with a fast path (:attr:`LlmspellServer.fast_paths`) is kept as
        plain data for :meth:`handle_message`."""
        if "jsonrpc" not in data:
            return data
        if "id" in data and data.get("method") in self._fast_paths and not self._shutdown:
            return _FastRequest(data)
        return self._structure(data)

    def _structure(self, data: dict[str, Any]) -> Any:
        try:
            if "id" in data and "method" in data:
                return self._converter.structure(data, self.get_message_type(data["method"])
                                                 or _json_rpc_request_type())
            return super().structure_message(data)
        except Exception as exc:
            method = data.get("method")
            if "id" in data and method:
                log.warning("invalid params for %s (id %s): %s", method, data["id"], _short(exc))
                err = JsonRpcInvalidParams(f"invalid params for {method}: {_short(exc)}")
                self._send_response(data["id"], error=err.to_response_error())
                return _DROPPED
            raise

    def handle_message(self, message: Any) -> None:
        if type(message) is _FastRequest:
            data = message.data
            try:
                res = self._fast_paths[data["method"]](self._server, data.get("params"))  # type: ignore[arg-type]
            except Exception:  # the ordinary path answers (with an error response if it fails too)
                log.debug("fast path of %s failed", data["method"], exc_info=True)
                res = None
            if res is not None:
                self._send_response(data["id"], res)
                return
            message = self._structure(data)
        if message is _DROPPED:
            return
        super().handle_message(message)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: lsp.DidChangeTextDocumentParams) -> Any:
        """Changes are applied by :meth:`LlmspellServer.change_document` (LSP line endings, one
        string operation per change); pygls's own copy is kept in step without re-applying them."""
        if (user_handler := self.fm.features.get(lsp.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None

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
            if res is not None and inspect.isawaitable(res):
                self._pending_writes.add(fut := asyncio.ensure_future(res))
                fut.add_done_callback(self._pending_writes.discard)
        except BrokenPipeError:
            log.error("client went away")


class ChunkReader:
    """Reads stdin for :func:`pygls.io_.run_async`. pygls's reader does a thread-pool hop per line and
    per body (three per message: ~0.1-0.3 ms each on a busy machine); this one reads whatever is
    available in one hop (``read1``) and serves header lines and bodies from a buffer, so a message
    usually costs one hop and messages that arrive together cost one between them. With ``pipe`` (stdin
    is a pipe of its own: :func:`stdin_is_own_pipe`), the event loop watches stdin and there is no hop."""

    CHUNK = 1 << 16

    def __init__(self, stdin: Any, executor: Any = None, *, pipe: bool = False):
        self.stdin = stdin
        self.executor = executor
        self.buf = bytearray()
        self._read = stdin.read1 if hasattr(stdin, "read1") else stdin.read
        self._pipe = pipe
        self._stream: asyncio.StreamReader | None = None

    async def _fill(self) -> bool:
        if self._pipe:  # first read: watch the pipe from the loop (no thread hop at all)
            self._pipe = False
            try:
                stream = asyncio.StreamReader(limit=1 << 30)
                loop = asyncio.get_running_loop()
                await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), self.stdin)
                self._stream = stream
            except Exception as exc:  # not a pipe after all: the thread reader
                log.info("stdin not watched by the event loop (%s): read on a thread", _short(exc))
        if self._stream is not None:
            data = await self._stream.read(self.CHUNK)
        else:
            data = await asyncio.get_running_loop().run_in_executor(self.executor, self._read, self.CHUNK)
        if not data:
            return False
        self.buf += data
        return True

    async def readline(self) -> bytes:
        start = 0
        while True:
            i = self.buf.find(b"\n", start)
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            start = len(self.buf)
            if not await self._fill():
                line = bytes(self.buf)
                self.buf.clear()
                return line

    async def readexactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not await self._fill():
                return b""  # end of input mid-message
        body = bytes(self.buf[:n])
        del self.buf[:n]
        return body


class FrameReader(asyncio.Protocol):
    """Reads LSP frames from a pipe the event loop watches and handles each message in the same
    callback (``data_received``). pygls's loop (:func:`pygls.io_.run_async` over a stream reader) wakes
    a coroutine per header line and per body, two loop iterations a message; this is one, and a fast
    path answer (:attr:`LlmspellServer.fast_paths`) is written before the callback returns."""

    def __init__(self, protocol: LlmspellProtocol, done: asyncio.Future[None],
                 on_error: Callable[[Exception, Any], Any] | None = None):
        self.lsp = protocol
        self.done = done
        self.on_error = on_error
        self.buf = bytearray()
        self.need = -1
        """Body length of the frame being read (-1: reading its headers)."""
        self.body_at = 0

    BIG_BODY = 1 << 20
    """A body at least this large is gathered as a list of chunks, joined once (appending 10 MB to a
    bytearray 64 KB at a time, then copying it out, cost ~20 ms of the loop per huge ``didOpen``)."""
    parts: list[bytes] | None = None
    have = 0

    def data_received(self, data: bytes) -> None:
        self.arrived = LAST_READ[0] = time.monotonic()
        if self.parts is not None:  # in the middle of a big body
            self.parts.append(data)
            self.have += len(data)
            if self.have < self.need:
                return
            whole = b"".join(self.parts)
            self.parts = None
            body, data = (whole, b"") if len(whole) == self.need else (whole[:self.need], whole[self.need:])
            self.need = -1
            self._handle(body)
            if not data:
                return
        buf = self.buf
        buf += data
        while True:
            if self.need < 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                length = _content_length(bytes(buf[:end]))
                if length is None:  # headers without a length: skip them (as pygls does)
                    del buf[:end + 4]
                    continue
                self.need, self.body_at = length, end + 4
            if len(buf) < self.body_at + self.need:
                if self.need >= self.BIG_BODY:
                    self.parts = [bytes(buf[self.body_at:])]
                    self.have = len(self.parts[0])
                    del buf[:]
                return
            body = bytes(buf[self.body_at:self.body_at + self.need])
            del buf[:self.body_at + self.need]
            self.need = -1
            self._handle(body)

    arrived = 0.0
    """When the chunk that completed the frame being handled was read (its request's clock starts then)."""

    def _handle(self, body: bytes) -> None:
        ARRIVED.set(self.arrived)  # a handler's task copies the context: compute() reads it
        try:
            # one decode (json's encoding detection skipped unless a BOM); a dict: structured once, not
            # through an object hook called for every nested dict
            data = json.loads(body.decode("utf-8") if body[:1] != b"\xef" else body)
            msg = self.lsp.structure_message(data) if type(data) is dict \
                else json.loads(body, object_hook=self.lsp.structure_message)
            self.lsp.handle_message(msg)
        except Exception as exc:
            log.exception("Unable to handle message")
            if self.on_error is not None:
                self.on_error(exc, JsonRpcException)

    def eof_received(self) -> bool | None:
        if not self.done.done():
            self.done.set_result(None)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


def _content_length(headers: bytes) -> int | None:
    for line in headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None


def stdin_is_own_pipe(stdin: Any, stdout: Any) -> bool:
    """stdin is a pipe (FIFO) that is not also stdout: the event loop may read it (which makes it
    non-blocking; a file description shared with stdout would make the blocking writes fail)."""
    import stat

    if os.name != "posix":
        return False
    try:
        st_in = os.fstat(stdin.fileno())
        st_out = os.fstat(stdout.fileno())
    except Exception:
        return False
    return stat.S_ISFIFO(st_in.st_mode) and (st_in.st_dev, st_in.st_ino) != (st_out.st_dev, st_out.st_ino)


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
        """The diagnostics pass (one at a time, budgeted, yields to requests)."""
        self.request_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="llmspell-request")
        """Requests computed through :meth:`compute` (two: one hostile request cannot block the rest)."""
        self.inflight = 0
        """Requests being computed off the loop right now (background passes yield to them)."""
        self.pull_diagnostics = False
        """The client pulls diagnostics (``textDocument/diagnostic``): nothing is pushed."""
        self.diagnostic_refresh = False
        """The client accepts ``workspace/diagnostic/refresh``."""
        self.diag_results: dict[str, tuple[int, str, list[dict[str, Any]]]] = {}
        """uri -> (version, result id, diagnostics) of the last complete pass."""
        self.diag_changed = asyncio.Event()
        """Set when some document's diagnostics changed (held ``workspace/diagnostic`` requests wake)."""
        self.file_diag_cache: dict[str, Any] = {}
        """Spells on disk analysed for ``workspace/diagnostic`` (path -> (stamp, result id, list))."""
        self._diag_waiters: dict[str, list[asyncio.Future[Any]]] = {}
        self._passes: dict[tuple[str, int], int] = {}
        self._analysing: set[str] = set()
        """Documents with a diagnostics pass in progress."""
        self.cancelled_pulls: set[str] = set()
        """Documents whose pull was answered ServerCancelled (pass not done): refreshed when it is."""
        self.slow_uris: set[str] = set()
        """Documents on which a cheap request ran over ``INLINE_SLOW_MS`` on the loop: off the loop now."""
        self.fast_paths: dict[str, FastPath] = {}
        """Method -> a synchronous answer from the raw params, tried before pygls structures the
        request (cattrs) and runs its handler as a task: a cached or cheap answer is written at once,
        which is most of a sub-millisecond request's cost. None falls back to the handler."""

    def _start_io_async(self, stdin: Any = None, stdout: Any = None) -> None:  # type: ignore[override]
        """As pygls, with :class:`ChunkReader` (one thread hop per read of stdin, not three per message)."""
        from threading import Event

        from pygls.io_ import StdoutWriter, run_async

        self._stop_event = Event()
        stdin = stdin or sys.stdin.buffer
        stdout = stdout or sys.stdout.buffer
        self.protocol.set_writer(StdoutWriter(stdout))
        if stdin_is_own_pipe(stdin, stdout):
            main = self._serve_pipe(stdin)
        else:
            reader = ChunkReader(stdin, self.thread_pool)
            main = run_async(stop_event=self._stop_event, reader=reader, protocol=self.protocol,
                             logger=logging.getLogger("pygls.server"), error_handler=self.report_server_error)
        try:
            asyncio.run(main)
        except BrokenPipeError:
            log.error("connection to the client is lost: shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    async def _serve_pipe(self, stdin: Any) -> None:
        """Serve a stdin pipe watched by the event loop (:class:`FrameReader`) until it closes."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        try:
            await loop.connect_read_pipe(lambda: FrameReader(self.protocol, done, self.report_server_error), stdin)
        except Exception as exc:  # not watchable after all: the thread reader
            log.info("stdin not watched by the event loop (%s): read on a thread", _short(exc))
            from pygls.io_ import run_async

            assert self._stop_event is not None
            await run_async(stop_event=self._stop_event, reader=ChunkReader(stdin, self.thread_pool),
                            protocol=self.protocol, logger=logging.getLogger("pygls.server"),
                            error_handler=self.report_server_error)
            return
        await done

    # ------------------------------------------------------------------ state
    @property
    def index(self) -> ApiIndex:
        if self._index is None:
            self._index = load_index()
            log.info("API model: %s", self._index.source)
        self._refresh_mcp_tools(self._index)
        return self._index

    def _refresh_mcp_tools(self, index: ApiIndex) -> None:
        """Merge the workspace folders' ``.llmspell/mcp-tools.json`` (MCP servers' tools, written by
        runs; the server never starts MCP servers itself) into the tool catalogue (llmspell_ls.mcp_catalog)."""
        files = getattr(self, "_mcp_tools", None)
        if files is None:
            from llmspell_ls.mcp_catalog import MCPToolsFile

            files = self._mcp_tools = MCPToolsFile()
        if not files.due():  # looked less than a second ago: nothing to do (every request asks)
            return
        try:
            from pygls.uris import to_fs_path

            ws = self.workspace
            roots = [f for f in (to_fs_path(x.uri) for x in ws.folders.values()) if f]
            if not roots and ws.root_path:
                roots = [ws.root_path]
        except Exception:
            return
        files.refresh(index, roots)

    def workspace_root(self, uri: str | None = None) -> str | None:
        """The workspace folder holding ``uri`` (the innermost one when folders nest), else the first
        root. Each folder's ``llmspell.toml`` applies to the documents and runs under it."""
        try:
            ws = self.workspace
        except Exception:
            return None
        if ws is None:
            return None
        if uri is not None:
            from pygls.uris import to_fs_path

            path = to_fs_path(uri)
            if path:
                best: str | None = None
                for folder in ws.folders.values():
                    root = to_fs_path(folder.uri)
                    if root and _is_under(path, root) and (best is None or len(root) > len(best)):
                        best = root
                if best is not None:
                    return best
        try:
            return ws.root_path
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
        """Log instead of popping up a message: a failing notification must not nag the user.
        Protocol-level errors (an unsupported method, invalid params) are the client's business: one
        line, no traceback."""
        if isinstance(error, JsonRpcMethodNotFound):
            log.debug("unsupported method: %s", error)
            return
        if isinstance(error, JsonRpcException):
            log.warning("request failed (%s): %s", getattr(source, "__name__", source), error)
            return
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
        self.docs.open(uri, text, version, lang, parse=False)  # parsed off the loop, by the first reader
        self._clear_run_failure(uri)
        self.schedule_diagnostics(uri, delay=0.0)

    def change_document(self, uri: str, version: int, changes: list[Any] | None = None) -> None:
        """Apply LSP content changes (``changes``) to the document; without them, take pygls's copy."""
        cur = self.docs.get(uri)
        if cur is None:
            return
        if changes is None:
            text = self.workspace.get_text_document(uri).source
        else:
            text = apply_changes(cur, changes, self.options.encoding)
            try:  # keep pygls's copy in step for anyone who reads it (no re-application of the edits)
                td = self.workspace.text_documents.get(uri)
                if td is not None:
                    td._source = text
                    td.version = version
            except Exception:
                log.debug("workspace copy not updated", exc_info=True)
        self.docs.change(uri, text, version)
        self._clear_run_failure(uri)
        self.schedule_diagnostics(uri)

    def close_document(self, uri: str) -> None:
        self.docs.close(uri)
        h = self._pending.pop(uri, None)
        if h is not None:
            h.cancel()
        self._clear_run_failure(uri)
        self.diag_results.pop(uri, None)
        for w in self._diag_waiters.pop(uri, []):
            if not w.done():
                w.set_result(None)
        if not self.pull_diagnostics:
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
        if uri in self._analysing:
            # one pass per document at a time (pulls asked again every 100 ms would queue a pass each,
            # every one starting with the shortest budget); the one in progress reschedules itself if
            # the document changed meanwhile
            return
        self._analysing.add(uri)
        try:
            diags, partial, progressed = await self.diagnostics_of(doc)
        finally:
            self._analysing.discard(uri)
        cur = self.docs.get(uri)
        if cur is None or cur.version != doc.version:
            if cur is not None:
                self.schedule_diagnostics(uri, delay=0.0)  # the newer version's pass (maybe dropped above)
            return
        if partial:
            key = (uri, doc.version)
            n = self._passes[key] = self._passes.get(key, 0) + 1
            if (progressed or n <= 4) and n < MAX_DIAGNOSTIC_PASSES:  # budgets grow up to the 4th pass
                # cut short by its budget: the next pass replays the checked statements and goes further
                self._pending[uri] = asyncio.get_running_loop().call_later(
                    DIAGNOSTICS_RESUME_S, lambda: self.run_task(self._publish(uri)))
                return
            log.warning("diagnostics of %s stopped after %d passes: publishing what was found", uri, n)
        self._passes = {k: v for k, v in self._passes.items() if k[0] != uri}
        self._diagnostics_ready(uri, doc.version, diags)

    async def diagnostics_of(self, doc: DocState) -> tuple[list[dict[str, Any]], bool, bool]:
        """One budgeted diagnostics pass on the analysis thread: (diagnostics, cut short, made progress).
        A pass cut short keeps its per-statement results, so the next one goes further."""
        from llmspell_ls.features import undefined
        from llmspell_ls.features.diagnostics import analyze_document

        index, enc = self.index, self.options.encoding

        # each pass of a version gets a longer budget: a resumed pass replays the statements already
        # checked, and with a fixed budget the replay of a huge document eventually left no time to go
        # further (a 100,000-line spell never finished). Requests do not suffer: the pass yields to
        # them at every checkpoint, and it stops as soon as the document has a newer version.
        n = self._passes.get((doc.uri, doc.version), 0)
        budget = DIAGNOSTICS_BUDGET_MS * 4 ** min(n, 3)

        def work() -> tuple[list[dict[str, Any]], bool, bool]:
            # the parse (sliced) is not part of the pass's budget; it pauses while requests are computed
            # (they would share the GIL with it: the first requests after opening a huge document)
            with running(_ParseToken(self, doc)):
                try:
                    doc.tree  # noqa: B018
                except Cancelled:  # the document was closed
                    return [], True, False
            token = _BackgroundToken(self, budget, doc.uri, doc.version)
            chunks = doc.shared.get(("chunks", id(index), enc))
            before = (len(chunks) if chunks is not None else 0) + undefined.progress(doc)
            with running(token):
                try:
                    an = analyze_document(doc, index, enc)
                    diags, partial = an.diagnostics, an.partial
                except Cancelled:
                    diags, partial = [], True
            chunks = doc.shared.get(("chunks", id(index), enc))
            return diags, partial, (len(chunks) if chunks is not None else 0) + undefined.progress(doc) > before

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.analysis_executor, work)

    @property
    def _pushes_run_failures(self) -> bool:
        """A pull client that cannot be asked to pull again (Neovim 0.11 advertises no
        ``workspace.diagnostics.refreshSupport``) would never see a run failure, which arrives without
        an edit: it gets that one diagnostic pushed, and its pulled results leave it out (no duplicate)."""
        return self.pull_diagnostics and not self.diagnostic_refresh

    def _clear_run_failure(self, uri: str) -> None:
        if self.run_diagnostics.pop(uri, None) and self._pushes_run_failures:
            self.protocol.notify_raw("textDocument/publishDiagnostics", {"uri": uri, "diagnostics": []})

    def _diagnostics_ready(self, uri: str, version: int, diags: list[dict[str, Any]]) -> None:
        from llmspell_ls.features.pull_diagnostics import result_id

        extra = [] if self._pushes_run_failures else self.run_diagnostics.get(uri, [])
        full = [*diags, *extra]
        old = self.diag_results.get(uri)
        rid = result_id(full)
        self.diag_results[uri] = (version, rid, full)
        waiting = bool(self._diag_waiters.get(uri))
        for w in self._diag_waiters.pop(uri, []):
            if not w.done():
                w.set_result(None)
        if old is None or old[1] != rid:
            self.diag_changed.set()
        if self.pull_diagnostics:
            retried = uri in self.cancelled_pulls
            self.cancelled_pulls.discard(uri)
            if not waiting and (retried or (old is not None and old[1] != rid and self.run_diagnostics.get(uri))):
                self._refresh_diagnostics()  # a run failure or a pull cut short: the client would not pull again
            return
        self._send_diagnostics(uri, version, diags)

    def _refresh_diagnostics(self) -> None:
        """Ask a pull client to pull again (run failures, passes that finished after its pull)."""
        if self.diagnostic_refresh:
            try:
                self.workspace_diagnostic_refresh(None)
            except Exception:
                log.debug("diagnostic refresh failed", exc_info=True)

    async def current_diagnostics(self, uri: str, timeout: float = 5.0) -> tuple[int, str, list[dict[str, Any]]] | None:
        """(result id, diagnostics) of the current version of ``uri`` for a pull request: the finished
        pass, or wait (bounded) for the pending one."""
        doc = self.docs.get(uri)
        if doc is None:
            return None
        deadline = time.monotonic() + timeout
        while True:
            got = self.diag_results.get(uri)
            if got is not None and got[0] == doc.version:
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            h = self._pending.get(uri)
            if h is not None or got is None:
                # the client is asking now: no point waiting out the debounce
                self.schedule_diagnostics(uri, delay=0.0)
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._diag_waiters.setdefault(uri, []).append(fut)
            try:
                await asyncio.wait_for(fut, left)
            except TimeoutError:
                pass
            cur = self.docs.get(uri)
            if cur is None:
                return None
            doc = cur

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
        if self._pushes_run_failures:
            self.protocol.notify_raw("textDocument/publishDiagnostics", {"uri": uri, "diagnostics": [d]})
            return
        if doc is not None:
            self.schedule_diagnostics(uri, delay=0.0)  # republish (analysis thread) with the run's error
        else:
            self._send_diagnostics(uri, None, []) if not self.pull_diagnostics else self._refresh_diagnostics()

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

    async def compute(self, uri: str, key: tuple[Any, ...], fn: Callable[[DocState, Token], Any], *,
                      budget_ms: float = REQUEST_BUDGET_MS, empty: str = "null",
                      cheap: int | None = None, tree: bool = False,
                      deadline_ms: float | None = REQUEST_DEADLINE_MS,
                      window: tuple[int, int, int, int] | Callable[[DocState], DocState] | None = None,
                      ) -> RawJSON:
        """The serialized result of ``fn(doc, token)`` for the current version of ``uri``, computed off
        the event loop. Use it from an ``async def`` handler: ``return await ls.compute(uri, key, fn)``.

        Contract:

        - ``fn`` is a pure function of the document snapshot (:class:`DocState`, immutable) and values it
          closes over; it runs on a request-pool thread, so it must not touch the server's mutable state
          or call the client. It returns JSON-able data (dicts/lists), lsprotocol attrs objects, a
          :class:`RawJSON`, or None.
        - Results are cached per (document version, ``key``): put every input of ``fn`` besides the
          document in ``key`` (method name, position, ...). A cached result is answered at once, on the
          loop (the fast path: a dict lookup).
        - Cancellation: ``$/cancelRequest`` (and shutdown) cancel the token; the client gets the
          RequestCancelled error. Budget: after ``budget_ms`` the token expires. Long walks call
          ``token.check()`` or :func:`llmspell_ls.budget.checkpoint` (which raise
          :class:`~llmspell_ls.budget.Cancelled`) or poll ``token.expired`` and return what they have.
          A computation that raises ``Cancelled`` answers ``empty`` (``"null"``, or e.g. ``"[]"``) and is
          not cached. If ``fn`` does not check in time, the request is answered ``empty`` anyway at
          twice the budget (the thread stops at its next check). ``deadline_ms`` caps both: the budget
          at ``deadline_ms - DEADLINE_MARGIN_MS`` and the answer at ``deadline_ms`` (None: no cap).
        - ``window=(row, col, before, after)``: on a document of at least ``WINDOW_MIN_BYTES`` that has
          never been parsed, ``fn`` gets :meth:`DocState.window` (those lines, parsed alone) instead of
          waiting for the whole parse: the first request after opening a huge file answers at once,
          correct for what the window covers. ``window`` may also be a function of the document that
          makes the window (e.g. :func:`~llmspell_ls.documents.range_window` for a range request).
        - Any other exception becomes an error response (never a dead server).
        - No document (not open): ``empty``.
        - ``cheap=line``: the computation is known to be cheap (a bounded text window around the cursor
          on ``line``, as completion, hover and signature help) unless the input is hostile. It then runs
          on the loop, skipping the thread hop (the common case: a fraction of a millisecond), when the
          document has a tree (parsed, or the previous tree with the edit applied: nothing to parse), is
          at most ``INLINE_MAX_DOC_CHARS``, the cursor's line at most ``INLINE_MAX_LINE_CHARS``
          and no inline computation on this document took over ``INLINE_SLOW_MS`` (after one did, the
          document's requests go off the loop, every version: :attr:`slow_uris`). Otherwise, off the loop
          as above. On the loop the token expires after ``INLINE_SLOW_MS``: a computation stopped there
          is re-run on the pool. ``tree=True``: ``fn`` reads the parsed tree (navigation), so it runs on
          the loop only when the current version is parsed (never a re-parse on the loop).
        """
        if UNBOUNDED:
            budget_ms, deadline_ms, window, cheap = 1e9, None, None, None
        now = self.compute_now(uri, key, fn, budget_ms=budget_ms, empty=empty, cheap=cheap, tree=tree)
        if now is not None:
            return now
        doc = self.docs.get(uri)
        if doc is None:
            return RawJSON(empty)
        full = ("resp", *key)
        if window is not None and doc._tree is None and doc._pending is None and len(doc.source) >= WINDOW_MIN_BYTES:
            # a huge document never parsed yet (its parse takes seconds): answer from the lines around the
            # cursor, parsed alone (cached apart: the parsed document's answer replaces it)
            full = ("window", *full)
            got = doc.cache.get(full)
            if got is not None:
                return got  # type: ignore[no-any-return]
            whole, w = fn, window
            if callable(w):  # a window of its own (a range request's lines: documents.range_window)
                fn = lambda d, t: whole(w(d), t)  # noqa: E731
            else:
                fn = lambda d, t: whole(d.window(*w), t)  # noqa: E731
        elif doc._tree is None and doc._pending is None and len(doc.source) >= PARSE_IN_BUDGET_BYTES and not UNBOUNDED:
            # a huge document never parsed (or its tree dropped): its parse takes longer than any budget.
            # Answer now (nothing) rather than at the deadline, with no pool thread held; it is parsed
            # in the background (the diagnostics pass, or here), and the requests after that answer.
            self._parse_soon(doc)
            return RawJSON(empty)
        wait_ms = 2 * budget_ms + 50
        if deadline_ms is not None:
            deadline_ms = time_left_ms(deadline_ms)
            budget_ms = min(budget_ms, deadline_ms - DEADLINE_MARGIN_MS)
            wait_ms = min(wait_ms, deadline_ms)
        token = Token(budget_ms)
        self.inflight += 1
        try:
            fut = self.request_executor.submit(self._compute_in_worker, fn, doc, token)
            afut = asyncio.wrap_future(fut)
            try:
                done, _ = await asyncio.wait({afut}, timeout=wait_ms / 1000.0)
            except asyncio.CancelledError:
                token.cancel()
                afut.add_done_callback(_retrieve)
                raise
            if not done:
                token.cancel("over budget")
                afut.add_done_callback(_retrieve)
                log.warning("%s over its budget (%.0f ms): answered %s", key[0] if key else "request", budget_ms,
                            empty)
                return RawJSON(empty)
            res = afut.result()
        finally:
            self.inflight -= 1
        if res is _CANCELLED:
            return RawJSON(empty)
        if not token.cancelled:
            doc.cache[full] = res
        return res  # type: ignore[no-any-return]

    def _parse_soon(self, doc: DocState) -> None:
        """Parse ``doc`` on the analysis thread (pausing for requests), once per snapshot."""
        if doc.cache.get("_parse_scheduled"):
            return
        doc.cache["_parse_scheduled"] = True

        def parse() -> None:
            with running(_ParseToken(self, doc)):
                try:
                    doc.tree  # noqa: B018
                except Cancelled:
                    pass

        self.analysis_executor.submit(parse).add_done_callback(lambda f: f.exception())

    def compute_now(self, uri: str, key: tuple[Any, ...], fn: Callable[[DocState, Token], Any], *,
                    budget_ms: float = REQUEST_BUDGET_MS, empty: str = "null",
                    cheap: int | None = None, tree: bool = False) -> RawJSON | None:
        """The answer of :meth:`compute` when it needs no thread: the document is not open (``empty``),
        the answer is cached, or ``cheap`` allows computing it on the loop and it finished within
        ``INLINE_SLOW_MS`` (a computation stopped there by its token goes to the pool: None)."""
        doc = self.docs.get(uri)
        if doc is None:
            return RawJSON(empty)
        full = ("resp", *key)
        got = doc.cache.get(full)
        if got is not None:
            return got  # type: ignore[no-any-return]
        if cheap is not None and (doc.parsed or not tree) and self._inline_ok(uri, doc, cheap):
            return self._compute_inline(uri, doc, full, fn, budget_ms, empty)
        return None

    def _inline_ok(self, uri: str, doc: DocState, line: int) -> bool:
        if len(doc.text) > INLINE_MAX_DOC_CHARS or uri in self.slow_uris:
            return False
        if not doc.parsed and doc._pending is None:
            return False  # the analysis would parse the document (tens of ms): not on the loop
        try:
            return len(doc.line(line)) <= INLINE_MAX_LINE_CHARS
        except Exception:  # past the end: the pool answers (and handles it)
            return False

    def _compute_inline(self, uri: str, doc: DocState, full: tuple[Any, ...],
                        fn: Callable[[DocState, Token], Any], budget_ms: float, empty: str) -> RawJSON | None:
        """:meth:`compute` on the loop (see ``cheap``); marks the document slow when it was not. Its
        token expires after ``INLINE_SLOW_MS`` (walks that check it stop there): then None, and the
        request goes to the pool with its whole budget."""
        c0 = time.thread_time()
        token = Token(min(budget_ms, INLINE_BUDGET_MS))
        token.inline = True
        res: Any = _CANCELLED
        try:
            res = self._compute_in_worker(fn, doc, token)
        finally:
            # slow = it cost that much CPU: a computation the machine merely preempted (a loaded, shared
            # machine) keeps the document's requests on the loop (else every later request pays the hop)
            cpu_ms = (time.thread_time() - c0) * 1000.0
            stopped = res is _CANCELLED or token.cancelled
            if stopped or cpu_ms > INLINE_SLOW_MS:
                self.slow_uris.add(uri)
                log.info("%s: a request took over %.0f ms on the loop: its requests go off the loop",
                         uri, INLINE_SLOW_MS)
        if stopped:
            return None
        doc.cache[full] = res
        return res  # type: ignore[no-any-return]

    def _compute_in_worker(self, fn: Callable[[DocState, Token], Any], doc: DocState, token: Token) -> Any:
        with running(token):
            try:
                token.check()  # cancelled while queued
                res = fn(doc, token)
            except Cancelled:
                return _CANCELLED
        if isinstance(res, RawJSON):
            return res
        try:
            return RawJSON(json.dumps(res, separators=(",", ":")))
        except TypeError:
            return RawJSON(json.dumps(self.protocol._converter.unstructure(res), separators=(",", ":")))

    def shutdown_work(self) -> None:
        """Stop background work (the executors do not wait for a pass in progress)."""
        for h in self._pending.values():
            h.cancel()
        self._pending.clear()
        self.request_executor.shutdown(wait=False, cancel_futures=True)
        self.analysis_executor.shutdown(wait=False, cancel_futures=True)


_CANCELLED = object()


def _retrieve(f: asyncio.Future[Any]) -> None:
    """Done callback of an abandoned computation: read its outcome so nothing is reported as lost."""
    if not f.cancelled():
        f.exception()


class _BackgroundToken(Token):
    """The diagnostics pass's token: over budget after ``budget_ms`` of its own work, and at every check
    it first lets requests in flight run (sleeping releases the GIL), up to ``YIELD_MAX_S``."""

    __slots__ = ("server", "uri", "version")

    def __init__(self, server: LlmspellServer, budget_ms: float, uri: str = "", version: int | None = None):
        super().__init__(budget_ms)
        self.server = server
        self.uri, self.version = uri, version

    def poll(self) -> bool:
        if self.version is not None:
            cur = self.server.docs._docs.get(self.uri)
            if cur is None or cur.version != self.version:
                self.reason = "outdated"
                return True  # a newer version is waiting for the analysis thread
        if self.server.inflight > 0:
            waited = 0.0
            while self.server.inflight > 0 and waited < YIELD_MAX_S:
                time.sleep(0.002)
                waited += 0.002
            if self.deadline is not None:
                self.deadline += waited  # waiting for requests does not count against the pass
        return super().poll()


class _ParseToken(Token):
    """The token of a background parse (the diagnostics pass's): no budget; while requests are being
    computed (other than those waiting for this very parse), or the client sent something less than
    ``QUIET_MS`` ago, it pauses at each progress callback, up to ``YIELD_MAX_S`` at a time; it stops
    when the document is closed."""

    __slots__ = ("doc", "server")

    def __init__(self, server: LlmspellServer, doc: DocState):
        super().__init__(None)
        self.server, self.doc = server, doc

    def poll(self) -> bool:
        server, doc = self.server, self.doc
        if server.docs._docs.get(doc.uri) is None:
            self.reason = "closed"
            return True
        waited = 0.0
        quiet = QUIET_MS / 1000.0
        # never while a request waits for this very parse (it holds the document's lock)
        while waited < YIELD_MAX_S and not doc.waiting and (server.inflight or time.monotonic() - LAST_READ[0] < quiet):
            time.sleep(0.002)
            waited += 0.002
        return self.cancelled


def _is_under(path: str, root: str) -> bool:
    try:
        return Path(path).resolve().is_relative_to(Path(root).resolve())
    except (OSError, ValueError):
        return False


def _short(exc: BaseException) -> str:
    try:
        from cattrs import transform_error

        cause = exc.__cause__ if exc.__cause__ is not None else exc
        msgs = transform_error(cause)  # type: ignore[arg-type]
        if msgs:
            return "; ".join(msgs)[:200]
    except Exception:
        pass
    text = str(exc).strip().splitlines()
    sub = getattr(exc, "__cause__", None)
    if sub is not None and str(sub).strip():
        text = str(sub).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _json_rpc_request_type() -> Any:
    from pygls.protocol import JsonRPCRequestMessage

    return JsonRPCRequestMessage


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
    # (requests run on a pool thread while the diagnostics pass runs on another; 1 ms keeps the
    # hand-offs between the reader, the loop and the workers short under that contention)
    sys.setswitchinterval(float(os.environ.get("LLMSPELL_LS_SWITCH_INTERVAL", "0.001")))
    server = create_server()
    if tcp:
        host, _, port = tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()
    return 0
