"""The emulator's SWR: the manage API and a Docker Registry HTTP API v2, on the emulator's port.

Manage routes authenticate as the API gateway does (the handlers' ``authenticate``: a token or an
AK/SK signature) and answer errors in SWR's documented shape,
``{"errors": [{"errorCode", "errorMessage"}], "error_code", "error_msg"}``. The registry
routes follow the registry token protocol: ``GET /v2/`` and unauthenticated reads answer 401 with a
``WWW-Authenticate: Bearer`` challenge; the realm takes the temporary login issued by
``POST /v2/manage/utils/secret`` (Basic) and issues a short-lived bearer token for the scope,
granting ``pull`` and, where these credentials may write, ``push``.

Pushes follow the Docker Registry HTTP API V2 (OCI distribution spec): blob uploads (monolithic,
or started with POST, sent in PATCH chunks and closed by PUT with the digest), then the manifest
by PUT. They change the live catalogue that registration reads (``EmulatorState.swr_catalogue``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from tornado.web import RequestHandler

from ..wire.contract import split_swr_path, swr_registry
from .base import ApiFailure, BaseHandler, EmulatorState, Reply, echo
from .defaults import DEMO_SWR_READ_ONLY
from .registry import (
    DIGEST_RE,
    MANIFEST_MEDIA_TYPES,
    MAX_UPLOAD_BYTES,
    Blob,
    ManifestRejected,
    Repository,
    SwrCatalogue,
    check_manifest,
    digest_of,
)

__all__ = ["SWR_TOKEN_PATH", "SwrState", "push_refusal", "swr_routes"]

# SWR's registry realm and service as its challenge names them (u: observed from `docker login`
# traffic, not documented); the emulator answers on its own host.
SWR_TOKEN_PATH = "/swr/auth/v2/registry/auth/"  # noqa: S105 (a URL path)
SWR_REGISTRY_SERVICE = "dockyard"
TOKEN_TTL_S = 300
_PAGE_MAX = 1000
_PAGE_DEFAULT = 100  # SDK ListReposDetails / ListRepositoryTags: limit defaults to 100
_SCOPE_RE = re.compile(r"^repository:(?P<name>[a-z0-9._/-]+):(?P<actions>[a-z,*]+)$")
_MANIFEST_ACCEPT_ALL = frozenset({"*/*", ""})
# SWR auth levels (manage API): 7 manage, 3 edit (push), 1 read.
_AUTH_EDIT = 3
# Blob uploads started and not finished: at most this many per temporary login (so abandoned ones
# block only their own login) and in all; one untouched for --swr-upload-idle-seconds is dropped.
_MAX_UPLOADS_PER_LOGIN = 8
_MAX_OPEN_UPLOADS = 64
_BLOB_TYPE = "application/octet-stream"  # as registries serve blobs


@dataclass
class Upload:
    """A blob upload in progress: the repository it is for, the login that started it, when it
    last received a chunk and the bytes received so far."""

    name: str
    owner: str
    touched_ms: int
    data: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True)
class Grant:
    """What a bearer token holds: the login it was issued to, until when, and the actions it
    grants on each repository."""

    user: str
    expires_ms: int
    access: Mapping[str, frozenset[str]]


def auth_level(namespace: str) -> int:
    """The demo user's SWR auth level in ``namespace``: 7 manage, 1 read (the shared ones)."""
    return 1 if namespace in DEMO_SWR_READ_ONLY else 7


def push_refusal(state: EmulatorState, namespace: str) -> str | None:
    """Why these credentials may not write into ``namespace`` (``None``: they may): a docker push,
    or a notebook saved as an image."""
    if namespace == state.settings.forbidden_namespace:
        return "requested access to the resource is denied"
    if namespace not in state.swr_catalogue.organizations:
        # SWR makes no organization on push: it must be created first (SWR user guide,
        # "Creating an Organization", before "Uploading an Image Through a Container Engine").
        return f"the SWR organization {echo(namespace)} does not exist: create it first"
    if auth_level(namespace) < _AUTH_EDIT:
        return f"read-only access to the SWR organization {echo(namespace)}: pushing needs edit rights"
    return None


def _swr_failure(status: int, code: str, message: str) -> ApiFailure:
    return ApiFailure(status, code, message)


