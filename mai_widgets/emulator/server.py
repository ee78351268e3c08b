"""The emulator's HTTP side: ModelArts image routes and the two IAM routes, on one port.

Every route but token creation authenticates like the API gateway (an IAM token issued
here, or an SDK-HMAC-SHA256 signature by a known AK/SK). Image routes may be hit by seeded
faults (:mod:`.faults`); IAM routes never are. Every response carries ``X-Request-Id``.

No client input gets a 500: oversized headers and bodies are answered by :class:`RequestGuard`
before any handler runs, bodies are parsed by :func:`parse_json_body`, and numbers in the query
are bounded before they reach sqlite.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import signal
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TextIO

from tornado import httputil
from tornado.http1connection import HTTP1Connection
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, HTTPError, RequestHandler

from ..contract import (
    IMAGE_ID_RE,
    ImageType,
    ServiceType,
    SortDir,
    ValidationError,
    WireEnum,
    split_swr_path,
    swr_registry,
)
from ..contract import RegisterRequest as _RegisterRequest
from ..signer import AccessKeySecret, SignatureError, verify_signature
from .cli import READY_PREFIX, EmulatorSettings
from .faults import Fault, FaultInjector
from .metadata import MetadataIssuer, metadata_routes
from .registry import MAX_UPLOAD_BYTES, SwrCatalogue
from .store import SORT_COLUMNS, AlreadyRegistered, ImageStore, ListQuery

log = logging.getLogger("mai_widgets.emulator")

MAX_BODY_BYTES = 1 << 20
# Registry blob uploads (PATCH/PUT/POST .../blobs/uploads/...) may carry up to this in one request.
_UPLOAD_PATH_RE = re.compile(r"^/v2/.+/blobs/uploads/")
# tornado's own default header limit; the emulator answers larger headers itself (JSON 400).
MAX_HEADER_BYTES = 64 << 10
# What tornado reads at most: a body up to this is read and thrown away so the client gets our
# answer intact; a larger declared Content-Length is answered at once and the connection closed.
# Headers past tornado's limit get the connection closed, by tornado.
DRAIN_BODY_BYTES = 16 * MAX_BODY_BYTES
TORNADO_MAX_HEADER_BYTES = 4 * MAX_HEADER_BYTES
# JSON nesting deeper than this is refused before parsing (no request field nests past 3).
MAX_JSON_DEPTH = 64
# Query integers (limit, offset) must fit sqlite's signed 64-bit integers.
_QUERY_INT_RE = re.compile(r"[0-9]{1,19}")
_QUERY_INT_MAX = 2**63 - 1
# sort_key: free text, at most 128 of these characters (SDK ListImageRequest docstring).
_SORT_KEY_RE = re.compile(r"[A-Za-z0-9_,-]{1,128}")


class ApiFailure(Exception):
    """An error answer: HTTP status and a ``{"error_code", "error_msg"}`` body."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _error_body(code: str, message: str) -> dict[str, str]:
    return {"error_code": code, "error_msg": message}


def _bad_param(message: str) -> ApiFailure:
    return ApiFailure(400, "ModelArts.0104", f"Invalid parameter: {message}")


def _image_not_found(image_id: str) -> ApiFailure:
    # 400, not 404: ModelArts' published error codes list 6797 under status 400.
    return ApiFailure(400, "ModelArts.6797", f"Image {image_id} does not exist.")


