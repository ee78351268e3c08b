"""Manifest and config parsing (pure functions) on documents shaped as registries serve them:
Docker v2 manifests and manifest lists, OCI manifests and indexes (with buildx attestations),
and the emulator's catalogue format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mai_widgets.emulator.registry import SwrCatalogue, build_catalogue, read_catalogue_lines, seed_specs
from mai_widgets.services.preflight import runs_as_ma_user
from mai_widgets.services.swr import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Platform,
    arch_of,
    parse_config,
    parse_manifest,
)
from mai_widgets.wire.contract import Arch

D = "sha256:" + "a" * 64
E = "sha256:" + "b" * 64
F = "sha256:" + "c" * 64
G = "sha256:" + "d" * 64

DOCKER_V2 = {
    "schemaVersion": 2,
    "mediaType": DOCKER_MANIFEST,
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023, "digest": D},
    "layers": [
        {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654, "digest": E},
        {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 16724, "digest": F},
        {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 73109, "digest": G},
    ],
}

DOCKER_MANIFEST_LIST = {
    "schemaVersion": 2,
    "mediaType": DOCKER_LIST,
    "manifests": [
        {
            "mediaType": DOCKER_MANIFEST,
            "size": 7143,
            "digest": D,
            "platform": {"architecture": "amd64", "os": "linux"},
        },
        {
            "mediaType": DOCKER_MANIFEST,
            "size": 7682,
            "digest": E,
            "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
        },
        {
            "mediaType": DOCKER_MANIFEST,
            "size": 7682,
            "digest": F,
            "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
        },
        {
            "mediaType": DOCKER_MANIFEST,
            "size": 2392,
            "digest": G,
            "platform": {"architecture": "amd64", "os": "windows", "os.version": "10.0.20348.2340"},
        },
    ],
}

# What `docker buildx build --platform linux/amd64,linux/arm64 --push` produces: an OCI index
# with an attestation manifest per platform.
OCI_BUILDX_INDEX = {
    "schemaVersion": 2,
    "mediaType": OCI_INDEX,
    "manifests": [
        {
            "mediaType": OCI_MANIFEST,
            "digest": D,
            "size": 1056,
            "platform": {"architecture": "amd64", "os": "linux"},
        },
        {
            "mediaType": OCI_MANIFEST,
            "digest": E,
            "size": 1056,
            "platform": {"architecture": "arm64", "os": "linux"},
        },
        {
            "mediaType": OCI_MANIFEST,
            "digest": F,
            "size": 566,
            "annotations": {
                "vnd.docker.reference.digest": D,
                "vnd.docker.reference.type": "attestation-manifest",
            },
            "platform": {"architecture": "unknown", "os": "unknown"},
        },
    ],
}

OCI_IMAGE = {
    "schemaVersion": 2,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": D, "size": 1470},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": E, "size": 29150000}],
    "annotations": {"org.opencontainers.image.created": "2024-06-01T00:00:00Z"},
}

JUPYTER_CONFIG = {
    "architecture": "arm64",
    "variant": "v8",
    "os": "linux",
    "created": "2024-06-01T08:00:00.123456789Z",
    "config": {
        "User": "1000:100",
        "ExposedPorts": {"8888/tcp": {}, "22/tcp": {}},
        "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "NB_USER=ma-user"],
        "Entrypoint": ["tini", "-g", "--"],
        "Cmd": ["start-notebook.sh"],
        "WorkingDir": "/home/ma-user",
    },
    "rootfs": {"type": "layers", "diff_ids": [D, E]},
    "history": [{"created": "2024-06-01T08:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:... in /"}],
}


def test_a_docker_v2_manifest_names_its_config_and_size() -> None:
    info = parse_manifest(DOCKER_V2)
    assert not info.is_index and info.media_type == DOCKER_MANIFEST
    assert info.config_digest == D and info.size == 7023 + 32654 + 16724 + 73109


def test_a_manifest_list_lists_every_platform() -> None:
    info = parse_manifest(DOCKER_MANIFEST_LIST)
    assert info.is_index
    assert [str(p) for p, _ in info.children] == [
        "linux/amd64",
        "linux/arm/v7",
        "linux/arm64/v8",
        "windows/amd64",
    ]
    assert [d for _, d in info.children] == [D, E, F, G]


def test_an_oci_index_leaves_buildx_attestations_out() -> None:
    info = parse_manifest(OCI_BUILDX_INDEX)
    assert info.is_index and [str(p) for p, _ in info.children] == ["linux/amd64", "linux/arm64"]


def test_an_oci_manifest_without_media_type_is_read_from_its_shape() -> None:
    assert parse_manifest(OCI_IMAGE, None).media_type == OCI_MANIFEST
    assert parse_manifest(OCI_IMAGE, OCI_MANIFEST).config_digest == D
    index = {k: v for k, v in OCI_BUILDX_INDEX.items() if k != "mediaType"}
    assert parse_manifest(index).is_index


@pytest.mark.parametrize(
    "document",
    [
        {"schemaVersion": 1, "name": "x", "tag": "1", "architecture": "amd64", "fsLayers": []},
        {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "layers": []},
        {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [{"size": 1}]},
        ["not", "an", "object"],
    ],
)
def test_unsupported_or_broken_manifests_are_value_errors(document: object) -> None:
    with pytest.raises(ValueError, match=r"manifest|schema|digest|index"):
        parse_manifest(document)


def test_a_config_gives_platform_user_ports_and_entrypoint() -> None:
    config = parse_config(JUPYTER_CONFIG)
    assert config.platform == Platform("linux", "arm64", "v8") and config.platform.arch == Arch.AARCH64
    assert config.user == "1000:100" and config.exposed_ports == ("22/tcp", "8888/tcp")
    assert config.entrypoint == ("tini", "-g", "--")
    bare = parse_config({"architecture": "amd64", "os": "linux", "config": {}})
    assert bare.user == "" and bare.exposed_ports == () and bare.entrypoint == ()


@pytest.mark.parametrize(
    ("name", "arch"),
    [
        ("amd64", Arch.X86_64),
        ("x86_64", Arch.X86_64),
        ("arm64", Arch.AARCH64),
        ("AArch64", Arch.AARCH64),
        ("arm", None),
        ("s390x", None),
    ],
)
def test_architectures_map_to_modelarts(name: str, arch: Arch | None) -> None:
    assert arch_of(name) == arch


@pytest.mark.parametrize(
    ("user", "ok"),
    [
        ("ma-user", True),
        ("1000", True),
        ("1000:100", True),
        ("ma-user:ma-group", True),
        ("", False),
        ("root", False),
        ("0:0", False),
        ("1000:0", False),
        ("jovyan", False),
    ],
)
def test_the_notebook_user_rule(user: str, ok: bool) -> None:
    assert runs_as_ma_user(user) is ok


# -- the emulator's catalogue ------------------------------------------------------------------


def test_catalogue_lines_plain_and_json() -> None:
    specs = read_catalogue_lines(
        [
            "# comment",
            "",
            "swr.cn-north-4.myhuaweicloud.com/a/b:1",
            json.dumps(
                {
                    "path": "swr.cn-north-4.myhuaweicloud.com/a/c:2",
                    "platforms": ["linux/arm64/v8"],
                    "user": "root",
                    "size": 5,
                    "ports": ["80/tcp"],
                }
            ),
        ]
    )
    assert [s.platforms for s in specs] == [("linux/amd64",), ("linux/arm64/v8",)]
    assert specs[1].user == "root" and specs[1].ports == ("80/tcp",) and specs[0].user == "ma-user"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"path": "r.io/a/b:1", "colour": "red"}', "unknown keys colour"),
        ('{"path": "r.io/a/b:1", "platforms": ["amd64"]}', "os/architecture"),
        ('{"path": "r.io/a/b:1", "size": "big"}', "size"),
        ('{"platforms": []}', "path"),
    ],
)
def test_bad_catalogue_lines_name_their_line(line: str, problem: str) -> None:
    with pytest.raises(ValueError, match="line 2") as info:
        read_catalogue_lines(["# first", line])
    assert problem in str(info.value)


def test_manifests_and_digests_of_the_catalogue() -> None:
    catalogue = SwrCatalogue(build_catalogue([], None, region="cn-north-4"))
    repo = catalogue.repository("mai-demo", "tensorflow")
    assert repo is not None
    top = repo.tags["2.15.0"].top
    info = parse_manifest(json.loads(top.content), top.media_type)
    assert info.is_index and [p.arch for p, _ in info.children] == [Arch.X86_64, Arch.AARCH64]
    for _, digest in info.children:
        child = repo.blobs[digest]
        config_digest = parse_manifest(json.loads(child.content)).config_digest
        assert config_digest is not None and config_digest in repo.blobs


def test_seeded_repositories_and_tags(tmp_path: Path) -> None:
    specs = seed_specs("cn-north-4", 1000, 200)
    catalogue = SwrCatalogue(specs)
    assert len(catalogue.repositories) == 1000
    assert len(catalogue.repositories[("mai-bench", "app-0000")].tags) == 200
    assert len(catalogue.repositories[("mai-bench", "app-0999")].tags) == 1
    with pytest.raises(OSError):
        build_catalogue([], tmp_path / "missing.txt", region="cn-north-4")
