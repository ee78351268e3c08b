"""``%register_image`` on a real IPython shell, against the emulator over HTTP.

What the user sees is what is asserted: the printed lines (stdout/stderr), the displayed
outputs, the cell's ``Out`` and the value returned; and what ModelArts (the emulator's store)
received. Widget mode runs the StatusView on comm's DummyComm.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import get_ipython
from IPython.utils.capture import CapturedIO, capture_output

import mai_widgets
from mai_widgets.contract import ImageRecord, ImageStatus
from mai_widgets.emulator.defaults import DEFAULTS
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.magics import RegisterImageMagics, load_ipython_extension

PATH = "swr.cn-north-4.myhuaweicloud.com/mai-demo/pytorch-cpu:2.3.0"
OTHER_PATH = "swr.cn-north-4.myhuaweicloud.com/mai-demo/sklearn:1.5.0"
MISSING_PATH = "swr.cn-north-4.myhuaweicloud.com/mai-demo/not-in-swr:0.1"
FORBIDDEN_PATH = f"swr.cn-north-4.myhuaweicloud.com/{DEFAULTS.forbidden_namespace}/model:1.0"
SLOW = {"init_seconds": 60.0, "creating_seconds": 60.0}


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    ip = get_ipython()
    load_ipython_extension(ip)
    return ip


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
        "--service-type DEV --visibility PUBLIC --origin CUSTOMIZE --workspace-id ws-team_1 "
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
    assert result.workspace_id == "ws-team_1"
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


def test_registering_again_returns_the_existing_image(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    first, _ = run(shell, f"%register_image {PATH}")
    again, captured = run(shell, f"%register_image {PATH}")
    assert again.id == first.id and again.already_registered
    assert "already registered" in captured.stdout
    assert image_count(emu) == 1


def test_no_wait_returns_right_after_registering(
    shell: InteractiveShell,
    magics: RegisterImageMagics,
    slow_emu: EmulatorProcess,
) -> None:
    result, captured = run(shell, f"%register_image {PATH} --no-wait")
    assert isinstance(result, ImageRecord) and result.status == ImageStatus.INIT
    assert image_count(slow_emu) == 1
    assert "not waiting" in captured.stdout


def test_timeout_bounds_the_wait(
    shell: InteractiveShell,
    magics: RegisterImageMagics,
    slow_emu: EmulatorProcess,
) -> None:
    result, captured = run(shell, f"%register_image {PATH} --timeout 0.5")
    assert isinstance(result, ImageRecord) and not result.is_terminal
    assert "stopped following (timeout)" in captured.stdout
    assert "Traceback" not in shown_text(captured)


def test_an_image_that_fails_to_build_is_returned_and_said_on_stderr(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    result, captured = run(shell, f"%register_image {MISSING_PATH}")
    assert result.status == ImageStatus.CREATE_FAILED
    assert "ended CREATE_FAILED" in captured.stderr
    assert len(captured.stderr.strip().splitlines()) == 1


def test_an_api_error_is_one_line_with_code_and_hint(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    result, captured = run(shell, f"%register_image {FORBIDDEN_PATH}")
    assert result is None
    lines = captured.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "ModelArts.2885" in lines[0] and "grant it in SWR" in lines[0]
    assert "Traceback" not in shown_text(captured)
    assert image_count(emu) == 0


def test_missing_credentials_name_the_variables(
    shell: InteractiveShell,
    magics: RegisterImageMagics,
    emu: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HUAWEICLOUD_SDK_SK")
    result, captured = run(shell, f"%register_image {PATH}")
    assert result is None
    lines = captured.stderr.strip().splitlines()
    assert len(lines) == 1 and "HUAWEICLOUD_SDK_SK" in lines[0]
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
    ("--arch X86_64", ["SWR_PATH is required", "registry[:port]/namespace/name:tag"]),
    ("--dry-run", ["SWR_PATH is required with --dry-run"]),
    (f"{PATH} --arch ARM64", ["--arch", "'ARM64'", "X86_64, AARCH64"]),
    (f"{PATH} --arch", ["--arch needs a value", "X86_64, AARCH64"]),
    (f"{PATH} --resource-category TPU", ["--resource-category", "'TPU'", "CPU, GPU, ASCEND"]),
    (f"{PATH} --resource-category", ["--resource-category needs a value", "one or more of CPU, GPU, ASCEND"]),
    (f"{PATH} --service HTTP", ["--service", "'HTTP'", "NOTEBOOK, SSH"]),
    (f"{PATH} --service-type BATCH", ["--service-type", "COMMON, INFERENCE, TRAIN, DEV, UNKNOWN"]),
    (f"{PATH} --visibility SECRET", ["--visibility", "PRIVATE, PUBLIC"]),
    (f"{PATH} --origin DOCKERHUB", ["--origin", "CUSTOMIZE, IMAGE_SAVE"]),
    (f"{PATH} --workspace-id a/b", ["--workspace-id", "letters, digits"]),
    (f"{PATH} --description {'x' * 513}", ["--description must be at most 512 characters"]),
    ("swr.cn-north-4.myhuaweicloud.com/Upper/Case:1", ["SWR_PATH must look like", "registry[:port]"]),
    ("short/x:1", ["SWR_PATH must be 16 to 2048 characters"]),
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
    result, captured = run(shell, f"%register_image {arguments}")
    assert result is None
    assert captured.stdout == "" and captured.outputs == []
    lines = captured.stderr.splitlines()
    assert len(lines) == 1, captured.stderr
    assert lines[0].startswith("%register_image: ")
    for text in expected:
        assert text in lines[0]
    assert "Traceback" not in lines[0]
    assert image_count(emu) == 0


def test_a_bad_argument_does_not_fail_the_cell(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    with capture_output():
        result = shell.run_cell(f"%register_image {PATH} --arch ARM64\nafter = 'the cell carried on'")
    assert result.success
    assert shell.user_ns["after"] == "the cell carried on"


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


def test_widget_timeout_says_it_gave_up(
    shell: InteractiveShell,
    magics: RegisterImageMagics,
    slow_emu: EmulatorProcess,
) -> None:
    magics.use_widgets = True
    result, _ = run(shell, f"%register_image {PATH} --timeout 0.5")
    assert isinstance(result, ImageRecord) and not result.is_terminal
    view = magics.last_view
    assert view is not None and view.controller.outcome == "timeout"
    assert "Gave up waiting" in view.state_line.value


def test_an_api_error_shows_in_the_status_view(
    shell: InteractiveShell, magics: RegisterImageMagics, emu: EmulatorProcess
) -> None:
    magics.use_widgets = True
    result, captured = run(shell, f"%register_image {FORBIDDEN_PATH}")
    assert result is None
    assert "Traceback" not in shown_text(captured)
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
    import mai_widgets.codegen

    def broken(*_: Any) -> None:
        raise RuntimeError("a bug in the preview")

    monkeypatch.setattr(mai_widgets.codegen, "preview", broken)
    result, captured = run(shell, f"%register_image {PATH} --dry-run")
    assert result is None
    lines = captured.stderr.splitlines()
    assert len(lines) == 1 and "unexpected RuntimeError" in lines[0] and "%tb" in lines[0]
    _, details = run(shell, "%tb")
    assert "a bug in the preview" in details.stdout


def test_ctrl_c_in_a_terminal_stops_following_and_returns_the_record(
    shell: InteractiveShell,
    magics: RegisterImageMagics,
    emu: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mai_widgets.client import ImageClient

    def interrupted(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ImageClient, "wait", interrupted)
    result, captured = run(shell, f"%register_image {PATH}")
    assert isinstance(result, ImageRecord) and result.status == ImageStatus.INIT
    assert "stopped following (interrupted)" in captured.stdout
    assert image_count(emu) == 1
