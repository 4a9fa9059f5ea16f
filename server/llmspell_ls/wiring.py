"""The one place that registers LSP features and commands (esbonio's ``setup.py`` style).

Handlers are thin: convert params, call a pure function in :mod:`llmspell_ls.features` on the current
document snapshot, return its (cached, serialized) result. ``did*`` handlers only update state. pygls
turns an exception in a request handler into an error response; notification handlers additionally
catch and log, so a bad edit can never take the server down.

How to add a request that can be slow (anything that walks the document)::

    @server.feature(lsp.TEXT_DOCUMENT_X)
    async def on_x(ls: LlmspellServer, params: lsp.XParams) -> Any:
        p = params.position
        return await ls.compute(params.text_document.uri, ("x", p.line, p.character),
                                lambda doc, token: x(doc, ls.index, p.line, p.character, ls.options))

``ls.compute`` runs the function off the event loop with caching per document version, cancellation
(``$/cancelRequest``) and a budget (see its docstring for the contract); long loops inside call
:func:`llmspell_ls.budget.checkpoint`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lsprotocol import types as lsp

from llmspell_ls.documents import WINDOW_MIN_BYTES
from llmspell_ls.features import actions, answer_index, lens, nav_index, symbols
from llmspell_ls.features.common import RawJSON
from llmspell_ls.features.completion import completion, resolve_item
from llmspell_ls.features.hover import as_json as hover_json
from llmspell_ls.features.hover import hover
from llmspell_ls.features.signature import signature_help
from llmspell_ls.server import (
    MIN_WORK_MS,
    REQUEST_BUDGET_MS,
    REQUEST_DEADLINE_MS,
    UNBOUNDED,
    LlmspellServer,
    RpcError,
    client_options,
    late_ms,
    text_position,
)

log = logging.getLogger("llmspell_ls")

COMPLETION_TRIGGERS = [".", ":", '"', "'"]
SIGNATURE_TRIGGERS = ["(", ","]
NAV_BUDGET_MS = 300.0
"""Budget of definition, highlight, prepareRename and selectionRange (over it: ``null``)."""
REFERENCES_BUDGET_MS = 500.0
"""Budget of references (over it: the locations found so far)."""
RENAME_BUDGET_MS = 1000.0
"""Budget of rename, capped by the request deadline (over it: an error saying so, no edit; a partial
rename would be wrong)."""
RENAME_NOT_PARSED = ("the document is still being parsed (it is huge): until then only a local declared inside a "
                     "block (do, function, for ...) can be renamed; nothing was renamed, try again in a few seconds")
RENAME_TOO_SLOW = "the document is too large to rename in time (over {ms:.0f} ms): nothing was renamed"
_OVER = '"llmspell: over budget"'
"""The ``empty`` answer of a request that must fail, not answer, when over its budget (rename)."""
WORKSPACE_SYMBOL_BUDGET_MS = 1000.0


def register(server: LlmspellServer) -> None:
    @server.feature(lsp.INITIALIZE)
    def on_initialize(ls: LlmspellServer, params: lsp.InitializeParams) -> None:
        enc = ls.workspace.position_encoding if ls.workspace is not None else None
        enc_s = str(getattr(enc, "value", enc) or "utf-16")
        ls.options = client_options(params.capabilities, enc_s)
        opts = params.initialization_options
        if opts is not None and not isinstance(opts, dict) and opts != []:  # Neovim encodes {} as []
            _show_settings_error(ls, "initializationOptions",
                                 f"expected an object of settings, got {type(opts).__name__}")
        elif isinstance(opts, dict):
            section = opts.get("llmspell", opts) if isinstance(opts.get("llmspell"), dict) else opts
            if _settings_valid(ls, section, "initializationOptions"):
                ls.init_options = section
        _ = ls.index  # load the model now, not on the first keystroke
        gc.freeze()  # the model (and start-up) lives as long as the server: no full collection walks it again
        _setup_diagnostics_mode(ls, params.capabilities)

    @server.feature(lsp.SHUTDOWN)
    def on_shutdown(ls: LlmspellServer, params: Any) -> None:
        try:
            ls.shutdown_work()
        except Exception:
            log.exception("shutdown")

    @server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: LlmspellServer, params: lsp.DidChangeConfigurationParams) -> None:
        """Settings pushed by the client (``{"llmspell": {...}}`` or the section itself) apply to the next run."""
        try:
            settings = params.settings
            section = settings.get("llmspell", settings) if isinstance(settings, dict) else None
            if section is None or section == []:
                return  # a client that sends null or an empty list (nothing to apply)
            if not isinstance(section, dict):
                _show_settings_error(ls, "workspace/didChangeConfiguration",
                                     f"expected an object of settings, got {type(section).__name__}")
                return
            merged = {**ls.init_options, **section}
            if _settings_valid(ls, merged, "workspace/didChangeConfiguration"):
                ls.init_options = merged
                ls.runs.reconfigure()
        except Exception:
            log.exception("didChangeConfiguration")

    # ---------------------------------------------------------------- documents (state only)
    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LlmspellServer, params: lsp.DidOpenTextDocumentParams) -> None:
        td = params.text_document
        try:
            ls.open_document(td.uri, td.text, td.version, td.language_id)
            nav_index.schedule(ls, td.uri)
            answer_index.schedule(ls, td.uri)
        except Exception:
            log.exception("didOpen %s", td.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LlmspellServer, params: lsp.DidChangeTextDocumentParams) -> None:
        try:
            ls.change_document(params.text_document.uri, params.text_document.version,
                               list(params.content_changes))
            nav_index.schedule(ls, params.text_document.uri)
            answer_index.schedule(ls, params.text_document.uri)
        except Exception:
            log.exception("didChange %s", params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LlmspellServer, params: lsp.DidCloseTextDocumentParams) -> None:
        try:
            ls.close_document(params.text_document.uri)
        except Exception:
            log.exception("didClose %s", params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: LlmspellServer, params: lsp.DidSaveTextDocumentParams) -> None:
        return None

    # ---------------------------------------------------------------- requests
    @server.feature(lsp.COMPLETION_ITEM_RESOLVE)
    def on_resolve(ls: LlmspellServer, item: lsp.CompletionItem) -> lsp.CompletionItem:
        return resolve_item(item, ls.options)

    # cursor requests: one job builder per method, used by the async handler and by the fast path
    # (``ls.fast_paths``: answered from the raw params, without a task, when cached or cheap)
    def completion_job(ls: LlmspellServer, line: int, ch: int) -> Job:
        return Job(("completion", line, ch), lambda doc, _t: completion(doc, ls.index, line, ch, ls.options),
                   cheap=line, window=around(line, ch))

    def hover_job(ls: LlmspellServer, line: int, ch: int) -> Job:
        return Job(("hover", line, ch), lambda doc, _t: RawJSON(hover_json(hover(doc, ls.index, line, ch, ls.options))),
                   cheap=line, window=around(line, ch))

    def signature_job(ls: LlmspellServer, line: int, ch: int) -> Job:
        return Job(("signature", line, ch), lambda doc, _t: signature_help(doc, ls.index, line, ch, ls.options),
                   cheap=line, window=around(line, ch))

    def precomputed(ls: LlmspellServer, uri: str, line: int, ch: int, method: str) -> RawJSON | None:
        """The answer from the version's answer index (:mod:`~llmspell_ls.features.answer_index`)."""
        doc = ls.docs.get(uri)
        if doc is None:
            return None
        got = answer_index.lookup_completion(doc, line, ch, ls.options) if method == "completion" \
            else answer_index.lookup_hover(doc, line, ch, ls.options)
        return RawJSON(got) if got is not None else None

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION,
                    lsp.CompletionOptions(trigger_characters=COMPLETION_TRIGGERS, resolve_provider=True))
    async def on_completion(ls: LlmspellServer, params: lsp.CompletionParams) -> Any:
        uri, p = params.text_document.uri, params.position
        got = precomputed(ls, uri, p.line, p.character, "completion")
        return got if got is not None else await completion_job(ls, p.line, p.character).run(ls, uri)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    async def on_hover(ls: LlmspellServer, params: lsp.HoverParams) -> Any:
        uri, p = params.text_document.uri, params.position
        got = precomputed(ls, uri, p.line, p.character, "hover")
        return got if got is not None else await hover_job(ls, p.line, p.character).run(ls, uri)

    @server.feature(lsp.TEXT_DOCUMENT_SIGNATURE_HELP,
                    lsp.SignatureHelpOptions(trigger_characters=SIGNATURE_TRIGGERS, retrigger_characters=[","]))
    async def on_signature(ls: LlmspellServer, params: lsp.SignatureHelpParams) -> Any:
        p = params.position
        return await signature_job(ls, p.line, p.character).run(ls, params.text_document.uri)

    def fast_precomputed(method: str, job: Callable[[LlmspellServer, int, int], Job]) -> Any:
        def fast(ls: LlmspellServer, params: Any) -> RawJSON | None:
            got = text_position(params)
            if got is None:
                return None
            uri, line, ch = got
            res = precomputed(ls, uri, line, ch, method)
            return res if res is not None else job(ls, line, ch).now(ls, uri)

        return fast

    server.fast_paths[lsp.TEXT_DOCUMENT_COMPLETION] = fast_precomputed("completion", completion_job)
    server.fast_paths[lsp.TEXT_DOCUMENT_HOVER] = fast_precomputed("hover", hover_job)
    server.fast_paths[lsp.TEXT_DOCUMENT_SIGNATURE_HELP] = fast_position(signature_job)

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                    lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
    def on_code_action(ls: LlmspellServer, params: lsp.CodeActionParams) -> Any:
        if not ls.options.code_action_literals:
            return None
        return actions.code_actions(params.text_document.uri, list(params.context.diagnostics)) or None

    @server.feature(lsp.TEXT_DOCUMENT_CODE_LENS)
    def on_code_lens(ls: LlmspellServer, params: lsp.CodeLensParams) -> Any:
        uri = params.text_document.uri
        if uri not in ls.docs:
            return None
        return lens.code_lenses(uri, ls.runs.running_for(uri), debug=lens.wants_debug_lens(ls.client_capabilities))

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def on_symbols(ls: LlmspellServer, params: lsp.DocumentSymbolParams) -> Any:
        from pygls.capabilities import get_capability

        hierarchical = bool(get_capability(
            ls.client_capabilities, "text_document.document_symbol.hierarchical_document_symbol_support", False))

        def compute(doc: Any, _t: Any) -> Any:  # the whole-document pass may be cold: off the loop
            syms = symbols.document_symbols(doc, ls.index, ls.options.encoding)
            if hierarchical:
                return syms
            return [lsp.SymbolInformation(name=s.name, kind=s.kind,
                                          location=lsp.Location(uri=doc.uri, range=s.range),
                                          container_name=s.detail) for s in syms]

        # over the deadline: the symbols found so far (a prefix); a huge document not parsed yet: those
        # of its first lines (a window parsed alone)
        return await ls.compute(params.text_document.uri, ("symbols", hierarchical), compute, empty="[]",
                                window=PREFIX_WINDOW)

    # ---------------------------------------------------------------- navigation (definition, references,
    # highlight, rename, workspace symbols, selection range): computed through ls.compute (request pool,
    # per-version cache, $/cancelRequest, a budget); the pure functions call budget.checkpoint()
    from pygls.exceptions import JsonRpcException

    from llmspell_ls.budget import Cancelled, Token, running
    from llmspell_ls.features import navigation, rename, selection, workspace_symbols

    def nav_others(ls: LlmspellServer, uri: str) -> list[Any]:
        """The other open documents, read without reordering the parsed-tree LRU."""
        return [d for u, d in getattr(ls.docs, "_docs", {}).items() if u != uri]

    def nav_versions(others: list[Any]) -> tuple[tuple[str, int], ...]:
        """Cache-key part for the other open documents an answer may depend on."""
        return tuple((d.uri, d.version) for d in others)

    async def nav_compute(ls: LlmspellServer, uri: str, key: tuple[Any, ...], fn: Any, *, budget_ms: float,
                          empty: str = "null", deadline_ms: float | None = REQUEST_DEADLINE_MS,
                          window: tuple[int, int, int, int] | Callable[[Any], Any] | None = None) -> Any:
        try:
            res = await ls.compute(uri, key, fn, budget_ms=budget_ms, empty=empty, deadline_ms=deadline_ms,
                                   window=window)
        except rename.RenameError as e:
            raise JsonRpcException(str(e), code=-32803) from None  # RequestFailed: the editor shows the message
        if empty == _OVER and res.text == _OVER:
            raise JsonRpcException(RENAME_TOO_SLOW.format(ms=deadline_ms or budget_ms), code=-32803)
        return res

    def definition_job(ls: LlmspellServer, uri: str, line: int, ch: int) -> Job:
        others = nav_others(ls, uri)
        return Job(("definition", line, ch, nav_versions(others)),
                   lambda doc, _t: RawJSON(navigation.locations_json(
                       navigation.definition_spans(doc, ls.index, line, ch, ls.options.encoding, others))),
                   budget_ms=NAV_BUDGET_MS, cheap=line, tree=True, window=around(line, ch))

    def references_job(ls: LlmspellServer, uri: str, line: int, ch: int, incl: bool) -> Job:
        others = nav_others(ls, uri)

        def refs(doc: Any, token: Token) -> Any:
            found: list[navigation.Loc] = []
            try:
                got = navigation.reference_spans(doc, ls.index, line, ch, ls.options.encoding, incl, others, out=found)
            except Cancelled:
                if token.cancelled or token.inline:  # $/cancelRequest (nothing wanted), or retried off the loop
                    raise
                token.cancel("over budget")  # answer what was found so far, but do not cache it
                got = found
            return RawJSON(navigation.locations_json(got))

        return Job(("references", line, ch, incl, nav_versions(others)), refs, budget_ms=REFERENCES_BUDGET_MS,
                   empty="[]", cheap=line, tree=True, window=around(line, ch))

    def highlight_job(ls: LlmspellServer, line: int, ch: int) -> Job:
        return Job(("documentHighlight", line, ch),
                   lambda doc, _t: RawJSON(navigation.highlights_json(
                       navigation.highlight_spans(doc, ls.index, line, ch, ls.options.encoding))),
                   budget_ms=NAV_BUDGET_MS, cheap=line, tree=True, window=around(line, ch))

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    async def on_definition(ls: LlmspellServer, params: lsp.DefinitionParams) -> Any:
        uri, p = params.text_document.uri, params.position
        return await definition_job(ls, uri, p.line, p.character).run(ls, uri)

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    async def on_references(ls: LlmspellServer, params: lsp.ReferenceParams) -> Any:
        uri, p = params.text_document.uri, params.position
        return await references_job(ls, uri, p.line, p.character, params.context.include_declaration).run(ls, uri)

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
    async def on_highlight(ls: LlmspellServer, params: lsp.DocumentHighlightParams) -> Any:
        uri, p = params.text_document.uri, params.position
        return await highlight_job(ls, p.line, p.character).run(ls, uri)

    def indexed(ls: LlmspellServer, uri: str, line: int, ch: int, what: int) -> RawJSON | None:
        """The answer from the version's navigation index (:mod:`~llmspell_ls.features.nav_index`)."""
        doc = ls.docs.get(uri)
        got = nav_index.lookup(doc, line, ch, ls.options.encoding, what) if doc is not None else None
        return RawJSON(got) if got is not None else None

    def fast_references(ls: LlmspellServer, params: Any) -> RawJSON | None:
        got = text_position(params)
        incl = params.get("context", {}).get("includeDeclaration") if got is not None else None
        if got is None or type(incl) is not bool:
            return None
        uri, line, ch = got
        res = indexed(ls, uri, line, ch, nav_index.REFS if incl else nav_index.REFS_NO_DECL)
        return res if res is not None else references_job(ls, uri, line, ch, incl).now(ls, uri)

    def fast_indexed(what: int, job: Callable[[LlmspellServer, str, int, int], Job]) -> Any:
        def fast(ls: LlmspellServer, params: Any) -> RawJSON | None:
            got = text_position(params)
            if got is None:
                return None
            uri, line, ch = got
            res = indexed(ls, uri, line, ch, what)
            return res if res is not None else job(ls, uri, line, ch).now(ls, uri)

        return fast

    server.fast_paths[lsp.TEXT_DOCUMENT_DEFINITION] = fast_indexed(nav_index.DEF, definition_job)
    server.fast_paths[lsp.TEXT_DOCUMENT_REFERENCES] = fast_references
    server.fast_paths[lsp.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT] = fast_indexed(
        nav_index.HIGHLIGHT, lambda ls, uri, line, ch: highlight_job(ls, line, ch))

    @server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
    async def on_prepare_rename(ls: LlmspellServer, params: lsp.PrepareRenameParams) -> Any:
        uri, p = params.text_document.uri, params.position
        others = nav_others(ls, uri)
        return await nav_compute(
            ls, uri, ("prepareRename", p.line, p.character, nav_versions(others)),
            lambda doc, _t: in_scope(doc, lambda: rename.prepare_rename_in_scope(
                doc, ls.index, p.line, p.character, ls.options.encoding), lambda: rename.prepare_rename(
                doc, ls.index, p.line, p.character, ls.options.encoding, others)),
            budget_ms=NAV_BUDGET_MS, window=whole_doc)

    @server.feature(lsp.TEXT_DOCUMENT_RENAME, lsp.RenameOptions(prepare_provider=True))
    async def on_rename(ls: LlmspellServer, params: lsp.RenameParams) -> Any:
        from pygls.capabilities import get_capability

        doc_changes = bool(get_capability(ls.client_capabilities, "workspace.workspace_edit.document_changes",
                                          False))
        uri, p, new_name = params.text_document.uri, params.position, params.new_name
        others = nav_others(ls, uri)
        return await nav_compute(
            ls, uri, ("rename", p.line, p.character, new_name, doc_changes, nav_versions(others)),
            lambda doc, _t: in_scope(doc, lambda: rename.rename_in_scope(
                doc, ls.index, p.line, p.character, new_name, ls.options.encoding, doc_changes),
                lambda: rename.rename(doc, ls.index, p.line, p.character, new_name, ls.options.encoding, others,
                                      doc_changes)),
            budget_ms=RENAME_BUDGET_MS, empty=_OVER, window=whole_doc)  # a partial rename would be wrong: refused

    def whole_doc(doc: Any) -> Any:
        """The ``window`` of rename: the document itself, not parsed yet (:func:`in_scope` needs no tree)."""
        return doc

    def in_scope(doc: Any, scoped: Callable[[], Any], whole: Callable[[], Any]) -> Any:
        """A rename on a huge document (its parse, or its whole-text passes, take longer than a request
        may): a local from its block alone (:func:`~llmspell_ls.features.rename.scope_slice`, the same
        answer); anything else from the whole document once it is parsed, refused until then."""
        if UNBOUNDED or len(doc.source) < WINDOW_MIN_BYTES:
            return whole()
        try:
            return scoped()
        except rename.OutOfScope:
            if doc._tree is None and doc._pending is None:
                server._parse_soon(doc)  # (once per snapshot)
                raise rename.RenameError(RENAME_NOT_PARSED) from None
            return whole()

    @server.feature(lsp.TEXT_DOCUMENT_SELECTION_RANGE)
    async def on_selection_range(ls: LlmspellServer, params: lsp.SelectionRangeParams) -> Any:
        positions = list(params.positions)
        key = ("selectionRange", tuple((q.line, q.character) for q in positions))
        return await nav_compute(
            ls, params.text_document.uri, key,
            lambda doc, _t: selection.selection_ranges(doc, positions, ls.options.encoding),
            budget_ms=NAV_BUDGET_MS, window=around(positions[0].line, positions[0].character) if positions else None)

    @server.feature(lsp.WORKSPACE_SYMBOL)
    async def on_workspace_symbol(ls: LlmspellServer, params: lsp.WorkspaceSymbolParams) -> Any:
        from pygls.uris import to_fs_path

        roots: list[str] = []
        try:
            for folder in ls.workspace.folders.values():
                path = to_fs_path(folder.uri)
                if path:
                    roots.append(path)
            if not roots and ls.workspace.root_path:
                roots.append(ls.workspace.root_path)
        except Exception:
            log.debug("workspace folders", exc_info=True)
        docs = list(getattr(ls.docs, "_docs", {}).values())
        query, enc = params.query, ls.options.encoding
        # no document to key a cache on: the request pool with a token of its own (cancel + budget)
        token = Token(WORKSPACE_SYMBOL_BUDGET_MS)

        def work() -> Any:
            with running(token):
                try:
                    token.check()  # cancelled while queued
                    return workspace_symbols.workspace_symbols(query, docs, roots, enc)
                except Cancelled:
                    return None

        afut = asyncio.wrap_future(ls.request_executor.submit(work))
        try:
            done, _ = await asyncio.wait({afut}, timeout=2 * WORKSPACE_SYMBOL_BUDGET_MS / 1000.0 + 0.05)
        except asyncio.CancelledError:
            token.cancel()
            raise
        if not done:
            token.cancel("over budget")
            afut.add_done_callback(lambda f: f.exception())  # read the outcome: nothing reported as lost
            return None
        return afut.result()

    _ = (on_definition, on_references, on_highlight, on_prepare_rename, on_rename, on_selection_range,
         on_workspace_symbol)

    _register_presentation(server)

    # ---------------------------------------------------------------- commands
    @server.command(lens.RUN_COMMAND)
    async def run_spell(ls: LlmspellServer, *args: Any) -> Any:
        uri = _first_str(args, "uri")
        if uri is None:
            raise ValueError("llmspell.runSpell expects the document URI as its argument")
        return {"runId": ls.runs.start(uri)}

    @server.command(lens.CANCEL_COMMAND)
    async def cancel_spell(ls: LlmspellServer, *args: Any) -> Any:
        run_id = _first_str(args, "runId")
        if run_id is None:
            raise ValueError("llmspell.cancelSpell expects the runId as its argument")
        return {"cancelled": await ls.runs.cancel(run_id)}

    @server.command("llmspell.getTrace")
    async def get_trace(ls: LlmspellServer, *args: Any) -> Any:
        """The OTLP JSON trace of a finished editor run ("Show trace")."""
        run_id = _first_str(args, "runId")
        if run_id is None:
            raise ValueError("llmspell.getTrace expects the runId as its argument")
        return ls.runs.trace_of(run_id)

    _ = (did_open, did_change, did_close, did_save, on_completion, on_hover, on_signature, on_code_action,
         on_code_lens, on_symbols, run_spell, cancel_spell, get_trace, on_initialize, on_resolve, RawJSON)


