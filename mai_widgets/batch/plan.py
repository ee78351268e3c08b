"""``plan``: what applying a file would do to each image, sending no registration.

Each entry is *new*, *same* (registered with these fields), *differs* (registered otherwise: the
fields are listed), *failed* (registered, and that registration ended CREATE_FAILED or ERROR) or
*invalid* (a field the field table refuses). What is registered comes from ONE listing of the
user's DEDICATED images per workspace the file names (not one look-up per entry). The entries
that would be sent are checked in SWR (:func:`mai_widgets.services.preflight.check`: not in
SWR, wrong architecture, not run as ma-user) many at a time, sharing the session's one SWR login
and one :class:`~mai_widgets.services.preflight.SharedReads` (a repository's tags read once, its
pull token asked once, while the tags are read). They start one repository after another (the
first entry of each, then the second of each...), so every repository is under way early.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from ..errors import FieldProblem, MaiWidgetsError, ValidationError
from ..i18n import N_, Translation, translation
from ..services.images import ImageClient
from ..services.swr import SwrClient
from ..wire.contract import (
    FAILED_STATUSES,
    FieldDifference,
    ImageRecord,
    ImageStatus,
    RegisterRequest,
    field_spec,
    registered_differences,
    split_swr_path,
)
from .file import BatchFile, Entry

if TYPE_CHECKING:
    from ..services.preflight import Check
    from ..services.session import Session

__all__ = [
    "DEFAULT_PLAN_CONCURRENCY",
    "MAX_CONCURRENCY",
    "STATE_WORDS",
    "EntryPlan",
    "Plan",
    "PlanEvent",
    "PlanState",
    "differences_text",
    "plan",
    "session_for",
    "signed_in_session",
]

PlanState = Literal["new", "same", "differs", "failed", "invalid"]
# Checks only read SWR, and each waits on several round trips: more at once than registrations.
DEFAULT_PLAN_CONCURRENCY = 32
# The HTTP pool keeps this many connections per host (transport.http.POOL_MAXSIZE).
MAX_CONCURRENCY = 32
# The words a person reads for each state of a plan or a run (the JSON keeps the states).
STATE_WORDS: dict[str, str] = {
    "new": N_("new"),
    "same": N_("same"),
    "differs": N_("differs"),
    "failed": N_("failed"),
    "invalid": N_("invalid"),
    "blocked": N_("blocked"),
    "pending": N_("pending"),
    "registering": N_("registering"),
    "following": N_("following"),
    "active": N_("active"),
    "registered": N_("registered"),
    "not-sent": N_("not sent"),
    "timeout": N_("timed out"),
}


def differences_text(differences: tuple[FieldDifference, ...], _tr: Translation) -> str:
    """``label existing (file: requested)`` for each field, in ``tr``'s language (values as they are)."""
    return _tr("; ").join(
        _tr(
            "{field} {existing} (file: {requested})",
            field=_tr.text(d.label),
            existing=_tr.text(d.existing),
            requested=_tr.text(d.requested),
        )
        for d in differences
    )


