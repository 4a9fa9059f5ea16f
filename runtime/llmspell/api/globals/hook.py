"""``Hook``: register script functions at hook points; they really run (rs-llmspell stores them only)."""

from __future__ import annotations

from typing import Annotated, Any

from llmspell.api.decl import ApiGlobal, ApiObject, Names, ScriptFunction, api_class, api_global, expose
from llmspell.api.globals._corehelpers import on_spell_end
from llmspell.core.errors import HookError, ValidationError
from llmspell.hooks.registry import HookHandle


@api_class("HookHandle")
class HookHandleApi(ApiObject):
    """A registered hook. Unregister it with ``handle:unregister()`` or ``Hook.unregister(handle)``;
    hooks a spell registered are also removed when the spell ends."""

    def __init__(self, handle: HookHandle):
        self.handle = handle

    def _active(self, what: str) -> HookHandle:
        if not self.handle.active:
            raise HookError(f"HookHandle:{what}(): the hook was unregistered")
        return self.handle

    @expose
    def id(self) -> str:
        """The hook's unique id.

        Returns:
            The id (a UUID string). Raises after the hook was unregistered.
        """
        return self._active("id").id

    @expose
    def hook_point(self) -> str:
        """The hook point this hook is registered at.

        Returns:
            The point name, e.g. ``BeforeToolExecution``. Raises after the hook was unregistered.
        """
        return self._active("hook_point").point

    @expose
    def unregister(self) -> bool:
        """Remove the hook.

        Returns:
            true if it was registered, false if it had already been removed.
        """
        return self.handle.unregister()


@api_global("Hook")
class HookGlobal(ApiGlobal):
    """Hooks: functions that run at named points of the agent, tool, workflow, state, event and system
    lifecycle, and can change what happens.

    A hook receives a context table ``{point, component_id={type, name}, correlation_id, language,
    metadata, data, operation}`` and returns ``"continue"`` (or nothing), ``"skip"``, any other string to
    cancel with that reason, or a table ``{type="modified", data=...}``, ``{type="cancel", reason=...}``,
    ``{type="replace", data=...}``, ``{type="retry", delay_ms=1000, max_attempts=3}``,
    ``{type="redirect", target=...}``, ``{type="skipped", reason=...}``.
    """

    @expose
    def register(
        self,
        point: Annotated[str, Names("hook_points")],
        callback: ScriptFunction,
        priority: Annotated[str, Names("priorities")] = "normal",
    ) -> HookHandleApi:
        """Register ``callback`` at a hook point.

        Args:
            point: One of the 43 hook points (e.g. ``BeforeAgentExecution``, ``AfterToolExecution``,
                ``ToolError``) or ``Custom:<name>``. Unknown names raise "Unknown hook point: X".
            callback: ``function(ctx)`` returning a hook result (see ``Hook``); it runs on the spell's
                thread whenever the point fires while the spell is alive.
            priority: ``highest``, ``high``, ``normal`` (default), ``low`` or ``lowest``; higher
                priorities run first.

        Returns:
            A HookHandle (``handle:id()``, ``handle:hook_point()``, ``handle:unregister()``).
        """
        if not callable(callback):
            raise HookError(
                f"Hook.register: argument #2 'callback' must be a function, got {type(callback).__name__}"
            )
        hooks = self.ctx.runtime.hooks
        language = getattr(callback, "language", None) or self.ctx.language
        handle = hooks.register(point, callback, priority=priority, language=language)
        on_spell_end(self.ctx, handle.unregister)
        return HookHandleApi(handle)

    @expose
    def list(self, filter: str | dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """List registered hooks (of every spell sharing the runtime), in execution order.

        Args:
            filter: Nothing for all hooks, a point name, or a table ``{hook_point?, language?,
                priority?, tag?}`` (tag matches by substring).

        Returns:
            A list of ``{id, name, point, priority, language, version, description, tags, mode}``.
        """
        return self.ctx.runtime.hooks.list(filter)

    @expose
    def unregister(self, handle: HookHandleApi | str) -> bool:
        """Remove a hook.

        Args:
            handle: The HookHandle ``Hook.register`` returned (or its id).

        Returns:
            true if the hook was removed; false for a handle whose hook was already removed (as in
            rs-llmspell). Anything that is not a HookHandle, or an id no registered hook has, raises.
        """
        if isinstance(handle, HookHandleApi):
            return handle.handle.unregister()
        if isinstance(handle, str):
            if self.ctx.runtime.hooks.unregister(handle):
                return True
            raise ValidationError(f"Hook.unregister: parameter 'handle': no registered hook has the id {handle!r} "
                                  "(never registered, or already removed); pass the HookHandle Hook.register "
                                  "returned")
        got = _script_kind(handle, str(getattr(self.ctx, "language", "lua")))
        raise ValidationError(f"Hook.unregister: parameter 'handle': expected the HookHandle Hook.register returned "
                              f"(or its id), got {got}")

    @expose
    async def fire(self, point: Annotated[str, Names("hook_points")], data: Any = None) -> dict[str, Any]:
        """Run the hooks registered at a custom point and return their combined decision.

        Custom points are how spells (and the Lua and JS spells sharing a runtime) define their own
        extension points: one registers ``Hook.register("Custom:review", fn)``, another asks
        ``Hook.fire("Custom:review", {text = draft})`` and acts on the answer. Hooks run in priority
        order; ``modified`` hands its data to the next hook; the first cancel/replace/redirect/retry/
        skipped stops the chain. The built-in points are fired by the runtime itself and cannot be
        fired from a spell.

        Args:
            point: ``Custom:<name>``.
            data: A table (or any value, delivered as ``{value = ...}``) the hooks see as ``ctx.data``.

        Returns:
            ``{type, data, reason?, target?, delay_ms?, max_attempts?}``: ``type`` is ``continue`` when
            no hook objected; ``data`` is the (possibly modified) data.
        """
        from llmspell.core.types import CUSTOM_HOOK_PREFIX, ComponentId, HookContext
        from llmspell.hooks.registry import validate_point

        point = validate_point(point)
        if not point.startswith(CUSTOM_HOOK_PREFIX):
            raise HookError(f"Hook.fire: only custom points can be fired from a spell ('Custom:<name>'), got "
                            f"'{point}'; the runtime fires the built-in points itself")
        payload = data if isinstance(data, dict) else ({} if data is None else {"value": data})
        ctx = HookContext(point=point, component_id=ComponentId(type="Custom", name=point[len(CUSTOM_HOOK_PREFIX):]),
                          data=payload, language=self.ctx.language, operation="Hook.fire")
        res = await self.ctx.runtime.hooks.execute(ctx)
        out: dict[str, Any] = {"type": res.kind, "data": ctx.data if res.kind in ("continue", "modified") else res.data}
        if res.reason is not None:
            out["reason"] = res.reason
        if res.kind == "redirect":
            out["target"] = res.target
        if res.kind == "retry":
            out["delay_ms"] = res.delay_ms
            out["max_attempts"] = res.max_attempts
        return out


def _script_kind(v: Any, language: str) -> str:
    """How a spell would name the kind of ``v`` (``nil``/``null``, a number, a table/object...)."""
    js = language.lower().startswith("j")
    if v is None:
        return "null" if js else "nil"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, dict):
        return "an object" if js else "a table"
    if isinstance(v, list):
        return "an array" if js else "a table"
    from llmspell.api.plain import describe_kind

    return describe_kind(v)
