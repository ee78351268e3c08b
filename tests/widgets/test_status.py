"""StatusView: what it shows for each record, state and error; following an image live."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any

from widget_support import following_worker

from mai_widgets import StatusView
from mai_widgets.auth.config import load_config
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator.defaults import DEMO_SWR_IMAGES
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.errors import FieldProblem, ValidationError, api_error
from mai_widgets.kernel.controller import RegistrationController
from mai_widgets.services.images import ImageClient
from mai_widgets.widgets.status import STATUS_COLOURS
from mai_widgets.wire.contract import ImageRecord, ImageStatus, Origin

SETTLE = 60.0
GOOD = DEMO_SWR_IMAGES[1]


def make_client(emu: EmulatorProcess) -> ImageClient:
    config = load_config(env=emu.env(), config_dirs=[], poll_initial=0.1, poll_max=0.3)
    return ImageClient(config, Credentials(ak=emu.ak, sk=emu.sk))


def offline_controller() -> RegistrationController:
    """A controller that never talks to a server: the view is driven through its traits."""
    config = load_config(env={"MAI_WIDGETS_ENDPOINT": "http://127.0.0.1:9"}, config_dirs=[])
    return RegistrationController(config=config)


def record(**changes: Any) -> ImageRecord:
    values: dict[str, Any] = {
        "id": "708ca95d-c601-4dc7-86b9-670adfd5e818",
        "status": ImageStatus.CREATING,
        "name": "pytorch_1_8",
        "tag": "2.3.0",
        "namespace": "mai-demo",
        "swr_path": GOOD,
        "arch": "X86_64",
        "resource_categories": ("CPU", "GPU"),
        "services": ("NOTEBOOK", "SSH"),
        "service_type": "DEV",
        "visibility": "PRIVATE",
        "size": 3 * 1024 * 1024,
        "status_message": "reading the image manifest from SWR",
        "create_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        "update_at": datetime(2026, 1, 2, 3, 5, 5, tzinfo=timezone.utc),
    }
    return ImageRecord(**{**values, **changes})


def test_record_fields_are_shown_in_a_table() -> None:
    c = offline_controller()
    view = StatusView(c)
    c.state = "watching"
    c.record = record()
    # A long path may break after its "/" and "." in a narrow panel, never inside a word.
    assert "myhuaweicloud.<wbr>com/<wbr>mai-demo/<wbr>" in view.table.value
    table = view.table.value.replace("<wbr>", "")
    for text in (
        "pytorch_1_8",
        "2.3.0",
        "mai-demo",
        GOOD,
        "X86_64",
        "CPU, GPU",
        "NOTEBOOK, SSH",
        "DEV",
        "PRIVATE",
        "3.2 GB (3145728 KB)",  # the one size convention (tests/wire/test_format.py)
        "2026-01-02 03:04 UTC",
        "2026-01-02 03:05 UTC",
    ):
        assert text in table
    assert "708ca95d-c601-4dc7-86b9-670adfd5e818" in view.record_id.value
    assert "reading the image manifest" in view.message.value
    view.close()


def test_server_text_is_escaped() -> None:
    c = offline_controller()
    view = StatusView(c)
    evil = "<img src=x onerror=alert(1)>"
    c.record = record(name=evil, status_message=evil, description=evil, status=evil)
    shown = " ".join(w.value for w in (view.table, view.message, view.badge, view.state_line))
    assert "<img" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown
    c.error = api_error(400, "ModelArts.0104", evil, "req-<1>")
    assert "<img" not in view.error_box.value and "req-&lt;1&gt;" in view.error_box.value
    view.close()


def test_each_status_has_its_colour_and_progress_shows_until_terminal() -> None:
    c = offline_controller()
    view = StatusView(c)
    c.state = "watching"
    for status in ImageStatus:
        c.record = record(status=status)
        assert STATUS_COLOURS[status.value] in view.badge.value and status.value in view.badge.value
    assert len({STATUS_COLOURS[s] for s in ("INIT", "CREATING", "ACTIVE", "CREATE_FAILED")}) == 4
    # Colours come from CSS classes (JupyterLab's theme variables), never from Python.
    assert "style=" not in view.badge.value and "class='mai-badge mai-badge-" in view.badge.value
    c.record = record(status=ImageStatus.CREATING)
    assert view.progress.layout.display == ""
    assert view.follow_button.layout.display == "" and view.follow_button.description == "Stop following"
    c.record = record(status=ImageStatus.ACTIVE)
    c.state = "settled"
    assert view.progress.layout.display == "none"
    assert "ACTIVE: ready to use" in view.state_line.value
    view.close()


def test_an_unknown_status_from_a_newer_service_still_renders() -> None:
    c = offline_controller()
    view = StatusView(c)
    c.record = ImageRecord.from_wire({"id": "abc", "status": "FROZEN"})
    assert "FROZEN" in view.badge.value
    view.close()


def test_errors_show_code_message_request_id_and_hint_never_a_traceback() -> None:
    c = offline_controller()
    view = StatusView(c)
    c.error = api_error(403, "ModelArts.2885", "no permission on the SWR organization x", "req-123")
    c.state = "failed"
    box = view.error_box.value
    for text in (
        "permission-denied",
        "HTTP 403",
        "ModelArts.2885",
        "no permission on the SWR organization x",
        "req-123",
        "Hint:",
        "Organization Management",
    ):
        assert text in box
    assert "Traceback" not in box and "File " not in box
    assert "Failed; nothing was registered." in view.state_line.value
    c.error = ValidationError([FieldProblem("swr_path", "is required")])
    assert "swr_path: is required" in view.error_box.value
    view.close()


def test_states_are_always_described() -> None:
    c = offline_controller()
    view = StatusView(c)
    assert "Nothing registered yet" in view.state_line.value
    assert "EDITING" in view.badge.value
    c.state = "submitting"
    c.started_at = time.time() - 75
    assert "Sending the registration" in view.state_line.value
    assert view.elapsed.value.startswith("1 min")
    c.record = record(status=ImageStatus.CREATING)
    c.outcome = "stopped"
    c.state = "settled"
    assert "Stopped following; the image was still CREATING" in view.state_line.value
    assert view.follow_button.description == "Follow again"
    view.close()


def test_an_image_saved_from_a_notebook_is_told_in_its_own_words() -> None:
    """Origin IMAGE_SAVE: the same sentences, saying "saved from a notebook instance", never
    "registered"; what the front end receives (the synced value) says so too."""
    c = offline_controller()
    view = StatusView(c)
    saved = record(origin=Origin.IMAGE_SAVE, status=ImageStatus.CREATING, status_message=None)
    c.record, c.state, c.polls = saved, "watching", 3
    said = [view.state_line.value]
    assert "Saved from a notebook instance; following its status (CREATING, 3 status reads" in said[-1]
    c.outcome, c.state = "stopped", "settled"
    said.append(view.state_line.value)
    assert "Stopped following; the image was still CREATING (ModelArts carries on with the save)" in said[-1]
    c.outcome = "timeout"
    said.append(view.state_line.value)
    assert "Gave up waiting; the image was still CREATING (ModelArts carries on with the save)" in said[-1]
    c.outcome, c.record = "settled", saved.with_changes(status=ImageStatus.ACTIVE)
    said.append(view.state_line.get_state()["value"])  # what the comm sends
    assert "The image was saved from a notebook instance and is ACTIVE: ready to use." in said[-1]
    c.record = saved.with_changes(status=ImageStatus.CREATE_FAILED)
    said.append(view.state_line.value)
    assert "The image saved from a notebook instance ended CREATE_FAILED." in said[-1]
    assert not any("registered" in line.lower() or "registration" in line for line in said), said
    # The same view, the same sentences, for a registration (origin CUSTOMIZE or not said).
    for origin in (Origin.CUSTOMIZE, None):
        c.record = saved.with_changes(status=ImageStatus.ACTIVE, origin=origin)
        assert "The image was registered and is ACTIVE: ready to use." in view.state_line.value
    c.outcome = "stopped"
    c.record = saved.with_changes(origin=None)
    assert "(ModelArts carries on with the registration)" in view.state_line.value
    view.close()


def test_stable_css_classes() -> None:
    view = StatusView(offline_controller())
    assert "mai-status-view" in view._dom_classes
    assert "mai-status-badge" in view.badge._dom_classes
    assert "mai-record-id" in view.record_id._dom_classes
    view.close()


def test_for_image_follows_live_and_close_ends_the_thread(emulator: EmulatorProcess) -> None:
    client = make_client(emulator)
    registered = client.register(swr_path=GOOD)
    view = StatusView.for_image(registered.id, client=client)
    c = view.controller
    seen: list[str] = []
    c.observe(lambda ch: seen.append(str(ch["new"].status)) if ch["new"] else None, names="record")
    assert c.wait_settled(SETTLE)
    assert c.state == "settled" and c.record is not None and c.record.status == ImageStatus.ACTIVE
    assert "ACTIVE" in view.badge.value and registered.id in view.record_id.value
    assert seen and seen[-1] == "ACTIVE"
    assert "local ModelArts emulator" in view.endpoint_line.value
    view.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("mai-widgets-")]


def test_closing_a_following_view_stops_its_thread(emulator_factory: Any) -> None:
    emu = emulator_factory(creating_seconds=60)
    client = make_client(emu)
    registered = client.register(swr_path=GOOD)
    view = StatusView.for_image(registered.id, client=client)
    worker = following_worker(view.controller, time.monotonic() + SETTLE)
    view.close()
    assert not worker.is_alive()
