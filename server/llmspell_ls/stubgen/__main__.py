"""``python -m llmspell_ls.stubgen [--no-model] [--out DIR]``: regenerate the committed stubs.

1. re-introspect the API declaration into ``stubs/llmspell-api.json`` (skipped with ``--no-model``);
2. render ``stubs/lua/`` and ``stubs/js/`` from it;
3. copy the model and the two stub files into the package data (``llmspell_ls/data/llmspell-api.json``,
   ``llmspell.lua``, ``llmspell.d.ts``) for wheel installs (go-to-definition on an API name opens them).

With ``--out DIR`` only step 2 runs, into DIR, from the model the server loads (``llmspell-ls --stubs DIR``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence

from llmspell_ls.stubgen import PACKAGE_DATA_JSON, REPO_STUBS, write_stubs

PACKAGED_STUBS = {"lua/library/llmspell.lua": "llmspell.lua", "js/llmspell.d.ts": "llmspell.d.ts"}
"""Stub files (relative to ``stubs/``) copied next to the packaged model (``llmspell_ls/data/``); the
language server's go-to-definition opens them when there is no source checkout."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m llmspell_ls.stubgen",
        description="Regenerate stubs/ (API model JSON, LuaCATS, .d.ts) and the package's copy of the model.",
    )
    p.add_argument("--no-model", action="store_true",
                   help="keep stubs/llmspell-api.json as it is (do not re-introspect the declaration)")
    p.add_argument("--out", metavar="DIR", help="only render the stubs into DIR (from the model the server loads)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    if ns.out:
        for p in write_stubs(ns.out):
            print(p)
        return 0
    model = REPO_STUBS / "llmspell-api.json"
    if not ns.no_model:
        from llmspell.api.introspect import write_model

        write_model(model)
    for p in write_stubs(REPO_STUBS, model):
        print(p)
    PACKAGE_DATA_JSON.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model, PACKAGE_DATA_JSON)
    print(PACKAGE_DATA_JSON)
    for rel, name in PACKAGED_STUBS.items():
        target = PACKAGE_DATA_JSON.parent / name
        shutil.copyfile(REPO_STUBS / rel, target)
        print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
