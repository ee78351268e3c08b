"""The file of images (mai_widgets.batch.file): what it accepts, every way it is refused, and a
round trip that reads back unchanged. No server: the file alone."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mai_widgets import batch
from mai_widgets.errors import BatchFileError
from mai_widgets.wire.contract import REGISTER_FIELDS

REGION = "cn-north-4"
HOST = f"swr.{REGION}.myhuaweicloud.com"

GOOD = """\
defaults:              # every entry gets these unless it sets its own
  arch: X86_64
  resource_category: [CPU, GPU]
images:
  - swr_path: my-org/pytorch:2.3.0
    description: PyTorch 2.3 for notebooks
  - swr_path: my-org/pytorch:2.3.0-arm
    arch: AARCH64
"""


def refused(text: str, **kwargs: object) -> BatchFileError:
    with pytest.raises(BatchFileError) as caught:
        batch.loads(text, source="images.yaml", **kwargs)  # type: ignore[arg-type]
    error = caught.value
    assert error.code == "invalid-file" and "\n" not in error.one_line() and "Traceback" not in error.message
    return error


def test_a_file_with_defaults_gives_each_entry_its_fields_and_line() -> None:
    file = batch.loads(GOOD, source="images.yaml")
    first, second = file.entries
    assert (first.index, first.line, second.index, second.line) == (1, 5, 2, 7)
    assert first.fields == {
        "arch": "X86_64",
        "resource_category": ["CPU", "GPU"],
        "swr_path": "my-org/pytorch:2.3.0",
        "description": "PyTorch 2.3 for notebooks",
    }
    assert second.fields["arch"] == "AARCH64"  # its own value wins over the default
    request, problems = second.parse(REGION)
    assert problems == () and request is not None
    assert request.swr_path == f"{HOST}/my-org/pytorch:2.3.0-arm"  # the host follows the region
    assert first.where() == "entry 1 (line 5, my-org/pytorch:2.3.0)"


def test_json_of_the_same_shape_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "images.json"
    path.write_text(json.dumps(batch.loads(GOOD).to_data()))
    assert batch.load(path).to_data() == batch.loads(GOOD).to_data()


def test_yaml_syntax_errors_name_the_line() -> None:
    error = refused("images:\n  - swr_path: my-org/a:1\n    arch: [X86_64\n  - swr_path: b\n")
    assert error.message.startswith("images.yaml line 4")
    assert "not valid YAML" in (error.hint or "")
    json_error = refused('{"images": [\n  {"swr_path": "my-org/a:1",}\n]}', format="json")
    assert json_error.message.startswith("images.yaml line 2, column")


def test_unknown_keys_name_the_entry_the_key_and_the_nearest_key() -> None:
    error = refused("images:\n  - swr_path: my-org/a:1\n  - swr_path: my-org/b:1\n    arh: X86_64\n")
    assert error.message == (
        "images.yaml: entry 2 (line 3, my-org/b:1): unknown key 'arh' (did you mean 'arch'?)"
    )
    top = refused("image:\n  - swr_path: my-org/a:1\n")
    assert "unknown top-level key 'image' (did you mean 'images'?)" in top.message
    in_defaults = refused("defaults: {resource_categories: [CPU]}\nimages: [{swr_path: my-org/a:1}]\n")
    assert (
        "defaults: unknown key 'resource_categories' (did you mean 'resource_category'?)"
        in in_defaults.message
    )
    # the allowed keys are the register field table's, nothing else
    assert set(batch.loads("images: [{swr_path: my-org/a:1}]").entries[0].fields) <= set(REGISTER_FIELDS)


def test_a_path_twice_is_an_error_as_written_and_once_completed() -> None:
    error = refused("images:\n  - swr_path: my-org/a:1\n  - swr_path: my-org/b:1\n  - swr_path: my-org/a:1\n")
    assert error.message == (
        "images.yaml: entry 3 (line 4, my-org/a:1): the same image as entry 1; list each image once"
    )
    # host-less and full paths name one image in the region where the file is applied
    file = batch.loads(f"images:\n  - swr_path: my-org/a:1\n  - swr_path: {HOST}/my-org/a:1\n")
    with pytest.raises(BatchFileError, match=r"entry 2 .* the same image as entry 1"):
        file.requests(REGION)
    assert len(file.requests("ap-southeast-1")) == 2  # elsewhere they are two images


def test_a_key_twice_in_one_entry_is_an_error() -> None:
    error = refused("images:\n  - swr_path: my-org/a:1\n    arch: X86_64\n    arch: AARCH64\n")
    assert "line 4" in error.message and "'arch' is given twice" in error.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("- swr_path: my-org/a:1\n", "the file is a list, not a mapping"),
        ("images: my-org/a:1\n", "'images' must be a list"),
        ("images:\n  - my-org/a:1\n", "entry 1: must be a mapping such as {swr_path: org/name:tag}"),
        ("images:\n  - arch: X86_64\n", "entry 1 (line 2): swr_path is required"),
        ("images:\n  - swr_path: 5\n", "swr_path is required (a text"),
        ("defaults: {swr_path: my-org/a:1}\nimages: []\n", "defaults: swr_path names one image"),
        ("images: [{swr_path: my-org/a:1, 7: x}]\n", "the key 7 is not a field name"),
    ],
)
def test_the_wrong_shape_is_refused_with_what_to_write(text: str, expected: str) -> None:
    assert expected in refused(text).message


def test_wrong_types_leave_the_entry_invalid_with_the_field_tables_message() -> None:
    file = batch.loads(
        "images:\n"
        "  - {swr_path: my-org/a:1, arch: 5}\n"
        "  - {swr_path: my-org/b:1, workspace_id: 0}\n"
        "  - {swr_path: my-org/c:1, resource_category: CPU}\n"
        "  - {swr_path: my-org/d:1, arch: SPARC, description: [a]}\n"
        "  - {swr_path: My-Org/e:1}\n"
    )
    problems = [e.parse(REGION)[1] for e in file.entries]
    assert [str(p) for p in problems[0]] == ["arch: must be a string, one of X86_64, AARCH64"]
    assert [str(p) for p in problems[1]] == ["workspace_id: must be a string (write it in quotes: '0')"]
    assert [str(p) for p in problems[2]] == ["resource_category: must be a list of CPU, GPU, ASCEND"]
    assert {p.field for p in problems[3]} == {"arch", "description"}
    assert "lower case" in str(problems[4][0])


def test_ten_thousand_entries_load_fast() -> None:
    text = "defaults: {arch: X86_64}\nimages:\n" + "".join(
        f"  - swr_path: my-org/app-{i:05d}:v1\n    description: app {i}\n" for i in range(10_000)
    )
    started = time.perf_counter()
    file = batch.loads(text)
    loaded = time.perf_counter() - started
    parsed = file.requests(REGION)
    total = time.perf_counter() - started
    assert len(file) == 10_000 and all(request is not None for _, _, request, _ in parsed)
    print(f"10,000 entries: loaded in {loaded:.2f} s, validated in {total - loaded:.2f} s")
    assert total < 10.0  # about 1 s on the project's 2-core machine


def test_more_than_the_limit_is_refused() -> None:
    data = {"images": [{"swr_path": f"my-org/a:{i}"} for i in range(batch.MAX_ENTRIES + 1)]}
    error = refused(json.dumps(data), format="json")
    assert f"at most {batch.MAX_ENTRIES} in one file" in error.message


def test_an_unreadable_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(BatchFileError, match="cannot read it"):
        batch.load(tmp_path / "missing.yaml")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00images")
    with pytest.raises(BatchFileError, match="not a UTF-8 text file"):
        batch.load(tmp_path / "binary.yaml")


def test_dumps_reads_back_unchanged() -> None:
    file = batch.BatchFile.of(
        [
            {"swr_path": "my-org/pytorch:2.3.0", "description": "PyTorch: 2.3 'for' \"notebooks\" ü"},
            {
                "swr_path": "my-org/b:1",
                "arch": "AARCH64",
                "workspace_id": "0",
                "resource_category": ["ASCEND"],
            },
            {"swr_path": "my-org/c:1", "tags": [{"key": "team", "value": "01"}], "read_me": "line 1\nline 2"},
            {"swr_path": "other.example.com/org/d:1", "description": "2024-01-01", "services": ["NOTEBOOK"]},
        ],
        defaults={"visibility": "PRIVATE"},
    )
    for fmt in ("yaml", "json"):
        text = batch.dumps(file, fmt)  # type: ignore[arg-type]
        again = batch.loads(text, format=fmt)  # type: ignore[arg-type]
        assert again.to_data() == file.to_data()
        assert batch.dumps(again, fmt) == text  # type: ignore[arg-type]
        assert all(e.parse(REGION)[1] == () for e in again.entries)  # "0" and the date stay text
    assert "resource_category: [ASCEND]" in batch.dumps(file)
