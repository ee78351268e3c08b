"""RegistrationController against the emulator over real HTTP, with and without an event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from emulator_clients import client_for
from widget_support import CREDENTIAL_VARS, make_client, stored_count, with_refused_arch

from mai_widgets.auth.config import load_config
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator.defaults import DEFAULTS, DEMO_SWR_IMAGES
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.errors import (
    ApiError,
    AuthenticationError,
    ConfigError,
    PermissionDeniedError,
    ServerError,
    ValidationError,
)
from mai_widgets.kernel import controller as controller_module
from mai_widgets.kernel.controller import RegistrationController
from mai_widgets.kernel.threads import MainLoopWriter
from mai_widgets.services.images import ImageClient
from mai_widgets.wire.contract import ImageStatus, RegisterRequest

GOOD = DEMO_SWR_IMAGES[0]
NOT_IN_SWR = f"{DEFAULTS.registry}/mai-demo/never-pushed:1.0"
FORBIDDEN = f"{DEFAULTS.registry}/{DEFAULTS.forbidden_namespace}/private-image:1.0"
SETTLE = 60.0  # generous bound for a loaded machine; the fast lifecycle settles in about 1 s


def wait_for(predicate: Callable[[], bool], timeout: float = SETTLE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_submit_registers_and_follows_to_active_without_a_loop(emulator: EmulatorProcess) -> None:
    c = RegistrationController(make_client(emulator), swr_path=GOOD, resource_category=["CPU", "GPU"])
    seen: list[tuple[str, str]] = []
    c.observe(lambda ch: seen.append((ch["new"], threading.current_thread().name)), names="state")
    assert c.state == "editing" and c.problems == {} and c.blockers() == []
    assert c.submit() is True
    assert c.wait_settled(SETTLE)
    assert c.state == "settled" and c.outcome == "settled"
    assert c.record is not None and c.record.status == ImageStatus.ACTIVE
    assert c.error is None and not c.busy
    assert c.record.swr_path == GOOD
    assert [s for s, _ in seen] == ["submitting", "watching", "settled"]
    # No loop: the worker applied its own changes (under the writer's lock).
    assert [t for s, t in seen if s != "submitting"] == ["mai-widgets-register"] * 2
    assert c.worker is not None and not c.worker.is_alive()
    assert stored_count(emulator) == 1


def test_with_a_running_loop_traits_change_on_the_loop_thread(emulator: EmulatorProcess) -> None:
    client = make_client(emulator)
    threads: list[str] = []

    async def scenario() -> RegistrationController:
        c = RegistrationController(client, swr_path=GOOD)
        assert c._writer.uses_loop
        c.observe(
            lambda _: threads.append(threading.current_thread().name), names=["state", "record", "polls"]
        )
        assert c.submit()
        deadline = time.monotonic() + SETTLE
        while c.state != "settled" or c.busy:
            assert time.monotonic() < deadline, "not settled in time"
            await asyncio.sleep(0.02)  # the loop turns: queued changes are applied here
        return c

    c = asyncio.run(scenario())
    assert c.record is not None and c.record.status == ImageStatus.ACTIVE
    assert threads and set(threads) == {threading.main_thread().name}
    assert c.worker is not None and c.worker.name == "mai-widgets-register"


def test_wait_settled_on_the_loop_thread_applies_pending_changes(emulator: EmulatorProcess) -> None:
    client = make_client(emulator)

    async def scenario() -> tuple[str, object]:
        c = RegistrationController(client, swr_path=GOOD)
        assert c.submit()
        # Blocking the loop (as a cell calling wait_settled does) must not leave stale traits.
        assert c.wait_settled(SETTLE)
        return c.state, c.record.status if c.record else None

    assert asyncio.run(scenario()) == ("settled", ImageStatus.ACTIVE)


def test_writer_without_a_running_loop_applies_directly() -> None:
    loop = asyncio.new_event_loop()
    try:
        writer = MainLoopWriter(loop)  # a loop that is not running counts as none
        applied: list[str] = []
        worker = threading.Thread(
            target=lambda: writer.post(lambda: applied.append(threading.current_thread().name))
        )
        worker.start()
        worker.join()
        assert applied == [worker.name]
    finally:
        loop.close()


def test_a_second_submit_while_one_is_in_flight_registers_nothing(emulator: EmulatorProcess) -> None:
    c = RegistrationController(make_client(emulator), swr_path=GOOD)
    assert c.submit() is True
    assert c.submit() is False
    assert c.submit() is False
    assert c.wait_settled(SETTLE)
    assert c.record is not None and c.record.status == ImageStatus.ACTIVE
    assert stored_count(emulator) == 1


def test_create_failed_settles_with_the_status_message(emulator: EmulatorProcess) -> None:
    c = RegistrationController(make_client(emulator), swr_path=NOT_IN_SWR)
    assert c.submit() and c.wait_settled(SETTLE)
    assert c.state == "settled"
    assert c.record is not None and c.record.status == ImageStatus.CREATE_FAILED
    assert "not found" in (c.record.status_message or "")


def test_replace_failed_deletes_once_and_registers_the_same_fields_again(emulator: EmulatorProcess) -> None:
    sent: list[str] = []
    session = requests.Session()
    session.hooks["response"].append(lambda r, *a, **k: sent.append(str(r.request.method)))
    client = client_for(emulator, session=session)
    c = RegistrationController(client, swr_path=NOT_IN_SWR, description="retry me")
    assert c.submit() and c.wait_settled(SETTLE)
    failed = c.record
    assert failed is not None and failed.status == ImageStatus.CREATE_FAILED and c.replaceable()
    sent.clear()
    heard: list[str] = []
    assert c.replace_failed(on_registered=lambda r: heard.append(r.id)) is True
    assert c.replace_failed() is False  # a double click while the first is in flight
    assert c.replace_failed() is False
    assert c.wait_settled(SETTLE)
    assert [m for m in sent if m in ("DELETE", "POST")] == ["DELETE", "POST"], "one delete, one register"
    assert c.error is None and c.state == "settled"  # no "not found" from a second delete covers it
    new = c.record
    assert new is not None and new.id != failed.id and heard == [new.id]
    assert new.swr_path == failed.swr_path and new.description == "retry me"
    assert client.get(failed.id).status == ImageStatus.DELETED


def test_replace_failed_needs_a_failed_record(emulator: EmulatorProcess) -> None:
    c = RegistrationController(make_client(emulator), swr_path=GOOD)
    assert c.replace_failed() is False  # nothing registered yet
    assert c.submit() and c.wait_settled(SETTLE)
    assert c.record is not None and c.record.status == ImageStatus.ACTIVE
    assert not c.replaceable() and c.replace_failed() is False
    assert stored_count(emulator) == 1


def test_replace_failed_after_a_delete_elsewhere_still_registers(emulator: EmulatorProcess) -> None:
    client = make_client(emulator)
    c = RegistrationController(client, swr_path=NOT_IN_SWR)
    assert c.submit() and c.wait_settled(SETTLE)
    failed = c.record
    assert failed is not None
    client.delete(failed.id)  # deleted elsewhere meanwhile: gone all the same
    assert c.replace_failed() is True and c.wait_settled(SETTLE)
    assert c.error is None and c.record is not None and c.record.id != failed.id


def test_a_failed_delete_keeps_the_failed_record_shown(emulator: EmulatorProcess) -> None:
    c = RegistrationController(make_client(emulator), swr_path=NOT_IN_SWR)
    assert c.submit() and c.wait_settled(SETTLE)
    failed = c.record
    assert failed is not None
    emulator.stop()  # the service is unreachable now
    assert c.replace_failed() is True and c.wait_settled(SETTLE)
    assert c.state == "failed" and c.error is not None
    assert c.record is failed, "the record stays shown with the error"


def test_stop_ends_following_but_not_the_image(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(creating_seconds=60)
    c = RegistrationController(make_client(emu), swr_path=GOOD)
    assert c.submit()
    wait_for(lambda: c.state == "watching")
    c.stop()
    assert c.wait_settled(SETTLE)
    assert c.state == "settled" and c.outcome == "stopped"
    assert c.record is not None and c.record.status in (ImageStatus.INIT, ImageStatus.CREATING)
    assert c.worker is not None and not c.worker.is_alive()
    # Following again picks the same image up.
    assert c.follow(c.record.id)
    wait_for(lambda: c.state == "watching")
    c.close()
    assert not c.worker.is_alive()


def test_close_stops_the_poll_thread_and_refuses_more_work(
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    emu = emulator_factory(creating_seconds=60)
    c = RegistrationController(make_client(emu), swr_path=GOOD)
    assert c.submit()
    wait_for(lambda: c.state == "watching")
    worker = c.worker
    assert worker is not None and worker.is_alive()
    c.close()
    assert not worker.is_alive()
    assert not [t for t in threading.enumerate() if t.name.startswith("mai-widgets-")]
    assert c.closed and c.submit() is False and c.follow("abc") is False
    assert "this panel was closed" in c.blockers()


def test_interpreter_exit_stops_every_follower(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(creating_seconds=60)
    c = RegistrationController(make_client(emu), swr_path=GOOD)
    assert c.submit()
    wait_for(lambda: c.state == "watching")
    controller_module._stop_all()  # what atexit runs at kernel shutdown
    assert c.wait_settled(SETTLE)
    assert c.outcome == "stopped"
    assert c.worker is not None and not c.worker.is_alive()


def test_invalid_fields_send_nothing(emulator: EmulatorProcess) -> None:
    c = RegistrationController(
        make_client(emulator), swr_path="this is not an swr path at all", description="x" * 513
    )
    assert set(c.problems) == {"swr_path", "description"}
    assert any(r.startswith("SWR path must not contain spaces") for r in c.blockers())
    assert c.request is None
    assert c.submit() is False
    assert c.state == "failed" and isinstance(c.error, ValidationError)
    assert set(c.error.fields) == {"swr_path", "description"}
    with pytest.raises(ValidationError):
        c.preview()
    c.update_fields(swr_path=GOOD, description="ok")
    assert c.problems == {} and c.request is not None
    assert stored_count(emulator) == 0


def test_missing_credentials_are_named_before_any_click(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    config = load_config(env=emulator.env(), config_dirs=[])
    c = RegistrationController(config=config, swr_path=GOOD)
    assert c.missing == ["HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"]
    assert "local ModelArts emulator" in c.endpoint
    assert any("HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK" in r for r in c.blockers())
    assert c.submit() is False
    assert isinstance(c.error, ConfigError) and "HUAWEICLOUD_SDK_AK" in c.error.message
    assert stored_count(emulator) == 0


def test_configuration_from_the_environment(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MAI_WIDGETS_WORKSPACE_ID", "0123456789abcdef0123456789abcdef")
    c = RegistrationController(swr_path=GOOD)
    assert c.missing == [] and c.fields["workspace_id"] == "0123456789abcdef0123456789abcdef"
    assert c.submit() and c.wait_settled(SETTLE)
    assert c.record is not None and c.record.workspace_id == "0123456789abcdef0123456789abcdef"


def test_wrong_secret_key_is_a_401_with_a_hint(emulator: EmulatorProcess) -> None:
    c = RegistrationController(make_client(emulator, sk="not-the-secret-key"), swr_path=GOOD)
    assert c.submit() and c.wait_settled(SETTLE)
    assert c.state == "failed" and c.record is None
    assert isinstance(c.error, AuthenticationError) and c.error.status == 401
    assert c.error.hint and "HUAWEICLOUD_SDK_SK" in c.error.hint
    assert stored_count(emulator) == 0


def test_forbidden_namespace_is_a_400_2885(emulator: EmulatorProcess) -> None:
    c = RegistrationController(make_client(emulator), swr_path=FORBIDDEN)
    assert c.submit() and c.wait_settled(SETTLE)
    assert isinstance(c.error, PermissionDeniedError)
    assert (c.error.status, c.error.error_code) == (400, "ModelArts.2885")
    assert c.error.request_id


class BypassingController(RegistrationController):
    """Sends an architecture the contract refuses, to reach the server's own validation."""

    @property
    def request(self) -> RegisterRequest | None:
        return with_refused_arch(RegisterRequest.create(swr_path=GOOD))


