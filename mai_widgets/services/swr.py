"""SWR (SoftWare Repository for Container): list organizations, repositories and tags, and inspect
an image's manifest and config before it is registered.

:class:`SwrClient` reads the same configuration and credentials as
:class:`~mai_widgets.services.images.ImageClient` (and can share one's sign-in), and sends every call
through :mod:`mai_widgets.transport.http`:

* the manage API (``MAI_WIDGETS_SWR_ENDPOINT``, default ``https://swr-api.{region}.myhuaweicloud.com``),
  signed like ModelArts calls; its errors (two documented shapes) are read by
  :func:`mai_widgets.errors.error_from_answer`, as every service's are;
* the registry host named in the path (``MAI_WIDGETS_SWR_REGISTRY_ENDPOINT`` replaces the region's
  registry host), read with the Docker Registry HTTP API v2: SWR's temporary login
  (``POST /v2/manage/utils/secret``) answers the registry's ``WWW-Authenticate: Bearer`` challenge.

SWR documents its registry only as "Docker Registry v2 compatible": the token challenge, manifest
media types, blob redirects and digests below follow the registry v2 and OCI distribution and image
specs (u: SWR's exact registry behaviour is not published).

The temporary login and bearer tokens are secrets: they appear in no repr, message or log line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit

from ..errors import (
    ApiError,
    ConfigError,
    FieldProblem,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    malformed_answer,
    request_id_of,
)
from ..i18n import N_, Msg
from ..transport.deadline import Deadline, call_scope
from ..wire.contract import Arch, complete_swr_path, split_swr_path, swr_path_problem
from .paging import LIST_TIMEOUT, Page, read_all

if TYPE_CHECKING:
    import requests
    from requests.auth import AuthBase

    from ..auth.config import MaiConfig
    from ..auth.credentials import Credentials
    from ..transport.http import HttpService
    from .session import Session, SharesSession

__all__ = [
    "ACCEPT_MANIFESTS",
    "ImageInspection",
    "ManifestInfo",
    "Platform",
    "RegistryClient",
    "SwrClient",
    "SwrNamespace",
    "SwrRepository",
    "SwrTag",
    "arch_of",
    "parse_config",
    "parse_manifest",
]

T = TypeVar("T")

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
_INDEX_TYPES = frozenset({DOCKER_LIST, OCI_INDEX})
_IMAGE_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
ACCEPT_MANIFESTS = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
# Docker and OCI architecture names -> ModelArts' arch field.
_ARCHES: dict[str, Arch] = {
    "amd64": Arch.X86_64,
    "x86_64": Arch.X86_64,
    "arm64": Arch.AARCH64,
    "aarch64": Arch.AARCH64,
}
# Page size of the manage API's lists: SWR's default (SDK ListReposDetails/ListRepositoryTags:
# limit defaults to 100, at most 1000).
PAGE_SIZE = 100
# The repository filter's query parameter (the SDK's ListReposDetailsRequest has `name`, a fuzzy match).
REPO_FILTER_PARAM = "name"
# SWR's Content-Range: "offset-count/total" (API-NOTES, SDK 3.1.219); "*" is an unknown total.
_CONTENT_RANGE = re.compile(r"^\s*(?:\w+\s+)?(\d+)\s*-\s*(\d+)\s*/\s*(\d+|\*)\s*$")
# Renew the temporary login this long before SWR says it expires (at most a tenth of its life).
LOGIN_RENEW_MARGIN = 300.0
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*"([^"]*)"')
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5  # as docker's registry client follows at most a few hops
_DEFAULT_PORTS = {"https": 443, "http": 80}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, default ports filled in; ``None`` if it has none."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def _shown_origin(url: str) -> str:
    # scheme://host:port only: a URL's path and query may carry a signed storage token
    origin = _origin(url)
    return f"{origin[0]}://{origin[1]}:{origin[2]}" if origin else "an unusable address"


# ---------------------------------------------------------------------------------------
# What the lists and the inspection return


@dataclass(frozen=True)
class SwrNamespace:
    """An SWR organization; ``auth`` is the user's level there: 7 manage, 3 edit, 1 read."""

    name: str
    auth: int


