"""Event bus: publish/subscribe with wildcard patterns (see :mod:`llmspell.events.bus`)."""

from llmspell.events.bus import EventBus, Subscription
from llmspell.events.patterns import compile_pattern

__all__ = ["EventBus", "Subscription", "compile_pattern"]
