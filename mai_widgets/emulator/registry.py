"""The emulator's SWR content: catalogue entries, and the manifests and config blobs they make.

Free of tornado (the command line parses catalogues with it). Each image becomes real Docker v2
or OCI JSON: a config blob per platform, an image manifest per platform and, for several
platforms, a manifest list / image index; every digest is the sha256 of the exact bytes served.
Layers are small but real gzip tars (:func:`small_layer`, deterministic), served like every blob a
manifest names, so standard registry clients (skopeo, docker) pull catalogue images whole.

Pushed images (the registry's upload and manifest routes) are checked here as a registry does
(:func:`check_manifest`) and kept in memory with every blob they reference, served byte for byte.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import re
import tarfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..wire.contract import split_swr_path, swr_registry
from .defaults import DEFAULTS, DEMO_SWR_CATALOGUE, SwrImageSpec

__all__ = [
    "INDEX_MEDIA_TYPES",
    "MANIFEST_MEDIA_TYPES",
    "MAX_UPLOAD_BYTES",
    "MA_USERS",
    "MEDIA_TYPES",
    "Blob",
    "ManifestRejected",
    "Repository",
    "SwrCatalogue",
    "TagEntry",
    "build_catalogue",
    "check_manifest",
    "read_catalogue_lines",
    "seed_specs",
    "small_layer",
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
INDEX_MEDIA_TYPES = frozenset(kinds["list"] for kinds in MEDIA_TYPES.values())
IMAGE_MEDIA_TYPES = frozenset(kinds["manifest"] for kinds in MEDIA_TYPES.values())
MANIFEST_MEDIA_TYPES = INDEX_MEDIA_TYPES | IMAGE_MEDIA_TYPES
# The emulator keeps pushed blobs in memory: one upload may hold at most this many bytes.
MAX_UPLOAD_BYTES = 64 << 20
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_SPEC_KEYS = frozenset({"path", "platforms", "user", "size", "pushed", "ports", "entrypoint", "media"})
MA_USERS = ("ma-user", "1000", "1000:100")  # ModelArts' notebook user: uid 1000, gid 100


@dataclass(frozen=True)
class Blob:
    """Bytes served by the registry under their digest."""

    media_type: str
    content: bytes
    digest: str


@dataclass(frozen=True)
class TagEntry:
    tag: str
    top: Blob  # the manifest the tag points to (an image manifest, or a list / index)
    size: int  # bytes, as SWR lists it
    pushed: str  # ISO 8601, UTC


@dataclass
class Repository:
    namespace: str
    name: str
    registry: str
    tags: dict[str, TagEntry] = field(default_factory=dict)
    blobs: dict[str, Blob] = field(default_factory=dict)  # manifests, configs, pushed layers; by digest


def digest_of(content: bytes) -> str:
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


@functools.lru_cache(maxsize=4096)
def small_layer(files: tuple[tuple[str, bytes], ...], *, user: str, mtime: int) -> tuple[bytes, bytes]:
    """(gzip layer, its uncompressed tar) holding ``files`` (path, content) and their directories,
    plus ``home/ma-user`` (uid 1000, gid 100) for ModelArts' user. Same input, same bytes."""
    directories = sorted(
        {"/".join(path.split("/")[:i]) for path, _ in files for i in range(1, path.count("/") + 1)}
    )
    if user in MA_USERS:
        directories += [d for d in ("home", "home/ma-user") if d not in directories]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in directories:
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            if directory == "home/ma-user":
                info.uid, info.gid = 1000, 100
            tar.addfile(info)
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, mtime
            tar.addfile(info, io.BytesIO(content))
    tar_bytes = buffer.getvalue()
    return gzip.compress(tar_bytes, mtime=0), tar_bytes


def _catalogue_layers(spec: SwrImageSpec, platform_text: str, media_type: str) -> list[tuple[Blob, str]]:
    """A base layer (shared by every image of this platform and user), a framework layer (by
    repository) and an application layer (by tag): each (blob, diff_id)."""
    repository = spec.path.rsplit(":", 1)[0].split("@", 1)[0]
    mtime = int(datetime.fromisoformat(spec.pushed.replace("Z", "+00:00")).timestamp())
    notes = (
        ("base", f"{platform_text} {spec.user}", 0),
        ("framework", f"{repository} {platform_text}", mtime),
        ("application", f"{spec.path} {platform_text}", mtime),
    )
    out = []
    for kind, what, when in notes:
        note = f"mai-widgets emulator {kind} layer: {what}\n".encode()
        layer, tar_bytes = small_layer(
            ((f"opt/mai-widgets/{kind}.txt", note),), user=spec.user if kind == "base" else "", mtime=when
        )
        out.append((Blob(media_type, layer, digest_of(layer)), digest_of(tar_bytes)))
    return out