@dataclass(slots=True)
class Job:
    """One request's computation for :meth:`LlmspellServer.compute` (key, function and options)."""

    key: tuple[Any, ...]
    fn: Callable[[Any, Any], Any]
    budget_ms: float = REQUEST_BUDGET_MS
    empty: str = "null"
    cheap: int | None = None
    tree: bool = False
    window: tuple[int, int, int, int] | None = None
    """(row, column, lines before, lines after): a huge document not parsed yet answers from them."""

    async def run(self, ls: LlmspellServer, uri: str) -> RawJSON:
        return await ls.compute(uri, self.key, self.fn, budget_ms=self.budget_ms, empty=self.empty,
                                cheap=self.cheap, tree=self.tree, window=self.window)

    def now(self, ls: LlmspellServer, uri: str) -> RawJSON | None:
        return ls.compute_now(uri, self.key, self.fn, budget_ms=self.budget_ms, empty=self.empty,
                              cheap=self.cheap, tree=self.tree)


WINDOW_BEFORE, WINDOW_AFTER = 400, 40
"""Lines around the cursor a request on a huge, not yet parsed document answers from."""
SEMANTIC_WINDOW_LINES = 3000
"""Semantic tokens of a huge document not parsed yet: its first lines (parsed alone)."""
PREFIX_WINDOW = (0, 0, 0, 1000)
"""Whole-document requests (symbols, folding) on a huge document not parsed yet: its first lines, parsed
alone; the answer covers the statements they hold (:func:`~llmspell_ls.documents.settled_children`)."""


