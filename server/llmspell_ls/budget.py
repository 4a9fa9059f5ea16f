"""Cooperative cancellation and time budgets for work that runs off the event loop.

A :class:`Token` is handed to every request computed through :meth:`LlmspellServer.compute` (and to
the diagnostics pass). It is *also* installed as the current token of the worker thread, so code deep
inside a walk that never sees the token can still stop early with one call::

    from llmspell_ls.budget import checkpoint

    for node in nodes:          # any loop whose length depends on the input
        checkpoint()            # raises Cancelled when the request was cancelled or is over budget
        ...

``checkpoint()`` costs one thread-local lookup and one clock read; outside a budgeted computation (unit
tests, ``--check``) it does nothing. A function that can return a useful partial result catches
:class:`Cancelled` itself (``except Cancelled: return what_i_have``); otherwise :meth:`compute` turns it
into the request's "nothing" answer (``null`` / an empty list).
"""

from __future__ import annotations

import threading
import time


class Cancelled(Exception):
    """The computation was cancelled (``$/cancelRequest``, a newer document version) or ran over budget."""


class Token:
    """Cancellation flag plus an optional deadline (``time.monotonic()`` seconds)."""

    __slots__ = ("cancelled", "deadline", "inline", "reason")

    def __init__(self, budget_ms: float | None = None):
        self.cancelled = False
        self.inline = False
        """The computation runs on the event loop with a short budget: over it, it is re-run on the
        request pool, so a computation that could answer partially must not (it raises instead)."""
        self.deadline = None if budget_ms is None else time.monotonic() + budget_ms / 1000.0
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        self.reason = reason
        self.cancelled = True

    @property
    def expired(self) -> bool:
        """Cancelled or past the deadline (never raises)."""
        return self.poll()

    def poll(self) -> bool:
        """``expired``, as a method subclasses can extend (a background pass yields to requests here)."""
        if self.cancelled:
            return True
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.reason = self.reason or "over budget"
            return True
        return False

    def check(self) -> None:
        if self.poll():
            raise Cancelled(self.reason)


_local = threading.local()


def current() -> Token | None:
    """The token of the computation running on this thread, if any."""
    return getattr(_local, "token", None)


def checkpoint() -> None:
    """Raise :class:`Cancelled` if the current computation is cancelled or over budget."""
    tok = getattr(_local, "token", None)
    if tok is not None:
        tok.check()


class running:
    """Make ``token`` the current token of this thread for the duration of the block (a class, not a
    generator context manager: it is entered by every request, ~2 µs cheaper)."""

    __slots__ = ("prev", "token")

    def __init__(self, token: Token | None):
        self.token = token
        self.prev: Token | None = None

    def __enter__(self) -> Token | None:
        self.prev = getattr(_local, "token", None)
        _local.token = self.token
        return self.token

    def __exit__(self, *exc: object) -> None:
        _local.token = self.prev


def answer_partial() -> None:
    """Called by a function that caught :class:`Cancelled` and answers with what it has (a correct
    prefix or subset): the answer is sent but not cached (the next request goes further). Raises
    :class:`Cancelled` again when nothing partial is wanted: the request was cancelled
    (``$/cancelRequest``), or the computation runs on the event loop with its short budget (it is
    re-run on the request pool with the whole budget)."""
    tok = getattr(_local, "token", None)
    if tok is None:
        return
    if tok.cancelled or tok.inline:
        raise Cancelled(tok.reason or "cancelled")
    tok.cancel("over budget: partial answer")
