"""Pushing to the emulator's SWR over real HTTP: the registry v2 upload and manifest protocol, its
refusals, the pushed image as pulls, the manage API and SwrClient see it, registration reading the
live registry (push the missing image, then register again) and the push command line.
"""

from __future__ import annotations

import calendar
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from emulator_clients import client_for, registry_token, swr_for

from mai_widgets.emulator import DEFAULTS, EmulatorProcess
from mai_widgets.emulator.push import build_image, push_image
from mai_widgets.emulator.registry import MAX_UPLOAD_BYTES
from mai_widgets.errors import NotFoundError, PermissionDeniedError, ValidationError
from mai_widgets.wire.contract import Arch, ImageStatus

REG = DEFAULTS.registry
TIMEOUT = 15
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
GOOD_PATH = "mai-demo/pytorch-cpu:2.3.0"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    data_dir = tmp_path_factory.mktemp("push-emulator")
    with EmulatorProcess(data_dir, init_seconds=0.2, creating_seconds=0.3) as process:
        yield process


@pytest.fixture(autouse=True)
def _emulator_environment(emu: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """push_image finds the endpoints and credentials where users' shells have them: the environment."""
    for name, value in emu.env().items():
        monkeypatch.setenv(name, value)


def sha(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def fresh(name: str) -> str:
    """A repository of mai-demo that no other test pushes to."""
    return f"mai-demo/{name}-{uuid.uuid4().hex[:8]}"


class Registry:
    """Raw registry calls with one bearer token (scope ``pull,push`` unless told)."""

    def __init__(self, emu: EmulatorProcess, name: str, actions: str = "pull,push") -> None:
        self.url = emu.url
        self.name = name
        self.token = registry_token(emu, f"repository:{name}:{actions}")

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        url = path if path.startswith("http") else self.url + path
        return requests.request(method, url, headers=headers, timeout=TIMEOUT, **kwargs)

    def start(self) -> requests.Response:
        return self.call("POST", f"/v2/{self.name}/blobs/uploads/")

    def upload(self, content: bytes) -> str:
        answer = self.call(
            "POST", f"/v2/{self.name}/blobs/uploads/", params={"digest": sha(content)}, data=content
        )
        assert answer.status_code == 201, answer.text
        return sha(content)

    def put_manifest(
        self, reference: str, content: bytes, media_type: str = DOCKER_MANIFEST
    ) -> requests.Response:
        return self.call(
            "PUT",
            f"/v2/{self.name}/manifests/{reference}",
            data=content,
            headers={"Content-Type": media_type},
        )


def code_of(answer: requests.Response) -> str:
    return str(answer.json()["errors"][0]["code"])


# -- blob uploads ----------------------------------------------------------------------------------


def test_a_chunked_upload_is_verified_and_served_byte_for_byte(emu: EmulatorProcess) -> None:
    reg = Registry(emu, fresh("chunked"))
    started = reg.start()
    assert started.status_code == 202 and started.headers["Range"] == "0-0"
    upload_id = started.headers["Docker-Upload-UUID"]
    location = started.headers["Location"]
    assert location.endswith(f"/v2/{reg.name}/blobs/uploads/{upload_id}")
    parts = [os.urandom(3000), os.urandom(5000), os.urandom(700)]
    first = reg.call("PATCH", location, data=parts[0], headers={"Content-Range": f"0-{len(parts[0]) - 1}"})
    assert first.status_code == 202 and first.headers["Range"] == f"0-{len(parts[0]) - 1}"
    second = reg.call("PATCH", first.headers["Location"], data=parts[1])
    assert second.status_code == 202 and second.headers["Range"] == "0-7999"
    status = reg.call("GET", second.headers["Location"])
    assert status.status_code == 204 and status.headers["Range"] == "0-7999"
    out_of_order = reg.call("PATCH", location, data=b"x", headers={"Content-Range": "0-0"})
    assert out_of_order.status_code == 416 and out_of_order.headers["Range"] == "0-7999"
    content = b"".join(parts)
    done = reg.call("PUT", second.headers["Location"], params={"digest": sha(content)}, data=parts[2])
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == sha(content)
    blob = reg.call("GET", done.headers["Location"])
    assert blob.status_code == 200 and blob.content == content
    assert reg.call("HEAD", done.headers["Location"]).headers["Content-Length"] == str(len(content))
    finished = reg.call("PATCH", location, data=b"more")  # the upload is closed
    assert finished.status_code == 404 and code_of(finished) == "BLOB_UPLOAD_UNKNOWN"


def test_a_monolithic_upload_is_one_post(emu: EmulatorProcess) -> None:
    reg = Registry(emu, fresh("monolithic"))
    content = os.urandom(2048)
    answer = reg.call("POST", f"/v2/{reg.name}/blobs/uploads/", params={"digest": sha(content)}, data=content)
    assert answer.status_code == 201 and answer.headers["Docker-Content-Digest"] == sha(content)
    assert reg.call("GET", answer.headers["Location"]).content == content


def test_a_wrong_digest_is_400_digest_invalid(emu: EmulatorProcess) -> None:
    reg = Registry(emu, fresh("mismatch"))
    content = b"layer bytes"
    wrong = sha(b"other bytes")
    mono = reg.call("POST", f"/v2/{reg.name}/blobs/uploads/", params={"digest": wrong}, data=content)
    assert mono.status_code == 400 and code_of(mono) == "DIGEST_INVALID"
    location = reg.start().headers["Location"]
    assert reg.call("PATCH", location, data=content).status_code == 202
    closed = reg.call("PUT", location, params={"digest": wrong})
    assert closed.status_code == 400 and code_of(closed) == "DIGEST_INVALID"
    for bad in ("md5:abc", "sha256:XYZ", ""):
        other = reg.start().headers["Location"]
        answer = reg.call("PUT", other, params={"digest": bad}, data=content)
        assert answer.status_code == 400 and code_of(answer) == "DIGEST_INVALID"
    assert reg.call("HEAD", f"/v2/{reg.name}/blobs/{wrong}").status_code == 404
    assert reg.call("HEAD", f"/v2/{reg.name}/blobs/{sha(content)}").status_code == 404


def test_an_unknown_upload_is_404_blob_upload_unknown(emu: EmulatorProcess) -> None:
    reg = Registry(emu, fresh("unknown"))
    for method in ("PATCH", "PUT", "GET", "DELETE"):
        answer = reg.call(method, f"/v2/{reg.name}/blobs/uploads/{uuid.uuid4()}", params={"digest": sha(b"")})
        assert answer.status_code == 404 and code_of(answer) == "BLOB_UPLOAD_UNKNOWN", method
    elsewhere = Registry(emu, fresh("elsewhere"))
    upload_id = elsewhere.start().headers["Docker-Upload-UUID"]
    # another repository's upload id is unknown here (and this token may not push there anyway)
    crossed = reg.call("PATCH", f"/v2/{reg.name}/blobs/uploads/{upload_id}", data=b"x")
    assert crossed.status_code == 404 and code_of(crossed) == "BLOB_UPLOAD_UNKNOWN"
    cancelled = elsewhere.call("DELETE", f"/v2/{elsewhere.name}/blobs/uploads/{upload_id}")
    assert cancelled.status_code == 204
    assert elsewhere.call("GET", f"/v2/{elsewhere.name}/blobs/uploads/{upload_id}").status_code == 404


def test_an_upload_past_the_cap_is_refused_not_a_crash(emu: EmulatorProcess) -> None:
    reg = Registry(emu, fresh("huge"))
    location = reg.start().headers["Location"]
    half = bytes(MAX_UPLOAD_BYTES // 2 + 1)
    assert reg.call("PATCH", location, data=half).status_code == 202
    refused = reg.call("PATCH", location, data=half)
    assert refused.status_code == 413 and code_of(refused) == "SIZE_INVALID"
    assert reg.call("GET", location).status_code == 404  # dropped, its memory freed
    assert reg.start().status_code == 202  # the emulator goes on


def test_abandoned_uploads_block_only_their_login_and_expire(
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    emu = emulator_factory(swr_upload_idle_seconds=1)
    name = "mai-demo/abandoned"
    greedy = Registry(emu, name)  # one temporary login
    opened = [greedy.start() for _ in range(8)]
    assert [r.status_code for r in opened] == [202] * 8
    refused = greedy.start()
    assert refused.status_code == 429 and code_of(refused) == "TOOMANYREQUESTS"
    other = Registry(emu, name)  # another login pushes on
    assert other.start().status_code == 202
    time.sleep(1.2)  # left untouched past --swr-upload-idle-seconds: dropped
    assert greedy.call("GET", opened[0].headers["Location"]).status_code == 404
    assert greedy.start().status_code == 202


# -- pulls, as standard registry clients make them --------------------------------------------------


def test_the_tag_list_pages_with_n_last_and_a_link_header(emu: EmulatorProcess) -> None:
    reg = Registry(emu, "mai-demo/pytorch-cpu", "pull")
    every = reg.call("GET", "/v2/mai-demo/pytorch-cpu/tags/list")
    assert every.status_code == 200 and "Link" not in every.headers
    assert every.json() == {"name": "mai-demo/pytorch-cpu", "tags": ["2.1.0", "2.2.0", "2.3.0"]}
    first = reg.call("GET", "/v2/mai-demo/pytorch-cpu/tags/list", params={"n": "2"})
    assert first.json()["tags"] == ["2.1.0", "2.2.0"]
    link = first.headers["Link"]
    assert link == '</v2/mai-demo/pytorch-cpu/tags/list?n=2&last=2.2.0>; rel="next"'
    rest = reg.call("GET", link[1 : link.index(">")])
    assert rest.json()["tags"] == ["2.3.0"] and "Link" not in rest.headers
    for bad in ("0", "x", "-1", "100000"):
        refused = reg.call("GET", "/v2/mai-demo/pytorch-cpu/tags/list", params={"n": bad})
        assert refused.status_code == 400 and code_of(refused) == "PAGINATION_NUMBER_INVALID"
    unknown = Registry(emu, "mai-demo/no-such-repo", "pull")
    missing = unknown.call("GET", "/v2/mai-demo/no-such-repo/tags/list")
    assert missing.status_code == 404 and code_of(missing) == "NAME_UNKNOWN"
    anonymous = requests.get(f"{emu.url}/v2/mai-demo/pytorch-cpu/tags/list", timeout=TIMEOUT)
    assert anonymous.status_code == 401 and "Bearer realm=" in anonymous.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "path", ["mai-demo/tensorflow:2.15.0", "mai-demo/notebook-multiarch:1.0.0", GOOD_PATH]
)
def test_every_blob_a_catalogue_manifest_names_is_served_with_its_digest(
    emu: EmulatorProcess, path: str
) -> None:
    name, tag = path.rsplit(":", 1)
    reg = Registry(emu, name, "pull")
    accept = {"Accept": ", ".join([DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST, OCI_MANIFEST])}
    top = reg.call("GET", f"/v2/{name}/manifests/{tag}", headers=accept).json()
    manifests = [top]
    if "manifests" in top:
        manifests = [
            reg.call("GET", f"/v2/{name}/manifests/{child['digest']}", headers=accept).json()
            for child in top["manifests"]
        ]
    for manifest in manifests:
        config = reg.call("GET", f"/v2/{name}/blobs/{manifest['config']['digest']}").content
        diff_ids = json.loads(config)["rootfs"]["diff_ids"]
        assert len(diff_ids) == len(manifest["layers"]) == 3
        for layer, diff_id in zip(manifest["layers"], diff_ids, strict=True):
            got = reg.call("GET", f"/v2/{name}/blobs/{layer['digest']}")
            assert got.status_code == 200 and got.headers["Docker-Content-Digest"] == layer["digest"]
            assert sha(got.content) == layer["digest"] and len(got.content) == layer["size"]
            head = reg.call("HEAD", f"/v2/{name}/blobs/{layer['digest']}")
            assert head.headers["Content-Length"] == str(layer["size"])
            with tarfile.open(fileobj=io.BytesIO(gzip.decompress(got.content))) as tar:
                assert any(m.name.startswith("opt/mai-widgets/") for m in tar.getmembers())
            assert sha(gzip.decompress(got.content)) == diff_id  # the config's diff_id is the tar's


# -- manifests -----------------------------------------------------------------------------------


def test_a_manifest_naming_a_missing_blob_is_refused(emu: EmulatorProcess) -> None:
    reg = Registry(emu, fresh("missing"))
    image = build_image(f"{REG}/{reg.name}:1")
    reg.upload(image.config)  # the layer is never uploaded
    refused = reg.put_manifest("1", image.manifest)
    assert refused.status_code == 400 and code_of(refused) == "MANIFEST_BLOB_UNKNOWN"
    assert refused.json()["errors"][0]["detail"] == json.loads(image.manifest)["layers"][0]["digest"]
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": DOCKER_MANIFEST, "size": 10, "digest": sha(b"no such manifest")}],
        }
    ).encode()
    orphan = reg.put_manifest("multi", index, OCI_INDEX)
    assert orphan.status_code == 400 and code_of(orphan) == "MANIFEST_BLOB_UNKNOWN"
    for bad, media_type in (
        (b"{not json", DOCKER_MANIFEST),
        (b"[]", DOCKER_MANIFEST),
        (b'{"schemaVersion": 2, "layers": []}', "text/plain"),
        (b'{"schemaVersion": 1, "layers": []}', DOCKER_MANIFEST),
        (b"\xff\xfe", DOCKER_MANIFEST),
        (b"[" * 100_000, DOCKER_MANIFEST),
    ):
        answer = reg.put_manifest("bad", bad, media_type)
        assert answer.status_code == 400 and code_of(answer) == "MANIFEST_INVALID", bad[:20]
    by_digest = reg.put_manifest(sha(b"something else"), image.manifest)
    assert by_digest.status_code == 400 and code_of(by_digest) == "DIGEST_INVALID"
    reg.upload(image.layer)
    assert reg.put_manifest("1", image.manifest).status_code == 201


def test_a_pushed_image_is_served_listed_and_inspected(emu: EmulatorProcess) -> None:
    name = fresh("arm-tool")
    reg = Registry(emu, name)
    image = build_image(f"{REG}/{name}:2.0", platform="linux/arm64/v8", user="root")
    for blob in (image.config, image.layer):
        reg.upload(blob)
    pushed = reg.put_manifest("2.0", image.manifest)
    assert pushed.status_code == 201 and pushed.headers["Docker-Content-Digest"] == image.digest
    assert pushed.headers["Location"] == f"/v2/{name}/manifests/{image.digest}"
    accept = {"Accept": DOCKER_MANIFEST}
    by_tag = reg.call("GET", f"/v2/{name}/manifests/2.0", headers=accept)
    assert by_tag.content == image.manifest and by_tag.headers["Content-Type"] == DOCKER_MANIFEST
    assert reg.call("GET", f"/v2/{name}/manifests/{image.digest}", headers=accept).content == image.manifest
    assert reg.call("GET", f"/v2/{name}/blobs/{sha(image.config)}").content == image.config
    assert reg.call("GET", f"/v2/{name}/blobs/{sha(image.layer)}").content == image.layer
    # an index of the pushed manifest, under its digest
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": DOCKER_MANIFEST,
                    "size": len(image.manifest),
                    "digest": image.digest,
                    "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
                }
            ],
        }
    ).encode()
    assert reg.put_manifest(sha(index), index, OCI_INDEX).status_code == 201
    assert reg.call("GET", f"/v2/{name}/manifests/{sha(index)}").content == index

    swr = swr_for(emu)
    namespace, repository = name.split("/")
    (tag,) = swr.tags(namespace, repository)
    assert tag.tag == "2.0" and tag.digest == image.digest and tag.size == len(image.layer)
    assert abs(time.time() - calendar.timegm(time.strptime(tag.updated, "%Y-%m-%dT%H:%M:%SZ"))) < 60
    (repo,) = swr.repositories(namespace, filter=repository)
    assert repo.num_images == 1 and repo.tags == ("2.0",) and repo.path == f"{REG}/{name}"
    inspected = swr.inspect(f"{name}:2.0")
    assert inspected.arches == (Arch.AARCH64,) and inspected.user == "root"
    assert inspected.digest == image.digest and inspected.size == len(image.layer)