def range_of(r: lsp.Range) -> Callable[[Any], Any]:
    """The window of a range request on a huge document not parsed yet (its lines, parsed alone)."""
    from llmspell_ls.documents import range_window

    return lambda doc: range_window(doc, r.start.line, r.end.line)


def around(line: int, ch: int) -> tuple[int, int, int, int]:
    return (line, ch, WINDOW_BEFORE, WINDOW_AFTER)


def fast_position(job: Callable[..., Job], *, with_uri: bool = False) -> Callable[[LlmspellServer, Any], Any]:
    """A fast path (:attr:`LlmspellServer.fast_paths`) for a request with a text position."""

    def fast(ls: LlmspellServer, params: Any) -> RawJSON | None:
        got = text_position(params)
        if got is None:
            return None
        uri, line, ch = got
        j = job(ls, line, ch, uri) if with_uri else job(ls, line, ch)
        return j.now(ls, uri)

    return fast


def _setup_diagnostics_mode(ls: LlmspellServer, caps: lsp.ClientCapabilities) -> None:
    """Pull diagnostics for a client that supports them (advertised, nothing pushed), push otherwise."""
    from pygls.capabilities import get_capability

    try:
        pull = get_capability(caps, "text_document.diagnostic", None) is not None
        refresh = bool(get_capability(caps, "workspace.diagnostics.refresh_support", False))
    except Exception:
        pull, refresh = False, False
    ls.pull_diagnostics = pull
    ls.diagnostic_refresh = refresh
    if pull and lsp.TEXT_DOCUMENT_DIAGNOSTIC not in ls.protocol.fm.features:
        _register_pull(ls)


