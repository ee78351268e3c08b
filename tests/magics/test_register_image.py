"""``%register_image`` on a real IPython shell, against the emulator over HTTP.

What the user sees is what is asserted: the printed lines (stdout/stderr), the displayed
outputs, the cell's ``Out`` and the value returned, whether the cell failed; and what
ModelArts (the emulator's store) received. Widget mode runs the StatusView on comm's DummyComm.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output

import mai_widgets
from mai_widgets.emulator.defaults import DEFAULTS
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.magics import load_ipython_extension
from mai_widgets.magics.register import RegisterImageError, RegisterImageMagics
from mai_widgets.wire.contract import ImageRecord, ImageStatus

PATH = "swr.cn-north-4.myhuaweicloud.com/mai-demo/pytorch-cpu:2.3.0"
OTHER_PATH = "swr.cn-north-4.myhuaweicloud.com/mai-demo/sklearn:1.5.0"
MISSING_PATH = "swr.cn-north-4.myhuaweicloud.com/mai-demo/not-in-swr:0.1"
FORBIDDEN_PATH = f"swr.cn-north-4.myhuaweicloud.com/{DEFAULTS.forbidden_namespace}/model:1.0"
SLOW = {"init_seconds": 60.0, "creating_seconds": 60.0}


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def magics(shell: InteractiveShell) -> Iterator[RegisterImageMagics]:
    instance = shell.magics_manager.registry["RegisterImageMagics"]
    assert isinstance(instance, RegisterImageMagics)
    instance.use_widgets = False
    yield instance
    for shown in (instance.last_view, instance.last_panel):
        if shown is not None:
            shown.close()  # stops any controller still following
    instance.last_view = instance.last_panel = None
    instance.use_widgets = None


def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credential or setting from the machine running the tests; fast polling."""
    for name in list(os.environ):
        if name.startswith(("HUAWEICLOUD_", "MAI_WIDGETS_")):
            monkeypatch.delenv(name)
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "mai_widgets_config.py").write_text(
        "c.MaiConfig.poll_initial = 0.1\nc.MaiConfig.poll_max = 0.3\n", encoding="utf-8"
    )
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config_dir))


