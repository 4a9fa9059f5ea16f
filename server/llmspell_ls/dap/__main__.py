"""``python -m llmspell_ls.dap``: the debug adapter over stdio."""

import sys

from llmspell_ls.dap.server import main

sys.exit(main())
