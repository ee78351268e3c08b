"""The emulator's notebook routes over real HTTP: listing, showing, saving as an image, and the
official SDK's ListNotebooksRequest, ShowNotebookRequest and CreateImageRequest against them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from emulator_clients import swr_for
from test_emulator import MINE, REG, TIMEOUT, error_of, images, session, wait_for_status

from mai_widgets.emulator.defaults import DEFAULTS, notebook_id_for
from mai_widgets.emulator.process import EmulatorProcess

DEMO_ID = notebook_id_for(DEFAULTS.project_id, DEFAULTS.demo_notebook)
SEEDS = ["stopped-one:STOPPED", "starting-one:STARTING", "busy-one:SNAPSHOTTING", "cold-one:FROZEN:10.1.2.3"]


def notebooks(emu: EmulatorProcess, suffix: str = "") -> str:
    return f"{emu.url}/v1/{emu.project_id}/notebooks{suffix}"


def listed(s: requests.Session, emu: EmulatorProcess, **params: Any) -> dict[str, Any]:
    r = s.get(notebooks(emu), params=params, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return dict(r.json())


def show(s: requests.Session, emu: EmulatorProcess, notebook_id: str) -> dict[str, Any]:
    r = s.get(notebooks(emu, f"/{notebook_id}"), timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return dict(r.json())


def swr_tags(s: requests.Session, emu: EmulatorProcess, repository: str) -> list[str]:
    """The tags SWR's manage API lists for ``mai-demo/{repository}`` (none: no such repository)."""
    r = s.get(f"{emu.url}/v2/manage/namespaces/mai-demo/repos/{repository}/tags", timeout=TIMEOUT)
    if r.status_code == 404:
        return []
    assert r.status_code == 200, r.text
    return [t["Tag"] for t in r.json()]


def save(s: requests.Session, emu: EmulatorProcess, notebook_id: str, **body: Any) -> requests.Response:
    return s.post(notebooks(emu, f"/{notebook_id}/create-image"), json=body, timeout=TIMEOUT)


@pytest.fixture
def seeded(emulator_factory: Callable[..., EmulatorProcess]) -> EmulatorProcess:
    return emulator_factory(notebook=SEEDS, snapshot_seconds=1.2)


def test_demo_instance_is_seeded_running_on_loopback_with_a_preset_image(emulator: EmulatorProcess) -> None:
    page = listed(session(emulator), emulator)
    assert set(page) == {"current", "pages", "size", "total", "data"}
    assert (page["current"], page["pages"], page["size"], page["total"]) == (1, 1, 1, 1)
    demo = page["data"][0]
    assert demo["id"] == DEMO_ID == emulator.env()["MAI_WIDGETS_NOTEBOOK_ID"]
    assert (demo["name"], demo["status"], demo["ip"]) == (DEFAULTS.demo_notebook, "RUNNING", "127.0.0.1")
    assert demo["image"]["type"] == "BUILD_IN" and demo["image"]["name"] == DEFAULTS.demo_notebook_image
    assert "token" not in demo
    assert show(session(emulator), emulator, DEMO_ID) == demo


def test_list_filters_and_paging_as_the_sdk_documents(seeded: EmulatorProcess) -> None:
    s = session(seeded)
    assert listed(s, seeded)["total"] == 5
    assert [n["name"] for n in listed(s, seeded, status="STOPPED")["data"]] == ["stopped-one"]
    assert {n["name"] for n in listed(s, seeded, name="ONE")["data"]} == {
        "stopped-one",
        "starting-one",
        "busy-one",
        "cold-one",
    }
    assert [n["name"] for n in listed(s, seeded, ip="10.1.2.3")["data"]] == ["cold-one"]
    newest_first = [n["name"] for n in listed(s, seeded)["data"]]
    assert newest_first[-1] == DEFAULTS.demo_notebook
    assert [n["name"] for n in listed(s, seeded, sort_dir="ASC")["data"]] == newest_first[::-1]
    second = listed(s, seeded, limit=10, offset=3)
    assert (second["size"], second["total"], second["pages"]) == (2, 5, 1)
    for bad in ({"limit": "7"}, {"limit": "100"}, {"status": "ASLEEP"}, {"offset": "-1"}):
        r = s.get(notebooks(seeded), params=bad, timeout=TIMEOUT)
        assert error_of(r)[:2] == (400, "ModelArts.0104"), bad


