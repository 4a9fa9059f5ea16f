"""The language server's merge of ``.llmspell/mcp-tools.json`` is safe under concurrent requests.

Requests run on worker threads and each asks for the index. A caller that arrives while another is
reading the listing must not go on with the old catalogue (CI once saw a completion right after
``--mcp-refresh`` miss the new tools this way).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from llmspell_ls import mcp_catalog
from llmspell_ls.apimodel import load_index
from llmspell_ls.mcp_catalog import MCPToolsFile


def test_a_caller_during_a_slow_read_sees_the_merged_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".llmspell").mkdir()
    (tmp_path / ".llmspell" / "mcp-tools.json").write_text(json.dumps({"version": 1, "servers": {"notes": {
        "tools": [{"name": "mcp.notes.search", "description": "find notes", "parameters": [{"name": "query"}]}]}}}))
    reading = threading.Event()
    real = mcp_catalog._read_regular

    def slow_read(path: str) -> bytes | None:
        reading.set()
        time.sleep(0.3)
        return real(path)

    monkeypatch.setattr(mcp_catalog, "_read_regular", slow_read)
    index, files = load_index(), MCPToolsFile()
    first = threading.Thread(target=files.refresh, args=(index, [str(tmp_path)]), daemon=True)
    first.start()
    assert reading.wait(5)
    files.refresh(index, [str(tmp_path)])  # the second request of the pair: arrives mid-read
    assert "mcp.notes.search" in index.tools, "a request went on with the catalogue from before the listing"
    first.join(5)