def _platform_image(
    spec: SwrImageSpec, platform_text: str, kinds: dict[str, str]
) -> tuple[Blob, Blob, list[Blob]]:
    """The config blob, the image manifest and the layer blobs of one platform."""
    platform = parse_platform(platform_text)
    layers = _catalogue_layers(spec, platform_text, kinds["layer"])
    container: dict[str, Any] = {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "User": spec.user,
        "WorkingDir": "/home/ma-user" if spec.user in MA_USERS else "/",
    }
    if spec.ports:
        container["ExposedPorts"] = {port: {} for port in spec.ports}
    if spec.entrypoint:
        container["Entrypoint"] = list(spec.entrypoint)
    config = {
        **platform,
        "created": spec.pushed,
        "config": container,
        "rootfs": {"type": "layers", "diff_ids": [diff_id for _, diff_id in layers]},
        "history": [
            {"created": spec.pushed, "created_by": f"mai-widgets emulator layer {i}"} for i in range(3)
        ],
    }
    config_bytes = _canonical(config)
    config_blob = Blob(kinds["config"], config_bytes, digest_of(config_bytes))
    manifest = {
        "schemaVersion": 2,
        "mediaType": kinds["manifest"],
        "config": {"mediaType": kinds["config"], "size": len(config_bytes), "digest": config_blob.digest},
        "layers": [
            {"mediaType": blob.media_type, "size": len(blob.content), "digest": blob.digest}
            for blob, _ in layers
        ],
    }
    manifest_bytes = json.dumps(manifest, indent=3).encode()  # pretty, as docker pushes them
    manifest_blob = Blob(kinds["manifest"], manifest_bytes, digest_of(manifest_bytes))
    return config_blob, manifest_blob, [blob for blob, _ in layers]


class SwrCatalogue:
    """Every repository and tag of the emulator's SWR, with the blobs the registry serves.

    Live: pushes add to it, a forced delete of a ModelArts image takes its tag away, and
    registration asks :meth:`has` (one lock, as handlers and tests may share it across threads).
    Pushed repositories live on ``registry`` (the region's SWR host).
    """

    def __init__(self, specs: Iterable[SwrImageSpec], *, registry: str = DEFAULTS.registry) -> None:
        self.registry = registry
        self.repositories: dict[tuple[str, str], Repository] = {}
        self.organizations: set[str] = set()  # outlive their repositories, as SWR's do
        self.untagged: set[str] = set()  # catalogue paths given by digest: registrable, not served
        self.lock = threading.RLock()
        for spec in specs:
            self.add(spec)

    def add(self, spec: SwrImageSpec) -> None:
        parts = split_swr_path(spec.path)
        if parts is None or "registry" not in parts:
            raise ValueError(f"{spec.path!r} is not a registry/namespace/name:tag path")
        self.organizations.add(parts["namespace"])
        if "tag" not in parts:
            self.untagged.add(spec.path)  # registrable by digest, but a registry keeps tags: nothing to serve
            return
        kinds = MEDIA_TYPES.get(spec.media)
        if kinds is None:
            raise ValueError(f"media must be docker or oci, not {spec.media!r}")
        if not spec.platforms:
            raise ValueError(f"{spec.path}: at least one platform")
        key = (parts["namespace"], parts["name"])
        repo = self.repositories.setdefault(key, Repository(key[0], key[1], parts["registry"]))
        entries: list[tuple[dict[str, str], Blob]] = []
        for text in spec.platforms:
            config_blob, manifest_blob, layer_blobs = _platform_image(spec, text, kinds)
            for layer in layer_blobs:
                repo.blobs[layer.digest] = layer
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
            top = Blob(kinds["list"], content, digest_of(content))
            repo.blobs[top.digest] = top
        repo.tags[parts["tag"]] = TagEntry(parts["tag"], top, spec.size, spec.pushed)

    def namespaces(self) -> list[str]:
        return sorted(self.organizations)

    def repository(self, namespace: str, name: str) -> Repository | None:
        return self.repositories.get((namespace, name))

    def listed(self) -> list[Repository]:
        """The repositories the manage API lists: those with a tag (uploaded blobs alone make none)."""
        with self.lock:
            return [repo for _, repo in sorted(self.repositories.items()) if repo.tags]

    def _find(self, swr_path: str) -> tuple[Repository, dict[str, str]] | None:
        parts = split_swr_path(swr_path)
        if parts is None or "registry" not in parts:
            return None
        repo = self.repositories.get((parts["namespace"], parts["name"]))
        if repo is None or repo.registry != parts["registry"]:
            return None
        return repo, parts

    def has(self, swr_path: str) -> bool:
        """Whether SWR has this image now: its tag, or a manifest with its digest."""
        with self.lock:
            if swr_path in self.untagged:
                return True
            found = self._find(swr_path)
            if found is None:
                return False
            repo, parts = found
            if "tag" in parts:
                return parts["tag"] in repo.tags
            blob = repo.blobs.get(parts["digest"])
            return blob is not None and blob.media_type in MANIFEST_MEDIA_TYPES

    def remove(self, swr_path: str) -> None:
        """A forced delete took the image out of SWR: its tag, or every tag on that digest."""
        with self.lock:
            self.untagged.discard(swr_path)
            found = self._find(swr_path)
            if found is None:
                return
            repo, parts = found
            if "tag" in parts:
                repo.tags.pop(parts["tag"], None)
                return
            for tag in [t for t, entry in repo.tags.items() if entry.top.digest == parts["digest"]]:
                del repo.tags[tag]

    def push_blob(self, namespace: str, name: str, blob: Blob) -> None:
        """An uploaded blob (the repository is made on the first one, listed once tagged)."""
        with self.lock:
            key = (namespace, name)
            repo = self.repositories.setdefault(key, Repository(namespace, name, self.registry))
            repo.blobs[blob.digest] = blob

    def push_manifest(
        self, namespace: str, name: str, reference: str, blob: Blob, size: int, pushed: str
    ) -> str:
        """Store a checked manifest under its digest and, for a tag, point the tag at it; its path."""
        with self.lock:
            key = (namespace, name)
            repo = self.repositories.setdefault(key, Repository(namespace, name, self.registry))
            repo.blobs[blob.digest] = blob
            if DIGEST_RE.match(reference):
                return f"{repo.registry}/{repo.namespace}/{repo.name}@{reference}"
            repo.tags[reference] = TagEntry(reference, blob, size, pushed)
            return f"{repo.registry}/{repo.namespace}/{repo.name}:{reference}"