@dataclass(frozen=True)
class SwrRepository:
    namespace: str
    name: str
    path: str  # registry/namespace/name, without a tag
    size: int  # bytes
    num_images: int
    updated_at: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class SwrTag:
    namespace: str
    repository: str
    tag: str
    digest: str
    size: int  # bytes
    updated: str  # the push time, as SWR gives it
    manifest_list: bool  # a manifest list / image index (several platforms)
    path: str


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @property
    def arch(self) -> Arch | None:
        """ModelArts' arch for this platform (amd64 -> X86_64, arm64 -> AARCH64), or ``None``."""
        return arch_of(self.architecture)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class ManifestInfo:
    """What one manifest says: an image manifest (its config and layers) or an index of them."""

    media_type: str
    config_digest: str | None = None
    size: int = 0  # config + layers, compressed (an image manifest)
    # (platform, digest) of each image of an index, attestations left out
    children: tuple[tuple[Platform, str], ...] = ()

    @property
    def is_index(self) -> bool:
        return self.media_type in _INDEX_TYPES


@dataclass(frozen=True)
class ImageInspection:
    """What SWR and the image's manifest and config say about one SWR path."""

    swr_path: str
    digest: str  # of the manifest the tag points to (a list / index for multi-arch images)
    media_type: str
    size: int  # bytes, as SWR reports the tag (else the chosen platform's config + layers)
    pushed: str | None
    platforms: tuple[Platform, ...]  # one per image; several for a manifest list / OCI index
    user: str | None  # the config's User ("" means root); None when the config was not read
    exposed_ports: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    config_platform: Platform | None = None  # the platform the user, ports and entrypoint came from

    @property
    def is_multi_arch(self) -> bool:
        return self.media_type in _INDEX_TYPES

    @property
    def arches(self) -> tuple[Arch, ...]:
        """The ModelArts arches this image runs on (order of the platforms, no repeats)."""
        return tuple(dict.fromkeys(a for a in (p.arch for p in self.platforms) if a is not None))

    def supports(self, arch: Arch | str) -> bool:
        return Arch(str(arch)) in self.arches


def arch_of(architecture: str) -> Arch | None:
    """``amd64`` -> X86_64, ``arm64`` -> AARCH64 (Docker/OCI names), else ``None``."""
    return _ARCHES.get(architecture.strip().lower())


# ---------------------------------------------------------------------------------------
# Parsing manifests and configs (pure functions)


def _platform(data: Any) -> Platform | None:
    if not isinstance(data, Mapping):
        return None
    os_name, architecture = data.get("os"), data.get("architecture")
    if not isinstance(os_name, str) or not isinstance(architecture, str):
        return None
    variant = data.get("variant")
    return Platform(os_name, architecture, variant if isinstance(variant, str) else "")


def _is_attestation(entry: Mapping[str, Any], platform: Platform | None) -> bool:
    # buildx adds attestation manifests as "unknown/unknown" entries of the index
    annotations = entry.get("annotations")
    if isinstance(annotations, Mapping) and "vnd.docker.reference.type" in annotations:
        return True
    return platform is not None and platform.os == "unknown" and platform.architecture == "unknown"


def parse_manifest(document: Any, media_type: str | None = None) -> ManifestInfo:
    """Read a Docker v2 manifest or manifest list, or an OCI manifest or index (parsed JSON).

    ``media_type`` is the answer's Content-Type; the document's own ``mediaType`` wins when it has
    one (OCI makes it optional). Raises ValueError for anything else (schema 1 included).
    """
    if not isinstance(document, Mapping):
        raise ValueError("a manifest is a JSON object")
    kind = document.get("mediaType") if isinstance(document.get("mediaType"), str) else media_type
    if kind not in _INDEX_TYPES | _IMAGE_TYPES:
        # an OCI document without mediaType: "manifests" makes an index, "config" a manifest
        if "manifests" in document:
            kind = OCI_INDEX
        elif "config" in document:
            kind = OCI_MANIFEST
        else:
            raise ValueError(f"unsupported manifest media type {kind or document.get('schemaVersion')!r}")
    if document.get("schemaVersion") != 2:
        raise ValueError("only schemaVersion 2 manifests are supported")
    if kind in _INDEX_TYPES:
        entries = document.get("manifests")
        if not isinstance(entries, list):
            raise ValueError("an index has a manifests list")
        children: list[tuple[Platform, str]] = []
        for entry in entries:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("digest"), str):
                raise ValueError("each index entry has a digest")
            platform = _platform(entry.get("platform"))
            if platform is None or _is_attestation(entry, platform):
                continue
            children.append((platform, entry["digest"]))
        return ManifestInfo(str(kind), children=tuple(children))
    config = document.get("config")
    layers = document.get("layers", [])
    if not isinstance(config, Mapping) or not isinstance(config.get("digest"), str):
        raise ValueError("a manifest has a config with a digest")
    if not isinstance(layers, list):
        raise ValueError("a manifest's layers are a list")
    sizes = [d.get("size") for d in [config, *layers] if isinstance(d, Mapping)]
    size = sum(s for s in sizes if isinstance(s, int) and not isinstance(s, bool) and s > 0)
    return ManifestInfo(str(kind), config_digest=config["digest"], size=size)


