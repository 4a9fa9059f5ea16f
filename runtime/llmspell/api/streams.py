"""Streams a spell pulls values from: the objects behind ``Streaming`` and ``agent:stream`` (rs-llmspell
``llmspell-bridge/src/lua/globals/streaming.rs``).

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

import asyncio
import builtins
from collections import deque
from typing import Any, Protocol

from llmspell.api.decl import ApiObject, ScriptFunction, api_class, expose
from llmspell.core.errors import ScriptError


class StreamSource(Protocol):
    """Where a stream's items come from: ``pull()`` returns (new items, finished?)."""

    async def pull(self) -> tuple[builtins.list[Any], bool]: ...

    def close(self) -> None: ...


@api_class("Stream")
class ScriptStream(ApiObject):
    """A stream of values: ``next()`` the next one (nil at the end), ``isDone()``, ``collect()``.
    In JS it is also an async iterable (``for await (const v of stream)``)."""

    def __init__(self, source: StreamSource, *, what: str = "stream"):
        self._source = source
        self._buf: deque[Any] = deque()
        self._finished = False
        self._closed = False
        self._what = what
        self.delivered = 0

    def push(self, value: Any) -> None:
        """Add one item (``Streaming.yield`` from inside the producer)."""
        if value is not None:
            self._buf.append(value)

    async def _fill(self) -> None:
        while not self._buf and not self._finished:
            try:
                items, finished = await self._source.pull()
            except BaseException:
                self._finished = True
                raise
            for v in items:
                self.push(v)
            self._finished = finished

    @expose
    async def next(self) -> Any:
        """The next value; nil once the stream has ended (then ``isDone()`` is true).

        Returns:
            the value, or nil at the end.
        """
        await self._fill()
        if self._buf:
            self.delivered += 1
            return self._buf.popleft()
        return None

    @expose(lua="isDone")
    def is_done(self) -> bool:
        """True once the producer has finished and every value has been taken.

        Returns:
            whether the stream has ended.
        """
        return self._finished and not self._buf

    @expose(lua="is_done", js="is_done")
    def is_done_alias(self) -> bool:
        """Same as ``isDone()``.

        Returns:
            whether the stream has ended.
        """
        return self.is_done()

    @expose
    async def collect(self) -> builtins.list[Any]:
        """Every remaining value, in order (runs the producer to its end).

        Returns:
            the list of values.
        """
        out: builtins.list[Any] = []
        while True:
            await self._fill()
            if not self._buf:
                return out
            out.extend(self._buf)
            self.delivered += len(self._buf)
            self._buf.clear()

    @expose
    def close(self) -> None:
        """Stop the producer (an agent's answer is cancelled); the stream is then done."""
        self._finished = True
        self._buf.clear()
        if not self._closed:
            self._closed = True
            self._source.close()


# ------------------------------------------------------------------------------------------ sources


class _Producing:
    """Which stream ``Streaming.yield`` feeds: a stack, because a producer may pull another stream."""

    def __init__(self) -> None:
        self.stack: builtins.list[ScriptStream] = []


class LuaCoroutineSource:
    """A Lua function run as a coroutine (created from the runtime's own thread, so it is metered and
    cancellable like the spell); each pull resumes it once."""

    def __init__(self, fn: Any, producing: _Producing):
        self.fn = fn
        self.host = fn.host
        self.producing = producing
        self.stream: ScriptStream | None = None
        self._co: Any = None
        self._dead = False

    def _resume(self) -> tuple[builtins.list[Any], bool]:
        host = self.host
        if getattr(host, "M", None) is None:
            raise ScriptError(f"{host.display}: the spell has finished, so its stream can no longer run")
        if self._co is None:
            # a Lua hook is per thread: the coroutine arms the spell's count hook on itself first, so
            # the producer is metered and cancellable like the spell (as the prelude's coroutine.create)
            metered = host.lua.eval("function(arm, f) return function(...) arm(); return f(...) end end")
            self._co = metered(host.M.arm, self.fn.lua_fn).coroutine()
        assert self.stream is not None
        self.producing.stack.append(self.stream)
        try:
            try:
                value = self._co.send(None)
            except StopIteration:
                value = None
                self._dead = True
            except host._lua_error as e:
                self._dead = True
                if host.M.is_killed():
                    from llmspell.engines.host import SpellCancelled

                    raise SpellCancelled(host.cancel_reason) from None
                text = host._norm_message(str(e))
                file, line = host._locate(text)
                raise ScriptError(f"Streaming: the stream's function failed: {text}", file=file,
                                  line=int(line) if line else None) from None
        finally:
            self.producing.stack.pop()
        if not self._dead:
            status = host.lua.globals().coroutine.status(self._co)
            self._dead = status == "dead"
        if isinstance(value, tuple):
            value = value[0] if value else None
        items = [] if value is None else [host.to_py(value)]
        return items, self._dead

    async def pull(self) -> tuple[builtins.list[Any], bool]:
        if self._dead:
            return [], True
        result: tuple[builtins.list[Any], bool] = await self.host.invoke(self._resume)
        return result

    def close(self) -> None:
        self._dead = True


class CallbackSource:
    """A script function called once per pull (JavaScript): its return value is the next item;
    a call that returns nothing and yields nothing ends the stream."""

    def __init__(self, fn: ScriptFunction, producing: _Producing):
        self.fn = fn
        self.producing = producing
        self.stream: ScriptStream | None = None
        self._done = False

    async def pull(self) -> tuple[builtins.list[Any], bool]:
        if self._done:
            return [], True
        assert self.stream is not None
        before = len(self.stream._buf)
        self.producing.stack.append(self.stream)
        try:
            value = await self.fn()
        except BaseException:
            self._done = True
            raise
        finally:
            if self.producing.stack and self.producing.stack[-1] is self.stream:
                self.producing.stack.pop()
        if value is None and len(self.stream._buf) == before:
            self._done = True
            return [], True
        return ([] if value is None else [value]), False

    def close(self) -> None:
        self._done = True


class AgentSource:
    """An agent's streamed answer: chunk tables ``{text, content, index}``; the run starts at the first
    pull and is cancelled by ``close()`` or when the spell ends."""

    def __init__(self, run: Any, ctx: Any):
        self._run = run
        self._ctx = ctx
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[Any] | None = None
        self._end = object()
        self.output: Any = None
        self.count = 0

    def _start(self) -> None:
        async def on_chunk(text: str) -> None:
            self._queue.put_nowait({"text": text, "content": text, "index": self.count})
            self.count += 1

        self._task = asyncio.ensure_future(self._run(on_chunk))
        self._task.add_done_callback(lambda _t: self._queue.put_nowait(self._end))
        cleanups = self._ctx.extra.setdefault("cleanups", [])
        cleanups.append(self.close)

    async def pull(self) -> tuple[builtins.list[Any], bool]:
        if self._task is None:
            self._start()
        first = await self._queue.get()
        items = []
        finished = first is self._end
        if not finished:
            items.append(first)
            while not self._queue.empty():
                more = self._queue.get_nowait()
                if more is self._end:
                    finished = True
                    break
                items.append(more)
        if finished and self._task is not None:
            self.output = await self._task  # the agent's error, if any, reaches the spell here
        return items, finished

    def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()


def agent_stream(ctx: Any, run: Any) -> ScriptStream:
    """A stream over ``run(on_chunk)`` (an agent's ``run`` with streaming on)."""
    return ScriptStream(AgentSource(run, ctx), what="agent stream")
