"""``apply``: register the file's new images, a few at a time, and follow them until they settle.

* What is registered already comes from the plan's one listing (:func:`.plan.survey`): an entry
  registered the same way is left alone, one registered otherwise is reported (never replaced),
  one whose registration failed is replaced only with ``replace_failed`` (delete, register again).
* Each new entry is registered once whatever the network does: :meth:`ImageClient.register
  <mai_widgets.services.images.ImageClient.register>` looks before it retries an ambiguous failure
  and takes "already registered" as the existing image. ``concurrency`` registrations run at once.
* Once every registration is sent, ONE poll loop (:class:`~mai_widgets.services.follow.Follow`)
  follows all of them, reading their statuses from the list (a page a round, not a GET each).
* ``stop`` (Ctrl-C, SIGTERM) stops starting registrations; those in flight end (so the result
  says what was sent) and nothing is followed. A second apply finishes the rest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from ..errors import BatchFileError, MaiWidgetsError
from ..i18n import N_, Translation, translation
from ..services.images import ImageClient
from ..transport.deadline import Cancel, Deadline
from ..wire.contract import FieldDifference, ImageRecord, ImageStatus, registered_differences
from .file import BatchFile
from .plan import EntryPlan, check_concurrency, differences_text, session_for, survey

if TYPE_CHECKING:
    from ..services.session import Session

__all__ = [
    "DEFAULT_CONCURRENCY",
    "FINAL_STATES",
    "OK_STATES",
    "ApplyEvent",
    "ApplyResult",
    "ApplyState",
    "EntryResult",
    "apply",
]

DEFAULT_CONCURRENCY = 4
ApplyState = Literal[
    "pending",  # to be registered
    "registering",  # its registration is being sent
    "following",  # registered (now or before), not settled yet
    "active",  # registered by this run and ACTIVE
    "same",  # registered before with the file's fields (ACTIVE, or not followed)
    "registered",  # registered by this run, not followed to the end (no wait, or stopped)
    "differs",  # registered before with other fields: left alone
    "failed",  # its registration failed, or its image ended CREATE_FAILED/ERROR
    "not-sent",  # stopped before it was sent
    "timeout",  # still not settled when the wait ended
]
FINAL_STATES: frozenset[str] = frozenset(
    {"active", "same", "registered", "differs", "failed", "not-sent", "timeout"}
)
# The states of a successful run (``registered`` only where the run did not wait).
OK_STATES: frozenset[str] = frozenset({"active", "same", "registered"})


@dataclass(frozen=True)
class EntryResult:
    """One entry's state in a run; each change is an :class:`ApplyEvent`.

    ``record`` is the image's last known record; ``sent`` says this run sent its registration;
    ``replaced`` the id of a failed image it deleted first; ``error`` what failed.
    """

    index: int  # the entry's 1-based position in the file
    swr_path: str
    state: ApplyState
    record: ImageRecord | None = None
    error: MaiWidgetsError | None = None
    differences: tuple[FieldDifference, ...] = ()
    sent: bool = False
    replaced: str | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def status(self) -> str:
        """The image's status (``""`` before it has a record)."""
        return "" if self.record is None else str(self.record.status)

    def message(self, tr: Translation | None = None) -> str:
        """One line saying why the entry is in its state (empty when there is nothing to add), in
        ``tr``'s language (English by default; error codes, values and ModelArts' own text stay)."""
        _tr = tr or translation()
        if self.error is not None:
            return self.error.one_line(_tr)
        record = self.record
        if self.state == "differs":
            return _tr(
                "registered otherwise: {differences}", differences=differences_text(self.differences, _tr)
            )
        if self.state == "failed" and record is not None and record.status_message:
            return record.status_message
        if self.state == "failed" and record is not None:
            return _tr(
                "the image ended {status}: apply --replace-failed registers it again", status=record.status
            )
        if self.state == "not-sent":
            return _tr("stopped before it was sent: apply again to register it")
        if self.state == "timeout":
            return _tr("not settled yet: apply again to follow it")
        if self.replaced:
            return _tr("replaced the failed image {image_id}", image_id=self.replaced)
        return ""

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "swr_path": self.swr_path,
            "state": self.state,
            "image_id": self.record.id if self.record is not None else None,
            "status": self.status or None,
            "sent": self.sent,
            "replaced": self.replaced,
            "differences": [
                {"field": d.field, "existing": d.existing, "requested": d.requested} for d in self.differences
            ],
            "message": self.message(),
        }


