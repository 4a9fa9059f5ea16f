"""``Session``: every run is a session; a spell can create, save, load and complete more (rs-llmspell §2.14)."""

from __future__ import annotations

from typing import Any

from llmspell.api.decl import ApiGlobal, api_global, expose
from llmspell.core.errors import ValidationError
from llmspell.sessions import SESSION_KEY, SessionManager


def _sid(v: Any, fn: str) -> str:
    if not isinstance(v, str) or not v:
        raise ValidationError(f"Session.{fn}: 'id' must be a session id string, got "
                              f"{'nil' if v is None else type(v).__name__}")
    return v


@api_global("Session")
class SessionGlobal(ApiGlobal):
    """Sessions: a named unit of work with its own state scope (``"session:" .. id``) and hooks.

    The running spell is a session already (``Session.get_current()``); ``Session.save(id)`` keeps
    the session and the values of its state scope so that ``Session.load(id)`` restores them in a
    later run. Hook points: SessionStart, SessionEnd, SessionSave, SessionRestore and
    SessionCheckpoint (a workflow of the session wrote a checkpoint).
    """

    @property
    def _mgr(self) -> SessionManager:
        mgr = getattr(self.ctx.runtime, "sessions", None)
        if mgr is None:
            raise ValidationError("Session: this runtime has no session manager")
        return mgr  # type: ignore[no-any-return]

    @expose
    async def create(self, opts: dict[str, Any] | None = None) -> str:
        """Start a new session (fires SessionStart; a hook's ``cancel`` refuses it).

        Args:
            opts: ``{name?, description?, tags?, metadata?}``; the current session is its parent.

        Returns:
            The new session's id (a string). It does not become the current session: use
            ``Session.set_current(id)``.
        """
        o = opts or {}
        if not isinstance(o, dict):
            raise ValidationError(f"Session.create: 'opts' must be a table, got {type(o).__name__}")
        tags = o.get("tags") or []
        if not isinstance(tags, list):
            raise ValidationError("Session.create: 'tags' must be a list of strings")
        rec = await self._mgr.start(name=str(o.get("name") or ""), description=str(o.get("description") or ""),
                                    tags=[str(t) for t in tags], metadata=o.get("metadata") or {},
                                    parent=self.ctx.extra.get(SESSION_KEY))
        return rec.id

    @expose
    def get(self, id: str) -> dict[str, Any]:
        """A session's record.

        Args:
            id: The session id.

        Returns:
            ``{id, name, description, tags, status, created_at, updated_at, parent_session_id,
            custom_metadata, checkpoints}``; raises "Invalid session ID" for an unknown id.
        """
        return self._mgr.require(_sid(id, "get")).table()

    @expose
    def list(self, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The sessions of this runtime, oldest first.

        Args:
            query: ``{tags?, limit?}``: keep sessions sharing a tag; at most ``limit``.

        Returns:
            A list of session records (as ``Session.get``).
        """
        q = query or {}
        tags = q.get("tags") if isinstance(q, dict) else None
        limit = q.get("limit") if isinstance(q, dict) else None
        return [r.table() for r in self._mgr.list(tags=[str(t) for t in tags] if isinstance(tags, list) else None,
                                                  limit=int(limit) if isinstance(limit, (int, float)) else None)]

    @expose
    async def save(self, id: str) -> dict[str, Any]:
        """Persist the session and the values of its state scope (fires SessionSave first; a hook's
        ``cancel`` refuses, ``{type="modified", data={state=...}}`` saves that snapshot instead).

        Args:
            id: The session id.

        Returns:
            The saved record: the session's fields plus ``state`` and ``saved_at``.
        """
        return await self._mgr.save(_sid(id, "save"))

    @expose
    async def load(self, id: str) -> str:
        """Restore a saved session: its record and its state scope (fires SessionRestore first; a
        hook's ``cancel`` refuses, ``{type="modified", data={state=...}}`` restores that instead).

        Args:
            id: The id of a session saved with ``Session.save`` (in this or an earlier run).

        Returns:
            The id.
        """
        return (await self._mgr.load(_sid(id, "load"))).id

    @expose
    async def complete(self, id: str) -> None:
        """Mark a session completed (fires SessionEnd with status ``completed``).

        Args:
            id: The session id.
        """
        self._mgr.require(_sid(id, "complete"))
        await self._mgr.end(id, "completed")

    @expose
    def get_current(self) -> str | None:
        """The current session's id (the run's own session unless ``set_current`` changed it).

        Returns:
            The id, or nil.
        """
        v = self.ctx.extra.get(SESSION_KEY)
        return v if isinstance(v, str) else None

    @expose
    def set_current(self, id: str | None = None) -> None:
        """Make a session current (workflows built afterwards report their checkpoints to it).

        Args:
            id: A session id, or nil to have no current session.
        """
        if id is None:
            self.ctx.extra.pop(SESSION_KEY, None)
            return
        self._mgr.require(_sid(id, "set_current"))
        self.ctx.extra[SESSION_KEY] = id

    @expose
    def state_scope(self, id: str | None = None) -> str:
        """The state scope holding a session's values (what ``save`` snapshots).

        Args:
            id: A session id (default: the current session).

        Returns:
            ``"session:<id>"``, for ``State.save(Session.state_scope(), key, value)``.
        """
        sid = id if id is not None else self.get_current()
        return f"session:{_sid(sid, 'state_scope')}"
