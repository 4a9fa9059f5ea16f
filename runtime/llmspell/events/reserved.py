"""Event names the runtime publishes itself are reserved: spells cannot publish them.

``agent.completed`` carries the token usage the runner adds up for a run's reported cost; a spell
that could publish it would change that figure, and a forged ``tool.failed`` or ``security.violation``
would mislead every subscriber. So every name whose first segment is one the runtime uses (``agent``,
``tool``, ``workflow``, ``session``, ``state``, ``hook``, ``security``, ``system``, ``recovery``,
``config``) is refused on every path a spell has to the bus (``Event.publish``, ``workflow:emit``,
``agent:logEvent``), whatever its case or surrounding blanks. Events a spell publishes carry
``metadata.origin = "spell"`` (set by the runtime, not by the spell), so a consumer can tell them apart.
"""

from __future__ import annotations

import re

from llmspell.core.errors import ValidationError

RESERVED_PREFIXES = frozenset({
    "agent", "tool", "workflow", "session", "state", "hook", "security", "system", "recovery", "config",
    "runtime", "llmspell", "run", "provider",
})
"""First segments of the event names the runtime publishes (``llmspell.api.catalogs.SYSTEM_EVENTS``)."""

SPELL_ORIGIN = {"origin": "spell"}

_SPLIT = re.compile(r"[.:/\s*]")


def is_reserved(name: str) -> bool:
    head = _SPLIT.split(str(name).strip().lower(), 1)[0]
    return head in RESERVED_PREFIXES


def check_spell_event_name(name: str, where: str) -> str:
    """``name`` when a spell may publish it; a ValidationError naming the reserved prefix otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"{where}: the event name must be a non-empty string")
    if is_reserved(name):
        head = _SPLIT.split(name.strip().lower(), 1)[0]
        raise ValidationError(
            f"{where}: the event name '{name}' is reserved: the runtime publishes '{head}.*' events itself; "
            f"use a name of your own, such as 'app.{name.strip().split('.', 1)[-1] or 'event'}'",
            details={"event_type": name, "reserved": f"{head}.*"},
        )
    return name


def spell_metadata(spell_name: str | None) -> dict[str, str]:
    """The trusted metadata of an event published by a spell."""
    md = dict(SPELL_ORIGIN)
    if spell_name:
        md["spell"] = str(spell_name)
    return md