@dataclass(frozen=True)
class ApplyEvent:
    """An entry changed state: ``entry`` is its new state; ``done`` entries of ``total`` are final."""

    entry: EntryResult
    done: int
    total: int


@dataclass(frozen=True)
class ApplyResult:
    """How a run ended, entry by entry in the file's order."""

    entries: tuple[EntryResult, ...]
    stopped: bool = False
    waited: bool = True
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """Every entry ended ACTIVE or registered the same way (without waiting: was sent)."""
        good = OK_STATES if not self.waited else OK_STATES - {"registered"}
        return not self.stopped and all(e.state in good for e in self.entries)

    @property
    def sent(self) -> tuple[EntryResult, ...]:
        """The entries whose registration this run sent."""
        return tuple(e for e in self.entries if e.sent)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.entries:
            out[e.state] = out.get(e.state, 0) + 1
        return out

    def __repr__(self) -> str:  # a notebook's Out: the counts, not every entry
        counts = ", ".join(f"{n} {state}" for state, n in sorted(self.counts().items()))
        stopped = ", stopped" if self.stopped else ""
        return f"<ApplyResult ok={self.ok}: {counts}; {len(self.sent)} sent{stopped}>"

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "stopped": self.stopped,
            "sent": len(self.sent),
            "counts": self.counts(),
            "elapsed": round(self.elapsed, 3),
            "entries": [e.to_json() for e in self.entries],
        }


class _Run:
    """The entries' states, changed under one lock; each change is told to ``on_event``."""

    def __init__(self, planned: list[EntryPlan], on_event: Callable[[ApplyEvent], None] | None) -> None:
        self._lock = threading.RLock()
        self._on_event = on_event
        self.states: dict[int, EntryResult] = {}
        for p in planned:
            self.states[p.index] = EntryResult(p.index, p.swr_path, "pending", p.record)

    def set(self, index: int, **changes: Any) -> EntryResult:
        with self._lock:
            entry = self.states[index] = replace(self.states[index], **changes)
            if self._on_event is not None:
                done = sum(e.final for e in self.states.values())
                self._on_event(ApplyEvent(entry, done, len(self.states)))
            return entry

    def results(self) -> tuple[EntryResult, ...]:
        with self._lock:
            return tuple(self.states[i] for i in sorted(self.states))


def _stopped(stop: threading.Event | Cancel | None) -> bool:
    if isinstance(stop, Cancel):
        return stop.cancelled
    return stop is not None and stop.is_set()


def _settled_state(record: ImageRecord, sent: bool) -> ApplyState:
    if record.status == ImageStatus.ACTIVE:
        return "active" if sent else "same"
    return "failed"


