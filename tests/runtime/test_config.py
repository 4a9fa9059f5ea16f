"""Configuration merging: defaults < llmspell.toml < LLMSPELL_* < explicit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell.config import DEFAULT_MODEL, load_config
from llmspell.core.errors import ConfigurationError


def test_defaults_are_offline(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, environ={})
    assert cfg.default_model == DEFAULT_MODEL == "offline/scripted"
    assert cfg.security.allow_private_network is False
    assert cfg.state.backend == "sqlite"
    assert cfg.workspace_path == tmp_path.resolve()


def test_toml_then_env_then_overrides(tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text(
        'default_model = "openai/gpt-4o-mini"\n[limits]\nwall_time_s = 5\n[security]\nprocess_allow = ["git"]\n'
    )
    env = {"LLMSPELL_LIMITS__MAX_MEMORY_MB": "64", "LLMSPELL_SECURITY__NETWORK_ALLOW": "a.com,b.org",
           "LLMSPELL_SECURITY__ALLOW_PRIVATE_NETWORK": "true", "OTHER": "x"}
    cfg = load_config(tmp_path, environ=env, overrides={"limits": {"wall_time_s": 9}})
    assert cfg.default_model == "openai/gpt-4o-mini"
    assert cfg.limits.wall_time_s == 9 and cfg.limits.max_memory_mb == 64
    assert cfg.security.process_allow == ["git"]
    assert cfg.security.network_allow == ["a.com", "b.org"]
    assert cfg.security.allow_private_network is True


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text("default_model = \n")
    with pytest.raises(ConfigurationError, match=r"llmspell.toml: invalid TOML"):
        load_config(tmp_path, environ={})


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text("[limits]\nwall_time_s = \"soon\"\n")
    with pytest.raises(ConfigurationError, match="wall_time_s"):
        load_config(tmp_path, environ={})
