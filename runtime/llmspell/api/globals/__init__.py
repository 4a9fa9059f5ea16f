"""Register every script global by importing its module.

The import order is deliberate: it is the order in which globals are registered in
``decl.GLOBALS`` and therefore the order they appear in stubs/llmspell-api.json and the
generated stubs, so the block is kept out of isort (I001).
"""

from llmspell.api.globals import json_  # noqa: F401, I001  (JSON)
from llmspell.api.globals import debug  # noqa: F401  (Debug, DebugTimer)
from llmspell.api.globals import state  # noqa: F401  (State)
from llmspell.api.globals import event  # noqa: F401  (Event)
from llmspell.api.globals import hook  # noqa: F401  (Hook, HookHandle)
from llmspell.api.globals import args  # noqa: F401  (ARGS, arg)
from llmspell.api.globals import agent  # noqa: F401  (Agent, AgentBuilder, AgentInstance)
from llmspell.api.globals import provider  # noqa: F401  (Provider)
from llmspell.api.globals import tool  # noqa: F401  (Tool, ToolHandle)
from llmspell.api.globals import workflow  # noqa: F401  (Workflow, WorkflowBuilder, WorkflowInstance)
from llmspell.api.globals import session  # noqa: F401  (Session)
from llmspell.api.globals import rag  # noqa: F401  (RAG)
from llmspell.api.globals import memory  # noqa: F401  (Memory, Context)
from llmspell.api.globals import template  # noqa: F401  (Template)
from llmspell.api.globals import artifact  # noqa: F401  (Artifact)
from llmspell.api.globals import config_  # noqa: F401  (Config)
from llmspell.api.globals import replay  # noqa: F401  (Replay)
from llmspell.api.globals import streaming  # noqa: F401  (Streaming)
from llmspell.api.globals import local_llm  # noqa: F401  (LocalLLM)
from llmspell.api.globals import logger  # noqa: F401  (Logger)
from llmspell.api.globals import utils  # noqa: F401  (Utils)
