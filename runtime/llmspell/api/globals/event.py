"""``Event``: publish events and subscribe to them by pull (``receive``) or push (a callback)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from llmspell.api.decl import ApiGlobal, Names, ScriptFunction, api_global, expose
from llmspell.api.globals._corehelpers import display_language, normalize_language, on_spell_end
from llmspell.api.plain import Keys
from llmspell.core.errors import EventError, ValidationError
from llmspell.core.types import Event
from llmspell.events.reserved import check_spell_event_name, spell_metadata


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def event_table(ev: Event, target_language: str) -> dict[str, Any]:
    """The table a script receives (rs-llmspell's shape; arrays stay arrays, unlike its "1","2" keys quirk)."""
    md = ev.metadata or {}
    origin = "spell" if md.get("origin") == "spell" else "runtime"
    return {
        "id": ev.id,
        "event_type": ev.event_type,
        "data": ev.data,
        "timestamp": rfc3339(ev.timestamp),
        "sequence": ev.sequence,
        "correlation_id": ev.correlation_id,
        "language": display_language(ev.language),
        "source": ev.source,
        "ttl": ev.ttl_seconds,
        "metadata": {
            **md,
            "correlation_id": ev.correlation_id,
            "source": ev.source,
            "target": md.get("target"),
            "tags": md.get("tags", []),
            "priority": md.get("priority", "normal"),
            "origin": origin,
            "ttl": ev.ttl_seconds,
        },
        "target_language": display_language(target_language),
        "serialization_version": "1.0",
    }


@api_global("Event")
class EventGlobal(ApiGlobal):
    """Events: publish named events and receive the ones that match a pattern.

    Patterns: ``*`` (everything), ``agent.*`` (prefix), ``*.failed`` (suffix), any other glob, or an exact
    name. The runtime itself publishes ``agent.*``, ``tool.*``, ``workflow.*``, ``workflow.step.*``,
    ``state.*``, ``session.*``, ``hook.*``, ``security.*``, ``recovery.*``, ``config.*`` and ``system.*``
    events; those names are reserved (a spell publishing one gets an error), and ``metadata.origin`` of a
    received event says who published it (``"runtime"`` or ``"spell"``).
    """

    def __init__(self, ctx: Any):
        super().__init__(ctx)
        self._subs: dict[str, Any] = {}

    @property
    def _bus(self) -> Any:
        return self.ctx.runtime.events

    @expose
    async def publish(
        self,
        event_type: Annotated[str, Names("event_names")],
        data: Any = None,
        options: dict[str, Any] | None = None,
    ) -> bool:
        """Publish an event to every matching subscriber.

        Args:
            event_type: Dotted event name, e.g. ``user.action`` or ``pipeline.step.done``; the runtime's own
                prefixes (``agent.``, ``tool.``, ``workflow.``, ``session.``, ``state.`` …) are reserved.
            data: Any JSON-compatible value (tables, strings, numbers, booleans).
            options: ``{language?, correlation_id?, ttl_seconds?, source?}``; language is one of lua,
                javascript, js, python, py, rust, unknown (default: the spell's language).

        Returns:
            true once the event was delivered to the subscribers' queues.
        """
        if not isinstance(event_type, str) or not event_type:
            raise ValidationError("Event.publish: argument #1 'event_type' must be a non-empty string")
        check_spell_event_name(event_type, "Event.publish")
        opts = options or {}
        if not isinstance(opts, dict):
            raise ValidationError("Event.publish: argument #3 'options' must be a table")
        ttl = opts.get("ttl_seconds")
        await self._bus.publish(
            event_type,
            data,
            correlation_id=None if opts.get("correlation_id") is None else str(opts["correlation_id"]),
            source=opts.get("source") or self.ctx.spell_name,
            language=normalize_language(opts.get("language"), self.ctx.language),
            ttl_seconds=None if ttl is None else int(ttl),
            metadata=spell_metadata(self.ctx.spell_name),
        )
        return True

    @expose
    def subscribe(
        self,
        pattern: str,
        options_or_callback: ScriptFunction | Annotated[dict[str, Any], Keys(callback=ScriptFunction)] | None = None,
    ) -> str:
        """Subscribe to events whose type matches ``pattern``.

        Args:
            pattern: ``*``, ``agent.*``, ``*.failed``, another glob, or an exact event name.
            options_or_callback: A ``function(event)`` for push delivery (called for each event on the
                spell's thread), or a table ``{callback?, language?, maxsize?}``; without a callback,
                read events with ``Event.receive``.

        Returns:
            The subscription id (a UUID string).
        """
        if not isinstance(pattern, str) or not pattern:
            raise ValidationError("Event.subscribe: argument #1 'pattern' must be a non-empty string")
        callback: Any = None
        opts: dict[str, Any] = {}
        if isinstance(options_or_callback, dict):
            opts = options_or_callback
            callback = opts.get("callback")
        elif options_or_callback is not None:
            callback = options_or_callback
        if callback is not None and not callable(callback):
            raise ValidationError("Event.subscribe: the callback must be a function")
        language = normalize_language(opts.get("language"), self.ctx.language)
        target = self.ctx.language
        push = None
        if callback is not None:
            fn = callback

            async def push(ev: Event) -> None:
                await fn(event_table(ev, target))

        sub = self._bus.subscribe(pattern, push, maxsize=int(opts.get("maxsize") or 10000), language=language)
        self._subs[sub.id] = sub
        on_spell_end(self.ctx, lambda: self._bus.unsubscribe(sub.id))
        return str(sub.id)

    @expose
    async def receive(self, subscription_id: str, timeout_ms: int = 5000) -> dict[str, Any] | None:
        """Wait for the next event of a pull subscription.

        Args:
            subscription_id: The id ``Event.subscribe`` returned.
            timeout_ms: How long to wait, in milliseconds (default 5000).

        Returns:
            ``{id, event_type, data, timestamp, sequence, correlation_id, language, metadata, ...}``, or
            nil when nothing arrived in time or the subscription was closed.
        """
        sub = self._bus.get_subscription(subscription_id) if isinstance(subscription_id, str) else None
        if sub is None:
            raise EventError(f"No active subscription found: {subscription_id}")
        if sub.callback is not None:
            raise EventError(
                f"subscription {subscription_id} delivers to its callback; Event.receive only reads "
                "subscriptions made without one"
            )
        timeout_s = None if timeout_ms is None else max(0.0, float(timeout_ms) / 1000.0)
        ev = await sub.receive(timeout_s)
        return None if ev is None else event_table(ev, self.ctx.language)

    @expose
    def unsubscribe(self, subscription_id: str) -> bool:
        """Stop a subscription.

        Args:
            subscription_id: The id ``Event.subscribe`` returned.

        Returns:
            true if it existed.
        """
        self._subs.pop(subscription_id, None)
        return bool(self._bus.unsubscribe(subscription_id)) if isinstance(subscription_id, str) else False

    @expose
    def list_subscriptions(self) -> list[dict[str, Any]]:
        """The subscriptions this spell made and still has.

        Returns:
            A list of ``{id, pattern, language, mode, pending}``.
        """
        live = self._bus.list_subscriptions()
        mine = {k for k in self._subs}
        return [
            {"id": s["id"], "pattern": s["pattern"], "language": s["language"], "mode": s["mode"],
             "pending": s["pending"]}
            for s in live if s["id"] in mine
        ]

    @expose
    def get_stats(self) -> dict[str, Any]:
        """Event bus statistics.

        Returns:
            ``{event_bus_stats={events_processed, events_delivered, events_dropped, handler_errors,
            rate_limit_violations, buffer_size}, bridge_stats={active_subscriptions,
            subscriptions_by_language}}``.
        """
        st = self._bus.stats()
        mine = self.list_subscriptions()
        by_lang: dict[str, int] = {}
        for s in mine:
            by_lang[s["language"]] = by_lang.get(s["language"], 0) + 1
        return {
            "event_bus_stats": {
                k: st[k] for k in ("events_processed", "events_delivered", "events_dropped", "handler_errors",
                                   "rate_limit_violations", "buffer_size", "active_subscriptions")
            },
            "bridge_stats": {"active_subscriptions": len(mine), "subscriptions_by_language": by_lang},
        }