class ManifestRejected(ValueError):
    """A pushed manifest a registry refuses: its error code (``MANIFEST_INVALID``...) and why."""

    def __init__(self, code: str, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


def _descriptor(value: Any, where: str) -> tuple[str, int]:
    if not isinstance(value, dict):
        raise ManifestRejected("MANIFEST_INVALID", f"{where} must be a descriptor object")
    digest, size = value.get("digest"), value.get("size")
    if not isinstance(digest, str) or not DIGEST_RE.match(digest):
        raise ManifestRejected("MANIFEST_INVALID", f"{where}.digest must be sha256:<64 hex digits>")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestRejected("MANIFEST_INVALID", f"{where}.size must be a number of bytes")
    return digest, size


def _referenced(repo: Repository, digest: str, size: int, *, manifest: bool) -> Blob:
    blob = repo.blobs.get(digest)
    if blob is None or (manifest and blob.media_type not in MANIFEST_MEDIA_TYPES):
        kind = "manifest" if manifest else "blob"
        raise ManifestRejected("MANIFEST_BLOB_UNKNOWN", f"{kind} unknown to registry: {digest}", digest)
    if len(blob.content) != size:
        raise ManifestRejected(
            "MANIFEST_INVALID",
            f"the descriptor of {digest} says {size} bytes, the blob has {len(blob.content)}",
        )
    return blob


def check_manifest(repo: Repository, content: bytes, content_type: str) -> tuple[str, int]:
    """Check a pushed manifest as a registry does: its media type and, for the size SWR lists,
    the bytes of its layers (an index: of its child manifests' layers). Every blob or child
    manifest it names must be in ``repo``. Raises :class:`ManifestRejected`."""
    try:
        document = json.loads(content.decode("utf-8"))
    except (UnicodeError, ValueError, RecursionError):
        raise ManifestRejected("MANIFEST_INVALID", "the manifest is not valid JSON (UTF-8)") from None
    if not isinstance(document, dict):
        raise ManifestRejected("MANIFEST_INVALID", "the manifest must be a JSON object")
    declared = document.get("mediaType")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in MANIFEST_MEDIA_TYPES:
        media_type = declared if isinstance(declared, str) else ""
    if media_type not in MANIFEST_MEDIA_TYPES:
        raise ManifestRejected(
            "MANIFEST_INVALID",
            f"unsupported manifest media type; send one of {', '.join(sorted(MANIFEST_MEDIA_TYPES))}",
        )
    if declared is not None and declared != media_type:
        raise ManifestRejected("MANIFEST_INVALID", "the manifest's mediaType is not its Content-Type")
    if document.get("schemaVersion") != 2:
        raise ManifestRejected("MANIFEST_INVALID", "schemaVersion must be 2")
    if media_type in INDEX_MEDIA_TYPES:
        children = document.get("manifests")
        if not isinstance(children, list):
            raise ManifestRejected("MANIFEST_INVALID", "an index must have a manifests list")
        size = 0
        for i, entry in enumerate(children):
            child = _referenced(repo, *_descriptor(entry, f"manifests[{i}]"), manifest=True)
            if child.media_type in IMAGE_MEDIA_TYPES:
                size += _layer_bytes(json.loads(child.content))
        return media_type, size
    layers = document.get("layers")
    if not isinstance(layers, list):
        raise ManifestRejected("MANIFEST_INVALID", "an image manifest must have a layers list")
    _referenced(repo, *_descriptor(document.get("config"), "config"), manifest=False)
    for i, layer in enumerate(layers):
        _referenced(repo, *_descriptor(layer, f"layers[{i}]"), manifest=False)
    return media_type, _layer_bytes(document)


def _layer_bytes(document: Any) -> int:
    layers = document.get("layers") if isinstance(document, dict) else None
    if not isinstance(layers, list):
        return 0
    return sum(
        layer["size"] for layer in layers if isinstance(layer, dict) and isinstance(layer.get("size"), int)
    )


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
