"""The spells the language-server benchmarks measure on, shared with the tests that check the same inputs.

One definition, so a test's "the benchmark's 200,000-line spell" is the benchmark's text, not a copy
that drifted (three copies had already begun to differ in how they counted lines).
"""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def examples_spell(lines: int, wrap: bool = True, suffix: str = ".lua") -> str:
    """The examples (``*suffix``), each wrapped in ``do … end`` unless ``wrap`` is false, repeated
    until about ``lines`` lines: real spell code, every top-level local in its own scope."""
    parts: list[str] = []
    n = 0
    files = sorted(EXAMPLES.glob("*" + suffix))
    while n < lines:
        for f in files:
            body = f.read_text(encoding="utf-8")
            parts.append("do\n" + body.rstrip("\n") + "\nend\n" if wrap else body.rstrip("\n") + "\n")
            n += body.count("\n") + 2
            if n >= lines:
                break
    return "".join(parts)