def apply(
    file: BatchFile,
    *,
    session: Session | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    wait: bool = True,
    replace_failed: bool = False,
    timeout: float | None = None,
    stop: threading.Event | Cancel | None = None,
    on_event: Callable[[ApplyEvent], None] | None = None,
) -> ApplyResult:
    """Register the new entries of ``file`` and follow them until they settle.

    ``concurrency`` (1 to 32) registrations at once; ``wait=False``
    returns once every registration is sent; ``replace_failed`` deletes and registers again the
    entries whose image failed; ``timeout`` bounds the following (default: the configured
    ``wait_timeout``); ``stop`` (set it from a signal handler) stops starting registrations.
    ``on_event`` hears every change of an entry's state, from worker threads, one call at a time.

    Raises :class:`~mai_widgets.errors.BatchFileError` before anything is sent when an entry is
    invalid (or two name one image), and the client's typed errors when the listing fails; a
    registration that fails is the entry's ``error``, not raised.
    """
    concurrency = check_concurrency(concurrency)
    started = time.monotonic()
    client = session_for(session).client(ImageClient)
    planned, _ = survey(file, client)
    invalid = [p for p in planned if p.state == "invalid"]
    if invalid:
        raise BatchFileError(
            [f"{file.source}: {p.entry.where()}: {'; '.join(str(x) for x in p.problems)}" for p in invalid],
            hint=N_("nothing was registered; `mai-widgets plan FILE` lists every entry's state"),
        )
    run = _Run(planned, on_event)
    to_send: list[EntryPlan] = []
    for p in planned:
        if p.state == "new" or (p.state == "failed" and replace_failed):
            to_send.append(p)
        elif p.state == "failed":
            run.set(p.index, state="failed")
        elif p.state == "differs":
            run.set(p.index, state="differs", differences=p.differences)
        elif p.record is not None and not p.record.is_terminal and wait:
            run.set(p.index, state="following")
        elif p.record is not None and p.record.status in (ImageStatus.CREATE_FAILED, ImageStatus.ERROR):
            run.set(p.index, state="failed")
        else:
            run.set(p.index, state="same")

    def register(p: EntryPlan) -> None:
        if _stopped(stop):
            run.set(p.index, state="not-sent")
            return
        assert p.request is not None
        run.set(p.index, state="registering")
        try:
            if p.state == "failed" and p.record is not None:
                record = client.replace_failed(p.record, p.request)
                run.set(p.index, replaced=p.record.id)
            else:
                record = client.register(p.request)
        except MaiWidgetsError as error:
            run.set(p.index, state="failed", error=error, sent=True)
            return
        _registered(run, p, record, wait=wait)

    if to_send:
        with ThreadPoolExecutor(
            min(concurrency, len(to_send)), thread_name_prefix="mai-widgets-apply"
        ) as pool:
            for future in [pool.submit(register, p) for p in to_send]:
                future.result()
    stopped = _stopped(stop)
    if wait and not stopped:
        _follow_all(client, run, timeout, stop)
    stopped = stopped or _stopped(stop)
    for entry in run.results():  # what was not followed to the end
        if entry.state == "following":
            if stopped:
                run.set(entry.index, state="registered" if entry.sent else "same")
            else:
                run.set(entry.index, state="timeout")
    return ApplyResult(run.results(), stopped, wait, time.monotonic() - started)


def _registered(run: _Run, p: EntryPlan, record: ImageRecord, *, wait: bool) -> None:
    assert p.request is not None
    if record.already_registered:  # registered meanwhile by someone else: as the plan would say
        differences = registered_differences(record, p.request)
        if differences:
            run.set(p.index, state="differs", record=record, differences=differences, sent=True)
            return
    if record.is_terminal:
        run.set(p.index, state=_settled_state(record, True), record=record, sent=True)
    else:
        run.set(p.index, state="following" if wait else "registered", record=record, sent=True)


def _follow_all(
    client: ImageClient,
    run: _Run,
    timeout: float | None,
    stop: threading.Event | Cancel | None,
) -> None:
    """Follow every entry in state ``following`` with one poll loop until each settles."""
    from ..services.follow import Follow

    following = {e.record.id: e.index for e in run.results() if e.state == "following" and e.record}
    if not following:
        return

    def heard(record: ImageRecord, previous: ImageRecord | None) -> None:
        index = following.get(record.id)
        if index is None:
            return
        sent = run.states[index].sent
        if record.is_terminal:
            run.set(index, state=_settled_state(record, sent), record=record)
        elif previous is None or record.status != previous.status:
            run.set(index, record=record)

    def gave_up(image_id: str, error: MaiWidgetsError) -> bool:
        index = following.get(image_id)
        if index is not None:
            run.set(index, state="failed", error=error)
        return False  # stop following that one

    known = [e.record for e in run.results() if e.state == "following" and e.record is not None]
    follow = Follow(client, known=known, on_record=heard, on_error=gave_up, listing=True)
    limit = float(client.config.wait_timeout if timeout is None else timeout)
    follow.run(Deadline(limit), stop)
