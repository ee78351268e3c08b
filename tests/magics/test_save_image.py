"""``%save_image`` on a real IPython shell, against the emulator over HTTP (printed lines mode,
and the tab's view on comm's DummyComm)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import ipywidgets as widgets
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output

from mai_widgets.emulator.defaults import DEFAULTS, notebook_id_for
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.magics.save_image import SaveImageError, SaveImageMagics
from mai_widgets.wire.contract import ImageRecord, ImageStatus, Origin

DEMO_ID = notebook_id_for(DEFAULTS.project_id, DEFAULTS.demo_notebook)


@pytest.fixture
def magics(shell: InteractiveShell) -> Iterator[SaveImageMagics]:
    instance = shell.magics_manager.registry["SaveImageMagics"]
    assert isinstance(instance, SaveImageMagics)
    instance.use_widgets = False
    yield instance
    if instance.last_view is not None:
        instance.last_view.close()
    instance.last_view = instance.last_controller = None
    instance.use_widgets = None


@pytest.fixture
def point_at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., EmulatorProcess]:
    def point(emulator: EmulatorProcess, **env: str) -> EmulatorProcess:
        for name in list(os.environ):
            if name.startswith(("HUAWEICLOUD_", "MAI_WIDGETS_")):
                monkeypatch.delenv(name)
        config_dir = tmp_path / "jupyter-config"
        config_dir.mkdir(exist_ok=True)
        (config_dir / "mai_widgets_config.py").write_text(
            "c.MaiConfig.poll_initial = 0.1\nc.MaiConfig.poll_max = 0.3\n", encoding="utf-8"
        )
        monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config_dir))
        for name, value in {**emulator.env(), **env}.items():
            monkeypatch.setenv(name, value)
        return emulator

    return point


def run(shell: InteractiveShell, line: str) -> tuple[object, CapturedIO]:
    """Run one line as a cell; the result is ``Out`` (or the error raised)."""
    with capture_output() as captured:
        result = shell.run_cell(line, store_history=True)
    value = result.error_in_exec or result.error_before_exec or result.result
    return value, captured


def test_saves_this_notebook_prints_progress_and_returns_the_record(
    shell: InteractiveShell,
    magics: SaveImageMagics,
    emulator_factory: Callable[..., EmulatorProcess],
    point_at: Callable[..., EmulatorProcess],
) -> None:
    emu = point_at(emulator_factory(snapshot_seconds=1.0))
    record, captured = run(shell, '%save_image my-env:v1 --namespace mai-demo --description "saved env"')
    assert isinstance(record, ImageRecord), captured.stdout + captured.stderr
    assert (record.status, record.origin, record.tag) == (ImageStatus.ACTIVE, Origin.IMAGE_SAVE, "v1")
    out = captured.stdout
    assert "/home/ma-user/work, /data, /cache" in out and "unavailable" in out
    assert f"saving as image {record.id}" in out and "mai-demo/my-env:v1" in out
    assert f"instance {DEFAULTS.demo_notebook}: SNAPSHOTTING" in out
    assert f"instance {DEFAULTS.demo_notebook}: RUNNING" in out
    assert f"image {record.id}: ACTIVE" in out
    assert "Traceback" not in out + captured.stderr
    assert emu.ak not in out and emu.sk not in out
    # Defaults: the instance's image name (the one just saved, which it runs now), the first
    # organization it can write, and a date-and-time tag.
    again, captured = run(shell, "%save_image --no-wait")
    assert isinstance(again, ImageRecord), captured.stdout + captured.stderr
    assert (again.name, again.namespace) == ("my-env", "mai-demo") and again.tag not in ("v1", None)
    assert "not waiting" in captured.stdout


def test_dry_run_sends_nothing_and_shows_no_secret(
    shell: InteractiveShell,
    magics: SaveImageMagics,
    emulator: EmulatorProcess,
    point_at: Callable[..., EmulatorProcess],
) -> None:
    point_at(emulator)
    value, captured = run(shell, "%save_image my-env:v2 --namespace mai-demo --dry-run")
    assert value is None
    out = captured.stdout + "\n".join(str(v) for o in captured.outputs for v in o.data.values())
    assert "Dry run: nothing was sent." in out
    assert f"/notebooks/{DEMO_ID}/create-image" in out
    assert "CreateImageRequest(" in out and "ImageCreateReq(" in out and "curl " in out
    assert '"tag": "v2"' in out
    assert emulator.ak not in out and emulator.sk not in out
    assert "os.environ['HUAWEICLOUD_SDK_AK']" in out
    with emulator.store() as store:
        assert store.count() == 0
    # Without TAG the request carries the default, a date-and-time tag the repository has not:
    # the magic looks it up before it builds the request (the service's own default is undocumented).
    value, captured = run(shell, "%save_image my-env --namespace mai-demo --dry-run")
    out = captured.stdout + "\n".join(str(v) for o in captured.outputs for v in o.data.values())
    assert value is None and re.search(r'"tag": "\d{8}-\d{4}"', out), out


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "%save_image Bad_Name --namespace mai-demo",
            "NAME may contain only lower-case letters, digits, '-', '_' and '.'; NAME must start with a lower-case letter",
        ),
        ("%save_image env:bad/tag --namespace mai-demo", "TAG may contain only letters"),
        ("%save_image env: --namespace mai-demo", "TAG is empty"),
        ("%save_image env --namespace mai-shared", "--namespace is read-only for these credentials"),
        ("%save_image env --dry-run --no-wait", "--dry-run sends nothing"),
        ("%save_image env --timeout -3", "--timeout"),
        ("%save_image env --frobnicate", "unrecognized arguments"),
        ("%save_image 'env", "check the quotes"),
    ],
)
def test_bad_arguments_are_one_line(
    shell: InteractiveShell,
    magics: SaveImageMagics,
    emulator: EmulatorProcess,
    point_at: Callable[..., EmulatorProcess],
    line: str,
    expected: str,
) -> None:
    point_at(emulator)
    with capture_output() as captured:
        result = shell.run_cell(line)
    error = result.error_in_exec or result.error_before_exec
    assert isinstance(error, UsageError), (line, error)
    assert expected in str(error) and "\n" not in str(error)
    assert "Traceback" not in captured.stdout + captured.stderr


def test_no_instance_can_be_told_names_the_running_ones(
    shell: InteractiveShell,
    magics: SaveImageMagics,
    emulator_factory: Callable[..., EmulatorProcess],
    point_at: Callable[..., EmulatorProcess],
) -> None:
    # Two RUNNING instances at the emulator's address, and no setting: nothing tells them apart.
    emu = emulator_factory(notebook=["twin:RUNNING:127.0.0.1"])
    point_at(emu, MAI_WIDGETS_NOTEBOOK_ID="")
    twin = notebook_id_for(emu.project_id, "twin")
    error, _ = run(shell, "%save_image env --namespace mai-demo")
    assert isinstance(error, UsageError), error
    message = str(error)
    assert "cannot be told; pass --notebook ID" in message and "\n" not in message
    assert f"{DEMO_ID} ({DEFAULTS.demo_notebook})" in message and f"{twin} (twin)" in message


def test_a_stopped_instance_and_a_failed_save_fail_the_cell_in_words(
    shell: InteractiveShell,
    magics: SaveImageMagics,
    emulator_factory: Callable[..., EmulatorProcess],
    point_at: Callable[..., EmulatorProcess],
) -> None:
    emu = point_at(
        emulator_factory(notebook=["stopped-one:STOPPED"], snapshot_seconds=0.5, save_too_large=True)
    )
    stopped = notebook_id_for(emu.project_id, "stopped-one")
    error, captured = run(shell, f"%save_image env --namespace mai-demo --notebook {stopped}")
    assert isinstance(error, SaveImageError)
    block = "\n".join(error._render_traceback_())
    assert "%save_image failed: the instance is STOPPED" in block and "start it" in block
    error, captured = run(shell, "%save_image env:big --namespace mai-demo")
    assert isinstance(error, SaveImageError)
    block = "\n".join(error._render_traceback_())
    assert "ended CREATE_FAILED" in block and "greater than threshold" in block
    assert "Traceback" not in captured.stdout + captured.stderr
    # A tag taken: the service's answer, in words, with its request id.
    error, _ = run(shell, "%save_image env:big --namespace mai-demo")
    assert isinstance(error, SaveImageError)
    block = "\n".join(error._render_traceback_())
    assert (
        "%save_image failed: tag-conflict" in block
        and "Request id:" in block
        and "choose another tag" in block
    )


def test_in_a_notebook_the_tabs_view_shows_both_states_and_no_secret(
    shell: InteractiveShell,
    magics: SaveImageMagics,
    emulator_factory: Callable[..., EmulatorProcess],
    point_at: Callable[..., EmulatorProcess],
) -> None:
    emu = point_at(emulator_factory(snapshot_seconds=0.8))
    magics.use_widgets = True
    record, _ = run(shell, "%save_image shown:v1 --namespace mai-demo")
    assert isinstance(record, ImageRecord) and record.status == ImageStatus.ACTIVE
    view = magics.last_view
    assert view is not None
    assert "ACTIVE" in view.image_state.value and "SNAPSHOTTING → RUNNING" in view.notebook_state.value
    assert view.status_view is not None and "ready to use" in view.status_view.state_line.value
    state = json.dumps(widgets.Widget.get_manager_state(drop_defaults=False))
    assert emu.ak not in state and emu.sk not in state


@pytest.mark.parametrize("widgets", [False, True])
def test_a_timeout_fails_the_cell_saying_the_save_carries_on(
    shell: InteractiveShell,
    magics: SaveImageMagics,
    emulator_factory: Callable[..., EmulatorProcess],
    point_at: Callable[..., EmulatorProcess],
    widgets: bool,
) -> None:
    emu = point_at(emulator_factory(snapshot_seconds=30))
    magics.use_widgets = widgets
    error, captured = run(shell, "%save_image slow:v1 --namespace mai-demo --timeout 1.5")
    assert isinstance(error, SaveImageError), error
    assert error.record is not None and not error.record.is_terminal
    block = "\n".join(error._render_traceback_())
    assert f"%save_image gave up waiting: image {error.record.id}" in block
    assert "ModelArts carries on with the save; the image is still" in block
    assert (
        f"the instance {DEFAULTS.demo_notebook} stays unavailable (SNAPSHOTTING) until the save ends" in block
    )
    assert "StatusView.for_image" in block and "--timeout" in block
    assert "Traceback" not in block + captured.stdout + captured.stderr
    assert emu.ak not in block and emu.sk not in block
    if widgets:
        view = magics.last_view
        assert view is not None and "Gave up waiting: ModelArts carries on" in view.unfinished.value
        assert view.status_view is not None and "Gave up waiting" in view.status_view.state_line.value


@pytest.mark.parametrize("widgets", [False, True])
def test_ctrl_c_stops_following_and_says_the_save_carries_on(
    shell: InteractiveShell,
    magics: SaveImageMagics,
    emulator_factory: Callable[..., EmulatorProcess],
    point_at: Callable[..., EmulatorProcess],
    monkeypatch: pytest.MonkeyPatch,
    widgets: bool,
) -> None:
    from mai_widgets.kernel.save import SaveController

    point_at(emulator_factory(snapshot_seconds=30))
    magics.use_widgets = widgets
    original = SaveController.wait_settled

    def interrupted(self: SaveController, timeout: float | None = None) -> bool:
        # Ctrl-C arrives on the main thread while it waits, once both records have been read.
        if self.notebook is not None and self.state == "following" and not self.stopping:
            raise KeyboardInterrupt
        return original(self, timeout)

    monkeypatch.setattr(SaveController, "wait_settled", interrupted)
    record, captured = run(shell, "%save_image stopped:v1 --namespace mai-demo")
    assert isinstance(record, ImageRecord) and not record.is_terminal, captured.stdout
    controller = magics.last_controller
    assert controller is not None and (controller.state, controller.outcome) == ("settled", "stopped")
    assert controller.worker is not None and not controller.worker.is_alive()
    if widgets:
        view = magics.last_view
        assert view is not None and "Stopped following: ModelArts carries on" in view.unfinished.value
        assert view.status_view is not None
        assert "Stopped following; the image was still" in view.status_view.state_line.value
    else:
        out = captured.stdout
        assert "Stopped following: ModelArts carries on with the save; the image is still" in out
        assert f"the instance {DEFAULTS.demo_notebook} stays unavailable (SNAPSHOTTING)" in out
        assert "(interrupted)" in out and f"StatusView.for_image({record.id!r})" in out
        assert "Traceback" not in out + captured.stderr


def test_load_ext_registers_the_magic(shell: InteractiveShell) -> None:
    assert "save_image" in shell.magics_manager.magics["line"]