def _json_depth_exceeds(raw: bytes, limit: int) -> bool:
    """Whether brackets nest deeper than ``limit`` (outside strings): a linear scan, no recursion."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # every ordinary body: no need to walk it byte by byte
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def parse_json_body(raw: bytes) -> Any:
    """Parse a request body, or raise a 400 :class:`ApiFailure`; never RecursionError or 500."""
    if _json_depth_exceeds(raw, MAX_JSON_DEPTH):
        raise _bad_param(f"the request body nests JSON deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(raw.decode("utf-8"))
        # A lone surrogate ("\ud800") parses but cannot be stored or echoed as UTF-8.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        raise _bad_param("the request body is not valid JSON (UTF-8)") from None
    return value


class EmulatorState:
    """What the handlers share: settings, the store, the fault injector and the live SWR catalogue."""

    def __init__(self, settings: EmulatorSettings, store: ImageStore) -> None:
        self.settings = settings
        self.store = store
        self.faults = (
            FaultInjector(settings.fault_rate, settings.faults, settings.fault_seed)
            if settings.fault_rate > 0
            else None
        )
        self.clock: Callable[[], int] = _now_ms
        self.metadata = MetadataIssuer(
            settings.metadata_credential_seconds,
            no_agency=settings.metadata_no_agency,
            clock=lambda: self.clock(),
        )
        # Pushed images live in memory; forced deletes are kept in the store, so they outlast a restart.
        self.swr_catalogue = SwrCatalogue(settings.swr_images, registry=swr_registry(settings.region))
        for path in store.swr_deleted_paths():
            self.swr_catalogue.remove(path)

    def secret_for_ak(self, ak: str) -> AccessKeySecret | None:
        s = self.settings
        if hmac.compare_digest(ak.encode(), s.ak.encode()):
            return AccessKeySecret(s.sk)
        if hmac.compare_digest(ak.encode(), s.temp_ak.encode()):
            # Temporary credentials: the signed X-Security-Token must be this one.
            return AccessKeySecret(s.temp_sk, security_token=s.security_token)
        return self.metadata.secret_for_ak(ak)  # the instance metadata service's, until they expire


class BaseHandler(RequestHandler):
    state: EmulatorState

    def initialize(self, state: EmulatorState) -> None:
        self.state = state

    def set_default_headers(self) -> None:
        self.set_header("X-Request-Id", uuid.uuid4().hex)
        self.set_header("Content-Type", "application/json;charset=UTF-8")

    def compute_etag(self) -> str | None:
        return None

    def check_xsrf_cookie(self) -> None:
        return None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Tornado's own errors (bad path encoding, unknown method) in the API's error shape.
        if status_code in (404, 405):
            self.set_status(404)
            body = _error_body(
                "APIG.0101", "The API does not exist or has not been published in the environment."
            )
        elif status_code < 500:
            reason = self._reason or "bad request"
            body = _error_body("ModelArts.0104", f"Invalid parameter: {reason}")
        else:
            body = _error_body("ModelArts.0050", "Internal server error.")
        self.finish(json.dumps(body))

    def send_reply(self, reply: Reply) -> None:
        self.set_status(reply.status)
        for name, value in reply.headers.items():
            self.set_header(name, value)
        payload = json.dumps(reply.body, ensure_ascii=False)
        # Server-side time to here (routing, auth, sqlite, JSON), for benchmarks.
        self.set_header("Server-Timing", f"app;dur={self.request.request_time() * 1000:.2f}")
        self.finish(payload)

    @staticmethod
    def failure_reply(exc: ApiFailure) -> Reply:
        return Reply(exc.status, _error_body(exc.code, exc.message), exc.headers)

    # -- authentication, as the API gateway does it -----------------------------------------

    def authenticate(self, project_id: str | None) -> None:
        """Raise :class:`ApiFailure` unless the request carries a valid token or signature."""
        settings = self.state.settings
        headers = self.request.headers
        token = headers.get("X-Auth-Token")
        if token:
            info = self.state.store.token_info(token)
            if info is None:
                raise ApiFailure(401, "APIG.0307", "The token must be updated.")
            if info.expires_at_ms <= self.state.clock():
                raise _expired_token(settings.expired_token_answer)
            if project_id is not None and project_id != info.project_id:
                raise self._wrong_project(project_id)
            return
        if not headers.get("Authorization"):
            raise ApiFailure(
                401,
                "APIG.0301",
                "Incorrect IAM authentication information: no X-Auth-Token or Authorization",
            )
        try:
            verify_signature(
                self.request.method or "GET",
                self.request.path,
                self.request.query,
                list(headers.get_all()),
                self.request.body or b"",
                self.state.secret_for_ak,
                max_skew_seconds=settings.max_clock_skew_seconds,
            )
        except SignatureError as exc:
            raise ApiFailure(401, "APIG.0301", f"Incorrect IAM authentication information: {exc}") from None
        claimed = headers.get("X-Project-Id")
        if claimed and project_id is not None and claimed != project_id:
            raise self._wrong_project(project_id)

    def _wrong_project(self, project_id: str) -> ApiFailure:
        del project_id  # never echoed: it may be anything a client put in the URL
        return ApiFailure(403, "ModelArts.0210", "The project id in the request URL does not match the token")

    def check_project(self, project_id: str) -> None:
        if project_id != self.state.settings.project_id:
            raise self._wrong_project(project_id)

    def json_body(self, *, required: bool) -> Any:
        raw = self.request.body or b""
        if not raw.strip():
            if required:
                raise _bad_param("the request body is required (a JSON object)")
            return None
        return parse_json_body(raw)


def _expired_token(answer: str) -> ApiFailure:
    """The answer to an expired IAM token, as ``--expired-token-answer`` chose (all 401)."""
    if answer == "APIG.0301":
        return ApiFailure(401, "APIG.0301", "Incorrect IAM authentication information: the token has expired")
    if answer == "ModelArts.0202":
        return ApiFailure(401, "ModelArts.0202", "The token has expired.")
    return ApiFailure(401, "APIG.0307", "The token must be updated.")


class NotFoundHandler(BaseHandler):
    def prepare(self) -> None:
        raise HTTPError(404)


# -- image routes -------------------------------------------------------------------------


def _parse_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise _bad_param(f"{name} must be true or false")


def _parse_int(name: str, text: str, minimum: int) -> int:
    # Plain ASCII digits only (int() would take "1_0", " 7" and other scripts' digits).
    if not _QUERY_INT_RE.fullmatch(text) or int(text) > _QUERY_INT_MAX:
        raise _bad_param(f"{name} must be an integer from {minimum} to {_QUERY_INT_MAX}")
    value = int(text)
    if value < minimum:
        raise _bad_param(f"{name} must be at least {minimum}")
    return value


def _parse_sort_keys(text: str) -> tuple[str, ...]:
    if not _SORT_KEY_RE.fullmatch(text):
        raise _bad_param("sort_key must be at most 128 of the characters A-Z a-z 0-9 _ , -")
    keys = tuple(k for k in text.split(",") if k)
    unknown = [k for k in keys if k not in SORT_COLUMNS]
    if unknown:
        # (u) The answer to an unsupported key is a guess: 6303 "The field does not support sorting."
        # is in ModelArts' published codes (listed for notebooks), nothing ties it to images.
        raise ApiFailure(400, "ModelArts.6303", f"The field does not support sorting: {unknown[0][:128]}")
    return keys


def _parse_enum(name: str, text: str, enum: type[WireEnum]) -> str:
    try:
        return str(enum(text).value)
    except ValueError:
        raise _bad_param(f"{name} must be one of {', '.join(enum.choices())}") from None


class ImageRouteHandler(BaseHandler):
    """Base of the ``/v1/{project_id}/images...`` handlers: faults, then auth, then the operation."""

    async def serve(self, project_id: str, operation: Callable[[], Reply]) -> None:
        fault = self.state.faults.draw() if self.state.faults else None
        if fault is not None:
            self.set_header("X-Emulator-Fault", fault.label)
            log.info("injecting fault %s", fault.label)
        if fault is not None and not fault.after:
            if fault.kind != "slow":
                self.apply_fault(fault)
                return
            await asyncio.sleep(self.state.settings.slow_seconds)
        try:
            self.authenticate(project_id)
            self.check_project(project_id)
            reply = operation()
        except ApiFailure as exc:
            reply = self.failure_reply(exc)
        if fault is not None and fault.after:
            if fault.kind != "slow":
                self.apply_fault(fault)
                return
            await asyncio.sleep(self.state.settings.slow_seconds)
        if reply.status == 204:
            self.set_status(204)
            self.finish()
            return
        self.send_reply(reply)

    def apply_fault(self, fault: Fault) -> None:
        if fault.kind == "drop":
            self.detach().close()
            return
        if fault.kind == "malformed":
            self.set_status(200)
            self.finish('{"id": "00000000-0000-0000-0000-0000000000')
            return
        if fault.kind == "429":
            retry = str(self.state.settings.retry_after)
            self.send_reply(
                Reply(
                    429,
                    _error_body("APIG.0308", "The throttling threshold has been reached."),
                    {"Retry-After": retry},
                )
            )
            return
        if fault.kind == "503":
            self.send_reply(Reply(503, _error_body("ModelArts.0053", "Service temporarily unavailable.")))
            return
        self.send_reply(Reply(500, _error_body("ModelArts.0050", "Internal server error.")))

    def checked_image_id(self, image_id: str) -> str:
        if not IMAGE_ID_RE.match(image_id):
            raise _bad_param("image id must be letters, digits, '-' and '_' only")
        return image_id

    def list_query(self, *, images: bool) -> ListQuery:
        args: dict[str, str] = {}
        for name in self.request.query_arguments:
            args[name] = self.get_query_argument(name, strip=False)  # as sent: " 5" is no integer
        values: dict[str, Any] = {}
        if "limit" in args:
            values["limit"] = _parse_int("limit", args["limit"], 1)
        if "offset" in args:
            values["offset"] = _parse_int("offset", args["offset"], 0)
        if args.get("name"):
            if len(args["name"]) > 512:
                raise _bad_param("name must be at most 512 characters")
            values["name"] = args["name"]
        if "name_fuzzy_match" in args:
            values["name_fuzzy_match"] = _parse_bool("name_fuzzy_match", args["name_fuzzy_match"])
        for name in ("namespace", "workspace_id"):
            if args.get(name):
                values[name] = args[name]
        if "type" in args:
            values["type"] = _parse_enum("type", args["type"], ImageType)
        if images:
            if args.get("service_type"):
                values["service_type"] = _parse_enum("service_type", args["service_type"], ServiceType)
            if args.get("sort_dir"):
                values["sort_dir"] = _parse_enum("sort_dir", args["sort_dir"], SortDir)
            if "sort_key" in args:
                keys = _parse_sort_keys(args["sort_key"])
                if keys:
                    values["sort_keys"] = keys
            for name in ("show_name", "show_tag"):
                if args.get(name):
                    values[name] = args[name]
        return ListQuery(**values)

    @staticmethod
    def page(query: ListQuery, data: list[Any], total: int) -> dict[str, Any]:
        return {
            "current": query.offset // query.limit + 1,
            "data": data,
            "pages": math.ceil(total / query.limit),
            "size": len(data),
            "total": total,
        }


def _size_kb(swr_path: str) -> int:
    # A stable, plausible image size (1-6 GiB) so repeated runs look the same.
    digest = int.from_bytes(hashlib.sha256(swr_path.encode()).digest()[:4], "big")
    return 1_048_576 + digest % (5 * 1_048_576)


class ImagesHandler(ImageRouteHandler):
    """``POST`` (register) and ``GET`` (list) on ``/v1/{project_id}/images``."""

    async def post(self, project_id: str) -> None:
        await self.serve(project_id, lambda: self.register(project_id))

    async def get(self, project_id: str) -> None:
        await self.serve(project_id, lambda: self.list_images(project_id))

    def register(self, project_id: str) -> Reply:
        settings = self.state.settings
        body = self.json_body(required=True)
        if not isinstance(body, dict):
            raise _bad_param("the request body must be a JSON object")
        try:
            request = _RegisterRequest.from_body(body)
        except ValidationError as exc:
            raise ApiFailure(400, "ModelArts.0104", f"Invalid parameter: {exc.message}") from None
        parts = split_swr_path(request.swr_path) or {}
        namespace = parts.get("namespace", "")
        if namespace == settings.forbidden_namespace:
            raise ApiFailure(
                400,
                "ModelArts.2885",
                f"ModelArts has no permission to access the SWR organization {namespace}.",
            )
        fail_reason = None
        if not self.state.swr_catalogue.has(request.swr_path):  # the live SWR: pushes and forced deletes
            fail_reason = (
                f"SWR image {request.swr_path} was not found: check the path and that the image was pushed."
            )
        try:
            record = self.state.store.register(
                project_id,
                request,
                now_ms=self.state.clock(),
                init_ms=round(settings.init_seconds * 1000),
                creating_ms=round(settings.creating_seconds * 1000),
                size_kb=_size_kb(request.swr_path),
                fail_reason=fail_reason,
            )
        except AlreadyRegistered:
            raise _already_registered(settings.already_registered_code, parts) from None
        return Reply(200, record)

    def list_images(self, project_id: str) -> Reply:
        query = self.list_query(images=True)
        data, total = self.state.store.list_page(project_id, query, self.state.clock())
        return Reply(200, self.page(query, list(data), total))


def _already_registered(code: str, parts: dict[str, str]) -> ApiFailure:
    """400 with ``--already-registered-code``; the texts are ModelArts' published messages."""
    if code == "ModelArts.6737":
        tag = parts.get("tag") or parts.get("digest", "")
        return ApiFailure(400, code, f"Conflict tag {tag} for image {parts.get('name', '')}")
    return ApiFailure(400, code, "image tag and image name is exist")


