"""ImageBrowser driven through its widgets (comm's DummyComm), against the emulator over HTTP.

Most tests share one emulator seeded with 10,000 ACTIVE images; tests that register or
delete use names of their own, so they do not disturb each other's listings.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ipywidgets as widgets
import pytest
import requests
from widget_support import make_client

from mai_widgets import ImageBrowser, Workbench
from mai_widgets.auth.config import load_config
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator.defaults import DEFAULTS, DEMO_SWR_IMAGES
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.errors import ValidationError
from mai_widgets.kernel.threads import Debouncer, MainLoopWriter
from mai_widgets.services.images import ImageClient
from mai_widgets.widgets.browser import PAGE_SIZE, ListFollower
from mai_widgets.widgets.workbench import IMAGES_TAB, REGISTER_TAB
from mai_widgets.wire.contract import ImageStatus

SEEDED = 10_000
WAIT = 30.0
NOT_IN_SWR = f"{DEFAULTS.registry}/mai-demo/never-pushed:1.0"


class Recorder:
    """Every request a client sent: method, path and query."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, list[str]]]] = []
        self.lock = threading.Lock()

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        parts = urlsplit(response.request.url or "")
        with self.lock:
            self.calls.append((str(response.request.method), parts.path, parse_qs(parts.query)))

    def lists(self) -> list[dict[str, list[str]]]:
        with self.lock:
            return [q for m, p, q in self.calls if m == "GET" and p.endswith("/images")]

    def count(self, method: str, suffix: str = "") -> int:
        with self.lock:
            return sum(1 for m, p, _ in self.calls if m == method and p.endswith(suffix))


def recorded_client(emu: EmulatorProcess, **settings: Any) -> tuple[ImageClient, Recorder]:
    recorder = Recorder()
    session = requests.Session()
    session.hooks["response"].append(recorder.hook)
    config = load_config(
        env=emu.env(), config_dirs=[], poll_initial=0.1, poll_max=0.3, **{"max_retries": 1, **settings}
    )
    return ImageClient(config, Credentials(ak=emu.ak, sk=emu.sk), session=session), recorder


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """An emulator with 10,000 of the user's images (ACTIVE), shared by this module."""
    data = tmp_path_factory.mktemp("seeded")
    with EmulatorProcess(
        data, args=["--seed-images", str(SEEDED)], init_seconds=0.3, creating_seconds=0.6
    ) as emu:
        yield emu


@pytest.fixture
def browse(seeded: EmulatorProcess) -> Iterator[Callable[..., tuple[ImageBrowser, Recorder]]]:
    made: list[ImageBrowser] = []

    def make(emu: EmulatorProcess | None = None, **kwargs: Any) -> tuple[ImageBrowser, Recorder]:
        client, recorder = recorded_client(emu or seeded)
        browser = ImageBrowser(client, **kwargs)
        made.append(browser)
        assert browser.wait_idle(WAIT)
        return browser, recorder

    yield make
    for browser in made:
        browser.close()


