"""Catalogs of names that strings in spells refer to (tools, hook points, templates, ...).

They go into the API model so the language server can complete and check string arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmspell.core.types import HOOK_POINT_GROUPS, Priority

if TYPE_CHECKING:  # the pydantic model classes are only needed when the API model is built
    from llmspell.api.model import NameEntry, ToolInfo

# Hook points that rs-llmspell's Lua ``Hook.register`` accepts; we accept all 43 (+ ``Custom:<x>``).
RS_LUA_HOOK_POINTS = frozenset(
    HOOK_POINT_GROUPS["agent"] + HOOK_POINT_GROUPS["tool"] + HOOK_POINT_GROUPS["workflow"]
    + ("SystemStartup", "SystemShutdown")
)

WORKFLOW_TYPES: dict[str, str] = {
    "sequential": "Steps run one after another; each step can use earlier steps' outputs.",
    "parallel": "Steps run concurrently (bounded by max_concurrency); outputs are collected by step name.",
    "conditional": "A condition picks the then-branch or the else-branch.",
    "loop": "The body runs for each value of a range, a collection, or while a condition holds.",
    "map_reduce": "A map step runs over every item concurrently; a reduce step combines the results.",
}

STEP_TYPES: dict[str, str] = {
    "tool": "Run a tool: `tool = \"name\"`, `input = {params}`.",
    "agent": "Ask an agent: `agent = \"agent name\"`, `input = \"prompt\"`.",
    "workflow": "Run a nested workflow: `workflow = <workflow>`, `input = {...}`.",
    "function": "Call a script function: `fn = function(input, ctx) ... end`.",
    "template": "Run a template: `template_id = \"id\"`, `params = {...}`.",
}

ERROR_STRATEGIES: dict[str, str] = {
    "fail_fast": "Stop at the first failing step (the default).",
    "stop": "Same as fail_fast.",
    "continue": "Record the failure and go on with the next step.",
    "retry": "Retry a failing step (3 attempts, exponential backoff) before failing.",
    "rollback": "On a failing step, restore shared data and outputs to the last checkpoint (or the start), "
                "fire WorkflowRollback, then fail (a hook's modified/replace result becomes the result).",
}

# Events the runtime itself publishes (pattern-friendly names: ``agent.*``, ``*.failed``).
SYSTEM_EVENTS: dict[str, str] = {
    "agent.started": "An agent began executing (data: component_name, input_text_length).",
    "agent.completed": "An agent finished (data: duration_ms, output_text_length, tool_call_count, model_used).",
    "agent.failed": "An agent failed (data: error, error_type).",
    "agent.tool_call": "An agent's model asked for a tool call (data: tool, arguments).",
    "agent.stream.chunk": "A streamed chunk of agent output (data: text).",
    "tool.started": "A tool began executing (data: tool, parameter_keys).",
    "tool.completed": "A tool finished (data: tool, duration_ms, success).",
    "tool.failed": "A tool failed (data: tool, error, error_type).",
    "workflow.started": "A workflow began (data: workflow_id, workflow_name, workflow_type).",
    "workflow.completed": "A workflow finished (data: workflow_id, duration_ms, successful_steps).",
    "workflow.failed": "A workflow failed (data: workflow_id, error).",
    "workflow.paused": "A workflow paused and wrote a checkpoint (data: workflow_id, checkpoint_id).",
    "workflow.resumed": "A workflow resumed from a checkpoint.",
    "workflow.cancelled": "A workflow was cancelled.",
    "workflow.step.started": "A workflow step began (data: workflow_id, step_name, step_type, step_index).",
    "workflow.step.completed": "A workflow step finished (data: step_name, duration_ms).",
    "workflow.step.failed": "A workflow step failed (data: step_name, error).",
    "workflow.state.updated": "Workflow shared data changed.",
    "state.changed": "A state value was written (data: scope, key).",
    "state.deleted": "A state value was deleted (data: scope, key).",
    "recovery.retry": "A retry is about to happen (data: component, attempt, delay_ms, error).",
    "recovery.fallback": "A fallback took over (data: component, fallback).",
    "recovery.circuit.opened": "A circuit breaker opened (data: name, failures).",
    "recovery.circuit.half_open": "A circuit breaker lets a trial call through.",
    "recovery.circuit.closed": "A circuit breaker closed again.",
    "hook.executed": "A hook ran (data: point, hook, result).",
    "security.violation": "The security policy refused an operation (data: operation, reason).",
    "workflow.rolled_back": "A failing workflow restored its data to a checkpoint (data: workflow_id, failed_step, "
                            "restored_to).",
    "session.started": "A session started (every run is one; data: session_id, name).",
    "session.ended": "A session ended (data: session_id, status).",
    "session.saved": "A session was saved with its state snapshot (data: session_id, keys).",
    "session.restored": "A saved session was loaded back (data: session_id, keys).",
    "state.conflict": "A compare-and-swap found another value than expected (data: scope, key).",
    "state.migrated": "State.migrate moved the store to a new schema version (data: from_version, to_version, "
                      "items_migrated).",
    "config.changed": "The runtime configuration changed (data: changes).",
    "system.started": "The runtime started.",
    "system.shutdown": "The runtime is shutting down.",
}


def build_catalogs() -> dict[str, list[NameEntry]]:
    from llmspell.api.model import NameEntry

    groups = {p: g for g, pts in HOOK_POINT_GROUPS.items() for p in pts}
    hook_points = [
        NameEntry(
            name=p,
            detail=f"{groups[p]} hook point",
            doc=("" if p in RS_LUA_HOOK_POINTS else "Not registrable from Lua in rs-llmspell; works here."),
        )
        for p in groups
    ]
    from llmspell.agents.templates import TEMPLATES
    from llmspell.tools.catalog import tool_categories

    return {
        "hook_points": hook_points,
        "priorities": [NameEntry(name=p.name.lower(), detail=str(p.value)) for p in Priority],
        "workflow_types": [NameEntry(name=k, doc=v) for k, v in WORKFLOW_TYPES.items()],
        "step_types": [NameEntry(name=k, doc=v) for k, v in STEP_TYPES.items()],
        "error_strategies": [NameEntry(name=k, doc=v) for k, v in ERROR_STRATEGIES.items()],
        # names and descriptions come from the templates themselves (one source of truth)
        "agent_templates": [NameEntry(name=k, doc=t.description) for k, t in TEMPLATES.items()],
        "event_names": [NameEntry(name=k, doc=v) for k, v in SYSTEM_EVENTS.items()],
        "tool_categories": [NameEntry(name=c) for c in tool_categories()],
        "tools": [NameEntry(name=t.name, doc=t.description, detail=t.category) for t in build_tool_infos()],
    }


def build_tool_infos() -> list[ToolInfo]:
    from llmspell.tools.catalog import tool_infos

    return sorted(tool_infos(), key=lambda t: t.name)
