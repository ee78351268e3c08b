"""How sizes, times and image names read, written once for every view.

One convention each: sizes in decimal units (kB, MB, GB: 1 kB = 1000 bytes, as ``docker``
prints them), times to the minute in UTC, an image as ``name:tag``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .contract import ImageRecord

__all__ = ["image_label", "size_text", "time_text"]

_UNITS = (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3))


def size_text(size_bytes: int | None) -> str:
    """``3.2 GB``, ``999 B``; ``""`` when unknown (``None``, or 0 before an image is built)."""
    if size_bytes is None or size_bytes <= 0:
        return ""
    for unit, scale in _UNITS:
        if size_bytes >= scale:
            return f"{size_bytes / scale:.1f} {unit}"
    return f"{size_bytes} B"


def time_text(value: datetime | str | None) -> str:
    """``2024-06-05 10:00 UTC``; ISO text (as SWR sends it) is read first, naive times are UTC.

    ``""`` when there is none; text that is not a time comes back as it is.
    """
    if not value:
        return ""
    if isinstance(value, str):
        try:
            # Python 3.10 reads no "Z" suffix; SWR writes it.
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        parsed = value
    moment = parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def image_label(record: ImageRecord) -> str:
    """``name:tag`` (or what the record has instead: the name, the SWR path, the id)."""
    if record.name:
        return f"{record.name}:{record.tag}" if record.tag else record.name
    return record.swr_path or record.id
