"""The emulator's SWR: the manage API and a Docker Registry HTTP API v2, on the emulator's port.

Manage routes authenticate as the API gateway does (the handlers' ``authenticate``: a token or an
AK/SK signature) and answer errors as SWR does, ``{"errorCode", "errorMessage"}``. The registry
routes follow the registry token protocol: ``GET /v2/`` and unauthenticated reads answer 401 with a
``WWW-Authenticate: Bearer`` challenge; the realm takes the temporary login issued by
``POST /v2/manage/utils/secret`` (Basic) and issues a short-lived bearer token for the scope.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tornado.web import RequestHandler

from ..contract import split_swr_path, swr_registry
from .defaults import DEMO_SWR_READ_ONLY
from .registry import Blob, Repository, SwrCatalogue
from .server import ApiFailure, BaseHandler, EmulatorState, Reply

__all__ = ["SWR_TOKEN_PATH", "SwrState", "swr_routes"]

# SWR's registry realm and service as its challenge names them (u: observed from `docker login`
# traffic, not documented); the emulator answers on its own host.
SWR_TOKEN_PATH = "/swr/auth/v2/registry/auth/"  # noqa: S105 (a URL path)
SWR_REGISTRY_SERVICE = "dockyard"
LOGIN_TTL_MS = 6 * 3600 * 1000  # the temporary login's lifetime (u: SWR says "temporary")
TOKEN_TTL_S = 300
_PAGE_MAX = 1000
_SCOPE_RE = re.compile(r"^repository:(?P<name>[a-z0-9._/-]+):(?P<actions>[a-z,*]+)$")
_MANIFEST_ACCEPT_ALL = frozenset({"*/*", ""})


def _swr_failure(status: int, code: str, message: str) -> ApiFailure:
    return ApiFailure(status, code, message)


@dataclass
class SwrState:
    """The catalogue, the temporary logins and the bearer tokens issued (in memory)."""

    state: EmulatorState
    catalogue: SwrCatalogue
    logins: dict[str, tuple[str, int]] = field(default_factory=dict)  # user -> (password, expires ms)
    tokens: dict[str, tuple[int, frozenset[str]]] = field(default_factory=dict)  # token -> (expiry, names)

    @property
    def forbidden(self) -> str:
        return self.state.settings.forbidden_namespace

    def auth_level(self, namespace: str) -> int:
        return 1 if namespace in DEMO_SWR_READ_ONLY else 7

    def issue_login(self) -> tuple[str, str]:
        # SWR's login user is "{region}@{access key}"; a fresh id here, not the caller's AK
        user = f"{self.state.settings.region}@{secrets.token_hex(10).upper()}"
        password = secrets.token_hex(32)
        self.logins[password] = (user, self.state.clock() + LOGIN_TTL_MS)
        return user, password

    def login_valid(self, user: str, password: str) -> bool:
        found = self.logins.get(password)
        return (
            found is not None
            and hmac.compare_digest(found[0].encode(), user.encode())
            and found[1] > self.state.clock()
        )

    def issue_token(self, names: frozenset[str]) -> str:
        token = "swr" + secrets.token_urlsafe(40)
        self.tokens[token] = (self.state.clock() + TOKEN_TTL_S * 1000, names)
        return token

    def token_names(self, token: str) -> frozenset[str] | None:
        found = self.tokens.get(token)
        if found is None or found[0] <= self.state.clock():
            return None
        return found[1]


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
            if exc.code.startswith("SVCSTG.SWR"):  # SWR's own errors: errorCode / errorMessage
                reply = Reply(exc.status, {"errorCode": exc.code, "errorMessage": exc.message})
            else:  # the gateway's (authentication) keep the gateway's shape
                reply = self.failure_reply(exc)
        self.send_reply(reply)

    def readable(self, namespace: str) -> None:
        if namespace == self.swr.forbidden:
            raise _swr_failure(403, "SVCSTG.SWR.4030170", "Insufficient permissions")

    def page_args(self) -> tuple[int, int | None]:
        try:
            offset = int(self.get_query_argument("offset", "0"))
            raw_limit = self.get_query_argument("limit", "")
            limit = int(raw_limit) if raw_limit else None
        except ValueError:
            raise _swr_failure(
                400, "SVCSTG.SWR.4000014", "Invalid parameter: limit and offset are integers"
            ) from None
        if offset < 0 or (limit is not None and not 1 <= limit <= _PAGE_MAX):
            raise _swr_failure(
                400, "SVCSTG.SWR.4000014", f"Invalid parameter: offset >= 0, 1 <= limit <= {_PAGE_MAX}"
            )
        return offset, limit

    def paged(self, rows: list[Any]) -> Reply:
        offset, limit = self.page_args()
        chosen = rows[offset:] if limit is None else rows[offset : offset + limit]
        total = len(rows)
        end = offset + len(chosen) - 1 if chosen else offset
        return Reply(200, chosen, {"Content-Range": f"{offset}-{end}/{total}"})


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
    pushed = sorted(entry.spec.pushed for entry in repo.tags.values())
    return {
        "name": repo.name,
        "namespace": repo.namespace,
        "category": "other",
        "description": "",
        "size": sum(entry.spec.size for entry in repo.tags.values()),
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
        name = self.get_query_argument("name", "") or terms.get("name", "")
        if namespace:
            self.readable(namespace)
        rows = [
            _repo_row(repo)
            for (ns, repo_name), repo in sorted(self.swr.catalogue.repositories.items())
            if ns != self.swr.forbidden and (not namespace or ns == namespace) and name in repo_name
        ]
        return self.paged(rows)


class TagsHandler(_ManageHandler):
    """``GET /v2/manage/namespaces/{namespace}/repos/{repository}/tags`` (``$`` stands for ``/``)."""

    def get(self, namespace: str, repository: str) -> None:
        self.serve(lambda: self.tags(namespace, repository.replace("$", "/")))

    def tags(self, namespace: str, repository: str) -> Reply:
        self.readable(namespace)
        repo = self.swr.catalogue.repository(namespace, repository)
        if repo is None:
            raise _swr_failure(404, "SVCSTG.SWR.4040009", f"Repository {namespace}/{repository} not found")
        rows = []
        for i, (tag, entry) in enumerate(
            sorted(repo.tags.items(), key=lambda kv: kv[1].spec.pushed, reverse=True)
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
                    "size": entry.spec.size,
                    "is_trusted": False,
                    "created": entry.spec.pushed,
                    "updated": entry.spec.pushed,
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
        user, password = self.swr.issue_login()
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        return Reply(200, {"auths": {swr_registry(region): {"auth": auth}}})


# -- registry v2 --------------------------------------------------------------------------------


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

    def fail(self, status: int, code: str, message: str, challenge_scope: str | None = None) -> None:
        self.set_status(status)
        if status == 401:
            realm = f"{self.request.protocol}://{self.request.host}{SWR_TOKEN_PATH}"
            value = f'Bearer realm="{realm}",service="{SWR_REGISTRY_SERVICE}"'
            if challenge_scope:
                value += f',scope="{challenge_scope}"'
            self.set_header("WWW-Authenticate", value)
        self.finish(json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}))

    def bearer_names(self) -> frozenset[str] | None:
        header = self.request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        return self.swr.token_names(header[len("Bearer ") :].strip())

    def authorized(self, name: str) -> bool:
        """True to go on; otherwise the 401 challenge or the 403 has been sent."""
        names = self.bearer_names()
        scope = f"repository:{name}:pull"
        if names is None:
            self.fail(401, "UNAUTHORIZED", "authentication required", scope)
            return False
        if name not in names:
            self.fail(403, "DENIED", "requested access to the resource is denied")
            return False
        return True

    def repository(self, name: str) -> Repository | None:
        namespace, _, rest = name.partition("/")
        repo = self.swr.catalogue.repository(namespace, rest)
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


class PingHandler(_RegistryHandler):
    """``GET /v2/``: 200 with a valid bearer token, else the challenge."""

    def get(self) -> None:
        if self.bearer_names() is None:
            self.fail(401, "UNAUTHORIZED", "authentication required")
            return
        self.finish("{}")


def _accepts(accept_header: str, media_type: str) -> bool:
    accepted = {part.split(";")[0].strip() for part in accept_header.split(",")}
    return media_type in accepted or bool(accepted & _MANIFEST_ACCEPT_ALL)


class ManifestHandler(_RegistryHandler):
    """``GET/HEAD /v2/{name}/manifests/{tag or digest}``."""

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
            if blob is not None and "manifest" not in blob.media_type:
                blob = None  # a config blob is not a manifest
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


class BlobHandler(_RegistryHandler):
    """``GET/HEAD /v2/{name}/blobs/{digest}`` (config blobs; layer content is not emulated)."""

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


class TokenHandler(_RegistryHandler):
    """The realm: ``GET ?service=&scope=repository:{name}:pull`` with the temporary login (Basic)."""

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
        names: set[str] = set()
        for scope in self.get_query_arguments("scope"):
            for item in scope.split(" "):
                m = _SCOPE_RE.match(item)
                # a namespace these credentials cannot read: the token grants nothing
                readable = m is not None and m["name"].split("/", 1)[0] != self.swr.forbidden
                if m and readable and split_swr_path(m["name"] + ":x") is not None:
                    names.add(m["name"])
        token = self.swr.issue_token(frozenset(names))
        issued = _iso(int(time.time() * 1000))
        self.finish(
            json.dumps(
                {"token": token, "access_token": token, "expires_in": TOKEN_TTL_S, "issued_at": issued}
            )
        )


def swr_routes(state: EmulatorState) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The SWR manage and registry routes, for the emulator's tornado application."""
    swr = SwrState(state, SwrCatalogue(state.settings.swr_images))
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
        (rf"/v2/{name}/blobs/(sha256:[a-f0-9]{{64}})", BlobHandler, registry),
    ]