# -- who may push ----------------------------------------------------------------------------------


def test_a_pull_only_token_is_asked_to_come_back_for_push(emu: EmulatorProcess) -> None:
    name = fresh("pull-only")
    reg = Registry(emu, name, actions="pull")
    refused = reg.start()
    assert refused.status_code == 401 and code_of(refused) == "UNAUTHORIZED"
    challenge = refused.headers["WWW-Authenticate"]
    assert f'scope="repository:{name}:pull,push"' in challenge and 'error="insufficient_scope"' in challenge
    image = build_image(f"{REG}/{name}:1")
    assert reg.put_manifest("1", image.manifest).status_code == 401
    bare = requests.post(f"{emu.url}/v2/{name}/blobs/uploads/", timeout=TIMEOUT)
    assert bare.status_code == 401 and "Bearer realm=" in bare.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        (f"{DEFAULTS.forbidden_namespace}/private-app", "denied"),
        ("no-such-org/app", "does not exist"),
        ("mai-shared/base-notebook", "read-only"),
    ],
)
def test_no_push_outside_the_organizations_one_may_edit(emu: EmulatorProcess, name: str, why: str) -> None:
    reg = Registry(emu, name)
    refused = reg.start()
    assert (
        refused.status_code == 403
        and code_of(refused) == "DENIED"
        and why in refused.json()["errors"][0]["message"]
    )
    assert reg.put_manifest("1", build_image(f"{REG}/{name}:1").manifest).status_code == 403
    with pytest.raises(PermissionDeniedError) as info:
        push_image(f"{name}:1", config=swr_for(emu).config)
    assert why in info.value.message and info.value.hint and "organization" in info.value.hint


