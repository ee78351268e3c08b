"""preflight.check against the emulator over real HTTP: each check's pass, warn and fail, no SWR
access as one warning, and a deadline that bounds the whole check."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from http_recorder import Recorder
from local_server import serving

from mai_widgets.auth.config import load_config
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator import DEFAULTS, EmulatorProcess
from mai_widgets.errors import ValidationError
from mai_widgets.services.images import ImageClient
from mai_widgets.services.preflight import NOTEBOOK_USER_RULE, Check, SharedReads, check
from mai_widgets.services.swr import SwrClient
from mai_widgets.wire.contract import Arch, Service

REG = DEFAULTS.registry


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(tmp_path_factory.mktemp("preflight-emulator")) as process:
        yield process


def clients(emu: EmulatorProcess, **env: str) -> tuple[ImageClient, SwrClient]:
    merged = {**emu.env(), **env}
    client = ImageClient(load_config(env=merged, config_dirs=[]), Credentials.from_env(merged))
    return client, SwrClient(client=client)


@pytest.fixture
def pair(emu: EmulatorProcess) -> tuple[ImageClient, SwrClient]:
    return clients(emu)


def run(pair: tuple[ImageClient, SwrClient], path: str, **kwargs: Any) -> dict[str, Check]:
    checks = check(path, client=pair[0], swr=pair[1], **kwargs)
    for c in checks:  # one sentence each
        assert c.outcome in ("pass", "warn", "fail") and c.message.endswith(".") and "\n" not in c.message
    names = [c.name for c in checks]
    assert len(names) == len(set(names))
    return {c.name: c for c in checks}


def test_a_good_notebook_image_passes_everything(pair: tuple[ImageClient, SwrClient]) -> None:
    got = run(pair, "mai-demo/pytorch-cpu:2.2.0", arch="X86_64", services=[Service.NOTEBOOK])
    assert list(got) == ["exists", "architecture", "user", "registered"]
    assert all(c.outcome == "pass" for c in got.values())
    assert got["exists"].data["swr_path"] == f"{REG}/mai-demo/pytorch-cpu:2.2.0"
    assert "3.3 GB" in got["exists"].message and "2024-02-10" in got["exists"].message


def test_a_missing_tag_fails_with_the_nearest_tags(pair: tuple[ImageClient, SwrClient]) -> None:
    got = run(pair, "mai-demo/pytorch-cpu:2.3")
    assert got["exists"].outcome == "fail" and "2.3.0" in got["exists"].message
    assert got["exists"].data["suggestions"][0] == f"{REG}/mai-demo/pytorch-cpu:2.3.0"
    assert "architecture" not in got and "user" not in got


def test_a_missing_repository_fails_with_the_nearest_repositories(
    pair: tuple[ImageClient, SwrClient],
) -> None:
    got = run(pair, "mai-demo/pytorch-cpus:2.3.0")
    assert got["exists"].outcome == "fail" and "mai-demo/pytorch-cpu" in got["exists"].message
    assert any(s.startswith(f"{REG}/mai-demo/pytorch-cpu:") for s in got["exists"].data["suggestions"])


def test_an_arm64_image_with_x86_warns_and_names_the_matching_arch(
    pair: tuple[ImageClient, SwrClient],
) -> None:
    got = run(pair, "mai-demo/mindspore-ascend:2.3.0-aarch64", arch="X86_64")
    arch = got["architecture"]
    assert arch.outcome == "warn" and arch.data["matching_arch"] == "AARCH64"
    assert "AARCH64" in arch.message and "exec format error" in arch.message
    assert (
        run(pair, "mai-demo/mindspore-ascend:2.3.0-aarch64", arch=Arch.AARCH64)["architecture"].outcome
        == "pass"
    )


def test_a_manifest_list_passes_either_arch_and_lists_its_platforms(
    pair: tuple[ImageClient, SwrClient],
) -> None:
    for arch in ("X86_64", "AARCH64"):
        got = run(pair, "mai-demo/tensorflow:2.15.0", arch=arch)["architecture"]
        assert got.outcome == "pass" and "linux/amd64, linux/arm64/v8" in got.message
        assert got.data["platforms"] == ["linux/amd64", "linux/arm64/v8"]


def test_a_root_image_warns_only_for_notebooks(pair: tuple[ImageClient, SwrClient]) -> None:
    notebook = run(pair, "mai-demo/sklearn:1.5.0", services=["NOTEBOOK", "SSH"])
    assert notebook["user"].outcome == "warn" and NOTEBOOK_USER_RULE in notebook["user"].message
    assert "root" in notebook["user"].message
    assert "user" not in run(pair, "mai-demo/sklearn:1.5.0", services=["SSH"])
    uid = run(pair, "mai-demo/notebook-multiarch:1.0.0", services="NOTEBOOK")
    assert uid["user"].outcome == "pass" and "1000:100" in uid["user"].message


def test_an_image_registered_already_says_so_with_its_id(emu: EmulatorProcess) -> None:
    pair = clients(emu)
    path = f"{REG}/mai-demo/llm-serving:0.4.2"
    assert run(pair, path)["registered"].outcome == "pass"
    record = pair[0].register(swr_path=path)
    got = run(pair, path)["registered"]
    assert got.outcome == "warn" and got.data["image_id"] == record.id and record.id in got.message


def test_no_access_to_the_namespace_is_one_plain_warning(pair: tuple[ImageClient, SwrClient]) -> None:
    got = run(pair, f"{DEFAULTS.forbidden_namespace}/private-app:1.0")
    assert list(got) == ["access", "registered"]
    access = got["access"]
    assert access.outcome == "warn" and "you can still register by path" in access.message
    assert f"no read access to the SWR organization {DEFAULTS.forbidden_namespace}" in access.message


def test_an_unreachable_swr_is_a_warning_not_a_crash(emu: EmulatorProcess, closed_loopback_url: str) -> None:
    pair = clients(emu, MAI_WIDGETS_SWR_ENDPOINT=closed_loopback_url)
    got = run(pair, "mai-demo/pytorch-cpu:2.3.0")
    assert got["access"].outcome == "warn" and "connection refused" in got["access"].message
    assert got["registered"].outcome == "pass"


def test_no_credentials_at_all_is_a_warning(tmp_path: Any, closed_loopback_url: str) -> None:
    env = {"MAI_WIDGETS_ENDPOINT": closed_loopback_url, "MAI_WIDGETS_SWR_ENDPOINT": closed_loopback_url}
    client = ImageClient(load_config(env=env, config_dirs=[]), Credentials.from_env(env))
    got = {c.name: c for c in check("mai-demo/pytorch-cpu:2.3.0", client=client)}
    assert got["access"].outcome == "warn" and "HUAWEICLOUD_SDK_AK" in got["access"].message
    assert got["registered"].outcome == "warn"


class Hanging(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HangingHandler)
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _HangingHandler(http.server.BaseHTTPRequestHandler):
    server: Hanging

    def do_GET(self) -> None:
        self.server.release.wait(30)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_a_deadline_bounds_the_whole_check(emu: EmulatorProcess) -> None:
    with serving(Hanging()) as slow:
        pair = clients(emu, MAI_WIDGETS_SWR_ENDPOINT=slow.url, MAI_WIDGETS_ENDPOINT=slow.url)
        started = time.monotonic()
        try:
            got = run(pair, "mai-demo/pytorch-cpu:2.3.0", timeout=0.5)
        finally:
            slow.release.set()
        elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert got["access"].outcome == "warn" and got["registered"].outcome == "warn"


def test_a_bad_path_is_a_validation_error(pair: tuple[ImageClient, SwrClient]) -> None:
    with pytest.raises(ValidationError) as info:
        check("Not A Path", client=pair[0], swr=pair[1])
    assert info.value.fields == ("swr_path",)


def test_the_default_clients_come_from_the_environment(
    emu: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in emu.env().items():
        monkeypatch.setenv(name, value)
    got = {c.name: c for c in check("mai-demo/tensorflow:2.15.0", arch="AARCH64")}
    assert got["exists"].outcome == "pass" and got["architecture"].outcome == "pass"


def test_checks_of_one_batch_read_each_repository_once(emu: EmulatorProcess) -> None:
    seen = Recorder()
    env = emu.env()
    client = ImageClient(
        load_config(env=env, config_dirs=[]), Credentials.from_env(env), session=seen.session()
    )
    swr, shared = SwrClient(client=client), SharedReads()
    paths = ["mai-demo/pytorch-cpu:2.1.0", "mai-demo/pytorch-cpu:2.2.0", "mai-demo/pytorch-cpu:2.3.0"] * 2
    paths += ["mai-demo/pytorch-cpu:9.9", "mai-demo/pytorch-cpus:1.0", "mai-demo/pytorch-cpuz:1.0"]

    def checked(path: str) -> list[Check]:
        return check(path, client=client, swr=swr, registered=False, shared=shared)

    with ThreadPoolExecutor(len(paths)) as pool:
        results = dict(zip(paths, pool.map(checked, paths), strict=False))
    for path in paths[:3]:
        assert [c.outcome for c in results[path]] == ["pass", "pass"], results[path]
    assert "2.3.0" in results["mai-demo/pytorch-cpu:9.9"][0].message  # the shared tags, nearest first
    assert all("mai-demo/pytorch-cpu" in results[p][0].message for p in paths[-2:])
    asked = [r.request.path_url.split("?")[0] for r in seen.responses]
    assert asked.count("/v2/manage/namespaces/mai-demo/repos/pytorch-cpu/tags") == 1
    assert asked.count("/v2/manage/repos") == 1  # the missing repositories share the one list
    tokens = [r for r in seen.responses if "scope=" in r.request.path_url]
    assert len(tokens) == 1  # one pull token for the repository, not one per check
    manifests = [p for p in asked if "/manifests/" in p]
    assert len(manifests) == 6 + 1  # each path once, and the first one's challenge (401)