def swr_error_body(code: str, message: str) -> dict[str, Any]:
    """SWR's error body: the list the Terraform provider reads (``errors[0].errorCode``) and the
    flat pair (API-NOTES, "Fidelity notes, second pass"); the legacy list form is not used here."""
    return {
        "errors": [{"errorCode": code, "errorMessage": message}],
        "error_code": code,
        "error_msg": message,
    }


@dataclass
class SwrState:
    """The catalogue, the temporary logins and the bearer tokens issued (in memory)."""

    state: EmulatorState
    catalogue: SwrCatalogue
    logins: dict[str, tuple[str, int]] = field(default_factory=dict)  # user -> (password, expires ms)
    tokens: dict[str, Grant] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)  # upload id -> upload

    @property
    def forbidden(self) -> str:
        return self.state.settings.forbidden_namespace

    def auth_level(self, namespace: str) -> int:
        return auth_level(namespace)

    def push_refusal(self, namespace: str) -> str | None:
        """Why these credentials may not push into ``namespace`` (``None``: they may)."""
        return push_refusal(self.state, namespace)

    def grant(self, name: str, wanted: frozenset[str]) -> frozenset[str]:
        """The actions of ``wanted`` (pull, push, ``*``) a token may hold on repository ``name``."""
        namespace = name.split("/", 1)[0]
        if namespace == self.forbidden:
            return frozenset()  # a namespace these credentials cannot read: nothing
        granted = {"pull"} if wanted & {"pull", "*"} else set()
        if wanted & {"push", "*"} and self.push_refusal(namespace) is None:
            granted.add("push")
        return frozenset(granted)

    def open_uploads(self) -> dict[str, Upload]:
        """The uploads in progress, once those idle past ``--swr-upload-idle-seconds`` are dropped."""
        now = self.state.clock()
        idle_ms = round(self.state.settings.swr_upload_idle_seconds * 1000)
        for upload_id in [u for u, up in self.uploads.items() if up.touched_ms + idle_ms <= now]:
            del self.uploads[upload_id]
        return self.uploads

    def open_upload(self, name: str, owner: str) -> str | None:
        """A new upload's id, or ``None`` when ``owner`` (or everyone together) has too many open."""
        now = self.state.clock()
        self.open_uploads()
        mine = sum(1 for up in self.uploads.values() if up.owner == owner)
        if mine >= _MAX_UPLOADS_PER_LOGIN or len(self.uploads) >= _MAX_OPEN_UPLOADS:
            return None
        upload_id = str(uuid.uuid4())
        self.uploads[upload_id] = Upload(name, owner, now)
        return upload_id

    def issue_login(self) -> tuple[str, str, int]:
        """A temporary login: user, password and its expiry (ms since the epoch)."""
        # SWR's login user is "{region}@{access key}"; a fresh id here, not the caller's AK
        user = f"{self.state.settings.region}@{secrets.token_hex(10).upper()}"
        password = secrets.token_hex(32)
        expires = self.state.clock() + int(self.state.settings.swr_login_seconds * 1000)
        self.logins[password] = (user, expires)
        return user, password, expires

    def login_valid(self, user: str, password: str) -> bool:
        found = self.logins.get(password)
        return (
            found is not None
            and hmac.compare_digest(found[0].encode(), user.encode())
            and found[1] > self.state.clock()
        )

    def issue_token(self, user: str, access: Mapping[str, frozenset[str]]) -> str:
        token = "swr" + secrets.token_urlsafe(40)
        now = self.state.clock()
        for old in [t for t, grant in self.tokens.items() if grant.expires_ms <= now]:
            del self.tokens[old]
        self.tokens[token] = Grant(user, now + TOKEN_TTL_S * 1000, dict(access))
        return token

    def token_grant(self, token: str) -> Grant | None:
        found = self.tokens.get(token)
        if found is None or found.expires_ms <= self.state.clock():
            return None
        return found


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- manage API -------------------------------------------------------------------------------


