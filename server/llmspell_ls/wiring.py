"""The one place that registers LSP features and commands (esbonio's ``setup.py`` style).

Handlers are thin: convert params, call a pure function in :mod:`llmspell_ls.features` on the current
document snapshot, return its (cached, serialized) result. ``did*`` handlers only update state. pygls
turns an exception in a request handler into an error response; notification handlers additionally
catch and log, so a bad edit can never take the server down.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types as lsp

from llmspell_ls.features import actions, lens, symbols
from llmspell_ls.features.common import RawJSON
from llmspell_ls.features.completion import completion, resolve_item
from llmspell_ls.features.hover import hover
from llmspell_ls.features.signature import signature_help
from llmspell_ls.server import LlmspellServer, client_options

log = logging.getLogger("llmspell_ls")

COMPLETION_TRIGGERS = [".", ":", '"', "'"]
SIGNATURE_TRIGGERS = ["(", ","]


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
        except Exception:
            log.exception("didOpen %s", td.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LlmspellServer, params: lsp.DidChangeTextDocumentParams) -> None:
        try:
            ls.change_document(params.text_document.uri, params.text_document.version)
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

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION,
                    lsp.CompletionOptions(trigger_characters=COMPLETION_TRIGGERS, resolve_provider=True))
    def on_completion(ls: LlmspellServer, params: lsp.CompletionParams) -> Any:
        p = params.position
        return ls.cached(params.text_document.uri, ("completion", p.line, p.character),
                         lambda doc: completion(doc, ls.index, p.line, p.character, ls.options))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: LlmspellServer, params: lsp.HoverParams) -> Any:
        p = params.position
        return ls.cached(params.text_document.uri, ("hover", p.line, p.character),
                         lambda doc: hover(doc, ls.index, p.line, p.character, ls.options))

    @server.feature(lsp.TEXT_DOCUMENT_SIGNATURE_HELP,
                    lsp.SignatureHelpOptions(trigger_characters=SIGNATURE_TRIGGERS, retrigger_characters=[","]))
    def on_signature(ls: LlmspellServer, params: lsp.SignatureHelpParams) -> Any:
        p = params.position
        return ls.cached(params.text_document.uri, ("signature", p.line, p.character),
                         lambda doc: signature_help(doc, ls.index, p.line, p.character, ls.options))

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
        return lens.code_lenses(uri, ls.runs.running_for(uri))

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def on_symbols(ls: LlmspellServer, params: lsp.DocumentSymbolParams) -> Any:
        doc = ls.docs.get(params.text_document.uri)
        if doc is None:
            return None
        # the whole-document pass may be cold: run it on the analysis thread, not on the event loop
        loop = asyncio.get_running_loop()
        syms = await loop.run_in_executor(ls.analysis_executor, symbols.document_symbols, doc, ls.index,
                                          ls.options.encoding)
        from pygls.capabilities import get_capability

        if get_capability(ls.client_capabilities,
                          "text_document.document_symbol.hierarchical_document_symbol_support", False):
            return syms
        return [lsp.SymbolInformation(name=s.name, kind=s.kind,
                                      location=lsp.Location(uri=doc.uri, range=s.range),
                                      container_name=s.detail) for s in syms]

    # ---------------------------------------------------------------- navigation (definition, references,
    # highlight, rename, workspace symbols, selection range): computed on the analysis thread
    from pygls.exceptions import JsonRpcException

    from llmspell_ls.features import navigation, rename, selection, workspace_symbols

    def nav_others(ls: LlmspellServer, uri: str) -> list[Any]:
        """The other open documents, read without reordering the parsed-tree LRU."""
        return [d for u, d in getattr(ls.docs, "_docs", {}).items() if u != uri]

    async def nav_off_loop(ls: LlmspellServer, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(ls.analysis_executor, lambda: fn(*args))
        except rename.RenameError as e:
            raise JsonRpcException(str(e), code=-32803) from None  # RequestFailed: the editor shows the message

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    async def on_definition(ls: LlmspellServer, params: lsp.DefinitionParams) -> Any:
        doc = ls.docs.get(params.text_document.uri)
        if doc is None:
            return None
        p = params.position
        return await nav_off_loop(ls, navigation.definition, doc, ls.index, p.line, p.character, ls.options.encoding,
                                  nav_others(ls, doc.uri))

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    async def on_references(ls: LlmspellServer, params: lsp.ReferenceParams) -> Any:
        doc = ls.docs.get(params.text_document.uri)
        if doc is None:
            return None
        p = params.position
        return await nav_off_loop(ls, navigation.references, doc, ls.index, p.line, p.character, ls.options.encoding,
                                  params.context.include_declaration, nav_others(ls, doc.uri))

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
    async def on_highlight(ls: LlmspellServer, params: lsp.DocumentHighlightParams) -> Any:
        doc = ls.docs.get(params.text_document.uri)
        if doc is None:
            return None
        p = params.position
        return await nav_off_loop(ls, navigation.highlights, doc, ls.index, p.line, p.character, ls.options.encoding)

    @server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
    async def on_prepare_rename(ls: LlmspellServer, params: lsp.PrepareRenameParams) -> Any:
        doc = ls.docs.get(params.text_document.uri)
        if doc is None:
            return None
        p = params.position
        return await nav_off_loop(ls, rename.prepare_rename, doc, ls.index, p.line, p.character,
                                  ls.options.encoding, nav_others(ls, doc.uri))

    @server.feature(lsp.TEXT_DOCUMENT_RENAME, lsp.RenameOptions(prepare_provider=True))
    async def on_rename(ls: LlmspellServer, params: lsp.RenameParams) -> Any:
        doc = ls.docs.get(params.text_document.uri)
        if doc is None:
            return None
        from pygls.capabilities import get_capability

        doc_changes = bool(get_capability(ls.client_capabilities, "workspace.workspace_edit.document_changes",
                                          False))
        p = params.position
        return await nav_off_loop(ls, rename.rename, doc, ls.index, p.line, p.character, params.new_name,
                                  ls.options.encoding, nav_others(ls, doc.uri), doc_changes)

    @server.feature(lsp.TEXT_DOCUMENT_SELECTION_RANGE)
    async def on_selection_range(ls: LlmspellServer, params: lsp.SelectionRangeParams) -> Any:
        doc = ls.docs.get(params.text_document.uri)
        if doc is None:
            return None
        return await nav_off_loop(ls, selection.selection_ranges, doc, list(params.positions), ls.options.encoding)

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
        return await nav_off_loop(ls, workspace_symbols.workspace_symbols, params.query, docs, roots,
                                  ls.options.encoding)

    _ = (on_definition, on_references, on_highlight, on_prepare_rename, on_rename, on_selection_range,
         on_workspace_symbol)

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

    _ = (did_open, did_change, did_close, did_save, on_completion, on_hover, on_signature, on_code_action,
         on_code_lens, on_symbols, run_spell, cancel_spell, on_initialize, on_resolve, RawJSON)


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