def test_routes_authenticate_as_the_image_routes_do(emulator: EmulatorProcess) -> None:
    for method, url in (
        ("GET", notebooks(emulator)),
        ("POST", notebooks(emulator, f"/{DEMO_ID}/create-image")),
    ):
        r = requests.request(method, url, json={"name": "a", "namespace": "mai-demo"}, timeout=TIMEOUT)
        assert error_of(r)[:2] == (401, "APIG.0301")
        wrong = session(emulator, sk="not-the-secret").request(method, url, json={}, timeout=TIMEOUT)
        assert error_of(wrong)[:2] == (401, "APIG.0301")
    other = session(emulator).get(f"{emulator.url}/v1/someone-else/notebooks", timeout=TIMEOUT)
    assert error_of(other)[:2] == (403, "ModelArts.0210")
    gone = session(emulator).get(notebooks(emulator, "/no-such-instance"), timeout=TIMEOUT)
    assert error_of(gone)[:2] == (400, "ModelArts.6309")


def test_save_snapshots_the_instance_and_the_image_goes_active_into_swr(
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    emu = emulator_factory(snapshot_seconds=1.5)
    s = session(emu)
    before = show(s, emu, DEMO_ID)
    r = save(s, emu, DEMO_ID, name="my-env", namespace="mai-demo", tag="v1", description="saved")
    assert r.status_code == 200, r.text
    image = r.json()
    assert (image["origin"], image["type"], image["status"]) == ("IMAGE_SAVE", "DEDICATED", "INIT")
    assert image["swr_path"] == f"{REG}/mai-demo/my-env:v1" and image["description"] == "saved"
    during = show(s, emu, DEMO_ID)
    assert during["status"] == "SNAPSHOTTING" and during["action_progress"]
    busy = save(s, emu, DEMO_ID, name="my-env", namespace="mai-demo", tag="v2")
    assert error_of(busy)[:2] == (400, "ModelArts.6357")
    assert wait_for_status(s, emu, image["id"], "ACTIVE")[-1] == "ACTIVE"
    deadline = time.monotonic() + 10
    while (after := show(s, emu, DEMO_ID))["status"] != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert after["status"] == "RUNNING" and after["image"]["id"] == image["id"] != before["image"]["id"]
    # in SWR with the instance image's platform and user, as inspect (and so preflight) reads them
    assert swr_tags(s, emu, "my-env") == ["v1"]
    inspected = swr_for(emu).inspect(image["swr_path"])
    assert [p.architecture for p in inspected.platforms] == ["amd64"] and inspected.user == "ma-user"
    listed_mine = s.get(images(emu), params={**MINE, "name": "my-env"}, timeout=TIMEOUT).json()
    assert [i["id"] for i in listed_mine["data"]] == [image["id"]]
    # the same tag again is a conflict; a forced delete removes it from SWR as for other images
    again = save(s, emu, DEMO_ID, name="my-env", namespace="mai-demo", tag="v1")
    assert error_of(again)[:2] == (400, "ModelArts.6737") and "v1" in error_of(again)[2]
    deleted = s.delete(images(emu, f"/{image['id']}"), json={"is_force": True}, timeout=TIMEOUT)
    assert deleted.status_code == 200
    assert swr_tags(s, emu, "my-env") == []


def test_a_saved_image_survives_a_restart_in_swr(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(snapshot_seconds=0.2)
    s = session(emu)
    assert save(s, emu, DEMO_ID, name="kept", namespace="mai-demo", tag="t1").status_code == 200
    emu.kill()
    emu.start()
    s = session(emu)
    assert swr_tags(s, emu, "kept") == ["t1"]
    assert listed(s, emu)["total"] == 1  # the seed is not repeated


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("stopped-one", "ModelArts.6327"),
        ("starting-one", "ModelArts.6306"),
        ("busy-one", "ModelArts.6357"),
        ("cold-one", "ModelArts.6326"),
    ],
)
def test_an_instance_that_is_not_running_cannot_be_saved(
    seeded: EmulatorProcess, name: str, code: str
) -> None:
    r = save(
        session(seeded), seeded, notebook_id_for(seeded.project_id, name), name="x", namespace="mai-demo"
    )
    assert error_of(r)[:2] == (400, code)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x", "namespace": "no-such-org"}, "ModelArts.2885"),
        ({"name": "x", "namespace": "mai-shared"}, "ModelArts.2885"),
        ({"name": "x", "namespace": DEFAULTS.forbidden_namespace}, "ModelArts.2885"),
        ({"name": "X", "namespace": "mai-demo"}, "ModelArts.0104"),
        ({"namespace": "mai-demo"}, "ModelArts.0104"),
        ({"name": "x", "namespace": "mai-demo", "tag": "2.3.0", "image": "?"}, "ModelArts.0104"),
    ],
)
def test_bad_saves_are_refused_with_the_published_codes(
    emulator: EmulatorProcess, body: dict[str, str], code: str
) -> None:
    r = save(session(emulator), emulator, DEMO_ID, **body)
    assert error_of(r)[:2] == (400, code)
    assert show(session(emulator), emulator, DEMO_ID)["status"] == "RUNNING"