class _ManageHandler(BaseHandler):
    swr: SwrState

    def initialize(self, state: EmulatorState, swr: SwrState) -> None:  # type: ignore[override]
        super().initialize(state)
        self.swr = swr

    def serve(self, operation: Any) -> None:
        try:
            self.authenticate(None)
            reply: Reply = operation()
        except ApiFailure as exc:
            if exc.code.startswith("SVCSTG.SWR"):  # SWR's own errors, in SWR's shape
                reply = Reply(exc.status, swr_error_body(exc.code, exc.message), exc.headers)
            else:  # the gateway's (authentication) keep the gateway's shape
                reply = self.failure_reply(exc)
        self.send_reply(reply)

    def readable(self, namespace: str) -> None:
        if namespace == self.swr.forbidden:
            raise _swr_failure(403, "SVCSTG.SWR.4030170", "Insufficient permissions")

    def page_args(self) -> tuple[int, int]:
        try:
            offset = int(self.get_query_argument("offset", "0"))
            limit = int(self.get_query_argument("limit", "") or _PAGE_DEFAULT)
        except ValueError:
            raise _swr_failure(
                400, "SVCSTG.SWR.4000014", "Invalid parameter: limit and offset are integers"
            ) from None
        if offset < 0 or not 1 <= limit <= _PAGE_MAX:
            raise _swr_failure(
                400, "SVCSTG.SWR.4000014", f"Invalid parameter: offset >= 0, 1 <= limit <= {_PAGE_MAX}"
            )
        return offset, limit

    def paged(self, rows: list[dict[str, Any]], *, total_range: bool = False) -> Reply:
        """One page of ``rows`` and ``Content-Range: offset-count/total``; repository rows also
        carry the total as ``total_range``."""
        offset, limit = self.page_args()
        chosen = rows[offset : offset + limit]
        total = len(rows)
        if total_range:
            chosen = [{**row, "total_range": total} for row in chosen]
        return Reply(200, chosen, {"Content-Range": f"{offset}-{len(chosen)}/{total}"})


class NamespacesHandler(_ManageHandler):
    """``GET /v2/manage/namespaces``: the organizations these credentials can see."""

    def get(self) -> None:
        self.serve(self.namespaces)

    def namespaces(self) -> Reply:
        settings = self.state.settings
        rows = [
            {"id": i + 1, "name": ns, "creator_name": settings.iam_user, "auth": self.swr.auth_level(ns)}
            for i, ns in enumerate(self.swr.catalogue.namespaces())
            if ns != self.swr.forbidden
        ]
        return Reply(200, {"namespaces": rows})


def _repo_row(repo: Repository) -> dict[str, Any]:
    pushed = sorted(entry.pushed for entry in repo.tags.values())
    return {
        "name": repo.name,
        "namespace": repo.namespace,
        "category": "other",
        "description": "",
        "size": sum(entry.size for entry in repo.tags.values()),
        "is_public": False,
        "num_images": len(repo.tags),
        "num_download": 0,
        "url": "",
        "path": f"{repo.registry}/{repo.namespace}/{repo.name}",
        "internal_path": f"{repo.registry}/{repo.namespace}/{repo.name}",
        "created_at": pushed[0] if pushed else "",
        "updated_at": pushed[-1] if pushed else "",
        "domain_name": repo.namespace,
        "status": False,
        "tags": sorted(repo.tags),
    }


def _filter_terms(text: str) -> dict[str, str]:
    # The compound form "namespace::x|name::y" (older SWR clients); a bare word filters names.
    if "::" not in text:
        return {"name": text}
    terms: dict[str, str] = {}
    for part in text.split("|"):
        key, _, value = part.partition("::")
        terms[key.strip()] = value.strip()
    return terms


class ReposHandler(_ManageHandler):
    """``GET /v2/manage/repos?namespace=&name=&limit=&offset=``; the total in ``Content-Range``."""

    def get(self) -> None:
        self.serve(self.repos)

    def repos(self) -> Reply:
        terms = _filter_terms(self.get_query_argument("filter", ""))
        namespace = self.get_query_argument("namespace", "") or terms.get("namespace", "")
        # a "/" inside a repository name travels as "$", as in the tags path
        name = (self.get_query_argument("name", "") or terms.get("name", "")).replace("$", "/")
        if namespace:
            self.readable(namespace)
        rows = [
            _repo_row(repo)
            for repo in self.swr.catalogue.listed()
            if repo.namespace != self.swr.forbidden
            and (not namespace or repo.namespace == namespace)
            and name in repo.name
        ]
        return self.paged(rows, total_range=True)


