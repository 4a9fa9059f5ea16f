"""Configuration: ``llmspell.toml`` at the workspace root, LSP initialization options, and
``LLMSPELL_*`` environment variables, all with the same keys. Without any of them everything works
offline on the embedded defaults (scripted provider, in-workspace SQLite state, closed network).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from llmspell.core.errors import ConfigurationError

DEFAULT_MODEL = "offline/scripted"


class ProviderSettings(BaseModel):
    base_url: str | None = None
    api_key_env: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 2


class SecurityConfig(BaseModel):
    allowed_paths: list[str] = Field(default_factory=list)
    """Extra directories file access may reach (the spell's directory and the workspace always may)."""
    network_allow: list[str] = Field(default_factory=list)
    """Host names or patterns (``*.example.com``) network tools may reach; empty = any public host."""
    allow_private_network: bool = False
    """Allow loopback, private and link-local addresses (tests; local services)."""
    process_allow: list[str] = Field(default_factory=list)
    """Executables process-executor may run (names or absolute paths); empty = none."""
    env_allow: list[str] = Field(default_factory=list)
    """Secret-looking environment variables environment-reader may reveal."""
    max_response_bytes: int = 10 * 1024 * 1024
    network_timeout_s: float = 30.0
    max_tool_security_level: Literal["safe", "restricted", "privileged"] = "privileged"
    """Tools above this level are refused by the tool registry (safe < restricted < privileged)."""


class LimitsConfig(BaseModel):
    wall_time_s: float = 300.0
    max_memory_mb: int = 256
    instruction_budget: int = 0
    """Lua VM instructions (0 = unlimited)."""
    js_slice_cpu_s: float = 2.0
    max_concurrent_spells: int = 16
    slow_operation_ms: float = 5000.0
    """A tool call, agent execution or workflow step slower than this fires PerformanceThresholdExceeded
    (0 = never)."""
    monitor_interval_ms: int = 250
    """How often a running spell's memory and CPU are sampled for MemoryUsageHigh / CpuUsageHigh (0 = off)."""
    memory_high_pct: float = 80.0
    """MemoryUsageHigh fires when the spell's interpreter heap crosses this share of ``max_memory_mb``."""
    cpu_high_pct: float = 90.0
    """CpuUsageHigh fires when the process used more than this share of one core over a sample window."""
    isolation: Literal["process", "none"] = "process"
    """``process``: every run (``--run`` and the language server) is its own killable child process
    under rlimits; ``none`` runs in-process (library use, debugging the runtime itself)."""
    max_output_bytes: int = 8 * 1024 * 1024
    """Printed output a run may stream; beyond it output is dropped with one visible note."""
    max_stream_events: int = 100_000
    """Events a run may stream to the editor / ``--json``; beyond it they are dropped with one note."""
    max_spell_bytes: int = 16 * 1024 * 1024
    """Largest spell source accepted (file or editor buffer)."""
    max_file_mb: int = 1024
    """RLIMIT_FSIZE of a run's process: no single file it writes grows past this."""
    max_open_files: int = 256
    """RLIMIT_NOFILE of a run's process."""
    kill_grace_ms: int = 60
    """After SIGTERM (cancel, wall time) a run has this long to end on its own before SIGKILL."""


class StateConfig(BaseModel):
    backend: str = "sqlite"
    """``sqlite`` (default; ``.llmspell/state.db`` under the workspace) or ``memory``."""
    path: str | None = None


class RuntimeConfig(BaseModel):
    default_model: str = DEFAULT_MODEL
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    workspace: str | None = None
    record_path: str | None = None
    """When set, real provider calls are recorded to this file (JSON Lines)."""
    replay_path: str | None = None
    """When set, provider calls are answered from this recording, offline."""
    scripted_rules: list[dict[str, Any]] = Field(default_factory=list)
    """Rules for the offline scripted provider (``[[scripted_rules]]`` tables: pattern, reply,
    tool_calls, fail, times, when, delay_s, model); see ``llmspell.providers.scripted.ScriptRule``."""

    @property
    def workspace_path(self) -> Path:
        return Path(self.workspace or os.getcwd()).resolve()


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """``LLMSPELL_DEFAULT_MODEL``, ``LLMSPELL_SECURITY__ALLOW_PRIVATE_NETWORK=true``, lists comma-separated."""
    out: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith("LLMSPELL_"):
            continue
        path = key[len("LLMSPELL_"):].lower().split("__")
        value: Any = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        cur = out
        for p in path[:-1]:
            cur = cur.setdefault(p, {})
        cur[path[-1]] = value
    return out


def load_config(
    workspace: Path | str | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> RuntimeConfig:
    """Merge, lowest first: defaults, ``llmspell.toml``, ``LLMSPELL_*``, explicit overrides."""
    ws = Path(workspace or os.getcwd()).resolve()
    data: dict[str, Any] = {"workspace": str(ws)}
    toml_path = ws / "llmspell.toml"
    if toml_path.is_file():
        try:
            data = _deep_merge(data, tomllib.loads(toml_path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigurationError(f"{toml_path}: invalid TOML: {e}") from e
    env = _env_overrides(dict(os.environ if environ is None else environ))
    for k, v in env.items():
        if k in ("security", "limits", "state") and isinstance(v, dict):
            for lk in ("allowed_paths", "network_allow", "process_allow", "env_allow"):
                if isinstance(v.get(lk), str):
                    v[lk] = [s for s in v[lk].split(",") if s]
    data = _deep_merge(data, env)
    if overrides:
        data = _deep_merge(data, overrides)
    try:
        return RuntimeConfig.model_validate(data)
    except Exception as e:  # pydantic.ValidationError
        raise ConfigurationError(f"invalid configuration ({toml_path}): {e}") from e
