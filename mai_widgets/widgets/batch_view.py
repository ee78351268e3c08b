"""``BatchView``: a batch's plan or apply, live: a progress bar, a row per entry and the summary.

The rows are the Images tab's (:mod:`mai_widgets.widgets.browser`): the same row, cell and
status badge classes (:mod:`mai_widgets.widgets.status`), inside the ``mai-image-browser``
container whose container queries make it fit a 240 px side bar as well as a notebook cell. All
rows are one HTML widget (one comm, however many entries), drawn again at most once per
:meth:`BatchView.flush`.

Thread rule: :meth:`update`, :meth:`stopping` and :meth:`finish` only record what changed (under
a lock, from any thread); :meth:`flush` writes the widgets, on the kernel's main thread (the
``%register_images`` magic calls it between two waits, after draining its
:class:`~mai_widgets.kernel.threads.MainLoopWriter`).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterable
from functools import reduce

import ipywidgets as widgets

from ..auth.config import translation_for
from ..batch import ApplyEvent, ApplyResult, EntryPlan, EntryResult, Plan, PlanEvent
from ..i18n import N_, Translation, translation
from .status import STATUS_COLOURS, SharedLooks, badge_class_html, badge_html, breakable_html

__all__ = ["STATE_LOOKS", "BatchView", "entry_row_html"]

# A state's badge look: the status badge of the image state it stands for.
STATE_LOOKS: dict[str, str] = {
    "pending": "mai-badge-init",
    "registering": STATUS_COLOURS["CREATING"],
    "following": STATUS_COLOURS["CREATING"],
    "registered": STATUS_COLOURS["CREATING"],
    "active": STATUS_COLOURS["ACTIVE"],
    "same": STATUS_COLOURS["ACTIVE"],
    "new": STATUS_COLOURS["CREATING"],
    "failed": STATUS_COLOURS["ERROR"],
    "invalid": STATUS_COLOURS["ERROR"],
    "blocked": STATUS_COLOURS["ERROR"],
}
_WARN_LOOK = "mai-badge-unknown"  # differs, timeout, not-sent: the warning ring
# What a state's badge says (the states are the batch's words, not the API's: translated).
STATE_WORDS: dict[str, str] = {
    "pending": N_("pending"),
    "registering": N_("registering"),
    "following": N_("following"),
    "registered": N_("registered"),
    "active": N_("active"),
    "same": N_("same"),
    "new": N_("new"),
    "failed": N_("failed"),
    "invalid": N_("invalid"),
    "blocked": N_("blocked"),
    "differs": N_("differs"),
    "timeout": N_("timeout"),
    "not-sent": N_("not-sent"),
}


def _state_word(tr: Translation, state: str) -> str:
    return tr.text(STATE_WORDS.get(state, state))


def _cell(kind: str, text: str) -> str:
    return f"<span class='mai-image-cell mai-batch-{kind}'>{html.escape(text)}</span>"


def entry_row_html(entry: EntryResult | EntryPlan, tr: Translation | None = None) -> str:
    """One entry's row: its number and SWR path, its state badge, the image's status badge and id,
    and why (a line that wraps); its words in ``tr``'s language (English by default)."""
    tr = tr or translation()
    state: str
    if isinstance(entry, EntryPlan):  # a new entry whose checks failed would not end ACTIVE
        state, note = ("blocked" if entry.blocked else entry.state), entry.detail(tr)
    else:
        state, note = entry.state, entry.message(tr)
    badge = badge_html(_state_word(tr, state), STATE_LOOKS.get(state, _WARN_LOOK))
    record = entry.record
    image = (badge_class_html(record.status) + _cell("id", record.id)) if record is not None else ""
    why = f"<div class='mai-browser-summary mai-batch-note'>{html.escape(note)}</div>" if note else ""
    return (
        "<div class='mai-image-row mai-batch-row'>"
        f"<span class='mai-image-row-name'>{entry.index}. {breakable_html(entry.swr_path)}</span> "
        f"<span class='mai-image-row-info'>{badge}{image}</span>{why}</div>"
    )


