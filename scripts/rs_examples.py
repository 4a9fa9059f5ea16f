"""Run rs-llmspell's own example spells from a scratch copy of its repository and classify each.

Usage::

    python scripts/rs_examples.py --repo /path/to/rs-llmspell [--only PATTERN] [--jobs 2] [--json out.json]

Each ``examples/**/*.lua`` is run as a user would, ``llmspell-ls --run FILE`` with the scratch copy's root as
the working directory, on the embedded defaults (offline provider). A spell is *clean* when the run exits 0
and its output shows no failure marker (``❌``, ``Error:``, ``error:``, ``failed``, a Lua traceback);
*degraded* when it exits 0 but printed such markers; *failed* when it exits non-zero or times out. The
first failure line is printed so the causes can be ranked.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MARKERS = re.compile(r"❌|\bError:|\berror:|\bFAILED\b|\bfailed\b|stack traceback|attempt to (?:call|index)")


def copy_repo(repo: Path, dest: Path) -> None:
    """A scratch copy of the repository's tracked files (a git directory or a work tree)."""
    git_dir = repo if (repo / "HEAD").exists() and not (repo / ".git").exists() else repo / ".git"
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", f"--git-dir={git_dir}", "archive", "HEAD", "examples"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def run_one(exe: str, root: Path, spell: Path, timeout: float) -> dict[str, object]:
    start = time.monotonic()
    try:
        proc = subprocess.run([exe, "--run", str(spell.relative_to(root))], cwd=root, capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, "NO_COLOR": "1"})
        code: int | str = proc.returncode
        out = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        code = "timeout"
        out = (e.stdout or b"").decode("utf-8", "replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
    elapsed = time.monotonic() - start
    lines = out.splitlines()
    marked = [ln for ln in lines if MARKERS.search(ln)]
    if code != 0:
        verdict = "failed"
    elif marked:
        verdict = "degraded"
    else:
        verdict = "clean"
    first = next((ln for ln in reversed(lines) if "error" in ln.lower()), lines[-1] if lines else "")
    return {"spell": str(spell.relative_to(root)), "verdict": verdict, "exit": code,
            "seconds": round(elapsed, 2), "first_marker": marked[0][:300] if marked else "",
            "last_error": first[:300], "markers": len(marked)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, required=True, help="rs-llmspell git directory or checkout")
    ap.add_argument("--only", default="", help="run only spells whose path contains this")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--json", type=Path, help="write the per-spell results here")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copy")
    a = ap.parse_args(argv)
    exe = shutil.which("llmspell-ls") or str(Path(sys.executable).parent / "llmspell-ls")
    scratch = Path(tempfile.mkdtemp(prefix="rs-examples-"))
    try:
        copy_repo(a.repo, scratch)
        spells = sorted(p for p in (scratch / "examples").rglob("*.lua") if a.only in str(p))
        with cf.ThreadPoolExecutor(a.jobs) as pool:
            results = list(pool.map(lambda s: run_one(exe, scratch, s, a.timeout), spells))
        for r in results:
            print(f"{r['verdict']:9} {r['exit']!s:>7} {r['seconds']:6.1f}s  {r['spell']}")
            if r["verdict"] != "clean":
                print(f"{'':28}{r['first_marker'] or r['last_error']}")
        counts = {v: sum(1 for r in results if r["verdict"] == v) for v in ("clean", "degraded", "failed")}
        print(f"\n{len(results)} spells: {counts['clean']} clean, {counts['degraded']} degraded, "
              f"{counts['failed']} failed ({counts['clean'] + counts['degraded']} exit 0; a degraded spell "
              "printed a failure marker, which demos of error handling do on purpose: read its line)")
        if a.json:
            a.json.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    finally:
        if a.keep:
            print(f"scratch copy kept at {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
