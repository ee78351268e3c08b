"""ImageClient's notebook calls, this_notebook and follow_save, against the emulator over HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from emulator_clients import client_for

from mai_widgets.emulator.defaults import DEFAULTS, notebook_id_for
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.errors import (
    AlreadyRegisteredError,
    MaiWidgetsError,
    NotebookStateError,
    NotFoundError,
    PermissionDeniedError,
    TagConflictError,
    ValidationError,
)
from mai_widgets.services.notebooks import follow_save, this_notebook
from mai_widgets.wire.contract import ImageStatus, Origin
from mai_widgets.wire.notebooks import NotebookStatus

DEMO_ID = notebook_id_for(DEFAULTS.project_id, DEFAULTS.demo_notebook)
NO_ID = {"MAI_WIDGETS_NOTEBOOK_ID": ""}  # as a kernel outside ModelArts without the setting


def test_list_reads_every_page_and_filters(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    seeds = [f"nb-{i:02d}:STOPPED" for i in range(54)] + ["other:RUNNING:10.9.8.7"]
    client = client_for(emulator_factory(notebook=seeds))
    everything = client.list_notebooks()
    assert len(everything) == 56 == len({n.id for n in everything})  # two pages of 50
    assert {n.name for n in client.list_notebooks(status=NotebookStatus.RUNNING)} == {
        DEFAULTS.demo_notebook,
        "other",
    }
    assert [n.name for n in client.list_notebooks(ip="10.9.8.7")] == ["other"]
    assert len(client.list_notebooks(name="nb-0")) == 10
    shown = client.get_notebook(DEMO_ID)
    assert shown.is_running and shown.image is not None and shown.image.name == DEFAULTS.demo_notebook_image
    with pytest.raises(ValidationError) as bad:
        client.list_notebooks(status="ASLEEP", ip="localhost")
    assert bad.value.fields == ("status", "ip")
    with pytest.raises(NotFoundError) as gone:
        client.get_notebook("no-such-instance")
    assert gone.value.error_code == "ModelArts.6309" and "pick one from the list" in (gone.value.hint or "")


def test_save_and_follow_both_until_they_settle(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    client = client_for(emulator_factory(snapshot_seconds=1.0))
    image = client.save_notebook(DEMO_ID, name="my-env", namespace="mai-demo", description="saved")
    assert (image.origin, image.status) == (Origin.IMAGE_SAVE, ImageStatus.INIT)
    assert image.tag is not None and re.fullmatch(r"[0-9]{8}-[0-9]{4}(-[0-9]+)?", image.tag)
    notebook_states: list[str] = []
    image_states: list[str] = []
    done = follow_save(
        client,
        DEMO_ID,
        image,
        timeout=20,
        on_notebook=lambda r: notebook_states.append(str(r.status)),
        on_image=lambda r: image_states.append(str(r.status)),
    )
    assert done.succeeded and done.outcome == "settled" and not done.errors
    assert notebook_states[0] == "SNAPSHOTTING" and notebook_states[-1] == "RUNNING"
    assert image_states[-1] == "ACTIVE" and "INIT" not in image_states  # the save's answer is not heard again
    assert done.notebook is not None and done.notebook.image is not None
    assert done.notebook.image.id == image.id
    # the next default tag never collides with the one just saved (same minute: a suffix)
    assert client.default_save_tag("mai-demo", "my-env") != image.tag


def test_errors_in_words(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(notebook=["stopped-one:STOPPED", "frozen-one:FROZEN"], snapshot_seconds=0)
    client = client_for(emu)
    cases: list[tuple[str, dict[str, str], type[MaiWidgetsError], str]] = [
        ("stopped-one", {}, NotebookStateError, "start it"),
        ("frozen-one", {}, NotebookStateError, "unfreeze"),
        (DEFAULTS.demo_notebook, {"namespace": "no-such-org"}, PermissionDeniedError, "create it in SWR"),
        (
            DEFAULTS.demo_notebook,
            {"namespace": "mai-shared"},
            PermissionDeniedError,
            "pick one you can write",
        ),
    ]
    for name, fields, kind, words in cases:
        with pytest.raises(kind) as refused:
            client.save_notebook(
                notebook_id_for(emu.project_id, name), **{"name": "e", "namespace": "mai-demo", **fields}
            )
        assert words in (refused.value.hint or ""), refused.value.one_line()
    client.save_notebook(DEMO_ID, name="e", namespace="mai-demo", tag="v1")
    with pytest.raises(TagConflictError) as taken:
        client.save_notebook(DEMO_ID, name="e", namespace="mai-demo", tag="v1")
    assert not isinstance(taken.value, AlreadyRegisteredError) and "choose another tag" in (
        taken.value.hint or ""
    )


def test_bad_fields_send_nothing(closed_loopback_url: str, emulator: EmulatorProcess) -> None:
    client = client_for(emulator, env={"MAI_WIDGETS_ENDPOINT": closed_loopback_url})
    with pytest.raises(ValidationError) as bad:
        client.save_notebook("../images", name="Bad Name", namespace="1org", tag="a b")
    assert bad.value.fields == ("notebook_id", "name", "namespace", "tag")


def test_every_save_through_faults_makes_at_most_one_image(
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    emu = emulator_factory(snapshot_seconds=0, fault_rate=0.3, faults="500,drop", fault_seed=11)
    client = client_for(emu, max_retries=5)
    saved: dict[str, str] = {}
    for i in range(12):
        try:
            saved[f"t{i}"] = client.save_notebook(
                DEMO_ID, name="faulty", namespace="mai-demo", tag=f"t{i}"
            ).id
        except MaiWidgetsError as exc:
            assert not isinstance(exc, TagConflictError), exc.one_line()  # never our own save as a conflict
    assert len(saved) >= 9
    with emu.store() as store:
        for tag, image_id in saved.items():
            path = f"{DEFAULTS.registry}/mai-demo/faulty:{tag}"
            assert store.live_id_for_swr_path(emu.project_id, path) == image_id


def test_this_notebook_in_order(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(notebook=["twin:RUNNING:10.20.30.40", "twin2:RUNNING:10.20.30.40"])
    configured = client_for(emu)
    assert this_notebook(configured, "explicit-id") == "explicit-id"
    assert this_notebook(configured) == DEMO_ID == configured.config.notebook_id
    unset = client_for(emu, env=NO_ID)
    assert this_notebook(unset) == DEMO_ID  # the one RUNNING instance on 127.0.0.1 (the emulator's)
    assert this_notebook(unset, addresses=["10.20.30.40"]) is None  # two match: the user picks
    assert this_notebook(unset, addresses=["192.0.2.44"]) is None
    with pytest.raises(ValidationError):
        this_notebook(unset, "../x")