class ImageGroupHandler(ImageRouteHandler):
    """``GET /v1/{project_id}/images/group``: one row per (namespace, name)."""

    async def get(self, project_id: str) -> None:
        await self.serve(project_id, lambda: self.groups(project_id))

    async def delete(self, project_id: str) -> None:
        # There is no image called "group": answer as the image route would.
        await self.serve(project_id, lambda: self._missing())

    def _missing(self) -> Reply:
        raise _image_not_found("group")

    def groups(self, project_id: str) -> Reply:
        # (u) SDK ListImageGroupRequest.type documents no default; the image list's (BUILD_IN) is used.
        query = self.list_query(images=False)
        data, total = self.state.store.groups(project_id, query, self.state.clock())
        return Reply(200, {**self.page(query, data, total), "is_swr_enterprise": False})


class ImageHandler(ImageRouteHandler):
    """``GET`` (show) and ``DELETE`` on ``/v1/{project_id}/images/{id}``."""

    async def get(self, project_id: str, image_id: str) -> None:
        await self.serve(project_id, lambda: self.show(project_id, image_id))

    async def delete(self, project_id: str, image_id: str) -> None:
        await self.serve(project_id, lambda: self.remove(project_id, image_id))

    def show(self, project_id: str, image_id: str) -> Reply:
        self.checked_image_id(image_id)
        record = self.state.store.get(project_id, image_id, self.state.clock())
        if record is None:
            raise _image_not_found(image_id)
        return Reply(200, record)

    def remove(self, project_id: str, image_id: str) -> Reply:
        self.checked_image_id(image_id)
        now = self.state.clock()
        force = False
        text = self.get_query_argument("force", None)
        if text is not None:
            force = _parse_bool("force", text)
        body = self.json_body(required=False)
        if body is not None:
            if not isinstance(body, dict):
                raise _bad_param("the request body must be a JSON object")
            is_force = body.get("is_force")
            if is_force is not None and not isinstance(is_force, bool):
                raise _bad_param("is_force must be true or false")
            force = force or bool(is_force)
        store = self.state.store
        existing = store.get(project_id, image_id, now)
        if existing is not None and existing.get("type") == "BUILD_IN":
            # (u) Undocumented; the documented generic parameter error rather than an invented code.
            raise _bad_param(f"image {image_id} is a preset (BUILD_IN) image and cannot be deleted")
        record = store.delete(project_id, image_id, now, force=force)
        if record is None:
            raise _image_not_found(image_id)
        if force:
            # The real forced delete also deletes the image's content in SWR.
            store.forget_swr_image(record["swr_path"], now)
            self.state.swr_catalogue.remove(record["swr_path"])
        if self.state.settings.delete_answer == "204":
            return Reply(204, None)
        return Reply(200, record)


