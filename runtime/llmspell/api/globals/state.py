"""``State``: scoped key/value state that persists between runs (SQLite under ``.llmspell/``)."""

from __future__ import annotations

from typing import Any

from llmspell.api.decl import ApiGlobal, api_global, expose
from llmspell.core.errors import ValidationError


def _str(v: Any, what: str, fn: str) -> str:
    if isinstance(v, bool) or v is None:
        raise ValidationError(f"State.{fn}: '{what}' must be a string, got {'nil' if v is None else 'boolean'}")
    if isinstance(v, (int, float)):
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
    if not isinstance(v, str):
        raise ValidationError(f"State.{fn}: '{what}' must be a string, got {type(v).__name__}")
    return v


@api_global("State")
class StateGlobal(ApiGlobal):
    """Persistent state: JSON-compatible values under ``scope:key``.

    Scopes are free-form strings (``"global"``, ``"custom"``, ``"user:123"``). Values survive the spell
    and the process (SQLite file ``.llmspell/state.db`` in the workspace by default) and are shared
    by every spell of the workspace. Functions and userdata cannot be stored.
    """

    @property
    def _store(self) -> Any:
        return self.ctx.runtime.state

    @expose
    async def save(self, scope: str, key: str, value: Any) -> None:
        """Store a value.

        Args:
            scope: The scope, e.g. ``"global"`` or ``"user:123"``.
            key: The key within the scope.
            value: Any JSON-compatible value (nil stores null).
        """
        await self._store.set(_str(scope, "scope", "save"), _str(key, "key", "save"), value)

    @expose
    async def load(self, scope: str, key: str) -> Any:
        """Read a value.

        Args:
            scope: The scope it was saved in.
            key: The key within the scope.

        Returns:
            The stored value, or nil when there is none.
        """
        return await self._store.get(_str(scope, "scope", "load"), _str(key, "key", "load"))

    @expose
    async def delete(self, scope: str, key: str | None = None) -> None:
        """Delete a value (nothing happens when it does not exist).

        Args:
            scope: The scope.
            key: The key within the scope (``State.delete(key)``, as spells using ``State.set(key, v)``
                write it, deletes from the ``"global"`` scope).
        """
        if key is None:
            await self._store.delete("global", _str(scope, "key", "delete"))
            return
        await self._store.delete(_str(scope, "scope", "delete"), _str(key, "key", "delete"))

    @expose(deprecated="not in rs-llmspell (its docs show it); use State.load(scope, key)")
    async def get(self, scope_or_key: str, key: str | None = None) -> Any:
        """``State.get(key)`` reads ``State.load("global", key)``; ``State.get(scope, key)`` is ``load``.

        rs-llmspell's module docs and several of its examples call ``State.get``/``State.set``,
        which its bridge never defined; here they work on the ``"global"`` scope.

        Args:
            scope_or_key: the key (one argument) or the scope (two arguments).
            key: the key when a scope is given.
        """
        if key is None:
            return await self._store.get("global", _str(scope_or_key, "key", "get"))
        return await self._store.get(_str(scope_or_key, "scope", "get"), _str(key, "key", "get"))

    @expose(deprecated="not in rs-llmspell (its docs show it); use State.save(scope, key, value)")
    async def set(self, scope_or_key: str, key_or_value: Any = None, value: Any = None) -> None:
        """``State.set(key, value)`` stores into the ``"global"`` scope; ``State.set(scope, key, value)``
        is ``save``.

        Args:
            scope_or_key: the key (two arguments) or the scope (three arguments).
            key_or_value: the value (two arguments) or the key (three arguments).
            value: the value when a scope is given.
        """
        if value is None:
            await self._store.set("global", _str(scope_or_key, "key", "set"), key_or_value)
        else:
            await self._store.set(_str(scope_or_key, "scope", "set"), _str(key_or_value, "key", "set"), value)

    @expose
    async def list_keys(self, scope: str) -> list[str]:
        """The keys stored in a scope.

        Args:
            scope: The scope.

        Returns:
            The keys (without the ``scope:`` prefix), sorted.
        """
        return await self._store.list_keys(_str(scope, "scope", "list_keys"))

    @expose
    async def workflow_get(self, workflow_id: str, step_name: str) -> Any:
        """A workflow step's stored output (key ``workflow:<id>:<step>``).

        Args:
            workflow_id: The workflow's id.
            step_name: The step's name.

        Returns:
            The stored value, or nil.
        """
        return await self._store.get(f"workflow:{_str(workflow_id, 'workflow_id', 'workflow_get')}",
                                     _str(step_name, "step_name", "workflow_get"))

    @expose
    async def workflow_list(self, workflow_id: str) -> list[str]:
        """The step names a workflow stored outputs for.

        Args:
            workflow_id: The workflow's id.

        Returns:
            The step names, sorted.
        """
        return await self._store.list_keys(f"workflow:{_str(workflow_id, 'workflow_id', 'workflow_list')}")

    @expose
    async def agent_get(self, agent_id: str, key: str) -> Any:
        """Read an agent's value (key ``agent:<id>:<key>``).

        Args:
            agent_id: The agent's id or name.
            key: The key.

        Returns:
            The stored value, or nil.
        """
        return await self._store.get(f"agent:{_str(agent_id, 'agent_id', 'agent_get')}", _str(key, "key", "agent_get"))

    @expose
    async def agent_set(self, agent_id: str, key: str, value: Any) -> None:
        """Store a value for an agent (key ``agent:<id>:<key>``).

        Args:
            agent_id: The agent's id or name.
            key: The key.
            value: Any JSON-compatible value.
        """
        await self._store.set(f"agent:{_str(agent_id, 'agent_id', 'agent_set')}", _str(key, "key", "agent_set"), value)

    @expose
    async def tool_get(self, tool_id: str, key: str) -> Any:
        """Read a tool's value (key ``tool:<id>:<key>``).

        Args:
            tool_id: The tool's name.
            key: The key.

        Returns:
            The stored value, or nil.
        """
        return await self._store.get(f"tool:{_str(tool_id, 'tool_id', 'tool_get')}", _str(key, "key", "tool_get"))

    @expose
    async def tool_set(self, tool_id: str, key: str, value: Any) -> None:
        """Store a value for a tool (key ``tool:<id>:<key>``).

        Args:
            tool_id: The tool's name.
            key: The key.
            value: Any JSON-compatible value.
        """
        await self._store.set(f"tool:{_str(tool_id, 'tool_id', 'tool_set')}", _str(key, "key", "tool_set"), value)

    @expose
    async def compare_and_swap(self, scope: str, key: str, expected: Any, new: Any) -> bool:
        """Write ``new`` only if the stored value still equals ``expected`` (optimistic concurrency).

        Two spells (or parallel steps) updating one value read it, compute, then swap; the loser
        sees false, reads again and retries, so no update is lost. On a mismatch the StateConflict
        hooks run with ``{scope, key, expected, actual, new}``: ``{type="modified", data={value=v}}``
        (or data with ``new``) writes ``v`` instead — conflict resolution such as a merge —
        ``"cancel"`` raises an error, anything else leaves the swap failed.

        Args:
            scope: The scope.
            key: The key within the scope.
            expected: The value the caller last read (nil = the key must be absent).
            new: The value to write.

        Returns:
            true when a value was written (``new``, or a StateConflict hook's resolution), false when
            the stored value was something else.
        """
        return bool(await self._store.compare_and_swap(_str(scope, "scope", "compare_and_swap"),
                                                       _str(key, "key", "compare_and_swap"), expected, new))

    @expose
    async def migrate(self, target_version: int) -> dict[str, Any]:
        """Move the stored values to schema version ``target_version`` (the store starts at 1).

        Each value passes through the migration functions registered for every version step and
        then the StateMigration hooks (``{scope, key, value, from_version, to_version}``): a
        ``{type="modified", data={value=v}}`` result stores ``v``, ``"skip"`` keeps the value,
        ``"cancel"`` aborts the migration with nothing written.

        Args:
            target_version: The schema version to reach (an integer; lower than the current one fails).

        Returns:
            ``{success, status, from_version, to_version, items_migrated, duration_ms, warnings, errors,
            error?}``.
        """
        v: Any = target_version
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise ValidationError(f"State.migrate: 'target_version' must be an integer, got {type(v).__name__}")
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return await self._store.migrate(v)  # type: ignore[no-any-return]

    @expose
    def get_migration_status(self) -> dict[str, Any]:
        """Where the store's schema stands.

        Returns:
            ``{current_version, migration_available, total_schemas, latest_version, is_latest,
            migration_targets}``.
        """
        return self._store.migration_status()  # type: ignore[no-any-return]

    @expose
    def get_schema_versions(self) -> list[str]:
        """The schema versions known to this runtime (1, the current one, and every registered target).

        Returns:
            The versions as strings, ascending.
        """
        return self._store.schema_versions()  # type: ignore[no-any-return]
