"""Keyboard and screen reader support in the widgets (DummyComm widgets against the emulator over
HTTP): where focus moves (the ``focus`` messages a view acts on), what the side panel's live region
is given to say (``Workbench.announcement``, once per change), and the names of unlabelled controls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets
import pytest
from widget_support import make_client

from mai_widgets import RegisterPanel, Workbench
from mai_widgets.emulator import DEFAULTS, EmulatorProcess
from mai_widgets.emulator.defaults import DEMO_SWR_IMAGES
from mai_widgets.widgets.workbench import DETAIL_FOCUS, IMAGES_TAB, STATUS_FOCUS
from mai_widgets.wire.contract import ImageStatus

REG = DEFAULTS.registry
WAIT = 30.0
ARM_IMAGE = f"{REG}/mai-demo/mindspore-ascend:2.3.0-aarch64"  # the form's X86_64 makes a warning


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(tmp_path_factory.mktemp("a11y"), init_seconds=0.2, creating_seconds=0.6) as process:
        yield process


@pytest.fixture
def focused(monkeypatch: pytest.MonkeyPatch) -> list[widgets.Widget]:
    """Every widget sent a ``focus`` message (its view then takes keyboard focus), in order."""
    sent: list[widgets.Widget] = []
    original = widgets.Widget.send

    def send(self: widgets.Widget, content: Any, buffers: Any = None) -> None:
        if content == {"do": "focus"}:
            sent.append(self)
        original(self, content, buffers)

    monkeypatch.setattr(widgets.Widget, "send", send)
    return sent


def wait_for(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def announcements(bench: Workbench) -> list[dict[str, str]]:
    said: list[dict[str, str]] = []
    bench.observe(lambda change: said.append(dict(change["new"])), names="announcement")
    return said


def register_until_settled(panel: RegisterPanel, swr_path: str) -> None:
    """Type a path, let its checks finish, press Register and wait until the image settles."""
    panel.swr_path.value = swr_path
    assert panel.controller.wait_preflight(WAIT)
    panel.register_button.click()
    assert panel.controller.wait_settled(WAIT)


def test_a_registration_is_announced_once_per_status_and_focus_follows_it(emu: EmulatorProcess) -> None:
    bench = Workbench(make_client(emu), language="en")
    said = announcements(bench)
    panel = bench.register_panel
    try:
        register_until_settled(panel, DEMO_SWR_IMAGES[0])
        wait_for(lambda: any("ACTIVE" in a["text"] for a in said) and said[-1]["focus"] == STATUS_FOCUS)
        record = panel.controller.record
        assert record is not None and record.status == ImageStatus.ACTIVE
        texts = [a["text"] for a in said if a["text"]]
        assert texts[0] == "Sending the registration to ModelArts…"
        assert texts[-1].endswith(" is ACTIVE.")
        # once per change: each status said once, though the status was read more often
        assert len(texts) == len(set(texts))
        assert panel.controller.polls >= len(texts) - 1
        # focus goes to the status when the registration is sent and when it settles, not per status
        assert [a["focus"] for a in said if a["focus"]] == [STATUS_FOCUS, STATUS_FOCUS]
        assert said[0]["focus"] == STATUS_FOCUS and said[-1]["focus"] == STATUS_FOCUS
        assert [int(a["seq"]) for a in said] == list(range(1, len(said) + 1))
    finally:
        bench.close()


def test_announcements_speak_the_workbench_language_and_keep_status_values(emu: EmulatorProcess) -> None:
    bench = Workbench(make_client(emu), language="zh_CN")
    said = announcements(bench)
    panel = bench.register_panel
    try:
        register_until_settled(panel, DEMO_SWR_IMAGES[1])
        wait_for(lambda: any("ACTIVE" in a["text"] for a in said))
        texts = [a["text"] for a in said if a["text"]]
        assert texts[0] == "正在向 ModelArts 发送注册请求…"
        assert texts[-1].endswith("的状态为 ACTIVE。")  # the status value stays English
        assert bench.browser.dir_dropdown.tooltip == "排序方向"
    finally:
        bench.close()


def test_a_failed_attempt_moves_focus_to_the_field_to_fix(
    emu: EmulatorProcess, focused: list[widgets.Widget]
) -> None:
    panel = RegisterPanel(client=make_client(emu))
    try:
        # Register pressed before the checks of a path SWR does not have: it waits for them,
        # they fail, and focus goes back to the path.
        panel.swr_path.value = f"{REG}/mai-demo/never-pushed:1.0"
        panel.register_button.click()
        assert panel.controller.register_waiting
        assert panel.controller.wait_preflight(WAIT)
        wait_for(lambda: not panel.controller.register_waiting)
        assert panel.register_button.disabled
        assert focused == [panel.swr_path]
        # A field's own problem: focus goes to the first field that has one, in the form's order.
        focused.clear()
        panel.swr_path.value = "not a path"
        panel.workspace_id.value = "no workspace"
        panel.register_button.click()
        assert focused == [panel.swr_path]
        assert panel.focus_first_problem() == "swr_path"
    finally:
        panel.close()


def test_the_warning_question_takes_focus_and_cancel_gives_it_back(
    emu: EmulatorProcess, focused: list[widgets.Widget]
) -> None:
    panel = RegisterPanel(client=make_client(emu))
    try:
        panel.swr_path.value = ARM_IMAGE
        assert panel.controller.wait_preflight(WAIT)
        assert panel.controller.needs_confirmation()
        panel.register_button.click()
        view = panel.preflight_view
        assert view.confirm_box.layout.display == ""
        assert focused == [view.confirm]
        view.cancel.click()
        assert view.confirm_box.layout.display == "none"
        assert focused == [view.confirm, panel.register_button]
    finally:
        panel.close()


def test_opening_and_deleting_an_image_moves_focus_and_is_announced(
    emu: EmulatorProcess, focused: list[widgets.Widget]
) -> None:
    client = make_client(emu)
    image = client.register(swr_path=f"{REG}/mai-demo/sklearn:1.5.0")
    bench = Workbench(client, language="en")
    said = announcements(bench)
    try:
        bench.selected_index = IMAGES_TAB
        browser = bench.browser
        assert browser.wait_idle(WAIT)
        row = next(r for r in browser.rows if r.image_id == image.id)
        row.button.click()
        detail = browser.detail
        assert detail is not None and detail.actions is not None
        # focus goes to the opened image's status; its status is said once it is read
        assert said[0] == {"text": "", "seq": "1", "focus": DETAIL_FOCUS}
        assert detail.controller.wait_settled(WAIT)
        wait_for(lambda: any("ACTIVE" in a["text"] for a in said))
        actions = detail.actions
        # Delete… asks, with focus on its answer; Cancel gives focus back to Delete…
        actions.delete_button.click()
        assert focused[-1] is actions.delete_confirm_button
        actions.delete_cancel_button.click()
        assert actions.delete_box.layout.display == "none" and focused[-1] is actions.delete_button
        # Copy: the path's box takes focus, ready to be copied; it has a name of its own
        actions.copy_button.click()
        assert focused[-1] is actions.copy_text and actions.copy_text.tooltip == "SWR path"
        actions.delete_button.click()
        actions.delete_confirm_button.click()
        assert actions.wait_idle(WAIT)
        wait_for(lambda: "DELETED" in said[-1]["text"])
        # the question is gone: focus goes back to the image's status, said once
        assert said[-1]["focus"] == DETAIL_FOCUS and said[-1]["text"].endswith(" is DELETED.")
        assert [a["text"] for a in said].count(said[-1]["text"]) == 1
    finally:
        bench.close()


def test_unlabelled_controls_have_names(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu), language="en")
    try:
        picker = panel.swr_picker
        picker.browse.value = True
        assert picker.wait_idle(WAIT)
        # each list of the picker is named by its title (the list box's title attribute)
        assert [picker.namespaces.tooltip, picker.repositories.tooltip, picker.tags.tooltip] == [
            "Organization",
            "Repository",
            "Tag",
        ]
        assert all(not w.description for w in (picker.namespaces, picker.repositories, picker.tags))
    finally:
        panel.close()