def test_server_side_validation_is_a_400(emulator: EmulatorProcess) -> None:
    c = BypassingController(make_client(emulator), swr_path=GOOD)
    assert c.submit() and c.wait_settled(SETTLE)
    assert c.state == "failed"
    assert isinstance(c.error, ApiError) and (c.error.status, c.error.error_code) == (400, "ModelArts.0104")
    assert "arch" in c.error.message
    assert stored_count(emulator) == 0


def test_server_errors_end_failed_not_hung(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(fault_rate=1, faults="500")
    c = RegistrationController(make_client(emu, max_retries=0), swr_path=GOOD)
    assert c.submit() and c.wait_settled(SETTLE)
    assert c.state == "failed" and isinstance(c.error, ServerError) and c.error.status == 500
    assert not c.busy


def test_follow_an_existing_image_and_refuse_a_bad_id(emulator: EmulatorProcess) -> None:
    client = make_client(emulator)
    first = RegistrationController(client, swr_path=GOOD)
    assert first.submit() and first.wait_settled(SETTLE) and first.record is not None
    c = RegistrationController(client)
    assert c.follow(first.record.id) and c.wait_settled(SETTLE)
    assert c.state == "settled" and c.record is not None and c.record.id == first.record.id
    bad = RegistrationController(client)
    assert bad.follow("../etc/passwd") is False
    assert bad.state == "failed" and isinstance(bad.error, ValidationError)


def test_registering_the_same_image_again_returns_the_existing_record(emulator: EmulatorProcess) -> None:
    client = make_client(emulator)
    first = RegistrationController(client, swr_path=GOOD)
    assert first.submit() and first.wait_settled(SETTLE) and first.record is not None
    again = RegistrationController(client, swr_path=GOOD)
    assert again.submit() and again.wait_settled(SETTLE)
    assert again.record is not None and again.record.id == first.record.id and again.record.already_registered
    assert stored_count(emulator) == 1


class BrokenClient(ImageClient):
    """Fault injection: a bug inside the client while registering."""

    def register(self, request: RegisterRequest | None = None, /, **fields: Any) -> Any:
        raise KeyError("internal detail")


def test_an_unexpected_exception_ends_failed_without_a_traceback(emulator: EmulatorProcess) -> None:
    client = make_client(emulator)
    broken = BrokenClient(client.config, Credentials(ak=emulator.ak, sk=emulator.sk))
    c = RegistrationController(broken, swr_path=GOOD)
    assert c.submit() and c.wait_settled(SETTLE)
    assert c.state == "failed" and not c.busy
    assert c.error is not None and "unexpected KeyError" in c.error.message
    assert "Traceback" not in c.error.one_line() and "internal detail" not in c.error.one_line()
    # Not stuck busy: another attempt is accepted (and fails the same way).
    assert c.submit() and c.wait_settled(SETTLE) and c.state == "failed"
    assert stored_count(emulator) == 0


# -- a host-less SWR path is completed once, where it enters -------------------------------------


def counted_completions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every completion that changed a path, in the controller and the client alike."""
    from mai_widgets.services import images as images_module
    from mai_widgets.wire.contract import complete_swr_path

    completed: list[str] = []

    def counting(path: str, region: str) -> str:
        full = complete_swr_path(path, region)
        if full != path:
            completed.append(path)
        return full

    monkeypatch.setattr(controller_module, "complete_swr_path", counting)
    monkeypatch.setattr(images_module, "complete_swr_path", counting)
    return completed


def test_a_hostless_path_typed_in_the_form_is_completed_once_and_sent_whole(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    completed = counted_completions(monkeypatch)
    hostless = GOOD.split("/", 1)[1]
    c = RegistrationController(make_client(emulator), swr_path=hostless)
    completed.clear()  # the form validates as it is filled; count from the press on
    assert c.submit() is True
    assert c.wait_settled(SETTLE)
    assert c.record is not None and c.record.swr_path == GOOD  # what the service stored
    assert completed == [hostless]  # once, by the controller; the client sent it as it was


def test_the_client_completes_a_typed_field_and_refuses_a_hostless_request(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    completed = counted_completions(monkeypatch)
    client = make_client(emulator)
    hostless = GOOD.split("/", 1)[1]
    with pytest.raises(ValidationError, match="registry host"):
        client.register(RegisterRequest.create(swr_path=hostless))
    assert stored_count(emulator) == 0  # nothing sent
    completed.clear()
    record = client.register(swr_path=hostless)
    assert record.swr_path == GOOD and completed == [hostless]
