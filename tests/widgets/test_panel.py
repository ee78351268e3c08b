"""RegisterPanel driven through its widgets (comm's DummyComm), against the emulator over HTTP."""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import pytest
from widget_support import (
    CREDENTIAL_VARS,
    following_worker,
    make_client,
    stored_count,
    with_refused_arch,
)

import mai_widgets
from mai_widgets import RegisterPanel, StatusView
from mai_widgets.auth.config import load_config
from mai_widgets.emulator.defaults import DEFAULTS, DEMO_SWR_IMAGES
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.kernel.controller import RegistrationController
from mai_widgets.wire.contract import ImageStatus, RegisterRequest

SETTLE = 60.0
GOOD = DEMO_SWR_IMAGES[2]
NOT_IN_SWR = f"{DEFAULTS.registry}/mai-demo/never-pushed:1.0"
FORBIDDEN = f"{DEFAULTS.registry}/{DEFAULTS.forbidden_namespace}/private-image:1.0"


def settle(panel: RegisterPanel) -> None:
    assert panel.controller.wait_settled(SETTLE), "the registration did not end in time"


def stored(emu: EmulatorProcess, image_id: str) -> dict[str, Any]:
    with emu.store() as store:
        found = store.get(emu.project_id, image_id, int(time.time() * 1000))
    assert found is not None
    return dict(found)


def preview_body(panel: RegisterPanel) -> dict[str, Any]:
    """The JSON body exactly as the preview widget shows it to the user."""
    text = html.unescape(re.sub(r"<[^>]+>", "", panel.preview_http.value))
    head, _, body = text.partition("\n\n")
    assert head.startswith("POST http")
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def descendants(widget: widgets.Widget) -> list[widgets.Widget]:
    """A widget and everything under it: children, layouts and styles."""
    found = [widget]
    for name in ("children", "layout", "style"):
        value = getattr(widget, name, None)
        for child in value if isinstance(value, tuple) else [value]:
            if isinstance(child, widgets.Widget):
                found += descendants(child)
    return found


def fill(panel: RegisterPanel) -> None:
    """Set every field through its widget, typing the SWR path one character at a time."""
    for i in range(1, len(GOOD) + 1):
        panel.swr_path.value = GOOD[:i]
        if i == 20:  # half typed: the message is already there, next to the field
            assert panel.field_errors["swr_path"].value != ""
            assert panel.register_button.disabled
    panel.arch.value = "AARCH64"
    panel.resource_category.boxes["CPU"].value = False
    panel.resource_category.boxes["GPU"].value = False
    panel.resource_category.boxes["ASCEND"].value = True
    panel.services.boxes["SSH"].value = False
    panel.service_type.value = "TRAIN"
    panel.origin.value = "CUSTOMIZE"
    panel.visibility.value = "PUBLIC"
    panel.workspace_id.value = "0123456789abcdef0123456789abcd42"
    panel.description.value = "MindSpore on Ascend <b>fast</b>"


def test_fill_click_register_and_reach_active_with_the_previewed_request(emulator: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emulator))
    fill(panel)
    assert panel.field_errors["swr_path"].value == ""
    assert not panel.register_button.disabled
    assert "Ready" in panel.reason.value
    panel.preview_button.click()
    assert panel.preview_box.layout.display == ""
    shown = preview_body(panel)
    assert shown == {
        "swr_path": GOOD,
        "arch": "AARCH64",
        "resource_category": ["ASCEND"],
        "services": ["NOTEBOOK"],
        "service_type": "TRAIN",
        "origin": "CUSTOMIZE",
        "visibility": "PUBLIC",
        "description": "MindSpore on Ascend <b>fast</b>",
        "workspace_id": "0123456789abcdef0123456789abcd42",
    }
    assert f"/v1/{emulator.project_id}/images" in panel.preview_http.value
    panel.register_button.click()
    settle(panel)
    c = panel.controller
    assert c.state == "settled" and c.record is not None and c.record.status == ImageStatus.ACTIVE
    assert "ACTIVE" in panel.status_view.badge.value
    assert c.record.id in panel.status_view.record_id.value
    # The emulator holds exactly the request the widgets showed.
    row = stored(emulator, c.record.id)
    assert row["swr_path"] == shown["swr_path"]
    assert row["arch"].upper() == shown["arch"]
    assert row["resource_categories"] == shown["resource_category"]
    assert row["dev_services"] == shown["services"]
    for name in ("service_type", "origin", "visibility", "description", "workspace_id"):
        assert row[name] == shown[name]
    assert stored_count(emulator) == 1
    panel.close()


