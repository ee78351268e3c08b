"""The wire contract: enums, register validation, record parsing."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mai_widgets.errors import ValidationError
from mai_widgets.wire.contract import (
    Arch,
    ImageGroup,
    ImageRecord,
    ImageStatus,
    ListFilters,
    RegisterRequest,
    ResourceCategory,
    Service,
    split_swr_path,
    validate_image_id,
    validate_register_fields,
)

GOOD = "swr.cn-north-4.myhuaweicloud.com/my-org/pytorch:2.3.0"

SEED_RESPONSE: dict[str, Any] = {
    "arch": "x86_64",
    "create_at": 1671708630448,
    "description": "",
    "dev_services": ["NOTEBOOK", "SSH"],
    "id": "708ca95d-c601-4dc7-86b9-670adfd5e818",
    "name": "pytorch_1_8",
    "namespace": "op_svc_modelarts_container2",
    "origin": "CUSTOMIZE",
    "resource_categories": ["CPU"],
    "service_type": "UNKNOWN",
    "size": 3376133259,
    "status": "ACTIVE",
    "swr_path": "swr.xxx.com/op_svc_modelarts_container2/pytorch_1_8:train-pytorch_1.8.0-cuda_10.2-py_3.7",
    "tag": "train-pytorch_1.8.0-cuda_10.2-py_3.7",
    "type": "DEDICATED",
    "update_at": 1671708630448,
    "visibility": "PRIVATE",
    "workspace_id": "0",
}


@pytest.mark.parametrize("value", ["X86_64", "x86_64", " X86_64 ", "X86_64 "])
def test_enums_compare_case_insensitively(value: str) -> None:
    assert Arch(value) is Arch.X86_64


def test_terminal_statuses() -> None:
    terminal = {s for s in ImageStatus if s.is_terminal}
    assert terminal == {ImageStatus.ACTIVE, ImageStatus.CREATE_FAILED, ImageStatus.ERROR, ImageStatus.DELETED}


def test_a_record_settles_only_from_the_same_image_not_yet_terminal() -> None:
    creating = ImageRecord.from_wire({"id": "a", "status": "CREATING"})
    active = ImageRecord.from_wire({"id": "a", "status": "ACTIVE"})
    assert active.settles(creating)
    assert not active.settles(active)  # already settled before
    assert not active.settles(ImageRecord.from_wire({"id": "b", "status": "CREATING"}))  # another image
    assert not active.settles(None) and not creating.settles(creating)


def test_seed_example_request_is_valid_and_round_trips() -> None:
    body = {
        "description": "",
        "resource_category": ["CPU"],
        "arch": "X86_64",
        "swr_path": SEED_RESPONSE["swr_path"],
    }
    request = RegisterRequest.from_body(body)
    assert request.arch is Arch.X86_64
    assert request.resource_category == (ResourceCategory.CPU,)
    assert dict(request.to_body()) == {k: body[k] for k in ("swr_path", "arch", "resource_category", "description")}


def test_request_body_omits_unset_fields_and_passes_newer_fields() -> None:
    request = RegisterRequest.create(
        swr_path=GOOD, services=["ssh"], flavor_type="ascend_snt9b", tags=[{"key": "team", "value": "ml"}]
    )
    assert dict(request.to_body()) == {
        "swr_path": GOOD,
        "services": ["SSH"],
        "flavor_type": "ASCEND_SNT9B",
        "tags": [{"key": "team", "value": "ml"}],
    }
    assert request.replace(arch="aarch64").arch is Arch.AARCH64
    assert request.replace(arch="aarch64").tags == (("team", "ml"),)


def test_validation_reports_every_problem_at_once_with_field_names() -> None:
    with pytest.raises(ValidationError) as info:
        RegisterRequest.create(
            swr_path="not a path at all",
            arch="arm",
            resource_category=[],
            services=["NOTEBOOK", "FTP"],
            service_type=3,
            visibility="SECRET",
            origin="ELSEWHERE",
            description="x" * 513,
            workspace_id=7,
            colour="blue",
        )
    fields = set(info.value.fields)
    assert fields == {
        "swr_path",
        "arch",
        "resource_category",
        "services",
        "service_type",
        "visibility",
        "origin",
        "description",
        "workspace_id",
        "colour",
    }
    by_field = info.value.by_field()
    assert "X86_64, AARCH64" in by_field["arch"]
    assert "'FTP'" in by_field["services"]
    assert "513" in by_field["description"]


def test_description_limit_is_512() -> None:
    assert validate_register_fields({"swr_path": GOOD, "description": "é" * 512}) == []
    assert [p.field for p in validate_register_fields({"swr_path": GOOD, "description": "é" * 513})] == [
        "description"
    ]


def test_swr_path_is_required() -> None:
    assert [p.field for p in validate_register_fields({})] == ["swr_path"]
    assert [p.field for p in validate_register_fields({"swr_path": ""})] == ["swr_path"]


@pytest.mark.parametrize(
    "path",
    [
        GOOD,
        "swr.example.com:5000/org/name:latest",
        "swr.example.com/org/group/name:v1.0-rc_1",
        "swr.example.com/op_svc_modelarts_container2/pytorch_1_8:train-pytorch_1.8.0-cuda_10.2-py_3.7",
        "swr.example.com/org/name@sha256:" + "a" * 64,
        "localhost:5000/o/n:t",
    ],
)
def test_good_swr_paths(path: str) -> None:
    assert validate_register_fields({"swr_path": path}) == []


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("swr.example.com/org/name", "needs a tag"),
        ("swr.example.com:443/org/name", "needs a tag"),
        ("swr.example.com/name:tag", "needs a namespace"),
        ("name:tag-long-enough-1", "needs a namespace"),
        ("swr.example.com/Org/name:tag", "lower case"),
        ("Org/name:tag", "lower case"),
        ("swr.example.com/org/name:tag extra", "must not contain spaces"),
        (" swr.example.com/org/name:tag", "must not start or end with spaces"),
        ("https://swr.example.com/org/name:tag", "look like"),
        ("swr.example.com/org/name@sha256:abc", "look like"),
        ("a.b/c/d:e", "16 to 2048"),
        ("swr.example.com/org/" + "n" * 2048 + ":t", "16 to 2048"),
    ],
)
def test_bad_swr_paths(path: str, why: str) -> None:
    problems = validate_register_fields({"swr_path": path})
    assert [p.field for p in problems] == ["swr_path"]
    assert why in problems[0].message


@pytest.mark.parametrize(
    ("given", "completed"),
    [
        ("org/image:tag", "swr.ap-southeast-1.myhuaweicloud.com/org/image:tag"),
        ("org/team/image@sha256:" + "a" * 64, "swr.ap-southeast-1.myhuaweicloud.com/org/team/image@sha256:" + "a" * 64),
        ("swr.cn-north-4.myhuaweicloud.com/org/image:tag", "swr.cn-north-4.myhuaweicloud.com/org/image:tag"),
        ("localhost:5000/org/image:tag", "localhost:5000/org/image:tag"),
        ("localhost/org/image:tag", "localhost/org/image:tag"),
        ("Org/image:tag", "Org/image:tag"),  # not a valid path: left for validation to name
    ],
)
def test_hostless_swr_paths_are_completed_for_the_region(given: str, completed: str) -> None:
    from mai_widgets.wire.contract import complete_swr_path

    assert complete_swr_path(given, "ap-southeast-1") == completed
    if given != "Org/image:tag":
        assert validate_register_fields({"swr_path": given}) == []


def test_field_table_drives_validation_limits() -> None:
    from mai_widgets.wire.contract import READ_ME_MAX, TAGS_MAX, field_spec, form_defaults

    assert field_spec("resource_category").default == ("CPU", "GPU")
    assert form_defaults()["resource_category"] == ["CPU", "GPU"]
    assert [p.field for p in validate_register_fields({"swr_path": GOOD, "read_me": "r" * READ_ME_MAX})] == []
    problems = validate_register_fields({"swr_path": GOOD, "read_me": "r" * (READ_ME_MAX + 1)})
    assert [p.field for p in problems] == ["read_me"] and "3000" in problems[0].message
    tags = [{"key": f"k{i}", "value": "v"} for i in range(TAGS_MAX + 1)]
    problems = validate_register_fields({"swr_path": GOOD, "tags": tags})
    assert [p.field for p in problems] == ["tags"] and "at most 20" in problems[0].message
    assert validate_register_fields({"swr_path": GOOD, "tags": tags[:TAGS_MAX]}) == []
    assert [p.field for p in validate_register_fields({"swr_path": GOOD, "flavor_type": "GPU"})] == ["flavor_type"]
    for good in ("0", "0123456789abcdef0123456789abcdef"):
        assert validate_register_fields({"swr_path": GOOD, "workspace_id": good}) == []
    for bad in ("default", "0123456789ABCDEF0123456789ABCDEF", "1", "a" * 31):
        assert [p.field for p in validate_register_fields({"swr_path": GOOD, "workspace_id": bad})] == ["workspace_id"]


def test_split_swr_path() -> None:
    assert split_swr_path(GOOD) == {
        "registry": "swr.cn-north-4.myhuaweicloud.com",
        "namespace": "my-org",
        "name": "pytorch",
        "tag": "2.3.0",
    }
    assert split_swr_path("nope") is None


def test_direct_construction_validates_too() -> None:
    with pytest.raises(ValidationError):
        RegisterRequest(swr_path="short")
    assert RegisterRequest(swr_path=GOOD, arch=Arch.AARCH64).arch is Arch.AARCH64


def test_record_parses_the_seed_response() -> None:
    record = ImageRecord.from_wire(SEED_RESPONSE)
    assert record.id == SEED_RESPONSE["id"]
    assert record.arch is Arch.X86_64
    assert record.status is ImageStatus.ACTIVE and record.is_terminal
    assert record.services == (Service.NOTEBOOK, Service.SSH)
    assert record.resource_categories == (ResourceCategory.CPU,)
    assert record.create_at == datetime(2022, 12, 22, 11, 30, 30, 448000, tzinfo=timezone.utc)
    assert record.size == 3376133259
    assert record.extra == {}


def test_record_keeps_unknown_fields_and_values() -> None:
    wire = {**SEED_RESPONSE, "flavor_type": "GPU", "show_name": "x", "status": "MIGRATING", "arch": "riscv"}
    record = ImageRecord.from_wire(wire)
    assert record.extra == {"flavor_type": "GPU", "show_name": "x"}
    assert record.status == "MIGRATING" and not record.is_terminal
    assert record.arch == "riscv"
    back = dict(record.to_wire())
    assert back["flavor_type"] == "GPU" and back["status"] == "MIGRATING"
    assert back["dev_services"] == ["NOTEBOOK", "SSH"]
    assert back["create_at"] == SEED_RESPONSE["create_at"]
    assert back["arch"] == "riscv"


def test_record_without_id_is_rejected() -> None:
    with pytest.raises(ValueError, match="id"):
        ImageRecord.from_wire({"status": "ACTIVE"})


def test_group_parses() -> None:
    group = ImageGroup.from_wire({"name": "pytorch", "version_count": 3, "namespace": "org", "arch": "X86_64"})
    assert (group.name, group.version_count, group.namespace) == ("pytorch", 3, "org")
    assert group.extra == {"arch": "X86_64"}


def test_list_filters() -> None:
    query = ListFilters.create(name="torch", name_fuzzy_match=True, sort_dir="desc", type="dedicated").to_query()
    assert query == {"name": "torch", "name_fuzzy_match": "true", "sort_dir": "DESC", "type": "DEDICATED"}
    with pytest.raises(ValidationError) as info:
        ListFilters.create(sort_dir="sideways", limit=3)
    assert set(info.value.fields) == {"sort_dir", "limit"}


@pytest.mark.parametrize("bad", ["../x", "a/b", "%2F", "a b", "é", "", "a" * 129, "a?b", "a#b", 5])
def test_image_ids_that_would_change_the_path_are_refused(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        validate_image_id(bad)
    assert info.value.fields == ("image_id",)


_values = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.integers(),
    st.lists(st.text(max_size=10), max_size=4),
    st.sampled_from(["X86_64", "aarch64", "CPU", "NOTEBOOK", "PUBLIC", GOOD]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["swr_path", "arch", "resource_category", "services", "service_type", "visibility", "origin",
             "description", "workspace_id", "tags", "bogus"]
        ),
        _values,
    )
)
def test_any_input_gives_a_request_or_a_field_named_error(values: dict[str, Any]) -> None:
    try:
        request = RegisterRequest.create(**values)
    except ValidationError as error:
        assert error.problems
        assert all(p.field in values or p.field == "swr_path" for p in error.problems)
    else:
        assert RegisterRequest.from_body(dict(request.to_body())) == request
