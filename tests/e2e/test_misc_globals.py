"""End to end: the Artifact, Config, Replay, Logger and Utils examples run offline through the real
runner (Lua and JS) and print what they promise; artifacts and hook recordings outlive the run; the
CLI's isolated run (a child process) reaches the same stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import run_collect

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

EXPECTED: dict[str, tuple[list[str], object]] = {
    "artifact": (["stored: 1 2 hash prefix 8252ff45", "read back: report.md text/markdown",
                  "first line: # Weekly report", "in this session: report.md, numbers.json",
                  "tagged weekly: 1 report.md", "other session may read: false security", "after delete: 1"],
                 {"left": 1}),
    "config": (["default engine: lua", "providers: offline", "wall time limit (s): 300",
                "file access to notes/todo.txt: true", "file access to /etc/passwd: false",
                "network access to 127.0.0.1: false", "may widen security: false narrowing only: true",
                "addAllowedPath(/opt/data): false security security.allowed_paths",
                "after narrowing, other.org: false api.example.com: true", "after restoreSnapshot, other.org: true"],
               {"engine": "lua", "narrowed": True}),
    "replay": (["2 + 2 = 4", "10 / 4 = 2.5", "recorded: 3 executions at BeforeToolExecution",
                "replayed: 3 identical: 2 different: 1", "changed: continue -> cancel (divisions need review)",
                "comparison: false 0.95 Found 1 differences (different data values): 0 critical, 1 major, 0 minor",
                "schedule: interval"], {"identical": 2, "different": 1}),
    "logger_utils": (["uuid: 36 characters",
                      "sha256 of 'spell': 8f4a0aaa62c4ceef88578b1b674070e6b8d9405b80729d5c7af2f353543b2f89",
                      "md5 of 'spell': f557af0ee91e68ac3add10e6ed4ae646", "base64: aGVsbG8= -> hello",
                      "merged: 3 10 true", "split: red| green |blue", "trim: [padded]",
                      "slept at least 50 ms: true"], {"uuid_length": 36}),
}


def _norm(text: str) -> list[str]:
    # Lua prints tab-separated values, JS space-separated: compare with single spaces
    return [" ".join(line.replace("\t", " ").split()) for line in text.splitlines()]


@pytest.mark.parametrize("lang", ["lua", "js"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_example_runs_offline(name: str, lang: str, tmp_path: Path) -> None:
    out, fin = await run_collect(EXAMPLES / f"{name}.{lang}", tmp_path)
    assert fin.status == "success", (out, fin.error)
    lines = _norm(out)
    for want in EXPECTED[name][0]:
        assert any(line.startswith(want) for line in lines), f"{name}.{lang}: missing {want!r} in:\n{out}"
    result = fin.result
    for k, v in dict(EXPECTED[name][1]).items():  # type: ignore[call-overload]
        assert isinstance(result, dict) and result.get(k) == v, (name, lang, result)


async def test_artifacts_and_recordings_outlive_the_run(tmp_path: Path) -> None:
    first = tmp_path / "first.lua"
    first.write_text("""
        local sid = Session.get_current()
        local id = Artifact.store(sid, "agent_output", "answer.txt", "forty-two")
        State.save("global", "answer", id)
        Replay.start_recording({points = {"BeforeToolExecution"}, id = "kept"})
        Tool.execute("calculator", {input = "6 * 7"})
        Replay.stop_recording()
    """)
    out, fin = await run_collect(first, tmp_path)
    assert fin.status == "success", (out, fin.error)
    second = tmp_path / "second.js"
    second.write_text("""
        const id = await State.load("global", "answer");
        const a = await Artifact.get(id.session_id, id);
        const r = await Replay.replay("kept");
        console.log(a.content, r.replayed, r.identical);
    """)
    out, fin = await run_collect(second, tmp_path)
    assert fin.status == "success", (out, fin.error)
    assert out.strip() == "forty-two 1 1"


def test_cli_isolated_run_keeps_artifacts_in_the_workspace(tmp_path: Path) -> None:
    spell = tmp_path / "store.lua"
    spell.write_text("""
        local id = Artifact.store(Session.get_current(), "user_input", "note.txt", "kept by the child")
        print(id.sequence, #Artifact.query({name_pattern = "note"}))
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    cmd = [sys.executable, "-m", "llmspell_ls", "--run", str(spell), "--workspace", str(tmp_path), "--json"]
    outs = []
    for _ in range(2):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
        assert p.returncode == 0, p.stderr + p.stdout
        msgs = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
        outs.append("".join(m.get("text", "") for m in msgs if m.get("type") == "output").strip())
    assert outs == ["1\t1", "1\t2"]  # a new session each run; the store keeps both
    assert (tmp_path / ".llmspell" / "artifacts" / "index.db").is_file()
