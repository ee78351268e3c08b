"""The Workbench (Register and Images tabs), the Register tab's "Delete and register again",
and ``%list_images``: DummyComm widgets against the emulator over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import ipywidgets as widgets
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing import globalipapp
from IPython.utils.capture import capture_output
from widget_support import make_client

import mai_widgets
from mai_widgets import ImageBrowser, RegisterPanel, Workbench
from mai_widgets.emulator.defaults import DEFAULTS, DEMO_SWR_IMAGES
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.magics.list_images import ListImagesMagics, parse_list_images
from mai_widgets.widgets.workbench import IMAGES_TAB, SAVE_TAB, TAB_TITLES
from mai_widgets.wire.contract import ImageRecord, ImageStatus

WAIT = 30.0
NOT_IN_SWR = f"{DEFAULTS.registry}/mai-demo/never-pushed:1.0"


def wait_for(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_three_tabs_and_the_images_tab_loads_when_opened(emulator: EmulatorProcess) -> None:
    client = make_client(emulator)
    existing = client.register(swr_path=DEMO_SWR_IMAGES[1])
    bench = Workbench(client)
    try:
        assert tuple(bench.titles) == TAB_TITLES == ("Register", "Images", "Save notebook")
        assert bench.selected_index == 0
        # The form comes first: the Images tab holds no browser (no widgets, no list) until opened.
        assert bench.children[0] is bench.register_panel
        assert not isinstance(bench.children[IMAGES_TAB], ImageBrowser), "nothing is listed before"
        assert bench.children[SAVE_TAB] is bench.save_box and not bench.save_box.children
        tabs = bench.children
        bench.selected_index = IMAGES_TAB
        assert bench.images_box.children == (bench.browser,)
        # Opening a tab fills its box: the tabs stay the same widgets, so none is rendered again
        # (a re-rendered Save tab lost what a user was looking at while a save went on).
        bench.selected_index = SAVE_TAB
        assert bench.save_box.children == (bench.save_view,) and bench.children == tabs
        assert bench.browser.wait_idle(WAIT)
        assert [r.id for r in bench.browser.records] == [existing.id]
    finally:
        bench.close()


def test_the_list_refreshes_when_the_register_tab_registers(emulator: EmulatorProcess) -> None:
    bench = Workbench(make_client(emulator))
    try:
        bench.show_images()
        assert bench.browser.wait_idle(WAIT) and bench.browser.records == []
        panel = bench.register_panel
        panel.swr_path.value = DEMO_SWR_IMAGES[0]
        panel.register_button.click()
        wait_for(lambda: panel.controller.record is not None)
        new_id = panel.controller.record.id  # type: ignore[union-attr]
        wait_for(lambda: [r.id for r in bench.browser.records] == [new_id])
        assert panel.controller.wait_settled(WAIT)
        # the row follows the status to ACTIVE (the form's updates and the list's poll loop)
        wait_for(lambda: bench.browser.records[0].status == ImageStatus.ACTIVE)
        assert "mai-badge-active" in bench.browser.rows[0].info.value
    finally:
        bench.close()


def test_closing_the_workbench_stops_every_thread(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(init_seconds=60, creating_seconds=60)
    client = make_client(emu)
    client.register(swr_path=DEMO_SWR_IMAGES[2])
    before = set(threading.enumerate())
    bench = Workbench(client)
    bench.show_images()
    assert bench.browser.wait_idle(WAIT)
    bench.browser.select(bench.browser.records[0].id)
    bench.register_panel.swr_path.value = DEMO_SWR_IMAGES[3]
    bench.register_panel.register_button.click()
    wait_for(lambda: bench.register_panel.controller.state == "watching")
    started = time.monotonic()
    bench.close()
    assert time.monotonic() - started < 1.5
    wait_for(lambda: set(threading.enumerate()) <= before, 1.0)


def test_no_secret_in_the_workbench_state(emulator: EmulatorProcess) -> None:
    bench = Workbench(make_client(emulator), swr_path=DEMO_SWR_IMAGES[0])
    try:
        bench.register_panel.register_button.click()
        assert bench.register_panel.controller.wait_settled(WAIT)
        bench.show_images()
        assert bench.browser.wait_idle(WAIT)
        bench.browser.select(bench.browser.records[0].id)
        state = json.dumps(widgets.Widget.get_manager_state(drop_defaults=False))
        assert emulator.ak not in state and emulator.sk not in state
    finally:
        bench.close()


# -- the Register tab: delete and register again ---------------------------------------------


def test_register_tab_offers_delete_and_register_again_for_a_failed_duplicate(
    emulator: EmulatorProcess,
) -> None:
    panel = RegisterPanel(client=make_client(emulator), swr_path=NOT_IN_SWR, preflight=False)
    try:
        panel.register_button.click()
        assert panel.controller.wait_settled(WAIT)
        first = panel.controller.record
        assert first is not None and first.status == ImageStatus.CREATE_FAILED
        assert panel.again_box.layout.display == "none", "a first failure is not a duplicate"
        panel.register_button.click()  # the failed registration comes back as already registered
        assert panel.controller.wait_settled(WAIT)
        again = panel.controller.record
        assert again is not None and again.already_registered and again.id == first.id
        assert panel.again_box.layout.display == ""
        assert "CREATE_FAILED" in panel.again_message.value and first.id in panel.again_message.value
        panel.again_button.click()
        assert panel.wait_idle(WAIT)
        wait_for(lambda: panel.controller.record is not None and panel.controller.record.id != first.id)
        assert panel.controller.wait_settled(WAIT)
        fresh = panel.controller.record
        assert fresh is not None and not fresh.already_registered
        assert make_client(emulator).get(first.id).status == ImageStatus.DELETED
        assert panel.again_box.layout.display == "none"
    finally:
        panel.close()


def test_no_offer_when_the_existing_image_is_active(emulator: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emulator), swr_path=DEMO_SWR_IMAGES[0])
    try:
        panel.register_button.click()
        assert panel.controller.wait_settled(WAIT)
        assert panel.controller.wait_preflight(WAIT)
        panel.register_button.click()  # preflight says it is registered already: asks once
        panel.preflight_view.confirm.click()
        assert panel.controller.wait_settled(WAIT)
        assert panel.controller.record is not None and panel.controller.record.already_registered
        assert panel.again_box.layout.display == "none"
        assert not panel.delete_and_register_again()
    finally:
        panel.close()


# -- %list_images ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    # The module attribute: after the first call it is the shell itself (the imported name is not).
    ip = globalipapp.get_ipython()
    mai_widgets.load_ipython_extension(ip)
    return ip


@pytest.fixture
def list_magics(shell: InteractiveShell) -> Iterator[ListImagesMagics]:
    instance = shell.magics_manager.registry["ListImagesMagics"]
    assert isinstance(instance, ListImagesMagics)
    yield instance
    if instance.last_browser is not None:
        instance.last_browser.close()
    instance.last_browser = None
    instance.client = None


def test_list_images_shows_the_browser_and_returns_the_records(
    shell: InteractiveShell, list_magics: ListImagesMagics, emulator: EmulatorProcess
) -> None:
    client = make_client(emulator)
    failed = client.register(swr_path=NOT_IN_SWR)
    ok = client.register(swr_path=DEMO_SWR_IMAGES[0])
    client.wait(failed.id, timeout=WAIT)
    client.wait(ok.id, timeout=WAIT)
    list_magics.client = client
    with capture_output() as captured:
        records = shell.run_line_magic("list_images", "")
    assert {r.id for r in records} == {failed.id, ok.id}
    assert isinstance(list_magics.last_browser, ImageBrowser)
    assert any("application/vnd.jupyter.widget-view+json" in o.data for o in captured.outputs)
    records = shell.run_line_magic("list_images", "--status create_failed ERROR")
    assert [r.id for r in records] == [failed.id]
    records = shell.run_line_magic("list_images", "--name never")
    assert [r.id for r in records] == [failed.id]
    presets = shell.run_line_magic("list_images", "--type BUILD_IN")
    assert presets and all(isinstance(r, ImageRecord) and str(r.type) == "BUILD_IN" for r in presets)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("--type MINE", "--type: invalid choice: 'MINE'"),
        ("--status DONE", "--status: invalid choice: 'DONE'"),
        ("--colour red", "unrecognized arguments: --colour red"),
        ('--name "unclosed', "check the quotes"),
        ("--name", "--name: expected one argument"),
    ],
)
def test_list_images_bad_arguments_are_one_line(line: str, expected: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_list_images(line)
    message = str(info.value)
    assert message.startswith("%list_images: ") and expected in message and "\n" not in message


def test_list_images_bad_arguments_through_the_shell(
    shell: InteractiveShell, list_magics: ListImagesMagics, tmp_path: Path
) -> None:
    with capture_output() as captured:
        result = shell.run_cell("%list_images --type MINE")
    assert result.error_in_exec is not None and isinstance(result.error_in_exec, UsageError)
    text = captured.stdout + captured.stderr
    assert "Traceback" not in text
    assert "%list_images: argument --type: invalid choice: 'MINE'" in text
    assert list_magics.last_browser is None


def test_browser_and_workbench_are_exported_lazily() -> None:
    assert mai_widgets.ImageBrowser is ImageBrowser
    assert mai_widgets.Workbench is Workbench
    assert {"ImageBrowser", "Workbench"} <= set(mai_widgets.__all__)


def test_shared_returns_the_kernels_workbench_until_it_is_closed(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the side panel runs after a page reload: the same workbench, registration and tab.
    for key, value in emulator.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(Workbench, "_shared", None)
    first = Workbench.shared()
    first.register_panel.swr_path.value = DEMO_SWR_IMAGES[0]
    first.show_images()
    again = Workbench.shared()
    assert again is first and again.selected_index == IMAGES_TAB
    assert again.register_panel.swr_path.value == DEMO_SWR_IMAGES[0]
    first.close()
    fresh = Workbench.shared()
    assert fresh is not first and fresh.register_panel.swr_path.value == ""
    fresh.close()


def test_an_image_followed_to_active_or_failed_becomes_one_notice_for_the_host(
    emulator: EmulatorProcess,
) -> None:
    # The checks are off, so the Register tab can also register an image that was never pushed.
    bench = Workbench(make_client(emulator), swr_path=DEMO_SWR_IMAGES[0], preflight=False)
    try:
        assert bench.notice == {}
        bench.register_panel.register_button.click()
        assert bench.register_panel.controller.wait_settled(WAIT)
        record = bench.register_panel.controller.record
        assert record is not None and record.status == ImageStatus.ACTIVE
        assert bench.notice["text"] == f"{record.name}:{record.tag} is ACTIVE"
        assert bench.notice["kind"] == "success" and bench.notice["image_id"] == record.id
        seq = bench.notice["seq"]
        bench.browser.registered(record)  # the same settling heard again: no second notice
        assert bench.notice["seq"] == seq
        # The host's action: open the Images tab on that image.
        bench.open_image = record.id
        assert bench.selected_index == IMAGES_TAB and bench.browser.selected_id == record.id
        assert bench.open_image == ""

        bench.register_panel.swr_path.value = NOT_IN_SWR
        bench.register_panel.register_button.click()
        assert bench.register_panel.controller.wait_settled(WAIT)
        failed = bench.register_panel.controller.record
        assert failed is not None and failed.status == ImageStatus.CREATE_FAILED
        assert bench.notice["kind"] == "error"
        assert bench.notice["text"].startswith(f"{failed.name}:{failed.tag} CREATE_FAILED: ")
    finally:
        bench.close()


def test_register_again_in_the_images_tab_tells_the_host_each_time_it_settles(
    emulator_factory: Callable[..., EmulatorProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed image registered by a script: Register again (still not pushed) fails and the
    host hears it; pushed, Register again reaches ACTIVE and the host hears that too."""
    emulator = emulator_factory(init_seconds=0.2, creating_seconds=0.3)
    path = f"{DEFAULTS.registry}/mai-demo/pushed-late:1.0"
    client = make_client(emulator)
    first = client.register(swr_path=path, arch="X86_64", resource_category=["CPU"])
    assert client.wait(first.id, timeout=WAIT).record.status == ImageStatus.CREATE_FAILED
    bench = Workbench(client)
    try:
        bench.show_image(first.id)
        view = bench.browser.detail
        assert view is not None and view.actions is not None and view.controller.wait_settled(WAIT)
        assert bench.notice == {}, "already failed when it was opened: nothing to tell"

        def register_again() -> ImageRecord:
            assert view.actions is not None
            view.actions.register_again_button.click()
            view.actions.register_again_confirm_button.click()
            assert view.actions.wait_idle(WAIT) and view.controller.wait_settled(WAIT)
            record = view.controller.record
            assert record is not None
            wait_for(lambda: bench.notice.get("image_id") == record.id)
            return record

        again = register_again()
        assert again.id != first.id and again.status == ImageStatus.CREATE_FAILED
        assert bench.notice["text"].startswith("pushed-late:1.0 CREATE_FAILED: ")

        for name, value in emulator.env().items():
            monkeypatch.setenv(name, value)
        from mai_widgets.emulator.push import push_image

        push_image(path)
        active = register_again()
        assert active.status == ImageStatus.ACTIVE and bench.notice["text"] == "pushed-late:1.0 is ACTIVE"
        seq = bench.notice["seq"]
        wait_for(lambda: [r.id for r in bench.browser.records] == [active.id])
        assert bench.notice["seq"] == seq, "one notice per image and status"
    finally:
        bench.close()
