"""The debug adapter (DAP over stdio) for spells; see :mod:`llmspell_ls.dap.session`."""