def test_push_image_refuses_bad_input_before_sending(emu: EmulatorProcess) -> None:
    config = swr_for(emu).config
    for path in ("", "not a path", "mai-demo/x@sha256:" + "a" * 64):
        with pytest.raises(ValidationError) as info:
            push_image(path, config=config)
        assert info.value.problems[0].field == "swr_path"
    with pytest.raises(ValidationError) as bad_platform:
        push_image("mai-demo/x:1", platform="amd64", config=config)
    assert bad_platform.value.problems[0].field == "platform"


# -- registration reads the live registry ---------------------------------------------------------


def test_push_the_missing_image_then_register_again(emu: EmulatorProcess) -> None:
    path = f"{REG}/{fresh('never-pushed')}:1.0"
    client = client_for(emu)
    failed = client.register(swr_path=path)
    assert client.wait(failed.id, timeout=10).record.status == ImageStatus.CREATE_FAILED
    digest = push_image(path, config=client.config)
    assert digest.startswith("sha256:")
    client.delete(failed.id)
    again = client.register(swr_path=path)
    assert client.wait(again.id, timeout=10).record.status == ImageStatus.ACTIVE


def test_a_forced_delete_removes_the_image_until_it_is_pushed_again(emu: EmulatorProcess) -> None:
    path = f"{REG}/mai-demo/lightgbm:4.5.0"  # in the demo catalogue
    client = client_for(emu)
    swr = swr_for(emu)
    first = client.register(swr_path=path)
    assert client.wait(first.id, timeout=10).record.status == ImageStatus.ACTIVE
    client.delete(first.id, force=True)
    with pytest.raises(NotFoundError):  # its only tag gone, the repository is not listed
        swr.tags("mai-demo", "lightgbm")
    gone = client.register(swr_path=path)
    assert client.wait(gone.id, timeout=10).record.status == ImageStatus.CREATE_FAILED
    client.delete(gone.id)
    push_image(path, config=client.config)
    with emu.store() as store:
        assert not store.swr_image_deleted(path)
    back = client.register(swr_path=path)
    assert client.wait(back.id, timeout=10).record.status == ImageStatus.ACTIVE


