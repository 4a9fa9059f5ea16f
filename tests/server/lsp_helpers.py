"""Helpers for the language-server tests (imported as ``lsp_helpers``; tests/server is on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmspell_ls.documents import DocState, Documents

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]
FIXTURE_MODEL = DATA / "fixture_model.json"
REAL_MODEL = REPO / "stubs" / "llmspell-api.json"


def doc_at(text: str, lang: str = "lua", uri: str | None = None) -> tuple[DocState, int, int]:
    """A document from ``text`` with ``|`` marking the cursor; returns (doc, line, character)."""
    off = text.index("|")
    text = text[:off] + text[off + 1:]
    before = text[:off]
    line = before.count("\n")
    char = len(before) - (before.rfind("\n") + 1)
    ext = "lua" if lang == "lua" else "js"
    doc = Documents().open(uri or f"file:///work/spell.{ext}", text, 1, lang)  # type: ignore[arg-type]
    return doc, line, char


def labels(raw: Any) -> list[str]:
    data = raw.value() if hasattr(raw, "value") else raw
    return [i["label"] for i in data["items"]]


def items(raw: Any) -> list[dict[str, Any]]:
    return raw.value()["items"]  # type: ignore[no-any-return]


def load_json(p: Path) -> Any:
    return json.loads(p.read_text(encoding="utf-8"))
