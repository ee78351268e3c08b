"""The Workbench's "Save notebook" tab (SaveNotebookView) driven through its widgets (comm's
DummyComm), against the emulator over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import ipywidgets as widgets
import pytest
from widget_support import make_client

from mai_widgets import Workbench
from mai_widgets.emulator.defaults import DEFAULTS, notebook_id_for
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.widgets.save_tab import SaveNotebookView
from mai_widgets.widgets.workbench import IMAGES_TAB, SAVE_TAB, TAB_TITLES
from mai_widgets.wire.contract import ImageStatus

WAIT = 30.0
DEMO_ID = notebook_id_for(DEFAULTS.project_id, DEFAULTS.demo_notebook)


def wait_for(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_the_tab_is_built_when_opened_with_the_demo_instance_and_defaults(emulator: EmulatorProcess) -> None:
    bench = Workbench(make_client(emulator))
    try:
        assert TAB_TITLES[SAVE_TAB] == "Save notebook" == bench.titles[SAVE_TAB]
        assert bench.save_box.children == (), "nothing is built or listed before the tab is opened"
        bench.selected_index = SAVE_TAB
        view = bench.save_view
        assert view.wait_idle(WAIT)
        assert [w.description for w in view.inputs.values()] == [
            "Instance",
            "Organization",
            "Name",
            "Tag",
            "Description",
        ]
        assert view.save_button.description == "Save"
        assert view.instance.value == DEMO_ID and "this one" in view.instance.label
        # the drop-down may cut the name at the side bar's width: the line under it says it whole
        assert "This kernel runs in mai-demo-notebook" in view.listing.value
        assert view.organization.value == "mai-demo" and "mai-demo" in view.organization.options
        assert view.name.value == DEFAULTS.demo_notebook_image
        assert view.tag.value and view.tag.value[:8].isdigit()
        assert "/home/ma-user/work" in view.not_kept.value and "unavailable" in view.not_kept.value
        assert not view.save_button.disabled and "Ready: Save sends" in view.reason.value
        assert all(m.value == "" for m in view.field_errors.values())
    finally:
        bench.close()


def test_a_message_per_rule_once_touched_and_save_says_why_it_is_disabled(emulator: EmulatorProcess) -> None:
    view = SaveNotebookView(make_client(emulator))
    try:
        assert view.wait_idle(WAIT)
        view.name.value = "-Bad Name"
        message = view.field_errors["name"].value
        assert "Name may contain only lower-case letters" in message
        assert "Name must start with a lower-case letter or a digit" in message
        assert view.save_button.disabled and "Save is disabled: check Name" in view.reason.value
        assert view.field_errors["tag"].value == ""
        view.organization.value = "mai-shared"  # readable, not writable
        assert "read-only for these credentials" in view.field_errors["namespace"].value
        view.name.value = "good-name"
        view.organization.value = "mai-demo"
        assert not view.save_button.disabled
    finally:
        view.close()


def test_save_moves_both_states_to_active_notifies_and_selects_the_image(
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    emu = emulator_factory(snapshot_seconds=1.5)
    bench = Workbench(make_client(emu))
    try:
        view = bench.show_save()
        assert view.wait_idle(WAIT)
        view.name.value = "my-env"
        view.description.value = "saved from the tab"
        seen: list[str] = []
        view.notebook_state.observe(lambda c: seen.append(c["new"]), names="value")
        view.save_button.click()
        view.save_button.click()  # a double click saves once
        assert view.controller.wait_settled(WAIT)
        c = view.controller
        assert c.state == "settled" and c.error is None
        assert c.record is not None and c.record.status == ImageStatus.ACTIVE
        assert (
            "INIT → CREATING → ACTIVE" in view.image_state.value
            or "CREATING → ACTIVE" in view.image_state.value
        )
        assert "SNAPSHOTTING → RUNNING" in view.notebook_state.value
        assert any("unavailable while it saves" in s for s in seen)
        assert "mai-save-notebook-state" in view.notebook_state._dom_classes
        assert "mai-save-image-state" in view.image_state._dom_classes
        assert view.status_view is not None and "ready to use" in view.status_view.state_line.value
        assert bench.notice["image_id"] == c.record.id and bench.notice["kind"] == "success"
        assert bench.browser.selected_id == c.record.id and bench.selected_index == SAVE_TAB
        with emu.store() as store:
            assert store.count() == 1, "one save, one image"
        bench.show_images()
        assert bench.browser.wait_idle(WAIT) and c.record.id in [r.id for r in bench.browser.records]
        assert bench.selected_index == IMAGES_TAB
        state = json.dumps(widgets.Widget.get_manager_state(drop_defaults=False))
        assert emu.ak not in state and emu.sk not in state
    finally:
        bench.close()


def test_a_failing_save_shows_create_failed_in_words(
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    emu = emulator_factory(snapshot_seconds=0.6, save_too_large=True)
    bench = Workbench(make_client(emu))
    try:
        view = bench.show_save()
        assert view.wait_idle(WAIT)
        view.save_button.click()
        assert view.controller.wait_settled(WAIT)
        assert "CREATE_FAILED" in view.image_state.value
        assert view.status_view is not None
        assert "greater than threshold" in view.status_view.message.value
        assert bench.notice["kind"] == "error" and "CREATE_FAILED" in bench.notice["text"]
        assert "Traceback" not in view.error_box.value
    finally:
        bench.close()


def test_a_not_running_instance_is_said_in_words(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(notebook=["stopped-one:STOPPED"])
    stopped = notebook_id_for(emu.project_id, "stopped-one")
    view = SaveNotebookView(make_client(emu, notebook_id=stopped))
    try:
        assert view.wait_idle(WAIT)
        assert view.instance.value == stopped and "STOPPED" in view.instance.label
        message = view.field_errors["notebook_id"].value
        assert "Instance is STOPPED" in message and "start it" in message
        assert view.save_button.disabled
        assert not view.save() and view.controller.record is None
    finally:
        view.close()


@pytest.mark.parametrize("outcome", ["stopped", "timeout"])
def test_a_stopped_or_timed_out_follow_says_what_goes_on_in_words(
    emulator_factory: Callable[..., EmulatorProcess], outcome: str
) -> None:
    """Stopping (the magic's Ctrl-C stops the tab's controller) or the wait timeout while the
    instance is still SNAPSHOTTING: the tab says the save carries on and what is unavailable."""
    emu = emulator_factory(snapshot_seconds=30)
    settings = {"wait_timeout": 1.5} if outcome == "timeout" else {}
    view = SaveNotebookView(make_client(emu, **settings))
    try:
        assert view.wait_idle(WAIT)
        assert view.unfinished.value == ""
        assert view.save()
        c = view.controller
        wait_for(lambda: c.notebook is not None and c.record is not None and c.state == "following")
        if outcome == "stopped":
            c.stop()
        assert c.wait_settled(WAIT)
        assert (c.state, c.outcome, c.error) == ("settled", outcome, None)
        assert c.record is not None and not c.record.is_terminal
        lead = "Stopped following" if outcome == "stopped" else "Gave up waiting"
        said = view.unfinished.get_state()["value"]  # what the comm sends
        assert f"{lead}: ModelArts carries on with the save; the image is still {c.record.status}" in said
        assert f"the instance {DEFAULTS.demo_notebook} stays unavailable (SNAPSHOTTING)" in said
        assert "Follow again" in said and "mai-save-unfinished" in view.unfinished._dom_classes
        assert "SNAPSHOTTING" in view.notebook_state.value and "RUNNING" not in view.notebook_state.value
        assert view.status_view is not None
        line = view.status_view.state_line.value
        assert f"{lead}; the image was still {c.record.status} (ModelArts carries on with the save)" in line
        assert view.status_view.follow_button.description == "Follow again"
        assert view.status_view.follow_button.layout.display == ""
        assert view.error_box.value == "" and "Traceback" not in said
        assert c.worker is not None and not c.worker.is_alive()
    finally:
        view.close()
