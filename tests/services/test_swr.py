"""SwrClient against the emulator over real HTTP: every manage route, paging, the registry v2
token flow, inspection of every manifest kind, each error, and no secret in what users see.

A few local servers cover what the emulator does not do on purpose: a realm on another host, a
registry that echoes credentials in its errors, a blob redirect.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from emulator_clients import Calls, http_get, http_head, http_request, registry_token, swr_for
from local_server import serving

from mai_widgets.emulator import DEFAULTS, EmulatorProcess
from mai_widgets.emulator.registry import SwrCatalogue
from mai_widgets.errors import (
    ApiError,
    AuthenticationError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    TransportError,
    ValidationError,
)
from mai_widgets.services.images import ImageClient
from mai_widgets.services.preflight import check
from mai_widgets.services.swr import ACCEPT_MANIFESTS, PAGE_SIZE, SwrClient
from mai_widgets.transport.signer import AKSKAuth
from mai_widgets.wire.contract import Arch

REG = DEFAULTS.registry
SEED_REPOS, SEED_TAGS = 230, 130


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    args = ["--swr-seed-repos", str(SEED_REPOS), "--swr-seed-tags", str(SEED_TAGS)]
    with EmulatorProcess(tmp_path_factory.mktemp("swr-emulator"), args=args) as process:
        yield process


@pytest.fixture
def swr(emu: EmulatorProcess) -> Iterator[SwrClient]:
    with swr_for(emu) as client:
        yield client


def catalogue(emu: EmulatorProcess) -> SwrCatalogue:
    return SwrCatalogue(emu.settings.swr_images)


# -- manage API ------------------------------------------------------------------------------


def test_namespaces_with_auth_levels_and_without_the_forbidden_one(swr: SwrClient) -> None:
    levels = {ns.name: ns.auth for ns in swr.namespaces()}
    assert levels == {"mai-bench": 7, "mai-demo": 7, "mai-shared": 1}
    assert DEFAULTS.forbidden_namespace not in levels


def test_repositories_reads_every_page(emu: EmulatorProcess) -> None:
    calls = Calls()
    swr = swr_for(emu, session=calls.session)
    repos = swr.repositories()
    expected = {f"{ns}/{n}" for ns, n in catalogue(emu).repositories if ns != DEFAULTS.forbidden_namespace}
    assert {f"{r.namespace}/{r.name}" for r in repos} == expected
    assert len(repos) == len(expected) > 2 * PAGE_SIZE
    pages = [u for u in calls.urls if "/v2/manage/repos" in u]
    assert len(pages) == math.ceil(len(expected) / PAGE_SIZE)
    assert all(f"limit={PAGE_SIZE}" in u for u in pages) and "offset=200" in pages[-1]


def test_repositories_of_a_namespace_with_a_filter(swr: SwrClient) -> None:
    demo = swr.repositories("mai-demo")
    assert {r.name for r in demo} >= {"pytorch-cpu", "tensorflow", "team/jupyter"}
    torch = swr.repositories("mai-demo", filter="torch")
    assert sorted(r.name for r in torch) == ["pytorch-cpu", "pytorch-cuda"]
    cpu = next(r for r in torch if r.name == "pytorch-cpu")
    assert cpu.num_images == 3 and cpu.path == f"{REG}/mai-demo/pytorch-cpu"
    assert set(cpu.tags) == {"2.1.0", "2.2.0", "2.3.0"} and cpu.size > 9_000_000_000
    assert cpu.updated_at == "2024-06-03T08:00:00Z"
    assert swr.repositories("mai-demo", filter="no-such-thing") == []


def test_one_page_of_repositories_and_the_total(swr: SwrClient) -> None:
    page = swr.repositories_page("mai-bench", offset=20, limit=10)
    assert [r.name for r in page.items] == [f"app-{i:04d}" for i in range(20, 30)]
    assert page.total == SEED_REPOS and page.has_more
    last = swr.repositories_page("mai-bench", offset=SEED_REPOS - 5, limit=10)
    assert len(last.items) == 5 and not last.has_more
    with pytest.raises(ValidationError):
        swr.repositories_page("mai-bench", limit=PAGE_SIZE + 1)


def test_tags_every_page_newest_first(emu: EmulatorProcess) -> None:
    calls = Calls()
    tags = swr_for(emu, session=calls.session).tags("mai-bench", "app-0000")
    assert len(tags) == SEED_TAGS and len({t.tag for t in tags}) == SEED_TAGS
    assert len([u for u in calls.urls if u.split("?")[0].endswith("/tags")]) == 2
    assert [t.updated for t in tags] == sorted((t.updated for t in tags), reverse=True)


def test_tags_carry_digest_size_push_time_and_kind(swr: SwrClient, emu: EmulatorProcess) -> None:
    tags = {t.tag: t for t in swr.tags("mai-demo", "tensorflow")}
    tag = tags["2.15.0"]
    entry = catalogue(emu).repository("mai-demo", "tensorflow")
    assert entry is not None
    assert tag.digest == entry.tags["2.15.0"].top.digest
    assert tag.manifest_list and tag.size == 4_100_000_000 and tag.updated == "2024-05-20T12:00:00Z"
    assert tag.path == f"{REG}/mai-demo/tensorflow:2.15.0"
    assert not swr.tags("mai-demo", "sklearn")[0].manifest_list


def test_a_repository_name_with_a_slash_is_sent_with_a_dollar(emu: EmulatorProcess) -> None:
    calls = Calls()
    tags = swr_for(emu, session=calls.session).tags("mai-demo", "team/jupyter")
    assert [t.tag for t in tags] == ["1.0"]
    assert any("/repos/team$jupyter/tags" in u for u in calls.urls)


# -- errors ------------------------------------------------------------------------------------


def test_a_namespace_the_credentials_cannot_read_is_403_with_a_hint(swr: SwrClient) -> None:
    forbidden = DEFAULTS.forbidden_namespace
    with pytest.raises(PermissionDeniedError) as info:
        swr.tags(forbidden, "private-app")
    assert info.value.status == 403 and info.value.error_code == "SVCSTG.SWR.4030170"
    assert forbidden in (info.value.hint or "") and "read access" in (info.value.hint or "")
    with pytest.raises(PermissionDeniedError):
        swr.repositories(forbidden)
    with pytest.raises(PermissionDeniedError):
        swr.inspect(f"{forbidden}/private-app:1.0")


def test_no_such_repository_or_tag_is_not_found_with_a_hint(swr: SwrClient) -> None:
    with pytest.raises(NotFoundError) as repo:
        swr.tags("mai-demo", "pytorch-gpu")
    assert repo.value.status == 404 and "mai-demo/pytorch-gpu" in (repo.value.hint or "")
    with pytest.raises(NotFoundError) as tag:
        swr.inspect("mai-demo/pytorch-cpu:9.9.9")
    assert "9.9.9" in tag.value.message and "docker push" in (tag.value.hint or "")
    with pytest.raises(NotFoundError) as digest:
        swr.inspect("mai-demo/pytorch-cpu@sha256:" + "0" * 64)
    assert digest.value.error_code == "MANIFEST_UNKNOWN"


def test_bad_credentials_are_an_authentication_error(emu: EmulatorProcess) -> None:
    swr = swr_for(emu, HUAWEICLOUD_SDK_SK="not-the-secret-key-at-all")
    with pytest.raises(AuthenticationError) as info:
        swr.namespaces()
    assert info.value.status == 401
    assert "not-the-secret-key-at-all" not in info.value.one_line()


@pytest.mark.parametrize(
    ("namespace", "repository", "field"),
    [("Mai-Demo", "x", "namespace"), ("mai-demo", "../x", "repository"), ("a/b", "x", "namespace")],
)
def test_names_that_could_change_the_url_are_refused(
    swr: SwrClient, namespace: str, repository: str, field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        swr.tags(namespace, repository)
    assert info.value.fields == (field,)


def test_a_bad_path_is_a_validation_error(swr: SwrClient) -> None:
    with pytest.raises(ValidationError) as info:
        swr.inspect("not a path")
    assert info.value.fields == ("swr_path",)


# -- inspection ----------------------------------------------------------------------------------


def test_inspect_a_single_amd64_docker_image(swr: SwrClient, emu: EmulatorProcess) -> None:
    image = swr.inspect("mai-demo/pytorch-cpu:2.3.0")  # host-less: completed with the region
    assert image.swr_path == f"{REG}/mai-demo/pytorch-cpu:2.3.0"
    assert image.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert [str(p) for p in image.platforms] == ["linux/amd64"] and image.arches == (Arch.X86_64,)
    assert image.user == "ma-user" and image.exposed_ports == ("8888/tcp",)
    assert image.size == 3_400_000_000 and image.pushed == "2024-06-03T08:00:00Z"
    entry = catalogue(emu).repository("mai-demo", "pytorch-cpu")
    assert entry is not None and image.digest == entry.tags["2.3.0"].top.digest
    assert not image.is_multi_arch and image.supports("X86_64") and not image.supports(Arch.AARCH64)


def test_inspect_an_arm64_only_image(swr: SwrClient) -> None:
    image = swr.inspect(f"{REG}/mai-demo/mindspore-ascend:2.3.0-aarch64")
    assert [str(p) for p in image.platforms] == ["linux/arm64/v8"] and image.arches == (Arch.AARCH64,)


def test_inspect_a_manifest_list_reads_the_config_of_the_chosen_arch(swr: SwrClient) -> None:
    arm = swr.inspect("mai-demo/tensorflow:2.15.0", arch="AARCH64")
    amd = swr.inspect("mai-demo/tensorflow:2.15.0")
    assert arm.is_multi_arch and [str(p) for p in arm.platforms] == ["linux/amd64", "linux/arm64/v8"]
    assert arm.arches == (Arch.X86_64, Arch.AARCH64)
    assert str(arm.config_platform) == "linux/arm64/v8" and str(amd.config_platform) == "linux/amd64"
    assert arm.digest == amd.digest  # the list's digest, whichever platform was read


def test_inspect_oci_index_and_oci_manifest(swr: SwrClient) -> None:
    index = swr.inspect("mai-demo/notebook-multiarch:1.0.0", arch=Arch.X86_64)
    assert index.media_type == "application/vnd.oci.image.index.v1+json"
    assert index.user == "1000:100" and index.exposed_ports == ("22/tcp", "8888/tcp")
    assert index.entrypoint == ("/usr/local/bin/start-notebook.sh",)
    single = swr.inspect("mai-demo/llm-serving:0.4.2")
    assert single.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert single.entrypoint == ("python", "-m", "serve") and single.size == 27_500_000_000


def test_inspect_by_digest_and_a_root_image(swr: SwrClient) -> None:
    tag = swr.tags("mai-demo", "sklearn")[0]
    image = swr.inspect(f"mai-demo/sklearn@{tag.digest}")
    assert image.digest == tag.digest and image.user == "root"


def test_one_temporary_login_and_one_token_per_repository(emu: EmulatorProcess) -> None:
    calls = Calls()
    swr = swr_for(emu, session=calls.session)
    swr.inspect("mai-demo/tensorflow:2.15.0")
    swr.inspect("mai-demo/tensorflow:2.15.0", arch="AARCH64")
    assert sum("/utils/secret" in u for u in calls.urls) == 1
    assert sum("/registry/auth/" in u for u in calls.urls) == 1


# -- the registry as any client sees it ------------------------------------------------------------


def test_registry_serves_real_manifests_and_blobs_under_their_digests(emu: EmulatorProcess) -> None:
    token = registry_token(emu, "repository:mai-demo/tensorflow:pull")
    headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT_MANIFESTS}
    assert http_get(f"{emu.url}/v2/", headers=headers).status_code == 200
    listing = http_get(f"{emu.url}/v2/mai-demo/tensorflow/manifests/2.15.0", headers=headers)
    assert listing.status_code == 200
    digest = "sha256:" + hashlib.sha256(listing.content).hexdigest()
    assert listing.headers["Docker-Content-Digest"] == digest
    document = json.loads(listing.content)
    assert document["mediaType"] == listing.headers["Content-Type"]
    for entry in document["manifests"]:
        child = http_get(f"{emu.url}/v2/mai-demo/tensorflow/manifests/{entry['digest']}", headers=headers)
        assert hashlib.sha256(child.content).hexdigest() == entry["digest"].split(":")[1]
        assert len(child.content) == entry["size"]
        config = json.loads(child.content)["config"]
        blob = http_get(f"{emu.url}/v2/mai-demo/tensorflow/blobs/{config['digest']}", headers=headers)
        assert hashlib.sha256(blob.content).hexdigest() == config["digest"].split(":")[1]
        assert json.loads(blob.content)["architecture"] == entry["platform"]["architecture"]
    head = http_head(f"{emu.url}/v2/mai-demo/tensorflow/manifests/2.15.0", headers=headers)
    assert head.status_code == 200 and head.headers["Docker-Content-Digest"] == digest and not head.content
    only_single = {**headers, "Accept": "application/vnd.docker.distribution.manifest.v2+json"}
    refused = http_get(f"{emu.url}/v2/mai-demo/tensorflow/manifests/2.15.0", headers=only_single)
    assert refused.status_code == 404 and refused.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_registry_refuses_without_a_token_and_outside_the_scope(emu: EmulatorProcess) -> None:
    bare = http_get(f"{emu.url}/v2/mai-demo/sklearn/manifests/1.5.0")
    assert (
        bare.status_code == 401
        and 'scope="repository:mai-demo/sklearn:pull"' in bare.headers["WWW-Authenticate"]
    )
    assert bare.json()["errors"][0]["code"] == "UNAUTHORIZED"
    token = registry_token(emu, "repository:mai-demo/sklearn:pull")
    other = http_get(
        f"{emu.url}/v2/mai-demo/tensorflow/manifests/2.15.0", headers={"Authorization": f"Bearer {token}"}
    )
    assert other.status_code == 403 and other.json()["errors"][0]["code"] == "DENIED"
    forbidden = f"{DEFAULTS.forbidden_namespace}/private-app"
    token = registry_token(emu, f"repository:{forbidden}:pull")
    denied = http_get(f"{emu.url}/v2/{forbidden}/manifests/1.0", headers={"Authorization": f"Bearer {token}"})
    assert denied.status_code == 403
    wrong = http_get(f"{emu.url}{'/swr/auth/v2/registry/auth/'}", auth=("cn-north-4@X", "guess"))
    assert wrong.status_code == 401


def test_manage_routes_need_gateway_authentication(emu: EmulatorProcess) -> None:
    for method, path in (("GET", "/v2/manage/namespaces"), ("POST", "/v2/manage/utils/secret")):
        answer = http_request(method, emu.url + path)
        assert answer.status_code == 401 and answer.json()["error_code"].startswith("APIG")


# -- secrets ----------------------------------------------------------------------------------------


def test_no_secret_in_reprs_or_errors(emu: EmulatorProcess) -> None:
    swr = swr_for(emu)
    image = swr.inspect("mai-demo/tensorflow:2.15.0")
    secrets = swr.secret_values()
    assert len(secrets) >= 3  # the login's password, its base64 form, a bearer token
    errors = []
    for bad in ("mai-demo/tensorflow:nope", f"{DEFAULTS.forbidden_namespace}/private-app:1.0"):
        try:
            swr.inspect(bad)
        except Exception as exc:
            errors.append(exc)
    shown = " ".join(
        [repr(swr), repr(swr._login), repr(image), str(image), emu.sk]
        + [f"{e!r} {e} {getattr(e, 'hint', '')}" for e in errors]
    )
    for value in secrets:
        assert value not in shown


class EchoingRegistry(http.server.ThreadingHTTPServer):
    """A registry whose token endpoint works and whose errors quote the Authorization header back."""

    def __init__(self, realm_host: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self.realm_host = realm_host
        self.token = "echo-bearer-token-0123456789"
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    server: EchoingRegistry

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        if self.path.startswith("/token"):
            self._send(200, {"token": self.server.token})
            return
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            host = self.server.realm_host or f"127.0.0.1:{self.server.server_address[1]}"
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Bearer realm="http://{host}/token",service="reg"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": f"nothing for {auth}"}]})

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_a_registry_error_quoting_the_token_is_redacted(emu: EmulatorProcess) -> None:
    with serving(EchoingRegistry()) as registry:
        swr = swr_for(emu, MAI_WIDGETS_SWR_REGISTRY_ENDPOINT=registry.url)
        tags = swr.tags("mai-demo", "sklearn")
        with pytest.raises(NotFoundError) as info:
            swr.inspect("mai-demo/sklearn:1.5.0", tag_list=tags)
    assert registry.token not in f"{info.value!r} {info.value.one_line()}"
    assert "***" in info.value.message


def test_a_realm_on_another_host_gets_no_credentials(emu: EmulatorProcess) -> None:
    with serving(EchoingRegistry(realm_host="collector.invalid")) as registry:
        swr = swr_for(emu, MAI_WIDGETS_SWR_REGISTRY_ENDPOINT=registry.url)
        tags = swr.tags("mai-demo", "sklearn")
        with pytest.raises(ConfigError) as info:
            swr.inspect("mai-demo/sklearn:1.5.0", tag_list=tags)
    assert "collector.invalid" in info.value.message and "nothing was sent" in info.value.message
    assert not any(p.startswith("/token") for p in registry.paths)


def test_the_catalogue_file_and_flags_take_json_lines(tmp_path: Path, emulator_factory: Any) -> None:
    listed = tmp_path / "catalogue.jsonl"
    entry = {"path": f"{REG}/team/arm-tool:2", "platforms": ["linux/arm64/v8"], "user": "root"}
    listed.write_text(f"# pushed\n{REG}/team/plain:1\n{json.dumps(entry)}\n", encoding="utf-8")
    flag = json.dumps(
        {"path": f"{REG}/team/multi:3", "platforms": ["linux/amd64", "linux/arm64"], "media": "oci"}
    )
    emu = emulator_factory(swr_catalogue=listed, swr_image=[flag])
    swr = swr_for(emu)
    plain = swr.inspect("team/plain:1")
    assert plain.arches == (Arch.X86_64,) and plain.user == "ma-user"
    arm = swr.inspect("team/arm-tool:2")
    assert arm.arches == (Arch.AARCH64,) and arm.user == "root"
    multi = swr.inspect("team/multi:3")
    assert multi.media_type == "application/vnd.oci.image.index.v1+json" and len(multi.platforms) == 2


# -- SWR's two error shapes --------------------------------------------------------------------


class LegacySwr(http.server.ThreadingHTTPServer):
    """An SWR manage API answering every call with the legacy error list."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _LegacyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _LegacyHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = [
            {"errorCode": "SVCSTG.SWR.4030170", "errorMessage": "Insufficient permissions", "detail": "x"}
        ]
        data = json.dumps(body).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Request-Id", "legacy-1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_the_legacy_list_error_keeps_its_code_and_hint(emu: EmulatorProcess) -> None:
    with serving(LegacySwr()) as legacy:
        swr = swr_for(emu, MAI_WIDGETS_SWR_ENDPOINT=legacy.url)
        with pytest.raises(PermissionDeniedError) as info:
            swr.repositories("mai-demo")
    error = info.value
    assert error.error_code == "SVCSTG.SWR.4030170" and error.request_id == "legacy-1"
    assert "Insufficient permissions" in error.message and "read access" in (error.hint or "")