def test_create_failed_shows_its_message(emulator: EmulatorProcess) -> None:
    # registering by path (no preflight) reaches the service, which fails it
    panel = RegisterPanel(client=make_client(emulator), swr_path=NOT_IN_SWR, preflight=False)
    panel.register_button.click()
    settle(panel)
    assert "CREATE_FAILED" in panel.status_view.badge.value
    assert "was not found" in panel.status_view.message.value
    assert "ended CREATE_FAILED" in panel.status_view.state_line.value
    panel.close()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("401", ("unauthenticated", "HTTP 401", "APIG.0301", "HUAWEICLOUD_SDK_SK")),
        ("403", ("permission-denied", "HTTP 400", "ModelArts.2885", "Organization Management")),
        ("500", ("server-error", "HTTP 500", "may have taken effect")),
    ],
)
def test_api_errors_are_shown_with_code_request_id_and_hint(
    emulator_factory: Callable[..., EmulatorProcess], case: str, expected: tuple[str, ...]
) -> None:
    emu = emulator_factory(**({"fault_rate": 1, "faults": "500"} if case == "500" else {}))
    client = make_client(emu, sk="a-wrong-secret-key" if case == "401" else None, max_retries=0)
    # The checks are off: this is about what the register call's own errors look like.
    panel = RegisterPanel(client=client, swr_path=FORBIDDEN if case == "403" else GOOD, preflight=False)
    panel.register_button.click()
    settle(panel)
    box = panel.status_view.error_box.value
    for text in (*expected, "Request id:", "Hint:"):
        assert text in box
    assert "Traceback" not in box
    assert panel.controller.state == "failed"
    # The error does not lock the form: fixing and retrying is possible.
    assert not panel.register_button.disabled
    panel.close()


class BypassingController(RegistrationController):
    """Sends an architecture the contract refuses, so the server's own validation answers."""

    @property
    def request(self) -> RegisterRequest | None:
        sendable = {k: v for k, v in self.fields.items() if v not in ("", None)}
        return with_refused_arch(RegisterRequest.create(**sendable))


def test_server_side_validation_error_is_shown(emulator: EmulatorProcess) -> None:
    controller = BypassingController(make_client(emulator), swr_path=GOOD)
    panel = RegisterPanel(controller=controller)
    panel.register_button.click()
    settle(panel)
    box = panel.status_view.error_box.value
    assert "HTTP 400" in box and "ModelArts.0104" in box and "arch" in box
    assert stored_count(emulator) == 0
    panel.close()


def test_double_click_registers_once(emulator: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emulator), swr_path=GOOD, preflight=False)
    panel.register_button.click()
    panel.register_button.click()
    assert panel.register_button.disabled  # busy: the second click was refused
    assert "one registration at a time" in panel.reason.value
    settle(panel)
    assert stored_count(emulator) == 1
    panel.close()


def test_invalid_input_keeps_register_disabled_and_says_why(emulator: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emulator))
    assert panel.register_button.disabled
    # An empty new form shows no field message; the reason only names the field to fill in.
    assert all(message.value == "" for message in panel.field_errors.values())
    assert "fill in SWR path" in panel.reason.value and "required" not in panel.reason.value
    panel.swr_path.value = "swr.example.com/Upper/Case:tag"
    assert "must be lower case" in panel.field_errors["swr_path"].value
    # The problem is said once, next to its field; the reason line points at the field.
    assert "lower case" not in panel.reason.value and "check SWR path" in panel.reason.value
    panel.swr_path.value = GOOD
    for box in panel.resource_category.boxes.values():
        box.value = False
    assert "must name at least one" in panel.field_errors["resource_category"].value
    assert "Resource categories must name at least one" in html.unescape(
        panel.field_errors["resource_category"].value
    )
    assert "check Resource categories" in html.unescape(panel.reason.value)
    panel.resource_category.boxes["GPU"].value = True
    panel.description.value = "d" * 513
    assert panel.description_counter.value == "513 / 512"
    assert "at most 512" in panel.field_errors["description"].value
    assert panel.register_button.disabled
    panel.register_button.click()  # a click on a disabled button from code sends nothing either
    panel.description.value = "d" * 512
    assert panel.description_counter.value == "512 / 512"
    assert not panel.register_button.disabled
    panel.workspace_id.value = "../1"
    assert panel.field_errors["workspace_id"].value != "" and panel.register_button.disabled
    assert stored_count(emulator) == 0
    panel.close()


