"""What every emulator route shares: settings and state, the API gateway's authentication,
the error shape and bounded parsing of bodies and query strings."""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tornado.web import HTTPError, RequestHandler

from ..transport.signer import AccessKeySecret, SignatureError, verify_signature
from ..wire.contract import (
    WireEnum,
    swr_registry,
)
from .cli import EmulatorSettings
from .faults import FaultInjector
from .metadata import MetadataIssuer
from .registry import SwrCatalogue
from .store import SORT_COLUMNS, ImageStore

log = logging.getLogger("mai_widgets.emulator")

MAX_BODY_BYTES = 1 << 20
# Registry blob uploads (PATCH/PUT/POST .../blobs/uploads/...) may carry more in one request (matched
# against the path alone: a query string naming it must not lift the cap).
UPLOAD_PATH_RE = re.compile(r"^/v2/[^?#]+/blobs/uploads/")
# The registry's routes (``/v2/...`` but not the manage API) answer errors in its own shape.
REGISTRY_PATH_RE = re.compile(r"^/v2/(?!manage/)")
# What an error message repeats of a name the client chose (a path segment may be 64 KB long).
ECHO_MAX = 128
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


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def echo(text: str, limit: int = ECHO_MAX) -> str:
    """``text`` as an error message may repeat it: at most ``limit`` characters."""
    return text if len(text) <= limit else text[:limit] + "..."


def error_body(code: str, message: str) -> dict[str, str]:
    return {"error_code": code, "error_msg": message}


def bad_param(message: str) -> ApiFailure:
    return ApiFailure(400, "ModelArts.0104", f"Invalid parameter: {message}")


def image_not_found(code: str, image_id: str) -> ApiFailure:
    """400 (not 404) with ``--image-not-found-code``; ``image_id`` has passed IMAGE_ID_RE (<= 128)."""
    return ApiFailure(400, code, f"Image {image_id} does not exist.")


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
        raise bad_param(f"the request body nests JSON deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(raw.decode("utf-8"))
        # A lone surrogate ("\ud800") parses but cannot be stored or echoed as UTF-8.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        raise bad_param("the request body is not valid JSON (UTF-8)") from None
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
        self.clock: Callable[[], int] = now_ms
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
            body = error_body(
                "APIG.0101", "The API does not exist or has not been published in the environment."
            )
        elif status_code < 500:
            reason = self._reason or "bad request"
            body = error_body("ModelArts.0104", f"Invalid parameter: {reason}")
        else:
            body = error_body("ModelArts.0050", "Internal server error.")
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
        return Reply(exc.status, error_body(exc.code, exc.message), exc.headers)

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
                raise bad_param("the request body is required (a JSON object)")
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


def parse_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise bad_param(f"{name} must be true or false")


def parse_int(name: str, text: str, minimum: int) -> int:
    # Plain ASCII digits only (int() would take "1_0", " 7" and other scripts' digits).
    if not _QUERY_INT_RE.fullmatch(text) or int(text) > _QUERY_INT_MAX:
        raise bad_param(f"{name} must be an integer from {minimum} to {_QUERY_INT_MAX}")
    value = int(text)
    if value < minimum:
        raise bad_param(f"{name} must be at least {minimum}")
    return value


def parse_sort_keys(text: str) -> tuple[str, ...]:
    if not _SORT_KEY_RE.fullmatch(text):
        raise bad_param("sort_key must be at most 128 of the characters A-Z a-z 0-9 _ , -")
    keys = tuple(k for k in text.split(",") if k)
    unknown = [k for k in keys if k not in SORT_COLUMNS]
    if unknown:
        # (u) The answer to an unsupported key is a guess: 6303 "The field does not support sorting."
        # is in ModelArts' published codes (listed for notebooks), nothing ties it to images.
        raise ApiFailure(400, "ModelArts.6303", f"The field does not support sorting: {echo(unknown[0])}")
    return keys


def parse_enum(name: str, text: str, enum: type[WireEnum]) -> str:
    try:
        return str(enum(text).value)
    except ValueError:
        raise bad_param(f"{name} must be one of {', '.join(enum.choices())}") from None
