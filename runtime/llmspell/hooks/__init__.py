"""Hooks: registration, ordered execution and the shared lifecycle helper (see :mod:`.registry`)."""

from llmspell.hooks.registry import HookExecution, HookHandle, HookRegistry, parse_priority, validate_point
from llmspell.hooks.results import CONTINUE, context_table, to_hook_result

__all__ = [
    "CONTINUE",
    "HookExecution",
    "HookHandle",
    "HookRegistry",
    "context_table",
    "parse_priority",
    "to_hook_result",
    "validate_point",
]
