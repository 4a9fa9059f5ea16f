"""VS Code "Show Trace", in the real editor: code-server + the packaged .vsix + the real server.

A spell with an agent (that calls a tool) and a two-step workflow runs from its lens; the finished
run offers "Show Trace"; the timeline webview must list the spans as a user reads them (labels,
nesting, durations, token counts) and actually paint the bars in the theme's chart colours, which a
pixel check of the screenshot verifies. Screenshots: test-artifacts/vscode-trace/.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tracing.trace_helpers import AGENT_TOOL_WORKFLOW

from .conftest import ARTIFACTS, fail
from .test_vscode import CHROMIUM, E2E_DIR, code_server, node_binary, vsix  # noqa: F401  (fixtures)

pytestmark = pytest.mark.editors


@pytest.fixture
def artifacts() -> Path:
    """This module's own folder, so the main VS Code test's artifacts stay as they are."""
    import shutil

    d = ARTIFACTS / "vscode-trace"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


@pytest.fixture
def traced_spell(spell_workspace: Path) -> Path:
    p = spell_workspace / "traced.lua"
    p.write_text(AGENT_TOOL_WORKFLOW.lstrip(), encoding="utf-8")
    return p


def _rgb(css: str) -> tuple[int, int, int]:
    m = re.match(r"rgba?\((\d+),\s*(\d+),\s*(\d+)", css)
    assert m, css
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _pixels_near(img: Any, color: tuple[int, int, int], tol: int = 12) -> int:
    r0, g0, b0 = color
    return sum(1 for (r, g, b) in img.get_flattened_data()
               if abs(r - r0) <= tol and abs(g - g0) <= tol and abs(b - b0) <= tol)


@pytest.mark.timeout(300)
def test_show_trace_timeline(traced_spell: Path, code_server: Any, spell_workspace: Path,  # noqa: F811
                             editor_env: dict[str, str], artifacts: Path) -> None:
    settings_file = code_server.user_data_dir / "User" / "settings.json"
    settings = json.loads(settings_file.read_text())
    settings["llmspell.trace.notify"] = True  # successful runs offer "Show Trace" in a notification
    settings_file.write_text(json.dumps(settings, indent=2))
    env = dict(editor_env, CS_URL=code_server.url, WORKSPACE=str(spell_workspace), ARTIFACTS=str(artifacts),
               CHROMIUM=CHROMIUM, STEP_TIMEOUT_MS="25000")
    try:
        proc = subprocess.run([node_binary(), str(E2E_DIR / "trace.mjs")], cwd=E2E_DIR, env=env,
                              capture_output=True, text=True, timeout=200)
    except subprocess.TimeoutExpired as e:
        fail(f"the VS Code trace driver timed out after {e.timeout} s:\n{e.stdout!s}")
    (artifacts / "driver-stdout.txt").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        fail(f"driver printed no RESULT (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    result = json.loads(line[len("RESULT "):])
    (artifacts / "result.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    failed = [c for c in result["checks"] if not c["ok"]]
    assert not failed, "checks failed:\n" + "\n".join(f"- {c['name']}: {c['detail']}" for c in failed)
    assert [c["name"] for c in result["checks"]] == ["workbench", "run-traced-spell", "show-trace-from-notification",
                                                      "show-trace-command"]
    ran = result["checks"][1]["detail"]
    assert ran["success"] and re.fullmatch(r'Trace: \d+ spans · "llmspell: Show Trace" opens the timeline', ran["line"])

    tl = result["timeline"]
    assert tl["title"] == "Trace: traced.lua"
    rows = tl["rows"]
    labels = [r["label"] for r in rows]
    assert labels[0] == "run traced.lua"
    for want in ("invoke_agent math-helper", "chat scripted", "execute_tool calculator", "invoke_workflow summary",
                 "step ask", "step hash", "execute_tool hash-calculator"):
        assert want in labels, labels
    by = {r["label"]: r for r in rows}
    # nesting is visible: the tool call is indented under its agent, steps under the workflow
    agent_row = labels.index("invoke_agent math-helper")
    assert rows[agent_row + 1]["label"] == "chat scripted" and rows[agent_row + 1]["indent"] > rows[agent_row]["indent"]
    assert by["step hash"]["indent"] > by["invoke_workflow summary"]["indent"] > by["run traced.lua"]["indent"]
    # durations and token counts as the user reads them
    for r in rows:
        assert r["durationMs"] > 0 and re.fullmatch(r"\d+(\.\d+)? (ms|s)", r["durationText"]), r
    chats = [r for r in rows if r["category"] == "llm"]
    assert len(chats) == 4
    for c in chats:
        assert c["inputTokens"] > 0 and c["outputTokens"] > 0
        assert c["tokensText"] == f"{c['inputTokens']} in / {c['outputTokens']} out tokens"
    total_in = sum(c["inputTokens"] for c in chats)
    assert f"{total_in} in / " in tl["summary"] and "4 LLM calls" in tl["summary"] and "3 tool calls" in tl["summary"]
    assert {r["category"] for r in rows} == {"run", "agent", "llm", "tool", "workflow", "step"}
    again = result["checks"][3]["detail"]
    assert again["rows"] == len(rows) and again["title"] == "Trace: traced.lua"

    # the screenshot really shows the bars, in their (distinct) theme colours
    from PIL import Image

    shot = Path(result["shots"]["timeline"])
    assert shot.exists() and Path(result["shots"]["page"]).exists()
    img = Image.open(shot).convert("RGB")
    assert len(set(img.get_flattened_data())) > 20, "the timeline screenshot is blank"
    background = _rgb(tl["background"])
    colors = {r["category"]: _rgb(r["barColor"]) for r in rows}
    assert len(set(colors.values())) == len(colors), colors
    for cat in ("agent", "llm", "tool", "workflow", "step"):
        assert colors[cat] != background
        assert _pixels_near(img, colors[cat]) >= 20, f"no {cat} bar painted in {shot} ({colors[cat]})"
    print(f"Show Trace: {len(rows)} rows; screenshots {result['shots']}; {time.strftime('%H:%M:%S')}")
