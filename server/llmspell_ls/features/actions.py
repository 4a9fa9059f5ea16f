"""textDocument/codeAction: quick fixes carried by diagnostics (``data.replace``).

"did you mean" fixes for unknown members, tools, hook points, values and tool parameters, and the
``.``/``:`` call-style fix, all replace exactly the diagnostic's range.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types as lsp


def code_actions(uri: str, diagnostics: list[lsp.Diagnostic]) -> list[lsp.CodeAction]:
    out: list[lsp.CodeAction] = []
    for d in diagnostics:
        data: Any = d.data
        if d.source != "llmspell" or not isinstance(data, dict) or "replace" not in data:
            continue
        new = str(data["replace"])
        title = f"Use '{new}'" if d.code != "call-style" else f"Call with '{new}'"
        out.append(lsp.CodeAction(
            title=title,
            kind=lsp.CodeActionKind.QuickFix,
            diagnostics=[d],
            is_preferred=True,
            edit=lsp.WorkspaceEdit(changes={uri: [lsp.TextEdit(range=d.range, new_text=new)]}),
        ))
    return out
