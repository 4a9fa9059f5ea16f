"""``llmspell-ls --check FILE…``: the language server's diagnostics, printed like a linter.

Output lines are ``file:line:col: severity code: message`` (1-based line and column, columns in
characters). Exit status: 0 clean (warnings allowed), 1 when any error was found, 2 when a file is
missing or unreadable (one line on stderr, no traceback).
"""

from __future__ import annotations

import sys
from pathlib import Path

SEVERITY = {1: "error", 2: "warning", 3: "info", 4: "hint"}


def check_command(files: list[str], workspace: str | None = None) -> int:
    from llmspell_ls.apimodel import load_index
    from llmspell_ls.documents import DocState, language_of
    from llmspell_ls.features.diagnostics import diagnostics
    from llmspell_ls.mcp_catalog import MCPToolsFile

    index = load_index()
    MCPToolsFile().refresh(index, [str(Path(workspace or ".").resolve())], force=True)  # MCP servers' tools
    status = 0
    for name in files:
        path = Path(name)
        if workspace and not path.is_absolute() and not path.exists():
            path = Path(workspace) / path
        try:
            raw = path.read_bytes()
        except OSError as e:
            print(f"llmspell-ls: {name}: {e.strerror or e}", file=sys.stderr)
            return 2
        lang = language_of(str(path))
        if lang is None:
            print(f"llmspell-ls: {name}: not a spell (expected .lua or .js)", file=sys.stderr)
            return 2
        text = raw.decode("utf-8", "replace")
        doc = DocState(path.as_uri() if path.is_absolute() else str(path), lang, 0, text)
        for d in diagnostics(doc, index, "utf-32"):
            start = d["range"]["start"]
            sev = SEVERITY.get(d["severity"], "error")
            print(f"{name}:{start['line'] + 1}:{start['character'] + 1}: {sev} {d['code']}: {d['message']}")
            if d["severity"] == 1:
                status = 1
    return status
