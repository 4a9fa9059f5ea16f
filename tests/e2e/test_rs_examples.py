"""Regressions for rs-llmspell example spells that once failed here, each reproduced by our own minimal
spell written in the same style and run as a user runs it: ``llmspell-ls --run`` in a real child
process (isolation on), from the directory the user would be in.

* ``/tmp`` files (13 rs-llmspell spells): written and read back within a run and across runs, the
  real /tmp untouched (``security.temp_dir = "private"``);
* project-root-relative names (code-review-assistant loads ``examples/.../code-input.lua``);
* hash-calculator ``SHA-256`` spellings, json-processor ``transform``, default process programs,
  ``Hook.unregister`` on a bad handle, webhook-caller's soft failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

PY = sys.executable


def run(cwd: Path, spell: str, *, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    return subprocess.run(
        [PY, "-c", "import sys; from llmspell_ls.cli import main; sys.exit(main())", "--run", spell],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
    )


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r.stdout


TMP_WRITER = r"""
-- getting-started / file-organizer style: scratch files under /tmp
local path = "%(name)s"
local r = Tool.execute("file-operations", {operation = "write", path = path, input = "report body"})
print("write:", r.text)
local f = assert(io.open(path, "a"))
f:write("\nappended by io")
f:close()
local back = Tool.execute("file-operations", {operation = "read", path = path})
print("read:", (back.text:gsub("\n", "|")))
local t = os.tmpname()
print("tmpname under /tmp:", t:sub(1, 5) == "/tmp/")
"""

TMP_READER = r"""
local f = io.open("%(name)s")
if not f then print("missing") return end
print("again:", (f:read("a"):gsub("\n", "|")))
"""


def test_tmp_files_within_and_across_runs_through_the_cli(tmp_path: Path) -> None:
    name = f"/tmp/llmspell-rsx-{uuid.uuid4().hex}.txt"
    (tmp_path / "writer.lua").write_text(TMP_WRITER % {"name": name})
    (tmp_path / "reader.lua").write_text(TMP_READER % {"name": name})
    out = ok(run(tmp_path, "writer.lua"))
    assert f"write:\tWrote 11 bytes to {name}" in out
    assert "read:\treport body|appended by io" in out
    assert "tmpname under /tmp:\ttrue" in out
    assert ".llmspell" not in out
    out = ok(run(tmp_path, "reader.lua"))
    assert "again:\treport body|appended by io" in out
    assert not Path(name).exists(), "the real /tmp is never written"
    assert (tmp_path / ".llmspell" / "tmp" / Path(name).name).exists()


def test_project_root_relative_dofile(tmp_path: Path) -> None:
    app = tmp_path / "examples" / "apps" / "review"
    app.mkdir(parents=True)
    (app / "code-input.lua").write_text('return {{name = "a.py", code = "print(1)"}}\n')
    (app / "main.lua").write_text(
        'local samples = dofile("examples/apps/review/code-input.lua")\n'
        'print("loaded", #samples, samples[1].name)\n')
    out = ok(run(tmp_path, "examples/apps/review/main.lua"))
    assert "loaded\t1\ta.py" in out


PARITY = r"""
-- tool-basics / cookbook style: rs-llmspell spellings
local h = Tool.execute("hash-calculator", {operation = "hash", algorithm = "SHA-256", input = "abc"})
print("sha:", h.result.hash:sub(1, 12))
local m = Tool.execute("hash-calculator", {operation = "hash", algorithm = "MD5", input = "abc"})
print("md5:", m.result.hash)
local j = Tool.execute("json-processor", {operation = "transform", input = {a = {1, 2, 3}}, query = ".a | length"})
print("jq:", j.result)
local e = Tool.execute("process-executor", {executable = "echo", arguments = {"from", "echo"}})
print("echo:", (e.result.stdout:gsub("\n", "")))
local ok_, err = pcall(Tool.execute, "process-executor", {executable = "sh", arguments = {"-c", "id"}})
print("sh refused:", not ok_)
local hk = Hook.register("BeforeToolExecution", function() return "continue" end)
print("unregister:", Hook.unregister(hk), Hook.unregister(hk))
print("bad handle:", pcall(Hook.unregister, "not-a-handle"))
local w = Tool.execute("webhook-caller", {input = "https://no-such-host.invalid/h", payload = {x = 1}})
print("webhook:", w.success, w.error ~= nil)
"""


def test_rs_spellings_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "parity.lua").write_text(PARITY)
    out = ok(run(tmp_path, "parity.lua"))
    assert "sha:\tba7816bf8f01" in out
    assert "md5:\t900150983cd24fb0d6963f7d28e17f72" in out
    assert "jq:\t3" in out
    assert "echo:\tfrom echo" in out
    assert "sh refused:\ttrue" in out
    assert "unregister:\ttrue\tfalse" in out
    assert "bad handle:\tfalse\t" in out and "no registered hook has the id 'not-a-handle'" in out
    assert "webhook:\tfalse\ttrue" in out


def test_js_tmp_and_parity(tmp_path: Path) -> None:
    name = f"/tmp/llmspell-rsx-{uuid.uuid4().hex}.json"
    (tmp_path / "p.js").write_text(f"""
await Tool.execute("file-operations", {{operation: "write", path: "{name}", input: '{{"n": 2}}'}});
const r = await Tool.execute("json-processor", {{operation: "jq", file: "{name}", query: ".n * 21"}});
console.log("jq:", r.result);
const h = await Tool.execute("hash-calculator", {{operation: "hash", algorithm: "Sha512", input: "abc"}});
console.log("sha512:", h.result.algorithm);
""")
    out = ok(run(tmp_path, "p.js"))
    assert "jq: 42" in out
    assert "sha512: sha512" in out
    assert not Path(name).exists()


def test_os_execute_sleep_waits_and_other_commands_run_nothing(tmp_path: Path) -> None:
    """templates/research/memory-aware.lua waits with os.execute("sleep 1"): that idiom waits (through
    Utils.sleep, under the wall time); any other command runs nothing and says what to use."""
    (tmp_path / "s.lua").write_text(
        'local c = os.time()\nprint(os.execute("sleep 1"))\nprint(os.time() - c >= 1)\n'
        'print(os.execute("touch made-by-shell"))\n', encoding="utf-8")
    r = run(tmp_path, "s.lua")
    out = ok(r)
    assert out.splitlines()[:3] == ["true\texit\t0", "true", "nil\texit\t127"]
    assert "os.execute: spells have no shell" in r.stdout + r.stderr
    assert not (tmp_path / "made-by-shell").exists()
