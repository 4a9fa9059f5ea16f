"""``python -m llmspell_ls.stubgen [--no-model]``: regenerate the committed stubs.

1. re-introspect the API declaration into ``stubs/llmspell-api.json`` (skipped with ``--no-model``);
2. render ``stubs/lua/`` and ``stubs/js/`` from it;
3. copy the model into the package data (``llmspell_ls/data/llmspell-api.json``) for wheel installs.
"""

from __future__ import annotations

import shutil
import sys

from llmspell_ls.stubgen import PACKAGE_DATA_JSON, REPO_STUBS, write_stubs


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
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