def test_an_attempt_to_register_shows_the_untouched_fields_messages(emulator: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emulator))
    assert panel.field_errors["swr_path"].value == ""
    panel.register_button.click()
    assert "SWR path is required" in panel.field_errors["swr_path"].value
    assert stored_count(emulator) == 0
    panel.close()


def test_a_field_given_by_code_shows_its_message_at_once(emulator: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emulator), swr_path="no-tag")
    assert panel.field_errors["swr_path"].value != ""
    assert all(m.value == "" for n, m in panel.field_errors.items() if n != "swr_path")
    panel.close()


def test_missing_credentials_disable_register_with_the_variables_to_set(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    panel = RegisterPanel(config=load_config(env=emulator.env(), config_dirs=[]), swr_path=GOOD)
    assert panel.register_button.disabled
    assert "set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK" in panel.reason.value
    panel.close()


def test_closing_the_panel_stops_its_polling(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(creating_seconds=60)
    panel = RegisterPanel(client=make_client(emu), swr_path=GOOD, preflight=False)
    panel.register_button.click()
    deadline = time.monotonic() + SETTLE
    following_worker(panel.controller, deadline)
    panel.status_view.follow_button.click()  # "Stop following", then follow again
    assert panel.controller.wait_settled(SETTLE) and panel.controller.outcome == "stopped"
    panel.status_view.follow_button.click()
    worker = following_worker(panel.controller, deadline)
    panel.close()
    assert not worker.is_alive()
    assert not [t for t in threading.enumerate() if t.name.startswith("mai-widgets-")]
    assert panel.comm is None and panel.register_button.comm is None and panel.status_view.comm is None


def test_no_secret_reaches_widget_state_or_the_preview(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {
        "HUAWEICLOUD_SDK_AK": DEFAULTS.temp_ak,
        "HUAWEICLOUD_SDK_SK": DEFAULTS.temp_sk,
        "HUAWEICLOUD_SDK_SECURITY_TOKEN": DEFAULTS.security_token,
        "MAI_WIDGETS_TOKEN": "an-iam-token-value-0123456789",
        "MAI_WIDGETS_IAM_PASSWORD": DEFAULTS.iam_password,
    }
    for name, value in {**emulator.env(), **secrets}.items():
        monkeypatch.setenv(name, value)
    panel = mai_widgets.RegisterPanel(swr_path=GOOD)  # reads the configuration like ImageClient
    panel.controller.config.poll_initial = 0.1
    panel.description.value = "secrets never leave the kernel"
    panel.preview_button.click()
    panel.register_button.click()  # the checks run first, through SWR, with the same secrets
    settle(panel)
    if panel.controller.needs_confirmation():  # registered by an earlier test: "Register anyway"
        panel.preflight_view.confirm.click()
        settle(panel)
    assert panel.controller.record is not None and panel.controller.record.status == ImageStatus.ACTIVE
    state = json.dumps(widgets.Widget.get_manager_state(drop_defaults=False))
    every_widget = json.dumps([w.get_state() for w in descendants(panel)], default=str)
    text = "\n".join([state, every_widget, panel.preview_text, repr(panel), repr(panel.controller.error)])
    for name, value in secrets.items():
        assert value not in text, f"{name} leaked"
    assert "os.environ['HUAWEICLOUD_SDK_AK']" in panel.preview_text
    assert "${MAI_WIDGETS_TOKEN}" in panel.preview_text
    panel.close()
    # A rejected signature: the error shown names the variables, never their values.
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "a-wrong-secret-key-value")
    failing = mai_widgets.RegisterPanel(swr_path=DEMO_SWR_IMAGES[4])
    failing.register_button.click()
    settle(failing)
    assert failing.controller.needs_confirmation()  # the checks could not sign in either: a warning
    failing.preflight_view.confirm.click()  # "Register anyway"
    settle(failing)
    assert "HTTP 401" in failing.status_view.error_box.value
    state = json.dumps(widgets.Widget.get_manager_state(drop_defaults=False))
    for value in (*secrets.values(), "a-wrong-secret-key-value"):
        assert value not in state and value not in repr(failing.controller.error)
    failing.close()


def test_stable_classes_and_labels_for_browser_tests(emulator: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emulator))
    assert "mai-register-panel" in panel._dom_classes
    assert "mai-register-button" in panel.register_button._dom_classes
    assert "mai-swr-path" in panel.swr_path._dom_classes
    assert "mai-arch" in panel.arch._dom_classes
    assert all("mai-field-error" in w._dom_classes for w in panel.field_errors.values())
    assert isinstance(panel.status_view, StatusView) and "mai-status-view" in panel.status_view._dom_classes
    assert "mai-status-badge" in panel.status_view.badge._dom_classes
    assert "mai-record-id" in panel.status_view.record_id._dom_classes
    assert panel.swr_path.description == "SWR path" and panel.swr_path.continuous_update
    assert panel.arch.description == "Architecture" and list(panel.arch.options) == ["X86_64", "AARCH64"]
    assert panel.resource_category.children[0].value == "Resource categories"
    assert panel.services.children[0].value == "Services"
    assert panel.register_button.description == "Register"
    assert panel.description.continuous_update
    assert f"local ModelArts emulator at {emulator.url}" in panel.endpoint_line.value
    panel.close()


def test_defaults_initial_fields_and_code_changes_show_in_the_widgets(emulator: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emulator))
    # the service's own default when resource_category is omitted: CPU and GPU
    assert panel.arch.value == "X86_64" and panel.resource_category.value == ["CPU", "GPU"]
    assert panel.services.value == ["NOTEBOOK", "SSH"] and panel.origin.value == "CUSTOMIZE"
    assert panel.workspace_id.value == "0" and panel.description_counter.value == "0 / 512"
    panel.close()
    panel = RegisterPanel(
        client=make_client(emulator), swr_path=GOOD, arch="aarch64", resource_category=["GPU"]
    )
    assert panel.swr_path.value == GOOD and panel.arch.value == "AARCH64"
    assert panel.resource_category.value == ["GPU"]
    panel.controller.set_field("services", ["SSH"])
    assert panel.services.value == ["SSH"]
    panel.close()


