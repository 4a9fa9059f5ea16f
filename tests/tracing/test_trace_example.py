"""examples/traced_run.lua, run as the README says (``--run ... --trace run.json``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tracing.trace_helpers import REPO, attrs, by_name, one, parent_of, run_cli, spans_of

EXAMPLE = "traced_run.lua"


def test_traced_run_example(tmp_path: Path) -> None:
    spell = tmp_path / EXAMPLE
    shutil.copy(REPO / "examples" / EXAMPLE, spell)
    proc = run_cli(spell, "--trace", "run.json")
    assert proc.returncode == 0, proc.stderr
    assert "calculator returned 85" in proc.stdout and "workflow success:\ttrue" in proc.stdout
    spans = spans_of(json.loads((tmp_path / "run.json").read_text()))
    root = one(spans, "run traced_run.lua")
    assert [e["name"] for e in root["events"]] == ["event user.checkpoint"]
    wf = one(spans, "invoke_workflow summary")
    steps = [s for s in spans if s.get("parentSpanId") == wf["spanId"]]
    assert sorted(s["name"] for s in steps) == ["step ask", "step hash"]
    agents = by_name(spans, "invoke_agent math-helper")
    assert sorted(parent_of(spans, a)["name"] for a in agents) == ["run traced_run.lua", "step ask"]  # type: ignore[index]
    tools = by_name(spans, "execute_tool calculator")
    assert len(tools) == 2 and all(parent_of(spans, t)["name"] == "invoke_agent math-helper" for t in tools)  # type: ignore[index]
    assert all(e["name"] == "hook BeforeToolExecution" for t in tools for e in t["events"])
    total_in = sum(attrs(s).get("gen_ai.usage.input_tokens", 0) for s in spans if s["name"].startswith("chat "))
    assert total_in > 0
