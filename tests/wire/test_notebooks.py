"""The notebook wire format: records, the list's filters, the save request's rules, the tag."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mai_widgets.errors import ValidationError
from mai_widgets.wire.contract import Arch, ImageType
from mai_widgets.wire.notebooks import (
    SETTLED_NOTEBOOK_STATUSES,
    NotebookRecord,
    NotebookStatus,
    SaveImageRequest,
    default_save_tag,
    notebook_list_query,
    validate_save_fields,
)

SDK_RECORD = {
    "id": "6f2a0b3c-1d4e-4f50-9a6b-7c8d9e0f1a2b",
    "name": "my-notebook",
    "description": "",
    "status": "snapshotting",
    "fail_reason": "",
    "action_progress": [{"step": 1, "status": "PROCESSING", "description": "saving"}],
    "image": {
        "id": "0a1b",
        "name": "pytorch",
        "tag": "2.3.0",
        "swr_path": "swr.cn-north-4.myhuaweicloud.com/org/pytorch:2.3.0",
        "arch": "aarch64",
        "type": "DEDICATED",
        "status": "ACTIVE",
    },
    "flavor": "modelarts.vm.cpu.2u",
    "url": "https://authoring.example.test/lab",
    "ip": "192.168.0.12",
    "workspace_id": "0",
    "feature": "NOTEBOOK",
    "user": {"id": "u1", "name": "alice", "domain": {"id": "d", "name": "acme"}},
    "lease": {"create_at": 1717400000000, "duration": 14400000, "enable": True, "type": "TIMING"},
    "token": "jupyter-access-token-value",
    "a_field_of_tomorrow": {"x": 1},
}


def test_record_parses_the_sdk_fields_and_drops_the_token() -> None:
    record = NotebookRecord.from_wire(SDK_RECORD)
    assert record.status is NotebookStatus.SNAPSHOTTING and not record.is_settled and not record.is_running
    assert record.action_progress == ((1, "PROCESSING", "saving"),)
    assert record.image is not None
    assert (record.image.name, record.image.tag, record.image.arch) == ("pytorch", "2.3.0", Arch.AARCH64)
    assert record.image.type is ImageType.DEDICATED and record.image.extra == {"status": "ACTIVE"}
    assert (record.ip, record.user_name, record.user_id, record.flavor) == (
        "192.168.0.12",
        "alice",
        "u1",
        "modelarts.vm.cpu.2u",
    )
    assert record.lease is not None and record.lease.duration == 14400000 and record.lease.enable is True
    assert record.lease.create_at == datetime.fromtimestamp(1717400000, tz=timezone.utc)
    assert record.extra == {"a_field_of_tomorrow": {"x": 1}}
    assert "jupyter-access-token-value" not in repr(record)


def test_record_keeps_unknown_states_and_refuses_a_record_without_id() -> None:
    record = NotebookRecord.from_wire({"id": "n1", "status": "HIBERNATING", "image": "not an object"})
    assert record.status == "HIBERNATING" and record.image is None and not record.is_settled
    with pytest.raises(ValueError, match="id"):
        NotebookRecord.from_wire({"name": "x"})


def test_the_fourteen_states_and_which_ones_settle() -> None:
    assert len(NotebookStatus) == 14
    moving = {s.value for s in NotebookStatus if s not in SETTLED_NOTEBOOK_STATUSES}
    assert moving == {"INIT", "CREATING", "STARTING", "STOPPING", "DELETING", "SNAPSHOTTING"}


def test_list_query_checks_every_filter_at_once() -> None:
    assert notebook_list_query(status="running", name="my-nb", ip="10.0.0.5") == {
        "status": "RUNNING",
        "name": "my-nb",
        "ip": "10.0.0.5",
    }
    with pytest.raises(ValidationError) as bad:
        notebook_list_query(status="ASLEEP", name="a b", ip="::1", workspace_id="ws")
    assert bad.value.fields == ("status", "name", "ip", "workspace_id")


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"namespace": "org"}, "name", "is required"),
        ({"name": "a"}, "namespace", "is required"),
        ({"name": "A" * 129, "namespace": "org"}, "name", "at most 128 characters (it has 129)"),
        ({"name": "My Env", "namespace": "org"}, "name", "only lower-case letters"),
        ({"name": "-env", "namespace": "org"}, "name", "must start with a lower-case letter or a digit"),
        ({"name": "env.", "namespace": "org"}, "name", "must end with a lower-case letter or a digit"),
        ({"name": "env", "namespace": "1org"}, "namespace", "must start with a lower-case letter"),
        ({"name": "env", "namespace": "o" * 65}, "namespace", "at most 64 characters"),
        ({"name": "env", "namespace": "org/x"}, "namespace", "only letters, digits"),
        ({"name": "env", "namespace": "org", "tag": "v 1"}, "tag", "only letters, digits"),
        ({"name": "env", "namespace": "org", "tag": "t" * 65}, "tag", "at most 64 characters"),
        ({"name": "env", "namespace": "org", "description": "d" * 513}, "description", "at most 512"),
        ({"name": "env", "namespace": "org", "workspace_id": "ws1"}, "workspace_id", "32-character"),
        ({"name": "env", "namespace": "org", "image": "x"}, "image", "is not a field of a save"),
    ],
)
def test_save_request_says_which_rule_is_broken(values: dict[str, str], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as bad:
        SaveImageRequest.create(**values)
    assert message in bad.value.by_field()[field]


def test_one_problem_per_broken_rule() -> None:
    problems = validate_save_fields({"name": "-Env-", "namespace": "org"})
    assert [p.field for p in problems] == ["name"] * 3
    assert len({p.message for p in problems}) == 3


def test_save_request_body_sends_only_what_is_set() -> None:
    request = SaveImageRequest.create(name="my-env", namespace="mai-demo", tag="", description="")
    assert request.to_body() == {"name": "my-env", "namespace": "mai-demo"}
    tagged = request.with_tag("v1.0_rc-2")
    assert tagged.to_body() == {"name": "my-env", "namespace": "mai-demo", "tag": "v1.0_rc-2"}
    assert tagged.repository == "mai-demo/my-env"
    assert SaveImageRequest.from_body({**tagged.to_body(), "swr_instance_id": "x"}) == tagged


def test_default_tag_is_the_minute_and_never_an_existing_tag() -> None:
    now = datetime(2026, 12, 7, 3, 21, 59, tzinfo=timezone.utc)
    assert default_save_tag([], now) == "20261207-0321"
    assert default_save_tag(["20261207-0321", "20261207-0321-2"], now) == "20261207-0321-3"
    assert SaveImageRequest.create(name="e", namespace="o", tag=default_save_tag([], now)).tag
