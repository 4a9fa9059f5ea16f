"""``python -m llmspell.api [PATH]``: write the API model JSON (default: the repository's stubs/llmspell-api.json)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m llmspell.api",
        description="Introspect the script API declaration and write the API model JSON.",
        epilog="To regenerate every stub as well, run `python -m llmspell_ls.stubgen`.",
    )
    p.add_argument("path", nargs="?", metavar="PATH", help="output file (default: stubs/llmspell-api.json)")
    ns = p.parse_args(argv)
    from llmspell.api.introspect import write_model

    print(write_model(Path(ns.path) if ns.path else None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
