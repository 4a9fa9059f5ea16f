"""``python -m llmspell.api [PATH]``: write the API model JSON."""

import sys
from pathlib import Path

from llmspell.api.introspect import write_model

if __name__ == "__main__":
    print(write_model(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
