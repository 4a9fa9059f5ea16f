"""Run isolation: every spell run in its own killable child process, supervised by the parent.

See :mod:`llmspell.isolation.supervisor` (the parent side, :class:`IsolatedRunner`),
:mod:`llmspell.isolation.child` (what the run's process does before and while it runs the spell),
:mod:`llmspell.isolation.zygote` (the pre-imported fork server the language server uses) and
:mod:`llmspell.isolation.procs` (rlimits, tree kill).
"""

from __future__ import annotations

from llmspell.isolation.supervisor import ForkSpawner, IsolatedRunner, ZygoteSpawner

__all__ = ["ForkSpawner", "IsolatedRunner", "ZygoteSpawner"]
