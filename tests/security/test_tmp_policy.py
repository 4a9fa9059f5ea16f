"""``security.temp_dir``: a spell's ``/tmp/...`` paths.

Default ``private``: a path a spell names under the system temp dir is mapped to the same relative path
in the workspace's own ``.llmspell/tmp/`` (0700), on every route the path gate serves, while the real
``/tmp`` stays untouched and unreadable. ``system`` opens the real temp dir (rs-llmspell's behaviour),
``none`` refuses it. The attacks come first: a file planted in the real /tmp, ``..`` tricks, links in the
mapped folder that lead back to the real /tmp, a link swapped in while the spell reads.
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmspell.core.errors import SecurityViolationError
from llmspell.messages import Finished
from llmspell.runner import SpellRunner
from llmspell.runtime import Runtime
from llmspell.security.fs import PathGate
from llmspell.security.policy import SecurityPolicy

from .attacks import swapping_symlink

SECRET = "REAL-TMP-SECRET-7731"


@pytest.fixture
def planted() -> Iterator[Path]:
    """A file in the real /tmp holding a secret, as another program would leave it."""
    p = Path("/tmp") / f"llmspell-planted-{uuid.uuid4().hex}.txt"
    p.write_text(SECRET)
    try:
        yield p
    finally:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    w = tmp_path / "ws"
    w.mkdir()
    return w


def _unique(stem: str = "f") -> str:
    return f"/tmp/llmspell-test-{stem}-{uuid.uuid4().hex}.txt"


def policy(ws: Path, mode: str = "private") -> SecurityPolicy:
    return SecurityPolicy(workspace=ws, temp_dir=mode)


# ------------------------------------------------------------------------------------ the gate


def test_private_write_then_read_lands_in_the_workspace(ws: Path) -> None:
    g = policy(ws).gate
    name = _unique("rt")
    g.write_text(name, "hello")
    assert g.read_text(name) == "hello"
    priv = ws / ".llmspell" / "tmp"
    assert (priv / Path(name).name).read_text() == "hello"
    assert not Path(name).exists(), "the real /tmp must not be written"
    assert stat.S_IMODE(priv.stat().st_mode) == 0o700
    assert g.display(g.resolve(name)) == name


def test_private_planted_real_tmp_file_is_not_readable(ws: Path, planted: Path) -> None:
    g = policy(ws).gate
    with pytest.raises(FileNotFoundError) as ei:
        g.read_text(str(planted))
    assert SECRET not in str(ei.value)
    assert str(planted) in str(ei.value), "the error names the spell's path"
    assert ".llmspell" not in str(ei.value)
    # listing "/tmp" lists the private folder, not the real one
    g.write_text("/tmp/mine.txt", "x")
    names = [e.name for e in g.scandir("/tmp")]
    assert names == ["mine.txt"]
    assert planted.read_text() == SECRET


@pytest.mark.parametrize("bad", ["/tmp/../etc/passwd", "/tmp/a/../../etc/hostname", "/tmp/../../../root"])
def test_dotdot_out_of_tmp_is_refused(ws: Path, bad: str) -> None:
    with pytest.raises(SecurityViolationError, match="outside the allowed paths"):
        policy(ws).gate.read_text(bad)


def test_dotdot_inside_tmp_stays_mapped(ws: Path, planted: Path) -> None:
    g = policy(ws).gate
    with pytest.raises(FileNotFoundError):
        g.read_text(f"/tmp/x/../{planted.name}")
    g.write_text(f"/tmp/x/../{planted.name}", "mine")
    assert planted.read_text() == SECRET
    assert g.read_text(str(planted)) == "mine"


@pytest.mark.parametrize("how", ["absolute", "relative", "dir"])
def test_links_in_the_private_folder_cannot_reach_the_real_tmp(ws: Path, planted: Path, how: str) -> None:
    g = policy(ws).gate
    g.write_text("/tmp/seed.txt", "x")  # creates the private folder
    priv = ws / ".llmspell" / "tmp"
    if how == "absolute":
        os.symlink(str(planted), priv / "evil")
        name = "/tmp/evil"
    elif how == "relative":
        os.symlink(os.path.relpath(planted, priv), priv / "evil")
        name = "/tmp/evil"
    else:
        os.symlink("/tmp", priv / "evil")
        name = f"/tmp/evil/{planted.name}"
    for op in (lambda: g.read_text(name), lambda: g.write_text(name, "overwritten")):
        with pytest.raises(SecurityViolationError, match="outside the allowed paths"):
            op()
    assert planted.read_text() == SECRET


def test_a_spell_cannot_make_a_link_to_the_real_tmp(ws: Path, planted: Path) -> None:
    """Copying a link keeps it only when its target (never remapped) stays inside."""
    g = policy(ws).gate
    (ws / "d").mkdir()
    os.symlink(str(planted), ws / "d" / "link")
    with pytest.raises(SecurityViolationError):
        g.copy("d", "/tmp/copy")
    with pytest.raises(SecurityViolationError):
        g.copy("d/link", "/tmp/copy2")
    assert planted.read_text() == SECRET


def test_swapped_symlink_race_in_the_private_folder(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text(SECRET)
    g = policy(ws).gate
    g.write_text("/tmp/real/f.txt", "inside")
    priv = ws / ".llmspell" / "tmp"
    seen: set[str] = set()
    with swapping_symlink(priv, outside):
        for _ in range(300):
            try:
                seen.add(g.read_text("/tmp/real/f.txt"))
            except (OSError, SecurityViolationError):
                pass
    assert SECRET not in seen
    assert (outside / "f.txt").read_text() == SECRET


def test_none_refuses_and_system_opens_the_real_tmp(ws: Path, planted: Path) -> None:
    with pytest.raises(SecurityViolationError, match="outside the allowed paths"):
        policy(ws, "none").gate.read_text(str(planted))
    assert not (ws / ".llmspell" / "tmp").exists()
    assert policy(ws, "system").gate.read_text(str(planted)) == SECRET
    with pytest.raises(ValueError, match="temp_dir"):
        policy(ws, "public")


def test_the_workspace_surroundings_in_tmp_are_not_shadowed(tmp_path: Path, ws: Path) -> None:
    """A workspace that itself lives in /tmp: its neighbours are refused as outside (as before), not
    mapped, so nothing of the old containment changes."""
    sibling = tmp_path / "secret.txt"
    sibling.write_text(SECRET)
    assert str(sibling).startswith("/tmp/")
    with pytest.raises(SecurityViolationError, match="outside the allowed paths"):
        policy(ws).gate.read_text(str(sibling))


def test_tmpdir_env_is_mapped_too(ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = Path("/var/tmp") if Path("/var/tmp").is_dir() else tmp_path / "tdir"
    monkeypatch.setenv("TMPDIR", str(other))
    g = policy(ws).gate
    name = str(other / f"llmspell-test-{uuid.uuid4().hex}.txt")
    g.write_text(name, "via TMPDIR")
    assert not Path(name).exists()
    assert g.read_text(name) == "via TMPDIR"


def test_bare_gate_without_mapping_is_unchanged(ws: Path) -> None:
    with pytest.raises(SecurityViolationError):
        PathGate([ws], ws).write_text(_unique(), "x")


def test_derive_keeps_the_mapping(ws: Path) -> None:
    g = policy(ws).gate.derive(refuse=None)
    name = _unique("derived")
    g.write_text(name, "ok")
    assert not Path(name).exists()
    assert (ws / ".llmspell" / "tmp" / Path(name).name).read_text() == "ok"


# ------------------------------------------------------------------------------------ every route


async def run(ws: Path, src: str, name: str = "spell.lua", **security: Any) -> tuple[str, Finished]:
    path = ws / name
    path.write_text(src, encoding="utf-8")
    overrides = {"security": security} if security else None
    runner = SpellRunner(lambda: Runtime(workspace=ws, overrides=overrides))
    out: list[str] = []
    fin: Finished | None = None
    async for m in runner.run(path):
        if m.type == "output":
            out.append(m.text)
        elif m.type == "finished":
            fin = m
    assert fin is not None
    return "".join(out), fin


LUA_ALL = r"""
local out = {}
local function say(...) local t = {} for i = 1, select("#", ...) do t[#t+1] = tostring(select(i, ...)) end
  out[#out+1] = table.concat(t, " ") end
-- io.open / io.lines
local f = assert(io.open("/tmp/a.txt", "w")); f:write("one\ntwo\n"); f:close()
local n = 0; for l in io.lines("/tmp/a.txt") do n = n + 1 end
say("lines", n)
-- the planted real file is not there
local g, err = io.open("%(planted)s")
say("planted", g == nil, err)
-- os.rename / os.remove
assert(os.rename("/tmp/a.txt", "/tmp/b.txt"))
say("renamed", io.open("/tmp/a.txt") == nil, io.open("/tmp/b.txt") ~= nil)
-- os.tmpname makes a file under /tmp
local t = os.tmpname()
say("tmpname", t:sub(1, 5), io.open(t) ~= nil)
assert(os.remove(t))
-- dofile
local m = assert(io.open("/tmp/mod.lua", "w")); m:write("return 40 + 2"); m:close()
say("dofile", dofile("/tmp/mod.lua"))
-- tools: file-operations, file-search, archive-handler, csv-analyzer
local w = Tool.invoke("file-operations", {operation = "write", path = "/tmp/t/c.csv", input = "x,y\n1,2\n3,4\n"})
say("write", w.text)
local r = Tool.invoke("file-operations", {operation = "read", path = "/tmp/t/c.csv"})
say("read", r.text == "x,y\n1,2\n3,4\n")
local l = Tool.invoke("file-operations", {operation = "list_dir", path = "/tmp/t"})
local lr = l.metadata.response.result
say("list", lr.count, lr.entries[1].path)
local c = Tool.invoke("file-operations",
  {operation = "copy", source_path = "/tmp/t/c.csv", target_path = "/tmp/t/d.csv"})
say("copy", c.text)
local s = Tool.invoke("file-search", {pattern = "3,4", path = "/tmp/t", recursive = true})
say("search", s.success ~= false)
local a = Tool.invoke("archive-handler", {operation = "create", path = "/tmp/t.zip", input = {"/tmp/t"}})
say("zip", a.success ~= false)
local x = Tool.invoke("archive-handler", {operation = "extract", path = "/tmp/t.zip", target_path = "/tmp/unz"})
say("unzip", x.success ~= false, io.open("/tmp/unz/t/c.csv") ~= nil)
local d = Tool.invoke("file-operations", {operation = "delete", path = "/tmp/t/d.csv"})
say("delete", d.text, io.open("/tmp/t/d.csv") == nil)
-- a workflow step
local wf = Workflow.builder():name("tmpwf"):sequential()
  :add_step({name = "w", type = "tool", tool = "file-operations",
             input = {operation = "write", path = "/tmp/wf.txt", input = "from a step"}})
  :add_step({name = "r", type = "tool", tool = "file-operations",
             input = {operation = "read", path = "/tmp/wf.txt"}})
  :build()
local res = wf:execute({})
say("workflow", res.success ~= false, io.open("/tmp/wf.txt"):read("a"))
for _, line in ipairs(out) do print(line) end
"""


async def test_every_lua_route_is_mapped(ws: Path, planted: Path) -> None:
    out, fin = await run(ws, LUA_ALL % {"planted": planted})
    assert fin.status == "success", f"{fin.error}\n{out}"
    assert "lines 2" in out
    assert f"planted true {planted}: No such file or directory" in out
    assert "renamed true true" in out
    assert "tmpname /tmp/ true" in out
    assert "dofile 42" in out
    assert "write Wrote 12 bytes to /tmp/t/c.csv" in out
    assert "read true" in out
    assert "list 1 /tmp/t/c.csv" in out
    assert "copy Copied /tmp/t/c.csv to /tmp/t/d.csv" in out
    assert "search true" in out and "zip true" in out
    assert "unzip true true" in out
    assert "delete Deleted file: /tmp/t/d.csv true" in out
    assert "workflow true from a step" in out
    assert ".llmspell" not in out, out
    priv = ws / ".llmspell" / "tmp"
    assert (priv / "b.txt").read_text() == "one\ntwo\n"
    assert (priv / "t" / "c.csv").exists() and (priv / "wf.txt").exists()
    assert planted.read_text() == SECRET
    if Path("/tmp/wf.txt").exists():  # another program's file of that name is left alone
        assert Path("/tmp/wf.txt").read_text() != "from a step"


async def test_files_persist_across_runs_of_a_workspace(ws: Path) -> None:
    name = _unique("persist")
    out, fin = await run(ws, f'local f = assert(io.open("{name}", "w")); f:write("kept"); f:close()')
    assert fin.status == "success", fin.error
    out, fin = await run(ws, f'print(assert(io.open("{name}")):read("a"))')
    assert fin.status == "success", fin.error
    assert out.strip() == "kept"
    assert not Path(name).exists()


async def test_js_tool_route_is_mapped(ws: Path, planted: Path) -> None:
    src = f"""
const w = await Tool.invoke("file-operations", {{operation: "write", path: "/tmp/j.txt", input: "js"}});
console.log(w.text);
const r = await Tool.invoke("file-operations", {{operation: "read", path: "/tmp/j.txt"}});
console.log("read", r.text);
try {{
  await Tool.invoke("file-operations", {{operation: "read", path: "{planted}"}});
  console.log("LEAK");
}} catch (e) {{ console.log("refused", e.message.includes("{planted}"), e.message.includes("{SECRET}")); }}
"""
    out, fin = await run(ws, src, "spell.js")
    assert fin.status == "success", f"{fin.error}\n{out}"
    assert "Wrote 2 bytes to /tmp/j.txt" in out
    assert "read js" in out
    assert "refused true false" in out
    assert (ws / ".llmspell" / "tmp" / "j.txt").read_text() == "js"


async def test_none_mode_refuses_tmp_in_spells(ws: Path) -> None:
    out, fin = await run(ws, 'print(io.open("/tmp/x.txt", "w")); print(pcall(os.tmpname))', temp_dir="none")
    assert fin.status == "success", fin.error
    assert "outside the allowed paths" in out
    assert 'security.temp_dir = "none"' in out
    assert not (ws / ".llmspell" / "tmp").exists()


async def test_system_mode_reads_the_real_tmp(ws: Path, planted: Path) -> None:
    out, fin = await run(ws, f'print(assert(io.open("{planted}")):read("a"))', temp_dir="system")
    assert fin.status == "success", fin.error
    assert out.strip() == SECRET
