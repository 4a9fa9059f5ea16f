"""``python -m llmspell_ls.stubgen [--no-model]``: regenerate the committed stubs.

1. re-introspect the API declaration into ``stubs/llmspell-api.json`` (skipped with ``--no-model``);
2. render ``stubs/lua/`` and ``stubs/js/`` from it;
3. copy the model and the two stub files into the package data (``llmspell_ls/data/llmspell-api.json``,
   ``llmspell.lua``, ``llmspell.d.ts``) for wheel installs (go-to-definition on an API name opens them).
"""

from __future__ import annotations

import shutil
import sys

from llmspell_ls.stubgen import PACKAGE_DATA_JSON, REPO_STUBS, write_stubs

PACKAGED_STUBS = {"lua/library/llmspell.lua": "llmspell.lua", "js/llmspell.d.ts": "llmspell.d.ts"}
"""Stub files (relative to ``stubs/``) copied next to the packaged model (``llmspell_ls/data/``)."""


def main(argv: list[str]) -> int:
    model = REPO_STUBS / "llmspell-api.json"
    if "--no-model" not in argv:
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