class TagsHandler(_ManageHandler):
    """``GET /v2/manage/namespaces/{namespace}/repos/{repository}/tags`` (``$`` stands for ``/``)."""

    def get(self, namespace: str, repository: str) -> None:
        self.serve(lambda: self.tags(namespace, repository.replace("$", "/")))

    def tags(self, namespace: str, repository: str) -> Reply:
        self.readable(namespace)
        repo = self.swr.catalogue.repository(namespace, repository)
        if repo is None or not repo.tags:
            raise _swr_failure(
                404, "SVCSTG.SWR.4040009", f"Repository {echo(f'{namespace}/{repository}')} not found"
            )
        rows = []
        for i, (tag, entry) in enumerate(
            sorted(list(repo.tags.items()), key=lambda kv: kv[1].pushed, reverse=True)
        ):
            path = f"{repo.registry}/{namespace}/{repository}:{tag}"
            rows.append(
                {
                    "id": i + 1,
                    "Tag": tag,
                    "image_id": entry.top.digest.removeprefix("sha256:"),
                    "manifest": entry.top.content.decode(),
                    "digest": entry.top.digest,
                    "schema": 2,
                    "path": path,
                    "internal_path": path,
                    "size": entry.size,
                    "is_trusted": False,
                    "created": entry.pushed,
                    "updated": entry.pushed,
                    "deleted": None,
                    "domain_id": "",
                    "tag_type": 1 if "manifests" in json.loads(entry.top.content) else 0,
                }
            )
        return self.paged(rows)


