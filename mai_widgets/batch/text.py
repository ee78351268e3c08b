"""The words of a batch run, written once for the console script and the ``%register_images``
magic in a terminal: a progress line per change, the summary table and its closing lines.

``_tr`` is the language to write them in (English by default): the state words, headers and
sentences are translated; SWR paths, image ids, statuses and error codes stay as they are.
``paint(state, word)`` colours a state's word (the console script does on a terminal); by
default the text is plain.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

from ..i18n import Translation, translation
from .apply import ApplyEvent, ApplyResult
from .plan import STATE_WORDS, Plan, PlanEvent

__all__ = ["apply_line", "apply_report", "plan_line", "plan_report", "state_word", "table", "width"]

# paint(state, word): the state's key (``new``, ``failed``...) and the word shown for it.
Paint = Callable[[str, str], str]


def _plain(state: str, word: str) -> str:
    return word


def state_word(state: str, tr: Translation | None = None) -> str:
    """The word a person reads for a state (``differs``, ``not-sent``...) in ``tr``'s language."""
    return (tr or translation()).text(STATE_WORDS.get(state, state))


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal: a CJK character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def plan_line(event: PlanEvent, paint: Paint = _plain, tr: Translation | None = None) -> str:
    """``[3/100] swr.../org/app:v1: new (...)``: one entry planned."""
    _tr = tr or translation()
    e = event.entry
    detail = e.detail(_tr)
    shown = paint(e.state, state_word(e.state, _tr))
    note = _tr(" ({note})", note=detail) if detail else ""
    return f"[{event.done}/{event.total}] {e.swr_path}: {shown}{note}"


def apply_line(event: ApplyEvent, paint: Paint = _plain, tr: Translation | None = None) -> str | None:
    """One entry's new state (``None`` for ``pending``: nothing happened yet)."""
    _tr = tr or translation()
    e = event.entry
    if e.state == "pending":
        return None
    status = f" {e.status}" if e.status and e.status.lower() != e.state else ""
    note = e.message(_tr)
    shown = paint(e.state, state_word(e.state, _tr))
    return f"[{event.done}/{event.total}] {e.swr_path}: {shown}{status}" + (
        _tr(" ({note})", note=note) if note else ""
    )


def table(
    rows: Sequence[tuple[str, ...]],
    states: int = 2,
    paint: Paint = _plain,
    keys: Sequence[str] = (),
) -> list[str]:
    """A plain table, its first row the header; column ``states`` holds a state's word, painted
    as ``keys[n - 1]`` (the state of body row ``n``) when given. Columns line up in a terminal,
    CJK characters taking two columns."""
    widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - width(cell))
            if i == states and n:
                key = keys[n - 1] if n - 1 < len(keys) else cell
                cells.append(paint(key, cell) + pad)
            else:
                cells.append(cell + pad if i < len(row) - 1 else cell)
        out.append("  ".join(cells).rstrip())
    return out


def _counts(counts: dict[str, int], _tr: Translation) -> str:
    return _tr(", ").join(
        _tr("{n} {state}", n=n, state=state_word(state, _tr)) for state, n in counts.items()
    )


def plan_report(plan: Plan, paint: Paint = _plain, tr: Translation | None = None) -> list[str]:
    """The plan's table, then one line of counts."""
    _tr = tr or translation()
    rows = [(_tr("#"), _tr("SWR path"), _tr("plan"), _tr("image"), _tr("notes"))]
    for e in plan.entries:
        image = f"{e.record.id} {e.record.status}" if e.record is not None else ""
        rows.append((str(e.index), e.swr_path, state_word(e.state, _tr), image, e.detail(_tr)))
    counts = _counts({state: n for state, n in plan.counts().items() if n}, _tr)
    total = _tr("{n} images", n=len(plan.entries))
    return [
        "",
        *table(rows, paint=paint, keys=[e.state for e in plan.entries]),
        "",
        _tr("{images}: {counts} ({seconds:.1f} s)", images=total, counts=counts, seconds=plan.elapsed),
    ]


def apply_report(result: ApplyResult, paint: Paint = _plain, tr: Translation | None = None) -> list[str]:
    """The run's table, one line of counts, and what to do after a stop."""
    _tr = tr or translation()
    rows = [(_tr("#"), _tr("SWR path"), _tr("state"), _tr("image"), _tr("notes"))]
    for e in result.entries:
        image = f"{e.record.id} {e.record.status}" if e.record is not None else ""
        rows.append((str(e.index), e.swr_path, state_word(e.state, _tr), image, e.message(_tr)))
    counts = _counts(dict(sorted(result.counts().items())), _tr)
    total = _tr("{n} images", n=len(result.entries))
    sent = _tr("{n} registrations sent", n=len(result.sent))
    out = [
        "",
        *table(rows, paint=paint, keys=[e.state for e in result.entries]),
        "",
        _tr(
            "{images}: {counts}; {sent} ({seconds:.1f} s)",
            images=total,
            counts=counts,
            sent=sent,
            seconds=result.elapsed,
        ),
    ]
    if result.stopped:
        out.append(_tr("stopped: apply the same file again to finish the rest"))
    return out
