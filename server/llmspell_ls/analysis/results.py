"""Result shapes of the API calls that return plain tables (``Tool.execute`` → ``r.success``, ``r.result``;
``agent:execute`` → ``r.text``; ``workflow:execute`` → ``r.outputs``).

The API model types these returns as ``table`` (the runtime hands back open-ended tables: rs-llmspell
flattens a tool's JSON envelope into the result, so any key may appear). The language server overlays
the documented shapes (``runtime/llmspell/api/shapes.py``, the methods' ``Returns:`` docs) as *records*:
completion and hover know the common fields, and records stay open-ended for diagnostics (an unknown key
on a record is never reported). They are kept here rather than in the declaration so the generated
LuaCATS/.d.ts stubs keep typing them as open tables (a closed ``---@class`` would make other servers warn
on every flattened key).
"""

from __future__ import annotations

from typing import Any

from llmspell_ls.apimodel import ApiIndex, _class

RECORDS: list[dict[str, Any]] = [
    {"name": "ToolResult", "kind": "record",
     "doc": "What `Tool.execute` returns: the tool's response envelope (`success`, `operation`, `result`, "
            "`error`, `metadata`) flattened into the table, or `text` for plain-text tools.",
     "fields": [
         {"name": "success", "js_name": "success", "type": "boolean", "optional": True,
          "doc": "False when the tool reported a failure (see `error`)."},
         {"name": "result", "js_name": "result", "type": "any", "optional": True,
          "doc": "The tool's result (`r.result.uuid`, `r.result.value`, ...)."},
         {"name": "operation", "js_name": "operation", "type": "string", "optional": True,
          "doc": "The operation the tool ran."},
         {"name": "message", "js_name": "message", "type": "string", "optional": True, "doc": "A short message."},
         {"name": "error", "js_name": "error", "type": "ToolError|nil", "optional": True,
          "doc": "`{message, code?}` when the tool failed."},
         {"name": "text", "js_name": "text", "type": "string", "optional": True,
          "doc": "The output of tools that answer with plain text."},
         {"name": "metadata", "js_name": "metadata", "type": "table", "optional": True,
          "doc": "Execution details (timing, tool name, ...)."},
     ]},
    {"name": "ToolError", "kind": "record", "doc": "A tool's error: `{message, code?}`.",
     "fields": [
         {"name": "message", "js_name": "message", "type": "string", "doc": "What went wrong."},
         {"name": "code", "js_name": "code", "type": "string", "optional": True, "doc": "A machine-readable code."},
     ]},
    {"name": "AgentOutput", "kind": "record",
     "doc": "What `agent:execute` returns: `text` and `metadata` (a JSON answer with success/result/operation "
            "is flattened into the table, other JSON goes to `data`).",
     "fields": [
         {"name": "text", "js_name": "text", "type": "string", "doc": "The model's answer."},
         {"name": "metadata", "js_name": "metadata", "type": "table",
          "doc": "`{model, provider, estimated_tokens, usage, cost_usd, duration_ms, ...}`."},
         {"name": "data", "js_name": "data", "type": "any", "optional": True,
          "doc": "The answer decoded, when it is JSON that is not an envelope."},
         {"name": "media", "js_name": "media", "type": "table[]", "optional": True,
          "doc": "Images/audio the model produced."},
         {"name": "success", "js_name": "success", "type": "boolean", "optional": True,
          "doc": "From a flattened JSON envelope answer."},
         {"name": "result", "js_name": "result", "type": "any", "optional": True,
          "doc": "From a flattened JSON envelope answer."},
     ]},
    {"name": "WorkflowResult", "kind": "record",
     "doc": "What `workflow:execute` returns.",
     "fields": [
         {"name": "text", "js_name": "text", "type": "string", "doc": "A summary of the run."},
         {"name": "success", "js_name": "success", "type": "boolean", "doc": "True when every step succeeded."},
         {"name": "status", "js_name": "status", "type": "string", "values": ["completed", "paused", "cancelled"],
          "doc": "completed, paused (with `checkpoint_id`) or cancelled."},
         {"name": "outputs", "js_name": "outputs", "type": "table",
          "doc": "Step outputs by step name."},
         {"name": "steps", "js_name": "steps", "type": "table[]", "doc": "Per-step results."},
         {"name": "metadata", "js_name": "metadata", "type": "table",
          "doc": "`{execution_time_ms, extra = {workflow_type, workflow_name, execution_id, total_steps, ...}}`."},
         {"name": "checkpoint_id", "js_name": "checkpoint_id", "type": "string", "optional": True,
          "doc": "Set when the workflow paused."},
     ]},
]

RETURNS: dict[tuple[str, str], str] = {
    ("Tool", "execute"): "ToolResult",
    ("Tool", "invoke"): "ToolResult",
    ("ToolHandle", "execute"): "ToolResult",
    ("AgentInstance", "execute"): "AgentOutput",
    ("AgentInstance", "invoke"): "AgentOutput",
    ("AgentInstance", "execute_with_context"): "AgentOutput",
    ("AgentInstance", "invokeStream"): "AgentOutput",
    ("AgentInstance", "invokeTool"): "ToolResult",
    ("WorkflowInstance", "execute"): "WorkflowResult",
    ("WorkflowInstance", "resume"): "WorkflowResult",
    ("Workflow", "resume"): "WorkflowResult",
}
"""(owner, Lua name) -> the record its ``table`` result has."""

_MARK = "_result_shapes"


def ensure(index: ApiIndex) -> None:
    """Add the result records to the index once (a model that already declares one keeps its own)."""
    if index.__dict__.get(_MARK):
        return
    for r in RECORDS:
        if r["name"] not in index.records and r["name"] not in index.classes:
            index.records[r["name"]] = _class(r)
            index._members.pop((r["name"], "lua"), None)
            index._members.pop((r["name"], "javascript"), None)
    index.__dict__[_MARK] = True


def result_record(index: ApiIndex, owner: str, name: str, returns: str) -> str | None:
    """The record for a function's plain-table result, if it has a known shape."""
    rec = RETURNS.get((owner, name))
    if rec is None or returns.split("|")[0].strip() not in ("table", "any"):
        return None
    ensure(index)
    return rec
