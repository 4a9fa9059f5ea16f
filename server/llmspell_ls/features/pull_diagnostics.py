"""Pull diagnostics: ``textDocument/diagnostic`` and ``workspace/diagnostic`` reports.

Result ids name one diagnostics list: a client that sends the id of what it already shows gets an
``unchanged`` report. Open documents are reported from the server's passes (see
:meth:`LlmspellServer.current_diagnostics`); ``workspace/diagnostic`` adds the spells on disk under the
workspace folders that are not open (bounded: :data:`MAX_FILES` files of at most :data:`MAX_FILE_BYTES`),
each analysed once per (size, mtime).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from llmspell_ls.apimodel import ApiIndex
from llmspell_ls.budget import checkpoint
from llmspell_ls.documents import Documents, language_of

MAX_FILES = 200
MAX_FILE_BYTES = 256 * 1024
SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", "target", "dist", "build"}


def result_id(diags: list[dict[str, Any]]) -> str:
    """A stable id for a diagnostics list (same list, same id, across passes and restarts)."""
    return hashlib.blake2b(json.dumps(diags, sort_keys=True).encode(), digest_size=8).hexdigest()


def document_report(rid: str, items: list[dict[str, Any]], previous: str | None) -> dict[str, Any]:
    """A full report, or an unchanged one when the client already has ``rid``."""
    if previous is not None and previous == rid:
        return {"kind": "unchanged", "resultId": rid}
    return {"kind": "full", "resultId": rid, "items": items}


def workspace_files(roots: list[str], open_paths: set[str], limit: int = MAX_FILES) -> list[Path]:
    """Lua/JS files under ``roots`` that are not open, small enough, at most ``limit`` of them."""
    out: list[Path] = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            checkpoint()
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            for name in sorted(filenames):
                if language_of(name) is None or name.endswith(".d.ts"):
                    continue
                p = Path(dirpath) / name
                if str(p) in open_paths:
                    continue
                try:
                    if p.stat().st_size > MAX_FILE_BYTES:
                        continue
                except OSError:
                    continue
                out.append(p)
                if len(out) >= limit:
                    return out
    return out


def file_diagnostics(path: Path, index: ApiIndex, enc: str,
                     cache: dict[str, tuple[tuple[int, int], str, list[dict[str, Any]]]]) -> tuple[str, list[Any]]:
    """(result id, diagnostics) of a spell on disk, analysed once per (size, mtime)."""
    from llmspell_ls.features.diagnostics import diagnostics

    st = path.stat()
    stamp = (st.st_size, st.st_mtime_ns)
    got = cache.get(str(path))
    if got is not None and got[0] == stamp:
        return got[1], got[2]
    lang = language_of(path.name)
    assert lang is not None
    text = path.read_text(encoding="utf-8", errors="replace")
    doc = Documents().open(path.as_uri(), text, 0, lang)
    diags = diagnostics(doc, index, enc)
    rid = result_id(diags)
    cache[str(path)] = (stamp, rid, diags)
    return rid, diags