class BatchView(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """A plan (``kind="plan"``) or an apply of ``total`` entries, updated as events arrive."""

    def __init__(self, kind: str, total: int, *, source: str = "", language: str | None = None) -> None:
        self.kind = kind
        self._looks = SharedLooks(translation_for(language=language))
        self._tr = self._looks.tr
        self._lock = threading.Lock()
        self._rows: dict[int, str] = {}
        self._done = 0
        self._total = total
        self._summary = ""
        self._note = ""
        self._dirty = True
        _tr = self._tr
        if kind == "plan":
            what = _tr.plural("Planning {n} image", "Planning {n} images", total)
        else:
            what = _tr.plural("Registering {n} image", "Registering {n} images", total)
        what = f"<b>{html.escape(what)}</b>"
        code = "<code>" + breakable_html(source) + "</code>"
        title = _tr("{what} from {source}", what=what, source=code)
        self.title = self._looks.html(title if source else what)
        self.progress = widgets.IntProgress(
            value=0, min=0, max=max(1, total), layout=self._looks.layout(width="100%")
        )
        self.note = self._looks.html(classes=("mai-browser-summary",))
        self.rows = self._looks.html(classes=("mai-batch-rows",))
        self.summary = self._looks.html(classes=("mai-browser-summary",))
        super().__init__(
            [self.title, self.progress, self.note, self.rows, self.summary],
            layout=widgets.Layout(width="100%"),
            _dom_classes=("mai-image-browser", "mai-batch-view"),
        )

    # -- from any thread -------------------------------------------------------------------

    def update(self, event: ApplyEvent | PlanEvent) -> None:
        with self._lock:
            self._rows[event.entry.index] = entry_row_html(event.entry, self._tr)
            self._done, self._total = event.done, event.total
            self._dirty = True

    def show_entries(self, entries: Iterable[EntryResult | EntryPlan]) -> None:
        with self._lock:
            for entry in entries:
                self._rows[entry.index] = entry_row_html(entry, self._tr)
            self._dirty = True

    def stopping(self) -> None:
        """The kernel was interrupted: no new registration starts; those in flight end."""
        with self._lock:
            self._note = self._tr(
                "Interrupted: no new registrations are started; waiting for those in flight."
            )
            self._dirty = True

    def finish(self, result: ApplyResult | Plan) -> None:
        """Every entry as it ended, and the counts."""
        self.show_entries(result.entries)
        _tr = self._tr
        said = [
            _tr("{n} {state}", n=n, state=_state_word(_tr, state))
            for state, n in result.counts().items()
            if n
        ]
        counts = (
            reduce(lambda first, second: _tr("{first}, {second}", first=first, second=second), said)
            if said
            else ""
        )
        seconds = f"{result.elapsed:.1f}"
        with self._lock:
            self._done = self._total = len(result.entries)
            if isinstance(result, ApplyResult):
                line = _tr.plural(
                    "{counts}; {n} registration sent ({seconds} s)",
                    "{counts}; {n} registrations sent ({seconds} s)",
                    len(result.sent),
                    counts=counts,
                    seconds=seconds,
                )
                if result.stopped:
                    self._note = _tr("Stopped: run the same cell again to register the rest.")
            else:
                line = _tr("{counts} ({seconds} s)", counts=counts, seconds=seconds)
            ok = _tr("Done") if result.ok else _tr("Not all as the file asks")
            ok = _tr("{outcome}:", outcome=ok)
            self._summary = f"<b>{html.escape(ok)}</b> {html.escape(line)}"
            self._dirty = True

    # -- on the kernel's main thread -------------------------------------------------------

    def flush(self) -> None:
        """Write what changed since the last flush into the widgets."""
        with self._lock:
            if not self._dirty:
                return
            rows = "".join(self._rows[i] for i in sorted(self._rows))
            done, total, note, summary = self._done, self._total, self._note, self._summary
            self._dirty = False
        self.progress.max = max(1, total)
        self.progress.value = min(done, total)
        self.progress.description = f"{done}/{total}"
        self.note.value = html.escape(note)
        self.rows.value = rows
        self.summary.value = summary

    def close(self) -> None:
        super().close()
        for child in (self.title, self.progress, self.note, self.rows, self.summary):
            child.close()
        self._looks.close()
