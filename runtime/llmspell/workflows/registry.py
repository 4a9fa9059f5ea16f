"""Workflow instances by id (``workflow_<uuid>``), creation from definitions, and resume by checkpoint."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmspell.core.errors import WorkflowError
from llmspell.workflows.engine import CHECKPOINT_SCOPE, WorkflowInstance
from llmspell.workflows.model import WorkflowDef, parse_workflow

if TYPE_CHECKING:
    from llmspell.runtime import Runtime


class WorkflowRegistry:
    def __init__(self, runtime: Runtime | Any):
        self.runtime = runtime
        self._instances: dict[str, WorkflowInstance] = {}
        self.debug = False
        self.default_error_handler: Any = None
        """Stored for rs-llmspell's ``Workflow.setDefaultErrorHandler``; WorkflowError hooks are the real mechanism."""
        self.progress_listeners: list[Callable[[dict[str, Any]], Any]] = []
        """Called with every step's progress (``{workflow_id, step_name, status, ...}``); the runner uses it
        for ``$/progress``."""

    def create(self, definition: WorkflowDef | dict[str, Any], *, id: str | None = None,
               register: bool = True) -> WorkflowInstance:
        d = definition if isinstance(definition, WorkflowDef) else parse_workflow(definition)
        wf = WorkflowInstance(self.runtime, d, id=id)
        if register:
            self._instances[wf.id] = wf
        return wf

    def add(self, wf: WorkflowInstance) -> None:
        self._instances[wf.id] = wf

    def get(self, id: str) -> WorkflowInstance | None:
        wf = self._instances.get(id)
        if wf is None:  # by name, for convenience
            wf = next((w for w in self._instances.values() if w.name == id), None)
        return wf

    def require(self, id: str) -> WorkflowInstance:
        wf = self.get(id)
        if wf is None:
            raise WorkflowError(f"Workflow not found: '{id}'")
        return wf

    def list(self) -> list[WorkflowInstance]:
        return list(self._instances.values())

    def remove(self, id: str) -> bool:
        return self._instances.pop(id, None) is not None

    def clear(self) -> None:
        self._instances.clear()

    def add_progress_listener(self, fn: Callable[[dict[str, Any]], Any]) -> Callable[[], None]:
        self.progress_listeners.append(fn)

        def remove() -> None:
            if fn in self.progress_listeners:
                self.progress_listeners.remove(fn)

        return remove

    async def load_checkpoint(self, checkpoint_id: str) -> dict[str, Any]:
        payload = await self.runtime.state.get(CHECKPOINT_SCOPE, checkpoint_id)
        if not isinstance(payload, dict):
            raise WorkflowError(f"checkpoint '{checkpoint_id}' not found (scope '{CHECKPOINT_SCOPE}')")
        return payload

    async def list_checkpoints(self, workflow_id: str | None = None) -> builtins.list[dict[str, Any]]:
        out = []
        for key in await self.runtime.state.list_keys(CHECKPOINT_SCOPE):
            p = await self.runtime.state.get(CHECKPOINT_SCOPE, key)
            if isinstance(p, dict) and (workflow_id is None or p.get("workflow_id") == workflow_id):
                out.append({"checkpoint_id": key, "workflow_id": p.get("workflow_id"),
                            "workflow_name": p.get("workflow_name"), "created_at": p.get("created_at"),
                            "cursor": p.get("cursor")})
        return sorted(out, key=lambda c: c.get("created_at") or 0)

    async def resume(self, checkpoint_id: str) -> dict[str, Any]:
        """Resume a checkpoint; the workflow is rebuilt from its saved definition when this runtime
        does not hold it (a new process). Function steps cannot be rebuilt that way: the spell
        must rebuild the workflow and call ``workflow:resume(checkpoint_id)`` on it."""
        payload = await self.load_checkpoint(checkpoint_id)
        wf = self._instances.get(str(payload.get("workflow_id")))
        if wf is None:
            d = WorkflowDef.model_validate(payload["definition"])
            wf = self.create(d, id=str(payload.get("workflow_id")) or None)
        return await wf.resume(checkpoint_id)
