"""examples/mcp_tool.lua with its example server (examples/mcp_notes_server.py), run as a user would:
``llmspell-ls --run mcp_tool.lua`` in a folder holding both and the llmspell.toml the spell shows."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from mcp_helpers import PYTHON

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = [pytest.mark.timeout(120)]


def test_mcp_tool_example_runs(tmp_path: Path) -> None:
    for name in ("mcp_tool.lua", "mcp_notes_server.py"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    # the snippet from the example's header, with this venv's Python as python3
    header = [ln[5:] for ln in (EXAMPLES / "mcp_tool.lua").read_text().splitlines() if ln.startswith("--   ")]
    toml = "\n".join(header).replace('"python3"', json.dumps(PYTHON))
    (tmp_path / "llmspell.toml").write_text(toml, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    p = subprocess.run([PYTHON, "-m", "llmspell_ls", "--run", "mcp_tool.lua"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=90, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        "notes tools:\tmcp.notes.add_note, mcp.notes.search",
        "found:\t1\tshopping",
        "checked:\tfalse\tmcp.notes.search: parameter 'query' is required",
        "schema:\tquery\ttrue",
    ]
    result = next(ln for ln in p.stderr.splitlines() if ln.startswith("[llmspell] result: "))
    assert json.loads(result[len("[llmspell] result: "):]) == {"tools": 2, "hits": 1}  # Lua key order varies
    listing = json.loads((tmp_path / ".llmspell" / "mcp-tools.json").read_text())
    assert [t["name"] for t in listing["servers"]["notes"]["tools"]] == ["mcp.notes.add_note", "mcp.notes.search"]
