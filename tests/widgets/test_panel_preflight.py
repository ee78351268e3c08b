"""The preflight matrix in the panel (DummyComm widgets against the emulator over HTTP): each check's
pass, warn and fail as the user sees it, the one-click fixes, "Register anyway", and the debounce."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from widget_support import make_client, stored_count

from mai_widgets import RegisterPanel
from mai_widgets.emulator import DEFAULTS, EmulatorProcess
from mai_widgets.widgets.workbench import IMAGES_TAB, Workbench
from mai_widgets.wire.contract import ImageStatus

REG = DEFAULTS.registry
WAIT = 30.0


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        tmp_path_factory.mktemp("panel-preflight"), init_seconds=0.2, creating_seconds=0.3
    ) as process:
        yield process


def checked(panel: RegisterPanel) -> dict[str, str]:
    """Run the pending preflight now and return each check's outcome, as the checklist shows it."""
    assert panel.controller.wait_preflight(WAIT)
    c = panel.controller
    assert c.preflight_state == "done"
    shown = panel.preflight_view.list.value
    for check in c.checks:  # one line each, marked and classed by outcome
        mark = {"pass": "✓", "warn": "⚠", "fail": "✗"}[check.outcome]
        assert f"mai-check mai-check-{check.outcome}" in shown and mark in shown
    return {check.name: check.outcome for check in c.checks}


def message(panel: RegisterPanel, name: str) -> str:
    return next(c.message for c in panel.controller.checks if c.name == name)


def test_a_good_image_passes_and_registers_without_a_question(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu))
    panel.swr_path.value = f"{REG}/mai-demo/notebook-multiarch:1.0.0"
    assert checked(panel) == {"exists": "pass", "architecture": "pass", "user": "pass", "registered": "pass"}
    assert "linux/amd64, linux/arm64/v8" in panel.preflight_view.list.value
    assert not panel.register_button.disabled
    panel.register_button.click()
    assert panel.preflight_view.confirm_box.layout.display == "none"
    assert panel.controller.wait_settled(WAIT)
    record = panel.controller.record
    assert record is not None and record.status == ImageStatus.ACTIVE
    # registered now: the checks run again and say so
    assert checked(panel)["registered"] == "warn" and record.id in message(panel, "registered")
    panel.close()


def test_a_missing_tag_fails_disables_register_and_offers_the_nearest(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu))
    panel.swr_path.value = "mai-demo/pytorch-cpu:2.3"
    assert checked(panel) == {"exists": "fail", "registered": "pass"}
    assert panel.register_button.disabled
    assert "There is no tag 2.3 in mai-demo/pytorch-cpu in SWR" in panel.reason.value
    assert any("There is no tag 2.3" in b for b in panel.controller.blockers())
    suggestion = panel.preflight_view.use_suggestion
    assert suggestion.layout.display == "" and suggestion.description == "Use pytorch-cpu:2.3.0"
    suggestion.click()
    assert panel.swr_path.value == f"{REG}/mai-demo/pytorch-cpu:2.3.0"
    assert checked(panel)["exists"] == "pass"
    assert not panel.register_button.disabled
    panel.close()


def test_a_missing_repository_fails_naming_the_nearest(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu))
    panel.swr_path.value = "mai-demo/pytorch-cpus:2.3.0"
    assert checked(panel)["exists"] == "fail"
    assert "mai-demo/pytorch-cpu" in message(panel, "exists") and panel.register_button.disabled
    panel.close()


def test_the_wrong_arch_warns_asks_once_and_switches_in_one_click(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu), services=["SSH"])
    panel.swr_path.value = f"{REG}/mai-demo/mindspore-ascend:2.3.0-aarch64"
    assert checked(panel) == {"exists": "pass", "architecture": "warn", "registered": "pass"}
    assert "exec format error" in message(panel, "architecture")
    assert not panel.register_button.disabled  # a warning does not block
    before = stored_count(emu)
    panel.register_button.click()  # asks first, sends nothing
    view = panel.preflight_view
    assert view.confirm_box.layout.display == "" and "Register anyway?" in view.question.value
    assert "not X86_64" in view.question.value and stored_count(emu) == before
    view.cancel.click()
    assert view.confirm_box.layout.display == "none"
    assert view.use_arch.layout.display == "" and view.use_arch.description == "Use AARCH64"
    view.use_arch.click()
    assert panel.arch.value == "AARCH64" and panel.controller.fields["arch"] == "AARCH64"
    assert checked(panel)["architecture"] == "pass" and view.use_arch.layout.display == "none"
    panel.register_button.click()  # nothing warns now: registers at once
    assert panel.controller.wait_settled(WAIT)
    assert panel.controller.record is not None and panel.controller.record.status == ImageStatus.ACTIVE
    panel.close()


