"""Completion order: most-used first, then alphabetical (``sortText``).

The frequencies are counted from rs-llmspell's example spells (66 Lua files under ``examples/``, 22,000
lines): how often each API method/function name is called there, and how often each global is used.
Counting them again is a one-off (the table is data, not computed at start-up).
"""

from __future__ import annotations

METHOD_FREQUENCY: dict[str, int] = {
    "execute": 134, "builder": 118, "build": 116, "name": 112, "add_step": 97, "description": 75, "model": 69,
    "type": 69, "temperature": 66, "max_tokens": 47, "system_prompt": 38, "ingest": 37, "search": 37,
    "custom_config": 31, "sequential": 29, "get": 28, "set": 27, "provider": 18, "list": 18, "get_stats": 17,
    "info": 16, "save": 15, "load": 13, "schema": 11, "add_else_step": 10, "parallel": 8, "add_then_step": 8,
    "log": 8, "deep_copy": 8, "debug": 7, "create": 7, "stats": 7, "timeout_ms": 6, "configure": 6,
    "conditional": 5, "condition": 5, "set_shared_data": 5, "status": 5, "add": 5, "register": 5,
    "consolidate": 5, "stringify": 4, "parse": 4, "timer": 4, "list_keys": 4, "resource_limits": 4,
    "get_output": 4, "subscribe": 4, "loop": 3, "stop": 3, "merge": 3, "receive": 3, "delete": 3,
    "with_collection": 2, "max_iterations": 2, "warn": 2, "error": 2, "add_template_step": 2,
}
"""Calls per API function/method name in rs-llmspell's example spells."""

GLOBAL_FREQUENCY: dict[str, int] = {
    "Agent": 81, "Tool": 60, "Workflow": 48, "State": 44, "JSON": 40, "RAG": 105, "Memory": 37,
    "Template": 34, "Debug": 30, "Context": 10, "LocalLLM": 10, "Provider": 7, "ARGS": 4, "Session": 4,
    "Config": 4, "Artifact": 2,
}
"""Uses per global. JSON is counted as common (its uses hide in ``JSON.stringify`` helper functions)."""

COMMON_GLOBALS = ("Agent", "Tool", "Workflow", "State", "JSON")
"""Shown right after the locals, in this order."""

STDLIB_FREQUENCY: dict[str, int] = {
    # Lua
    "print": 900, "string": 700, "table": 120, "os": 150, "tostring": 100, "pairs": 90, "ipairs": 80,
    "type": 60, "pcall": 50, "math": 30, "error": 20, "tonumber": 20, "require": 10, "assert": 10,
    "format": 515, "rep": 173, "insert": 92, "time": 89, "date": 45, "clock": 35, "concat": 20, "sub": 18,
    "match": 22, "gsub": 11, "random": 10, "max": 10, "floor": 10, "min": 8, "remove": 7, "len": 7,
    "lower": 6, "sort": 5, "find": 4, "upper": 4, "getenv": 3, "exit": 14,
    # JavaScript
    "console": 900, "log": 800, "Math": 40, "Object": 30, "Promise": 20, "Date": 20, "Array": 20,
    "stringify": 40, "parse": 20, "keys": 20, "now": 20, "all": 10, "sleep": 10,
}
"""Rough uses of the language's own library in spells (Lua counts from rs-llmspell's examples)."""


def rank(freq: int) -> str:
    """A 4-character key that sorts higher frequencies first."""
    return f"{max(0, 9999 - freq):04d}"


def method_sort(name: str, deprecated: bool = False) -> str:
    return ("z" if deprecated else "a") + rank(METHOD_FREQUENCY.get(name, 0)) + name


def global_sort(name: str) -> str:
    if name in COMMON_GLOBALS:
        return "1" + str(COMMON_GLOBALS.index(name)) + name
    return "3" + rank(GLOBAL_FREQUENCY.get(name, 0)) + name


def stdlib_sort(name: str, top: bool) -> str:
    """``top``: a basic function or library table in the identifier list (after the common API globals)."""
    freq = STDLIB_FREQUENCY.get(name, 0)
    if top:
        return ("2" if freq >= 50 else "4") + rank(freq) + name
    return "a" + rank(freq) + name


def local_sort(name: str) -> str:
    return "0" + name


KEYWORD_SORT = "9"
