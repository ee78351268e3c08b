"""The SWR path combobox in the panel (DummyComm widgets against the emulator over HTTP): typing
still works, picking organization → repository → tag fills the path, lists filter, show sizes and
push times, load lazily and page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from widget_support import make_client

from mai_widgets import RegisterPanel
from mai_widgets.emulator import DEFAULTS, EmulatorProcess
from mai_widgets.widgets.swr_picker import REPO_PAGE, TAG_PAGE

REG = DEFAULTS.registry
WAIT = 30.0


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    args = ["--swr-seed-repos", "1000", "--swr-seed-tags", "200"]
    with EmulatorProcess(tmp_path_factory.mktemp("swr-picker"), args=args) as process:
        yield process


@pytest.fixture
def panel(emu: EmulatorProcess) -> Iterator[RegisterPanel]:
    shown = RegisterPanel(client=make_client(emu), preflight=False)
    yield shown
    shown.close()


def labels(select: object) -> list[str]:
    return [label for label, _ in getattr(select, "options")]  # noqa: B009


def settle(panel: RegisterPanel) -> None:
    assert panel.swr_picker.wait_idle(WAIT)


def test_typing_a_path_is_unchanged(panel: RegisterPanel) -> None:
    panel.swr_path.value = f"{REG}/mai-demo/sklearn:1.5.0"
    assert panel.controller.fields["swr_path"] == f"{REG}/mai-demo/sklearn:1.5.0"
    assert panel.swr_picker.picker.layout.display == "none"
    assert not panel.swr_picker._calls.busy  # nothing listed until the user browses


def test_pick_organization_repository_tag_fills_the_path(panel: RegisterPanel) -> None:
    picker = panel.swr_picker
    picker.browse.value = True
    assert picker.picker.layout.display == ""
    settle(panel)
    assert {"mai-demo", "mai-shared", "mai-bench"} <= {value for _, value in picker.namespaces.options}
    picker.namespaces.value = "mai-demo"
    settle(panel)
    shown = dict((value, label) for label, value in picker.repositories.options)
    assert "mindspore-ascend" in shown and "team/jupyter" in shown
    assert "2024-06-05" in shown["mindspore-ascend"] and " GB" in shown["mindspore-ascend"]
    picker.repositories.value = "mindspore-ascend"
    settle(panel)
    (tag_label,) = labels(picker.tags)
    assert tag_label.startswith("2.3.0-aarch64 · 9.2 GB · 2024-06-05 10:00")
    picker.tags.value = "2.3.0-aarch64"
    path = f"{REG}/mai-demo/mindspore-ascend:2.3.0-aarch64"
    assert panel.swr_path.value == path and panel.controller.fields["swr_path"] == path
    assert panel.field_errors["swr_path"].value == ""


def test_a_multi_arch_tag_says_so(panel: RegisterPanel) -> None:
    picker = panel.swr_picker
    picker.browse.value = True
    settle(panel)
    picker.namespaces.value = "mai-demo"
    settle(panel)
    picker.repositories.value = "tensorflow"
    settle(panel)
    assert labels(picker.tags)[0].endswith("multi-arch")


def test_repositories_page_and_filter_on_the_server(panel: RegisterPanel) -> None:
    picker = panel.swr_picker
    picker.browse.value = True
    settle(panel)
    picker.namespaces.value = "mai-bench"
    settle(panel)
    assert len(picker.repositories.options) == REPO_PAGE
    assert picker.repo_count.value == f"{REPO_PAGE} of 1000"
    assert picker.more_repositories.layout.display == ""
    picker.more_repositories.click()
    settle(panel)
    names = [value for _, value in picker.repositories.options]
    assert len(names) == 2 * REPO_PAGE and len(set(names)) == 2 * REPO_PAGE
    picker.repo_filter.value = "app-099"  # app-0990 .. app-0999
    settle(panel)
    names = [value for _, value in picker.repositories.options]
    assert names and all("app-099" in n for n in names) and len(names) == 10
    assert picker.more_repositories.layout.display == "none"


def test_tags_filter_and_show_more(panel: RegisterPanel) -> None:
    picker = panel.swr_picker
    picker.browse.value = True
    settle(panel)
    picker.namespaces.value = "mai-bench"
    settle(panel)
    picker.repo_filter.value = "app-0000"
    settle(panel)
    picker.repositories.value = "app-0000"
    settle(panel)
    assert len(picker.tags.options) == TAG_PAGE and picker.tag_count.value == f"{TAG_PAGE} of 200"
    picker.more_tags.click()
    assert len(picker.tags.options) == 2 * TAG_PAGE
    picker.tag_filter.value = "v019"
    assert sorted(value for _, value in picker.tags.options) == [f"v019{i}" for i in range(10)]
    picker.tags.value = "v0195"
    assert panel.swr_path.value == f"{REG}/mai-bench/app-0000:v0195"


def test_an_unreadable_organization_says_so_and_typing_still_works(panel: RegisterPanel) -> None:
    picker = panel.swr_picker
    picker.browse.value = True
    settle(panel)
    picker.namespaces.options = [*picker.namespaces.options, (DEFAULTS.forbidden_namespace,) * 2]
    picker.namespaces.value = DEFAULTS.forbidden_namespace
    settle(panel)
    assert "Cannot list SWR" in picker.message.value and "You can still type the path" in picker.message.value
    panel.swr_path.value = f"{REG}/{DEFAULTS.forbidden_namespace}/private-app:1.0"
    assert panel.controller.fields["swr_path"].endswith("private-app:1.0")


def test_closing_the_panel_ends_the_listings(emu: EmulatorProcess) -> None:
    import threading

    panel = RegisterPanel(client=make_client(emu), preflight=False)
    panel.swr_picker.browse.value = True
    panel.close()
    assert not any(t.name.startswith("mai-widgets-swr-") for t in threading.enumerate() if t.is_alive())