def test_register_anyway_registers_despite_a_warning(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu), services=["SSH"], arch="AARCH64")
    panel.swr_path.value = f"{REG}/mai-demo/pytorch-cpu:2.1.0"
    assert checked(panel)["architecture"] == "warn"
    panel.register_button.click()
    panel.preflight_view.confirm.click()
    assert panel.controller.warnings_accepted
    assert panel.controller.wait_settled(WAIT) and panel.controller.record is not None
    panel.close()


def test_a_root_image_warns_only_for_notebooks(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu))
    panel.swr_path.value = f"{REG}/mai-demo/sklearn:1.5.0"
    assert checked(panel)["user"] == "warn"
    assert "must run as ma-user (uid 1000, gid 100)" in message(panel, "user")
    panel.services.boxes["NOTEBOOK"].value = False
    assert "user" not in checked(panel)
    panel.close()


def test_already_registered_says_so_and_opens_it_in_the_images_tab(emu: EmulatorProcess) -> None:
    client = make_client(emu)
    path = f"{REG}/mai-demo/llm-serving:0.4.2"
    record = client.register(swr_path=path)
    bench = Workbench(client=client)
    panel = bench.register_panel
    panel.swr_path.value = path
    assert checked(panel)["registered"] == "warn" and record.id in message(panel, "registered")
    open_button = panel.preflight_view.open_registered
    assert open_button.layout.display == ""
    open_button.click()
    assert bench.selected_index == IMAGES_TAB and bench.browser.selected_id == record.id
    bench.close()


def test_without_a_workbench_there_is_nothing_to_open(emu: EmulatorProcess) -> None:
    client = make_client(emu)
    path = f"{REG}/mai-demo/onnxruntime:1.18.0"
    client.register(swr_path=path)
    panel = RegisterPanel(client=client)
    panel.swr_path.value = path
    assert checked(panel)["registered"] == "warn"
    assert panel.preflight_view.open_registered.layout.display == "none"
    panel.close()


def test_no_swr_access_says_so_and_registering_by_path_still_works(
    emu: EmulatorProcess, closed_loopback_url: str
) -> None:
    panel = RegisterPanel(client=make_client(emu, swr_endpoint=closed_loopback_url))
    panel.swr_path.value = f"{REG}/mai-demo/paddlepaddle:2.6.1"
    assert checked(panel) == {"access": "warn", "registered": "pass"}
    assert "you can still register by path" in message(panel, "access")
    assert not panel.register_button.disabled
    panel.register_button.click()
    panel.preflight_view.confirm.click()
    assert panel.controller.wait_settled(WAIT)
    assert panel.controller.record is not None and panel.controller.record.status == ImageStatus.ACTIVE
    panel.close()


def test_a_forbidden_namespace_is_one_plain_warning(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu))
    panel.swr_path.value = f"{DEFAULTS.forbidden_namespace}/private-app:1.0"
    assert checked(panel) == {"access": "warn", "registered": "pass"}
    assert "no read access to the SWR organization" in message(panel, "access")
    panel.close()


def test_typing_waits_for_a_pause_and_new_input_replaces_old_checks(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu))
    c = panel.controller
    assert c.preflight_state == "off" and panel.preflight_view.list.value == ""
    path = f"{REG}/mai-demo/xgboost:2.1.1"
    for i in range(1, len(path) + 1):
        panel.swr_path.value = path[:i]
    assert c.preflight_state == "waiting" and "Checking" in panel.preflight_view.list.value
    deadline = time.monotonic() + WAIT  # the debounce starts it by itself after the pause
    while c.preflight_state != "done" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert c.preflight_state == "done" and c.checks[0].data["swr_path"] == path
    panel.swr_path.value = "not a path"  # incomplete: the checklist goes away
    assert c.preflight_state == "off" and c.checks == [] and panel.preflight_view.list.value == ""
    panel.close()


