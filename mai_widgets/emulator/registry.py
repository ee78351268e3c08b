"""The emulator's SWR content: catalogue entries, and the manifests and config blobs they make.

Free of tornado (the command line parses catalogues with it). Each image becomes real Docker v2
or OCI JSON: a config blob per platform, an image manifest per platform and, for several
platforms, a manifest list / image index; every digest is the sha256 of the exact bytes served.
Layer blobs are described (digest, size) but their content is not served.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract import split_swr_path, swr_registry
from .defaults import DEMO_SWR_CATALOGUE, SwrImageSpec

__all__ = [
    "MEDIA_TYPES",
    "Blob",
    "Repository",
    "SwrCatalogue",
    "TagEntry",
    "build_catalogue",
    "read_catalogue_lines",
    "seed_specs",
]

MEDIA_TYPES = {
    "docker": {
        "manifest": "application/vnd.docker.distribution.manifest.v2+json",
        "list": "application/vnd.docker.distribution.manifest.list.v2+json",
        "config": "application/vnd.docker.container.image.v1+json",
        "layer": "application/vnd.docker.image.rootfs.diff.tar.gzip",
    },
    "oci": {
        "manifest": "application/vnd.oci.image.manifest.v1+json",
        "list": "application/vnd.oci.image.index.v1+json",
        "config": "application/vnd.oci.image.config.v1+json",
        "layer": "application/vnd.oci.image.layer.v1.tar+gzip",
    },
}
_SPEC_KEYS = frozenset({"path", "platforms", "user", "size", "pushed", "ports", "entrypoint", "media"})
_LAYER_SHARES = (0.55, 0.3, 0.15)  # a base, a framework and an application layer


@dataclass(frozen=True)
class Blob:
    """Bytes served by the registry under their digest."""

    media_type: str
    content: bytes
    digest: str


@dataclass(frozen=True)
class TagEntry:
    spec: SwrImageSpec
    tag: str
    top: Blob  # the manifest the tag points to (an image manifest, or a list / index)


@dataclass
class Repository:
    namespace: str
    name: str
    registry: str
    tags: dict[str, TagEntry] = field(default_factory=dict)
    blobs: dict[str, Blob] = field(default_factory=dict)  # manifests and configs, by digest


def _digest(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def parse_platform(text: str) -> dict[str, str]:
    """``linux/arm64/v8`` -> ``{"os": "linux", "architecture": "arm64", "variant": "v8"}``."""
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"platform {text!r} must be os/architecture[/variant], e.g. linux/amd64")
    platform = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        platform["variant"] = parts[2]
    return platform


def _platform_image(spec: SwrImageSpec, platform_text: str, kinds: dict[str, str]) -> tuple[Blob, Blob]:
    """The config blob and the image manifest of one platform."""
    platform = parse_platform(platform_text)
    layer_sizes = [max(1, int(spec.size * share)) for share in _LAYER_SHARES]
    layer_digests = [_digest(f"{spec.path}|{platform_text}|layer {i}".encode()) for i in range(3)]
    container: dict[str, Any] = {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "User": spec.user,
        "WorkingDir": "/home/ma-user" if spec.user in ("ma-user", "1000", "1000:100") else "/",
    }
    if spec.ports:
        container["ExposedPorts"] = {port: {} for port in spec.ports}
    if spec.entrypoint:
        container["Entrypoint"] = list(spec.entrypoint)
    config = {
        **platform,
        "created": spec.pushed,
        "config": container,
        "rootfs": {
            "type": "layers",
            "diff_ids": [_digest(f"{d}|uncompressed".encode()) for d in layer_digests],
        },
        "history": [
            {"created": spec.pushed, "created_by": f"mai-widgets emulator layer {i}"} for i in range(3)
        ],
    }
    config_bytes = _canonical(config)
    config_blob = Blob(kinds["config"], config_bytes, _digest(config_bytes))
    manifest = {
        "schemaVersion": 2,
        "mediaType": kinds["manifest"],
        "config": {"mediaType": kinds["config"], "size": len(config_bytes), "digest": config_blob.digest},
        "layers": [
            {"mediaType": kinds["layer"], "size": size, "digest": digest}
            for size, digest in zip(layer_sizes, layer_digests, strict=True)
        ],
    }
    manifest_bytes = json.dumps(manifest, indent=3).encode()  # pretty, as docker pushes them
    return config_blob, Blob(kinds["manifest"], manifest_bytes, _digest(manifest_bytes))


class SwrCatalogue:
    """Every repository and tag of the emulator's SWR, with the blobs the registry serves."""

    def __init__(self, specs: Iterable[SwrImageSpec]) -> None:
        self.repositories: dict[tuple[str, str], Repository] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: SwrImageSpec) -> None:
        parts = split_swr_path(spec.path)
        if parts is None or "registry" not in parts:
            raise ValueError(f"{spec.path!r} is not a registry/namespace/name:tag path")
        if "tag" not in parts:
            return  # registrable by digest, but a registry keeps tags: nothing to list or serve
        kinds = MEDIA_TYPES.get(spec.media)
        if kinds is None:
            raise ValueError(f"media must be docker or oci, not {spec.media!r}")
        if not spec.platforms:
            raise ValueError(f"{spec.path}: at least one platform")
        key = (parts["namespace"], parts["name"])
        repo = self.repositories.setdefault(key, Repository(key[0], key[1], parts["registry"]))
        entries: list[tuple[dict[str, str], Blob]] = []
        for text in spec.platforms:
            config_blob, manifest_blob = _platform_image(spec, text, kinds)
            repo.blobs[config_blob.digest] = config_blob
            repo.blobs[manifest_blob.digest] = manifest_blob
            entries.append((parse_platform(text), manifest_blob))
        if len(entries) == 1:
            top = entries[0][1]
        else:
            index = {
                "schemaVersion": 2,
                "mediaType": kinds["list"],
                "manifests": [
                    {
                        "mediaType": blob.media_type,
                        "size": len(blob.content),
                        "digest": blob.digest,
                        "platform": platform,
                    }
                    for platform, blob in entries
                ],
            }
            content = json.dumps(index, indent=3).encode()
            top = Blob(kinds["list"], content, _digest(content))
            repo.blobs[top.digest] = top
        repo.tags[parts["tag"]] = TagEntry(spec, parts["tag"], top)

    def namespaces(self) -> list[str]:
        return sorted({ns for ns, _ in self.repositories})

    def repository(self, namespace: str, name: str) -> Repository | None:
        return self.repositories.get((namespace, name))


