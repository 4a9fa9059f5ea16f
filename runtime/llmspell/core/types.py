"""Data types shared by every part of the runtime (pydantic models at the boundaries)."""

from __future__ import annotations

import time
import uuid
from enum import Enum, StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def new_id(prefix: str = "") -> str:
    """A fresh id; ``prefix`` makes ids readable in logs (``agent_1a2b3c4d``)."""
    u = uuid.uuid4().hex
    return f"{prefix}_{u[:8]}" if prefix else str(uuid.UUID(u))


# ---------------------------------------------------------------------------------------------- agents/tools


class MediaItem(BaseModel):
    type: str = "image"
    base64: str
    format: str | None = None
    width: int | None = None
    height: int | None = None
    color_space: str | None = None


class AgentInput(BaseModel):
    """What an agent (or tool, or workflow) is asked to do."""

    model_config = ConfigDict(extra="allow")

    text: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    media: list[MediaItem] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict)


class ToolCall(BaseModel):
    id: str = Field(default_factory=lambda: new_id("call"))
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float | None = None

    def add(self, other: Usage) -> Usage:
        cost = None
        if self.cost_usd is not None or other.cost_usd is not None:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cost_usd=cost,
        )


class AgentOutput(BaseModel):
    text: str = ""
    media: list[MediaItem] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    transfer_to: str | None = None
    usage: Usage | None = None


class ToolOutput(BaseModel):
    """A tool's result. ``text`` is what rs-llmspell's bridge flattens (§1.2 of the API notes)."""

    success: bool = True
    text: str = ""
    data: Any = None
    error: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ComponentId(BaseModel):
    type: Literal["Agent", "Tool", "Workflow", "System", "State", "Event", "Session", "Custom"] = "System"
    name: str = "system"


# ---------------------------------------------------------------------------------------------- events


class Event(BaseModel):
    """One event on the bus. ``sequence`` is global and strictly increasing per bus."""

    id: str = Field(default_factory=new_id)
    event_type: str
    data: Any = None
    timestamp: float = Field(default_factory=time.time)
    sequence: int = 0
    correlation_id: str | None = None
    source: str | None = None
    language: str = "python"
    ttl_seconds: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- hooks


class HookPoint(StrEnum):
    """rs-llmspell's 43 named hook points; ``Custom:<name>`` strings are accepted beside them."""

    # agent (7)
    BEFORE_AGENT_INIT = "BeforeAgentInit"
    AFTER_AGENT_INIT = "AfterAgentInit"
    BEFORE_AGENT_EXECUTION = "BeforeAgentExecution"
    AFTER_AGENT_EXECUTION = "AfterAgentExecution"
    AGENT_ERROR = "AgentError"
    BEFORE_AGENT_SHUTDOWN = "BeforeAgentShutdown"
    AFTER_AGENT_SHUTDOWN = "AfterAgentShutdown"
    # tool (6)
    BEFORE_TOOL_DISCOVERY = "BeforeToolDiscovery"
    AFTER_TOOL_DISCOVERY = "AfterToolDiscovery"
    BEFORE_TOOL_EXECUTION = "BeforeToolExecution"
    AFTER_TOOL_EXECUTION = "AfterToolExecution"
    TOOL_VALIDATION = "ToolValidation"
    TOOL_ERROR = "ToolError"
    # workflow (8)
    BEFORE_WORKFLOW_START = "BeforeWorkflowStart"
    WORKFLOW_STAGE_TRANSITION = "WorkflowStageTransition"
    BEFORE_WORKFLOW_STAGE = "BeforeWorkflowStage"
    AFTER_WORKFLOW_STAGE = "AfterWorkflowStage"
    WORKFLOW_CHECKPOINT = "WorkflowCheckpoint"
    WORKFLOW_ROLLBACK = "WorkflowRollback"
    AFTER_WORKFLOW_COMPLETE = "AfterWorkflowComplete"
    WORKFLOW_ERROR = "WorkflowError"
    # state (6)
    BEFORE_STATE_READ = "BeforeStateRead"
    AFTER_STATE_READ = "AfterStateRead"
    BEFORE_STATE_WRITE = "BeforeStateWrite"
    AFTER_STATE_WRITE = "AfterStateWrite"
    STATE_CONFLICT = "StateConflict"
    STATE_MIGRATION = "StateMigration"
    # system (5)
    SYSTEM_STARTUP = "SystemStartup"
    SYSTEM_SHUTDOWN = "SystemShutdown"
    CONFIGURATION_CHANGE = "ConfigurationChange"
    RESOURCE_LIMIT_EXCEEDED = "ResourceLimitExceeded"
    SECURITY_VIOLATION = "SecurityViolation"
    # session (5)
    SESSION_START = "SessionStart"
    SESSION_END = "SessionEnd"
    SESSION_CHECKPOINT = "SessionCheckpoint"
    SESSION_RESTORE = "SessionRestore"
    SESSION_SAVE = "SessionSave"
    # event (3)
    BEFORE_EVENT_EMIT = "BeforeEventEmit"
    AFTER_EVENT_EMIT = "AfterEventEmit"
    EVENT_HANDLER_ERROR = "EventHandlerError"
    # performance (3)
    PERFORMANCE_THRESHOLD_EXCEEDED = "PerformanceThresholdExceeded"
    MEMORY_USAGE_HIGH = "MemoryUsageHigh"
    CPU_USAGE_HIGH = "CpuUsageHigh"


HOOK_POINT_NAMES: tuple[str, ...] = tuple(p.value for p in HookPoint)
CUSTOM_HOOK_PREFIX = "Custom:"

HOOK_POINT_GROUPS: dict[str, tuple[str, ...]] = {
    "agent": HOOK_POINT_NAMES[0:7],
    "tool": HOOK_POINT_NAMES[7:13],
    "workflow": HOOK_POINT_NAMES[13:21],
    "state": HOOK_POINT_NAMES[21:27],
    "system": HOOK_POINT_NAMES[27:32],
    "session": HOOK_POINT_NAMES[32:37],
    "event": HOOK_POINT_NAMES[37:40],
    "performance": HOOK_POINT_NAMES[40:43],
}


class Priority(int, Enum):
    """Lower runs first (rs-llmspell: HIGHEST=i32::MIN … LOWEST=i32::MAX)."""

    HIGHEST = -(2**31)
    HIGH = -100
    NORMAL = 0
    LOW = 100
    LOWEST = 2**31 - 1


class HookContext(BaseModel):
    """What a hook receives. ``data`` is the operation's input (or output, for After* points)."""

    point: str
    component_id: ComponentId = Field(default_factory=ComponentId)
    correlation_id: str = Field(default_factory=new_id)
    data: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, str] = Field(default_factory=dict)
    language: str = "python"
    timestamp: float = Field(default_factory=time.time)
    operation: str | None = None


HookResultKind = Literal["continue", "modified", "cancel", "redirect", "replace", "retry", "skipped"]


class HookResult(BaseModel):
    """What a hook decided. ``continue`` and ``modified`` let the operation go on."""

    kind: HookResultKind = "continue"
    data: Any = None
    reason: str | None = None
    target: str | None = None
    delay_ms: int = 1000
    max_attempts: int = 3

    @property
    def should_continue(self) -> bool:
        return self.kind in ("continue", "modified")

    @classmethod
    def cont(cls) -> HookResult:
        return cls(kind="continue")