@dataclass(frozen=True)
class EntryPlan:
    """What applying would do to one entry.

    ``swr_path`` is the path completed for the region; ``record`` the image registered from it
    (if any); ``differences`` what that image has otherwise; ``problems`` why the entry is
    invalid; ``checks`` the SWR checks (empty when not run).
    """

    entry: Entry
    swr_path: str
    state: PlanState
    request: RegisterRequest | None = None
    record: ImageRecord | None = None
    differences: tuple[FieldDifference, ...] = ()
    problems: tuple[FieldProblem, ...] = ()
    checks: tuple[Check, ...] = ()

    @property
    def index(self) -> int:
        return self.entry.index

    @property
    def findings(self) -> tuple[Check, ...]:
        """The checks that did not pass (warnings and failures)."""
        return tuple(c for c in self.checks if c.outcome != "pass")

    @property
    def blocked(self) -> bool:
        """A check failed (the image is not in SWR): registering it would end CREATE_FAILED."""
        return any(c.outcome == "fail" for c in self.checks)

    @property
    def ok(self) -> bool:
        """Applying would leave this entry as the file asks (new and passing, or the same)."""
        return self.state in ("new", "same") and not self.blocked

    def summary(self, tr: Translation | None = None) -> str:
        """One line: the state and why (in ``tr``'s language, English by default)."""
        _tr = tr or translation()
        state = _tr.text(STATE_WORDS.get(self.state, self.state))
        detail = self.detail(_tr)
        return _tr("{state}: {detail}", state=state, detail=detail) if detail else state

    def detail(self, tr: Translation | None = None) -> str:
        """Why the entry is in its state, and what its checks found (empty: new, nothing found),
        in ``tr``'s language (English by default; ids, statuses and values stay as they are)."""
        _tr = tr or translation()
        image = ""
        if self.record is not None:
            image = _tr("image {image_id} ({status})", image_id=self.record.id, status=self.record.status)
        if self.state == "invalid":
            text = _tr("; ").join(
                _tr("{field}: {problem}", field=p.field, problem=_tr.text(p.message)) for p in self.problems
            )
        elif self.state == "differs":
            text = _tr(
                "registered as {image}, which has {differences}",
                image=image,
                differences=differences_text(self.differences, _tr),
            )
        elif self.state == "failed":
            text = _tr("registered as {image}: apply --replace-failed registers it again", image=image)
        elif self.state == "same":
            text = _tr("registered as {image}", image=image)
        else:
            text = ""
        findings = [_tr.text(c.message).rstrip(".。") for c in self.findings]
        return _tr("; ").join(t for t in (text, *findings) if t)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "swr_path": self.swr_path,
            "state": self.state,
            "image_id": self.record.id if self.record is not None else None,
            "status": str(self.record.status) if self.record is not None else None,
            "differences": [
                {"field": d.field, "existing": d.existing, "requested": d.requested} for d in self.differences
            ],
            "problems": [{"field": p.field, "message": p.message} for p in self.problems],
            "checks": [{"name": c.name, "outcome": c.outcome, "message": c.message} for c in self.checks],
            "ok": self.ok,
        }


@dataclass(frozen=True)
class PlanEvent:
    """One entry planned (its checks done): ``done`` of ``total`` entries so far."""

    entry: EntryPlan
    done: int
    total: int


@dataclass(frozen=True)
class Plan:
    """The plan of a whole file, entry by entry in the file's order."""

    entries: tuple[EntryPlan, ...]
    elapsed: float = 0.0
    listings: int = 0  # listings of registered images it took (one per workspace)

    @property
    def ok(self) -> bool:
        """Every entry would end as the file asks: nothing invalid, different, failed or missing."""
        return all(e.ok for e in self.entries)

    def counts(self) -> dict[str, int]:
        """Entries per state (``blocked``: new entries whose checks failed)."""
        out: dict[str, int] = dict.fromkeys(("new", "same", "differs", "failed", "invalid", "blocked"), 0)
        for e in self.entries:
            out[e.state] += 1
            out["blocked"] += e.blocked
        return out

    def __repr__(self) -> str:  # a notebook's Out: the counts, not every entry
        counts = ", ".join(f"{n} {state}" for state, n in self.counts().items() if n)
        return f"<Plan ok={self.ok}: {counts}>"

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "elapsed": round(self.elapsed, 3),
            "entries": [e.to_json() for e in self.entries],
        }


def session_for(session: Session | None) -> Session:
    """The given session, or the kernel's one for the configuration and the environment."""
    if session is not None:
        return session
    from ..services.session import Session

    return Session.for_config()


def signed_in_session() -> Session:
    """The session of the configuration and the environment, ready to call (the console script
    and the magic ask before reading anything): :meth:`ImageClient.for_kernel`'s check."""
    return ImageClient.for_kernel().shared


def check_concurrency(concurrency: int) -> int:
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= MAX_CONCURRENCY
    ):
        raise ValidationError(
            [FieldProblem("concurrency", f"must be a whole number from 1 to {MAX_CONCURRENCY}")]
        )
    return concurrency


