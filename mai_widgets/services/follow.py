"""Following images (and notebook instances) until they settle: the one poll loop, for one
image, a whole list, or a notebook being saved together with its new image.

:meth:`ImageClient.wait <mai_widgets.services.images.ImageClient.wait>` follows one image with
it; the Images tab follows every row that is not terminal with one. Each round reads each
followed image once (``GET .../images/{id}``), then pauses as :func:`poll_delay` says: fast at
first, backing off to ``poll_max``, never sooner than a ``Retry-After`` asks and never past the
deadline. An image that settles (or is given up) is dropped; with none left, :meth:`Follow.run`
returns. Throttling, 5xx, malformed answers and connection errors are ridden out; a 429 ends
the round early (the other images wait for the next one).

Many images at once (``listing=True``: a batch's hundreds, a page of rows) are read from the
list instead, one page per round and workspace (``GET .../images``, newest first, up to
:data:`~mai_widgets.wire.contract.LIST_LIMIT_MAX` a page): the images a round's pages do not show
(deleted, or older than the pages read) are then read one by one, as without it. A listing
refused outright (not throttled) ends the listing for good: one by one from then on.

Notebook instances (``notebooks=``) are read in the same rounds (``GET .../notebooks/{id}``)
and dropped once their state is settled (RUNNING, STOPPED, a failure...) *and* no image is
followed any more: a save's instance is read until both it and its image have settled, so an
instance that has not yet shown SNAPSHOTTING is not taken for done.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..errors import (
    ApiError,
    CancelledError,
    MaiWidgetsError,
    ServerError,
    ThrottledError,
    TimedOutError,
    TransportError,
)
from ..transport.deadline import Cancel, Deadline, call_scope, current_scope

if TYPE_CHECKING:
    from ..auth.config import MaiConfig
    from ..wire.contract import ImageRecord
    from ..wire.notebooks import NotebookRecord
    from .paging import Page

__all__ = ["Follow", "FollowOutcome", "FollowedService", "poll_delay"]


class FollowedService(Protocol):
    """What the loop reads through: :class:`~mai_widgets.services.images.ImageClient` (which
    stands above this module and uses it for ``wait``)."""

    @property
    def config(self) -> MaiConfig: ...

    def get(self, image_id: str, *, timeout: float | None = None) -> ImageRecord: ...

    def get_notebook(self, notebook_id: str, *, timeout: float | None = None) -> NotebookRecord: ...

    def too_long_to_wait(self, error: MaiWidgetsError) -> bool: ...

    def page(self, *, offset: int = ..., type: str | None = ..., **values: Any) -> Page[ImageRecord]: ...


FollowOutcome = Literal["settled", "timeout", "stopped"]
# How often a plain threading.Event given as ``stop`` is looked at while pausing (it cannot wake us).
_EVENT_LOOK_SECONDS = 0.1


def poll_delay(
    poll: int,
    initial: float,
    factor: float,
    maximum: float,
    *,
    retry_after: float | None = None,
    remaining: float | None = None,
) -> float:
    """Seconds to pause after poll number ``poll`` (1 = after the first poll).

    ``initial * factor**(poll-1)`` capped at ``maximum``; at least ``retry_after`` when the
    server asked for it; never past the ``remaining`` time of the wait.
    """
    try:
        delay = min(maximum, initial * factor ** max(0, poll - 1))
    except OverflowError:
        delay = maximum
    if retry_after is not None:
        delay = max(delay, retry_after)
    if remaining is not None:
        delay = min(delay, max(0.0, remaining))
    return max(0.0, delay)


class _Token(Cancel):
    """The run's cancel token; cancelling it also ends the pause."""

    def __init__(self, woken: threading.Event, *parents: Cancel | None) -> None:
        self.woken = woken  # set before Cancel adopts us: a cancelled parent cancels at once
        super().__init__(*parents)

    def cancel(self) -> None:
        super().cancel()
        self.woken.set()