def _register_pull(server: LlmspellServer) -> None:
    from llmspell_ls.features import pull_diagnostics as pull

    @server.feature(lsp.TEXT_DOCUMENT_DIAGNOSTIC,
                    lsp.DiagnosticOptions(identifier="llmspell", inter_file_dependencies=False,
                                          workspace_diagnostics=True))
    async def on_diagnostic(ls: LlmspellServer, params: lsp.DocumentDiagnosticParams) -> Any:
        uri = params.text_document.uri
        doc = ls.docs.get(uri)
        # the wait counts from when the pull was read (a huge didOpen applied ahead of it took part of it)
        got = await ls.current_diagnostics(uri, timeout=max(MIN_WORK_MS, PULL_WAIT_S * 1000 - late_ms()) / 1000)
        if doc is None or uri not in ls.docs:  # not open (or closed meanwhile)
            return {"kind": "full", "items": []}
        cur = ls.docs.get(uri)
        if got is None or cur is None or got[0] != cur.version:
            # still being computed (a huge document ahead of it): ask the client to pull again
            # rather than answer an empty or stale list it would keep
            ls.cancelled_pulls.add(uri)  # refresh-capable clients are asked to pull when the pass is done
            return RpcError(SERVER_CANCELLED, "diagnostics are still being computed", {"retriggerRequest": True})
        _, rid, items = got
        return pull.document_report(rid, items, params.previous_result_id)

    @server.feature(lsp.WORKSPACE_DIAGNOSTIC)
    async def on_workspace_diagnostic(ls: LlmspellServer, params: lsp.WorkspaceDiagnosticParams) -> Any:
        previous = {p.uri: p.value for p in params.previous_result_ids}
        for _ in range(2):
            reports = await _workspace_reports(ls, previous)
            if any(r["kind"] == "full" for r in reports) or not previous:
                return {"items": reports}
            # nothing new: hold the request (clients re-ask at once) until something changes
            ls.diag_changed.clear()
            try:
                await asyncio.wait_for(ls.diag_changed.wait(), WORKSPACE_HOLD_S)
            except TimeoutError:
                break
        return {"items": await _workspace_reports(ls, previous)}

    _ = (on_diagnostic, on_workspace_diagnostic)


