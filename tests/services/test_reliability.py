"""Reliability: faults, crashes, hostile input and secrets, each with an asserted outcome."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from emulator_clients import registrations_per_path
from http_recorder import Recorder
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mai_widgets.auth.config import load_config
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator import DEFAULTS, DEMO_SWR_IMAGES, EmulatorProcess
from mai_widgets.errors import MaiWidgetsError, ValidationError
from mai_widgets.services.images import ImageClient
from mai_widgets.wire.contract import (
    IMAGE_ID_RE,
    REGISTER_FIELDS,
    ImageRecord,
    ImageStatus,
    validate_register_fields,
)

REGISTRY = DEFAULTS.registry


def make_client(
    emu: EmulatorProcess, session: requests.Session | None = None, **overrides: Any
) -> ImageClient:
    env = emu.env()
    settings_: dict[str, Any] = {"poll_initial": 0.05, "poll_max": 0.2, "max_retries": 6, **overrides}
    return ImageClient(
        load_config(env=env, config_dirs=[], **settings_), Credentials.from_env(env), session=session
    )


# -- faults -------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 2026])
def test_100_registrations_through_20_percent_faults_each_registered_once(
    emulator_factory: Callable[..., EmulatorProcess], seed: int
) -> None:
    emu = emulator_factory(
        fault_rate=0.2, faults="500,503,429,drop,malformed", fault_seed=seed, retry_after=1
    )
    seen = Recorder()
    client = make_client(emu, session=seen.session())
    paths = [f"{REGISTRY}/mai-reliability/app-{i:03d}:v1" for i in range(100)]
    records = [client.register(swr_path=p) for p in paths]

    assert [r.swr_path for r in records] == paths
    assert len({r.id for r in records}) == 100
    assert not any(r.already_registered for r in records)  # each was this call's own
    assert registrations_per_path(emu) == dict.fromkeys(paths, 1)  # exactly once, no duplicates
    with emu.store() as store:
        assert sorted(store.all_ids()) == sorted(r.id for r in records)
    faults = [r.headers["X-Emulator-Fault"] for r in seen.responses if "X-Emulator-Fault" in r.headers]
    assert any(f.endswith(";after") for f in faults)  # the ambiguous kind really happened
    assert len(faults) >= 10


@pytest.mark.slow
def test_sigkill_mid_run_keeps_every_acknowledged_record(emulator: EmulatorProcess) -> None:
    client = make_client(emulator, max_retries=2, connect_timeout=1.0, read_timeout=5.0)
    acknowledged: list[ImageRecord] = []
    failures: list[str] = []
    done = threading.Event()

    def register_loop() -> None:
        i = 0
        deadline = time.monotonic() + 90
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            path = f"{REGISTRY}/mai-crash/app-{i:03d}:v1"
            try:
                acknowledged.append(client.register(swr_path=path))
                i += 1
            except MaiWidgetsError as exc:  # the emulator is down: try the same path again
                failures.append(exc.code)
                time.sleep(0.05)
        done.set()

    worker = threading.Thread(target=register_loop)
    worker.start()
    while len(acknowledged) < 15 and not done.is_set():
        time.sleep(0.01)
    emulator.kill()
    killed_after = len(acknowledged)
    time.sleep(0.3)
    emulator.start()  # same port, same data directory
    worker.join(timeout=120)
    assert not worker.is_alive()

    assert len(acknowledged) == 40
    assert killed_after >= 15
    assert failures  # the crash was seen by the client
    counts = registrations_per_path(emulator)
    for record in acknowledged:
        assert counts.get(record.swr_path or "") == 1
        assert client.get(record.id).swr_path == record.swr_path
    assert sum(counts.values()) == 40


# -- hostile input never leaves the machine -----------------------------------------------------

_ID_EXAMPLES = [
    "../images",
    "..%2F..%2Fx",
    "a/b",
    "a b",
    "ü",
    "abc?force=true",
    "abc#x",
    "",
    " ",
    "a\nb",
    "%2e%2e",
]


@pytest.fixture(scope="module")
def shared_emulator(tmp_path_factory: pytest.TempPathFactory) -> Any:
    emu = EmulatorProcess(tmp_path_factory.mktemp("hyp"))
    with emu:
        yield emu


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(image_id=st.one_of(st.sampled_from(_ID_EXAMPLES), st.text(max_size=40)))
def test_bad_image_ids_send_nothing(shared_emulator: EmulatorProcess, image_id: str) -> None:
    if isinstance(image_id, str) and IMAGE_ID_RE.match(image_id):
        return  # a well-formed id may be sent; only malformed ones are the point here
    seen = Recorder()
    client = make_client(shared_emulator, session=seen.session())
    calls: list[Callable[[], object]] = [
        lambda: client.get(image_id),
        lambda: client.delete(image_id),
        lambda: client.delete(image_id, force=True),
        lambda: client.sync(image_id),
        lambda: client.wait(image_id, timeout=1),
    ]
    for call in calls:
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.fields == ("image_id",)
    assert seen.responses == []


_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from("/.%:@ ?#\\-_"), st.characters(codec="utf-8")), max_size=60
)
_FIELD_VALUES = st.one_of(
    _TEXT,
    st.lists(_TEXT, max_size=3),
    st.none(),
    st.integers(),
    st.just(["CPU", "gpu"]),
    st.sampled_from(["X86_64", "aarch64", "NOTEBOOK", "PRIVATE"]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.dictionaries(
        st.sampled_from([*REGISTER_FIELDS, "evil", "project_id"]), _FIELD_VALUES, max_size=6
    ),
    swr_path=st.one_of(
        _TEXT,
        st.sampled_from(["../../v1/x/images", "swr.x/ns/../img:1", "swr.x/ns/img:1%2F..", "swr.x/Ns/img:1 "]),
    ),
)
@example(fields={"workspace_id": "../0"}, swr_path=DEMO_SWR_IMAGES[0])
@example(fields={"description": "x" * 513}, swr_path=DEMO_SWR_IMAGES[0])
def test_bad_register_fields_send_nothing(
    shared_emulator: EmulatorProcess, fields: dict[str, Any], swr_path: str
) -> None:
    values = {**fields, "swr_path": swr_path}
    problems = validate_register_fields(values)
    if not problems:
        return  # valid input is the other tests' business
    seen = Recorder()
    client = make_client(shared_emulator, session=seen.session())
    with pytest.raises(ValidationError) as info:
        client.register(**values)
    assert set(info.value.fields) <= set(values)
    assert info.value.fields
    assert seen.responses == []


def test_list_filters_stay_in_the_query_string(emulator: EmulatorProcess) -> None:
    seen = Recorder()
    client = make_client(emulator, session=seen.session())
    assert client.list(name="../../v3/auth/tokens", namespace="a/../b%2F..") == []
    paths = {urlsplit(r.request.url or "").path for r in seen.responses}
    assert paths == {f"/v1/{emulator.project_id}/images"}


# -- secrets ------------------------------------------------------------------------------------


def test_secrets_never_reach_reprs_logs_or_errors(
    emulator: EmulatorProcess, caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    caplog.set_level(logging.DEBUG)  # root: urllib3's connection logs too
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    base = {k: v for k, v in emulator.env().items() if not k.startswith("HUAWEICLOUD_SDK_")}
    base["HUAWEICLOUD_SDK_PROJECT_ID"] = emulator.project_id
    environments = {
        "aksk": {**base, "HUAWEICLOUD_SDK_AK": DEFAULTS.ak, "HUAWEICLOUD_SDK_SK": DEFAULTS.sk},
        "temporary": {
            **base,
            "HUAWEICLOUD_SDK_AK": DEFAULTS.temp_ak,
            "HUAWEICLOUD_SDK_SK": DEFAULTS.temp_sk,
            "HUAWEICLOUD_SDK_SECURITY_TOKEN": DEFAULTS.security_token,
        },
        "password": {
            **base,
            "MAI_WIDGETS_IAM_USER": DEFAULTS.iam_user,
            "MAI_WIDGETS_IAM_DOMAIN": DEFAULTS.iam_domain,
            "MAI_WIDGETS_IAM_PASSWORD": DEFAULTS.iam_password,
        },
        "wrong_sk": {**base, "HUAWEICLOUD_SDK_AK": DEFAULTS.ak, "HUAWEICLOUD_SDK_SK": "wrong-sk-7b1f-secret"},
        "wrong_password": {
            **base,
            "MAI_WIDGETS_IAM_USER": DEFAULTS.iam_user,
            "MAI_WIDGETS_IAM_DOMAIN": DEFAULTS.iam_domain,
            "MAI_WIDGETS_IAM_PASSWORD": "wrong-password-5c2e",
        },
        "token": {**base, "MAI_WIDGETS_TOKEN": "MIIemu-made-up-token-9d3a"},
        "unreachable": {
            **base,
            "MAI_WIDGETS_ENDPOINT": "http://127.0.0.1:9",
            "HUAWEICLOUD_SDK_AK": DEFAULTS.ak,
            "HUAWEICLOUD_SDK_SK": DEFAULTS.sk,
        },
    }
    secrets = {
        DEFAULTS.ak,
        DEFAULTS.sk,
        DEFAULTS.temp_ak,
        DEFAULTS.temp_sk,
        DEFAULTS.security_token,
        DEFAULTS.iam_password,
        "wrong-sk-7b1f-secret",
        "wrong-password-5c2e",
        "MIIemu-made-up-token-9d3a",
    }
    shown: list[str] = []
    for env in environments.values():
        creds = Credentials.from_env(env)
        client = ImageClient(load_config(env=env, config_dirs=[], max_retries=0), creds)
        shown += [repr(client), repr(client.config), repr(creds), str(creds)]
        try:
            record = client.register(swr_path=DEMO_SWR_IMAGES[2])
            shown += [repr(record), repr(client.get(record.id)), repr(client.list())]
            shown.append(repr(client.wait(record.id, timeout=0.1)))
            client.delete(record.id)
        except MaiWidgetsError as exc:
            shown += [str(exc), repr(exc), exc.one_line(), str(exc.hint), repr(exc.__dict__)]
    text = "\n".join(shown) + "\n" + caplog.text
    assert any("GET" in m or "POST" in m for m in caplog.messages)  # debug logging really ran
    issued = [part for part in text.split() if part.startswith("MIIemu") and "made-up" not in part]
    assert issued == []  # no IAM token the emulator issued
    for secret in secrets:
        assert secret not in text, secret


@pytest.mark.parametrize("not_found", ["ModelArts.6404", "ModelArts.6797"])
def test_delete_whose_answer_was_lost_reports_the_deleted_record(
    emulator_factory: Callable[..., EmulatorProcess], not_found: str
) -> None:
    emu = emulator_factory(fault_rate=0.35, faults="500,drop", fault_seed=6, image_not_found_code=not_found)
    seen = Recorder()
    client = make_client(emu, session=seen.session())
    records = [client.register(swr_path=f"{REGISTRY}/mai-delete/app-{i:02d}:v1") for i in range(8)]
    deleted = [client.delete(r.id) for r in records]
    assert [d.id for d in deleted] == [r.id for r in records]
    assert all(d.status == ImageStatus.DELETED for d in deleted)
    # At least one DELETE took effect, lost its answer, and its retry met "image not found".
    assert any(
        r.request.method == "DELETE" and r.status_code == 400 and r.json()["error_code"] == not_found
        for r in seen.responses
    )
    with emu.store() as store:
        assert store.count() == 0
        assert store.count(include_deleted=True) == 8
