"""textDocument/codeLens: "Run spell" on line 1 of every spell (or "Cancel run" while it runs), and
beside it "Debug spell" for clients that can start the spell debugger (``llmspell-ls --dap``).

Why "Debug spell" is opt-in: the lens command is handled by the editor plugin (it starts a Debug
Adapter Protocol session), not by this server. A client without a debugger would show a lens that
does nothing when clicked, so the server adds it only when the client says it handles it, through
the client capability ``experimental.llmspell.debugSpell = true`` (the VS Code extension and the
Neovim plugin of this repository send it).
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types as lsp

RUN_COMMAND = "llmspell.runSpell"
CANCEL_COMMAND = "llmspell.cancelSpell"
#: Client-side command (never in the server's executeCommandProvider: vscode-languageclient would
#: register it too, and the editor's own handler must start the debugger).
DEBUG_COMMAND = "llmspell.debugSpell"


def wants_debug_lens(caps: lsp.ClientCapabilities | None) -> bool:
    """True when the client declared ``experimental.llmspell.debugSpell`` truthy."""
    experimental: Any = getattr(caps, "experimental", None) if caps is not None else None
    if not isinstance(experimental, dict):
        return False
    ours = experimental.get("llmspell")
    return isinstance(ours, dict) and bool(ours.get("debugSpell"))


def code_lenses(uri: str, running_run_id: str | None = None, debug: bool = False) -> list[lsp.CodeLens]:
    rng = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0))
    if running_run_id is not None:
        return [lsp.CodeLens(range=rng, command=lsp.Command(
            title="■ Cancel run", command=CANCEL_COMMAND, arguments=[running_run_id]))]
    lenses = [lsp.CodeLens(range=rng, command=lsp.Command(title="▶ Run spell", command=RUN_COMMAND, arguments=[uri]))]
    if debug:
        lenses.append(lsp.CodeLens(range=rng, command=lsp.Command(
            title="● Debug spell", command=DEBUG_COMMAND, arguments=[uri])))
    return lenses
