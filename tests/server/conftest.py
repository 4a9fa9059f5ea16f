"""Shared fixtures for the language-server tests.

Unit tests run the pure feature functions on a hand-written model (``data/fixture_model.json``,
validated against ``ApiModel``) so they test behaviour, not the current contents of the real API; a
second set runs on the real committed model (``stubs/llmspell-api.json``), which the server loads by
default and which the end-to-end tests use.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from lsp_helpers import FIXTURE_MODEL, REAL_MODEL

from llmspell_ls.apimodel import ApiIndex, load_index
from llmspell_ls.features.common import ClientOptions


@pytest.fixture(scope="session")
def index() -> ApiIndex:
    return load_index(FIXTURE_MODEL)


@pytest.fixture(scope="session")
def real_index() -> ApiIndex:
    return load_index(REAL_MODEL)


@pytest.fixture
def opts() -> ClientOptions:
    return ClientOptions(encoding="utf-16")
