"""The emulator answers as the real ModelArts does (the SDK's models, its published error codes), over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from huaweicloudsdkmodelarts.v1.model.image_group import ImageGroup as SdkImageGroup
from huaweicloudsdkmodelarts.v1.model.image_response import ImageResponse as SdkListedImage
from huaweicloudsdkmodelarts.v1.model.show_image_response import ShowImageResponse as SdkImage
from test_emulator import (
    MINE,
    REG,
    TIMEOUT,
    error_of,
    iam_token,
    images,
    register,
    session,
    wait_for_status,
)

from mai_widgets.emulator.defaults import DEMO_SWR_IMAGES, PRESET_IMAGES, PRESET_NAMESPACE
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.transport.signer import AKSKAuth

GOOD = DEMO_SWR_IMAGES[0]


def listed(s: requests.Session, emu: EmulatorProcess, suffix: str = "", **params: Any) -> dict[str, Any]:
    r = s.get(images(emu, suffix), params=params, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return dict(r.json())


# -- presets and the list's type -------------------------------------------------------------------


def test_list_without_type_shows_only_the_presets(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    mine = register(s, emulator, GOOD).json()
    default = listed(s, emulator)
    assert default["total"] == len(PRESET_IMAGES) == len(default["data"])
    assert 4 <= len(PRESET_IMAGES) <= 6
    for rec in default["data"]:
        assert rec["type"] == "BUILD_IN" and rec["status"] == "ACTIVE" and rec["visibility"] == "PUBLIC"
        assert rec["namespace"] == PRESET_NAMESPACE and f"/{PRESET_NAMESPACE}/" in rec["swr_path"]
        assert rec["size"] > 0
    assert {r["name"] for r in default["data"]} == {p.name for p in PRESET_IMAGES}
    assert listed(s, emulator, type="BUILD_IN")["data"] == default["data"]
    dedicated = listed(s, emulator, **MINE)
    assert [(r["id"], r["type"]) for r in dedicated["data"]] == [(mine["id"], "DEDICATED")]
    r = s.get(images(emulator), params={"type": "ALL"}, timeout=TIMEOUT)
    status, code, msg = error_of(r)
    assert (status, code) == (400, "ModelArts.0104") and "type" in msg


def test_groups_follow_the_same_type_rule(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    register(s, emulator, GOOD)
    presets = listed(s, emulator, "/group")
    assert {g["name"] for g in presets["data"]} == {p.name for p in PRESET_IMAGES}
    assert presets["is_swr_enterprise"] is False
    mine = listed(s, emulator, "/group", **MINE)
    assert [(g["name"], g["version_count"]) for g in mine["data"]] == [("pytorch-cpu", 1)]
    assert error_of(s.get(images(emulator, "/group"), params={"type": "x"}, timeout=TIMEOUT))[:2] == (
        400,
        "ModelArts.0104",
    )


def test_presets_are_visible_in_every_project_but_not_deletable(
    emulator_factory: Callable[..., EmulatorProcess], tmp_path: Path
) -> None:
    first = emulator_factory(data_dir=tmp_path / "shared")
    s = session(first)
    preset = listed(s, first)["data"][0]
    mine = register(s, first, GOOD).json()
    assert s.get(images(first, f"/{preset['id']}"), timeout=TIMEOUT).json()["id"] == preset["id"]
    assert s.post(images(first, f"/{preset['id']}/sync"), timeout=TIMEOUT).status_code == 200
    for how in ({"params": {"force": "true"}}, {"json": {"is_force": False}}):
        refused = s.delete(images(first, f"/{preset['id']}"), timeout=TIMEOUT, **how)
        status, code, msg = error_of(refused)
        assert (status, code) == (400, "ModelArts.0104") and "preset" in msg
        assert refused.headers["X-Request-Id"]
    preset_ids = {p["id"] for p in listed(s, first)["data"]}
    assert len(preset_ids) == len(PRESET_IMAGES)
    first.close()
    # The same store seen from another project: the presets are there, the other project's image is not.
    other_project = "f" * 32
    second = emulator_factory(data_dir=tmp_path / "shared", project_id=other_project)
    s2 = requests.Session()
    s2.auth = AKSKAuth(second.ak, second.sk, project_id=other_project)
    assert {r["id"] for r in listed(s2, second)["data"]} == preset_ids
    assert listed(s2, second, **MINE)["total"] == 0
    assert error_of(s2.get(images(second, f"/{mine['id']}"), timeout=TIMEOUT))[:2] == (400, "ModelArts.6404")
    assert s2.get(images(second, f"/{preset['id']}"), timeout=TIMEOUT).status_code == 200


# -- record shapes against the SDK's models ------------------------------------------------------


def test_records_carry_the_sdk_fields_and_no_others(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    rec = register(
        s, emulator, GOOD, read_me="# notes", tags=[{"key": "team", "value": "a"}], flavor_type="ASCEND_SNT9B"
    ).json()
    assert set(rec) <= set(SdkImage.attribute_map)
    assert rec["tags"] == [{"key": "team", "value": "a"}] and rec["flavor_type"] == "ASCEND_SNT9B"
    assert "read_me" not in rec  # the SDK's image record has none; the group has it
    for item in listed(s, emulator, **MINE)["data"] + listed(s, emulator)["data"]:
        assert set(item) <= set(SdkListedImage.attribute_map), set(item) - set(SdkListedImage.attribute_map)
        if item["type"] == "BUILD_IN":
            assert item["show_name"] == item["name"] and item["show_tag"] == item["tag"]
        else:
            assert "show_name" not in item and "show_tag" not in item  # preset images' fields only
    for group in listed(s, emulator, "/group", **MINE)["data"] + listed(s, emulator, "/group")["data"]:
        assert set(group) == set(SdkImageGroup.attribute_map)
    assert listed(s, emulator, "/group", **MINE)["data"][0]["read_me"] == "# notes"


# -- list parameters -----------------------------------------------------------------------------


def test_group_list_filters_by_swr_instance_id(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    assert register(s, emulator, f"{REG}/team/plain:1").status_code == 200
    for tag in ("1", "2"):
        r = register(s, emulator, f"{REG}/team/enterprise:{tag}", swr_instance_id="instance-a")
        assert r.status_code == 200
    assert register(s, emulator, f"{REG}/team/other:1", swr_instance_id="instance-b").status_code == 200

    def groups(**params: Any) -> list[tuple[str, int]]:
        data = listed(s, emulator, "/group", **MINE, **params)["data"]
        return sorted((g["name"], g["version_count"]) for g in data)

    assert groups(swr_instance_id="instance-a") == [("enterprise", 2)]
    assert groups(swr_instance_id="instance-b") == [("other", 1)]
    assert groups(swr_instance_id="no-such") == []
    assert groups() == [("enterprise", 2), ("other", 1), ("plain", 1)]


def test_sort_key_show_name_and_show_tag(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    for name, tag in (("beta", "1"), ("alpha", "2"), ("alpha", "1")):
        assert register(s, emulator, f"{REG}/team/{name}:{tag}").status_code == 200
        time.sleep(0.002)  # distinct create_at

    def names(**params: Any) -> list[tuple[str, str]]:
        return [(d["name"], d["tag"]) for d in listed(s, emulator, **MINE, **params)["data"]]

    newest_first = [("alpha", "1"), ("alpha", "2"), ("beta", "1")]
    assert names() == newest_first
    assert names(sort_key="createTime") == names(sort_key="create_at") == newest_first
    assert names(sort_key="createTime", sort_dir="ASC") == newest_first[::-1]
    assert names(sort_key="updateTime,name", sort_dir="ASC")[0] == ("beta", "1")
    assert names(sort_key="name,create_at", sort_dir="ASC") == [("alpha", "2"), ("alpha", "1"), ("beta", "1")]
    # show_name/show_tag are preset images' fields: they match presets only, exactly
    assert names(show_name="alpha") == []

    def presets(**params: Any) -> list[tuple[str, str]]:
        return [(d["name"], d["tag"]) for d in listed(s, emulator, type="BUILD_IN", **params)["data"]]

    first = PRESET_IMAGES[0]
    assert presets(show_name=first.name) == [(first.name, first.tag)]
    assert presets(show_name=first.name[:-1]) == []  # exact, not fuzzy
    assert presets(show_name=first.name, show_tag=first.tag) == [(first.name, first.tag)]
    assert presets(show_name=first.name, show_tag="other") == []
    for bad in ("x" * 129, "name;drop", "name desc", "naïve"):
        status, code, msg = error_of(s.get(images(emulator), params={"sort_key": bad}, timeout=TIMEOUT))
        assert (status, code) == (400, "ModelArts.0104") and "sort_key" in msg
    unknown = s.get(images(emulator), params={"sort_key": "name,colour"}, timeout=TIMEOUT)
    assert error_of(unknown)[:2] == (400, "ModelArts.6303")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", str(2**63)),
        ("limit", str(2**64 + 5)),
        ("offset", str(2**63)),
        ("offset", "9" * 5000),
        ("limit", "-1"),
        ("offset", "-1"),
        ("limit", "1.5"),
        ("limit", "1_0"),
        ("offset", " 5"),
        ("offset", "\u0665"),  # an Arabic-Indic digit: int() would take it
        ("limit", "0"),
    ],
)
def test_limit_and_offset_out_of_range_are_400(emulator: EmulatorProcess, name: str, value: str) -> None:
    s = session(emulator)
    for suffix in ("", "/group"):
        r = s.get(images(emulator, suffix), params={name: value}, timeout=TIMEOUT)
        status, code, msg = error_of(r)
        assert (status, code) == (400, "ModelArts.0104") and name in msg and r.headers["X-Request-Id"]


def test_largest_limit_and_offset_are_served(emulator: EmulatorProcess) -> None:
    s = session(emulator)
    page = listed(s, emulator, limit=str(2**63 - 1), offset=str(2**63 - 1))
    assert (page["data"], page["total"]) == ([], len(PRESET_IMAGES))


# -- codes chosen by flags ------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["APIG.0307", "APIG.0301", "ModelArts.0202"])
def test_expired_token_answers(emulator_factory: Callable[..., EmulatorProcess], answer: str) -> None:
    emu = emulator_factory(token_ttl_seconds=0.3, expired_token_answer=answer)
    token = iam_token(emu).headers["X-Subject-Token"]
    time.sleep(0.5)
    r = requests.get(images(emu), headers={"X-Auth-Token": token}, timeout=TIMEOUT)
    status, code, msg = error_of(r)
    assert (status, code) == (401, answer) and r.headers["X-Request-Id"]
    if answer == "APIG.0301":
        assert "expired" in msg
    # A token never issued stays APIG.0307 whatever the flag says.
    never = requests.get(images(emu), headers={"X-Auth-Token": "MIIemu-unknown"}, timeout=TIMEOUT)
    assert error_of(never)[:2] == (401, "APIG.0307")


def test_already_registered_6737(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(already_registered_code="ModelArts.6737")
    s = session(emu)
    assert register(s, emu, GOOD).status_code == 200
    assert error_of(register(s, emu, GOOD)) == (
        400,
        "ModelArts.6737",
        "Conflict tag 2.3.0 for image pytorch-cpu",
    )


def test_project_not_the_credentials_is_0210(emulator: EmulatorProcess) -> None:
    # AK/SK signed for another project (X-Project-Id) against this project's URL.
    s = requests.Session()
    s.auth = AKSKAuth(emulator.ak, emulator.sk, project_id="e" * 32)
    r = s.get(images(emulator), timeout=TIMEOUT)
    assert error_of(r)[:2] == (403, "ModelArts.0210") and r.headers["X-Request-Id"]
    token = iam_token(emulator).headers["X-Subject-Token"]
    other = requests.get(
        f"{emulator.url}/v1/{'e' * 32}/images", headers={"X-Auth-Token": token}, timeout=TIMEOUT
    )
    assert error_of(other)[:2] == (403, "ModelArts.0210")


# -- delete -------------------------------------------------------------------------------------


def test_delete_answer_204_is_empty(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(delete_answer="204")
    s = session(emu)
    image_id = register(s, emu, GOOD).json()["id"]
    r = s.delete(images(emu, f"/{image_id}"), json={"is_force": False}, timeout=TIMEOUT)
    assert (r.status_code, r.content) == (204, b"") and r.headers["X-Request-Id"]
    assert s.get(images(emu, f"/{image_id}"), timeout=TIMEOUT).json()["status"] == "DELETED"
    assert error_of(s.delete(images(emu, f"/{image_id}"), timeout=TIMEOUT))[:2] == (400, "ModelArts.6404")


@pytest.mark.parametrize("how", [{"params": {"force": "true"}}, {"json": {"is_force": True}}])
def test_forced_delete_removes_the_image_from_swr(emulator: EmulatorProcess, how: dict[str, Any]) -> None:
    s = session(emulator)
    kept, removed = DEMO_SWR_IMAGES[1], DEMO_SWR_IMAGES[2]
    plain = register(s, emulator, kept).json()["id"]
    forced = register(s, emulator, removed).json()["id"]
    assert (
        s.delete(images(emulator, f"/{plain}"), params={"force": "false"}, timeout=TIMEOUT).status_code == 200
    )
    assert s.delete(images(emulator, f"/{forced}"), timeout=TIMEOUT, **how).status_code == 200
    emulator.restart()  # what SWR lost stays lost
    again_kept = register(s, emulator, kept).json()["id"]
    again_removed = register(s, emulator, removed).json()["id"]
    wait_for_status(s, emulator, again_kept, "ACTIVE")
    wait_for_status(s, emulator, again_removed, "CREATE_FAILED")


def test_sdk_sees_presets_by_default_and_deletes_with_is_force(emulator: EmulatorProcess) -> None:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.exceptions import exceptions as sdk_exceptions
    from huaweicloudsdkmodelarts.v1 import (
        DeleteImageRequest,
        DeleteImageRequestBody,
        ListImageRequest,
        ModelArtsClient,
        ShowImageRequest,
    )

    client = (
        ModelArtsClient.new_builder()
        .with_credentials(BasicCredentials(emulator.ak, emulator.sk, emulator.project_id))
        .with_endpoints([emulator.url])
        .build()
    )
    presets = client.list_image(ListImageRequest(sort_key="updateTime"))
    assert presets.total == len(PRESET_IMAGES) and all(d.type == "BUILD_IN" for d in presets.data)
    with pytest.raises(sdk_exceptions.ClientRequestException) as refused:
        client.delete_image(
            DeleteImageRequest(id=presets.data[0].id, body=DeleteImageRequestBody(is_force=True))
        )
    assert (refused.value.status_code, refused.value.error_code) == (400, "ModelArts.0104")
    with pytest.raises(sdk_exceptions.ClientRequestException) as missing:
        client.show_image(ShowImageRequest(id="708ca95d-c601-4dc7-86b9-670adfd5e818"))
    assert (missing.value.status_code, missing.value.error_code) == (400, "ModelArts.6404")
