"""llmspell-ls: language server and command line for llmspell spells."""

__version__ = "0.1.0"
