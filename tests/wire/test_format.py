"""wire.format: one convention for sizes, times and image names."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mai_widgets.wire.contract import ImageRecord
from mai_widgets.wire.format import image_label, size_text, time_text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, ""),
        (0, ""),
        (999, "999 B"),
        (1_000, "1.0 kB"),
        (5_000_000, "5.0 MB"),
        (1_200_000_000, "1.2 GB"),
        (27_500_000_000, "27.5 GB"),
        (3 * 1024 * 1024 * 1024, "3.2 GB"),  # a ModelArts record's 3145728 KB
        (3_400_000_000_000, "3.4 TB"),
    ],
)
def test_sizes_read_in_decimal_units(size: int | None, text: str) -> None:
    assert size_text(size) == text


def test_times_read_to_the_minute_in_utc() -> None:
    utc = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert time_text(utc) == "2026-01-02 03:04 UTC"
    assert time_text(utc.replace(tzinfo=None)) == "2026-01-02 03:04 UTC"  # naive: UTC
    assert time_text(utc.astimezone(timezone(timedelta(hours=8)))) == "2026-01-02 03:04 UTC"
    assert time_text("2024-06-05T10:00:00Z") == "2024-06-05 10:00 UTC"  # SWR's text
    assert time_text("2024-06-05T18:00:00.123+08:00") == "2024-06-05 10:00 UTC"
    assert time_text("yesterday") == "yesterday"  # not a time: shown as sent
    assert time_text(None) == "" and time_text("") == ""


def test_image_label_prefers_name_and_tag() -> None:
    path = "swr.cn-north-4.myhuaweicloud.com/mai-demo/pytorch:2.3.0"
    assert image_label(ImageRecord(id="i1", name="pytorch", tag="2.3.0", swr_path=path)) == "pytorch:2.3.0"
    assert image_label(ImageRecord(id="i1", name="pytorch", swr_path=path)) == "pytorch"
    assert image_label(ImageRecord(id="i1", swr_path=path)) == path
    assert image_label(ImageRecord(id="i1")) == "i1"