class SecretHandler(_ManageHandler):
    """``POST /v2/manage/utils/secret?projectname={region}``: a temporary docker login."""

    def post(self) -> None:
        self.serve(self.secret)

    def secret(self) -> Reply:
        region = self.state.settings.region
        if self.get_query_argument("projectname", region) != region:
            raise _swr_failure(400, "SVCSTG.SWR.4000014", "Invalid parameter: projectname must be the region")
        user, password, expires = self.swr.issue_login()
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        registry = swr_registry(region)
        expire_at = datetime.fromtimestamp(expires / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        headers = {
            "X-Swr-Dockerlogin": f"docker login -u {user} -p {password} {registry}",
            "X-Swr-Expireat": expire_at,
        }
        return Reply(200, {"auths": {registry: {"auth": auth}}}, headers)


# -- registry v2 --------------------------------------------------------------------------------


def _split_name(name: str) -> tuple[str, str]:
    namespace, _, rest = name.partition("/")
    return namespace, rest


class _RegistryHandler(RequestHandler):
    swr: SwrState

    def initialize(self, swr: SwrState) -> None:
        self.swr = swr

    def set_default_headers(self) -> None:
        self.set_header("Docker-Distribution-Api-Version", "registry/2.0")
        self.set_header("Content-Type", "application/json; charset=utf-8")

    def compute_etag(self) -> str | None:
        return None

    def check_xsrf_cookie(self) -> None:
        return None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # tornado's own errors (a method a route does not have, a bad argument) in the registry's shape
        code = "UNSUPPORTED" if status_code == 405 else "UNKNOWN"
        self.finish(json.dumps({"errors": [{"code": code, "message": self._reason, "detail": None}]}))

    def fail(
        self,
        status: int,
        code: str,
        message: str,
        challenge_scope: str | None = None,
        *,
        detail: Any = None,
        insufficient_scope: bool = False,
    ) -> None:
        self.set_status(status)
        if status == 401:
            realm = f"{self.request.protocol}://{self.request.host}{SWR_TOKEN_PATH}"
            value = f'Bearer realm="{realm}",service="{SWR_REGISTRY_SERVICE}"'
            if challenge_scope:
                value += f',scope="{challenge_scope}"'
            if insufficient_scope:
                value += ',error="insufficient_scope"'
            self.set_header("WWW-Authenticate", value)
        self.finish(json.dumps({"errors": [{"code": code, "message": message, "detail": detail}]}))

    def bearer_grant(self) -> Grant | None:
        header = self.request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        return self.swr.token_grant(header[len("Bearer ") :].strip())

    def authorized(self, name: str, action: str = "pull") -> Grant | None:
        """The token's grant to go on; otherwise ``None``, the 401 challenge or the 403 sent."""
        grant = self.bearer_grant()
        scope = f"repository:{name}:pull,push" if action == "push" else f"repository:{name}:pull"
        if grant is None:
            self.fail(401, "UNAUTHORIZED", "authentication required", scope)
            return None
        if action in grant.access.get(name, frozenset()):
            return grant
        if action == "push":
            refusal = self.swr.push_refusal(_split_name(name)[0])
            if refusal is None:  # allowed, but this token was issued for pulling: ask for a new one
                self.fail(401, "UNAUTHORIZED", "authentication required", scope, insufficient_scope=True)
            else:
                self.fail(403, "DENIED", refusal)
            return None
        self.fail(403, "DENIED", "requested access to the resource is denied")
        return None

    def repository(self, name: str) -> Repository | None:
        repo = self.swr.catalogue.repository(*_split_name(name))
        if repo is None:
            self.fail(404, "NAME_UNKNOWN", "repository name not known to registry")
        return repo

    def send_blob(self, blob: Blob, head: bool) -> None:
        self.set_header("Content-Type", blob.media_type)
        self.set_header("Docker-Content-Digest", blob.digest)
        self.set_header("Content-Length", str(len(blob.content)))
        if head:
            self.finish()
        else:
            self.finish(blob.content)

    def created(self, location: str, digest: str) -> None:
        self.set_status(201)
        self.set_header("Location", location)
        self.set_header("Docker-Content-Digest", digest)
        self.set_header("Content-Length", "0")
        self.finish()


class PingHandler(_RegistryHandler):
    """``GET /v2/``: 200 with a valid bearer token, else the challenge."""

    def get(self) -> None:
        if self.bearer_grant() is None:
            self.fail(401, "UNAUTHORIZED", "authentication required")
            return
        self.finish("{}")


def _accepts(accept_header: str, media_type: str) -> bool:
    accepted = {part.split(";")[0].strip() for part in accept_header.split(",")}
    return media_type in accepted or bool(accepted & _MANIFEST_ACCEPT_ALL)


class ManifestHandler(_RegistryHandler):
    """``GET/HEAD /v2/{name}/manifests/{tag or digest}``, and ``PUT`` to push one."""

    def get(self, name: str, reference: str) -> None:
        self.serve(name, reference, head=False)

    def head(self, name: str, reference: str) -> None:
        self.serve(name, reference, head=True)

    def serve(self, name: str, reference: str, *, head: bool) -> None:
        if not self.authorized(name):
            return
        repo = self.repository(name)
        if repo is None:
            return
        if reference.startswith("sha256:"):
            blob = repo.blobs.get(reference)
            if blob is not None and blob.media_type not in MANIFEST_MEDIA_TYPES:
                blob = None  # a config or layer blob is not a manifest
        else:
            entry = repo.tags.get(reference)
            blob = entry.top if entry is not None else None
        if blob is None:
            self.fail(404, "MANIFEST_UNKNOWN", f"manifest unknown: {reference}")
            return
        if not _accepts(self.request.headers.get("Accept", ""), blob.media_type):
            # Registries answer an index only to clients that accept it (no schema 1 conversion here).
            self.fail(404, "MANIFEST_UNKNOWN", f"manifest unknown in the accepted media types: {reference}")
            return
        self.send_blob(blob, head)

    def put(self, name: str, reference: str) -> None:
        if not self.authorized(name, "push"):
            return
        namespace, rest = _split_name(name)
        catalogue = self.swr.catalogue
        content = bytes(self.request.body)
        digest = digest_of(content)
        if reference.startswith("sha256:") and reference != digest:
            self.fail(400, "DIGEST_INVALID", "the manifest's sha256 is not the digest in the URL")
            return
        with catalogue.lock:
            repo = catalogue.repository(namespace, rest) or Repository(namespace, rest, catalogue.registry)
            try:
                media_type, size = check_manifest(repo, content, self.request.headers.get("Content-Type", ""))
            except ManifestRejected as exc:
                self.fail(400, exc.code, exc.message, detail=exc.detail)
                return
            blob = Blob(media_type, content, digest)
            path = catalogue.push_manifest(
                namespace, rest, reference, blob, size, _iso(self.swr.state.clock())
            )
        self.swr.state.store.remember_swr_image(path)  # pushed again after a forced delete
        self.created(f"/v2/{name}/manifests/{digest}", digest)


_TAGS_PAGE_MAX = 1000


class TagListHandler(_RegistryHandler):
    """``GET /v2/{name}/tags/list?n=&last=``: the repository's tags in lexical order, a page of
    ``n`` after ``last``, with a ``Link: <...>; rel="next"`` header while more remain."""

    def get(self, name: str) -> None:
        if not self.authorized(name):
            return
        repo = self.repository(name)
        if repo is None:
            return
        with self.swr.catalogue.lock:
            tags = sorted(repo.tags)
        if not tags:  # uploaded blobs alone make no repository a client can list
            self.fail(404, "NAME_UNKNOWN", "repository name not known to registry")
            return
        last = self.get_query_argument("last", "")
        if last:
            tags = [t for t in tags if t > last]
        count = self.get_query_argument("n", "")
        if count:
            if not count.isascii() or not count.isdigit() or not 1 <= int(count) <= _TAGS_PAGE_MAX:
                self.fail(400, "PAGINATION_NUMBER_INVALID", f"n must be a number from 1 to {_TAGS_PAGE_MAX}")
                return
            if len(tags) > int(count):
                tags = tags[: int(count)]
                query = urlencode({"n": count, "last": tags[-1]})
                self.set_header("Link", f'</v2/{name}/tags/list?{query}>; rel="next"')
        self.finish(json.dumps({"name": name, "tags": tags}))


class BlobHandler(_RegistryHandler):
    """``GET/HEAD /v2/{name}/blobs/{digest}``: every blob a served manifest names (config, layers)."""

    def get(self, name: str, digest: str) -> None:
        self.serve(name, digest, head=False)

    def head(self, name: str, digest: str) -> None:
        self.serve(name, digest, head=True)

    def serve(self, name: str, digest: str, *, head: bool) -> None:
        if not self.authorized(name):
            return
        repo = self.repository(name)
        if repo is None:
            return
        blob = repo.blobs.get(digest)
        if blob is None:
            self.fail(404, "BLOB_UNKNOWN", f"blob unknown to registry: {digest}")
            return
        self.send_blob(blob, head)


class _UploadBase(_RegistryHandler):
    def upload_answer(self, status: int, name: str, upload_id: str, size: int) -> None:
        """202 (or 204) with where to send the rest and what has arrived (``Range: 0-0`` for nothing)."""
        self.set_status(status)
        self.set_header("Location", f"/v2/{name}/blobs/uploads/{upload_id}")
        self.set_header("Docker-Upload-UUID", upload_id)
        self.set_header("Range", f"0-{max(0, size - 1)}")
        self.set_header("Content-Length", "0")
        self.finish()

    def too_large(self) -> None:
        self.fail(
            413, "SIZE_INVALID", f"the emulator keeps blobs in memory: at most {MAX_UPLOAD_BYTES} bytes"
        )

    def complete(self, name: str, data: bytes, digest: str | None) -> None:
        """Verify the blob against ``digest`` and keep it: 201, or 400 ``DIGEST_INVALID``."""
        if digest is None or not DIGEST_RE.match(digest):
            self.fail(400, "DIGEST_INVALID", "the digest parameter must be sha256:<64 hex digits>")
            return
        if digest_of(data) != digest:
            self.fail(400, "DIGEST_INVALID", "the uploaded content does not match the digest", detail=digest)
            return
        namespace, rest = _split_name(name)
        self.swr.catalogue.push_blob(namespace, rest, Blob(_BLOB_TYPE, data, digest))
        self.created(f"/v2/{name}/blobs/{digest}", digest)


class UploadStartHandler(_UploadBase):
    """``POST /v2/{name}/blobs/uploads/``: start an upload (202); with ``?digest=`` and the blob as
    the body, a monolithic upload (201). A ``mount`` is not done: a plain upload starts (the spec's
    fallback)."""

    def post(self, name: str) -> None:
        grant = self.authorized(name, "push")
        if grant is None:
            return
        digest = self.get_query_argument("digest", None)
        if digest is not None:
            self.complete(name, bytes(self.request.body), digest)
            return
        upload_id = self.swr.open_upload(name, grant.user)
        if upload_id is None:
            self.fail(429, "TOOMANYREQUESTS", "too many blob uploads in progress: finish or cancel one")
            return
        self.upload_answer(202, name, upload_id, 0)


_CONTENT_RANGE_RE = re.compile(r"^(?:bytes[ =])?([0-9]{1,19})-([0-9]{1,19})$")


class UploadHandler(_UploadBase):
    """``/v2/{name}/blobs/uploads/{id}``: ``PATCH`` a chunk, ``PUT ?digest=`` (with an optional last
    chunk) to finish, ``GET`` the progress, ``DELETE`` to cancel."""

    def upload(self, name: str, upload_id: str) -> Upload | None:
        if not self.authorized(name, "push"):
            return None
        upload = self.swr.open_uploads().get(upload_id)
        if upload is None or upload.name != name:
            self.fail(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
            return None
        return upload

    def get(self, name: str, upload_id: str) -> None:
        upload = self.upload(name, upload_id)
        if upload is not None:
            self.upload_answer(204, name, upload_id, len(upload.data))

    def patch(self, name: str, upload_id: str) -> None:
        upload = self.upload(name, upload_id)
        if upload is None:
            return
        chunk = self.request.body
        declared = self.request.headers.get("Content-Range")
        if declared is not None:
            m = _CONTENT_RANGE_RE.match(declared.strip())
            if m is None:
                self.fail(400, "BLOB_UPLOAD_INVALID", "Content-Range must be <start>-<end>")
                return
            if int(m[1]) != len(upload.data):  # chunks come in order, each after the last
                self.set_header("Range", f"0-{max(0, len(upload.data) - 1)}")
                self.fail(416, "BLOB_UPLOAD_INVALID", f"the next chunk starts at byte {len(upload.data)}")
                return
        if len(upload.data) + len(chunk) > MAX_UPLOAD_BYTES:
            del self.swr.uploads[upload_id]
            self.too_large()
            return
        upload.data += chunk
        upload.touched_ms = self.swr.state.clock()
        self.upload_answer(202, name, upload_id, len(upload.data))

    def put(self, name: str, upload_id: str) -> None:
        upload = self.upload(name, upload_id)
        if upload is None:
            return
        del self.swr.uploads[upload_id]  # finished, well or not: a failed one is started again
        if len(upload.data) + len(self.request.body) > MAX_UPLOAD_BYTES:
            self.too_large()
            return
        upload.data += self.request.body
        self.complete(name, bytes(upload.data), self.get_query_argument("digest", None))

    def delete(self, name: str, upload_id: str) -> None:
        if self.upload(name, upload_id) is not None:
            self.swr.uploads.pop(upload_id, None)
            self.set_status(204)
            self.finish()


class TokenHandler(_RegistryHandler):
    """The realm: ``GET ?service=&scope=repository:{name}:pull[,push]`` with the temporary login (Basic)."""

    def get(self) -> None:
        header = self.request.headers.get("Authorization", "")
        user = password = ""
        if header.startswith("Basic "):
            try:
                user, _, password = (
                    base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
                )
            except (binascii.Error, UnicodeDecodeError):
                user = password = ""
        if not self.swr.login_valid(user, password):
            self.fail(401, "UNAUTHORIZED", "the temporary login is wrong or has expired")
            return
        access: dict[str, frozenset[str]] = {}
        for scope in self.get_query_arguments("scope"):
            for item in scope.split(" "):
                m = _SCOPE_RE.match(item)
                if m and split_swr_path(m["name"] + ":x") is not None:
                    granted = self.swr.grant(m["name"], frozenset(m["actions"].split(",")))
                    access[m["name"]] = access.get(m["name"], frozenset()) | granted
        token = self.swr.issue_token(user, access)
        issued = _iso(int(time.time() * 1000))
        self.finish(
            json.dumps(
                {"token": token, "access_token": token, "expires_in": TOKEN_TTL_S, "issued_at": issued}
            )
        )


def swr_routes(state: EmulatorState) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The SWR manage and registry routes, for the emulator's tornado application."""
    swr = SwrState(state, state.swr_catalogue)
    manage: dict[str, Any] = {"state": state, "swr": swr}
    registry: dict[str, Any] = {"swr": swr}
    name = r"([a-z0-9._-]+(?:/[a-z0-9._-]+)+)"
    return [
        (r"/v2/manage/namespaces/?", NamespacesHandler, manage),
        (r"/v2/manage/repos/?", ReposHandler, manage),
        (r"/v2/manage/namespaces/([^/]+)/repos/([^/]+)/tags/?", TagsHandler, manage),
        (r"/v2/manage/utils/secret/?", SecretHandler, manage),
        (r"/v2/", PingHandler, registry),
        (SWR_TOKEN_PATH, TokenHandler, registry),
        (
            rf"/v2/{name}/manifests/([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}|sha256:[a-f0-9]{{64}})",
            ManifestHandler,
            registry,
        ),
        (rf"/v2/{name}/tags/list", TagListHandler, registry),
        (rf"/v2/{name}/blobs/(sha256:[a-f0-9]{{64}})", BlobHandler, registry),
        (rf"/v2/{name}/blobs/uploads/?", UploadStartHandler, registry),
        (rf"/v2/{name}/blobs/uploads/([A-Za-z0-9-]{{1,64}})", UploadHandler, registry),
    ]