# -- catalogue sources --------------------------------------------------------------------------


def _spec_from_json(text: str) -> SwrImageSpec:
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("path"), str):
        raise ValueError('a JSON line must be an object with a "path"')
    unknown = sorted(set(data) - _SPEC_KEYS)
    if unknown:
        raise ValueError(f"unknown keys {', '.join(unknown)} (known: {', '.join(sorted(_SPEC_KEYS))})")
    values: dict[str, Any] = dict(data)
    for name in ("platforms", "ports", "entrypoint"):
        if name in values:
            if not isinstance(values[name], list) or not all(isinstance(v, str) for v in values[name]):
                raise ValueError(f"{name} must be a list of strings")
            values[name] = tuple(values[name])
    for name in ("user", "pushed", "media"):
        if name in values and not isinstance(values[name], str):
            raise ValueError(f"{name} must be a string")
    if "size" in values and (not isinstance(values["size"], int) or values["size"] < 0):
        raise ValueError("size must be a number of bytes")
    for platform in values.get("platforms", ()):
        parse_platform(platform)
    return SwrImageSpec(**values)


def read_catalogue_lines(lines: Iterable[str]) -> list[SwrImageSpec]:
    """Catalogue entries from lines: a plain SWR path (an amd64 image run by ma-user), or a JSON
    object such as ``{"path": ..., "platforms": ["linux/arm64/v8"], "user": "root"}``.
    Blank lines and ``#`` comments are skipped; a bad line is a ValueError naming its number."""
    out: list[SwrImageSpec] = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            spec = _spec_from_json(text) if text.startswith("{") else SwrImageSpec(text)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"line {number}: {exc}") from None
        out.append(spec)
    return out


def seed_specs(region: str, repositories: int, tags: int) -> list[SwrImageSpec]:
    """``repositories`` repositories in the organization ``mai-bench``; the first has ``tags`` tags
    (at least one), the others one each (for the picker's benchmark)."""
    registry = swr_registry(region)
    out: list[SwrImageSpec] = []
    for r in range(repositories):
        for t in range(max(1, tags) if r == 0 else 1):
            pushed = f"2024-{1 + (r + t) % 12:02d}-{1 + t % 28:02d}T00:00:00Z"
            out.append(SwrImageSpec(f"{registry}/mai-bench/app-{r:04d}:v{t:04d}", pushed=pushed))
    return out


def build_catalogue(
    flags: Sequence[str],
    catalogue_file: Path | None,
    *,
    region: str,
    seed_repositories: int = 0,
    seed_tags: int = 0,
) -> tuple[SwrImageSpec, ...]:
    """The demo catalogue plus ``--swr-image`` flags, a ``--swr-catalogue`` file and seeded
    repositories (raises OSError or ValueError with a message fit for the command line)."""
    specs = list(DEMO_SWR_CATALOGUE)
    specs += read_catalogue_lines(flags)
    if catalogue_file is not None:
        specs += read_catalogue_lines(catalogue_file.read_text(encoding="utf-8").splitlines())
    specs += seed_specs(region, seed_repositories, seed_tags)
    SwrCatalogue(specs)  # every entry must build: fail at start-up, not on the first request
    return tuple(specs)
