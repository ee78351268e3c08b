"""Work the image widgets do off the kernel's main thread: HTTP calls and a debounce timer.

Both hand their results to a :class:`~mai_widgets.kernel.controller.MainLoopWriter`, so widget
traits are only written on the kernel's event loop (or directly, under its lock, where there
is no loop: pytest and scripts). ``close()`` cancels: HTTP in flight is cut through the
:class:`~mai_widgets.transport.deadline.Cancel` of its
:func:`~mai_widgets.transport.deadline.call_scope`, and the threads are joined within a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ..errors import CancelledError, MaiWidgetsError
from ..transport.deadline import Cancel, call_scope
from .controller import CLOSE_JOIN_SECONDS, MainLoopWriter, _unexpected

__all__ = ["BackgroundCalls", "Debouncer"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class BackgroundCalls:
    """Runs calls on daemon threads; their outcome is applied through ``writer``.

    A call's ``done`` (or ``failed``) runs on the kernel loop, and not at all once the call was
    cancelled (a newer listing replaced it, or the widget closed).
    """

    def __init__(self, writer: MainLoopWriter | None = None) -> None:
        self.writer = writer if writer is not None else MainLoopWriter()
        self._cancel = Cancel()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def start(
        self,
        work: Callable[[], T],
        done: Callable[[T], None],
        failed: Callable[[MaiWidgetsError], None],
        *,
        name: str,
    ) -> Cancel | None:
        """Run ``work`` on a new thread; returns its cancel token (``None`` once closed)."""
        token = Cancel(self._cancel)

        def run() -> None:
            try:
                with call_scope(cancel=token):
                    result = work()
            except CancelledError:
                pass  # cancelled on purpose: nothing to show
            except MaiWidgetsError as error:
                if not token.cancelled:
                    caught = error  # `error` is unbound when the except block ends
                    self.writer.post(lambda: failed(caught))
            except Exception as error:  # a bug must still end as a visible message, not a dead thread
                log.debug("%s failed", name, exc_info=True)
                if not token.cancelled:
                    unexpected = _unexpected(error)
                    self.writer.post(lambda: failed(unexpected))
            else:
                if not token.cancelled:
                    self.writer.post(lambda: done(result))
            finally:
                token.release()
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=name, daemon=True)
        with self._lock:
            if self._closed:
                return None
            self._threads.add(thread)
        thread.start()
        return token

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._threads)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no call runs (True) or ``timeout`` passes; applies pending results here."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                threads = list(self._threads)
            if not threads:
                self.writer.drain_here()
                return True
            for thread in threads:
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    self.writer.drain_here()
                    return False
                thread.join(left)

    def close(self, timeout: float = CLOSE_JOIN_SECONDS) -> None:
        """Cancel every call (HTTP in flight is cut) and wait, ``timeout`` at most, for the threads."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        self._cancel.cancel()
        end = time.monotonic() + timeout
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, end - time.monotonic()))


class Debouncer:
    """Calls ``action`` once, ``delay`` seconds after the last :meth:`trigger`, on the kernel loop.

    One timer thread at most, started by the first trigger and ended when nothing is pending.
    :meth:`flush` runs a pending action now (for a deterministic test, or an Enter key).
    """

    def __init__(self, delay: float, action: Callable[[], None], writer: MainLoopWriter) -> None:
        self.delay = delay
        self._action = action
        self._writer = writer
        self._cond = threading.Condition()
        self._due: float | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def pending(self) -> bool:
        with self._cond:
            return self._due is not None

    def trigger(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._due = time.monotonic() + self.delay
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mai-widgets-debounce", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed or self._due is None:
                        self._thread = None
                        return
                    left = self._due - time.monotonic()
                    if left <= 0:
                        self._due = None
                        break
                    self._cond.wait(left)
            self._writer.post(self._action)

    def cancel(self) -> None:
        """Forget the pending action, if any."""
        with self._cond:
            self._due = None
            self._cond.notify()

    def flush(self) -> bool:
        """Run the pending action now, on this thread; False when nothing was pending."""
        with self._cond:
            pending = self._due is not None and not self._closed
            self._due = None
            self._cond.notify()
        if pending:
            self._action()
        return pending

    def close(self, timeout: float = CLOSE_JOIN_SECONDS) -> None:
        with self._cond:
            self._closed = True
            self._due = None
            thread = self._thread
            self._cond.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
