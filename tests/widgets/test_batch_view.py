"""BatchView on comm's DummyComm: a real apply against the emulator drives it, as the magic does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from emulator_clients import fast_config

from mai_widgets import batch
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator import DEFAULTS, DEMO_SWR_IMAGES, EmulatorProcess
from mai_widgets.errors import MaiWidgetsError
from mai_widgets.services.session import Session
from mai_widgets.widgets.batch_view import BatchView, entry_row_html

MISSING = f"{DEFAULTS.registry}/mai-batch-view/never-pushed:1.0"


def test_an_apply_shows_a_row_per_entry_with_badges_and_the_summary(
    emulator_factory: Callable[..., EmulatorProcess], tmp_path: Path
) -> None:
    emu = emulator_factory()
    env = emu.env()
    session = Session(fast_config(env), Credentials.from_env(env))
    paths = [*DEMO_SWR_IMAGES[5:8], MISSING]
    file = batch.BatchFile.of([{"swr_path": p} for p in paths], defaults={"arch": "X86_64"})
    view = BatchView("apply", len(paths), source="images.yaml")
    assert "mai-image-browser" in view._dom_classes  # the Images tab's container: fits any width
    seen: list[int] = []

    def heard(event: batch.ApplyEvent) -> None:
        view.update(event)
        seen.append(event.done)

    result = batch.apply(file, session=session, on_event=heard)
    view.flush()
    assert view.progress.value == seen[-1] and view.progress.max == len(paths)
    view.finish(result)
    view.flush()
    rows = view.rows.value
    assert rows.count("class='mai-image-row mai-batch-row'") == len(paths)
    assert rows.count("mai-badge mai-badge-active") >= 3  # state and image status badges
    assert "mai-badge-error" in rows and "CREATE_FAILED" in rows
    assert "<wbr>" in rows  # long SWR paths may break after "/" and "."
    assert view.progress.value == view.progress.max == len(paths)
    assert "3 active" in view.summary.value and "1 failed" in view.summary.value
    assert "Not all as the file asks" in view.summary.value
    view.stopping()
    view.flush()
    assert "no new registrations" in view.note.value
    view.close()
    session.close()


def test_server_text_is_escaped_in_a_row() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    entry = batch.EntryResult(1, f"{DEFAULTS.registry}/org/app:1", "failed", error=MaiWidgetsError(hostile))
    row = entry_row_html(entry)
    assert hostile not in row and "&lt;img" in row and "mai-badge-error" in row