class ImageSyncHandler(ImageRouteHandler):
    """``POST /v1/{project_id}/images/{id}/sync``: re-reads the status (computed, so always right)."""

    async def post(self, project_id: str, image_id: str) -> None:
        await self.serve(project_id, lambda: self.sync(project_id, image_id))

    def sync(self, project_id: str, image_id: str) -> Reply:
        self.checked_image_id(image_id)
        record = self.state.store.get(project_id, image_id, self.state.clock())
        if record is None or record.get("status") == "DELETED":
            raise _image_not_found(image_id)
        return Reply(200, record)


# -- IAM routes (never faulty) ---------------------------------------------------------------


def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _iam_error(status: int, code: str, message: str, title: str) -> ApiFailure:
    return ApiFailure(status, code, message, {"X-Iam-Error-Title": title})


class TokensHandler(BaseHandler):
    """``POST /v3/auth/tokens`` with the password method; the token is in ``X-Subject-Token``."""

    def post(self) -> None:
        try:
            reply = self.issue()
        except ApiFailure as exc:
            # IAM's own error shape, plus the gateway's keys so one parser reads both.
            body = {
                **_error_body(exc.code, exc.message),
                "error": {
                    "code": exc.status,
                    "message": exc.message,
                    "title": exc.headers.get("X-Iam-Error-Title", "Bad Request"),
                },
            }
            reply = Reply(exc.status, body)
        self.send_reply(reply)

    def issue(self) -> Reply:
        s = self.state.settings
        body = self.json_body(required=True)
        try:
            identity = body["auth"]["identity"]
            methods = identity["methods"]
            user = identity["password"]["user"]
            name, password, domain = user["name"], user["password"], user["domain"]["name"]
            scope = body["auth"].get("scope", {}).get("project", {})
        except (KeyError, TypeError, AttributeError):
            raise _iam_error(
                400,
                "IAM.0011",
                "Request body is invalid: auth.identity.password.user is required.",
                "Bad Request",
            ) from None
        if not isinstance(methods, list) or "password" not in methods:
            raise _iam_error(
                400, "IAM.0011", "Request body is invalid: only the password method.", "Bad Request"
            )
        ok = (
            isinstance(password, str)
            and name == s.iam_user
            and domain == s.iam_domain
            and hmac.compare_digest(password.encode(), s.iam_password.encode())
        )
        if not ok:
            raise _iam_error(401, "IAM.0004", "The username or password is wrong.", "Unauthorized")
        if (
            not isinstance(scope, dict)
            or scope.get("name", s.region) != s.region
            or ("id" in scope and scope["id"] != s.project_id)
        ):
            raise _iam_error(
                400, "IAM.0011", "Request body is invalid: unknown project in scope.", "Bad Request"
            )
        now = self.state.clock()
        expires = now + round(s.token_ttl_seconds * 1000)
        token = "MIIemu" + secrets.token_urlsafe(48)
        self.state.store.save_token(token, s.project_id, s.iam_user, expires)
        domain_obj = {"id": _stable_id("domain", s.iam_domain), "name": s.iam_domain}
        payload = {
            "token": {
                "expires_at": _iso_ms(expires),
                "issued_at": _iso_ms(now),
                "methods": ["password"],
                "project": {"id": s.project_id, "name": s.region, "domain": domain_obj},
                "user": {"id": _stable_id("user", s.iam_user), "name": s.iam_user, "domain": domain_obj},
                "roles": [],
                "catalog": [],
            }
        }
        return Reply(201, payload, {"X-Subject-Token": token})