WORKSPACE_HOLD_S = 30.0
PULL_WAIT_S = 0.1
"""How long a textDocument/diagnostic waits for the document's pass before answering ServerCancelled with
``retriggerRequest`` (VS Code and Neovim ask again at once; refresh-capable clients are also asked to
pull when the pass is done): no pull is held longer, whatever the document's size."""
SERVER_CANCELLED = -32802


async def _workspace_reports(ls: LlmspellServer, previous: dict[str, str]) -> list[dict[str, Any]]:
    from pygls.uris import from_fs_path, to_fs_path

    from llmspell_ls.features import pull_diagnostics as pull

    out: list[dict[str, Any]] = []
    open_paths: set[str] = set()
    for uri in ls.docs.uris():
        doc = ls.docs.get(uri)
        got = await ls.current_diagnostics(uri)
        if doc is None or got is None:
            continue
        version, rid, items = got
        if version != doc.version:
            continue  # not computed yet: reported by a later pull
        out.append({"uri": uri, "version": version, **pull.document_report(rid, items, previous.get(uri))})
        path = to_fs_path(uri)
        if path:
            open_paths.add(path)
    roots = []
    try:
        roots = [r for f in ls.workspace.folders.values() if (r := to_fs_path(f.uri))]
        if not roots and ls.workspace.root_path:
            roots = [ls.workspace.root_path]
    except Exception:
        roots = []
    if not roots:
        return out
    index, enc, cache = ls.index, ls.options.encoding, ls.file_diag_cache

    def disk(_doc: Any, token: Any) -> list[dict[str, Any]]:
        reports = []
        for p in pull.workspace_files(roots, open_paths):
            if token.expired:
                break  # over budget: report what we have (the next pull continues from the cache)
            try:
                rid, items = pull.file_diagnostics(p, index, enc, cache)
            except Exception:
                continue
            uri = from_fs_path(str(p)) or p.as_uri()
            reports.append({"uri": uri, "version": None, **pull.document_report(rid, items, previous.get(uri))})
        return reports

    loop = asyncio.get_running_loop()
    from llmspell_ls.budget import Token, running

    token = Token(2000)

    def run() -> list[dict[str, Any]]:
        with running(token):
            try:
                return disk(None, token)
            except Exception:
                log.exception("workspace diagnostics")
                return []

    out.extend(await loop.run_in_executor(ls.analysis_executor, run))
    return out


