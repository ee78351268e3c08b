"""The words of a batch run, written once for the console script and the ``%register_images``
magic in a terminal: a progress line per change, the summary table and its closing lines.

``paint(state)`` colours a state word (the console script does on a terminal); by default the
text is plain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .apply import ApplyEvent, ApplyResult
from .plan import Plan, PlanEvent

__all__ = ["apply_line", "apply_report", "plan_line", "plan_report", "table"]

Paint = Callable[[str], str]


def _plain(state: str) -> str:
    return state


def plan_line(event: PlanEvent, paint: Paint = _plain) -> str:
    """``[3/100] swr.../org/app:v1: new (...)``: one entry planned."""
    e = event.entry
    detail = e.detail()
    note = f" ({detail})" if detail else ""
    return f"[{event.done}/{event.total}] {e.swr_path}: {paint(e.state)}{note}"


def apply_line(event: ApplyEvent, paint: Paint = _plain) -> str | None:
    """One entry's new state (``None`` for ``pending``: nothing happened yet)."""
    e = event.entry
    if e.state == "pending":
        return None
    status = f" {e.status}" if e.status and e.status.lower() != e.state else ""
    note = e.message()
    return f"[{event.done}/{event.total}] {e.swr_path}: {paint(e.state)}{status}" + (
        f" ({note})" if note else ""
    )


def table(rows: Sequence[tuple[str, ...]], states: int = 2, paint: Paint = _plain) -> list[str]:
    """A plain table, its first row the header; column ``states`` holds a state word (painted)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row):
            text = cell.ljust(widths[i]) if i < len(row) - 1 else cell
            cells.append(paint(cell) + " " * (widths[i] - len(cell)) if i == states and n else text)
        out.append("  ".join(cells).rstrip())
    return out


def plan_report(plan: Plan, paint: Paint = _plain) -> list[str]:
    """The plan's table, then one line of counts."""
    rows = [("#", "SWR path", "plan", "image", "notes")]
    for e in plan.entries:
        image = f"{e.record.id} {e.record.status}" if e.record is not None else ""
        rows.append((str(e.index), e.swr_path, e.state, image, e.detail()))
    counts = ", ".join(f"{n} {state}" for state, n in plan.counts().items() if n)
    return ["", *table(rows, paint=paint), "", f"{len(plan.entries)} images: {counts} ({plan.elapsed:.1f} s)"]


def apply_report(result: ApplyResult, paint: Paint = _plain) -> list[str]:
    """The run's table, one line of counts, and what to do after a stop."""
    rows = [("#", "SWR path", "state", "image", "notes")]
    for e in result.entries:
        image = f"{e.record.id} {e.record.status}" if e.record is not None else ""
        rows.append((str(e.index), e.swr_path, e.state, image, e.message()))
    counts = ", ".join(f"{n} {state}" for state, n in sorted(result.counts().items()))
    out = [
        "",
        *table(rows, paint=paint),
        "",
        f"{len(result.entries)} images: {counts}; "
        f"{len(result.sent)} registrations sent ({result.elapsed:.1f} s)",
    ]
    if result.stopped:
        out.append("stopped: apply the same file again to finish the rest")
    return out