# -- the command line ------------------------------------------------------------------------------


def run_push(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mai_widgets.emulator.push", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_line_prints_one_line(emu: EmulatorProcess) -> None:
    name = fresh("cli")
    done = run_push(emu.env(), f"{name}:1", "--platform", "linux/arm64", "--user", "root")
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    pushed, path, digest = line.split(" ")
    assert (pushed, path) == ("pushed", f"{REG}/{name}:1") and digest.startswith("sha256:")
    inspected = swr_for(emu).inspect(f"{name}:1")
    assert inspected.digest == digest and inspected.arches == (Arch.AARCH64,) and inspected.user == "root"


def test_the_command_line_fails_in_one_line(emu: EmulatorProcess, closed_loopback_url: str) -> None:
    env = {
        **emu.env(),
        **{k: closed_loopback_url for k in ("MAI_WIDGETS_SWR_ENDPOINT", "MAI_WIDGETS_SWR_REGISTRY_ENDPOINT")},
    }
    down = run_push(env, "mai-demo/app:1")
    assert down.returncode == 1 and down.stdout == ""
    assert len(down.stderr.strip().splitlines()) == 1 and "Traceback" not in down.stderr
    assert down.stderr.startswith("push failed: ")
    denied = run_push(emu.env(), "no-such-org/app:1")
    assert denied.returncode == 1 and "does not exist" in denied.stderr and "Traceback" not in denied.stderr
    assert emu.sk not in denied.stderr and "Bearer" not in denied.stderr


def test_bad_input_gets_registry_errors_never_a_500(emu: EmulatorProcess) -> None:
    reg = Registry(emu, fresh("hostile"))
    unsupported = reg.call("DELETE", f"/v2/{reg.name}/manifests/1")
    assert unsupported.status_code == 405 and code_of(unsupported) == "UNSUPPORTED"
    location = reg.start().headers["Location"]
    garbled = reg.call("PATCH", location, data=b"x", headers={"Content-Range": "bytes=a-b"})
    assert garbled.status_code == 400 and code_of(garbled) == "BLOB_UPLOAD_INVALID"
    undecodable = reg.call("POST", f"/v2/{reg.name}/blobs/uploads/?digest=%ff", data=b"x")
    assert undecodable.status_code == 400 and code_of(undecodable) == "UNKNOWN"
    bad_size = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"digest": sha(b""), "size": True}]}
    ).encode()
    answer = reg.put_manifest("1", bad_size, OCI_INDEX)
    assert answer.status_code == 400 and code_of(answer) == "MANIFEST_INVALID" and "size" in answer.text