def wait_for(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


# -- listing, paging ----------------------------------------------------------------------


def test_lists_only_the_first_page_of_10000(browse: Callable[..., tuple[ImageBrowser, Recorder]]) -> None:
    browser, recorder = browse()
    assert len(browser.records) == PAGE_SIZE == 200
    assert browser.total == SEEDED and browser.has_more
    lists = recorder.lists()
    assert len(lists) == 1, "only the first page is asked for"
    assert lists[0]["limit"] == ["200"] and lists[0]["offset"] == ["0"] and lists[0]["type"] == ["DEDICATED"]
    # newest first by default: the last seeded image
    first = browser.rows[0]
    assert first.button.description == "bench-99:v009999"
    info = first.info.value
    for text in ("mai-badge-active", ">ACTIVE<", "X86_64", "created 20", "updated 20", " GB"):
        assert text in info, text
    assert "Loaded 200 of your 10,000 images" in browser.summary.value
    assert browser.more_button.layout.display == "" and not browser.more_button.disabled
    assert "#" not in info  # no hex colour: CSS classes style the badge


def test_load_more_asks_for_the_next_page(browse: Callable[..., tuple[ImageBrowser, Recorder]]) -> None:
    browser, recorder = browse()
    browser.more_button.click()
    assert browser.wait_idle(WAIT)
    assert len(browser.records) == 400 and len({r.id for r in browser.records}) == 400
    assert recorder.lists()[-1]["offset"] == ["200"]
    assert len(browser.rows_box.children) == 400
    assert browser.rows[200].button.description == "bench-99:v009799"


def test_name_filter_is_debounced_then_sent_to_the_api(
    browse: Callable[..., tuple[ImageBrowser, Recorder]],
) -> None:
    browser, recorder = browse()
    rows_before = list(browser.rows_box.children)
    for typed in ("b", "be", "bench", "bench-0", "bench-07"):
        browser.name_text.value = typed
    assert browser.debouncer.pending
    assert len(recorder.lists()) == 1, "nothing is sent while typing"
    assert browser.debouncer.flush()
    assert browser.wait_idle(WAIT)
    lists = recorder.lists()
    assert len(lists) == 2
    assert lists[-1]["name"] == ["bench-07"] and lists[-1]["name_fuzzy_match"] == ["true"]
    assert browser.total == 100 and all("bench-07" in (r.name or "") for r in browser.records)
    assert "matching “bench-07”" in browser.summary.value
    # the row widgets are reused, not re-created
    assert list(browser.rows_box.children) == rows_before[:100]


def test_name_filter_fires_once_after_a_pause(browse: Callable[..., tuple[ImageBrowser, Recorder]]) -> None:
    browser, recorder = browse()
    browser.name_text.value = "bench-4"
    browser.name_text.value = "bench-42"
    wait_for(lambda: len(recorder.lists()) == 2)
    assert browser.wait_idle(WAIT)
    time.sleep(0.5)
    assert len(recorder.lists()) == 2, "one listing per pause in typing"
    assert browser.total == 100


def test_sort_is_sent_to_the_api(browse: Callable[..., tuple[ImageBrowser, Recorder]]) -> None:
    browser, recorder = browse()
    browser.dir_dropdown.value = "ASC"
    assert browser.wait_idle(WAIT)
    assert recorder.lists()[-1]["sort_dir"] == ["ASC"]
    assert recorder.lists()[-1]["sort_key"] == ["createTime"]
    assert browser.records[0].tag == "v000000"  # the oldest first
    browser.sort_dropdown.value = "name"
    assert browser.wait_idle(WAIT)
    assert recorder.lists()[-1]["sort_key"] == ["name"]
    names = [r.name or "" for r in browser.records]
    assert names == sorted(names) and names[0] == "bench-00"


def test_presets_and_all_are_a_choice_away(
    browse: Callable[..., tuple[ImageBrowser, Recorder]], emulator: EmulatorProcess
) -> None:
    mine = make_client(emulator).register(swr_path=DEMO_SWR_IMAGES[0])
    browser, recorder = browse(emulator)
    assert [r.id for r in browser.records] == [mine.id]
    browser.type_dropdown.value = "BUILD_IN"
    assert browser.wait_idle(WAIT)
    presets = browser.records
    assert presets and all(str(r.type) == "BUILD_IN" for r in presets)
    assert recorder.lists()[-1]["type"] == ["BUILD_IN"]
    browser.type_dropdown.value = "ALL"
    assert browser.wait_idle(WAIT)
    # two listings: the user's images, then the presets
    assert [r.id for r in browser.records] == [mine.id] + [r.id for r in presets]
    assert [q["type"] for q in recorder.lists()[-2:]] == [["DEDICATED"], ["BUILD_IN"]]


def test_an_empty_list_says_what_to_do_and_each_button_does_it(emulator: EmulatorProcess) -> None:
    bench = Workbench(make_client(emulator))
    try:
        browser = bench.browser
        assert browser.empty_box.layout.display == "none", "nothing is said before the list is loaded"
        bench.show_images()
        assert browser.wait_idle(WAIT) and browser.records == [] and browser.empty
        summary = browser.summary.value
        assert "Loaded 0" not in summary and "of your 0" not in summary
        assert "no images yet" in summary and "register one" in summary and "presets" in summary
        assert browser.empty_box.layout.display == ""
        for button in (browser.register_button, browser.presets_button):
            assert button.layout.display == "" and not button.disabled

        # "Show the presets": the type filter becomes BUILD_IN and the presets are listed.
        browser.presets_button.click()
        assert browser.type_dropdown.value == "BUILD_IN"
        assert browser.wait_idle(WAIT)
        assert browser.records and all(str(r.type) == "BUILD_IN" for r in browser.records)
        assert not browser.empty and browser.empty_box.layout.display == "none"
        assert "Loaded" in browser.summary.value and "presets" in browser.summary.value

        # Back to "My images", still none: "Register an image" opens the Register tab.
        browser.type_dropdown.value = "DEDICATED"
        assert browser.wait_idle(WAIT) and browser.empty_box.layout.display == ""
        assert bench.selected_index == IMAGES_TAB
        browser.register_button.click()
        assert bench.selected_index == REGISTER_TAB

        # Once there is an image, the list shows it and the advice goes.
        mine = make_client(emulator).register(swr_path=DEMO_SWR_IMAGES[0])
        browser.refresh()
        assert browser.wait_idle(WAIT) and [r.id for r in browser.records] == [mine.id]
        assert browser.empty_box.layout.display == "none"
        assert "Loaded 1 of your 1 image." in browser.summary.value
    finally:
        bench.close()


def test_an_empty_list_on_its_own_names_where_to_register(emulator: EmulatorProcess) -> None:
    """Without a Register tab beside it (``%list_images``), no button that would do nothing."""
    browser = ImageBrowser(make_client(emulator))
    try:
        assert browser.wait_idle(WAIT) and browser.empty
        assert "%register_image" in browser.summary.value
        assert browser.register_button.layout.display == "none"
        assert browser.presets_button.layout.display == ""
        browser.presets_button.click()
        assert browser.wait_idle(WAIT) and browser.type == "BUILD_IN" and browser.records
    finally:
        browser.close()


def test_status_filter_keeps_loaded_rows_locally(
    browse: Callable[..., tuple[ImageBrowser, Recorder]], seeded: EmulatorProcess
) -> None:
    failed = make_client(seeded).register(swr_path=f"{DEFAULTS.registry}/mai-status/never-pushed:1.0")
    make_client(seeded).wait(failed.id, timeout=WAIT)
    browser, recorder = browse()
    assert browser.records[0].id == failed.id  # the newest
    before = len(recorder.lists())
    browser.status_dropdown.value = ("CREATE_FAILED", "ERROR")
    assert [r.id for r in browser.visible_records] == [failed.id]
    assert len(browser.rows_box.children) == 1
    assert len(recorder.lists()) == before, "the list API has no status filter: nothing is sent"
    assert "load more to search further" in browser.summary.value
    assert "mai-badge-create-failed" in browser.rows[0].info.value
    make_client(seeded).delete(failed.id)


def test_bad_arguments_are_typed_errors() -> None:
    with pytest.raises(ValidationError, match="type"):
        ImageBrowser(type="MINE")
    with pytest.raises(ValidationError, match="status"):
        ImageBrowser(status=["DONE"], autoload=False)


# -- the selected image -------------------------------------------------------------------


def test_selecting_a_row_shows_its_status_and_sync(
    browse: Callable[..., tuple[ImageBrowser, Recorder]],
) -> None:
    browser, recorder = browse()
    row = browser.rows[3]
    row.button.click()
    assert browser.selected_id == browser.records[3].id
    assert "mai-image-row-selected" in row.box._dom_classes
    view = browser.detail
    assert view is not None and view.actions is not None
    assert view.controller.wait_settled(WAIT)
    assert "ACTIVE" in view.badge.value and "ready to use" in view.state_line.value
    assert view.actions.register_again_button.layout.display == "none"  # only for failed images
    view.actions.sync_button.click()
    assert browser.wait_idle(WAIT)
    assert recorder.count("POST", "/sync") == 1
    assert "Synced: bench-96:v009996 is ACTIVE" in view.actions.message.value


def test_copy_puts_the_swr_path_in_a_text_box(browse: Callable[..., tuple[ImageBrowser, Recorder]]) -> None:
    browser, _ = browse()
    view = browser.select(browser.records[0].id)
    assert view is not None and view.actions is not None and view.controller.wait_settled(WAIT)
    actions = view.actions
    assert actions.copy_box.layout.display == "none"
    actions.copy_button.click()
    path = browser.records[0].swr_path
    assert actions.copy_box.layout.display == "" and actions.copy_text.value == path
    actions.copy_text.value = "edited by mistake"
    assert actions.copy_text.value == path  # read-only in effect


@pytest.mark.parametrize("force", [False, True], ids=["registration-only", "also-in-swr"])
def test_delete_confirms_naming_the_image_and_force_is_opt_in(
    browse: Callable[..., tuple[ImageBrowser, Recorder]], emulator: EmulatorProcess, force: bool
) -> None:
    client = make_client(emulator)
    keep = client.register(swr_path=DEMO_SWR_IMAGES[1])
    doomed = client.register(swr_path=DEMO_SWR_IMAGES[0])
    browser, recorder = browse(emulator)
    view = browser.select(doomed.id)
    assert view is not None and view.actions is not None and view.controller.wait_settled(WAIT)
    actions = view.actions
    actions.delete_button.click()
    assert actions.delete_box.layout.display == ""
    assert f"{doomed.name}:{doomed.tag}" in actions.delete_question.value
    assert actions.force_checkbox.value is False, "deleting from SWR is never the default"
    assert actions.force_checkbox.description == "Also delete the image from SWR"
    assert "Destructive" in actions.force_warning.value
    actions.force_checkbox.value = force
    actions.delete_confirm_button.click()
    assert browser.wait_idle(WAIT)
    assert [r.id for r in browser.records] == [keep.id]
    deletes = [q for m, p, q in recorder.calls if m == "DELETE"]
    assert deletes == [{"force": ["true" if force else "false"]}]
    with emulator.store() as store:
        assert store.swr_image_deleted(DEMO_SWR_IMAGES[0]) is force
    assert "Deleted" in actions.message.value and view.controller.record is not None
    assert view.controller.record.status == ImageStatus.DELETED
    assert actions.delete_button.disabled and "deleted already" in actions.reason.value
    # Once deleted, another (forced) delete is refused with a reason, and nothing is sent.
    assert actions.delete(force=True) is False
    assert browser.wait_idle(WAIT)
    assert [m for m, _, _ in recorder.calls].count("DELETE") == 1
    assert "was deleted already" in actions.message.value


def test_presets_cannot_be_deleted_and_say_why(
    browse: Callable[..., tuple[ImageBrowser, Recorder]], emulator: EmulatorProcess
) -> None:
    browser, recorder = browse(emulator, type="BUILD_IN")
    preset = browser.records[0]
    view = browser.select(preset.id)
    assert view is not None and view.actions is not None and view.controller.wait_settled(WAIT)
    actions = view.actions
    assert actions.delete_button.disabled and actions.force_checkbox.disabled
    assert "Presets belong to ModelArts: they cannot be deleted." in actions.reason.value
    assert not actions.sync_button.disabled and "Presets" not in actions.message.value
    actions.ask_delete()
    assert actions.delete_box.layout.display == "none", "no confirmation for what cannot be done"
    assert actions.delete(force=True) is False
    assert browser.wait_idle(WAIT)
    assert not any(m == "DELETE" for m, _, _ in recorder.calls), "nothing is sent for a preset"
    assert "cannot be deleted" in actions.message.value


def test_register_again_deletes_the_failed_record_and_registers_the_same_fields(
    browse: Callable[..., tuple[ImageBrowser, Recorder]], emulator: EmulatorProcess
) -> None:
    client = make_client(emulator)
    failed = client.register(
        swr_path=NOT_IN_SWR,
        arch="AARCH64",
        resource_category=["ASCEND"],
        services=["NOTEBOOK"],
        description="retry me",
    )
    assert client.wait(failed.id, timeout=WAIT).record.status == ImageStatus.CREATE_FAILED
    browser, recorder = browse(emulator)
    view = browser.select(failed.id)
    assert view is not None and view.actions is not None and view.controller.wait_settled(WAIT)
    actions = view.actions
    assert actions.register_again_button.layout.display == ""
    actions.register_again_button.click()
    assert "never-pushed:1.0" in actions.register_again_question.value
    assert "was not found" in actions.register_again_question.value  # the reason it failed
    actions.register_again_confirm_button.click()
    actions.register_again_confirm_button.click()  # a double click: one replace, not two
    assert actions.register_again() is False
    assert browser.wait_idle(WAIT)
    new_id = browser.selected_id
    assert new_id is not None and new_id != failed.id
    assert [m for m, p, _ in recorder.calls if m in ("DELETE", "POST")] == ["DELETE", "POST"]
    again = client.get(new_id)
    assert again.swr_path == failed.swr_path and str(again.arch).upper() == "AARCH64"
    assert again.resource_categories == failed.resource_categories and again.services == failed.services
    assert again.description == "retry me"
    assert client.get(failed.id).status == ImageStatus.DELETED
    wait_for(lambda: [r.id for r in browser.records] == [new_id])
    assert view.controller.wait_settled(WAIT) and view.controller.record is not None
    assert view.controller.record.id == new_id


# -- following ----------------------------------------------------------------------------


def test_one_poll_loop_follows_every_unsettled_row(
    browse: Callable[..., tuple[ImageBrowser, Recorder]], emulator_factory: Callable[..., EmulatorProcess]
) -> None:
    emu = emulator_factory(init_seconds=60, creating_seconds=60)
    client = make_client(emu)
    ids = [client.register(swr_path=f"{DEFAULTS.registry}/mai-many/image-{i:02d}:1.0").id for i in range(30)]
    browser, recorder = browse(emu)
    assert {r.id for r in browser.records} == set(ids)
    follower = browser.follower
    assert follower is not None and set(follower.ids) == set(ids)
    wait_for(lambda: follower.rounds >= 3)
    threads = [t for t in threading.enumerate() if t.name == ListFollower.THREAD_NAME]
    assert len(threads) == 1, "one poll loop for the whole list, not a thread per row"
    gets = [p for m, p, _ in recorder.calls if m == "GET" and not p.endswith("/images")]
    # one GET per image per round
    per_image = {image_id: sum(p.endswith(image_id) for p in gets) for image_id in ids}
    assert max(per_image.values()) - min(per_image.values()) <= 1
    started = time.monotonic()
    browser.close()
    assert time.monotonic() - started < 1.0
    assert not threads[0].is_alive()
    sent = len(recorder.calls)
    time.sleep(0.5)
    assert len(recorder.calls) == sent, "nothing is sent after close"


def test_poll_loop_updates_rows_until_terminal_then_ends(emulator: EmulatorProcess) -> None:
    client, recorder = recorded_client(emulator)
    image = client.register(swr_path=DEMO_SWR_IMAGES[0])
    browser = ImageBrowser(client)
    try:
        assert browser.wait_idle(WAIT)
        assert browser.records[0].status in (ImageStatus.INIT, ImageStatus.CREATING)
        wait_for(lambda: browser.records[0].status == ImageStatus.ACTIVE)
        assert "mai-badge-active" in browser.rows[0].info.value
        follower = browser.follower
        assert follower is not None
        wait_for(lambda: not follower.running)  # nothing left to follow: the thread ended
        assert follower.ids == () and recorder.count("GET", image.id) >= 2
    finally:
        browser.close()


def test_close_cuts_a_hung_listing_within_a_second(tmp_path: Path) -> None:
    import socket

    with socket.socket() as server:  # accepts, never answers
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        env = {"MAI_WIDGETS_ENDPOINT": f"http://127.0.0.1:{port}", "HUAWEICLOUD_SDK_PROJECT_ID": "p1"}
        config = load_config(env=env, config_dirs=[], read_timeout=60, max_retries=0)
        browser = ImageBrowser(ImageClient(config, Credentials(ak="AK" * 10, sk="SK" * 20)))
        time.sleep(0.3)
        assert browser.loading
        started = time.monotonic()
        browser.close()
        assert time.monotonic() - started < 1.0
        assert not any(t.name == "mai-widgets-list" for t in threading.enumerate())


def test_no_secret_in_widget_state(
    browse: Callable[..., tuple[ImageBrowser, Recorder]], seeded: EmulatorProcess
) -> None:
    browser, _ = browse()
    view = browser.select(browser.records[0].id)
    assert view is not None and view.controller.wait_settled(WAIT)
    state = json.dumps(widgets.Widget.get_manager_state(drop_defaults=False))
    for secret in (seeded.ak, seeded.sk):
        assert secret not in state


# -- the debounce timer -------------------------------------------------------------------


def test_debouncer_runs_once_after_the_last_trigger() -> None:
    calls: list[float] = []
    debouncer = Debouncer(0.2, lambda: calls.append(time.monotonic()), MainLoopWriter())
    started = time.monotonic()
    for i in range(5):
        if i:
            time.sleep(0.05)
        debouncer.trigger()
    last = time.monotonic()  # the last trigger: the call comes 0.2 s after it, not before
    wait_for(lambda: bool(calls), 5)
    time.sleep(0.3)
    assert len(calls) == 1 and calls[0] - last >= 0.19 and calls[0] - started >= 0.39
    assert not debouncer.pending
    debouncer.trigger()
    debouncer.close()
    time.sleep(0.3)
    assert len(calls) == 1, "closed: the pending call is dropped"