def test_the_emulator_answers_swr_errors_in_the_documented_shape(emu: EmulatorProcess) -> None:
    auth = AKSKAuth(emu.ak, emu.sk, project_id=emu.project_id)
    forbidden = DEFAULTS.forbidden_namespace
    answer = http_get(f"{emu.url}/v2/manage/namespaces/{forbidden}/repos/private-app/tags", auth=auth)
    body = answer.json()
    assert answer.status_code == 403 and answer.headers["X-Request-Id"]
    assert body["errors"] == [{"errorCode": "SVCSTG.SWR.4030170", "errorMessage": "Insufficient permissions"}]
    assert (body["error_code"], body["error_msg"]) == ("SVCSTG.SWR.4030170", "Insufficient permissions")
    missing = http_get(f"{emu.url}/v2/manage/namespaces/mai-demo/repos/no-such-repo/tags", auth=auth)
    assert missing.status_code == 404 and missing.json()["errors"][0]["errorCode"] == "SVCSTG.SWR.4040009"


# -- the registry path: realms, redirects, a body that trickles ---------------------------------


class Recorder(http.server.ThreadingHTTPServer):
    """Answers 200 to anything and records the paths and Authorization headers it was sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RecordHandler)
        self.seen: list[tuple[str, str]] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _RecordHandler(http.server.BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Authorization", "")))
        data = b'{"token": "stolen"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_a_realm_on_the_same_host_but_another_port_gets_no_credentials(emu: EmulatorProcess) -> None:
    with (
        serving(Recorder()) as other,
        serving(EchoingRegistry(realm_host=f"127.0.0.1:{other.port}")) as registry,
    ):
        swr = swr_for(emu, MAI_WIDGETS_SWR_REGISTRY_ENDPOINT=registry.url)
        tags = swr.tags("mai-demo", "sklearn")
        with pytest.raises(ConfigError) as info:
            swr.inspect("mai-demo/sklearn:1.5.0", tag_list=tags)
    assert f"127.0.0.1:{other.port}" in info.value.message and "nothing was sent" in info.value.message
    assert other.seen == [] and not any(p.startswith("/token") for p in registry.paths)


class RedirectingRegistry(http.server.ThreadingHTTPServer):
    """A registry without auth whose blobs redirect (``Location``) as ``where`` says; the
    manifests come from the emulator's catalogue."""

    def __init__(self, documents: dict[str, bytes], where: Callable[[str], str]) -> None:
        super().__init__(("127.0.0.1", 0), _RedirectHandler)
        self.documents = documents
        self.where = where
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RedirectHandler(http.server.BaseHTTPRequestHandler):
    server: RedirectingRegistry

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        digest = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/storage/") and digest in self.server.documents:
            return self._send(200, self.server.documents[digest], "application/octet-stream")
        if "/manifests/" in self.path:
            return self._send(200, self.server.documents["manifest"], MANIFEST_TYPE)
        if "/blobs/" in self.path:
            self.send_response(307)
            self.send_header("Location", self.server.where(digest))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self._send(404, b'{"errors": [{"code": "NAME_UNKNOWN", "message": "no"}]}', "application/json")

    def _send(self, status: int, data: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None


MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def sklearn_documents(emu: EmulatorProcess) -> dict[str, bytes]:
    entry = catalogue(emu).repository("mai-demo", "sklearn")
    assert entry is not None
    top = entry.tags["1.5.0"].top
    manifest = top.content
    config_digest = json.loads(manifest)["config"]["digest"]
    return {"manifest": manifest, config_digest: entry.blobs[config_digest].content}


def test_a_scheme_relative_blob_redirect_goes_to_that_host(emu: EmulatorProcess) -> None:
    documents = sklearn_documents(emu)
    with serving(RedirectingRegistry(documents, lambda d: "")) as storage:
        storage.where = lambda d: f"/storage/{d}"  # storage answers on its own port
        with serving(RedirectingRegistry(documents, lambda d: "")) as registry:
            registry.where = lambda d: f"//127.0.0.1:{storage.server_address[1]}/storage/{d}"
            swr = swr_for(emu, MAI_WIDGETS_SWR_REGISTRY_ENDPOINT=registry.url)
            image = swr.inspect("mai-demo/sklearn:1.5.0", tag_list=swr.tags("mai-demo", "sklearn"))
    assert image.user == "root"
    assert any(p.startswith("/storage/sha256:") for p in storage.paths)
    assert not any(p.startswith("//") or p.startswith("/storage/") for p in registry.paths)


def test_a_redirect_loop_is_reported_as_a_loop(emu: EmulatorProcess) -> None:
    documents = sklearn_documents(emu)
    with serving(RedirectingRegistry(documents, lambda d: "")) as registry:
        registry.where = lambda d: f"{registry.url}/v2/mai-demo/sklearn/blobs/{d}"  # itself
        swr = swr_for(emu, MAI_WIDGETS_SWR_REGISTRY_ENDPOINT=registry.url)
        tags = swr.tags("mai-demo", "sklearn")
        with pytest.raises(ApiError) as info:
            swr.inspect("mai-demo/sklearn:1.5.0", tag_list=tags)
        got = {
            c.name: c for c in check("mai-demo/sklearn:1.5.0", client=swr.shared.client(ImageClient), swr=swr)
        }
    assert "redirects in a loop" in info.value.message
    assert not isinstance(info.value, (AuthenticationError, NotFoundError))
    assert got["exists"].outcome == "warn" and "loop" in got["exists"].message


class Trickling(http.server.ThreadingHTTPServer):
    """A registry without auth that sends its manifest one byte every half second."""

    def __init__(self, body: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _TrickleHandler)
        self.daemon_threads = True
        self.body = body
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _TrickleHandler(http.server.BaseHTTPRequestHandler):
    server: Trickling

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", MANIFEST_TYPE)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        for byte in self.server.body:
            if self.server.stop.wait(0.5):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_a_deadline_cuts_a_body_that_is_still_arriving(emu: EmulatorProcess) -> None:
    with serving(Trickling(sklearn_documents(emu)["manifest"])) as slow:
        try:
            swr = swr_for(emu, MAI_WIDGETS_SWR_REGISTRY_ENDPOINT=slow.url)
            tags = swr.tags("mai-demo", "sklearn")
            started = time.monotonic()
            with pytest.raises(TimeoutError) as info:
                swr.inspect("mai-demo/sklearn:1.5.0", tag_list=tags, timeout=5)
            inspected = time.monotonic() - started
            started = time.monotonic()
            got = {
                c.name: c
                for c in check(
                    "mai-demo/sklearn:1.5.0", client=swr.shared.client(ImageClient), swr=swr, timeout=5
                )
            }
            checked = time.monotonic() - started
        finally:
            slow.stop.set()
    assert inspected < 6.0 and checked < 6.0, (inspected, checked)
    assert isinstance(info.value, TransportError) and "within 5 s" in info.value.message
    # out of time reading the manifest: "cannot check", never "there is no image"
    assert "exists" not in got and got["access"].outcome == "warn" and "within 5 s" in got["access"].message
