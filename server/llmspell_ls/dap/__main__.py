"""``python -m llmspell_ls.dap``: the debug adapter over stdio.

argparse first, so ``--help`` prints usage instead of starting an adapter that waits on stdin.
"""

import argparse
import sys

from llmspell_ls.dap.server import main

parser = argparse.ArgumentParser(
    prog="python -m llmspell_ls.dap",
    description="Debug Adapter Protocol server for llmspell spells over stdio (same as `llmspell-ls --dap`).",
)
parser.parse_args()
sys.exit(main())
