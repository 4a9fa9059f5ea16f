"""Configuration: ``llmspell.toml`` at the workspace root, LSP initialization options, and
``LLMSPELL_*`` environment variables, all with the same keys. Without any of them everything works
offline on the embedded defaults (scripted provider, in-workspace SQLite state, closed network).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from llmspell.core.errors import ConfigurationError

DEFAULT_MODEL = "offline/scripted"


class _Strict(BaseModel):
    """Every configuration table refuses keys it does not know (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


def _tool_env_default() -> list[str]:
    from llmspell.security.secrets import TOOL_ENV

    return list(TOOL_ENV)


class ProviderSettings(_Strict):
    base_url: str | None = None
    """The provider's endpoint; the configured key is sent here and nowhere else."""
    api_key_env: str | None = None
    """The environment variable holding the key (default ``<PROVIDER>_API_KEY``); read once into the
    runtime's secret vault, never visible to spells."""
    timeout_s: float = Field(default=60.0, gt=0, le=3600)
    max_retries: int = Field(default=2, ge=0, le=10)
    """Retries after a failed call: a call is attempted at most ``1 + max_retries`` times in all."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.lower().startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {json.dumps(v)}")
        return v

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and (not v or "=" in v or "\0" in v):
            raise ValueError(f"expected an environment variable name, got {json.dumps(v)}")
        return v


def _default_process_allow() -> tuple[str, ...]:
    from llmspell.security.process import DEFAULT_PROCESS_ALLOW

    return DEFAULT_PROCESS_ALLOW


class SecurityConfig(_Strict):
    allowed_paths: list[str] = Field(default_factory=list)
    """Extra directories file access may reach (the spell's directory and the workspace always may)."""
    network_allow: list[str] = Field(default_factory=list)
    """Host names or patterns (``*.example.com``) network tools may reach; empty = any public host."""
    allow_private_network: bool = False
    """Allow loopback, private and link-local addresses (tests; local services)."""
    process_allow: list[str] = Field(default_factory=lambda: list(_default_process_allow()))
    """Executables process-executor may run (names or absolute paths); empty = none. Default: the
    harmless programs rs-llmspell allows (echo, cat, ls, pwd, whoami, date, uname, test, head, tail, wc,
    grep, sort, uniq; see ``llmspell.security.process.DEFAULT_PROCESS_ALLOW``), whose path arguments
    must stay inside the allowed paths."""
    process_allow_interpreters: list[str] = Field(default_factory=list)
    """Programs that run code taken from their arguments or input (shells, interpreters, launchers such
    as ``env``/``xargs``/``find``, ``awk``, ``make``...): refused even when in ``process_allow`` unless
    also listed here, because allowing one allows everything."""
    env_allow: list[str] = Field(default_factory=list)
    """The environment variables spells may see (names or glob patterns such as ``MYAPP_*``):
    ``os.getenv``, environment-reader, jq ``$ENV`` and process-executor children. Nothing else is
    visible, not even ``HOME`` or ``PATH``."""
    tool_env: list[str] = Field(default_factory=_tool_env_default)
    """Environment variables builtin tools read for their own settings and credentials
    (``SMTP_PASSWORD``, ``SLACK_BOT_TOKEN``...; default: the builtin tools' documented names). They are
    kept in the runtime's secret vault for the tool, never visible to spells, and never sent to an
    endpoint a spell chose."""
    max_response_bytes: int = Field(default=10 * 1024 * 1024, gt=0, le=1 << 34)
    network_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    max_database_bytes: int = Field(default=256 * 1024 * 1024, gt=0, le=1 << 36)
    """Largest SQLite file database-connector loads (it is read through the path gate into memory)."""
    max_result_rows: int = Field(default=100_000, gt=0, le=1 << 31)
    """Most rows a query tool returns, whatever ``limit`` the spell asks for (a policy cap, not a
    parameter: a 5M-row result is Python memory the Lua heap limit never sees)."""
    refuse_hardlinks: bool = True
    """Refuse files with more than one hard link (a link made elsewhere can point a workspace name
    at a file outside it)."""
    max_tool_security_level: Literal["safe", "restricted", "privileged"] = "privileged"
    """Tools above this level are refused by the tool registry (safe < restricted < privileged)."""
    temp_dir: Literal["private", "system", "none"] = "private"
    """What a spell's ``/tmp/...`` (or ``$TMPDIR``) paths reach. ``private``: the same relative path in
    the workspace's own ``.llmspell/tmp/`` (created 0700; kept across runs; the real temp dir is never
    opened); ``system``: the real temp dir, like rs-llmspell (other programs' files live there);
    ``none``: refused like any path outside the allowed ones. Programs run by process-executor are not
    remapped (they see the real file system, so ``/tmp`` arguments are refused unless ``system``)."""


class LimitsConfig(_Strict):
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
    max_value_items: int = Field(default=1_000_000, ge=1000, le=100_000_000)
    """Items (tables and scalars) one value a spell hands to the runtime, or returns, may hold."""
    max_template_output_bytes: int = Field(default=1 << 20, ge=1, le=1 << 30)
    """Largest text a template (template-creator) may produce, captured blocks included."""
    max_template_operations: int = Field(default=1_000_000, ge=100, le=1_000_000_000)
    """Loop iterations, calls, attribute lookups and operators one template render may perform."""

    @model_validator(mode="after")
    def _bounds(self) -> LimitsConfig:
        """Negative or absurd limits are refused, naming the key (``wall_time_s: must be > 0``)."""
        problems: list[tuple[str, str, Any]] = []
        for key, (lo, lo_open, hi) in _LIMIT_BOUNDS.items():
            v = getattr(self, key, None)
            if v is None or isinstance(v, bool):
                continue
            if (v <= lo) if lo_open else (v < lo):
                problems.append((key, f"must be {'>' if lo_open else '>='} {lo}", v))
            elif hi is not None and v > hi:
                problems.append((key, f"must be <= {hi}", v))
        if problems:
            raise _BoundsError(problems)
        return self


class _BoundsError(ValueError):
    def __init__(self, problems: list[tuple[str, str, Any]]):
        self.problems = problems
        super().__init__("; ".join(f"{k}: {m}, got {v!r}" for k, m, v in problems))


# key: (lower bound, lower bound exclusive?, upper bound or None)
_LIMIT_BOUNDS: dict[str, tuple[float, bool, float | None]] = {
    "wall_time_s": (0, True, 7 * 86400),
    "max_memory_mb": (16, False, 1 << 20),
    "instruction_budget": (0, False, None),
    "js_slice_cpu_s": (0, True, 3600),
    "max_concurrent_spells": (1, False, 1024),
    "slow_operation_ms": (0, False, None),
    "monitor_interval_ms": (0, False, 3_600_000),
    "memory_high_pct": (0, True, 100),
    "cpu_high_pct": (0, True, 100_000),
    "max_output_bytes": (0, True, 1 << 34),
    "max_stream_events": (0, True, 1 << 31),
    "max_spell_bytes": (0, True, 1 << 31),
    "max_file_mb": (0, False, 1 << 24),
    "max_open_files": (16, False, 1 << 20),
    "kill_grace_ms": (0, False, 60_000),
}


class StateConfig(_Strict):
    backend: Literal["sqlite", "memory"] = "sqlite"
    """``sqlite`` (default; ``.llmspell/state.db`` under the workspace) or ``memory``."""
    path: str | None = None

    @field_validator("backend", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v


class RagConfig(_Strict):
    """``[rag]``: the retrieval index behind ``RAG`` and ``Context.assemble(..., "rag")``."""

    embedder: str = "hashing"
    """How text becomes vectors: ``hashing`` (default; deterministic feature hashing, no model),
    ``wordllama`` (the bundled offline WordLlama model; ``pip install 'llmspell-ls[embed]'``) or
    ``provider:<model>`` (a configured provider's embedding endpoint, e.g.
    ``provider:openai/text-embedding-3-small``)."""
    dimensions: int = Field(default=384, ge=16, le=8192)
    """Vector size of the ``hashing`` embedder (the others have their model's own size)."""
    path: str | None = None
    """The vector database (default ``.llmspell/rag.db`` under the workspace; relative paths are taken
    from the workspace). With ``[state] backend = "memory"`` the index is in-process only."""
    chunk_size: int = Field(default=200, ge=8, le=8192)
    """Default chunk length in tokens (words) when ``RAG.ingest`` is given no ``chunking``."""
    chunk_overlap: int = Field(default=50, ge=0, le=4096)
    """Default overlap in tokens between consecutive chunks (must be below ``chunk_size``)."""
    vector_weight: float = Field(default=0.7, ge=0.0, le=1.0)
    """Hybrid search: ``score = w * cosine + (1 - w) * bm25 / best_bm25`` with this ``w`` (1.0 = pure
    vector search, 0.0 = pure BM25)."""
    default_top_k: int = Field(default=5, ge=1, le=1000)
    """Results of ``RAG.search`` when no ``top_k``/``k`` is given."""
    max_top_k: int = Field(default=1000, ge=1, le=100000)
    """Largest ``top_k`` a search may ask for."""
    embed_timeout_s: float = Field(default=30.0, gt=0, le=600)
    """Timeout of one ``provider:`` embedding request."""
    max_document_bytes: int = Field(default=10_000_000, ge=1024, le=1_000_000_000)
    """Largest document ``RAG.ingest`` accepts."""

    @field_validator("embedder")
    @classmethod
    def _embedder(cls, v: str) -> str:
        low = v.strip().lower()
        if low in ("hashing", "wordllama"):
            return low
        if low.startswith("provider:") and v.strip()[len("provider:"):].strip():
            return "provider:" + v.strip()[len("provider:"):].strip()
        raise ValueError(f'expected "hashing", "wordllama" or "provider:<model>", got {json.dumps(v)}')

    @model_validator(mode="after")
    def _overlap(self) -> RagConfig:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(f"chunk_overlap ({self.chunk_overlap}) must be below chunk_size ({self.chunk_size})")
        return self


class MemoryConfig(_Strict):
    """``[memory]``: episodic and semantic memory behind ``Memory`` and ``Context``."""

    path: str | None = None
    """The memory database (default ``.llmspell/memory.db`` under the workspace; relative paths are
    taken from the workspace). With ``[state] backend = "memory"`` memory is in-process only."""
    vector_weight: float = Field(default=0.6, ge=0.0, le=1.0)
    """Share of embedding similarity in episodic/semantic search ranking; the rest is BM25."""
    min_confidence: float = Field(default=0.3, ge=0.0, le=1.0)
    """``Context.assemble`` drops chunks whose re-ranked score (BM25 relative to the best chunk) is
    below this."""
    max_candidates: int = Field(default=200, ge=10, le=100_000)
    """Most chunks one ``Context.assemble`` strategy retrieves before re-ranking."""
    keyword_min_mentions: int = Field(default=2, ge=1, le=1000)
    """Consolidation keeps a lower-case keyword as a ``concept`` entity once it occurs this often in
    the entries being consolidated (capitalised names and ``key: value`` facts need one mention)."""


class ArtifactsConfig(_Strict):
    """``[artifacts]``: per-session stored content behind ``Artifact``."""

    path: str | None = None
    """The artifact store's folder (default ``.llmspell/artifacts`` in the workspace): content-addressed
    blobs under ``blobs/`` and the SQLite index ``index.db``."""
    max_artifact_bytes: int = Field(default=100 * 1024 * 1024, gt=0, le=1 << 36)
    """Largest single artifact (``Artifact.store``/``store_file`` refuse bigger content, naming this key)."""
    max_session_bytes: int = Field(default=1 << 30, gt=0, le=1 << 40)
    """Total size of one session's artifacts."""
    max_total_bytes: int = Field(default=4 << 30, gt=0, le=1 << 42)
    """Total size of every artifact in the workspace's store."""
    max_query_results: int = Field(default=10_000, gt=0, le=1_000_000)
    """Most artifacts ``Artifact.list``/``Artifact.query`` return, whatever ``limit`` asks for."""


LOCAL_BACKEND_KINDS = ("ollama", "openai")


class LocalBackendSettings(_Strict):
    """``[local_llm.backends.<name>]``: one local model server."""

    kind: Literal["ollama", "openai"] | None = None
    """``ollama`` (Ollama's native API: /api/tags, /api/show, /api/chat, /api/pull) or ``openai`` (an
    OpenAI-compatible server: llama.cpp, vLLM, LM Studio; /v1/models, /v1/chat/completions). Default:
    ``ollama`` for a backend named ``ollama``, ``openai`` otherwise."""
    base_url: str
    """The server's address, e.g. ``http://localhost:11434`` (Ollama) or ``http://localhost:8080/v1``
    (OpenAI-compatible). It is operator configuration: calls to it are allowed whatever the network
    policy says about private addresses."""
    timeout_s: float | None = Field(default=None, gt=0, le=3600)
    """Per-request timeout (default: ``[local_llm] timeout_s``)."""
    default_model: str | None = None
    """The model ``local/`` (no model name) and ``LocalLLM`` use when none is given."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.lower().startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {json.dumps(v)}")
        return v.rstrip("/")

    def kind_for(self, name: str) -> str:
        """The backend's API: its ``kind``, else ``ollama`` for a backend named ``ollama``, else ``openai``."""
        return self.kind or ("ollama" if name == "ollama" else "openai")


class LocalLLMConfig(_Strict):
    """``[local_llm]``: the local model backends ``LocalLLM`` talks to.

    Example (Ollama on this machine)::

        [local_llm.backends.ollama]
        base_url = "http://localhost:11434"
    """

    backends: dict[str, LocalBackendSettings] = Field(default_factory=dict)
    """Local servers by name (``ollama``, ``llamacpp`` ...). Models are named ``ollama/<model>`` or
    ``local/<model>[@backend]``."""
    default_backend: str | None = None
    """The backend ``local/<model>`` uses without ``@backend`` (default: ``ollama`` when configured,
    else the only backend)."""
    timeout_s: float = Field(default=60.0, gt=0, le=3600)
    """Per-request timeout of chat calls and of ``LocalLLM`` queries (status uses at most 5 s)."""

    @model_validator(mode="after")
    def _default_backend_exists(self) -> LocalLLMConfig:
        if self.default_backend is not None and self.default_backend not in self.backends:
            names = ", ".join(sorted(self.backends)) or "none configured"
            raise ValueError(f"default_backend {json.dumps(self.default_backend)} is not one of the "
                             f"backends ({names})")
        return self


_MCP_SERVER_NAME = r"^[A-Za-z0-9_-]{1,64}$"
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class MCPServerSettings(_Strict):
    """``[mcp.servers.<name>]``: one Model Context Protocol server whose tools spells see as
    ``mcp.<name>.<tool>``. Either ``command`` (a stdio server this runtime starts) or ``url``
    (a Streamable HTTP endpoint)."""

    command: str | None = None
    """The program to start (a plain name found on PATH, or an absolute path); it must also be listed
    in ``mcp.process_allow``."""
    args: list[str] = Field(default_factory=list)
    """Arguments of ``command``."""
    env: list[str] = Field(default_factory=list)
    """Names of environment variables passed to the server with their values from the environment
    llmspell-ls was started in (kept in the runtime's secret vault, never visible to spells). Beyond
    these the server sees only HOME, LOGNAME, PATH, SHELL, TERM and USER."""
    url: str | None = None
    """A Streamable HTTP endpoint (``http://host:port/mcp``); reaching it goes through the network
    policy (``security.network_allow``, ``security.allow_private_network``)."""
    headers_env: dict[str, str] = Field(default_factory=dict)
    """HTTP headers sent to a ``url`` server, each valued from an environment variable (kept in the
    runtime's secret vault, never visible to spells): ``{Authorization = "NOTES_AUTH"}`` sends
    ``Authorization: <value of NOTES_AUTH>``."""
    timeout_s: float = Field(default=30.0, gt=0, le=3600)
    """How long starting the server and each tool call may take."""
    trust_workspace_files: bool = False
    """Start the server even though its program or a file its arguments name lies inside the allowed
    paths (the workspace). Off by default: spells can write there, and the server runs outside the
    sandbox, so a spell could change what the next start runs."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.lower().startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {json.dumps(v)}")
        return v

    @field_validator("env")
    @classmethod
    def _env_names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not re.match(_ENV_NAME, name):
                raise ValueError(f"expected environment variable names, got {json.dumps(name)}")
        return v

    @field_validator("headers_env")
    @classmethod
    def _header_envs(cls, v: dict[str, str]) -> dict[str, str]:
        for header, name in v.items():
            if not re.match(r"^[A-Za-z0-9-]+$", header):
                raise ValueError(f"expected HTTP header names, got {json.dumps(header)}")
            if not re.match(_ENV_NAME, name):
                raise ValueError(f"header {header}: expected an environment variable name, got {json.dumps(name)}")
        return v

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerSettings:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (a stdio server) or url (Streamable HTTP), not both or neither")
        if self.command is not None and not self.command.strip():
            raise ValueError("command must not be empty")
        if self.headers_env and self.url is None:
            raise ValueError("headers_env applies to url servers only")
        return self


class MCPConfig(_Strict):
    """``[mcp]``: Model Context Protocol servers whose tools spells and agents may call.

    Example::

        [mcp]
        process_allow = ["python3"]

        [mcp.servers.notes]
        command = "python3"
        args = ["notes_server.py"]
    """

    servers: dict[str, MCPServerSettings] = Field(default_factory=dict)
    """Servers by name (letters, digits, ``_`` and ``-``): tool ``t`` of server ``s`` is ``mcp.s.t``."""
    process_allow: list[str] = Field(default_factory=list)
    """Programs stdio servers may be started with (plain names or absolute paths). Separate from
    ``security.process_allow``, so that allowing ``python3`` for a server does not let spells run it."""

    @field_validator("servers")
    @classmethod
    def _names(cls, v: dict[str, MCPServerSettings]) -> dict[str, MCPServerSettings]:
        for name in v:
            if not re.match(_MCP_SERVER_NAME, name):
                raise ValueError(f"server name {json.dumps(name)}: expected letters, digits, _ or - (it becomes "
                                 "part of the tool names mcp.<server>.<tool>)")
        return v


class ClusterConfig(_Strict):
    """``[cluster]``: where map items and parallel branches of workflows run (issue 14).

    ``address = "local:N"`` starts a Dask ``LocalCluster`` of N worker processes inside the run's own
    process tree (so a cancel or the wall-time kill reaches the workers too);
    ``address = "tcp://host:8786"`` uses an existing Dask scheduler. Unset: everything runs in the
    run's process, as without a cluster. Needs the ``cluster`` extra (``pip install 'llmspell-ls[cluster]'``).
    """

    address: str | None = None
    rpc_host: str | None = None
    """The address workers use to reach the run's process (State, events, output). Default: 127.0.0.1
    for ``local:N``; for ``tcp://`` the local address of the interface that routes to the scheduler."""
    start_timeout_s: float = Field(default=60.0, gt=0)
    """How long starting the local cluster, or reaching the scheduler, may take."""

    @field_validator("address", mode="before")
    @classmethod
    def _address(cls, v: Any) -> Any:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        if not isinstance(v, str):
            raise ValueError(f"expected local:N or tcp://host:port, got {v!r}")
        from llmspell.cluster.address import parse_address

        parse_address(v)  # raises ValueError naming what was expected
        return v.strip()


class RuntimeConfig(_Strict):
    default_model: str = DEFAULT_MODEL
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    rag: RagConfig = Field(default_factory=RagConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    artifacts: ArtifactsConfig = Field(default_factory=ArtifactsConfig)
    local_llm: LocalLLMConfig = Field(default_factory=LocalLLMConfig)
    mcp: MCPConfig = Field(default_factory=MCPConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
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
        return Path(self.workspace).resolve() if self.workspace else default_workspace()


def default_workspace(cwd: str | Path | None = None) -> Path:
    """The current directory as the workspace, unless it is ``/``, the home directory or an ancestor
    of it: a spell's allowed files would then be the whole machine or the user's whole home, so no
    workspace is assumed and :class:`ConfigurationError` asks for one (``--workspace DIR``, or run the
    spell from its folder)."""
    here = Path(cwd or os.getcwd()).resolve()
    home: Path | None
    try:
        home = Path.home().resolve()
    except (RuntimeError, KeyError, OSError):
        home = None
    if here == Path(here.anchor) or (home is not None and (here == home or here in home.parents)):
        raise ConfigurationError(
            f"no workspace given and the current directory is {here}: it is not used as the workspace by "
            "default (spells could then reach all of it); pass --workspace DIR, set workspace in the "
            "configuration, or run from the spell's folder",
            details={"cwd": str(here)},
        )
    return here


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


# ----------------------------------------------------------------------------------- LLMSPELL_* variables


def _unwrap(ann: Any) -> Any:
    """``X | None`` -> ``X``."""
    if typing.get_origin(ann) in (Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return ann


def _field_type(path: list[str]) -> tuple[Any, str | None]:
    """The annotation at ``path`` in RuntimeConfig, or (None, why-not)."""
    model: Any = RuntimeConfig
    ann: Any = None
    for i, part in enumerate(path):
        if isinstance(model, type) and issubclass(model, BaseModel):
            fields = model.model_fields
            if part not in fields:
                where = ".".join(path[:i]) or "the configuration"
                close = difflib.get_close_matches(part, list(fields), n=1)
                return None, (f"unknown key {'.'.join(path[:i + 1])} in {where}"
                              + (f" (did you mean {close[0]}?)" if close else ""))
            ann = _unwrap(fields[part].annotation)
        elif typing.get_origin(model) is dict:
            ann = _unwrap(typing.get_args(model)[1])
        else:
            return None, f"{'.'.join(path[:i])} has no key {part}"
        model = ann
    return ann, None


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def _env_value(ann: Any, raw: str, key: str) -> Any:
    origin = typing.get_origin(ann)
    if origin is list:
        return [s.strip() for s in raw.split(",") if s.strip()]
    if ann is bool:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigurationError(f"{key}: expected true or false, got {json.dumps(raw)}", details={"variable": key})
    if origin is dict or (isinstance(ann, type) and issubclass(ann, BaseModel)):
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ConfigurationError(f"{key}: expected a JSON table, got {json.dumps(raw)}",
                                     details={"variable": key}) from e
    return raw.strip() if ann in (int, float) else raw  # pydantic parses numbers and reports bad ones


def _env_overrides(environ: dict[str, str], sources: dict[tuple[str, ...], str] | None = None) -> dict[str, Any]:
    """``LLMSPELL_DEFAULT_MODEL``, ``LLMSPELL_LIMITS__WALL_TIME_S=60``, ``LLMSPELL_SECURITY__ENV_ALLOW=A,B``:
    ``__`` separates tables, values are parsed to the key's type (lists comma-separated, booleans
    true/false/1/0/yes/no). Variables whose first part is not a configuration key belong to other
    settings (``LLMSPELL_EVENTS``, ``LLMSPELL_SEARCH_PROVIDER``) and are left alone; an unknown key
    inside a configuration table is an error naming the variable.
    """
    out: dict[str, Any] = {}
    top = set(RuntimeConfig.model_fields)
    for key, raw in sorted(environ.items()):
        if not key.startswith("LLMSPELL_"):
            continue
        path = key[len("LLMSPELL_"):].lower().split("__")
        if path[0] not in top:
            section = next((t for t in top if path[0].startswith(t + "_") and len(path) == 1
                            and isinstance(_unwrap(RuntimeConfig.model_fields[t].annotation), type)
                            and issubclass(_unwrap(RuntimeConfig.model_fields[t].annotation), BaseModel)), None)
            if section is not None:
                rest = path[0][len(section) + 1:]
                raise ConfigurationError(f"{key}: tables are separated by two underscores: "
                                         f"LLMSPELL_{section.upper()}__{rest.upper()}", details={"variable": key})
            continue
        if path[0] == "workspace":
            continue  # the workspace is chosen by the caller (--workspace, the editor's folder)
        ann, why = _field_type(path)
        if why is not None:
            raise ConfigurationError(f"{key}: {why}", details={"variable": key})
        cur = out
        for p in path[:-1]:
            nxt = cur.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigurationError(f"{key}: {'.'.join(path[:-1])} is not a table", details={"variable": key})
            cur = nxt
        cur[path[-1]] = _env_value(ann, raw, key)
        if sources is not None:
            sources[tuple(path)] = key
    return out


# ----------------------------------------------------------------------------------- error messages


def _leaf_paths(d: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(d, dict) and d:
        out: list[tuple[str, ...]] = [prefix] if prefix else []
        for k, v in d.items():
            out.extend(_leaf_paths(v, (*prefix, str(k))))
        return out
    return [prefix]


def _describe(v: Any) -> str:
    try:
        text = json.dumps(v, default=str)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


_EXPECTED = {
    "float_parsing": "expected a number", "float_type": "expected a number",
    "int_parsing": "expected an integer", "int_type": "expected an integer", "int_from_float": "expected an integer",
    "bool_parsing": "expected true or false", "bool_type": "expected true or false",
    "string_type": "expected a string", "list_type": "expected a list", "dict_type": "expected a table",
    "model_type": "expected a table", "model_attributes_type": "expected a table",
    "finite_number": "expected a finite number",
}


def format_validation_error(e: ValidationError, sources: dict[tuple[str, ...], str], default_source: str) -> str:
    """One line per problem, each naming where the key came from: ``llmspell.toml: limits.wall_time_s:
    expected a number, got "abc"``."""
    lines: list[str] = []
    for err in e.errors():
        loc = tuple(str(x) for x in err.get("loc", ()))
        typ = str(err.get("type", ""))
        inp = err.get("input")
        ctx_err = (err.get("ctx") or {}).get("error")
        items: list[tuple[tuple[str, ...], str]] = []
        if isinstance(ctx_err, _BoundsError):
            items = [((*loc, k), f"{m}, got {_describe(v)}") for k, m, v in ctx_err.problems]
        elif typ == "extra_forbidden":
            parent, _ = _field_type(list(loc[:-1])) if loc[:-1] else (RuntimeConfig, None)
            fields = list(parent.model_fields) if isinstance(parent, type) and issubclass(parent, BaseModel) else []
            close = difflib.get_close_matches(loc[-1], fields, n=1) if fields else []
            items = [(loc, "unknown key" + (f" (did you mean {close[0]}?)" if close else ""))]
        elif typ in _EXPECTED:
            items = [(loc, f"{_EXPECTED[typ]}, got {_describe(inp)}")]
        else:
            msg = str(err.get("msg", "invalid value"))
            msg = msg.removeprefix("Value error, ")
            msg = msg[:1].lower() + msg[1:]
            items = [(loc, f"{msg}, got {_describe(inp)}" if typ != "missing" else msg)]
        for path, text in items:
            src = default_source
            for n in range(len(path), 0, -1):
                if path[:n] in sources:
                    src = sources[path[:n]]
                    break
            lines.append(f"{src}: {'.'.join(path) or '(top level)'}: {text}")
    return "; ".join(lines)


def validate_config(data: dict[str, Any], *, source: str = "configuration",
                    sources: dict[tuple[str, ...], str] | None = None) -> RuntimeConfig:
    """``RuntimeConfig.model_validate`` with errors that name the key and where it came from."""
    if not isinstance(data, dict):
        raise ConfigurationError(f"{source}: expected a table of settings, got {_describe(data)}")
    try:
        return RuntimeConfig.model_validate(data)
    except ValidationError as e:
        srcs = dict(sources or {})
        if not srcs:
            srcs = {p: source for p in _leaf_paths(data)}
        raise ConfigurationError(format_validation_error(e, srcs, source),
                                 details={"errors": json.loads(e.json(include_url=False, include_input=False))}) from e


def load_config(
    workspace: Path | str | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    overrides_source: str = "settings",
) -> RuntimeConfig:
    """Merge, lowest first: defaults, ``llmspell.toml``, ``LLMSPELL_*``, explicit overrides.

    Every problem is a :class:`ConfigurationError` naming the file (or variable, or settings) and the
    key: unknown keys, wrong types, out-of-range limits.
    """
    ws = Path(workspace).resolve() if workspace else default_workspace()
    data: dict[str, Any] = {"workspace": str(ws)}
    sources: dict[tuple[str, ...], str] = {}
    toml_path = ws / "llmspell.toml"
    if toml_path.is_file():
        try:
            loaded = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigurationError(f"{toml_path}: invalid TOML: {e}") from e
        except OSError as e:
            raise ConfigurationError(f"{toml_path}: cannot read: {e}") from e
        data = _deep_merge(data, loaded)
        sources.update({p: str(toml_path) for p in _leaf_paths(loaded)})
    env_sources: dict[tuple[str, ...], str] = {}
    env = _env_overrides(dict(os.environ if environ is None else environ), env_sources)
    data = _deep_merge(data, env)
    sources.update(env_sources)
    if overrides:
        if not isinstance(overrides, dict):
            raise ConfigurationError(f"{overrides_source}: expected a table of settings, got {_describe(overrides)}")
        data = _deep_merge(data, overrides)
        sources.update({p: overrides_source for p in _leaf_paths(overrides)})
    return validate_config(data, source=str(toml_path), sources=sources)