def _show_settings_error(ls: LlmspellServer, source: str, message: str) -> None:
    """Invalid settings are never silently ignored: the user sees what is wrong (the previous settings stay)."""
    try:
        ls.window_show_message(lsp.ShowMessageParams(
            type=lsp.MessageType.Error,
            message=f"llmspell: invalid settings ({source}); keeping the previous ones: {message}"))
    except Exception:
        log.exception("showMessage")


def _settings_valid(ls: LlmspellServer, settings: dict[str, Any], source: str) -> bool:
    """Check client settings against the configuration schema (with llmspell.toml and LLMSPELL_*)."""
    try:
        from llmspell.config import _deep_merge, validate_config
        from llmspell.core.errors import LLMSpellError

        root = ls.workspace_root()
        try:
            if root:
                from llmspell.config import load_config

                load_config(root, overrides=settings, overrides_source=source)
            else:
                validate_config(_deep_merge({"workspace": "."}, settings), source=source)
        except LLMSpellError as e:
            _show_settings_error(ls, source, e.message)
            return False
    except Exception as e:  # never let a settings check take the server down
        log.exception("settings check")
        _show_settings_error(ls, source, f"{type(e).__name__}: {e}")
        return False
    return True


def _first_str(args: tuple[Any, ...], key: str) -> str | None:
    """The first argument as a string: ``"x"``, ``{"uri": "x"}`` or ``["x"]`` all work."""
    for a in args:
        if isinstance(a, str):
            return a
        if isinstance(a, dict) and isinstance(a.get(key), str):
            return a[key]  # type: ignore[no-any-return]
        if hasattr(a, key):
            return str(getattr(a, key))
        if isinstance(a, list | tuple):
            got = _first_str(tuple(a), key)
            if got:
                return got
    return None


