"""Package data: the API model (a copy of stubs/llmspell-api.json kept equal by a test)."""
