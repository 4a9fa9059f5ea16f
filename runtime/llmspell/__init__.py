"""llmspell: an async agent runtime for LLM spells (agents, tools, workflows, hooks, events, state).

Importing this package must stay cheap (no litellm, no engines): the language server and the CLI
import it on every start.
"""

from llmspell.core.errors import LLMSpellError

__version__ = "0.1.0"
__all__ = ["LLMSpellError", "__version__"]