def test_closing_the_panel_cancels_a_pending_preflight(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu))
    panel.swr_path.value = f"{REG}/mai-demo/lightgbm:4.5.0"
    panel.controller.run_preflight_now()
    panel.close()
    assert panel.controller.wait_preflight(2.0)
    names = {t.name for t in __import__("threading").enumerate()}
    assert "mai-widgets-preflight" not in names and "mai-widgets-debounce" not in names


def test_preflight_off_leaves_the_form_as_before(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu), preflight=False)
    panel.swr_path.value = f"{REG}/mai-demo/never-pushed:1.0"
    assert panel.controller.preflight_state == "off" and not panel.controller.preflight_enabled
    assert not panel.register_button.disabled
    panel.close()


def test_a_failed_registration_of_the_path_is_named_with_the_way_out(
    emu: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = f"{REG}/mai-demo/failed-then-pushed:1.0"
    client = make_client(emu)
    failed = client.register(swr_path=path)
    assert client.wait(failed.id, timeout=WAIT).record.status == ImageStatus.CREATE_FAILED
    for name, value in emu.env().items():
        monkeypatch.setenv(name, value)
    from mai_widgets.emulator.push import push_image

    push_image(path)
    panel = RegisterPanel(client=client)
    panel.swr_path.value = path
    assert checked(panel) == {"exists": "pass", "architecture": "pass", "user": "pass", "registered": "warn"}
    assert message(panel, "registered") == (
        f"It is already registered as image {failed.id}, which ended CREATE_FAILED; "
        "Register offers to delete that record and register it again."
    )
    panel.close()


def test_register_clicked_before_the_checks_ended_waits_for_them(emu: EmulatorProcess) -> None:
    """A paste and a quick click: the checks still come first, and a failing one stops it."""
    before = stored_count(emu)
    panel = RegisterPanel(client=make_client(emu))
    c = panel.controller
    panel.swr_path.value = f"{REG}/mai-demo/never-pushed-quick-click:1.0"
    assert c.preflight_state == "waiting" and not panel.register_button.disabled
    panel.register_button.click()
    # Nothing is sent yet; the button says why it waits, and a second click adds nothing.
    assert c.state == "editing" and c.record is None
    assert panel.register_button.disabled and "checked first" in panel.reason.value
    assert c.wait_settled(WAIT)  # waits for the checks, then for what they allowed
    assert {check.name: check.outcome for check in c.checks}["exists"] == "fail"
    assert panel.register_button.disabled and "There is no repository" in panel.reason.value
    assert c.record is None and stored_count(emu) == before  # nothing was registered
    # A click the browser sent before it saw the button disabled registers nothing either.
    panel.register_button.click()
    assert c.wait_settled(WAIT) and c.record is None and stored_count(emu) == before

    # A good image clicked as quickly registers once its checks pass, with no second click.
    good = f"{REG}/mai-demo/pytorch-cpu:2.3.0"
    panel.swr_path.value = good
    panel.register_button.click()
    assert c.wait_settled(WAIT)
    assert c.record is not None and c.record.swr_path == good and c.record.status == ImageStatus.ACTIVE
    assert stored_count(emu) == before + 1
    panel.close()


def test_typing_after_register_was_clicked_cancels_the_wait(emu: EmulatorProcess) -> None:
    panel = RegisterPanel(client=make_client(emu))
    c = panel.controller
    panel.swr_path.value = f"{REG}/mai-demo/lightgbm:4.5.0"
    panel.register_button.click()
    assert c.register_waiting
    panel.swr_path.value = f"{REG}/mai-demo/lightgbm:4.5"  # changed after the click
    assert not c.register_waiting
    assert c.wait_preflight(WAIT) and c.record is None and c.state == "editing"
    panel.close()
