"""Every JavaScript example runs offline and prints what it promises."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import DEDICATED_EXAMPLES, dedicated_module_names

from llmspell.config import load_config
from llmspell.runner import SpellRunner

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ALL_JS_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.js"))
JS_EXAMPLES = [n for n in ALL_JS_EXAMPLES if n[:-3] not in DEDICATED_EXAMPLES]


async def run_example(name: str, workspace: Path, args: list[str] | None = None) -> tuple[Any, str, str]:
    """(finished message, stdout, stderr) of one run in ``workspace`` (its own state file)."""
    cfg = load_config(workspace)
    msgs = [m async for m in SpellRunner(config=cfg).run(EXAMPLES / name, args=args)]
    out = "".join(m.text for m in msgs if m.type == "output" and m.stream == "stdout")
    err = "".join(m.text for m in msgs if m.type == "output" and m.stream == "stderr")
    fin = msgs[-1]
    assert fin.type == "finished"
    return fin, out, err


EXPECTED: dict[str, tuple[list[str], Any]] = {
    # example: (regexes each matching one stdout line, in order; the run result)
    "hello.js": ([r"^Hello, world!$", r"^Agent says: .*You greet people warmly.*Say hello to world"],
                 {"greeted": "world"}),
    "first_tool.js": ([r"^2 \+ 3 \* 4 = 14$", r"^uuid looks valid: true$", r"^tools available: true true$",
                       r"^words: 6$"], {"sum": 14, "words": 6}),
    "first_agent.js": ([r"^agent: tutor$", r"^first: .*What is a spell\?", r"^second: .*Turn 2",
                        r"^model used: "], {"turns": 2}),
    "workflow_sequential.js": ([r"^Sequential workflow 'text-pipeline' completed successfully\. 2 steps",
                                r'^function step said: \{"text":"SPELLS ARE FUN!!!"\}$'], 2),
    "workflow_parallel.js": ([r"^Parallel workflow 'fan-out' completed successfully\. 3 steps",
                              r"^branches done: encode, hash, slow-js$",
                              r"^slow-js: waited 50 ms in JavaScript$"], 3),
    "workflow_conditional.js": ([r"^happy -> then : Great to hear!$", r"^sad -> default : Sorry to hear that\.$"],
                                ["then", "default"]),
    "workflow_map_reduce.js": ([r"^MapReduce workflow 'word-lengths' completed successfully",
                                r"^total letters: 19$"], 19),
    "workflow_loop.js": ([r"^Loop workflow 'counter' completed successfully", r"^iterations: 3 values: \[1,2,3\]$"],
                         3),
    "hooks_modify.js": ([r"^hook saw input: 1 \+ 1$", r"^result after the hook: 20$",
                         r"^result without the hook: 2$"], [20, 2]),
    "hooks_cancel.js": ([r"^refused: HookCancelledError - .*file access is disabled",
                         r"^other tools still work: 42$"], "done"),
    "events_callback.js": ([r'^got order\.created with \{"id":1,"item":"wand"\}$', r'^got order\.shipped with',
                            r"^runtime event: tool\.completed$"], ["order.created", "order.shipped"]),
    "events_pull.js": ([r"^#1: 21 °C$", r"^#2: 22 °C$", r"^#3: 23 °C$", r"^received 3 readings$"], [21, 22, 23]),
    "state.js": ([r"^this spell has run 1 time$", r"^keys in scope 'examples': js_last_run, js_run_count$"], 1),
    "agent_tools.js": ([r"^tool used by the agent: calculator$", r"^answer: .*calculator returned 85"], True),
    "error_handling.js": ([r"^caught ToolNotFoundError \(kind: tool\): Tool 'no-such-tool' not found",
                           r"^caught ValidationError \(kind: validation\): Model is required: call "
                           r"\.model\(\"provider/model\"\) before \.build\(\)",  # JS spelling of the advice
                           r"^soft failure: false - .*division by zero", r"^caught SyntaxError$"], "handled"),
    "streaming.js": ([r"^chunks received: \d+ \(callback ran \d+ times\)$", r"^streamed text matches: true$",
                      r"short story about a spell"], None),
    "tool_chain_workflow.js": ([r"^success: true$", r"^# Score report$", r"^Best team: red$",
                                r"^- red: average 88\.0 over 2 player\(s\)$",
                                r"^- green: average 80\.0 over 1 player\(s\)$",
                                r"^- blue: average 71\.0 over 2 player\(s\)$",
                                r"^archived: 2 files$", r"^sha256 of report: 64 hex digits$"],
                               {"best": "red", "archived": 2}),
}


def test_every_js_example_has_expectations() -> None:
    assert set(JS_EXAMPLES) == set(EXPECTED), "add the new example's expected output to EXPECTED"
    for n in sorted(set(ALL_JS_EXAMPLES) - set(JS_EXAMPLES)):
        assert dedicated_module_names(n[:-3], "js"), f"{DEDICATED_EXAMPLES[n[:-3]]} does not run {n}"


@pytest.mark.parametrize("name", JS_EXAMPLES)
async def test_js_example(name: str, tmp_path: Path) -> None:
    fin, out, err = await run_example(name, tmp_path)
    assert fin.status == "success", (fin.error, out, err)
    assert err == ""
    lines = out.splitlines()
    patterns, result = EXPECTED[name]
    assert len(lines) == len(patterns), out
    for line, pat in zip(lines, patterns, strict=True):
        assert re.search(pat, line), (pat, line)
    if name == "streaming.js":
        n = int(re.search(r"callback ran (\d+) times", out).group(1))  # type: ignore[union-attr]
        assert fin.result == n > 1
    else:
        assert fin.result == result


async def test_state_example_persists_across_runs(tmp_path: Path) -> None:
    for expected in (1, 2, 3):
        fin, out, _ = await run_example("state.js", tmp_path)
        assert fin.result == expected
        assert f"has run {expected} time" in out


async def test_hello_reads_script_arguments(tmp_path: Path) -> None:
    fin, out, _ = await run_example("hello.js", tmp_path, args=["--name", "Ada"])
    assert out.startswith("Hello, Ada!\n") and fin.result == {"greeted": "Ada"}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    return subprocess.run([sys.executable, "-m", "llmspell_ls", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def test_cli_runs_hello_js(tmp_path: Path) -> None:
    p = _cli("--run", str(EXAMPLES / "hello.js"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("Hello, world!\n")
    assert "success" in p.stderr


def test_cli_json_stream_for_js(tmp_path: Path) -> None:
    p = _cli("--run", str(EXAMPLES / "events_callback.js"), "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    msgs = [json.loads(line) for line in p.stdout.splitlines()]
    types = [m["type"] for m in msgs]
    assert types[0] == "started" and msgs[0]["language"] == "javascript"
    assert types[-1] == "finished" and msgs[-1]["status"] == "success"
    assert {"order.created", "order.shipped"} <= {m["event_type"] for m in msgs if m["type"] == "event"}
    assert any(m["type"] == "output" and "got order.created" in m["text"] for m in msgs)


def test_cli_error_location_and_exit_status(tmp_path: Path) -> None:
    spell = tmp_path / "broken.js"
    spell.write_text("console.log('before');\n\nconst cfg = null;\nconsole.log(cfg.model);\n")
    p = _cli("--run", "broken.js", cwd=tmp_path)
    assert p.returncode == 1
    assert p.stdout == "before\n"
    assert "broken.js:4: TypeError: cannot read property 'model' of null" in p.stderr
    assert "Traceback (most recent call last)" not in p.stderr

    spell.write_text("console.log('bye');\nexit(3);\nconsole.log('never');\n")
    p = _cli("--run", "broken.js", cwd=tmp_path)
    assert (p.returncode, p.stdout) == (3, "bye\n")
