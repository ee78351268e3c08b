"""Work off the kernel's main thread, in one place: threads, the writer that brings their
results back to the kernel's event loop, and the helpers built on them.

Widget traits are only written on the kernel's event loop (or directly, under a lock, where
there is no loop: pytest and scripts): every thread hands its changes to a
:class:`MainLoopWriter`. :func:`start_thread` is the one way a thread is started here, so a bug
in one ends as a log line for developers, never a traceback printed into a notebook.
``close()`` cancels: HTTP in flight is cut through the :class:`~mai_widgets.transport.deadline.Cancel`
of its :func:`~mai_widgets.transport.deadline.call_scope`, and threads are joined within
``CLOSE_JOIN_SECONDS``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from ..errors import CancelledError, MaiWidgetsError, TransportError
from ..i18n import Msg
from ..transport.deadline import Cancel, call_scope

__all__ = [
    "CLOSE_JOIN_SECONDS",
    "BackgroundCalls",
    "Debouncer",
    "MainLoopWriter",
    "OneRun",
    "start_thread",
    "unexpected",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long close() waits for a thread to end: cancelling cuts its HTTP at once, so this is ample.
CLOSE_JOIN_SECONDS = 1.0


def unexpected(error: Exception) -> MaiWidgetsError:
    """An unexpected failure as a user-facing error: its type only, never a traceback."""
    if isinstance(error, OSError):
        return TransportError(f"{type(error).__name__}: {error}", hint=Msg("check the network and retry"))
    return MaiWidgetsError(
        f"unexpected {type(error).__name__} in mai-widgets",
        hint=Msg("this is a bug in mai-widgets; please report it with the steps that led here"),
    )


def start_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """Start ``target`` on a daemon thread (a kernel never waits for it at exit)."""

    def run() -> None:
        try:
            target()
        except Exception:  # the callers report their own failures; this is the last net
            log.debug("%s failed", name, exc_info=True)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def _main_thread_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running on the main thread (ipykernel's), or ``None`` outside one."""
    if threading.current_thread() is threading.main_thread():
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            pass
    # Built on another thread (a comm handler on an ipykernel subshell): ask the kernel.
    kernelbase = sys.modules.get("ipykernel.kernelbase")
    if kernelbase is not None and kernelbase.Kernel.initialized():
        io_loop = getattr(kernelbase.Kernel.instance(), "io_loop", None)
        loop = getattr(io_loop, "asyncio_loop", None)
        if isinstance(loop, asyncio.AbstractEventLoop) and loop.is_running():
            return loop
    return None


class MainLoopWriter:
    """Applies changes on the kernel's event loop, or directly under a lock without one.

    Changes are queued and drained in order, so the loop's own thread (for example
    ``wait_settled`` blocking a cell) can apply them without waiting for the loop to turn.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop if loop is not None else _main_thread_loop()
        # ipykernel's loop (and the one a test runs) turns on the main thread.
        self.loop_thread = threading.main_thread().ident
        self._lock = threading.RLock()
        self._queue: deque[Callable[[], None]] = deque()

    @property
    def uses_loop(self) -> bool:
        """Whether changes go through the loop now (it exists and is turning)."""
        loop = self.loop
        return loop is not None and loop.is_running() and not loop.is_closed()

    def owns_thread(self) -> bool:
        """The calling thread may apply changes itself."""
        return not self.uses_loop or threading.get_ident() == self.loop_thread

    def post(self, change: Callable[[], None]) -> None:
        with self._lock:
            self._queue.append(change)
        if self.owns_thread():
            self.drain()
            return
        try:
            assert self.loop is not None
            self.loop.call_soon_threadsafe(self.drain)
        except RuntimeError:  # the loop closed between the check and the call
            self.drain()

    def drain_here(self) -> None:
        """Apply pending changes if this thread may (else the loop will)."""
        if self.owns_thread():
            self.drain()

    def drain(self) -> None:
        with self._lock:
            while self._queue:
                self._queue.popleft()()


class OneRun:
    """One piece of work at a time on a worker thread: the plumbing of a controller that
    registers or saves and then follows.

    :meth:`claim` fails while a run is in flight (a double click sends nothing twice) or once
    closed; :meth:`start` runs the claimed work under a fresh stop token; :meth:`stop` cuts it
    (pauses end, HTTP in flight is cut); :meth:`close` stops for good and joins the worker.
    ``on_busy`` hears the busy flag change on the kernel loop, after the run's own changes.
    """

    def __init__(self, writer: MainLoopWriter, on_busy: Callable[[bool], None]) -> None:
        self.writer = writer
        self._on_busy = on_busy
        self.lock = threading.Lock()  # also guards a caller's "closed yet?" check
        self._busy = False
        self._done = threading.Event()
        self._done.set()
        self._stop = Cancel()
        self._worker: threading.Thread | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def stop_token(self) -> Cancel:
        """The current run's stop token (a fresh one per run)."""
        with self.lock:
            return self._stop

    @property
    def worker(self) -> threading.Thread | None:
        return self._worker

    def claim(self) -> bool:
        """Take the one run; False while another is in flight or once closed."""
        self.writer.drain_here()  # a finished worker's release may still be queued
        with self.lock:
            if self._busy or self._closed:
                return False
            self._busy = True
            self._done.clear()
            # A fresh stop token per run, made under the lock that close() takes to read it.
            self._stop = Cancel()
        self.writer.post(lambda: self._on_busy(True))
        return True

    def give_back(self) -> None:
        """Nothing started after all: release the claim (after the changes already posted)."""
        self.writer.post(self._release)

    def _release(self) -> None:
        with self.lock:
            self._busy = False
            self._done.set()
        self._on_busy(False)

    def start(self, work: Callable[[], None], failed: Callable[[MaiWidgetsError], None], name: str) -> None:
        """Run the claimed ``work`` on a worker; a failure goes to ``failed`` (on the worker:
        post trait changes through the writer), a bug as :func:`unexpected`, never a dead thread."""
        stop = self._stop

        def run() -> None:
            try:
                # Every HTTP call of this run obeys the run's stop token.
                with call_scope(cancel=stop):
                    work()
            except MaiWidgetsError as error:
                failed(error)
            except Exception as error:
                log.debug("%s failed", name, exc_info=True)  # for developers, not the user
                failed(unexpected(error))
            finally:
                # Queued behind the worker's trait changes, so observers see them before busy ends.
                self.writer.post(self._release)
                self._done.set()

        self._worker = start_thread(run, name)

    def stop(self) -> None:
        """Stop the run in flight now; nothing more is sent for it."""
        self.stop_token.cancel()

    def close(self, timeout: float = CLOSE_JOIN_SECONDS) -> None:
        """Stop for good and wait, ``timeout`` at most, for the worker."""
        with self.lock:
            self._closed = True
            stop = self._stop
        stop.cancel()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run in flight has ended (True) or ``timeout`` passes; pending changes
        are applied here when this thread may."""
        ended = self._done.wait(timeout)
        self.writer.drain_here()
        return ended


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
                    shown = unexpected(error)
                    self.writer.post(lambda: failed(shown))
            else:
                if not token.cancelled:
                    self.writer.post(lambda: done(result))
            finally:
                token.release()
                with self._lock:
                    self._threads.discard(threading.current_thread())

        with self._lock:
            if self._closed:
                return None
            # Started under the lock, so the thread's own discard comes after this add.
            self._threads.add(start_thread(run, name))
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
                self._thread = start_thread(self._run, "mai-widgets-debounce")
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
