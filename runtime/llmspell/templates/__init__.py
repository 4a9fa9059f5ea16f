"""Templates: rs-llmspell's built-in, parameterised AI workflows (``Template`` global, workflow template steps).

See :mod:`llmspell.templates.base` for what a template is and how it runs agents and tools,
:mod:`llmspell.templates.schema` for parameter validation and :mod:`llmspell.templates.registry` for
the per-runtime registry.
"""

from __future__ import annotations

from llmspell.templates.registry import TemplateRegistry, registry

__all__ = ["TemplateRegistry", "registry"]