def _stable_id(kind: str, name: str) -> str:
    return hashlib.sha256(f"{kind}:{name}".encode()).hexdigest()[:32]


class ProjectsHandler(BaseHandler):
    """``GET /v3/projects?name=``: the emulator has one project, named after its region."""

    def get(self) -> None:
        s = self.state.settings
        try:
            self.authenticate(None)
        except ApiFailure as exc:
            self.send_reply(self.failure_reply(exc))
            return
        wanted = self.get_query_argument("name", None)
        project = {
            "id": s.project_id,
            "name": s.region,
            "domain_id": _stable_id("domain", s.iam_domain),
            "parent_id": _stable_id("domain", s.iam_domain),
            "enabled": True,
            "is_domain": False,
            "description": "",
        }
        projects = [project] if wanted in (None, s.region) else []
        self.send_reply(Reply(200, {"projects": projects, "links": {"self": self.request.full_url()}}))


# -- requests too large for any handler ---------------------------------------------------------


def _refusal(message: str) -> tuple[httputil.ResponseStartLine, httputil.HTTPHeaders, bytes]:
    body = json.dumps(_error_body("ModelArts.0104", f"Invalid parameter: {message}")).encode()
    headers = httputil.HTTPHeaders(
        {
            "Content-Type": "application/json;charset=UTF-8",
            "Content-Length": str(len(body)),
            "X-Request-Id": uuid.uuid4().hex,
        }
    )
    return httputil.ResponseStartLine("HTTP/1.1", 400, "Bad Request"), headers, body


