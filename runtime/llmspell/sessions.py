"""Sessions: a named unit of work with its own state scope, lifecycle hooks and a saved snapshot.

Every spell run is a session (the runner starts one per run, id ``session_<run_id>``, and ends it
with the run's status); a spell can create more with ``Session.create``. A session's values live in
the state scope ``session:<id>``; ``save`` persists ``{id, name, ..., state}`` (the scope's items)
under the scope ``session_store`` so that ``load`` can bring the session back in a later runtime.

Hook points and what their results do:

- ``SessionStart`` ``{session_id, name, ...}``: ``cancel`` refuses to start the session
  (``Session.create`` raises; a run ends with an error before the spell runs).
- ``SessionEnd`` ``{session_id, status, ...}``: notification.
- ``SessionSave`` ``{session_id, session, state}``: ``cancel`` refuses the save; ``modified`` whose data
  has ``state`` (a table) saves that snapshot instead.
- ``SessionRestore`` ``{session_id, session, state}``: ``cancel`` refuses the load; ``modified`` whose
  data has ``state`` restores that instead.
- ``SessionCheckpoint`` ``{session_id, workflow_id, checkpoint_id}``: fired when a workflow created in
  the session writes a checkpoint; notification.
"""

from __future__ import annotations

import builtins
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmspell.core.errors import HookCancelledError, ValidationError
from llmspell.core.types import ComponentId, HookContext, new_id

if TYPE_CHECKING:
    from llmspell.runtime import Runtime

SESSION_STORE_SCOPE = "session_store"
SESSION_KEY = "session_id"
"""``SpellContext.extra["session_id"]``: the spell's current session (``Session.get_current``)."""


def session_scope(session_id: str) -> str:
    """The state scope holding a session's values."""
    return f"session:{session_id}"


@dataclass
class SessionRecord:
    id: str
    name: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    status: str = "active"
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    parent_session_id: str | None = None
    custom_metadata: dict[str, Any] = field(default_factory=dict)
    checkpoints: list[str] = field(default_factory=list)
    ended: bool = False

    def table(self) -> dict[str, Any]:
        """rs-llmspell's ``Session.get`` shape (plus ``checkpoints``)."""
        return {"id": self.id, "name": self.name, "description": self.description, "tags": list(self.tags),
                "status": self.status, "created_at": self.created_at, "updated_at": self.updated_at,
                "parent_session_id": self.parent_session_id, "custom_metadata": dict(self.custom_metadata),
                "checkpoints": list(self.checkpoints)}

    @classmethod
    def from_table(cls, d: dict[str, Any]) -> SessionRecord:
        return cls(id=str(d["id"]), name=str(d.get("name") or ""), description=str(d.get("description") or ""),
                   tags=[str(t) for t in d.get("tags") or []], status=str(d.get("status") or "active"),
                   created_at=float(d.get("created_at") or time.time()),
                   updated_at=float(d.get("updated_at") or time.time()),
                   parent_session_id=d.get("parent_session_id"),
                   custom_metadata=dict(d.get("custom_metadata") or {}),
                   checkpoints=[str(c) for c in d.get("checkpoints") or []])


