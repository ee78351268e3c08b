"""Deadlines and cancellation for HTTP calls: the time a call may take and the way to stop it.

A :func:`call_scope` puts a :class:`Deadline` and a :class:`Cancel` token on the current thread;
:mod:`mai_widgets.transport.http` obeys them in every request, retry and pause made under it, nested calls
(an IAM sign-in made while signing a ModelArts request) included. This module loads no HTTP
library, so code that only waits or cancels stays light.
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Cancel", "Deadline", "backoff", "call_scope", "current_scope"]

_BACKOFF_FIRST = 0.2
_BACKOFF_MAX = 3.2


def backoff(attempt: int) -> float:
    """Pause before our own retry number ``attempt`` (1-based): 0.2 s, 0.4 s, ... 3.2 s."""
    return min(_BACKOFF_MAX, _BACKOFF_FIRST * 2.0 ** max(0, attempt - 1))


class Deadline:
    """A moment that bounds a call and everything under it; ``Deadline(None)`` never comes."""

    __slots__ = ("_at", "seconds")

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._at = None if seconds is None else time.monotonic() + max(0.0, seconds)

    def remaining(self) -> float | None:
        """Seconds left (at least 0), or ``None`` without a deadline."""
        return None if self._at is None else max(0.0, self._at - time.monotonic())

    @property
    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0.0

    def cap(self, seconds: float) -> float:
        """``seconds``, or the time left if that is shorter."""
        left = self.remaining()
        return max(0.0, seconds if left is None else min(seconds, left))


class Cancel:
    """A token that stops the calls made under it: pauses end, in-flight sockets shut down.

    A token made with parents is cancelled with any of them (a call watches both its caller's
    token and its service's ``close()``).
    """

    def __init__(self, *parents: Cancel | None) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[Any] = set()
        self._children: set[Cancel] = set()
        self._parents = [p for p in parents if p is not None]
        for parent in self._parents:
            parent._adopt(self)

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            connections = list(self._connections)
            children = list(self._children)
        for connection in connections:
            shut_down(connection)
        for child in children:
            child.cancel()

    def release(self) -> None:
        """Forget the parents (a per-call token, once its call is over)."""
        for parent in self._parents:
            with parent._lock:
                parent._children.discard(self)
        self._parents = []

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; ``True`` as soon as the token is cancelled."""
        return self._event.wait(max(0.0, seconds))

    def _adopt(self, child: Cancel) -> None:
        with self._lock:
            if not self._event.is_set():
                self._children.add(child)
                return
        child.cancel()

    def attach(self, connection: Any) -> None:
        with self._lock:
            if not self._event.is_set():
                self._connections.add(connection)
                return
        shut_down(connection)

    def detach(self, connection: Any) -> None:
        with self._lock:
            self._connections.discard(connection)


def shut_down(connection: Any) -> None:
    # shutdown() wakes a thread blocked in recv() on this socket; close() alone would not.
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


@dataclass
class Scope:
    deadline: Deadline
    cancel: Cancel | None
    max_retry_after: float


_local = threading.local()
_NO_SCOPE = Scope(Deadline(None), None, math.inf)


def _scope() -> Scope:
    scope: Scope = getattr(_local, "scope", _NO_SCOPE)
    return scope


def current_scope() -> Scope:
    """The deadline, cancel token and Retry-After limit in force on this thread."""
    return _scope()


@contextlib.contextmanager
def call_scope(
    deadline: Deadline | None = None, cancel: Cancel | None = None, max_retry_after: float | None = None
) -> Iterator[Scope]:
    """Run the HTTP calls of this thread under a deadline and a cancel token.

    Nested scopes keep the earlier of the two deadlines and the outer cancel token unless given.
    """
    outer = _scope()
    chosen = deadline if deadline is not None else outer.deadline
    if deadline is not None and outer.deadline.remaining() is not None:
        mine, theirs = deadline.remaining(), outer.deadline.remaining()
        chosen = outer.deadline if mine is None or (theirs is not None and theirs < mine) else deadline
    scope = Scope(
        chosen,
        cancel if cancel is not None else outer.cancel,
        max_retry_after if max_retry_after is not None else outer.max_retry_after,
    )
    _local.scope = scope
    try:
        yield scope
    finally:
        _local.scope = outer
