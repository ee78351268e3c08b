"""``python -m mai_widgets.emulator.push SWR_PATH``: push a small, valid image to SWR's registry.

For demos and tests of "push the missing image, then register again" with the local emulator.
The image is built here: a config blob (architecture, os, ``User``) and one gzip tar layer of a
few KB. It is pushed the way docker does (HEAD each blob, POST an upload, PATCH the bytes, PUT
with the digest, then PUT the Docker v2 manifest), signed in by the product's own
:class:`~mai_widgets.services.swr.SwrClient`: SWR's temporary login, then the registry's bearer token for
``pull,push``. The endpoints and credentials come from the same configuration as everything else
(``python -m mai_widgets.emulator --print-env``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from ..errors import (
    ConfigError,
    FieldProblem,
    MaiWidgetsError,
    MalformedResponseError,
    PermissionDeniedError,
    ValidationError,
)
from ..transport.deadline import Deadline, call_scope
from ..wire.contract import complete_swr_path, split_swr_path, swr_path_problem
from .registry import MA_USERS, MEDIA_TYPES, digest_of, parse_platform, small_layer

if TYPE_CHECKING:
    import requests

    from ..auth.config import MaiConfig
    from ..services.swr import RegistryClient

__all__ = ["PushedImage", "build_image", "main", "push_image"]

_DOCKER = MEDIA_TYPES["docker"]
_FILLER_BYTES = 4096  # incompressible, so the layer is a few KB as a real small layer would be
_PUSH_DENIED_HINT = (
    "pushing needs an existing SWR organization where these credentials have edit rights: "
    "create the organization, or ask its administrator for edit rights"
)


@dataclass(frozen=True)
class PushedImage:
    """The blobs and the manifest of an image to push (bytes exactly as sent)."""

    config: bytes
    layer: bytes
    manifest: bytes

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)


def _layer(swr_path: str, platform: str, user: str, mtime: int) -> tuple[bytes, bytes]:
    """(gzip layer, its uncompressed tar): a note saying what this is, and filler bytes."""
    seed = f"{swr_path}|{platform}|{user}".encode()
    note = (
        f"Pushed by python -m mai_widgets.emulator.push for demos and tests.\n"
        f"path: {swr_path}\nplatform: {platform}\nuser: {user}\n"
    ).encode()
    files = (
        ("etc/mai-widgets-push.txt", note),
        ("opt/mai-widgets/filler.bin", hashlib.shake_256(seed).digest(_FILLER_BYTES)),
    )
    return small_layer(files, user=user, mtime=mtime)


def build_image(swr_path: str, *, platform: str = "linux/amd64", user: str = "ma-user") -> PushedImage:
    """A valid one-layer Docker v2 image for ``platform`` run by ``user`` (ValueError for a bad platform)."""
    platform_fields = parse_platform(platform)
    now = int(time.time())
    created = datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    layer, tar_bytes = _layer(swr_path, platform, user, now)
    config_document = {
        **platform_fields,
        "created": created,
        "config": {
            "User": user,
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "WorkingDir": "/home/ma-user" if user in MA_USERS else "/",
            "Cmd": ["/bin/sh"],
        },
        "rootfs": {"type": "layers", "diff_ids": [digest_of(tar_bytes)]},
        "history": [{"created": created, "created_by": "python -m mai_widgets.emulator.push"}],
    }
    config = json.dumps(config_document, sort_keys=True, separators=(",", ":")).encode()
    manifest_document = {
        "schemaVersion": 2,
        "mediaType": _DOCKER["manifest"],
        "config": {"mediaType": _DOCKER["config"], "size": len(config), "digest": digest_of(config)},
        "layers": [{"mediaType": _DOCKER["layer"], "size": len(layer), "digest": digest_of(layer)}],
    }
    manifest = json.dumps(manifest_document, indent=3).encode()  # as docker pushes them
    return PushedImage(config, layer, manifest)


class _Pusher:
    """Registry v2 calls for one repository, through the product's :class:`RegistryClient`.

    The sign-in is the one :meth:`SwrClient.inspect` reads with, and errors are read as every answer
    is: only the scope differs, ``pull,push``.
    """

    def __init__(self, registry: RegistryClient, name: str) -> None:
        self.registry = registry
        self.host = registry.host
        self.name = name
        self.scope = f"repository:{name}:pull,push"

    def sign_in(self) -> None:
        """``GET /v2/``, then answer its challenge for the push scope (as docker login + push do)."""
        self.send("GET", "/v2/")

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        # the product's own challenge answering (SWR's temporary login, a pull,push token)
        return self.registry.request(
            method, path, scope=self.scope, params=params, body=body, headers=headers
        )

    def checked(self, response: requests.Response) -> requests.Response:
        if not 200 <= response.status_code < 300:
            error = self.registry.error(response)
            if isinstance(error, PermissionDeniedError):  # the generic hint is about reading
                error.hint = _PUSH_DENIED_HINT
            raise error
        return response

    def target(self, response: requests.Response) -> tuple[str, dict[str, str]]:
        """The path and query of the upload URL in ``Location`` (relative, or on the registry's host)."""
        location = urlsplit(response.headers.get("Location", ""))
        base = urlsplit(self.registry.base_url)
        if not location.path or (location.netloc and (location.scheme, location.netloc) != base[:2]):
            raise ConfigError(
                f"the SWR registry {self.host} sent the upload elsewhere "
                f"({location.netloc or 'no Location'}); nothing was sent there",
                hint="check MAI_WIDGETS_SWR_REGISTRY_ENDPOINT",
            )
        path = location.path
        prefix = base.path.rstrip("/")
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) :]  # the service puts its base URL in front again
        return path, dict(parse_qsl(location.query, keep_blank_values=True))

    def push_blob(self, content: bytes) -> None:
        digest = digest_of(content)
        blob_path = f"/v2/{self.name}/blobs/{digest}"
        if self.send("HEAD", blob_path).status_code == 200:
            return  # already in the repository
        started = self.checked(self.send("POST", f"/v2/{self.name}/blobs/uploads/"))
        path, params = self.target(started)
        octets = {"Content-Type": "application/octet-stream"}
        patched = self.checked(self.send("PATCH", path, params=params, body=content, headers=octets))
        path, params = self.target(patched)
        self.checked(self.send("PUT", path, params={**params, "digest": digest}, headers=octets))

    def push_manifest(self, reference: str, manifest: bytes) -> str:
        response = self.checked(
            self.send(
                "PUT",
                f"/v2/{self.name}/manifests/{reference}",
                body=manifest,
                headers={"Content-Type": _DOCKER["manifest"]},
            )
        )
        digest = digest_of(manifest)
        claimed = response.headers.get("Docker-Content-Digest")
        if claimed and claimed != digest:
            raise MalformedResponseError(
                response.status_code,
                response.headers.get("X-Request-Id"),
                "the registry's digest is not the manifest's",
            )
        return digest


