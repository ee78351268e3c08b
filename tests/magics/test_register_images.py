"""``%register_images`` on a real IPython shell against the emulator over HTTP: what is printed
or displayed, what the cell returns or raises, and what ModelArts (the emulator) received."""

from __future__ import annotations

import _thread
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from test_register_image import _clean_env, assert_no_secret, run, run_failing, shown_text

from mai_widgets import batch
from mai_widgets.emulator import DEFAULTS, DEMO_SWR_IMAGES, EmulatorProcess
from mai_widgets.magics.register_images import RegisterImagesError, RegisterImagesMagics
from mai_widgets.widgets.batch_view import BatchView

PATHS = DEMO_SWR_IMAGES[5:8]
MISSING = f"{DEFAULTS.registry}/mai-images-magic/never-pushed:1.0"


@pytest.fixture
def magics(shell: InteractiveShell) -> RegisterImagesMagics:
    instance = shell.magics_manager.registry["RegisterImagesMagics"]
    assert isinstance(instance, RegisterImagesMagics)
    instance.use_widgets = False
    yield instance
    if instance.last_view is not None:
        instance.last_view.close()
    instance.last_view = None
    instance.use_widgets = None


def point_at(emu: EmulatorProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> EmulatorProcess:
    _clean_env(monkeypatch, tmp_path)
    for name, value in emu.env().items():
        monkeypatch.setenv(name, value)
    return emu


def images_file(tmp_path: Path, *paths: str) -> Path:
    path = tmp_path / "images.yaml"
    path.write_text(
        "defaults:\n  arch: X86_64\nimages:\n" + "".join(f"  - swr_path: {p}\n" for p in paths),
        encoding="utf-8",
    )
    return path


def test_plan_apply_and_apply_again_in_a_terminal(
    shell: InteractiveShell,
    magics: RegisterImagesMagics,
    emulator: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    emu = point_at(emulator, monkeypatch, tmp_path)
    file = images_file(tmp_path, *PATHS)
    planned, captured = run(shell, f"%register_images {file} --plan")
    assert isinstance(planned, batch.Plan) and planned.counts()["new"] == 3
    assert f"[3/3] {PATHS[0]}" in captured.stdout or f"{PATHS[0]}: new" in captured.stdout
    assert "3 images: 3 new" in captured.stdout and "SWR path" in captured.stdout  # the CLI's table
    with emu.store() as store:
        assert store.count() == 0  # a plan sends nothing

    result, captured = run(shell, f"%register_images {file} --concurrency 2")
    assert isinstance(result, batch.ApplyResult) and result.ok and len(result.sent) == 3
    assert "active" in captured.stdout and "3 registrations sent" in captured.stdout
    assert_no_secret(emu, shown_text(captured))

    again, captured = run(shell, f"%register_images {file}")
    assert again.ok and len(again.sent) == 0 and again.counts() == {"same": 3}
    assert "0 registrations sent" in captured.stdout


def test_a_failing_entry_fails_the_cell_with_one_block_and_the_results(
    shell: InteractiveShell,
    magics: RegisterImagesMagics,
    emulator: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    point_at(emulator, monkeypatch, tmp_path)
    file = images_file(tmp_path, PATHS[0], MISSING)
    error, captured = run_failing(shell, f"%register_images {file}")
    assert isinstance(error, RegisterImagesError)
    assert isinstance(error.result, batch.ApplyResult) and not error.result.ok
    assert error.result.counts() == {"active": 1, "failed": 1}
    text = shown_text(captured)
    assert "%register_images failed: 1 of 2 images did not end ACTIVE" in text
    assert f"2. {MISSING}: failed" in text and "Traceback" not in text and 'File "' not in text


def test_bad_arguments_and_bad_files_are_one_line(
    shell: InteractiveShell, magics: RegisterImagesMagics, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_env(monkeypatch, tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("images:\n  - swr_path: org/app:1\n    archh: X86_64\n", encoding="utf-8")
    for line, words in (
        ("%register_images", "give the FILE"),
        (f"%register_images {tmp_path}/nowhere.yaml", "nowhere.yaml"),
        (f"%register_images {bad}", "archh"),
        (f"%register_images {bad} --concurrency 0", "--concurrency"),
        (f"%register_images {bad} --conc 2", "unrecognized"),
    ):
        error, _ = run_failing(shell, line)
        assert isinstance(error, UsageError), line
        assert words in str(error) and "\n" not in str(error), str(error)


def test_a_notebook_shows_one_live_view(
    shell: InteractiveShell,
    magics: RegisterImagesMagics,
    emulator: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    point_at(emulator, monkeypatch, tmp_path)
    magics.use_widgets = True
    file = images_file(tmp_path, *PATHS)
    result, captured = run(shell, f"%register_images {file}")
    assert result.ok and "registrations sent" not in captured.stdout  # the view shows it, no lines
    view = magics.last_view
    assert isinstance(view, BatchView)
    assert view.progress.value == 3 and view.rows.value.count("mai-batch-row") == 3
    assert "3 active" in view.summary.value


def test_interrupting_stops_new_registrations_and_a_second_run_finishes(
    shell: InteractiveShell,
    magics: RegisterImagesMagics,
    emulator_factory: Callable[..., EmulatorProcess],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    emu = point_at(emulator_factory(latency=0.3), monkeypatch, tmp_path)
    file = images_file(tmp_path, *DEMO_SWR_IMAGES[5:11])
    timer = threading.Timer(1.5, _thread.interrupt_main)  # Ctrl-C while the first ones are sent
    timer.start()
    error, captured = run_failing(shell, f"%register_images {file} --concurrency 1")
    timer.cancel()
    assert isinstance(error, RegisterImagesError) and isinstance(error.result, batch.ApplyResult)
    stopped = error.result
    assert stopped.stopped and 1 <= len(stopped.sent) < 6
    assert stopped.counts().get("not-sent", 0) == 6 - len(stopped.sent)
    text = shown_text(captured)
    assert (
        "interrupted: no new registrations are started" in text and "%register_images failed: stopped" in text
    )

    again, _ = run(shell, f"%register_images {file}")
    assert again.ok and len(again.sent) == 6 - len(stopped.sent)
    with emu.store() as store:
        assert store.count() == 6  # each entry registered once