class RequestGuard(httputil.HTTPMessageDelegate):
    """Stands before tornado's routing for one request and answers oversized ones itself.

    tornado's own answer to a body or headers over its limits is a bare ``400`` with no body
    (or a closed connection): here they get the API's JSON error and ``X-Request-Id``. A body
    that is too large is read and dropped (up to ``DRAIN_BODY_BYTES``) so the client, still
    sending, reads the answer instead of a reset.
    """

    def __init__(self, inner: httputil.HTTPMessageDelegate, connection: httputil.HTTPConnection) -> None:
        self.inner = inner
        self.connection = connection
        self.problem: str | None = None
        self.received = 0
        self.max_body = MAX_BODY_BYTES

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        header_bytes = sum(len(str(part)) + 1 for part in start_line)
        header_bytes += sum(len(k) + len(v) + 4 for k, v in headers.get_all())
        declared = headers.get("Content-Length", "")
        length = int(declared) if declared.isascii() and declared.isdigit() else 0
        path = start_line.path if isinstance(start_line, httputil.RequestStartLine) else ""
        if _UPLOAD_PATH_RE.match(path):
            # a layer in one request, as docker sends it; the upload handler caps the total
            self.max_body = MAX_UPLOAD_BYTES
            if isinstance(self.connection, HTTP1Connection):
                self.connection.set_max_body_size(MAX_UPLOAD_BYTES)
        if header_bytes > MAX_HEADER_BYTES:
            self.problem = f"the request headers are larger than {MAX_HEADER_BYTES} bytes"
        elif length > self.max_body:
            self.problem = f"the request body is larger than {self.max_body} bytes"
        if self.problem is None:
            return self.inner.headers_received(start_line, headers)
        if length > DRAIN_BODY_BYTES and isinstance(self.connection, HTTP1Connection):
            # Too much to read and drop: answer now and close once the answer is written.
            line, out_headers, body = _refusal(self.problem)
            out_headers["Connection"] = "close"
            head = f"{line.version} {line.code} {line.reason}\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in out_headers.get_all()
            )
            stream = self.connection.detach()
            written = stream.write(head.encode("latin-1") + b"\r\n" + body)
            written.add_done_callback(lambda _: stream.close())
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        self.received += len(chunk)
        if self.problem is None and self.received > self.max_body:
            # A chunked body has no Content-Length to refuse up front.
            self.problem = f"the request body is larger than {self.max_body} bytes"
            self.inner.on_connection_close()  # it will never see the rest of this request
        if self.problem is not None:
            return None
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        if self.problem is None:
            self.inner.finish()
            return
        line, headers, body = _refusal(self.problem)
        self.connection.write_headers(line, headers, body)
        self.connection.finish()

    def on_connection_close(self) -> None:
        if self.problem is None:
            self.inner.on_connection_close()


