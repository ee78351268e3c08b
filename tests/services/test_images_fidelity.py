"""The client against the emulator answering as the real service does (over real HTTP).

The emulator's flags choose among the answers the public docs leave open, so each reading is
exercised: already registered as 2884 or 6737, an expired token as APIG.0307, APIG.0301 or
ModelArts.0202, a delete answered with the record or an empty 204.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from mai_widgets.auth.config import load_config
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator import DEMO_SWR_IMAGES, EmulatorProcess
from mai_widgets.emulator.defaults import PRESET_IMAGES
from mai_widgets.errors import (
    AlreadyRegisteredError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from mai_widgets.services.images import ImageClient
from mai_widgets.wire.contract import ImageStatus, ImageType


def client_for(
    emu: EmulatorProcess, env: dict[str, str] | None = None, *, only: bool = False, **settings: Any
) -> ImageClient:
    """A client for the emulator; ``env`` adds to its settings, or with ``only`` replaces them."""
    environment = dict(env or {}) if only else {**emu.env(), **(env or {})}
    values: dict[str, Any] = {"poll_initial": 0.05, "poll_max": 0.2}
    values.update(settings)
    return ImageClient(
        load_config(env=environment, config_dirs=[], **values), Credentials.from_env(environment)
    )


def iam_env(emu: EmulatorProcess) -> dict[str, str]:
    """Password sign-in only (no AK/SK), so the IAM token path is the one used."""
    s = emu.settings
    env = {k: v for k, v in emu.env().items() if not k.startswith("HUAWEICLOUD_SDK_")}
    env.update(
        {
            "MAI_WIDGETS_IAM_USER": s.iam_user,
            "MAI_WIDGETS_IAM_PASSWORD": s.iam_password,
            "MAI_WIDGETS_IAM_DOMAIN": s.iam_domain,
            "HUAWEICLOUD_SDK_PROJECT_ID": s.project_id,
        }
    )
    return env


def test_listing_defaults_to_the_users_images_with_presets_a_choice_away(emulator: EmulatorProcess) -> None:
    client = client_for(emulator)
    mine = client.register(swr_path=DEMO_SWR_IMAGES[0])
    own = client.list()
    assert [r.id for r in own] == [mine.id]
    presets = client.list(type="BUILD_IN")
    assert len(presets) == len(PRESET_IMAGES) and all(r.type == ImageType.BUILD_IN for r in presets)
    both = client.list(type="all")
    assert {r.id for r in both} == {mine.id} | {r.id for r in presets}
    page = client.page(limit=1, type="BUILD_IN")
    assert len(page.items) == 1 and page.total == len(PRESET_IMAGES) and page.has_more
    with pytest.raises(ValidationError) as info:
        client.list(type="EVERYTHING")
    assert info.value.fields == ("type",)


@pytest.mark.parametrize("code", ["ModelArts.2884", "ModelArts.6737"])
def test_both_already_registered_codes_return_the_existing_record(
    emulator_factory: Callable[..., EmulatorProcess], code: str
) -> None:
    emu = emulator_factory(already_registered_code=code)
    client = client_for(emu)
    first = client.register(swr_path=DEMO_SWR_IMAGES[1], arch="X86_64")
    again = client.register(swr_path=DEMO_SWR_IMAGES[1], arch="AARCH64")
    assert again.id == first.id and again.already_registered
    assert "push a new tag" not in str(AlreadyRegisteredError(400, code, "x").hint)


def test_a_hostless_path_is_completed_for_the_region(emulator: EmulatorProcess) -> None:
    client = client_for(emulator)
    full = DEMO_SWR_IMAGES[0]
    hostless = full.split("/", 1)[1]
    record = client.register(swr_path=hostless)
    assert record.swr_path == full
    assert client.find_registered(hostless) is not None


def test_already_registered_in_another_workspace_returns_that_record(emulator: EmulatorProcess) -> None:
    workspace = "0123456789abcdef0123456789abcdef"
    client = client_for(emulator)
    first = client.register(swr_path=DEMO_SWR_IMAGES[2], workspace_id=workspace)
    assert first.workspace_id == workspace
    # The service lists workspace "0" unless told otherwise: the lookup names the request's.
    assert client.find_registered(DEMO_SWR_IMAGES[2]) is None
    there = client.find_registered(DEMO_SWR_IMAGES[2], workspace)
    assert there is not None and there.id == first.id
    again = client.register(swr_path=DEMO_SWR_IMAGES[2], workspace_id=workspace, description="again")
    assert again.id == first.id and again.already_registered
    # A client whose configured workspace is that one finds it with no workspace named.
    configured = client_for(emulator, {"MAI_WIDGETS_WORKSPACE_ID": workspace})
    found = configured.find_registered(DEMO_SWR_IMAGES[2])
    assert found is not None and found.id == first.id
    assert configured.register(swr_path=DEMO_SWR_IMAGES[2]).already_registered


@pytest.mark.parametrize("code", ["ModelArts.6404", "ModelArts.6797"])
def test_not_found_and_no_swr_access_are_400_and_typed(
    emulator_factory: Callable[..., EmulatorProcess], code: str
) -> None:
    emu = emulator_factory(forbidden_namespace="locked", image_not_found_code=code)
    client = client_for(emu)
    calls: dict[str, Callable[[], object]] = {
        "get": lambda: client.get("no-such-image"),
        "wait": lambda: client.wait("no-such-image", timeout=5),
        "delete": lambda: client.delete("no-such-image"),
        "sync": lambda: client.sync("no-such-image"),
    }
    for name, call in calls.items():
        with pytest.raises(NotFoundError) as missing:
            call()
        assert (missing.value.status, missing.value.error_code) == (400, code), name
        assert missing.value.hint is not None and "no image with that id" in missing.value.hint
    with pytest.raises(PermissionDeniedError) as denied:
        client.register(swr_path="swr.cn-north-4.myhuaweicloud.com/locked/image:1.0")
    assert (denied.value.status, denied.value.error_code) == (400, "ModelArts.2885")


def test_a_project_that_is_not_the_tokens_is_403_with_a_region_hint(emulator: EmulatorProcess) -> None:
    client = client_for(emulator, {"HUAWEICLOUD_SDK_PROJECT_ID": "f" * 32})
    with pytest.raises(PermissionDeniedError) as info:
        client.list()
    assert (info.value.status, info.value.error_code) == (403, "ModelArts.0210")
    assert "MAI_WIDGETS_REGION" in (info.value.hint or "") and "project" in (info.value.hint or "")


@pytest.mark.parametrize("answer", ["APIG.0307", "APIG.0301", "ModelArts.0202"])
def test_each_expired_token_answer_signs_in_again_once(
    emulator_factory: Callable[..., EmulatorProcess], answer: str
) -> None:
    emu = emulator_factory(expired_token_answer=answer, token_ttl_seconds=2)
    client = client_for(emu, iam_env(emu), only=True)
    assert client.list() == []
    auth: Any = client.shared.auth()
    # The client refreshes a token well before it expires; pretend its clock is an hour slow so
    # it keeps the old one and meets the service's "expired" answer.
    auth._refresh_at = auth._clock() + timedelta(hours=1)
    time.sleep(2.2)
    assert client.list() == []  # answered after one fresh sign-in
    assert auth.fetch_count == 2


def test_delete_sends_both_forms_of_force_and_accepts_an_empty_204(
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    emu = emulator_factory(delete_answer="204")
    client = client_for(emu)
    record = client.register(swr_path=DEMO_SWR_IMAGES[0])
    assert client.wait(record.id, timeout=30).succeeded
    deleted = client.delete(record.id, force=True)
    assert deleted.id == record.id and deleted.status == ImageStatus.DELETED
    # forced: the image's content left SWR too, so registering the path again fails to build
    again = client.register(swr_path=DEMO_SWR_IMAGES[0])
    assert not again.already_registered
    assert client.wait(again.id, timeout=30).record.status == ImageStatus.CREATE_FAILED


def test_unforced_delete_keeps_the_swr_image(emulator: EmulatorProcess) -> None:
    client = client_for(emulator)
    record = client.register(swr_path=DEMO_SWR_IMAGES[0])
    assert client.wait(record.id, timeout=30).succeeded
    assert client.delete(record.id).status == ImageStatus.DELETED
    again = client.register(swr_path=DEMO_SWR_IMAGES[0])
    assert client.wait(again.id, timeout=30).succeeded


def test_resource_categories_default_to_cpu_and_gpu(emulator: EmulatorProcess) -> None:
    client = client_for(emulator)
    record = client.register(swr_path=DEMO_SWR_IMAGES[0])
    assert [str(c) for c in record.resource_categories] == ["CPU", "GPU"]


def test_groups_carry_the_sdks_fields(emulator: EmulatorProcess) -> None:
    client = client_for(emulator)
    client.register(swr_path=DEMO_SWR_IMAGES[0])
    groups = client.list_groups()
    assert len(groups) == 1 and groups[0].version_count == 1 and groups[0].id
    assert set(groups[0].extra) <= {"read_me", "icon_name", "swr_instance_name", "swr_instance_id"}


def test_groups_filter_by_swr_instance_and_each_list_refuses_the_others_filters(
    emulator: EmulatorProcess,
) -> None:
    client = client_for(emulator)
    client.register(swr_path=DEMO_SWR_IMAGES[0])
    client.register(swr_path=DEMO_SWR_IMAGES[1], swr_instance_id="instance-a")
    groups = client.list_groups(swr_instance_id="instance-a")
    assert [(g.name, g.extra["swr_instance_id"]) for g in groups] == [("pytorch-cuda", "instance-a")]
    assert client.list_groups(swr_instance_id="instance-b") == []
    assert len(client.list_groups()) == 2
    with pytest.raises(ValidationError) as info:
        client.list(swr_instance_id="instance-a")
    assert info.value.fields == ("swr_instance_id",) and "image list" in info.value.message
    with pytest.raises(ValidationError) as info:
        client.list_groups(show_name="x", sort_key="name")
    assert info.value.fields == ("show_name", "sort_key")


def test_sort_key_is_free_text_checked_for_its_characters(emulator: EmulatorProcess) -> None:
    client = client_for(emulator)
    client.register(swr_path=DEMO_SWR_IMAGES[0])
    assert len(client.list(sort_key="update_at,name", sort_dir="ASC")) == 1
    with pytest.raises(ValidationError) as info:
        client.list(sort_key="name; drop table")
    assert info.value.fields == ("sort_key",)
    preset = client.list(type="BUILD_IN")[0]
    shown = client.list(type="BUILD_IN", show_name=preset.name, show_tag=preset.tag)
    assert [r.id for r in shown] == [preset.id]
    with pytest.raises(ValidationError) as info:  # the user's images have no show name
        client.list(show_name=preset.name)
    assert info.value.fields == ("show_name",) and "BUILD_IN" in info.value.message
