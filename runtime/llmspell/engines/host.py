"""The spell host shared by both engines: one OS thread per spell that owns its interpreter.

Why this shape (measured in the runtime notes, appendix): an interpreter may only be entered from
the thread that created it (lupa holds a per-runtime lock for a whole ``execute``; quickjs is
thread-hostile). So the asyncio loop never runs script code. A spell thread that needs the runtime
posts a coroutine to the loop and then *waits on its inbox*; while it waits, the loop can post script
callbacks (hooks, event handlers, workflow step functions) into the same inbox and the spell thread
runs them. Cancellation is a flag (polled by the Lua count hook / between JS slices) plus a
``cancel`` message that wakes a waiting thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from llmspell.api.context import SpellContext
from llmspell.api.decl import ScriptFunction
from llmspell.core.errors import CancelledError as SpellCancelledError
from llmspell.core.errors import ScriptError


class SpellCancelled(BaseException):
    """Raised on the spell thread to unwind it; BaseException so script-level ``except Exception``
    handlers in bridge code cannot swallow it."""


class SpellExit(BaseException):
    """Raised on the spell thread when the script ends itself (Lua ``os.exit(n)``): the spell stops
    with exit status ``code``; the process does not."""

    def __init__(self, code: int = 0):
        super().__init__(f"exit({code})")
        self.code = code


class SpellHost:
    """Base class for an engine's spell. Subclasses implement :meth:`body`."""

    language = "lua"

    def __init__(self, ctx: SpellContext):
        self.ctx = ctx
        self.inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.cancel_flag = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.cancel_reason = "cancelled"
        self._early: set[concurrent.futures.Future[Any]] = set()
        """Completions a nested :meth:`wait` took from the inbox for a wait further up the stack."""

    # -------------------------------------------------------------- spell thread -> loop

    def call_async(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def wait(self, cfut: concurrent.futures.Future[Any]) -> Any:
        """Block the spell thread until ``cfut`` is done, running posted script callbacks meanwhile."""
        cfut.add_done_callback(lambda f: self.inbox.put(("done", f)))
        while True:
            if self.cancel_flag.is_set():
                cfut.cancel()
                raise SpellCancelled(self.cancel_reason)
            if cfut in self._early:
                # a callback served while this wait was blocked (two map items calling State.set,
                # say) had its own nested wait, which took this completion off the inbox
                self._early.discard(cfut)
                item = ("done", cfut)
            else:
                item = self.inbox.get()
            if item[0] == "done":
                if item[1] is cfut:
                    if cfut.cancelled():
                        raise SpellCancelled(self.cancel_reason)
                    return cfut.result()
                self._early.add(item[1])  # for the wait further up the stack (or an abandoned one)
                continue
            self._service(item, cfut)

    def run_sync(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the loop and wait for it on the spell thread (the blocking style Lua uses)."""
        return self.wait(self.call_async(coro))

    def _service(self, item: tuple[Any, ...], cfut: concurrent.futures.Future[Any] | None = None) -> None:
        kind = item[0]
        if kind == "call":
            _, fn, args, fut = item
            loop = self.loop
            assert loop is not None
            try:
                r = fn(*args)
            except SpellCancelled:
                _post(loop, _set_exc, fut, SpellCancelledError("the spell was cancelled"))
                raise
            except BaseException as e:
                _post(loop, _set_exc, fut, e)
            else:
                _post(loop, _set_result, fut, r)
        elif kind == "cancel":
            if cfut is not None:
                cfut.cancel()
            raise SpellCancelled(self.cancel_reason)

    # -------------------------------------------------------------- loop -> spell thread

    async def invoke(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the spell thread and await its result (used for script callbacks)."""
        if self._closed.is_set():
            raise ScriptError(
                f"{self.ctx.spell_name}: the spell has finished, so its {self.language} callbacks can no longer run"
            )
        if self.thread is not None and threading.current_thread() is self.thread:
            return fn(*args)  # re-entry on the spell thread itself: call directly
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.inbox.put(("call", fn, args, fut))
        return await fut

    # -------------------------------------------------------------- lifecycle

    def body(self) -> Any:  # pragma: no cover - abstract
        """Create the interpreter on this thread, run the spell, return its result (Python value)."""
        raise NotImplementedError

    def on_closed(self) -> None:
        """Called on the spell thread after the body ends (success or not): free the interpreter."""

    def memory_used(self) -> int | None:
        """Bytes the interpreter's heap holds now, or None when the engine cannot tell cheaply.

        Called from the loop thread by the runner's monitor (MemoryUsageHigh), so engines answer
        without entering the interpreter.
        """
        return None

    async def run(self) -> Any:
        """Start the spell thread and await the spell's result. Cancelling this task cancels the spell."""
        self.loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = self.loop.create_future()
        loop = self.loop

        def main() -> None:
            try:
                r = self.body()
            except BaseException as e:
                _post(loop, _set_exc, done, e)
            else:
                _post(loop, _set_result, done, r)
            finally:
                self._closed.set()
                self._fail_pending()
                try:
                    self.on_closed()
                except Exception:
                    pass

        self.thread = threading.Thread(target=main, name=f"spell:{self.ctx.spell_name}", daemon=True)
        self.thread.start()
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            self.cancel()
            # the body still ends (with SpellCancelled); nobody awaits it any more
            done.add_done_callback(lambda f: f.cancelled() or f.exception())
            raise

    def cancel(self, reason: str = "cancelled") -> None:
        """Ask the spell to stop; safe from any thread. Takes effect within milliseconds."""
        self.cancel_reason = reason
        self.cancel_flag.set()
        self.inbox.put(("cancel",))

    def _fail_pending(self) -> None:
        while True:
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                return
            if item[0] == "call" and self.loop is not None:
                _post(self.loop,
                    _set_exc, item[3], ScriptError(f"{self.ctx.spell_name}: the spell finished before its callback ran")
                )


class HostedFunction(ScriptFunction):
    """A script function callable from the runtime; ``call_on_thread`` converts and calls it."""

    def __init__(self, host: SpellHost, call_on_thread: Callable[..., Any], label: str = ""):
        self.host = host
        self.language = host.language
        self._call = call_on_thread
        self.label = label

    async def __call__(self, *args: Any) -> Any:
        return await self.host.invoke(self._call, *args)

    def describe(self) -> str:
        return self.label or f"<{self.language} function in {self.host.ctx.spell_name}>"


def _post(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    """Hand a result to the loop from the spell thread. When the loop has already closed (the process
    is exiting, e.g. ``--run ... | head``), nobody is waiting for it any more: drop it silently rather
    than print a thread traceback."""
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:
        if not loop.is_closed():
            raise


def _set_result(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _set_exc(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)