def _checked_path(swr_path: object, region: str) -> tuple[str, dict[str, str]]:
    text = swr_path.strip() if isinstance(swr_path, str) else ""
    path = complete_swr_path(text, region)
    parts = split_swr_path(path) if text else None
    if parts is None or "registry" not in parts:
        raise ValidationError([FieldProblem("swr_path", swr_path_problem(text) if text else "is required")])
    if "tag" not in parts:
        raise ValidationError([FieldProblem("swr_path", "must end in :tag to push (a digest names content)")])
    return path, parts


def push_image(
    swr_path: str,
    *,
    platform: str = "linux/amd64",
    user: str = "ma-user",
    config: MaiConfig | None = None,
    timeout: float = 30,
) -> str:
    """Push a small valid image to ``swr_path`` (``org/image:tag`` takes the region's registry) and
    return its manifest digest. ``config`` defaults to :func:`mai_widgets.auth.config.load_config`
    (the environment); the credentials are found as :class:`~mai_widgets.services.images.ImageClient` finds
    them. Raises :class:`~mai_widgets.errors.MaiWidgetsError` subclasses (typed, secret-free)."""
    from ..auth.config import load_config
    from ..services.swr import SwrClient

    config = config if config is not None else load_config()
    path, parts = _checked_path(swr_path, config.region)
    if not isinstance(user, str) or not user.strip() or not user.isprintable():
        raise ValidationError(
            [FieldProblem("user", "must be a user name or uid[:gid], e.g. ma-user or 1000:100")]
        )
    try:
        image = build_image(path, platform=platform, user=user.strip())
    except ValueError as exc:
        raise ValidationError([FieldProblem("platform", str(exc))]) from None
    with SwrClient(config) as swr, call_scope(Deadline(timeout)):
        pusher = _Pusher(swr.registry(parts["registry"]), f"{parts['namespace']}/{parts['name']}")
        pusher.sign_in()
        pusher.push_blob(image.config)
        pusher.push_blob(image.layer)
        return pusher.push_manifest(parts["tag"], image.manifest)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mai_widgets.emulator.push",
        description="Push a small valid image to SWR (the local emulator's, per MAI_WIDGETS_SWR_* "
        "settings: eval \"$(python -m mai_widgets.emulator --print-env)\"). Prints 'pushed PATH DIGEST'.",
    )
    parser.add_argument("swr_path", metavar="SWR_PATH", help="[registry/]organization/name:tag")
    parser.add_argument(
        "--platform", default="linux/amd64", help="os/architecture[/variant] (default %(default)s)"
    )
    parser.add_argument("--user", default="ma-user", help="the image's User (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for the whole push (default 30)")
    args = parser.parse_args(argv)
    from ..auth.config import load_config

    try:
        config = load_config()
        path, _ = _checked_path(args.swr_path, config.region)
        digest = push_image(path, platform=args.platform, user=args.user, config=config, timeout=args.timeout)
    except MaiWidgetsError as exc:
        print(f"push failed: {exc.one_line()}", file=sys.stderr, flush=True)
        return 1
    print(f"pushed {path} {digest}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
