"""textDocument/codeLens: "Run spell" on line 1 of every spell (or "Cancel run" while it runs)."""

from __future__ import annotations

from lsprotocol import types as lsp

RUN_COMMAND = "llmspell.runSpell"
CANCEL_COMMAND = "llmspell.cancelSpell"


def code_lenses(uri: str, running_run_id: str | None = None) -> list[lsp.CodeLens]:
    rng = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0))
    if running_run_id is not None:
        return [lsp.CodeLens(range=rng, command=lsp.Command(
            title="■ Cancel run", command=CANCEL_COMMAND, arguments=[running_run_id]))]
    return [lsp.CodeLens(range=rng, command=lsp.Command(title="▶ Run spell", command=RUN_COMMAND, arguments=[uri]))]