class SessionManager:
    """The sessions of one runtime (in memory; ``save``/``load`` go through the state store)."""

    keep_ended = 200
    """Ended sessions kept in memory (``Session.get``/``list`` of recent runs); older ones are dropped."""

    def __init__(self, runtime: Runtime | Any):
        self.runtime = runtime
        self._sessions: dict[str, SessionRecord] = {}

    # ------------------------------------------------------------------------------ helpers

    def _component(self, sid: str) -> ComponentId:
        return ComponentId(type="Session", name=sid)

    async def _fire(self, point: str, sid: str, data: dict[str, Any]) -> tuple[str, dict[str, Any], Any]:
        """(result kind, data after hooks, result) — the data is the context's, so ``modified`` shows."""
        hooks = getattr(self.runtime, "hooks", None)
        if hooks is None or not hooks.has_hooks(point):
            return "continue", data, None
        ctx = HookContext(point=point, component_id=self._component(sid), data=data, operation=point)
        res = await hooks.execute(ctx)
        return res.kind, ctx.data, res

    def require(self, sid: Any) -> SessionRecord:
        rec = self._sessions.get(sid) if isinstance(sid, str) else None
        if rec is None:
            raise ValidationError(f"Invalid session ID: {sid!r} (no such session in this runtime; "
                                  "Session.list() shows the known ones, Session.load(id) restores a saved one)")
        return rec

    def get(self, sid: str) -> SessionRecord | None:
        return self._sessions.get(sid)

    def list(self, *, tags: builtins.list[str] | None = None,
             limit: int | None = None) -> builtins.list[SessionRecord]:
        out = sorted(self._sessions.values(), key=lambda r: r.created_at)
        if tags:
            out = [r for r in out if set(tags) & set(r.tags)]
        return out[:limit] if limit else out

    # ------------------------------------------------------------------------------ lifecycle

    async def start(self, *, name: str = "", description: str = "", tags: builtins.list[str] | None = None,
                    metadata: dict[str, Any] | None = None, parent: str | None = None, session_id: str | None = None,
                    extra: dict[str, Any] | None = None) -> SessionRecord:
        """Create a session and fire SessionStart (``cancel`` refuses it: HookCancelledError)."""
        sid = session_id or f"session_{uuid.uuid4()}"
        rec = SessionRecord(id=sid, name=name or sid, description=description, tags=list(tags or []),
                            parent_session_id=parent, custom_metadata=dict(metadata or {}))
        kind, _data, res = await self._fire("SessionStart", sid, {"session_id": sid, **rec.table(), **(extra or {})})
        if kind == "cancel":
            raise HookCancelledError("SessionStart", getattr(res, "reason", None) or "cancelled")
        self._sessions[sid] = rec
        self._publish("session.started", {"session_id": sid, "name": rec.name})
        return rec

    async def end(self, sid: str, status: str = "completed", **extra: Any) -> None:
        """Mark the session ended and fire SessionEnd (notification)."""
        rec = self._sessions.get(sid)
        if rec is not None:
            rec.status = status
            rec.updated_at = time.time()
            rec.ended = True
        await self._fire("SessionEnd", sid, {"session_id": sid, "status": status, **extra})
        self._publish("session.ended", {"session_id": sid, "status": status})
        self._prune()

    def _prune(self) -> None:
        """Forget the oldest ended sessions beyond :attr:`keep_ended` (a language server's runtime
        lives for days and every run is a session); saved ones can still be loaded from state."""
        ended = [r for r in self._sessions.values() if r.ended]
        for r in sorted(ended, key=lambda r: r.updated_at)[: max(0, len(ended) - self.keep_ended)]:
            self._sessions.pop(r.id, None)

    async def checkpoint(self, sid: str, *, workflow_id: str, checkpoint_id: str) -> None:
        """A workflow of the session wrote a checkpoint: remember it and fire SessionCheckpoint."""
        rec = self._sessions.get(sid)
        if rec is not None:
            rec.checkpoints.append(checkpoint_id)
            rec.updated_at = time.time()
        await self._fire("SessionCheckpoint", sid,
                         {"session_id": sid, "workflow_id": workflow_id, "checkpoint_id": checkpoint_id})

    async def save(self, sid: str) -> dict[str, Any]:
        """Persist the session and its state scope; fires SessionSave first. Returns the saved payload."""
        rec = self.require(sid)
        state = self.runtime.state
        snapshot = await state.items(session_scope(sid))
        kind, data, res = await self._fire("SessionSave", sid,
                                           {"session_id": sid, "session": rec.table(), "state": snapshot})
        if kind == "cancel":
            raise HookCancelledError("SessionSave", getattr(res, "reason", None) or "cancelled")
        if kind == "modified" and isinstance(data.get("state"), dict):
            snapshot = data["state"]
        rec.updated_at = time.time()
        payload = {**rec.table(), "state": snapshot, "saved_at": time.time()}
        await state.set(SESSION_STORE_SCOPE, sid, payload)
        self._publish("session.saved", {"session_id": sid, "keys": sorted(snapshot)})
        return payload

    async def load(self, sid: str) -> SessionRecord:
        """Restore a saved session (its record and state scope); fires SessionRestore first."""
        state = self.runtime.state
        payload = await state.get(SESSION_STORE_SCOPE, sid) if isinstance(sid, str) else None
        if not isinstance(payload, dict):
            raise ValidationError(f"Invalid session ID: {sid!r} (no saved session; Session.save(id) saves one)")
        raw_state = payload.get("state")
        snapshot: dict[str, Any] = raw_state if isinstance(raw_state, dict) else {}
        rec = SessionRecord.from_table(payload)
        kind, data, res = await self._fire("SessionRestore", sid,
                                           {"session_id": sid, "session": rec.table(), "state": snapshot})
        if kind == "cancel":
            raise HookCancelledError("SessionRestore", getattr(res, "reason", None) or "cancelled")
        if kind == "modified" and isinstance(data.get("state"), dict):
            snapshot = data["state"]
        scope = session_scope(sid)
        for k in await state.list_keys(scope):
            if k not in snapshot:
                await state.delete(scope, k)
        for k, v in snapshot.items():
            await state.set(scope, str(k), v)
        rec.status = "active"
        rec.ended = False
        rec.updated_at = time.time()
        self._sessions[sid] = rec
        self._publish("session.restored", {"session_id": sid, "keys": sorted(snapshot)})
        return rec

    def _publish(self, event_type: str, data: dict[str, Any]) -> None:
        events = getattr(self.runtime, "events", None)
        if events is not None:
            events.publish_nowait(event_type, data, source="sessions",
                                  correlation_id=data.get("session_id") or new_id())
