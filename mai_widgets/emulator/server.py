"""The emulator's HTTP side: ModelArts image routes and the two IAM routes, on one port.

Every route but token creation authenticates like the API gateway (an IAM token issued
here, or an SDK-HMAC-SHA256 signature by a known AK/SK). Image routes may be hit by seeded
faults (:mod:`.faults`); IAM routes never are. Every response carries ``X-Request-Id``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import secrets
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TextIO

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
)
from ..contract import RegisterRequest as _RegisterRequest
from ..signer import AccessKeySecret, SignatureError, verify_signature
from .cli import READY_PREFIX, EmulatorSettings
from .faults import Fault, FaultInjector
from .metadata import MetadataIssuer, metadata_routes
from .store import SORT_COLUMNS, AlreadyRegistered, ImageStore, ListQuery

log = logging.getLogger("mai_widgets.emulator")

MAX_BODY_BYTES = 1 << 20


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
    return ApiFailure(404, "ModelArts.6797", f"Image {image_id} does not exist.")


class EmulatorState:
    """What the handlers share: settings, the store and the fault injector."""

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
                "APIGW.0101", "The API does not exist or has not been published in the environment."
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
            if info is None or info.expires_at_ms <= self.state.clock():
                raise ApiFailure(401, "APIGW.0307", "The token must be updated.")
            if project_id is not None and project_id != info.project_id:
                raise self._wrong_project(project_id)
            return
        if not headers.get("Authorization"):
            raise ApiFailure(
                401,
                "APIGW.0301",
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
            raise ApiFailure(401, "APIGW.0301", f"Incorrect IAM authentication information: {exc}") from None
        claimed = headers.get("X-Project-Id")
        if claimed and project_id is not None and claimed != project_id:
            raise self._wrong_project(project_id)

    def _wrong_project(self, project_id: str) -> ApiFailure:
        del project_id  # never echoed: it may be anything a client put in the URL
        return ApiFailure(
            403, "APIGW.0302", "The project in the request is not the project of these credentials."
        )

    def check_project(self, project_id: str) -> None:
        if project_id != self.state.settings.project_id:
            raise self._wrong_project(project_id)

    def json_body(self, *, required: bool) -> Any:
        raw = self.request.body or b""
        if not raw.strip():
            if required:
                raise _bad_param("the request body is required (a JSON object)")
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _bad_param("the request body is not valid JSON") from None


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
    try:
        value = int(text)
    except ValueError:
        raise _bad_param(f"{name} must be an integer") from None
    if value < minimum:
        raise _bad_param(f"{name} must be at least {minimum}")
    return value


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
                    _error_body("APIGW.0308", "The throttling threshold has been reached."),
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
            args[name] = self.get_query_argument(name)
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
        if args.get("type"):
            values["type"] = _parse_enum("type", args["type"], ImageType)
        if images:
            if args.get("service_type"):
                values["service_type"] = _parse_enum("service_type", args["service_type"], ServiceType)
            if args.get("sort_dir"):
                values["sort_dir"] = _parse_enum("sort_dir", args["sort_dir"], SortDir)
            if args.get("sort_key"):
                keys = tuple(k.strip() for k in args["sort_key"].split(",") if k.strip())
                bad = [k for k in keys if k not in SORT_COLUMNS]
                if bad or not keys:
                    raise _bad_param(f"sort_key must be one or more of {', '.join(SORT_COLUMNS)}")
                values["sort_keys"] = keys
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
                403,
                "ModelArts.2885",
                f"ModelArts has no permission to access the SWR organization {namespace}.",
            )
        fail_reason = None
        if request.swr_path not in settings.swr_catalogue:
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
        except AlreadyRegistered as exc:
            raise ApiFailure(
                400,
                "ModelArts.2884",
                f"The SWR image {request.swr_path} has already been registered (image {exc.image_id}).",
            ) from None
        return Reply(200, record)

    def list_images(self, project_id: str) -> Reply:
        query = self.list_query(images=True)
        data, total = self.state.store.list_page(project_id, query, self.state.clock())
        return Reply(200, self.page(query, list(data), total))


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
        record = self.state.store.delete(project_id, image_id, self.state.clock(), force=force)
        if record is None:
            raise _image_not_found(image_id)
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
                    "title": exc.headers.get("X-Iam-Error-Title"),
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
        if settings.seed_images > 0:
            added = store.seed_images(
                settings.project_id,
                settings.seed_images,
                registry="swr." + settings.region + ".myhuaweicloud.com",
                now_ms=_now_ms(),
            )
            log.warning("seeded %d benchmark images (%d new)", settings.seed_images, added)
        state = EmulatorState(settings, store)
        sockets = bind_sockets(settings.port, address=settings.host, family=socket.AF_UNSPEC)
        server = HTTPServer(make_app(state), max_body_size=MAX_BODY_BYTES)
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