def test_save_too_large_ends_create_failed(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(save_too_large=True, snapshot_seconds=0.6)
    s = session(emu)
    image = save(s, emu, DEMO_ID, name="huge", namespace="mai-demo", tag="t").json()
    assert wait_for_status(s, emu, image["id"], "CREATE_FAILED")[-1] == "CREATE_FAILED"
    failed = s.get(images(emu, f"/{image['id']}"), timeout=TIMEOUT).json()
    assert "greater than threshold" in failed["status_message"]
    time.sleep(0.7)
    back = show(s, emu, DEMO_ID)
    assert back["status"] == "RUNNING" and back["image"]["id"] != image["id"]
    assert swr_tags(s, emu, "huge") == []


def test_the_official_sdk_lists_shows_and_saves(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.exceptions import exceptions as sdk_exceptions
    from huaweicloudsdkmodelarts.v1 import (
        CreateImageRequest,
        ImageCreateReq,
        ListNotebooksRequest,
        ModelArtsClient,
        ShowNotebookRequest,
    )

    emu = emulator_factory(notebook=SEEDS, snapshot_seconds=0.5)
    client = (
        ModelArtsClient.new_builder()
        .with_credentials(BasicCredentials(emu.ak, emu.sk, emu.project_id))
        .with_endpoints([emu.url])
        .build()
    )
    running = client.list_notebooks(ListNotebooksRequest(status="RUNNING", limit=10))
    assert running.total == 1 and running.data[0].id == DEMO_ID and running.data[0].ip == "127.0.0.1"
    shown = client.show_notebook(ShowNotebookRequest(id=DEMO_ID))
    assert shown.status == "RUNNING" and shown.image.name == DEFAULTS.demo_notebook_image
    saved = client.create_image(
        CreateImageRequest(id=DEMO_ID, body=ImageCreateReq(name="sdk-env", namespace="mai-demo", tag="v1"))
    )
    assert (saved.origin, saved.status, saved.swr_path) == (
        "IMAGE_SAVE",
        "INIT",
        f"{REG}/mai-demo/sdk-env:v1",
    )
    assert client.show_notebook(ShowNotebookRequest(id=DEMO_ID)).status == "SNAPSHOTTING"
    with pytest.raises(sdk_exceptions.ClientRequestException) as refused:
        client.create_image(
            CreateImageRequest(
                id=notebook_id_for(emu.project_id, "stopped-one"),
                body=ImageCreateReq(name="sdk-env", namespace="mai-demo", tag="v2"),
            )
        )
    assert (refused.value.status_code, refused.value.error_code) == (400, "ModelArts.6327")