class Follow:
    """Reads the status of the images it follows until each one settles.

    ``known`` records (a register answer, a record just read) count as the first read: the
    first GET waits for the first pause instead of asking again at once. ``on_record(record,
    previous)`` hears every answer, with the one before it (``None`` for the first).
    ``on_error(image_id, error)`` hears an error that is not ridden out (not found, refused, a
    ``Retry-After`` longer than ``max_retry_after``) and says whether to keep following that
    image; without it, the error is raised. ``spacing`` is a breath between two reads of one
    round, so a long round never holds the GIL for long. ``listing`` reads two or more images
    from the list (see the module's notes) rather than one GET each.

    Thread-safe: :meth:`follow` may change the images from another thread while :meth:`run`
    polls; new images are read at once and start the schedule over.
    """

    def __init__(
        self,
        client: FollowedService,
        ids: Iterable[str] = (),
        *,
        known: Iterable[ImageRecord] = (),
        on_record: Callable[[ImageRecord, ImageRecord | None], None] | None = None,
        on_error: Callable[[str, MaiWidgetsError], bool] | None = None,
        on_poll: Callable[[int], None] | None = None,
        spacing: float = 0.0,
        notebooks: Iterable[str] = (),
        on_notebook: Callable[[NotebookRecord, NotebookRecord | None], None] | None = None,
        listing: bool = False,
    ) -> None:
        self._client = client
        self._listing = listing
        self._on_notebook = on_notebook
        self._notebooks: list[str] = list(dict.fromkeys(notebooks))
        self.notebook_records: dict[str, NotebookRecord] = {}  # the last answer for each instance
        self._on_record = on_record
        self._on_error = on_error
        self._on_poll = on_poll
        self._spacing = spacing
        self._lock = threading.Lock()
        self._woken = threading.Event()
        self._closed = Cancel()
        self._ids: list[str] = []
        self._restart = False
        self._running = False
        self.records: dict[str, ImageRecord] = {}  # the last answer for each image
        self.last_error: MaiWidgetsError | None = None  # the error ridden out at the last read, if any
        self.requests = 0  # status reads so far (a page of the list counts as one)
        self.rounds = 0
        known = list(known)
        self._first_pause = bool(known)
        for record in known:
            self.records[record.id] = record
        # Not follow(): the known records are where the schedule starts, not news that restarts it.
        self._ids = list(dict.fromkeys([*ids, *(r.id for r in known if not r.is_terminal)]))

    @property
    def ids(self) -> tuple[str, ...]:
        """The images followed now."""
        with self._lock:
            return tuple(self._ids)

    @property
    def notebook_ids(self) -> tuple[str, ...]:
        """The notebook instances followed now."""
        with self._lock:
            return tuple(self._notebooks)

    @property
    def running(self) -> bool:
        with self._lock:
            return self._running

    def follow(self, ids: Iterable[str]) -> bool:
        """Follow exactly these images from now on. True when no :meth:`run` is going on and
        one should be started for them (the caller runs it, on a thread of its own)."""
        wanted = list(dict.fromkeys(ids))
        with self._lock:
            if self._closed.cancelled:
                return False
            if set(wanted) - set(self._ids):
                self._restart = True
                self._woken.set()  # a pause in progress ends: the new images are read now
            self._ids = wanted
            start = bool(wanted) and not self._running
            if start:
                self._running = True
            return start

    def _drop(self, image_id: str, *, notebook: bool = False) -> None:
        with self._lock:
            followed = self._notebooks if notebook else self._ids
            if image_id in followed:
                followed.remove(image_id)

    def close(self) -> None:
        """Stop for good: a :meth:`run` ends now (the request in flight is cut)."""
        with self._lock:
            self._ids = []
            self._notebooks = []
        self._closed.cancel()
        self._woken.set()

    def run(
        self, deadline: Deadline | None = None, stop: Cancel | threading.Event | None = None
    ) -> FollowOutcome:
        """Poll until nothing is left to follow ("settled"), ``deadline`` passes ("timeout"),
        or ``stop``, :meth:`close` or the caller's :func:`call_scope` cancels ("stopped")."""
        event = stop if isinstance(stop, threading.Event) else None
        given = stop if isinstance(stop, Cancel) else None
        token = _Token(self._woken, self._closed, current_scope().cancel, given)
        with self._lock:
            self._running = True
        emptied = False
        try:
            with call_scope(deadline, token):
                outcome = self._loop(deadline or Deadline(None), token, event)
            emptied = outcome == "settled"
            return outcome
        finally:
            token.release()
            if not emptied:  # the empty path gave the run up under the lock already
                with self._lock:
                    self._running = False

    def _nothing_left(self) -> bool:
        """Nothing left to follow: the run is given up under the same lock :meth:`follow` takes."""
        with self._lock:
            if self._ids or self._notebooks:
                return False
            self._running = False
            return True

    def _stopped(self, token: Cancel, event: threading.Event | None) -> bool:
        return token.cancelled or (event is not None and event.is_set())

    def _loop(self, deadline: Deadline, token: _Token, event: threading.Event | None) -> FollowOutcome:
        cfg = self._client.config
        step = 1 if self._first_pause else 0  # the schedule's position: rounds since a restart
        retry_after: float | None = None
        while True:
            if step:
                if self._nothing_left():
                    return "settled"
                remaining = deadline.remaining()
                if remaining is not None and remaining <= 0:
                    return "timeout"
                delay = poll_delay(
                    step,
                    cfg.poll_initial,
                    cfg.poll_factor,
                    cfg.poll_max,
                    retry_after=retry_after,
                    remaining=remaining,
                )
                woken = self._pause(delay, token, event)
                cut = remaining is not None and delay >= remaining and not woken  # slept to the deadline
                if not self._stopped(token, event) and (cut or deadline.expired):
                    return "timeout"  # the last answer (or error) says more than another read could
            if self._stopped(token, event):
                return "stopped"
            if self._nothing_left():
                return "settled"
            with self._lock:
                if self._restart:
                    step, self._restart = 0, False
                reads = [(i, False) for i in self._ids] + [(n, True) for n in self._notebooks]
            retry_after = None
            if self._listing and len(self.ids) > 1:
                try:
                    asked, slow_down, unseen = self._read_listing()
                except CancelledError:
                    return "stopped"
                retry_after = asked
                if slow_down:  # a 429: nothing more this round
                    reads = []
                elif unseen is not None:  # the list answered: read one by one only what it did not show
                    reads = [(i, nb) for i, nb in reads if nb or i in unseen]
            for image_id, notebook in reads:
                if self._stopped(token, event):
                    return "stopped"
                if image_id not in (self.notebook_ids if notebook else self.ids):
                    continue  # no longer wanted
                try:
                    asked, slow_down = self._read(image_id, notebook=notebook)
                except CancelledError:
                    return "stopped"
                if self._on_poll is not None:
                    self._on_poll(self.requests)
                if asked is not None:
                    retry_after = max(retry_after or 0.0, asked)
                if slow_down:
                    break  # a 429: the other images wait for the next round
                if self._spacing and token.wait(self._spacing):
                    return "stopped"
            step += 1
            self.rounds += 1

    def _read_listing(self) -> tuple[float | None, bool, set[str] | None]:
        """Read the followed images from the list, a page per workspace (more when many are
        followed): the ``Retry-After`` asked for, whether it was a 429, and the images the pages
        did not show (``None`` when the list could not be read: each image is then read alone)."""
        from ..wire.contract import LIST_LIMIT_MAX

        default = self._client.config.workspace_id
        by_workspace: dict[str, set[str]] = {}
        for image_id in self.ids:
            known = self.records.get(image_id)
            workspace = (known.workspace_id if known is not None else None) or default
            by_workspace.setdefault(workspace, set()).add(image_id)
        unseen: set[str] = set()
        for workspace, wanted in by_workspace.items():
            pages = math.ceil(len(wanted) / LIST_LIMIT_MAX)  # newest first: the followed are on top
            offset = 0
            while wanted and pages > 0:
                self.requests += 1
                try:
                    page = self._client.page(type="DEDICATED", workspace_id=workspace, offset=offset)
                except CancelledError:
                    raise
                except (ThrottledError, ServerError, TransportError) as error:
                    if self._client.too_long_to_wait(error):
                        self._listing = False
                        return None, False, None
                    self.last_error = error
                    asked = error.retry_after if isinstance(error, ApiError) else None
                    return asked, isinstance(error, ThrottledError), None
                except MaiWidgetsError:  # refused (no right to list?): each image alone from now on
                    self._listing = False
                    return None, False, None
                if self._on_poll is not None:
                    self._on_poll(self.requests)
                for record in page.items:
                    if record.id in wanted:
                        wanted.discard(record.id)
                        self._heard(record)
                offset += len(page.items)
                pages -= 1
                if not page.items or not page.has_more:
                    break
            unseen |= wanted
        return None, False, unseen

    def _heard(self, record: ImageRecord) -> None:
        self.last_error = None
        previous = self.records.get(record.id)
        self.records[record.id] = record
        if record.is_terminal:
            self._drop(record.id)
        if self._on_record is not None:
            self._on_record(record, previous)

    def _read(self, image_id: str, *, notebook: bool = False) -> tuple[float | None, bool]:
        """One status read (of an image, or of a notebook instance): the ``Retry-After`` it asked
        for, and whether it was a 429."""
        self.requests += 1
        instance: NotebookRecord | None = None
        try:
            if notebook:
                instance = self._client.get_notebook(image_id)
            else:
                record = self._client.get(image_id)
        except CancelledError:
            raise
        except (ThrottledError, ServerError, TransportError) as error:
            asked = error.retry_after if isinstance(error, ApiError) else None
            if self._client.too_long_to_wait(error):
                self._give_up(image_id, error, notebook=notebook)
            # A read cut by the loop's own deadline says nothing new: the error ridden out before it
            # is what the caller is told.
            cut_by_deadline = isinstance(error, TimedOutError) and current_scope().deadline.expired
            if not (cut_by_deadline and self.last_error is not None):
                self.last_error = error
            return asked, isinstance(error, ThrottledError)
        except MaiWidgetsError as error:
            self._give_up(image_id, error, notebook=notebook)
            return None, False
        if instance is not None:
            self._heard_notebook(instance)
        else:
            self._heard(record)
        return None, False

    def _heard_notebook(self, record: NotebookRecord) -> None:
        self.last_error = None
        previous = self.notebook_records.get(record.id)
        self.notebook_records[record.id] = record
        if record.is_settled and not self.ids:
            self._drop(record.id, notebook=True)
        if self._on_notebook is not None:
            self._on_notebook(record, previous)

    def _give_up(self, image_id: str, error: MaiWidgetsError, *, notebook: bool = False) -> None:
        if self._on_error is None:
            raise error
        if not self._on_error(image_id, error):
            self._drop(image_id, notebook=notebook)

    def _pause(self, seconds: float, token: _Token, event: threading.Event | None) -> bool:
        """Sleep ``seconds``; :meth:`follow` with new images, ``stop`` and close end it early.
        True when new images ended it."""
        end = time.monotonic() + seconds
        while not self._stopped(token, event):
            left = end - time.monotonic()
            if left <= 0:
                return False
            if token.woken.wait(min(left, _EVENT_LOOK_SECONDS) if event is not None else left):
                token.woken.clear()
                return not token.cancelled
        return False
