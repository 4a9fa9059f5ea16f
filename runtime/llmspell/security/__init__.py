"""The security policy consulted before file, network, process and environment access."""

from llmspell.security.policy import SecurityPolicy

__all__ = ["SecurityPolicy"]
