"""The local ModelArts emulator, over real HTTP: routes, shapes, lifecycle, auth, durability, faults."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mai_widgets.emulator.defaults import DEFAULTS, DEMO_SWR_IMAGES, PRESET_IMAGES
from mai_widgets.emulator.process import EmulatorError, EmulatorProcess
from mai_widgets.emulator.store import ImageStore
from mai_widgets.transport.signer import AKSKAuth
from mai_widgets.wire.contract import IMAGE_ID_RE, ImageRecord

REG = DEFAULTS.registry
GOOD = DEMO_SWR_IMAGES[0]
RECORD_KEYS = {
    "arch", "create_at", "description", "dev_services", "id", "name", "namespace", "origin",
    "resource_categories", "service_type", "size", "status", "status_message",
    "support_res_categories", "swr_path", "tag", "type", "update_at", "visibility", "workspace_id",
}  # fmt: skip
MINE = {"type": "DEDICATED"}  # a list without type shows the service's presets only
TIMEOUT = (5, 30)


# -- helpers -------------------------------------------------------------------------------------


def session(emu: EmulatorProcess, *, sk: str | None = None, ak: str | None = None) -> requests.Session:
    s = requests.Session()
    s.auth = AKSKAuth(ak or emu.ak, sk or emu.sk, project_id=emu.project_id)
    return s


def images(emu: EmulatorProcess, suffix: str = "") -> str:
    return f"{emu.url}/v1/{emu.project_id}/images{suffix}"


def register(s: requests.Session, emu: EmulatorProcess, swr_path: str, **fields: Any) -> requests.Response:
    return s.post(images(emu), json={"swr_path": swr_path, **fields}, timeout=TIMEOUT)


def error_of(r: requests.Response) -> tuple[int, str, str]:
    body = r.json()
    assert set(body) >= {"error_code", "error_msg"}, body
    return r.status_code, body["error_code"], body["error_msg"]


def wait_for_status(s: requests.Session, emu: EmulatorProcess, image_id: str, wanted: str) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = s.get(images(emu, f"/{image_id}"), timeout=TIMEOUT).json()["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == wanted:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"{image_id} never reached {wanted}; saw {seen}")


def iam_token(emu: EmulatorProcess, password: str = DEFAULTS.iam_password) -> requests.Response:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": DEFAULTS.iam_user,
                        "password": password,
                        "domain": {"name": DEFAULTS.iam_domain},
                    }
                },
            },
            "scope": {"project": {"name": emu.region}},
        }
    }
    return requests.post(f"{emu.url}/v3/auth/tokens", json=body, timeout=TIMEOUT)


def every_route(emu: EmulatorProcess, image_id: str) -> list[tuple[str, str, Any]]:
    """(method, url, json body) for every authenticated route."""
    return [
        ("POST", images(emu), {"swr_path": DEMO_SWR_IMAGES[1]}),
        ("GET", images(emu), None),
        ("GET", images(emu, "/group"), None),
        ("GET", images(emu, f"/{image_id}"), None),
        ("POST", images(emu, f"/{image_id}/sync"), None),
        ("DELETE", images(emu, f"/{image_id}"), {"is_force": False}),
        ("GET", f"{emu.url}/v3/projects?name={emu.region}", None),
    ]


# -- process and CLI -------------------------------------------------------------------------------


def test_prints_url_with_real_port_and_listens_on_loopback(emulator: EmulatorProcess) -> None:
    parts = urlsplit(emulator.url)
    assert parts.hostname == "127.0.0.1"
    assert parts.port and parts.port == emulator.port
    env = emulator.env()
    assert env["MAI_WIDGETS_ENDPOINT"] == emulator.url == env["MAI_WIDGETS_IAM_ENDPOINT"]
    assert env["HUAWEICLOUD_SDK_PROJECT_ID"] == DEFAULTS.project_id
    assert DEFAULTS.sk not in repr(emulator)


def test_bad_flags_surface_stderr(tmp_path: Path) -> None:
    with pytest.raises(EmulatorError):
        EmulatorProcess(tmp_path, args=["--region"])  # a flag without its value
    # A port already taken: the child fails and its stderr is in the error.
    with EmulatorProcess(tmp_path / "a") as first:
        clash = EmulatorProcess(tmp_path / "b", port=first.port)
        with pytest.raises(EmulatorError, match="cannot listen"):
            clash.start()
        clash.close()


# -- register and show -----------------------------------------------------------------------------


def test_register_and_show_have_the_documented_shape(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    before = int(time.time() * 1000)
    r = register(
        s, emulator, GOOD, arch="X86_64", services=["NOTEBOOK"], resource_category=["CPU", "GPU"],
        service_type="TRAIN", description="demo", visibility="PRIVATE", workspace_id="0",
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-Id"]
    rec = r.json()
    assert set(rec) == RECORD_KEYS
    assert rec["status"] == "INIT"
    assert IMAGE_ID_RE.match(rec["id"]) and len(rec["id"]) == 36
    assert rec["arch"] == "x86_64"  # lower case, as the service's own example
    assert rec["dev_services"] == ["NOTEBOOK"]
    assert rec["resource_categories"] == rec["support_res_categories"] == ["CPU", "GPU"]
    assert (rec["name"], rec["namespace"], rec["tag"]) == ("pytorch-cpu", "mai-demo", "2.3.0")
    assert rec["type"] == "DEDICATED" and rec["origin"] == "CUSTOMIZE" and rec["service_type"] == "TRAIN"
    assert before <= rec["create_at"] <= int(time.time() * 1000)
    assert rec["update_at"] == rec["create_at"]
    shown = s.get(images(emulator, f"/{rec['id']}"), timeout=TIMEOUT)
    assert shown.status_code == 200 and shown.headers["X-Request-Id"] != r.headers["X-Request-Id"]
    assert shown.json()["id"] == rec["id"] and shown.json()["swr_path"] == GOOD
    assert "show_name" not in rec and "show_tag" not in rec  # preset images' fields only
    parsed = ImageRecord.from_wire(shown.json())
    assert parsed.services and parsed.extra == {}


def test_defaults_when_fields_are_omitted(emulator: EmulatorProcess) -> None:
    rec = register(session(emulator), emulator, GOOD).json()
    assert rec["dev_services"] == ["NOTEBOOK", "SSH"]
    assert rec["resource_categories"] == rec["support_res_categories"] == ["CPU", "GPU"]
    assert rec["service_type"] == "UNKNOWN" and rec["visibility"] == "PRIVATE" and rec["workspace_id"] == "0"


def test_lifecycle_reaches_active_with_update_at_of_last_change(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    rec = register(s, emulator, GOOD).json()
    assert rec["status"] == "INIT"
    seen = wait_for_status(s, emulator, rec["id"], "ACTIVE")
    # Polls may miss a short state on a busy machine, but never go backwards or sideways.
    order = ["INIT", "CREATING", "ACTIVE"]
    assert [order.index(status) for status in seen] == sorted(order.index(status) for status in seen)
    active = s.get(images(emulator, f"/{rec['id']}"), timeout=TIMEOUT).json()
    assert active["update_at"] - active["create_at"] == 900  # 0.3 s INIT + 0.6 s CREATING
    assert active["size"] > 0


def test_unknown_swr_image_goes_to_create_failed(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    rec = register(s, emulator, f"{REG}/mai-demo/never-pushed:1.0").json()
    seen = wait_for_status(s, emulator, rec["id"], "CREATE_FAILED")
    assert "ACTIVE" not in seen and "CREATING" not in seen
    failed = s.get(images(emulator, f"/{rec['id']}"), timeout=TIMEOUT).json()
    assert "not found" in failed["status_message"]
    assert failed["update_at"] - failed["create_at"] == 300


def test_catalogue_flags_add_images(emulator_factory: Callable[..., EmulatorProcess], tmp_path: Path) -> None:
    listed = tmp_path / "catalogue.txt"
    listed.write_text(f"# pushed images\n{REG}/team/from-file:1\n\n", encoding="utf-8")
    emu = emulator_factory(swr_image=[f"{REG}/team/from-flag:1"], swr_catalogue=listed)
    s = session(emu)
    for path in (f"{REG}/team/from-file:1", f"{REG}/team/from-flag:1"):
        wait_for_status(s, emu, register(s, emu, path).json()["id"], "ACTIVE")


def test_already_registered_is_2884_until_deleted(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    first = register(s, emulator, GOOD).json()
    again = register(s, emulator, GOOD)
    assert error_of(again) == (400, "ModelArts.2884", "image tag and image name is exist")
    assert s.delete(images(emulator, f"/{first['id']}"), timeout=TIMEOUT).status_code == 200
    third = register(s, emulator, GOOD)
    assert third.status_code == 200 and third.json()["id"] != first["id"]


def test_forbidden_namespace_is_2885(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(forbidden_namespace="locked-org")
    s = session(emu)
    status, code, _ = error_of(register(s, emu, f"{REG}/locked-org/app:1"))
    assert (status, code) == (400, "ModelArts.2885")
    assert register(s, emu, f"{REG}/{DEFAULTS.forbidden_namespace}/app:1").status_code == 200
    with emu.store() as store:
        assert store.count() == 1


def test_default_forbidden_namespace(emulator: EmulatorProcess) -> None:
    r = register(session(emulator), emulator, f"{REG}/{DEFAULTS.forbidden_namespace}/app:1")
    assert error_of(r)[:2] == (400, "ModelArts.2885")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"arch": "X86_64"}, ["swr_path"]),
        ({"swr_path": "short"}, ["swr_path"]),
        ({"swr_path": GOOD, "arch": "mips"}, ["arch"]),
        (
            {"swr_path": GOOD, "resource_category": "CPU", "visibility": "SECRET"},
            ["resource_category", "visibility"],
        ),
        ({"swr_path": GOOD, "description": "x" * 513}, ["description"]),
        ({"swr_path": GOOD, "colour": "blue"}, ["colour"]),
    ],
)
def test_validation_names_the_field(
    emulator: EmulatorProcess, body: dict[str, Any], named: list[str]
) -> None:
    r = session(emulator).post(images(emulator), json=body, timeout=TIMEOUT)
    status, code, msg = error_of(r)
    assert (status, code) == (400, "ModelArts.0104")
    for name in named:
        assert name in msg
    with emulator.store() as store:
        assert store.count(include_deleted=True) == 0


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b"\xff\xfe"])
def test_malformed_body_is_0104(emulator: EmulatorProcess, raw: bytes) -> None:
    r = session(emulator).post(
        images(emulator), data=raw, headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert error_of(r)[:2] == (400, "ModelArts.0104")


# -- delete, sync, unknown ids -----------------------------------------------------------------


def test_delete_accepts_query_flag_and_sdk_body(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    ids = [register(s, emulator, p).json()["id"] for p in DEMO_SWR_IMAGES[:3]]
    by_query = s.delete(images(emulator, f"/{ids[0]}"), params={"force": "true"}, timeout=TIMEOUT)
    by_body = s.delete(images(emulator, f"/{ids[1]}"), json={"is_force": True}, timeout=TIMEOUT)
    plain = s.delete(images(emulator, f"/{ids[2]}"), json={"is_force": False}, timeout=TIMEOUT)
    for r in (by_query, by_body, plain):
        assert r.status_code == 200 and r.json()["status"] == "DELETED"
    assert by_query.json()["status_message"] == by_body.json()["status_message"] == "image deleted (force)"
    assert plain.json()["status_message"] == "image deleted"
    listed = s.get(images(emulator), params=MINE, timeout=TIMEOUT).json()
    assert listed["total"] == 0 and listed["data"] == []
    assert s.get(images(emulator, f"/{ids[0]}"), timeout=TIMEOUT).json()["status"] == "DELETED"
    assert error_of(s.delete(images(emulator, f"/{ids[0]}"), timeout=TIMEOUT))[:2] == (400, "ModelArts.6404")
    live = register(s, emulator, DEMO_SWR_IMAGES[4]).json()["id"]
    bad = s.delete(images(emulator, f"/{live}"), params={"force": "maybe"}, timeout=TIMEOUT)
    assert error_of(bad)[:2] == (400, "ModelArts.0104") and "force" in bad.json()["error_msg"]
    bad_body = s.delete(images(emulator, f"/{live}"), json={"is_force": "yes"}, timeout=TIMEOUT)
    assert "is_force" in error_of(bad_body)[2]
    assert s.get(images(emulator, f"/{live}"), timeout=TIMEOUT).json()["status"] != "DELETED"


def test_sync_returns_the_record(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    rec = register(s, emulator, GOOD).json()
    synced = s.post(images(emulator, f"/{rec['id']}/sync"), timeout=TIMEOUT)
    assert (
        synced.status_code == 200 and set(synced.json()) == RECORD_KEYS and synced.json()["id"] == rec["id"]
    )


@pytest.mark.parametrize("flag", [None, "ModelArts.6404", "ModelArts.6797"])
def test_unknown_image_is_one_code_on_every_id_route(
    emulator_factory: Callable[..., EmulatorProcess], flag: str | None
) -> None:
    emu = emulator_factory(**({"image_not_found_code": flag} if flag else {}))
    s = session(emu)
    missing = "708ca95d-c601-4dc7-86b9-670adfd5e818"
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/sync")):
        r = s.request(method, images(emu, f"/{missing}{suffix}"), timeout=TIMEOUT)
        assert error_of(r) == (400, flag or "ModelArts.6404", f"Image {missing} does not exist.")
        assert r.headers["X-Request-Id"]


def test_unknown_project_is_403(emulator: EmulatorProcess) -> None:
    r = session(emulator).get(f"{emulator.url}/v1/ffffffffffffffffffffffffffffffff/images", timeout=TIMEOUT)
    assert error_of(r) == (
        403,
        "ModelArts.0210",
        "The project id in the request URL does not match the token",
    )


def test_unknown_route_is_gateway_404(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    assert error_of(s.get(f"{emulator.url}/v2/nothing", timeout=TIMEOUT))[:2] == (404, "APIG.0101")
    assert error_of(s.put(images(emulator), json={}, timeout=TIMEOUT))[:2] == (404, "APIG.0101")


# -- list and groups -----------------------------------------------------------------------------


def test_list_filters_sorting_and_paging(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    specs = [
        ("team-a", "alpha", "1", "TRAIN"),
        ("team-a", "alpha", "2", "TRAIN"),
        ("team-a", "alphabet", "1", "INFERENCE"),
        ("team-b", "beta", "1", "DEV"),
        ("team-b", "gamma", "1", "DEV"),
    ]
    for ns, name, tag, service_type in specs:
        assert register(s, emulator, f"{REG}/{ns}/{name}:{tag}", service_type=service_type).status_code == 200

    def q(**params: Any) -> dict[str, Any]:
        r = s.get(images(emulator), params={**MINE, **params}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        return dict(r.json())

    everything = q()
    assert set(everything) == {"current", "data", "pages", "size", "total"}
    assert (everything["total"], everything["size"], everything["pages"], everything["current"]) == (
        5,
        5,
        1,
        1,
    )
    # default order: newest first
    assert [d["name"] for d in everything["data"]] == ["gamma", "beta", "alphabet", "alpha", "alpha"]
    page2 = q(limit=2, offset=2)
    assert (page2["current"], page2["pages"], page2["size"], page2["total"]) == (2, 3, 2, 5)
    assert [d["id"] for d in page2["data"]] == [d["id"] for d in everything["data"][2:4]]
    assert q(limit=2, offset=4)["size"] == 1
    assert q(name="alpha")["total"] == 3  # fuzzy by default
    assert q(name="alpha", name_fuzzy_match="false")["total"] == 2
    assert q(name="ph", name_fuzzy_match="true")["total"] == 3
    assert q(namespace="team-b")["total"] == 2
    assert q(service_type="dev")["total"] == 2
    assert q(type="DEDICATED")["total"] == 5 and q(type="BUILD_IN")["total"] == len(PRESET_IMAGES)
    assert q(workspace_id="0")["total"] == 5 and q(workspace_id="other")["total"] == 0
    # another workspace's image is listed only when that workspace is asked for (default "0")
    other_ws = "0123456789abcdef0123456789abcdef"
    elsewhere = register(s, emulator, f"{REG}/team-a/delta:1", workspace_id=other_ws).json()["id"]
    assert q()["total"] == 5 and elsewhere not in {d["id"] for d in q()["data"]}
    assert [d["id"] for d in q(workspace_id=other_ws)["data"]] == [elsewhere]
    groups = s.get(images(emulator, "/group"), params=MINE, timeout=TIMEOUT).json()
    assert "delta" not in {g["name"] for g in groups["data"]}
    groups = s.get(images(emulator, "/group"), params={**MINE, "workspace_id": other_ws}, timeout=TIMEOUT)
    assert [g["name"] for g in groups.json()["data"]] == ["delta"]
    ascending = q(sort_key="name", sort_dir="ASC")
    assert [d["name"] for d in ascending["data"]] == ["alpha", "alpha", "alphabet", "beta", "gamma"]
    assert q(sort_key="create_at", sort_dir="ASC")["data"][0]["name"] == "alpha"
    assert q(sort_key="status,update_at")["total"] == 5
    for params, name in (
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"limit": "x"}, "limit"),
        ({"sort_dir": "UP"}, "sort_dir"),
        ({"sort_key": "name;drop"}, "sort_key"),
        ({"limit": 2**63}, "limit"),
        ({"service_type": "GAMES"}, "service_type"),
        ({"name_fuzzy_match": "perhaps"}, "name_fuzzy_match"),
    ):
        r = s.get(images(emulator), params=params, timeout=TIMEOUT)
        status, code, msg = error_of(r)
        assert (status, code) == (400, "ModelArts.0104") and name in msg


def test_groups_count_versions(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    for tag in ("1", "2", "3"):
        register(s, emulator, f"{REG}/team-a/alpha:{tag}")
    register(s, emulator, f"{REG}/team-a/beta:1")
    doomed = register(s, emulator, f"{REG}/team-a/beta:2").json()["id"]
    s.delete(images(emulator, f"/{doomed}"), timeout=TIMEOUT)
    r = s.get(images(emulator, "/group"), params=MINE, timeout=TIMEOUT)
    assert r.status_code == 200
    body = r.json()
    assert {"current", "data", "pages", "size", "total"} <= set(body) and body["total"] == 2
    counts = {g["name"]: g["version_count"] for g in body["data"]}
    assert counts == {"alpha": 3, "beta": 1}
    assert all(g["namespace"] == "team-a" and g["create_at"] <= g["update_at"] for g in body["data"])
    named = s.get(images(emulator, "/group"), params={**MINE, "name": "alp"}, timeout=TIMEOUT)
    assert named.json()["total"] == 1


def test_seed_images_flag_bulk_seeds(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(seed_images=250)
    s = session(emu)
    first = s.get(images(emu), params=MINE, timeout=TIMEOUT).json()
    assert (first["total"], first["size"], first["pages"]) == (250, 200, 2)
    assert all(d["status"] == "ACTIVE" for d in first["data"])
    emu.restart()  # seeding is idempotent
    assert s.get(images(emu), params={**MINE, "limit": 1}, timeout=TIMEOUT).json()["total"] == 250
    assert s.get(images(emu), timeout=TIMEOUT).json()["total"] == len(PRESET_IMAGES)


# -- durability ------------------------------------------------------------------------------------


def test_restart_keeps_records_and_lifecycle(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    rec = register(s, emulator, GOOD).json()
    emulator.restart()
    after = s.get(images(emulator, f"/{rec['id']}"), timeout=TIMEOUT)
    assert after.status_code == 200 and after.json()["create_at"] == rec["create_at"]
    wait_for_status(s, emulator, rec["id"], "ACTIVE")
    assert error_of(register(s, emulator, GOOD))[1] == "ModelArts.2884"


def test_sigkill_loses_no_acknowledged_registration(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    acknowledged = []
    for i in range(25):
        r = register(s, emulator, f"{REG}/crash/app:{i}")
        assert r.status_code == 200
        acknowledged.append(r.json()["id"])
    emulator.kill()  # immediately after the last acknowledgement
    emulator.start()
    with emulator.store() as store:
        assert set(acknowledged) <= set(store.all_ids())
    for image_id in acknowledged:
        assert s.get(images(emulator, f"/{image_id}"), timeout=TIMEOUT).status_code == 200


# -- authentication ---------------------------------------------------------------------------


def _assert_all_401(
    emu: EmulatorProcess, send: Callable[[str, str, Any], requests.Response], code: str
) -> None:
    image_id = register(session(emu), emu, f"{REG}/probe/app:{uuid.uuid4().hex[:8]}").json()["id"]
    with emu.store() as store:
        before = store.count()
    for method, url, body in every_route(emu, image_id):
        r = send(method, url, body)
        assert r.status_code == 401, (method, url, r.text)
        assert error_of(r)[1] == code and r.headers["X-Request-Id"]
    with emu.store() as store:
        assert store.count() == before  # nothing registered or deleted by the refused calls


def test_no_credentials_is_401(emulator: EmulatorProcess) -> None:
    _assert_all_401(emulator, lambda m, u, b: requests.request(m, u, json=b, timeout=TIMEOUT), "APIG.0301")


def test_wrong_secret_or_unknown_ak_is_401(emulator: EmulatorProcess) -> None:
    wrong_sk, unknown_ak = session(emulator, sk="not-the-secret"), session(emulator, ak="UNKNOWNAK0000000000")
    _assert_all_401(emulator, lambda m, u, b: wrong_sk.request(m, u, json=b, timeout=TIMEOUT), "APIG.0301")
    _assert_all_401(emulator, lambda m, u, b: unknown_ak.request(m, u, json=b, timeout=TIMEOUT), "APIG.0301")


def test_stale_sdk_date_is_401(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    stale = (datetime.now(timezone.utc) - timedelta(minutes=16)).strftime("%Y%m%dT%H%M%SZ")
    future = (datetime.now(timezone.utc) + timedelta(minutes=16)).strftime("%Y%m%dT%H%M%SZ")
    for date in (stale, future):
        _assert_all_401(
            emulator,
            lambda m, u, b, d=date: s.request(m, u, json=b, headers={"X-Sdk-Date": d}, timeout=TIMEOUT),
            "APIG.0301",
        )
    recent = (datetime.now(timezone.utc) - timedelta(minutes=5)).strftime("%Y%m%dT%H%M%SZ")
    assert s.get(images(emulator), headers={"X-Sdk-Date": recent}, timeout=TIMEOUT).status_code == 200


def test_temporary_credentials_need_their_security_token(emulator: EmulatorProcess) -> None:
    good = requests.Session()
    good.auth = AKSKAuth(DEFAULTS.temp_ak, DEFAULTS.temp_sk, emulator.project_id, DEFAULTS.security_token)
    assert good.get(images(emulator), timeout=TIMEOUT).status_code == 200
    for token in ("wrong-token", None):
        bad = requests.Session()
        bad.auth = AKSKAuth(DEFAULTS.temp_ak, DEFAULTS.temp_sk, emulator.project_id, token)
        _assert_all_401(
            emulator, lambda m, u, b, s=bad: s.request(m, u, json=b, timeout=TIMEOUT), "APIG.0301"
        )


def test_tampered_request_is_401(emulator: EmulatorProcess) -> None:
    # Signed for one body, sent with another: the body hash no longer matches.
    s = session(emulator)
    req = requests.Request("POST", images(emulator), json={"swr_path": GOOD}).prepare()
    req = s.auth(req)  # type: ignore[misc]
    req.body = json.dumps({"swr_path": DEMO_SWR_IMAGES[1]}).encode()
    req.headers["Content-Length"] = str(len(req.body))
    r = s.send(req, timeout=TIMEOUT)
    assert error_of(r)[:2] == (401, "APIG.0301")


def test_iam_token_flow(emulator: EmulatorProcess) -> None:
    emu = emulator
    assert error_of(iam_token(emu, password="wrong"))[0] == 401
    r = iam_token(emu)
    assert r.status_code == 201 and r.headers["X-Request-Id"]
    token = r.headers["X-Subject-Token"]
    body = r.json()["token"]
    assert body["project"]["id"] == emu.project_id and body["project"]["name"] == emu.region
    expires = datetime.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert timedelta(hours=23) < expires - datetime.now(timezone.utc) <= timedelta(hours=24)
    headers = {"X-Auth-Token": token}
    projects = requests.get(
        f"{emu.url}/v3/projects", params={"name": emu.region}, headers=headers, timeout=TIMEOUT
    )
    assert [(p["id"], p["name"]) for p in projects.json()["projects"]] == [(emu.project_id, emu.region)]
    none = requests.get(
        f"{emu.url}/v3/projects", params={"name": "xx-nowhere-1"}, headers=headers, timeout=TIMEOUT
    )
    assert none.json()["projects"] == []
    registered = requests.post(images(emu), json={"swr_path": GOOD}, headers=headers, timeout=TIMEOUT)
    assert registered.status_code == 200
    emu.restart()  # tokens are kept in sqlite: a restart does not invalidate them
    assert requests.get(images(emu), headers=headers, timeout=TIMEOUT).status_code == 200


def test_expired_token_is_0307(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(token_ttl_seconds=0.5)
    r = iam_token(emu)
    assert r.status_code == 201
    expires = datetime.strptime(r.json()["token"]["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    while datetime.now(timezone.utc) <= expires.replace(tzinfo=timezone.utc):
        time.sleep(0.05)
    headers = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    _assert_all_401(
        emu, lambda m, u, b: requests.request(m, u, json=b, headers=headers, timeout=TIMEOUT), "APIG.0307"
    )


def test_unknown_token_is_0307(emulator: EmulatorProcess) -> None:
    headers = {"X-Auth-Token": "MIIemu-not-issued-here"}
    _assert_all_401(
        emulator,
        lambda m, u, b: requests.request(m, u, json=b, headers=headers, timeout=TIMEOUT),
        "APIG.0307",
    )


def test_official_sdk_registers_and_shows(emulator: EmulatorProcess) -> None:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.exceptions import exceptions as sdk_exceptions
    from huaweicloudsdkmodelarts.v1 import (
        DeleteImageRequest,
        DeleteImageRequestBody,
        ImageRegRequest,
        ListImageGroupRequest,
        ListImageRequest,
        ModelArtsClient,
        RegisterImageRequest,
        ShowImageRequest,
        SyncImageRequest,
    )

    client = (
        ModelArtsClient.new_builder()
        .with_credentials(BasicCredentials(emulator.ak, emulator.sk, emulator.project_id))
        .with_endpoints([emulator.url])
        .build()
    )
    body = ImageRegRequest(swr_path=GOOD, arch="X86_64", resource_category=["CPU"], services=["NOTEBOOK"])
    registered = client.register_image(RegisterImageRequest(body=body))
    assert registered.id and registered.status == "INIT" and registered.dev_services == ["NOTEBOOK"]
    shown = client.show_image(ShowImageRequest(id=registered.id))
    assert shown.id == registered.id and shown.swr_path == GOOD
    with pytest.raises(sdk_exceptions.ClientRequestException) as err:
        client.register_image(RegisterImageRequest(body=body))
    assert err.value.error_code == "ModelArts.2884"
    listed = client.list_image(ListImageRequest(limit=10, type="DEDICATED", name="pytorch", sort_dir="ASC"))
    assert (listed.total, listed.current, [d.id for d in listed.data]) == (1, 1, [registered.id])
    assert client.list_image_group(ListImageGroupRequest(type="DEDICATED")).data[0].version_count == 1
    presets = client.list_image(ListImageRequest())  # the documented default type: BUILD_IN
    assert presets.total == len(PRESET_IMAGES) and {d.type for d in presets.data} == {"BUILD_IN"}
    assert client.sync_image(SyncImageRequest(image_id=registered.id)).id == registered.id
    deleted = client.delete_image(
        DeleteImageRequest(id=registered.id, body=DeleteImageRequestBody(is_force=True))
    )
    assert (deleted.status, deleted.status_message) == ("DELETED", "image deleted (force)")
    wrong = (
        ModelArtsClient.new_builder()
        .with_credentials(BasicCredentials(emulator.ak, "wrong-secret", emulator.project_id))
        .with_endpoints([emulator.url])
        .build()
    )
    with pytest.raises(sdk_exceptions.ClientRequestException) as denied:
        wrong.show_image(ShowImageRequest(id=registered.id))
    assert denied.value.status_code == 401


# -- hostile image ids in the path ---------------------------------------------------------------


_ID_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs",))
_HOSTILE_IDS = st.one_of(
    st.text(_ID_ALPHABET, min_size=1, max_size=40),
    st.sampled_from(
        ["../", "..", ".", "..%2F..", "%2F", "a/../b", " ", "é", "x y", "\u202e", "%00", "a%2Fsync"]
    ),
    st.text(st.sampled_from("./% \\?#&=;é漢"), min_size=1, max_size=8),
)


def test_hostile_ids_get_clean_errors(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    live = register(s, emulator, GOOD).json()["id"]

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(image_id=_HOSTILE_IDS, method=st.sampled_from(["GET", "DELETE", "POST"]))
    def check(image_id: str, method: str) -> None:
        assume(image_id != "group")
        # Quote everything, dots too, so no client-side path normalisation changes the route.
        segment = quote(image_id, safe="").replace(".", "%2E")
        suffix = "/sync" if method == "POST" else ""
        r = s.request(method, images(emulator, f"/{segment}{suffix}"), timeout=TIMEOUT)
        status, code, _ = error_of(r)
        if IMAGE_ID_RE.match(image_id):
            assert (status, code) == (400, "ModelArts.6404")
        else:
            assert (status, code) == (400, "ModelArts.0104"), (image_id, r.text)

    check()
    assert s.get(images(emulator, f"/{live}"), timeout=TIMEOUT).json()["status"] != "DELETED"
    with emulator.store() as store:
        assert store.count() == store.count(include_deleted=True) == 1


@pytest.mark.parametrize(
    ("raw_path", "expected"),
    [
        ("/images/..", (400, "ModelArts.0104")),
        ("/images/../images", (404, "APIG.0101")),
        ("/images/..%2F..%2Fimages", (400, "ModelArts.0104")),
        ("/images/%2e%2e", (400, "ModelArts.0104")),
        ("/images/a%20b", (400, "ModelArts.0104")),
        ("/images/%C3%A9", (400, "ModelArts.0104")),
        ("/images/%FF", (400, "ModelArts.0104")),
        ("/images/x/../../group", (404, "APIG.0101")),
    ],
)
def test_raw_paths_are_not_normalised_into_other_routes(
    emulator: EmulatorProcess, raw_path: str, expected: tuple[int, str]
) -> None:
    token = iam_token(emulator).headers["X-Subject-Token"]
    parts = urlsplit(emulator.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request("GET", f"/v1/{emulator.project_id}{raw_path}", headers={"X-Auth-Token": token})
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert (resp.status, body["error_code"]) == expected
    assert resp.getheader("X-Request-Id")


# -- fault injection ------------------------------------------------------------------------------


def _observe(emu: EmulatorProcess, n: int) -> list[str]:
    s = session(emu)
    out = []
    for _ in range(n):
        try:
            r = s.get(images(emu), timeout=TIMEOUT)
        except requests.ConnectionError:
            out.append("dropped")
            continue
        out.append(f"{r.status_code} {r.headers.get('X-Emulator-Fault', '-')}")
    return out


def test_faults_are_reproducible_with_a_seed(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    flags = {"fault_rate": 0.6, "faults": "500,503,429,drop,malformed,slow", "slow_seconds": 0.05}
    a = _observe(emulator_factory(fault_seed=11, **flags), 30)
    b = _observe(emulator_factory(fault_seed=11, **flags), 30)
    c = _observe(emulator_factory(fault_seed=12, **flags), 30)
    assert a == b
    assert a != c
    kinds = {"drop" if e == "dropped" else e.split()[-1].split(";")[0] for e in a}
    assert {"500", "503", "429", "drop", "malformed", "slow", "-"} <= kinds


def test_faults_before_and_after_the_operation(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(fault_rate=1, faults="503", fault_seed=5)
    s = session(emu)
    outcomes: dict[str, list[str]] = {"before": [], "after": []}
    for i in range(16):
        path = f"{REG}/faulty/app:{i}"
        r = register(s, emu, path)
        assert r.status_code == 503 and error_of(r)[0] == 503
        outcomes[r.headers["X-Emulator-Fault"].split(";")[1]].append(path)
    assert outcomes["before"] and outcomes["after"]
    with emu.store() as store:
        live = {store.get(emu.project_id, i, 0)["swr_path"] for i in store.all_ids()}
    assert live == set(outcomes["after"])


def test_fault_kinds_behave(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    throttled = emulator_factory(fault_rate=1, faults="429", retry_after=7)
    r = session(throttled).get(images(throttled), timeout=TIMEOUT)
    assert r.status_code == 429 and r.headers["Retry-After"] == "7" and error_of(r)[1] == "APIG.0308"
    dropping = emulator_factory(fault_rate=1, faults="drop")
    with pytest.raises(requests.ConnectionError):
        session(dropping).get(images(dropping), timeout=TIMEOUT)
    broken = emulator_factory(fault_rate=1, faults="malformed")
    r = session(broken).get(images(broken), timeout=TIMEOUT)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    slow = emulator_factory(fault_rate=1, faults="slow", slow_seconds=0.1)
    r = session(slow).get(images(slow), timeout=TIMEOUT)
    assert (
        r.status_code == 200
        and r.json()["total"] == len(PRESET_IMAGES)
        and r.headers["X-Emulator-Fault"].startswith("slow")
    )


def test_iam_routes_are_never_faulty(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(fault_rate=1, faults="500,drop,malformed")
    for _ in range(5):
        r = iam_token(emu)
        assert r.status_code == 201 and "X-Emulator-Fault" not in r.headers
        p = requests.get(
            f"{emu.url}/v3/projects", headers={"X-Auth-Token": r.headers["X-Subject-Token"]}, timeout=TIMEOUT
        )
        assert p.status_code == 200 and p.json()["projects"]


# -- store ---------------------------------------------------------------------------------------


def test_store_seed_is_idempotent(tmp_path: Path) -> None:
    with ImageStore(tmp_path) as store:
        assert store.seed_images("p", 30, registry=REG, now_ms=1_000_000) == 30
        assert store.seed_images("p", 30, registry=REG, now_ms=2_000_000) == 0
        assert store.count("p") == 30 and store.count("q") == 0
