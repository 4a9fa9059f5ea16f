"""Map items and parallel branches of workflows on a Dask cluster (issue 14).

Nothing here is imported unless ``[cluster] address`` (or ``--cluster``) is set: without it the
workflow engine runs every step in the run's own process exactly as before. With it, the steps of a
map (one task per item) and of parallel branches (one task per step) that are tool, agent or script
function steps are shipped to Dask workers as plain data — the step definition, JSON inputs, and for a
Lua function its source text plus its upvalues as plain values. Each worker builds one runtime and
one Lua interpreter per run (a worker plugin) under the run's own configuration (security policy,
limits), and talks back to the run's process over a small authenticated socket for State, events,
hook results and printed output (:mod:`llmspell.cluster.link`).

Modules: :mod:`.address` (parsing ``local:N`` / ``tcp://``), :mod:`.lua_ship` (turning a Lua
function into source + upvalues and back), :mod:`.link` (the run-process RPC server and the
worker's client), :mod:`.worker` (plugin, per-run worker host, the task function),
:mod:`.dispatch` (starting/connecting the cluster, submitting and cancelling tasks).
"""

from __future__ import annotations

MISSING_EXTRA = ("running on a cluster needs Dask, which is not installed: "
                 "pip install 'llmspell-ls[cluster]' (the cluster extra)")


def dask_available() -> bool:
    """True when ``distributed`` can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("distributed") is not None
