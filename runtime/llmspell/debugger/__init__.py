"""The spell debugger's run-process half (the adapter lives in ``llmspell_ls.dap``).

A debugged run is an ordinary isolated run whose request carries ``debug`` (a
:class:`~llmspell.debugger.commands.DebugInit`). The run process then creates one :class:`DebugAgent`
before the runner starts and registers it here: the process runs exactly one spell, so "the active
debugger" is a process-wide fact, and the Lua engine asks for it when it builds the interpreter.
Nothing here is imported by an undebugged run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmspell.debugger.agent import DebugAgent

_ACTIVE: DebugAgent | None = None


def active() -> DebugAgent | None:
    return _ACTIVE


def set_active(agent: DebugAgent | None) -> None:
    global _ACTIVE
    _ACTIVE = agent