@pytest.fixture
def use_emulator(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[[EmulatorProcess], EmulatorProcess]:
    def point_at(emulator: EmulatorProcess) -> EmulatorProcess:
        _clean_env(monkeypatch, tmp_path)
        for name, value in emulator.env().items():
            monkeypatch.setenv(name, value)
        return emulator

    return point_at


@pytest.fixture
def emu(
    emulator: EmulatorProcess, use_emulator: Callable[[EmulatorProcess], EmulatorProcess]
) -> EmulatorProcess:
    return use_emulator(emulator)


@pytest.fixture
def slow_emu(
    emulator_factory: Callable[..., EmulatorProcess],
    use_emulator: Callable[[EmulatorProcess], EmulatorProcess],
) -> EmulatorProcess:
    """An emulator whose images stay INIT, then CREATING, for a minute each; the shell uses it."""
    return use_emulator(emulator_factory(**SLOW))


def run(shell: InteractiveShell, cell: str) -> tuple[Any, CapturedIO]:
    """Run a cell as a user would; return its result and everything it showed."""
    with capture_output() as captured:
        result = shell.run_cell(cell, store_history=True)
    assert result.error_before_exec is None and result.error_in_exec is None, captured.stdout
    return result.result, captured


def run_failing(shell: InteractiveShell, cell: str) -> tuple[BaseException, CapturedIO]:
    """Run a cell that must fail; return the error and everything the cell showed."""
    with capture_output() as captured:
        result = shell.run_cell(cell, store_history=True)
    assert not result.success, captured.stdout
    error = result.error_in_exec or result.error_before_exec
    assert error is not None
    return error, captured


def assert_clean_block(captured: CapturedIO) -> str:
    """The failure shows as our block (code, message, hint), not as a traceback's frames."""
    text = shown_text(captured)
    assert "Traceback" not in text and 'File "' not in text and "line " not in text
    assert "%register_image failed" in text or "%register_image gave up" in text
    return text


def image_count(emulator: EmulatorProcess) -> int:
    store = emulator.store()
    try:
        return store.count()
    finally:
        store.close()


def secrets(emulator: EmulatorProcess) -> list[str]:
    return [
        emulator.ak,
        emulator.sk,
        DEFAULTS.temp_sk,
        DEFAULTS.security_token,
        DEFAULTS.iam_password,
    ]


def assert_no_secret(emulator: EmulatorProcess, *texts: str) -> None:
    for text in texts:
        for secret in secrets(emulator):
            assert secret not in text


def shown_text(captured: CapturedIO) -> str:
    """Everything visible: printed lines and every mime type of every display."""
    parts = [captured.stdout, captured.stderr]
    for output in captured.outputs:
        parts.extend(str(value) for value in output.data.values())
    return "\n".join(parts)


# -- loading ------------------------------------------------------------------------------------------


def test_loading_the_extension_twice_is_harmless(
    shell: InteractiveShell, magics: RegisterImageMagics
) -> None:
    callbacks_before = list(shell.events.callbacks["post_run_cell"])
    load_ipython_extension(shell)
    mai_widgets.load_ipython_extension(shell)
    run(shell, "%load_ext mai_widgets")
    assert shell.magics_manager.registry["RegisterImageMagics"] is magics
    assert shell.events.callbacks["post_run_cell"] == callbacks_before
    assert "register_image" in shell.magics_manager.lsmagic()["line"]


def test_docstring_and_help_say_how_to_auto_load(
    shell: InteractiveShell, magics: RegisterImageMagics
) -> None:
    doc = shell.find_line_magic("register_image").__doc__
    assert "c.InteractiveShellApp.extensions = ['mai_widgets']" in " ".join(doc.split())
    assert "ipython_kernel_config.py" in doc
    result, captured = run(shell, "%register_image --help")
    assert result is None
    for flag in (
        "--arch",
        "--resource-category",
        "--service",
        "--service-type",
        "--visibility",
        "--origin",
        "--description",
        "--workspace-id",
        "--swr-path",
        "--panel",
        "--dry-run",
        "--no-wait",
        "--timeout",
    ):
        assert flag in captured.stdout
    assert "X86_64, AARCH64" in captured.stdout


# -- registering (printed lines: terminal IPython, scripts) -------------------------------------------


def test_every_flag_reaches_modelarts(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    result, captured = run(
        shell,
        f"%register_image {PATH} --arch aarch64 --resource-category CPU GPU --service NOTEBOOK SSH "
        "--service-type DEV --visibility PUBLIC --origin CUSTOMIZE --workspace-id 0123456789abcdef0123456789abcdef "
        "--description 'PyTorch 2.3: CPU and GPU, \"quoted\" words' --timeout 60",
    )
    assert isinstance(result, ImageRecord)
    assert result.status == ImageStatus.ACTIVE
    assert result.swr_path == PATH
    assert str(result.arch) == "AARCH64"
    assert [str(c) for c in result.resource_categories] == ["CPU", "GPU"]
    assert [str(s) for s in result.services] == ["NOTEBOOK", "SSH"]
    assert str(result.service_type) == "DEV"
    assert str(result.visibility) == "PUBLIC"
    assert str(result.origin) == "CUSTOMIZE"
    assert result.workspace_id == "0123456789abcdef0123456789abcdef"
    assert result.description == 'PyTorch 2.3: CPU and GPU, "quoted" words'
    assert image_count(emu) == 1
    assert f"registered image {result.id}" in captured.stdout
    assert f"{result.id}: ACTIVE" in captured.stdout
    assert captured.stderr == ""
    # Terminal mode shows the returned record as the cell's Out, once.
    assert captured.stdout.count("ImageRecord(") == 1
    assert_no_secret(emu, shown_text(captured))


def test_swr_path_flag_repeated_list_flags_and_assignment(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    _, captured = run(
        shell,
        f"record = %register_image --swr-path {OTHER_PATH} --service NOTEBOOK --service SSH "
        "--resource-categories CPU --resource-category ASCEND",
    )
    record = shell.user_ns["record"]
    assert isinstance(record, ImageRecord) and record.status == ImageStatus.ACTIVE
    assert record.swr_path == OTHER_PATH
    assert [str(s) for s in record.services] == ["NOTEBOOK", "SSH"]
    assert [str(c) for c in record.resource_categories] == ["CPU", "ASCEND"]
    assert "ImageRecord(" not in captured.stdout  # an assignment shows no Out


@pytest.mark.parametrize("widgets", [False, True])
def test_registering_again_returns_the_existing_image_and_says_what_differs(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess, widgets: bool
) -> None:
    magics.use_widgets = widgets
    first, _ = run(shell, f"%register_image {PATH} -a AARCH64 -rs CPU GPU")
    again, captured = run(shell, f"%register_image {PATH} -a X86_64 -rs CPU -s SSH")
    assert again.id == first.id and again.already_registered
    assert str(again.arch) == "AARCH64"  # the existing record, unchanged
    assert f"{PATH} was already registered (image {first.id}, ACTIVE)" in captured.stdout
    assert "Architecture: the existing image has AARCH64; this request asked for X86_64" in captured.stdout
    assert (
        "Resource categories: the existing image has CPU, GPU; this request asked for CPU" in captured.stdout
    )
    assert "Services:" in captured.stdout  # the emulator's default services differ from SSH alone
    assert image_count(emu) == 1
    _, same = run(shell, f"%register_image {PATH} -a AARCH64")
    assert "it matches this request" in same.stdout


def test_no_wait_returns_right_after_registering(
    shell: InteractiveShell,
    magics: RegisterImageMagics,
    slow_emu: EmulatorProcess,
) -> None:
    result, captured = run(shell, f"%register_image {PATH} --no-wait")
    assert isinstance(result, ImageRecord) and result.status == ImageStatus.INIT
    assert image_count(slow_emu) == 1
    assert "not waiting" in captured.stdout


@pytest.mark.parametrize("widgets", [False, True])
def test_a_timeout_fails_the_cell_saying_the_image_carries_on(
    shell: InteractiveShell,
    magics: RegisterImageMagics,
    slow_emu: EmulatorProcess,
    widgets: bool,
) -> None:
    magics.use_widgets = widgets
    for name in ("record", "after"):
        shell.user_ns.pop(name, None)
    error, captured = run_failing(shell, f"record = %register_image {PATH} --timeout 0.5\nafter = 1")
    assert isinstance(error, RegisterImageError)
    assert error.record is not None and not error.record.is_terminal
    text = assert_clean_block(captured)
    assert f"gave up waiting: image {error.record.id}" in text and "is still INIT" in text
    assert "StatusView.for_image" in text  # how to keep following
    assert "record" not in shell.user_ns and "after" not in shell.user_ns  # the cell stopped there
    if widgets:
        assert magics.last_view is not None and "Gave up waiting" in magics.last_view.state_line.value


@pytest.mark.parametrize("widgets", [False, True])
def test_an_image_that_fails_to_build_fails_the_cell(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess, widgets: bool
) -> None:
    magics.use_widgets = widgets
    shell.user_ns.pop("record", None)
    error, captured = run_failing(shell, f"record = %register_image {MISSING_PATH} --no-preflight")
    assert isinstance(error, RegisterImageError)
    assert error.record is not None and error.record.status == ImageStatus.CREATE_FAILED
    text = assert_clean_block(captured)
    assert f"failed: image {error.record.id} ({MISSING_PATH}) ended CREATE_FAILED" in text
    assert error.record.status_message and error.record.status_message in text  # ModelArts' reason
    assert "Hint: check that the image was pushed to SWR" in text
    assert "record" not in shell.user_ns  # no silent None for the next cell to run on
    assert_no_secret(emu, text)


@pytest.mark.parametrize("widgets", [False, True])
def test_an_api_error_fails_the_cell_with_code_request_id_and_hint(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess, widgets: bool
) -> None:
    magics.use_widgets = widgets
    error, captured = run_failing(shell, f"%register_image {FORBIDDEN_PATH} --no-preflight")
    assert isinstance(error, RegisterImageError) and error.record is None
    text = assert_clean_block(captured)
    lines = text.strip().splitlines()
    assert lines[0] == "%register_image failed: permission-denied · HTTP 400 · ModelArts.2885"
    assert "Request id: " in text and "Hint: ModelArts has no access" in text
    assert error.error is not None and error.error.request_id in text  # type: ignore[attr-defined]
    assert "ModelArts.2885" in str(error)  # the one-line form (a kernel's evalue)
    assert image_count(emu) == 0
    assert_no_secret(emu, text)


def test_missing_credentials_name_the_variables(
    shell: InteractiveShell,
    magics: RegisterImageMagics,
    emu: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HUAWEICLOUD_SDK_SK")
    error, captured = run_failing(shell, f"%register_image {PATH}")
    assert isinstance(error, RegisterImageError)
    text = assert_clean_block(captured)
    assert text.startswith("%register_image failed: config") and "HUAWEICLOUD_SDK_SK" in text
    assert_no_secret(emu, shown_text(captured))
    assert image_count(emu) == 0


# -- dry run ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("widgets", [False, True])
def test_dry_run_sends_nothing_and_shows_no_secret(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess, widgets: bool
) -> None:
    magics.use_widgets = widgets
    result, captured = run(
        shell,
        f"%register_image {PATH} --arch X86_64 --resource-category CPU --service SSH "
        "--description 'a dry run' --dry-run",
    )
    assert result is None
    assert image_count(emu) == 0
    text = shown_text(captured)
    assert f"POST {emu.url}/v1/{emu.project_id}/images" in text
    assert '"swr_path": "' + PATH + '"' in text
    assert '"description": "a dry run"' in text
    assert "HUAWEICLOUD_SDK_AK" in text  # the code reads credentials from the environment...
    assert_no_secret(emu, text)  # ...and never holds their values
    assert captured.stderr == ""


def test_dry_run_needs_no_credentials(
    shell: InteractiveShell,
    magics: RegisterImageMagics,
    emu: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HUAWEICLOUD_SDK_AK")
    monkeypatch.delenv("HUAWEICLOUD_SDK_SK")
    _, captured = run(shell, f"%register_image {PATH} --dry-run")
    assert "POST " in shown_text(captured) and captured.stderr == ""
    assert image_count(emu) == 0


# -- bad arguments ------------------------------------------------------------------------------------

BAD_ARGUMENTS: list[tuple[str, list[str]]] = [
    ("--arch X86_64", ["SWR_PATH is required", "registry/namespace/name:tag"]),
    ("--dry-run", ["SWR_PATH is required with --dry-run"]),
    (f"{PATH} --arch ARM64", ["--arch", "'ARM64'", "X86_64, AARCH64"]),
    (f"{PATH} --arch", ["--arch needs a value", "X86_64, AARCH64"]),
    (f"{PATH} --resource-category TPU", ["--resource-category", "'TPU'", "CPU, GPU, ASCEND"]),
    (f"{PATH} --resource-category", ["--resource-category needs a value", "one or more of CPU, GPU, ASCEND"]),
    (f"{PATH} --service HTTP", ["--service", "'HTTP'", "NOTEBOOK, SSH"]),
    (f"{PATH} --service-type BATCH", ["--service-type", "COMMON, INFERENCE, TRAIN, DEV, UNKNOWN"]),
    (f"{PATH} --visibility SECRET", ["--visibility", "PRIVATE, PUBLIC"]),
    (f"{PATH} --origin DOCKERHUB", ["--origin", "CUSTOMIZE, IMAGE_SAVE"]),
    (f"{PATH} --workspace-id a/b", ["--workspace-id", "32-character workspace id"]),
    (f"{PATH} --description {'x' * 513}", ["--description must be at most 512 characters"]),
    ("swr.cn-north-4.myhuaweicloud.com/Upper/Case:1", ["SWR_PATH", "must be lower case"]),
    ("r.io/ns/x:1", ["SWR_PATH must be 16 to 2048 characters"]),
    (f"{PATH} --timeout soon", ["--timeout must be a number of seconds", "'soon'"]),
    (f"{PATH} --timeout 0", ["--timeout must be a positive number of seconds"]),
    (f"{PATH} --timeout", ["--timeout needs a value", "seconds"]),
    (f"{PATH} --archh X86_64", ["unknown argument --archh", "did you mean --arch?"]),
    (f"{PATH} --serv SSH", ["unknown argument --serv", "did you mean --service?"]),
    (f"{PATH} --description two words", ["unexpected argument 'words'", '--description "my image"']),
    (f"{PATH} --description 'unclosed", ["check the quotes"]),
    (f"{PATH} --swr-path {OTHER_PATH}", ["either SWR_PATH or --swr-path"]),
    (f"{PATH} --panel --dry-run", ["--panel", "cannot be combined with --dry-run"]),
    (f"{PATH} --dry-run --no-wait", ["--dry-run sends nothing", "--no-wait"]),
    (f"{PATH} --no-wait --timeout 5", ["--timeout", "--no-wait"]),
    (f"{PATH} --arch ARM64 --visibility SECRET", ["--arch", "--visibility", "; "]),
]


@pytest.fixture(scope="module")
def quiet_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One emulator for the many bad-argument cases: none of them may register anything."""
    with EmulatorProcess(tmp_path_factory.mktemp("quiet-emulator")) as emulator:
        yield emulator


@pytest.mark.parametrize("widgets", [False, True])
@pytest.mark.parametrize(("arguments", "expected"), BAD_ARGUMENTS, ids=[a for a, _ in BAD_ARGUMENTS])
def test_a_bad_argument_is_one_line_naming_it(
    shell: InteractiveShell,
    magics: RegisterImageMagics,
    quiet_emulator: EmulatorProcess,
    use_emulator: Callable[[EmulatorProcess], EmulatorProcess],
    arguments: str,
    expected: list[str],
    widgets: bool,
) -> None:
    emu = use_emulator(quiet_emulator)
    magics.use_widgets = widgets
    error, captured = run_failing(shell, f"%register_image {arguments}")
    assert isinstance(error, UsageError)
    assert captured.stdout == "" and captured.outputs == []
    lines = captured.stderr.splitlines()
    assert len(lines) == 1, captured.stderr
    assert lines[0].startswith("UsageError: %register_image: ")
    for text in expected:
        assert text in lines[0]
    assert "Traceback" not in lines[0]
    assert image_count(emu) == 0


def test_a_bad_argument_fails_the_cell(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    shell.user_ns.pop("after", None)
    run_failing(shell, f"%register_image {PATH} --arch ARM64\nafter = 'the cell carried on'")
    assert "after" not in shell.user_ns


# -- ma-cli's short flags and host-less SWR paths -------------------------------------------------

SHORT_FLAG_CASES: list[tuple[str, dict[str, Any]]] = [
    ("-s NOTEBOOK", {"services": ["NOTEBOOK"]}),
    ("-s NOTEBOOK SSH", {"services": ["NOTEBOOK", "SSH"]}),
    ("-rs CPU GPU", {"resource_category": ["CPU", "GPU"]}),
    ("-a aarch64", {"arch": "AARCH64"}),
    ("-v PUBLIC", {"visibility": "PUBLIC"}),
    ("-wi aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", {"workspace_id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}),
    (
        "-s SSH -rs ASCEND -a X86_64 -v PRIVATE -wi bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        {
            "services": ["SSH"],
            "resource_category": ["ASCEND"],
            "arch": "X86_64",
            "visibility": "PRIVATE",
            "workspace_id": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        },
    ),
]


@pytest.mark.parametrize(("flags", "sent"), SHORT_FLAG_CASES, ids=[f for f, _ in SHORT_FLAG_CASES])
def test_ma_cli_short_flags_set_the_same_fields(
    shell: InteractiveShell,
    magics: RegisterImageMagics,
    emu: EmulatorProcess,
    flags: str,
    sent: dict[str, Any],
) -> None:
    _, captured = run(shell, f"%register_image -swr {PATH} {flags} --dry-run")
    body = json.loads(captured.outputs[0].data["text/plain"].split("\n", 3)[3].split("\n\n# Python")[0])
    assert body == {"swr_path": PATH, **sent}
    assert image_count(emu) == 0


def test_a_short_flag_with_a_bad_value_names_the_long_flag(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    error, captured = run_failing(shell, f"%register_image {PATH} -a")
    assert isinstance(error, UsageError)
    assert "--arch needs a value: one of X86_64, AARCH64" in captured.stderr


def test_a_host_less_swr_path_gets_the_regions_swr_host(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    _, captured = run(shell, "%register_image mai-demo/sklearn:1.5.0 --dry-run")
    text = shown_text(captured)
    assert f'"swr_path": "swr.{emu.region}.myhuaweicloud.com/mai-demo/sklearn:1.5.0"' in text
    record, _ = run(shell, "%register_image -swr mai-demo/sklearn:1.5.0")
    assert record.swr_path == OTHER_PATH and record.status == ImageStatus.ACTIVE


def test_help_lists_the_short_flags_and_the_default_categories(
    shell: InteractiveShell, magics: RegisterImageMagics
) -> None:
    _, captured = run(shell, "%register_image --help")
    for short in ("-swr", "-a", "-s", "-rs", "-wi", "-v"):
        assert f"{short} " in captured.stdout
    assert "ModelArts uses CPU GPU" in " ".join(captured.stdout.split())


# -- widgets (StatusView, panel) ----------------------------------------------------------------------


def widget_outputs(captured: CapturedIO) -> list[dict[str, Any]]:
    return [o.data for o in captured.outputs if "application/vnd.jupyter.widget-view+json" in o.data]


def test_the_status_view_follows_to_active_and_the_record_is_shown_once(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    magics.use_widgets = True
    result, captured = run(shell, f"%register_image {PATH} --resource-category CPU --timeout 60")
    assert isinstance(result, ImageRecord) and result.status == ImageStatus.ACTIVE
    assert shell.user_ns["_"] is result  # the Out history holds it...
    assert len(widget_outputs(captured)) == 1  # ...but the cell shows only the status view
    # (a terminal shell prints its bare "Out[n]: " prompt; a Jupyter kernel sends nothing)
    assert "ImageRecord(" not in shown_text(captured) and captured.stderr == ""
    view = magics.last_view
    assert view is not None and view.controller.record is result
    assert view.controller.state == "settled" and view.controller.outcome == "settled"
    assert "ACTIVE" in view.badge.value and "ready to use" in view.state_line.value
    assert result.id in view.record_id.value
    # The next cell that shows a record shows it as usual.
    _, later = run(shell, "_")
    assert "ImageRecord(" in shown_text(later)


def test_assignment_in_widget_mode_returns_the_record(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    magics.use_widgets = True
    _, captured = run(shell, f"image = %register_image {OTHER_PATH}")
    image = shell.user_ns["image"]
    assert isinstance(image, ImageRecord) and image.status == ImageStatus.ACTIVE
    assert len(widget_outputs(captured)) == 1


def test_widget_mode_sends_only_the_given_fields(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    magics.use_widgets = True
    record, _ = run(shell, f"%register_image {PATH} --arch AARCH64 --description 'two words'")
    assert str(record.arch) == "AARCH64" and record.description == "two words"
    assert magics.last_view is not None
    assert magics.last_view.controller.request is not None
    assert set(magics.last_view.controller.request.to_body()) == {"swr_path", "arch", "description"}


def test_widget_no_wait_returns_init_and_the_view_keeps_following(
    shell: InteractiveShell,
    magics: RegisterImageMagics,
    slow_emu: EmulatorProcess,
) -> None:
    magics.use_widgets = True
    result, captured = run(shell, f"%register_image {PATH} --no-wait")
    assert isinstance(result, ImageRecord) and result.status == ImageStatus.INIT
    assert len(widget_outputs(captured)) == 1
    view = magics.last_view
    assert view is not None and view.controller.busy  # still following, in the background
    assert view.controller.state in ("submitting", "watching")  # the worker may not have moved on yet


def test_an_api_error_shows_in_the_status_view_and_fails_the_cell(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    magics.use_widgets = True
    _, captured = run_failing(shell, f"%register_image {FORBIDDEN_PATH}")
    assert len(widget_outputs(captured)) == 1
    assert_clean_block(captured)
    view = magics.last_view
    assert view is not None and view.controller.state == "failed"
    shown = view.error_box.value
    assert "ModelArts.2885" in shown and "400" in shown
    assert "grant it in SWR" in shown  # the hint
    assert image_count(emu) == 0
    assert_no_secret(emu, shown, view.state_line.value)


def test_no_arguments_shows_the_panel(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    magics.use_widgets = True
    result, captured = run(shell, "%register_image")
    assert result is None
    assert len(widget_outputs(captured)) == 1
    assert magics.last_panel is not None
    assert magics.last_panel.controller.fields["swr_path"] == ""
    assert image_count(emu) == 0


def test_panel_flag_prefills_the_form_and_sends_nothing(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    result, captured = run(
        shell, f"%register_image {PATH} --arch aarch64 --service SSH --description 'from the magic' --panel"
    )
    assert result is None
    assert len(widget_outputs(captured)) == 1
    panel = magics.last_panel
    assert panel is not None
    fields = panel.controller.fields
    assert fields["swr_path"] == PATH and fields["arch"] == "AARCH64"
    assert fields["services"] == ["SSH"] and fields["description"] == "from the magic"
    assert panel.swr_path.value == PATH
    assert panel.controller.problems == {}
    assert image_count(emu) == 0


def test_panel_flag_with_a_bad_value_opens_the_form_showing_the_problem(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    result, captured = run(shell, f"%register_image {PATH} --arch ARM64 --panel")
    assert result is None and captured.stderr == ""
    panel = magics.last_panel
    assert panel is not None and "arch" in panel.controller.problems
    assert image_count(emu) == 0


# -- in a real kernel: the view is live while the cell waits; interrupting stops only the wait ----------


class KernelSession:
    """A real ipykernel with the emulator's environment; records every iopub message, in order."""

    def __init__(self, env: dict[str, str]) -> None:
        from jupyter_client.manager import start_new_kernel

        self.km, self.kc = start_new_kernel(kernel_name="python3", env=env, startup_timeout=60)
        self.messages: list[dict[str, Any]] = []

    def execute(self, code: str, timeout: float = 120) -> dict[str, Any]:
        reply: dict[str, Any] = self.kc.execute_interactive(
            code, timeout=timeout, output_hook=self.messages.append, allow_stdin=False
        )
        return reply

    def texts(self) -> list[str]:
        """Each message as text: widget state updates and printed lines, in arrival order."""
        out = []
        for msg in self.messages:
            content = msg["content"]
            if msg["msg_type"] == "comm_msg":
                out.append(json.dumps(content["data"].get("state", {})))
            elif msg["msg_type"] == "stream":
                out.append(content["text"])
        return out

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture
def kernel_factory(tmp_path: Path) -> Iterator[Callable[[EmulatorProcess], KernelSession]]:
    sessions: list[KernelSession] = []

    def start(emulator: EmulatorProcess) -> KernelSession:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "MAI_WIDGETS_"))}
        config_dir = tmp_path / f"jupyter-config-{len(sessions)}"
        config_dir.mkdir()
        (config_dir / "mai_widgets_config.py").write_text(
            "c.MaiConfig.poll_initial = 0.1\nc.MaiConfig.poll_max = 0.5\n", encoding="utf-8"
        )
        env.update(emulator.env())
        env.update({"JUPYTER_CONFIG_DIR": str(config_dir), "IPYTHONDIR": str(tmp_path / "ipython")})
        session = KernelSession(env)
        sessions.append(session)
        session.execute("%load_ext mai_widgets")
        return session

    yield start
    for session in sessions:
        session.close()


def test_in_a_kernel_the_view_updates_while_the_cell_is_still_waiting(
    kernel_factory: Callable[[EmulatorProcess], KernelSession],
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    # CREATING lasts several polls (poll_max 0.5 s), so the view cannot miss it.
    kernel = kernel_factory(emulator_factory(init_seconds=0.5, creating_seconds=3.0))
    reply = kernel.execute(f"record = %register_image {PATH}\nprint('cell finished:', record.status)")
    assert reply["content"]["status"] == "ok"
    texts = kernel.texts()
    finished = next(i for i, t in enumerate(texts) if "cell finished: ACTIVE" in t)
    # After the magic returns nothing can touch the view until the cell ends (its worker only
    # queues changes), so updates seen before the print were sent while the cell waited.
    before = "\n".join(texts[:finished])
    assert ">INIT<" in before and ">CREATING<" in before and ">ACTIVE<" in before
    assert "ready to use" in before
    assert not any("ImageRecord(" in t for t in texts)  # the record is not shown a second time


def test_in_a_kernel_interrupting_stops_the_wait_not_the_cell(
    kernel_factory: Callable[[EmulatorProcess], KernelSession],
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    kernel = kernel_factory(emulator_factory(**SLOW))
    kernel.kc.execute(f"record = %register_image {PATH}\nprint('cell finished:', record.status)")
    # Interrupt once the view shows the registered image.
    deadline = 60.0
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        msg = kernel.kc.get_iopub_msg(timeout=deadline)
        kernel.messages.append(msg)
        if msg["msg_type"] == "comm_msg" and ">INIT<" in json.dumps(msg["content"]["data"]):
            break
    kernel.km.interrupt_kernel()
    reply = kernel.kc.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "ok"  # no KeyboardInterrupt traceback: the cell went on
    while True:
        msg = kernel.kc.get_iopub_msg(timeout=60)
        kernel.messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    text = "\n".join(kernel.texts())
    assert "cell finished: INIT" in text
    assert "Stopped following" in text
    assert "Traceback" not in text


def test_an_unexpected_failure_is_one_line_and_kept_for_tb(
    shell: InteractiveShell,
    magics: RegisterImageMagics,
    emu: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mai_widgets.services.codegen

    def broken(*_: Any) -> None:
        raise RuntimeError("a bug in the preview")

    monkeypatch.setattr(mai_widgets.services.codegen, "preview", broken)
    error, captured = run_failing(shell, f"%register_image {PATH} --dry-run")
    assert isinstance(error, RegisterImageError)
    text = assert_clean_block(captured)
    assert "unexpected RuntimeError" in text and "%tb" in text
    assert "a bug in the preview" not in text
    _, details = run(shell, "%tb")
    assert "a bug in the preview" in details.stdout and "Traceback" in details.stdout


def test_ctrl_c_in_a_terminal_stops_following_and_returns_the_record(
    shell: InteractiveShell,
    magics: RegisterImageMagics,
    slow_emu: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mai_widgets.kernel.controller import RegistrationController

    original = RegistrationController.wait_settled

    def interrupted(self: RegistrationController, timeout: float | None = None) -> bool:
        # Ctrl-C arrives on the main thread while it waits, once the image is registered.
        if self.record is not None and self.state == "watching" and not self.stopping:
            raise KeyboardInterrupt
        return original(self, timeout)

    monkeypatch.setattr(RegistrationController, "wait_settled", interrupted)
    result, captured = run(shell, f"%register_image {PATH}")
    assert isinstance(result, ImageRecord) and result.status == ImageStatus.INIT
    assert "stopped following (interrupted)" in captured.stdout
    assert image_count(slow_emu) == 1
    controller = magics.last_controller
    assert controller is not None and controller.worker is not None
    assert not controller.worker.is_alive()  # nothing keeps polling behind the terminal's prompt


def test_terminal_mode_goes_through_the_controller(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    """One orchestration: printed lines are a renderer of the same RegistrationController."""
    import mai_widgets.magics.register as magics_module

    assert not hasattr(magics_module, "_register_with_lines")
    record, captured = run(shell, f"%register_image {OTHER_PATH}")
    controller = magics.last_controller
    assert controller is not None and controller.record is record
    assert controller.state == "settled" and controller.outcome == "settled"
    assert magics.last_view is None  # no widget in a terminal
    assert f"{record.id}: ACTIVE" in captured.stdout


def test_in_a_kernel_a_failure_fails_the_cell_without_a_traceback(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """nbclient ("Run all"): each failure fails its cell with one clean block, and the run stops."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    cells = [
        ("%load_ext mai_widgets", False),
        (f"%register_image {PATH} --arch ARM64", True),
        (f"record = %register_image {FORBIDDEN_PATH}", True),
        (f"record = %register_image {MISSING_PATH} --no-preflight", True),
        ("print('record defined:', 'record' in globals())", False),
        ("%register_image -swr mai-demo/tensorflow:2.15.0 -rs GPU -a x86_64\nprint('after')", False),
        (f"%register_image {FORBIDDEN_PATH}", False),  # untagged: Run all stops here
        ("print('not reached')", False),
    ]
    nb = nbformat.v4.new_notebook()
    for source, may_fail in cells:
        cell = nbformat.v4.new_code_cell(source)
        if may_fail:
            cell.metadata["tags"] = ["raises-exception"]
        nb.cells.append(cell)
    replies: dict[int, str] = {}

    def on_cell_executed(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        replies[cell_index] = execute_reply["content"]["status"]

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "MAI_WIDGETS_"))}
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    (config_dir / "mai_widgets_config.py").write_text(
        "c.MaiConfig.poll_initial = 0.1\nc.MaiConfig.poll_max = 0.3\n", encoding="utf-8"
    )
    env.update(emulator.env())
    env.update({"JUPYTER_CONFIG_DIR": str(config_dir), "IPYTHONDIR": str(tmp_path / "ipython")})
    client = NotebookClient(
        nb, timeout=120, startup_timeout=120, kernel_name="python3", on_cell_executed=on_cell_executed
    )
    with pytest.raises(CellExecutionError) as stopped:
        client.execute(env=env)
    assert "ModelArts.2885" in str(stopped.value) and "Traceback" not in str(stopped.value)

    assert replies == {0: "ok", 1: "error", 2: "error", 3: "error", 4: "ok", 5: "ok", 6: "error"}
    assert nb.cells[7].outputs == []  # Run all stopped at the failing cell

    def outputs(index: int, kind: str) -> list[Any]:
        return [o for o in nb.cells[index].outputs if o.output_type == kind]

    (usage,) = outputs(1, "stream")
    assert usage.name == "stderr"
    assert usage.text.strip() == ("UsageError: %register_image: --arch 'ARM64' is not one of X86_64, AARCH64")
    assert outputs(1, "error") == []
    for index, first_line in (
        (2, "%register_image failed: permission-denied · HTTP 400 · ModelArts.2885"),
        (3, "%register_image failed: image "),
    ):
        (error,) = outputs(index, "error")
        assert error.ename == "RegisterImageError"
        assert error.traceback[0].startswith(first_line)
        shown = "\n".join(error.traceback)
        assert "Traceback" not in shown and 'File "' not in shown and "Cell In[" not in shown
        assert "Hint: " in shown
    assert "Request id: " in "\n".join(outputs(2, "error")[0].traceback)
    assert "ended CREATE_FAILED" in outputs(3, "error")[0].traceback[0]
    assert "record defined: False" in outputs(4, "stream")[0].text
    assert "after" in "".join(o.text for o in outputs(5, "stream"))
    text = nbformat.writes(nb)
    for secret in secrets(emulator):
        assert secret not in text


def test_an_ipython_script_goes_through_the_controller_and_stops_at_a_failure(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """``ipython script.ipy``: printed progress lines, and a failure ends the script with status 1."""
    import subprocess
    import sys

    script = tmp_path / "register.ipy"
    script.write_text(
        "%load_ext mai_widgets\n"
        "record = %register_image mai-demo/sklearn:1.5.0 -rs CPU\n"
        "print('status', record.status)\n"
        "%register_image mai-demo/not-in-swr:0.1 --no-preflight\n"
        "print('not reached')\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "MAI_WIDGETS_"))}
    env.update(emulator.env())
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    done = subprocess.run(
        [sys.executable, "-m", "IPython", "--colors=nocolor", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "registered image " in out and f"({OTHER_PATH}) with local ModelArts emulator" in out
    assert "status ACTIVE" in out
    assert "ended CREATE_FAILED" in out and "Hint: check that the image was pushed" in out
    assert "not reached" not in out
    assert "Traceback" not in out + done.stderr


# -- preflight ------------------------------------------------------------------------------------


def test_preflight_only_prints_and_returns_the_checks_and_registers_nothing(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    checks, captured = run(
        shell, "%register_image mai-demo/mindspore-ascend:2.3.0-aarch64 --preflight-only -s NOTEBOOK"
    )
    assert [(c.name, c.outcome) for c in checks] == [
        ("exists", "pass"),
        ("architecture", "warn"),
        ("user", "pass"),
        ("registered", "pass"),
    ]
    lines = captured.stdout.strip().splitlines()
    assert lines[4].endswith("<4 preflight checks: 3 pass, 1 warn, 0 fail>")  # the returned list, shown
    assert lines[0].startswith("✓ The image exists") and lines[1].startswith("⚠ ")
    assert "choose AARCH64" in lines[1]
    assert image_count(emu) == 0
    assert_no_secret(emu, captured.stdout)


def test_preflight_only_fails_the_cell_on_a_failed_check(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    shell.user_ns.pop("checks", None)
    error, captured = run_failing(shell, "checks = %register_image mai-demo/pytorch-cpu:2.3 --preflight-only")
    assert isinstance(error, RegisterImageError)
    text = assert_clean_block(captured)
    assert "%register_image failed: preflight: There is no tag 2.3 in mai-demo/pytorch-cpu in SWR" in text
    assert "Nearest tags: 2.3.0" in text and "✗ There is no tag 2.3" in captured.stdout
    assert "checks" not in shell.user_ns and image_count(emu) == 0


def test_by_default_a_failed_check_stops_the_registration(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    _, captured = run_failing(shell, f"%register_image {MISSING_PATH}")
    text = assert_clean_block(captured)
    assert "failed: preflight: There is no repository mai-demo/not-in-swr in SWR" in text
    assert "Hint: fix the SWR path, or register without checking: --no-preflight" in text
    assert image_count(emu) == 0


def test_by_default_a_warning_is_printed_and_registration_goes_on(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    record, captured = run(shell, "%register_image mai-demo/sklearn:1.5.0 -s NOTEBOOK")
    assert record.status == ImageStatus.ACTIVE
    assert "⚠ The image runs as root" in captured.stdout and "✓" not in captured.stdout
    assert image_count(emu) == 1


def test_no_preflight_registers_without_looking_in_swr(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    record, captured = run(shell, "%register_image mai-demo/sklearn:1.5.0 -s NOTEBOOK --no-preflight")
    assert record.status == ImageStatus.ACTIVE and "⚠" not in captured.stdout


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--preflight-only --no-preflight mai-demo/a:1", "cannot be combined with --no-preflight"),
        (
            "--preflight-only --dry-run mai-demo/a:1",
            "registers nothing; it cannot be combined with --dry-run",
        ),
        ("--preflight-only --no-wait mai-demo/a:1", "--preflight-only registers nothing"),
        ("--preflight-only", "SWR_PATH is required with --preflight-only"),
    ],
)
def test_preflight_flags_that_contradict_are_one_line(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess, line: str, message: str
) -> None:
    error, _ = run_failing(shell, f"%register_image {line}")
    assert isinstance(error, UsageError) and message in str(error)
