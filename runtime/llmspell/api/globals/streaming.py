"""``Streaming``: streams a spell pulls values from (rs-llmspell ``llmspell-bridge/src/lua/globals/streaming.rs``).

``Streaming.create(fn)`` makes a stream whose producer is ``fn``:

* Lua (as rs-llmspell): ``fn`` runs as a coroutine; ``stream:next()`` resumes it and returns what it
  passed to ``coroutine.yield(v)`` (its ``return`` value is the last item); ``stream:isDone()`` is true
  once the coroutine has finished; ``stream:collect()`` gathers the rest.
* JavaScript: ``fn`` is called once per pull and returns the next value (``undefined``/``null`` ends
  the stream); ``for await (const v of stream)`` iterates it, ``await stream.next()`` pulls one.

In both, ``Streaming.yield(v)`` called while the producer runs adds ``v`` to that stream (several
values per resume/call are delivered one by one). ``nil``/``null`` values are never items.

``agent:stream({text = ...})`` (see the ``Agent`` global) returns the same kind of stream over an
agent's answer: chunk tables ``{text, content, index}`` as the model produces them.
"""

from __future__ import annotations

from typing import Any

from llmspell.api.decl import ApiGlobal, ScriptFunction, api_global, expose
from llmspell.api.streams import CallbackSource, LuaCoroutineSource, ScriptStream, _Producing
from llmspell.core.errors import ValidationError

# ------------------------------------------------------------------------------------------ global


@api_global("Streaming")
class StreamingGlobal(ApiGlobal):
    """Pull-based streams: ``Streaming.create(fn)`` (a coroutine in Lua, a pull function in JS) and
    the streams ``agent:stream({text = ...})`` returns."""

    def _producing(self) -> _Producing:
        p = self.__dict__.get("_producing_state")
        if p is None:
            p = self.__dict__["_producing_state"] = _Producing()
        return p

    @expose
    def create(self, fn: ScriptFunction) -> ScriptStream:
        """Make a stream from a producer function.

        Lua: ``fn`` runs as a coroutine; ``coroutine.yield(v)`` (or ``Streaming.yield(v)``) hands out
        values, its return value is the last one. JS: ``fn`` is called for each value and returns it
        (``undefined`` ends the stream).

        Args:
            fn: the producer.

        Returns:
            the stream: ``next()``, ``isDone()``, ``collect()``, ``close()``.
        """
        if not isinstance(fn, ScriptFunction):
            from llmspell.api.globals.agent import script_type

            raise ValidationError(f"Streaming.create: fn: expected a function, got {script_type(fn)}",
                                  details={"expected": "function"})
        src: LuaCoroutineSource | CallbackSource
        if getattr(fn, "lua_fn", None) is not None and hasattr(getattr(fn, "host", None), "lua"):
            src = LuaCoroutineSource(fn, self._producing())
        else:
            src = CallbackSource(fn, self._producing())
        stream = ScriptStream(src, what="Streaming.create stream")
        src.stream = stream
        return stream

    @expose(lua="yield", js="yield")
    def yield_(self, value: Any) -> None:
        """Add ``value`` to the stream whose producer is running (inside ``Streaming.create``'s function).
        In Lua it does not suspend the coroutine; ``coroutine.yield(v)`` does both.

        Args:
            value: the value (nil is ignored).
        """
        stack = self._producing().stack
        if not stack:
            raise ValidationError(
                "Streaming.yield: no stream is being produced: call it inside the function given to "
                "Streaming.create (in Lua, coroutine.yield(v) there hands out v and pauses)")
        stack[-1].push(value)