def _register_presentation(server: LlmspellServer) -> None:
    """Folding ranges, semantic tokens (full, range, full/delta) and inlay hints: pure functions in
    ``features/folding.py``, ``features/semantic_tokens.py`` and ``features/inlay_hints.py``, computed
    off the event loop through ``ls.compute`` (cached per document version)."""
    from pygls.capabilities import get_capability

    from llmspell_ls.features import folding, inlay_hints, semantic_tokens

    def cap(ls: LlmspellServer, path: str, default: Any = None) -> Any:
        try:
            return get_capability(ls.client_capabilities, path, default)
        except Exception:
            return default

    @server.feature(lsp.TEXT_DOCUMENT_FOLDING_RANGE)
    async def on_folding_range(ls: LlmspellServer, params: lsp.FoldingRangeParams) -> Any:
        fr = cap(ls, "text_document.folding_range")
        opts = folding.FoldOptions(
            line_folding_only=bool(getattr(fr, "line_folding_only", False)),
            range_limit=getattr(fr, "range_limit", None),
            collapsed_text=bool(getattr(getattr(fr, "folding_range", None), "collapsed_text", False)))
        enc = ls.options.encoding
        return await ls.compute(params.text_document.uri, ("foldingRange", opts),
                                lambda doc, _t: folding.folding_ranges(doc, enc, opts), empty="[]",
                                window=PREFIX_WINDOW)  # over the deadline: the folds of a prefix

    def semantic_full_job(ls: LlmspellServer) -> Job:
        enc = ls.options.encoding
        return Job(("semanticTokens/full",),
                   lambda doc, _t: semantic_tokens.as_json(semantic_tokens.semantic_tokens_full(doc, ls.index, enc)),
                   budget_ms=1000, window=(0, 0, 0, SEMANTIC_WINDOW_LINES))

    @server.feature(lsp.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, semantic_tokens.LEGEND)
    async def on_semantic_tokens_full(ls: LlmspellServer, params: lsp.SemanticTokensParams) -> Any:
        return await semantic_full_job(ls).run(ls, params.text_document.uri)

    def fast_semantic_full(ls: LlmspellServer, params: Any) -> RawJSON | None:
        try:
            uri = params["textDocument"]["uri"]
        except (KeyError, TypeError):
            return None
        return semantic_full_job(ls).now(ls, uri) if type(uri) is str else None

    server.fast_paths[lsp.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL] = fast_semantic_full

    @server.feature(lsp.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL_DELTA)
    async def on_semantic_tokens_delta(ls: LlmspellServer, params: lsp.SemanticTokensDeltaParams) -> Any:
        enc = ls.options.encoding
        prev = params.previous_result_id
        return await ls.compute(params.text_document.uri, ("semanticTokens/delta", prev),
                                lambda doc, _t: semantic_tokens.as_json(
                                    semantic_tokens.semantic_tokens_delta(doc, ls.index, enc, prev)),
                                budget_ms=1000)

    @server.feature(lsp.TEXT_DOCUMENT_SEMANTIC_TOKENS_RANGE)
    async def on_semantic_tokens_range(ls: LlmspellServer, params: lsp.SemanticTokensRangeParams) -> Any:
        enc = ls.options.encoding
        r = params.range
        key = ("semanticTokens/range", r.start.line, r.start.character, r.end.line, r.end.character)
        # a huge document not parsed yet: the tokens of the range's lines, parsed alone (a subset)
        return await ls.compute(params.text_document.uri, key,
                                lambda doc, _t: semantic_tokens.as_json(
                                    semantic_tokens.semantic_tokens_range(doc, ls.index, enc, r)),
                                budget_ms=1000, window=range_of(r))

    def resolves_tooltips(ls: LlmspellServer) -> bool:
        """The client resolves hints' tooltips itself (VS Code, Neovim 0.10+ list ``tooltip``)."""
        props = getattr(cap(ls, "text_document.inlay_hint.resolve_support"), "properties", None) or []
        return "tooltip" in props

    @server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT, lsp.InlayHintOptions(resolve_provider=True))
    async def on_inlay_hint(ls: LlmspellServer, params: lsp.InlayHintParams) -> Any:
        enc = ls.options.encoding
        r = params.range
        light = resolves_tooltips(ls)
        key = ("inlayHint", r.start.line, r.start.character, r.end.line, r.end.character, light)
        return await ls.compute(params.text_document.uri, key,
                                lambda doc, _t: inlay_hints.inlay_hints(doc, ls.index, enc, r, light=light),
                                empty="[]", window=range_of(r))  # huge, not parsed yet: the range's lines

    @server.feature(lsp.INLAY_HINT_RESOLVE)
    def on_inlay_hint_resolve(ls: LlmspellServer, hint: lsp.InlayHint) -> lsp.InlayHint:
        return inlay_hints.resolve_hint(hint, ls.index)  # a dict lookup in the model: on the loop

    _ = (on_folding_range, on_semantic_tokens_full, on_semantic_tokens_delta, on_semantic_tokens_range,
         on_inlay_hint, on_inlay_hint_resolve)