def test_in_a_real_kernel_changes_land_on_the_main_thread(emulator: EmulatorProcess) -> None:
    """ipykernel runs an asyncio loop on its main thread: the worker's changes go through it."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    env = json.dumps(emulator.env())
    cells = [
        f"import json, os, threading\nos.environ.update(json.loads({env!r}))\n"
        "import mai_widgets\npanel = mai_widgets.RegisterPanel()\n"
        "threads = set()\n"
        "panel.controller.observe(lambda _: threads.add(threading.current_thread().name), names=['state', 'record'])\n"
        f"panel.swr_path.value = {DEMO_SWR_IMAGES[3]!r}\npanel.register_button.click()",
        "assert panel.controller.wait_settled(60)\n"
        "print(panel.controller.state, panel.controller.record.status, sorted(threads), panel.controller._writer.uses_loop)",
        "panel.close()",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    out = nb.cells[1].outputs[0]["text"]
    assert out.split() == ["settled", "ACTIVE", "['MainThread']", "True"]


# -- the cold open: only what a new form shows is built, and nothing waits on the network ------


def tree_classes(widget: widgets.Widget) -> set[str]:
    """The DOM classes of a widget and of everything under it (what the browser is sent)."""
    found = set(getattr(widget, "_dom_classes", ()))
    for child in getattr(widget, "children", ()):
        found |= tree_classes(child)
    return found


def test_a_new_form_goes_out_once_as_it_is_shown(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each widget of a new Workbench is sent once, already as the form shows it: no update
    follows its comm_open while the form is built (each is one more message for the kernel, the
    server and the browser while the panel opens). Then an edit does send its update."""
    import comm

    from mai_widgets.widgets.workbench import Workbench

    sent: list[str] = []
    original = comm.DummyComm.publish_msg

    def publish(self: comm.DummyComm, msg_type: str, *args: Any, **kwargs: Any) -> None:
        sent.append(msg_type)
        original(self, msg_type, *args, **kwargs)

    monkeypatch.setattr(comm.DummyComm, "publish_msg", publish)
    bench = Workbench(client=make_client(emulator))
    try:
        panel = bench.register_panel
        assert sent and set(sent) == {"comm_open"}
        assert panel.register_button.disabled and "Register is disabled" in panel.reason.value
        assert (
            panel.description_counter.value == "0 / 512" and "mai-endpoint-line" in panel.endpoint_line.value
        )
        sent.clear()
        panel.description.value = "four"
        assert "comm_msg" in sent and panel.description_counter.value == "4 / 512"
    finally:
        bench.close()