class GuardedHTTPServer(HTTPServer):
    """tornado's HTTPServer with every request behind a :class:`RequestGuard`."""

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        return RequestGuard(super().start_request(server_conn, request_conn), request_conn)


# -- application ------------------------------------------------------------------------------


def make_app(state: EmulatorState) -> Application:
    from .swr import swr_routes  # it builds on this module's handlers

    kw = {"state": state}
    project = r"/v1/([^/]+)"
    return Application(
        [
            (r"/v3/auth/tokens/?", TokensHandler, kw),
            (r"/v3/projects/?", ProjectsHandler, kw),
            (rf"{project}/images/?", ImagesHandler, kw),
            (rf"{project}/images/group/?", ImageGroupHandler, kw),
            (rf"{project}/images/([^/]+)/sync/?", ImageSyncHandler, kw),
            (rf"{project}/images/([^/]+)/?", ImageHandler, kw),
            *metadata_routes(state.metadata),
            *swr_routes(state),
        ],
        default_handler_class=NotFoundHandler,
        default_handler_args=kw,
        compress_response=False,
    )


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(settings: EmulatorSettings, out: TextIO = sys.stdout) -> None:
    """Run until SIGTERM/SIGINT; print the ready line once the socket accepts connections."""
    store = ImageStore(settings.data_dir)
    try:
        registry = "swr." + settings.region + ".myhuaweicloud.com"
        store.install_presets(registry, _now_ms())
        if settings.seed_images > 0:
            added = store.seed_images(
                settings.project_id,
                settings.seed_images,
                registry=registry,
                now_ms=_now_ms(),
            )
            log.warning("seeded %d benchmark images (%d new)", settings.seed_images, added)
        state = EmulatorState(settings, store)
        sockets = bind_sockets(settings.port, address=settings.host, family=socket.AF_UNSPEC)
        server = GuardedHTTPServer(
            make_app(state), max_body_size=DRAIN_BODY_BYTES, max_header_size=TORNADO_MAX_HEADER_BYTES
        )
        server.add_sockets(sockets)
        port = int(sockets[0].getsockname()[1])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(READY_PREFIX + _url(settings.host, port), file=out, flush=True)
        await stop.wait()
        server.stop()
        await server.close_all_connections()
    finally:
        store.close()