@dataclass(frozen=True)
class ImageConfig:
    platform: Platform | None
    user: str
    exposed_ports: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()


def parse_config(document: Any) -> ImageConfig:
    """The platform, user, exposed ports and entrypoint of an image config (Docker or OCI)."""
    if not isinstance(document, Mapping):
        raise ValueError("an image config is a JSON object")
    container = document.get("config")
    container = container if isinstance(container, Mapping) else {}
    user = container.get("User")
    ports = container.get("ExposedPorts")
    entrypoint = container.get("Entrypoint")
    return ImageConfig(
        platform=_platform(document),
        user=user if isinstance(user, str) else "",
        exposed_ports=tuple(sorted(str(p) for p in ports)) if isinstance(ports, Mapping) else (),
        entrypoint=tuple(str(e) for e in entrypoint) if isinstance(entrypoint, list) else (),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# ---------------------------------------------------------------------------------------
# The client


@dataclass
class _Login:
    """SWR's temporary docker login for one registry host (a secret pair) and when to renew it."""

    host: str
    user: str
    password: str = field(repr=False)
    renew_at: float | None = None  # time.time(); None: SWR did not say (renewed on a 401)

    def __repr__(self) -> str:
        return f"_Login({self.host}, ***)"

    @property
    def fresh(self) -> bool:
        return self.renew_at is None or time.time() < self.renew_at


def parse_expiry(value: str | None) -> float | None:
    """``X-Swr-Expireat`` (ISO 8601, e.g. ``2026-07-23T08:46:07.811000Z``) as ``time.time()``
    seconds, or ``None`` when missing or unreadable."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None  # SWR sends UTC with its zone; a bare time could be any zone
    return moment.timestamp()


def _renew_at(expires: str | None) -> float | None:
    """When to renew a login SWR says expires at ``expires`` (a margin before, at most a tenth of
    its remaining life)."""
    at = parse_expiry(expires)
    if at is None:
        return None
    life = at - time.time()
    return at - min(LOGIN_RENEW_MARGIN, max(0.0, life) / 10)


def parse_content_range(value: str | None) -> int:
    """The total of SWR's ``Content-Range: offset-count/total`` (``-1`` when not said)."""
    match = _CONTENT_RANGE.match(value or "")
    if match is None or match.group(3) == "*":
        return -1
    return int(match.group(3))


def _check_component(name: str, value: object, *, nested: bool = False) -> str:
    parts = value.split("/") if isinstance(value, str) and nested else [value]
    if not isinstance(value, str) or not all(isinstance(p, str) and _COMPONENT.match(p) for p in parts):
        what = (
            "a repository name (lower case letters, digits, '.', '_', '-', '/')"
            if nested
            else ("an organization name (lower case letters, digits, '.', '_', '-')")
        )
        raise ValidationError([FieldProblem(name, f"must be {what}")])
    return value


class SwrClient:
    """SWR organizations, repositories and tags, and image inspection, for one region.

    ``SwrClient()`` reads :func:`mai_widgets.auth.config.load_config` and the credentials exactly as
    :class:`~mai_widgets.services.images.ImageClient` does; ``client`` (an ImageClient, or anything
    with a ``shared`` session) or ``shared`` (a :class:`~mai_widgets.services.session.Session`)
    shares an existing sign-in instead. Nothing is
    sent until the first call.
    """

    def __init__(
        self,
        config: MaiConfig | None = None,
        credentials: Credentials | None = None,
        *,
        auth: AuthBase | None = None,
        session: requests.Session | None = None,
        client: SharesSession | None = None,
        shared: Session | None = None,
    ) -> None:
        from .session import Session

        given = any(x is not None for x in (config, credentials, auth, session))
        if (client is not None or shared is not None) and given:
            raise TypeError("pass either client/shared or config/credentials/auth/session, not both")
        if client is not None and shared is not None and client.shared is not shared:
            raise TypeError("client and shared name different sessions")
        self._shared: Session = (
            client.shared
            if client is not None
            else shared
            if shared is not None
            else Session(config, credentials, auth=auth, session=session)
        )
        self.config: MaiConfig = self._shared.config
        self._lock = threading.Lock()
        self._login: _Login | None = None
        self._login_lock = threading.Lock()
        self._tokens: dict[tuple[str, str], str] = {}  # (registry base URL, scope) -> bearer token
        self._used: list[HttpService] = []  # the services to close with this client
        self._owns_session = client is None and shared is None
        self._shared.add_secrets(self.secret_values)

    def __repr__(self) -> str:
        return f"SwrClient({self.config.swr_url()})"

    def close(self) -> None:
        """Stop this client's SWR calls now and release their sockets (ModelArts calls of the same
        session go on)."""
        with self._lock:
            used, self._used = self._used, []
        for service in used:
            service.close()
        if self._owns_session:
            self._shared.close()

    def __enter__(self) -> SwrClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def shared(self) -> Session:
        """The session (sign-in, project id, HTTP services) this client uses."""
        return self._shared

    # -- secrets ---------------------------------------------------------------------------

    def secret_values(self) -> tuple[str, ...]:
        """The temporary login and bearer tokens held now (for redaction; never shown)."""
        values: list[str] = list(self._tokens.values())
        login = self._login
        if login is not None:
            values += [login.password, base64.b64encode(f"{login.user}:{login.password}".encode()).decode()]
        return tuple(values)

    def _redact(self, text: str) -> str:
        return self._shared.redact(text)  # the session's redaction includes this client's secrets

    # -- the manage API ----------------------------------------------------------------------

    @property
    def _manage(self) -> HttpService:
        url = self.config.swr_url()
        return self._service(url, setting="MAI_WIDGETS_SWR_ENDPOINT", where=f"SWR ({url})")

    def _manage_get(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        context: Callable[[ApiError], None] | None = None,
    ) -> requests.Response:
        auth = self._shared.auth()  # the session's sign-in: one source of credentials
        manage = self._manage
        response = manage.request("GET", path, params=params, auth=auth)
        if response.status_code >= 300:
            error = manage.error(response)
            if context is not None:
                context(error)
            raise error
        return response

    def _manage_json(self, response: requests.Response) -> Any:
        return self._manage.json(response)

    @staticmethod
    def _scope(timeout: float | None) -> Any:
        # every call is bounded: a listing or inspection never hangs a picker or a check
        return call_scope(Deadline(timeout if timeout is not None else LIST_TIMEOUT))

    def namespaces(self, *, timeout: float | None = None) -> list[SwrNamespace]:
        """``GET /v2/manage/namespaces``: the organizations these credentials can see."""
        with self._scope(timeout):
            response = self._manage_get("/v2/manage/namespaces")
            data = self._manage_json(response)
        rows = data.get("namespaces") if isinstance(data, Mapping) else None
        if not isinstance(rows, list):
            raise malformed_answer(response, "the answer is not a list of SWR organizations")
        return [
            SwrNamespace(row["name"], _int(row.get("auth")))
            for row in rows
            if isinstance(row, Mapping) and isinstance(row.get("name"), str)
        ]

    def _namespace_context(self, namespace: str, repository: str | None = None) -> Callable[[ApiError], None]:
        def add(error: ApiError) -> None:
            if isinstance(error, PermissionDeniedError):
                error.hint = Msg(
                    "these credentials cannot read the SWR organization {namespace}: ask its administrator "
                    "for read access (SWR > Organization Management > Permissions), or use your own",
                    namespace=namespace,
                )
            elif isinstance(error, NotFoundError) and repository is not None:
                path = f"{namespace}/{repository}"
                error.hint = Msg(
                    "no repository {repository} in SWR ({region}): "
                    "check the spelling and that the image was pushed",
                    repository=path,
                    region=self.config.region,
                )

        return add

    def _page(
        self,
        path: str,
        params: Mapping[str, str],
        offset: int,
        limit: int,
        parse: Callable[[Any], T | None],
        context: Callable[[ApiError], None],
    ) -> tuple[list[T], int, int]:
        """One page: its parsed items, the total (``-1`` if not said) and the raw row count."""
        response = self._manage_get(
            path, {**params, "limit": str(limit), "offset": str(offset)}, context=context
        )
        rows = self._manage_json(response)
        if not isinstance(rows, list):
            raise malformed_answer(response, "the answer is not a list")
        total = parse_content_range(response.headers.get("Content-Range"))
        if total < 0 and rows and isinstance(rows[0], Mapping):
            total = _int(rows[0].get("total_range")) or -1  # repository rows carry the total too
        items = [item for item in (parse(row) for row in rows) if item is not None]
        return items, total, len(rows)

    def _all_pages(
        self,
        path: str,
        params: Mapping[str, str],
        parse: Callable[[Any], T | None],
        context: Callable[[ApiError], None],
        key: Callable[[T], str],
    ) -> list[T]:
        def fetch(offset: int) -> tuple[list[T], int, int]:
            return self._page(path, params, offset, PAGE_SIZE, parse, context)

        return read_all(fetch, key, PAGE_SIZE)

    def _repo_query(self, namespace: str | None, filter: str | None) -> dict[str, str]:
        params: dict[str, str] = {}
        if namespace is not None:
            params["namespace"] = _check_component("namespace", namespace)
        if filter:
            if not isinstance(filter, str) or len(filter) > 128:
                raise ValidationError([FieldProblem("filter", "must be text of at most 128 characters")])
            params[REPO_FILTER_PARAM] = filter.strip().replace("/", "$")  # as the tags path sends it
        return params

    def _parse_repo(self, row: Any) -> SwrRepository | None:
        if not isinstance(row, Mapping) or not isinstance(row.get("name"), str):
            return None
        tags = row.get("tags")
        return SwrRepository(
            namespace=_text(row.get("namespace")),
            name=row["name"],
            path=_text(row.get("path")),
            size=_int(row.get("size")),
            num_images=_int(row.get("num_images")),
            updated_at=_text(row.get("updated_at")),
            tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
        )

    def repositories(
        self, namespace: str | None = None, filter: str | None = None, *, timeout: float | None = None
    ) -> list[SwrRepository]:
        """Every repository of ``namespace`` (all readable ones when ``None``) whose name contains
        ``filter``: ``GET /v2/manage/repos``, every page (the total comes in ``Content-Range``)."""
        params = self._repo_query(namespace, filter)
        context = self._namespace_context(namespace or "")
        with self._scope(timeout):
            return self._all_pages(
                "/v2/manage/repos", params, self._parse_repo, context, lambda r: f"{r.namespace}/{r.name}"
            )

    def repositories_page(
        self,
        namespace: str | None = None,
        filter: str | None = None,
        *,
        offset: int = 0,
        limit: int = PAGE_SIZE,
        timeout: float | None = None,
    ) -> Page[SwrRepository]:
        """One page of :meth:`repositories`, for a picker that loads as the user scrolls."""
        if not (
            isinstance(offset, int) and offset >= 0 and isinstance(limit, int) and 1 <= limit <= PAGE_SIZE
        ):
            raise ValidationError([FieldProblem("offset", f"offset >= 0 and 1 <= limit <= {PAGE_SIZE}")])
        params = self._repo_query(namespace, filter)
        with self._scope(timeout):
            items, total, _ = self._page(
                "/v2/manage/repos",
                params,
                offset,
                limit,
                self._parse_repo,
                self._namespace_context(namespace or ""),
            )
        return Page(tuple(items), offset, limit, total)

    def tags(self, namespace: str, repository: str, *, timeout: float | None = None) -> list[SwrTag]:
        """Every tag of ``namespace/repository``, newest push first as SWR sorts them:
        ``GET /v2/manage/namespaces/{namespace}/repos/{repository}/tags`` (``/`` sent as ``$``)."""
        _check_component("namespace", namespace)
        _check_component("repository", repository, nested=True)
        path = f"/v2/manage/namespaces/{namespace}/repos/{quote(repository.replace('/', '$'), safe='$')}/tags"

        def parse(row: Any) -> SwrTag | None:
            if not isinstance(row, Mapping) or not isinstance(row.get("Tag"), str):
                return None
            return SwrTag(
                namespace=namespace,
                repository=repository,
                tag=row["Tag"],
                digest=_text(row.get("digest")),
                size=_int(row.get("size")),
                updated=_text(row.get("updated")) or _text(row.get("created")),
                manifest_list=_int(row.get("tag_type")) == 1,
                path=_text(row.get("path")),
            )

        with self._scope(timeout):
            return self._all_pages(
                path, {}, parse, self._namespace_context(namespace, repository), lambda t: t.tag
            )

    # -- the registry ----------------------------------------------------------------------

    def _service(self, base_url: str, *, setting: str, where: str) -> HttpService:
        service = self._shared.service(base_url, where=where, setting=setting)
        with self._lock:
            if service not in self._used:
                self._used.append(service)
        return service

    def _registry(self, host: str) -> HttpService:
        base = self.config.swr_registry_url(host)
        return self._service(
            base, setting="MAI_WIDGETS_SWR_REGISTRY_ENDPOINT", where=f"the SWR registry {host}"
        )

    def registry(self, host: str) -> RegistryClient:
        """The Docker Registry v2 API of ``host`` (the region's registry, or another SWR host),
        signed in with this client's temporary login."""
        return RegistryClient(self, host)

    def _temporary_login(self, host: str, *, renew: bool = False) -> _Login:
        # One login for every thread of the session (a batch's concurrent checks): the first asks,
        # the others wait for its answer instead of asking too.
        stale = self._login
        with self._login_lock:
            login = self._login
            if login is not None and login.host == host and login.fresh and (not renew or login is not stale):
                return login
            return self._new_login(host)

    def _new_login(self, host: str) -> _Login:
        auth = self._shared.auth()
        manage = self._manage
        response = manage.request(
            "POST",
            "/v2/manage/utils/secret",
            params={"projectname": self.config.region},
            auth=auth,
            idempotent=False,
        )
        if response.status_code >= 300:
            raise manage.error(response)
        data = self._manage_json(response)
        auths = data.get("auths") if isinstance(data, Mapping) else None
        entry = auths.get(host) if isinstance(auths, Mapping) else None
        encoded = entry.get("auth") if isinstance(entry, Mapping) else None
        if not isinstance(encoded, str):
            raise malformed_answer(response, f"SWR's temporary login has no entry for {host}")
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, sep, password = "", "", ""
        if not sep or not user or not password:
            raise malformed_answer(response, "SWR's temporary login is not base64 user:password")
        self._login = _Login(host, user, password, _renew_at(response.headers.get("X-Swr-Expireat")))
        return self._login

    def _bearer_token(self, host: str, registry: HttpService, challenge: str, scope: str) -> str:
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.get("realm", "")
        parts = urlsplit(realm)
        # The temporary login goes only to the registry's own origin (scheme, host and port): the
        # endpoint called, or the registry the login was issued for.
        allowed = {_origin(registry.base_url), _origin(f"https://{host}")}
        if _origin(realm) is None or _origin(realm) not in allowed:
            raise ConfigError(
                f"the SWR registry {host} asked for credentials at another address "
                f"({_shown_origin(realm)}, not {_shown_origin(registry.base_url)}); nothing was sent",
                hint=N_("check MAI_WIDGETS_SWR_REGISTRY_ENDPOINT and the registry host in the path"),
            )
        origin = f"{parts.scheme}://{parts.netloc}"
        realm_service = self._service(
            origin, setting="MAI_WIDGETS_SWR_REGISTRY_ENDPOINT", where=f"the registry {host}"
        )
        query = {"service": params.get("service", ""), "scope": params.get("scope", scope)}
        for attempt in range(2):
            login = self._temporary_login(host, renew=attempt > 0)
            response = realm_service.request(
                "GET", parts.path or "/", params=query, auth=(login.user, login.password)
            )
            if response.status_code == 401 and attempt == 0:
                continue  # the temporary login may have expired: one fresh one
            if response.status_code >= 300:
                raise realm_service.error(response)
            data = registry.json(response)
            token = data.get("token") or data.get("access_token") if isinstance(data, Mapping) else None
            if not isinstance(token, str) or not token:
                raise malformed_answer(response, "the registry's token answer has no token")
            self._tokens[(registry.base_url, scope)] = token
            return token
        raise AssertionError("unreachable")

    def _registry_request(
        self,
        host: str,
        method: str,
        path: str,
        *,
        scope: str,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[requests.Response, HttpService]:
        """One call to the registry, answering its Bearer (or Basic) challenge for ``scope``."""
        registry = self._registry(host)
        plain = dict(headers or {})
        idempotent = method in ("GET", "HEAD")
        for attempt in range(3):
            token = self._tokens.get((registry.base_url, scope))
            sent = {**plain, "Authorization": f"Bearer {token}"} if token else plain
            response = registry.request(
                method, path, params=params, body=body, headers=sent, idempotent=idempotent
            )
            challenge = response.headers.get("WWW-Authenticate", "")
            if response.status_code == 401 and attempt < 2:
                self._tokens.pop((registry.base_url, scope), None)
                if challenge.lower().startswith("bearer"):
                    self._bearer_token(host, registry, challenge, scope)
                    continue
                if challenge.lower().startswith("basic"):
                    login = self._temporary_login(host, renew=attempt > 0)
                    response = registry.request(
                        method,
                        path,
                        params=params,
                        body=body,
                        headers=plain,
                        auth=(login.user, login.password),
                        idempotent=idempotent,
                    )
            return response, registry
        raise AssertionError("unreachable")

    def _registry_get(
        self, registry: RegistryClient, name: str, path: str, accept: str | None
    ) -> tuple[requests.Response, Callable[[requests.Response], ApiError]]:
        """GET from the registry with a pull token (and following a blob redirect), with the reader
        of its errors (the storage's, after a redirect)."""
        response = registry.request(
            "GET", path, scope=f"repository:{name}:pull", headers={"Accept": accept} if accept else None
        )
        if response.status_code in _REDIRECTS and response.headers.get("Location"):
            followed, storage = self._follow(response, registry.host)
            return followed, storage.error
        return response, registry.error

    def _follow(self, response: requests.Response, host: str) -> tuple[requests.Response, HttpService]:
        # Blobs may be served from object storage: redirects are followed without the registry's
        # credentials (as docker does); plain http only to loopback (the HTTP layer's rule).
        # Location is resolved as RFC 3986 says: "//host/x" is another host, "/x" a path here.
        seen = {response.url}
        service: HttpService | None = None
        while response.status_code in _REDIRECTS and response.headers.get("Location"):
            target = urljoin(response.url, response.headers["Location"])
            if target in seen or len(seen) > _MAX_REDIRECTS:
                raise ApiError(
                    response.status_code,
                    None,
                    f"the SWR registry {host} redirects in a loop "
                    f"({len(seen)} redirects, the last to {_shown_origin(target)})",
                    request_id_of(response.headers),
                    hint=N_(
                        "the registry or its storage is misconfigured: retry later, or pull the image "
                        "with docker to see what it answers"
                    ),
                )
            seen.add(target)
            parts = urlsplit(target)
            if parts.scheme not in ("https", "http") or not parts.hostname:
                raise malformed_answer(
                    response, f"the registry redirected to an unusable address ({parts.scheme}:)"
                )
            service = self._service(
                f"{parts.scheme}://{parts.netloc}",
                setting="MAI_WIDGETS_SWR_REGISTRY_ENDPOINT",
                where=f"the storage of {host}",
            )
            response = service.request(
                "GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            )
        assert service is not None
        return response, service

    @staticmethod
    def _verified(response: requests.Response, digest: str | None) -> bytes:
        """The answer's bytes, checked against the digest asked for and the one the registry claims."""
        content = response.content
        actual = "sha256:" + hashlib.sha256(content).hexdigest()
        claimed = response.headers.get("Docker-Content-Digest")
        for expected in (digest, claimed):
            if expected and _DIGEST.match(expected) and expected != actual:
                raise malformed_answer(response, "the registry's content does not match its digest")
        return content

    def _fetch(
        self, host: str, name: str, kind: str, reference: str, accept: str | None
    ) -> tuple[bytes, str, str]:
        """(content, media type, digest) of a manifest or blob; errors typed."""
        registry = self.registry(host)
        response, error = self._registry_get(registry, name, f"/v2/{name}/{kind}/{reference}", accept)
        if response.status_code >= 300:
            raise error(response)
        expected = reference if reference.startswith("sha256:") else None
        content = self._verified(response, expected)
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return content, media_type, "sha256:" + hashlib.sha256(content).hexdigest()

    def _document(self, content: bytes, response_hint: str) -> Any:
        from ..transport.http import loads

        try:
            return loads(content)
        except ValueError:
            raise MalformedResponseError(
                200, None, f"the registry's {response_hint} is not valid JSON"
            ) from None

    def inspect(
        self,
        swr_path: str,
        *,
        arch: Arch | str | None = None,
        tag_list: Sequence[SwrTag] | None = None,
        timeout: float | None = None,
    ) -> ImageInspection:
        """Digest, size, push time, platforms, user, ports and entrypoint of an SWR image.

        A host-less path is completed with the region's registry. For a manifest list / OCI index
        the user, ports and entrypoint come from the platform matching ``arch`` (or the first).
        ``tag_list`` (from :meth:`tags`) saves listing the repository's tags again.
        """
        text = swr_path.strip() if isinstance(swr_path, str) else ""
        path = complete_swr_path(text, self.config.region)
        parts = split_swr_path(path) if text else None
        if parts is None or "registry" not in parts:
            raise ValidationError(
                [FieldProblem("swr_path", swr_path_problem(text) if text else "is required")]
            )
        wanted = Arch(str(arch)) if arch is not None else None
        host, name = parts["registry"], f"{parts['namespace']}/{parts['name']}"
        reference = parts.get("tag") or parts["digest"]
        with self._scope(timeout):
            listed = list(tag_list) if tag_list is not None else self.tags(parts["namespace"], parts["name"])
            tag = next(
                (t for t in listed if t.tag == reference or (t.digest and t.digest == reference)), None
            )
            if tag is None and "tag" in parts:
                raise NotFoundError(
                    404,
                    None,
                    f"no tag {reference} in {name}",
                    hint=Msg("push the image first (docker push {path}), or pick an existing tag", path=path),
                )
            content, media_type, digest = self._fetch(host, name, "manifests", reference, ACCEPT_MANIFESTS)
            try:
                top = parse_manifest(self._document(content, "manifest"), media_type)
            except ValueError as exc:
                raise MalformedResponseError(200, None, f"unreadable manifest of {name}: {exc}") from None
            image = top
            if top.is_index:
                if not top.children:
                    raise MalformedResponseError(200, None, f"the index of {name} lists no platform")
                chosen = next((d for p, d in top.children if wanted is not None and p.arch == wanted), None)
                chosen = chosen or top.children[0][1]
                child, child_type, _ = self._fetch(host, name, "manifests", chosen, ACCEPT_MANIFESTS)
                try:
                    image = parse_manifest(self._document(child, "manifest"), child_type)
                except ValueError as exc:
                    raise MalformedResponseError(200, None, f"unreadable manifest of {name}: {exc}") from None
            if image.config_digest is None or not _DIGEST.match(image.config_digest):
                raise MalformedResponseError(200, None, f"the manifest of {name} names no sha256 config")
            blob, _, _ = self._fetch(host, name, "blobs", image.config_digest, None)
            try:
                config = parse_config(self._document(blob, "image config"))
            except ValueError as exc:
                raise MalformedResponseError(200, None, f"unreadable image config of {name}: {exc}") from None
        platforms = (
            tuple(p for p, _ in top.children)
            if top.is_index
            else ((config.platform,) if config.platform is not None else ())
        )
        return ImageInspection(
            swr_path=path,
            digest=digest,
            media_type=top.media_type,
            size=tag.size if tag is not None and tag.size > 0 else image.size,
            pushed=tag.updated or None if tag is not None else None,
            platforms=platforms,
            user=config.user,
            exposed_ports=config.exposed_ports,
            entrypoint=config.entrypoint,
            config_platform=config.platform,
        )


class RegistryClient:
    """One SWR registry host's Docker Registry v2 API, signed in by an :class:`SwrClient`.

    Each call answers the registry's Bearer (or Basic) challenge for its ``scope`` with SWR's
    temporary login, as ``docker pull``/``push`` do: :meth:`SwrClient.inspect` reads through it
    (``repository:NAME:pull``), and the emulator's push tool writes (``repository:NAME:pull,push``).
    """

    def __init__(self, swr: SwrClient, host: str) -> None:
        self._swr = swr
        self.host = host
        self._service = swr._registry(host)

    @property
    def base_url(self) -> str:
        return self._service.base_url

    def request(
        self,
        method: str,
        path: str,
        *,
        scope: str,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One call, with a bearer token for ``scope``; an HTTP error status is returned, not raised."""
        response, _ = self._swr._registry_request(
            self.host, method, path, scope=scope, params=params, body=body, headers=headers
        )
        return response

    def error(self, response: requests.Response) -> ApiError:
        """The registry's ``{"errors": [{"code", "message"}]}`` answer as a typed, redacted error."""
        return self._service.error(response)