def test_a_new_form_builds_its_status_preview_and_messages_when_first_needed(
    emulator: EmulatorProcess,
) -> None:
    panel = RegisterPanel(client=make_client(emulator), preflight=False)
    later = {"mai-status-view", "mai-preview", "mai-register-again-offer", "mai-field-error"}
    assert not tree_classes(panel) & later
    assert len({w.model_id for w in descendants(panel)}) < 55  # 99 with every part built at once
    panel.preview_button.click()
    assert "mai-preview" in tree_classes(panel) and panel.preview_box.layout.display == ""
    assert "Nothing to preview yet" in panel.preview_http.value
    panel.preview_button.click()
    assert (
        panel.preview_box.layout.display == "none" and panel.preview_button.description == "Preview request"
    )
    panel.swr_path.value = "Not A Path"
    assert "mai-field-error-swr-path" in tree_classes(panel) and panel.field_errors["swr_path"].value
    assert "mai-field-error-arch" not in tree_classes(panel)  # no message: no widget
    assert "mai-status-view" not in tree_classes(panel)
    panel.swr_path.value = GOOD
    assert panel.field_errors["swr_path"].value == ""  # made once, emptied when fixed
    panel.register_button.click()
    assert "mai-status-view" in tree_classes(panel)  # a registration started: its status shows
    settle(panel)
    assert "ACTIVE" in panel.status_view.badge.value
    children = list(panel.children)
    assert children.index(panel.status_view) < children.index(panel.preview_box)
    panel.close()
    assert panel.status_view.comm is None and panel.field_errors["arch"].comm is None
    assert panel.again_box.comm is None  # asked for after close: made closed


def test_building_a_panel_loads_no_http_library_and_asks_no_service(tmp_path: Any) -> None:
    """Nothing configured: the metadata service would be asked, but only once the form is shown."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, time\n"
        "from mai_widgets.auth.config import load_config\n"
        "from mai_widgets.widgets.panel import RegisterPanel\n"
        "from mai_widgets.widgets.workbench import Workbench\n"
        # nowhere to ask: a closed port on this machine answers at once
        "config = load_config(env={'MAI_WIDGETS_METADATA_ENDPOINT': 'http://127.0.0.1:9'}, config_dirs=[])\n"
        "panel, bench = RegisterPanel(config=config), Workbench(config=config)\n"
        "assert panel.controller.missing and bench.register_panel.controller.missing\n"
        "time.sleep(0.5)  # time for a background look-up to have started\n"
        "loaded = [m for m in ('requests', 'urllib3') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "bench._repr_mimebundle_()  # shown: the look-up starts (no loop here: at once)\n"
        "time.sleep(0.5)\n"
        "assert 'requests' in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARS and not k.startswith("MAI_")}
    env["HOME"] = str(tmp_path)  # no credentials file either
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr


def test_the_checks_of_a_starting_path_wait_until_the_form_is_shown(emulator: EmulatorProcess) -> None:
    from mai_widgets.kernel.controller import PREFLIGHT_DELAY
    from mai_widgets.widgets.workbench import Workbench

    panel = RegisterPanel(client=make_client(emulator), swr_path=GOOD)
    bench = Workbench(make_client(emulator), swr_path=GOOD)
    edited = RegisterPanel(client=make_client(emulator), swr_path=GOOD)
    try:
        time.sleep(PREFLIGHT_DELAY + 0.5)
        for held in (panel, bench.register_panel, edited):
            assert held.controller.preflight_state == "waiting"
        panel._repr_mimebundle_()  # shown in a notebook (no kernel loop here: it starts at once)
        bench._repr_mimebundle_()  # the side panel shows the Workbench
        edited.arch.value = "AARCH64"  # an edit: the form is in use
        deadline = time.monotonic() + SETTLE
        for shown in (panel, bench.register_panel, edited):
            while shown.controller.preflight_state != "done" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert shown.controller.preflight_state == "done" and shown.controller.checks
    finally:
        panel.close()
        bench.close()
        edited.close()