def concurrency_argument(text: str) -> int:
    """``--concurrency`` as the console script and the magic parse it (argparse's ``type=``)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_CONCURRENCY}, not {text!r}")
    return value


def survey(file: BatchFile, client: ImageClient) -> tuple[list[EntryPlan], int]:
    """Each entry's state against what is registered (one listing per workspace), no checks.

    Raises :class:`~mai_widgets.errors.BatchFileError` when two entries name one image.
    """
    config = client.config
    parsed = file.requests(config.region)
    # The client registers a request naming no workspace in the configured one (see register()).
    workspaces = {
        (request.workspace_id or config.workspace_id or "0")
        for _, _, request, _ in parsed
        if request is not None
    }
    registered: dict[tuple[str, str], ImageRecord] = {}
    for workspace in sorted(workspaces):
        for listed in client.list(type="DEDICATED", workspace_id=workspace):
            if listed.swr_path and listed.status != ImageStatus.DELETED:
                registered.setdefault((workspace, listed.swr_path), listed)
    out: list[EntryPlan] = []
    for entry, path, request, problems in parsed:
        if request is None:
            out.append(EntryPlan(entry, path, "invalid", problems=problems))
            continue
        record = registered.get((request.workspace_id or config.workspace_id or "0", path))
        out.append(classify(entry, request, record))
    return out, len(workspaces)


def classify(entry: Entry, request: RegisterRequest, record: ImageRecord | None) -> EntryPlan:
    """The state of a valid entry given the image registered from its path (if any)."""
    if record is None:
        return EntryPlan(entry, request.swr_path, "new", request)
    if record.status in FAILED_STATUSES:
        return EntryPlan(entry, request.swr_path, "failed", request, record)
    differences = registered_differences(record, request)
    state: PlanState = "differs" if differences else "same"
    return EntryPlan(entry, request.swr_path, state, request, record, differences)


def plan(
    file: BatchFile,
    *,
    session: Session | None = None,
    preflight: bool = True,
    concurrency: int = DEFAULT_PLAN_CONCURRENCY,
    on_event: Callable[[PlanEvent], None] | None = None,
    check_timeout: float | None = None,
) -> Plan:
    """What :func:`~mai_widgets.batch.apply` would do with ``file``; sends no registration.

    ``preflight`` runs the SWR checks of the entries that would be registered (new or failed),
    ``concurrency`` at a time; ``check_timeout`` bounds each (preflight's default, 10 s).
    ``on_event`` hears each entry once planned, from the checking threads, one call at a time.
    Raises :class:`~mai_widgets.errors.BatchFileError` (two entries name one image) and the
    client's typed errors when the listing fails.
    """
    concurrency = check_concurrency(concurrency)
    started = time.monotonic()
    chosen = session_for(session)
    client = chosen.client(ImageClient)
    entries, listings = survey(file, client)
    total = len(entries)
    lock = threading.Lock()
    done = 0

    def heard(entry: EntryPlan) -> EntryPlan:
        nonlocal done
        with lock:
            done += 1
            if on_event is not None:
                on_event(PlanEvent(entry, done, total))
        return entry

    def checked(entry: EntryPlan) -> EntryPlan:
        if not preflight or entry.request is None or entry.state not in ("new", "failed"):
            return heard(entry)
        from ..services.preflight import DEFAULT_TIMEOUT, check

        request = entry.request
        # No arch in the entry: ModelArts registers the field table's default, so check that one.
        arch = request.arch or str(field_spec("arch").default)
        try:
            checks = check(
                request.swr_path,
                arch=arch,
                services=request.services,
                client=client,
                swr=chosen.client(SwrClient),
                timeout=check_timeout if check_timeout is not None else DEFAULT_TIMEOUT,
                registered=False,  # the listing above answered that for every entry
                shared=shared,
            )
        except MaiWidgetsError as error:  # check() raises only for bad arguments; say it, per entry
            from ..services.preflight import Check

            checks = [Check("exists", "warn", f"Cannot check the image ({error.message}).")]
        return heard(replace(entry, checks=tuple(checks)))

    from ..services.preflight import DEFAULT_TIMEOUT, SharedReads

    shared = SharedReads()
    to_check = [e for e in entries if e.request is not None and e.state in ("new", "failed")]
    if preflight and to_check:
        timeout = check_timeout if check_timeout is not None else DEFAULT_TIMEOUT
        sign_ins = [
            shared.sign_in_first(chosen.client(SwrClient), e.swr_path, timeout=timeout) for e in to_check
        ]
        with ThreadPoolExecutor(concurrency, thread_name_prefix="mai-widgets-plan") as pool:
            for sign_in in sign_ins:
                if sign_in is not None:
                    pool.submit(sign_in)  # never raises
            futures = {e.index: pool.submit(checked, e) for e in _by_repository_rounds(entries)}
        planned = [futures[e.index].result() for e in entries]
    else:
        planned = [checked(e) for e in entries]
    return Plan(tuple(planned), time.monotonic() - started, listings)


def _by_repository_rounds(entries: list[EntryPlan]) -> list[EntryPlan]:
    """The entries, the first of each repository first, then the second of each, and so on."""
    rounds: dict[tuple[str, str], list[EntryPlan]] = {}
    for e in entries:
        parts = split_swr_path(e.swr_path) or {}
        rounds.setdefault((parts.get("namespace", ""), parts.get("name", "")), []).append(e)
    out: list[EntryPlan] = []
    for n in range(max((len(r) for r in rounds.values()), default=0)):
        out += [r[n] for r in rounds.values() if n < len(r)]
    return out
