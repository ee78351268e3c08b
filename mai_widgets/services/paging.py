"""Pages of a listing, and reading every page of one: the rules ModelArts' and SWR's lists share.

One page type (:class:`Page`) and one rule for "is there more": the total the service reported
says so; without a total, a full page means there may be more. Reading every page
(:func:`read_all`) stops at a short page, at the total, or at a page that adds nothing new (a
server that ignores ``offset`` sends the same rows again), and always within a deadline
(:data:`LIST_TIMEOUT` unless the caller set a shorter one).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..transport.deadline import Deadline, call_scope

__all__ = ["LIST_TIMEOUT", "Page", "read_all"]

T = TypeVar("T")

# Seconds a whole listing may take when the caller gives no timeout: a server that pages
# forever ends as a timeout, never as a hung picker.
LIST_TIMEOUT = 60.0


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing: its items, where it starts, the size asked for, and the total the
    service reported (``-1`` when it did not say)."""

    items: tuple[T, ...]
    offset: int
    limit: int
    total: int = -1

    @property
    def has_more(self) -> bool:
        if self.total >= 0:
            return self.offset + len(self.items) < self.total
        return len(self.items) >= self.limit


def read_all(
    fetch: Callable[[int], tuple[Sequence[T], int, int]],
    key: Callable[[T], Hashable],
    page_size: int,
    *,
    timeout: float | None = None,
) -> list[T]:
    """Every item of a listing, each once, in the order first seen.

    ``fetch(offset)`` returns one page: its parsed items, the total (``-1`` if not said) and the
    number of rows it held (unparsable rows included: they still move the offset).
    """
    out: dict[Hashable, T] = {}
    offset = 0
    with call_scope(Deadline(timeout if timeout is not None else LIST_TIMEOUT)):
        while True:
            items, total, count = fetch(offset)
            added = 0
            for item in items:
                k = key(item)
                if k not in out:  # rows shifted by a concurrent insert show up twice
                    out[k] = item
                    added += 1
            offset += count
            if count < page_size or (total >= 0 and offset >= total) or not added:
                return list(out.values())
