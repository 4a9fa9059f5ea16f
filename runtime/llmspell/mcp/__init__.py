"""Model Context Protocol, both ways.

* Client (:mod:`llmspell.mcp.tools`, :mod:`llmspell.mcp.connection`): the servers of
  ``[mcp.servers.<name>]`` in ``llmspell.toml`` contribute tools named ``mcp.<name>.<tool>`` to the
  runtime's :class:`~llmspell.tools.registry.ToolRegistry`, so ``Tool.list``/``Tool.execute``/agents
  see them like any other tool. Starting a stdio server needs ``mcp.process_allow``; reaching an HTTP
  server goes through the network policy.
* The discovered tools and their schemas are written to ``.llmspell/mcp-tools.json``
  (:mod:`llmspell.mcp.catalog_file`), which the language server merges into its tool catalogue: it
  never starts a server itself.
* Server (:mod:`llmspell.mcp.server`): ``llmspell-ls --mcp`` serves the builtin tools over stdio,
  each call in its own isolated run under the workspace's policy and limits.

The ``mcp`` SDK is imported only when one of these is used.
"""
