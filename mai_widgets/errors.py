"""Typed errors: every failure the user can see has a code, a one-line message and a hint.

Nothing here ever formats a credential: messages are built only from field names, HTTP
metadata and the server's own ``error_code``/``error_msg``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .i18n import N_, Msg

if TYPE_CHECKING:
    from .i18n import Translation


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one field of a request (``field`` is the request's wire name)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class MaiWidgetsError(Exception):
    """Base of every error mai-widgets raises on purpose."""

    code: str = "mai-widgets"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self, tr: Translation | None = None) -> str:
        """The error as a single line, fit for a magic's output or a status badge.

        With ``tr`` the hint (and the words around it) are in that language; the code and the
        message stay as they are (English: searched for, pasted into a support ticket)."""
        text = f"{self.code}: {self.message}"
        if not self.hint:
            return text
        if tr is None:
            return f"{text} ({self.hint})"
        _tr = tr
        return _tr("{error} ({hint})", error=text, hint=_tr.text(self.hint))


class ValidationError(MaiWidgetsError, ValueError):
    """A request (or argument) failed validation; ``problems`` names every bad field at once."""

    code = "invalid-request"

    def __init__(self, problems: list[FieldProblem] | tuple[FieldProblem, ...]) -> None:
        self.problems: tuple[FieldProblem, ...] = tuple(problems)
        fields = ", ".join(dict.fromkeys(p.field for p in self.problems))
        detail = "; ".join(str(p) for p in self.problems)
        super().__init__(f"invalid {fields}: {detail}", hint=N_("correct the named fields and retry"))

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.field for p in self.problems))

    def by_field(self) -> dict[str, str]:
        """The first message for each field, as the panel shows them next to the field."""
        out: dict[str, str] = {}
        for p in self.problems:
            out.setdefault(p.field, p.message)
        return out


class BatchFileError(MaiWidgetsError):
    """A file of images to register (``mai_widgets.batch``) cannot be used as it is: not YAML or
    JSON, the wrong shape, an unknown key, a path twice, an invalid entry. ``problems`` has one
    line for each, naming the entry (its number, line and SWR path) and the key."""

    code = "invalid-file"

    def __init__(self, problems: list[str] | tuple[str, ...], *, hint: str | None = None) -> None:
        self.problems: tuple[str, ...] = tuple(problems) or ("the file cannot be used",)
        more = len(self.problems) - 1
        message = self.problems[0] + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")
        super().__init__(message, hint=hint or N_("correct the file and run again"))


class ConfigError(MaiWidgetsError):
    """A setting or credential is missing or malformed; the message names what to provide."""

    code = "config"

    def __init__(self, message: str, *, missing: tuple[str, ...] = (), hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.missing = missing


class TransportError(MaiWidgetsError):
    """The request did not get an HTTP answer: connection refused, reset, timeout, TLS."""

    code = "transport"


class ClientTransportError(TransportError):
    """A :class:`TransportError` that knows whether the request may have reached the server."""

    def __init__(self, message: str, *, hint: str | None, maybe_sent: bool) -> None:
        super().__init__(message, hint=hint)
        self.maybe_sent = maybe_sent


class TimedOutError(ClientTransportError, TimeoutError):
    """The time allowed ran out (a connect or read timeout, or the call's deadline); also a
    :class:`TimeoutError`, so ``except TimeoutError`` catches it."""

    code = "timeout"


class CancelledError(ClientTransportError):
    """The call was cancelled (a panel or view was closed, or ``stop()`` was called)."""

    code = "cancelled"

    def __init__(self, message: str, *, maybe_sent: bool) -> None:
        super().__init__(message, hint=N_("closed or stopped by the user"), maybe_sent=maybe_sent)


_SWR_NAMESPACE_HINT = N_(
    "these credentials cannot read that SWR organization: ask its administrator for read access "
    "(SWR > Organization Management > Permissions), or push the image to an organization you own"
)
_SWR_MISSING_HINT = N_(
    "no such SWR repository or tag: check the path's spelling and that the image was pushed (docker push)"
)
# SWR's published codes (API reference appendix "Error Codes", swr_02_0024; 4030170 is its example
# body); which code each manage route answers is not documented (u): the status decides the class.
SWR_ERROR_CODES: dict[str, tuple[str, str]] = {
    "SVCSTG.SWR.4030170": ("permission", _SWR_NAMESPACE_HINT),
    "SVCSTG.SWR.4040009": ("not-found", _SWR_MISSING_HINT),
    "SVCSTG.SWR.4040010": ("not-found", _SWR_MISSING_HINT),
    "SVCSTG.SWR.4010000": ("auth", N_("SWR authentication failed: sign in again (check the AK/SK or token)")),
}
# The registry's own codes (Docker Registry HTTP API v2 / OCI distribution spec, "errors" array).
REGISTRY_ERROR_CODES: dict[str, tuple[str, str]] = {
    "DENIED": ("permission", _SWR_NAMESPACE_HINT),
    "UNAUTHORIZED": (
        "auth",
        N_("the registry refused the temporary SWR login: check the credentials and retry"),
    ),
    "NAME_UNKNOWN": ("not-found", _SWR_MISSING_HINT),
    "MANIFEST_UNKNOWN": ("not-found", _SWR_MISSING_HINT),
    "BLOB_UNKNOWN": ("not-found", N_("the registry lost a piece of the image: push it again")),
}

# The hints for the causes users meet most, keyed by error_code first, then HTTP status.
_AUTH_HINT = N_(
    "authentication failed: check HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK "
    "(and HUAWEICLOUD_SDK_SECURITY_TOKEN for temporary credentials) and the machine's clock"
)
_ALREADY_HINT = N_("this SWR image is already registered; use the existing image record")
_NO_IMAGE_HINT = N_("no image with that id in this project: check the id and the project/region")
_TOO_LARGE_HINT = N_("the image is larger than ModelArts accepts: slim it down and push again")
_HINTS_BY_CODE: dict[str, str] = {
    "ModelArts.2885": N_(
        "ModelArts has no access to that SWR organization: grant it in SWR "
        "(Organization Management > permissions) or push the image to a namespace you own"
    ),
    "ModelArts.2884": _ALREADY_HINT,
    "ModelArts.6737": _ALREADY_HINT,
    "ModelArts.6404": _NO_IMAGE_HINT,
    "ModelArts.6797": _NO_IMAGE_HINT,
    "ModelArts.2810": N_("ModelArts could not query SWR: check the swr_path and that the image was pushed"),
    "ModelArts.6771": _TOO_LARGE_HINT,
    "ModelArts.2845": _TOO_LARGE_HINT,
    "ModelArts.0104": N_("a request parameter was rejected: check the named field"),
    "ModelArts.0210": N_(
        "the project id is not the credentials' project: check HUAWEICLOUD_SDK_PROJECT_ID "
        "and MAI_WIDGETS_REGION (each region has its own project id), or unset the project id to discover it"
    ),
    "ModelArts.0202": N_("the token has expired: sign in again"),
    "APIG.0301": _AUTH_HINT,
    "APIG.0307": N_("the token has expired or is invalid: sign in again"),
    "APIG.0308": N_("throttled by the API gateway: wait and retry"),
    **{code: hint for code, (_, hint) in {**SWR_ERROR_CODES, **REGISTRY_ERROR_CODES}.items()},
}
_HINTS_BY_STATUS: dict[int, str] = {
    400: N_("the request was rejected: check the named field"),
    401: N_(
        "authentication failed: check HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK (or the IAM "
        "user and password) and that the machine's clock is right"
    ),
    403: N_("permission denied: the IAM user needs ModelArts and SWR permissions in this project"),
    404: N_("not found: check the id, the project id and the region"),
    429: N_("throttled: too many requests, wait a moment and retry"),
    500: N_("ModelArts had an internal error: retry later"),
    502: N_("gateway error between you and ModelArts: retry later"),
    503: N_("ModelArts is unavailable right now: retry later"),
    504: N_("gateway timeout: retry later, then check whether the operation took effect"),
}

# What each error code means, whatever HTTP status it came with (the code is the more exact of the
# two: ModelArts answers "image not found" and "no SWR access" with 400).
ALREADY_REGISTERED_CODES = frozenset({"ModelArts.2884", "ModelArts.6737"})
_SWR_KINDS = {**SWR_ERROR_CODES, **REGISTRY_ERROR_CODES}
# Image not found: 6404 is what GET /images/{id} answers (the Terraform provider's reading of the
# real service), 6797 is the published error table's.
IMAGE_NOT_FOUND_CODES = frozenset({"ModelArts.6404", "ModelArts.6797"})
_NOT_FOUND_CODES = frozenset(
    IMAGE_NOT_FOUND_CODES | {c for c, (k, _) in _SWR_KINDS.items() if k == "not-found"}
)
_PERMISSION_CODES = frozenset(
    {"ModelArts.2885", "ModelArts.0210"} | {c for c, (k, _) in _SWR_KINDS.items() if k == "permission"}
)
_AUTH_CODES = frozenset(
    {"APIG.0301", "APIG.0307", "ModelArts.0202"} | {c for c, (k, _) in _SWR_KINDS.items() if k == "auth"}
)
_THROTTLE_CODES = frozenset({"APIG.0308"})


def says_token_expired(status: int, error_code: str | None, error_msg: str) -> bool:
    """An answer that means "this token has expired" (refresh the IAM token once).

    The gateway says it three ways: ``APIG.0307``, ``APIG.0301`` whose message says the token
    expired, or ModelArts.0202.
    """
    if error_code in ("APIG.0307", "ModelArts.0202"):
        return True
    text = error_msg.lower()
    mentions = "token" in text and ("expired" in text or "must be updated" in text)
    return status == 401 and (error_code in (None, "APIG.0301") and mentions)


def hint_for(status: int, error_code: str | None) -> str | None:
    """The one-line hint for an HTTP status and a ModelArts/APIG error code."""
    if error_code and error_code in _HINTS_BY_CODE:
        return _HINTS_BY_CODE[error_code]
    if error_code and error_code.startswith("APIG") and status == 401:
        return _HINTS_BY_STATUS[401]
    return _HINTS_BY_STATUS.get(status, N_("server error: retry later") if status >= 500 else None)


class ApiError(MaiWidgetsError):
    """ModelArts (or IAM, or the gateway) answered with an error."""

    code = "api"
    # Seconds the server asked to wait (its ``Retry-After`` header), when it said.
    retry_after: float | None = None

    def __init__(
        self,
        status: int,
        error_code: str | None,
        error_msg: str,
        request_id: str | None = None,
        *,
        hint: str | None = None,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        label = error_code or f"HTTP {status}"
        super().__init__(
            f"{label}: {error_msg}" if error_msg else label,
            hint=hint if hint is not None else hint_for(status, error_code),
        )

    def one_line(self, tr: Translation | None = None) -> str:
        text = super().one_line(tr)
        if not self.request_id:
            return text
        if tr is None:
            return f"{text} [request id {self.request_id}]"
        _tr = tr
        return _tr("{error} [request id {request_id}]", error=text, request_id=self.request_id)


class AuthenticationError(ApiError):
    code = "unauthenticated"


class PermissionDeniedError(ApiError):
    code = "permission-denied"


class NotFoundError(ApiError):
    code = "not-found"


class AlreadyRegisteredError(ApiError):
    code = "already-registered"


class ThrottledError(ApiError):
    code = "throttled"


class ServerError(ApiError):
    code = "server-error"


class NotebookStateError(ApiError):
    """The notebook instance is not in a state that allows the operation (not running, busy...)."""

    code = "notebook-state"


class TagConflictError(ApiError):
    """Saving a notebook: the repository already has an image with that tag."""

    code = "tag-conflict"


class QuotaExceededError(ApiError):
    code = "quota-exceeded"


class TooLargeError(ApiError):
    code = "too-large"


# Notebook instances (ModelArts' published error table, notebook codes; API-NOTES "Saving a
# running notebook as an image"): each code's class and the sentence saying what to do.
_NOT_RUNNING_HINT = N_(
    "the notebook instance is not running: start it (ModelArts console > Notebook), then save"
)
NOTEBOOK_ERROR_CODES: dict[str, tuple[type[ApiError], str]] = {
    "ModelArts.6327": (NotebookStateError, _NOT_RUNNING_HINT),
    "ModelArts.6306": (
        NotebookStateError,
        N_("the notebook instance is still starting: wait until it is RUNNING, then save"),
    ),
    "ModelArts.6308": (
        NotebookStateError,
        N_("the notebook instance is stopping: start it again and wait until it is RUNNING, then save"),
    ),
    "ModelArts.6357": (
        NotebookStateError,
        N_(
            "the notebook instance is busy with another operation (saving an image, a restart...): "
            "wait until it is RUNNING again, then retry"
        ),
    ),
    "ModelArts.6326": (
        NotebookStateError,
        N_(
            "the notebook instance is frozen (arrears or a security lock): settle the account "
            "or ask the administrator to unfreeze it"
        ),
    ),
    "ModelArts.6309": (
        NotFoundError,
        N_(
            "no such notebook instance: it was deleted, or the id or project/region is wrong; "
            "pick one from the list"
        ),
    ),
    **dict.fromkeys(
        ("ModelArts.0113", "ModelArts.0116", "ModelArts.0118"),
        (
            QuotaExceededError,
            N_("a quota is full: delete images (or instances) you no longer need, or ask for a larger quota"),
        ),
    ),
}
_HINTS_BY_CODE.update({code: hint for code, (_, hint) in NOTEBOOK_ERROR_CODES.items()})
_TAG_CONFLICT_HINT = N_(
    "that tag is already used in this repository: choose another tag (or leave it to the default)"
)
# On POST .../notebooks/{id}/create-image some codes mean something else than on registration:
# 6737 is a tag conflict (not "already registered"), 2845 an environment too large to save, and a
# namespace refusal is about writing into the organization.
SAVE_IMAGE_ERROR_CODES: dict[str, tuple[type[ApiError], str]] = {
    "ModelArts.6737": (TagConflictError, _TAG_CONFLICT_HINT),
    "ModelArts.2884": (TagConflictError, _TAG_CONFLICT_HINT),
    "ModelArts.2845": (
        TooLargeError,
        N_(
            "the environment is too large to save (about 35 GB at most): delete caches, datasets and "
            "unused packages outside /home/ma-user/work, or build the image on an ECS server"
        ),
    ),
    "ModelArts.2885": (
        PermissionDeniedError,
        N_(
            "the SWR organization does not exist or these credentials cannot push to it: create it in "
            "SWR (Organization Management) or pick one you can write to"
        ),
    ),
    "SVCSTG.SWR.4030170": (
        PermissionDeniedError,
        N_(
            "these credentials cannot write to that SWR organization: ask its administrator for edit "
            "rights or pick one you can write to"
        ),
    ),
    "SVCSTG.SWR.4040009": (
        NotFoundError,
        N_(
            "that SWR organization does not exist: create it in SWR (Organization Management) or pick another"
        ),
    ),
}


def save_image_error(error: ApiError) -> ApiError:
    """``error`` as an answer to saving a notebook means it (the codes whose meaning differs
    there from registration's); other errors are returned unchanged."""
    meaning = SAVE_IMAGE_ERROR_CODES.get(error.error_code or "")
    if meaning is None:
        return error
    kind, hint = meaning
    again = kind(error.status, error.error_code, error.error_msg, error.request_id, hint=hint)
    again.retry_after = error.retry_after
    return again


def _class_for(status: int, error_code: str | None) -> type[ApiError]:
    # The error code first: it is exact where the status is shared (400 for most of them).
    if error_code and error_code in NOTEBOOK_ERROR_CODES:
        return NOTEBOOK_ERROR_CODES[error_code][0]
    if error_code in ALREADY_REGISTERED_CODES:
        return AlreadyRegisteredError
    if error_code in _NOT_FOUND_CODES:
        return NotFoundError
    if error_code in _PERMISSION_CODES:
        return PermissionDeniedError
    if error_code in _AUTH_CODES:
        return AuthenticationError
    if error_code in _THROTTLE_CODES:
        return ThrottledError
    by_status: dict[int, type[ApiError]] = {
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        429: ThrottledError,
    }
    if status in by_status:
        return by_status[status]
    return ServerError if status >= 500 else ApiError


def api_error(status: int, error_code: str | None, error_msg: str, request_id: str | None = None) -> ApiError:
    """The most specific :class:`ApiError` subclass for an error code and HTTP status."""
    return _class_for(status, error_code)(status, error_code, error_msg, request_id)


class MalformedResponseError(ServerError):
    """A 2xx answer whose body is not the JSON the API documents (or is too large, or too deep)."""

    code = "malformed-response"


def malformed_answer(response: Any, message: str) -> MalformedResponseError:
    """A 2xx answer (a ``requests.Response``) that cannot be read: its request id, and the hint
    that a retry may help."""
    return MalformedResponseError(
        response.status_code,
        None,
        message,
        request_id_of(response.headers),
        hint=N_("the service or a proxy garbled the answer; retry later"),
    )


# ---------------------------------------------------------------------------------------
# Reading an error answer: the one reader for every service (ModelArts/APIG, IAM, SWR, registry)

# ModelArts/APIG, then OpenStack-style gateways, then IAM's own trace header.
REQUEST_ID_HEADERS = ("X-Request-Id", "X-Openstack-Request-Id", "X-IAM-Trace-Id")
_ERROR_MSG_MAX = 300
_CODE_KEYS = ("error_code", "errorCode", "code")
_MESSAGE_KEYS = ("error_msg", "errorMessage", "message")


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The request id an answer carries, whichever header its service uses."""
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value[:128]
    return None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number or an HTTP date), or ``None``."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        # An HTTP date is rare here; email.utils pulls in socket, calendar and more on import.
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _entry_fields(entry: Any, code_keys: tuple[str, ...]) -> tuple[str | None, str | None]:
    if not isinstance(entry, Mapping):
        return None, None
    code = next(
        (
            str(v)[:64]
            for v in (entry.get(k) for k in code_keys)
            if (isinstance(v, str) and v.strip()) or (isinstance(v, int) and not isinstance(v, bool))
        ),
        None,
    )
    message = next((v for v in (entry.get(k) for k in _MESSAGE_KEYS) if isinstance(v, str) and v), None)
    return code, message


def error_fields(body: Any) -> tuple[str | None, str]:
    """``(code, message)`` of an error body, raw bytes or parsed JSON, in any shape documented:

    * ModelArts/APIG ``{"error_code", "error_msg"}``;
    * IAM ``{"error": {"code", "message", "title"}}``;
    * SWR ``{"errors": [{"errorCode", "errorMessage"}], "error_code", "error_msg", "details"}``
      and its legacy list ``[{"errorCode", "errorMessage", "detail"}]`` (and a flat
      ``{"errorCode", "errorMessage"}``);
    * the registry's ``{"errors": [{"code", "message", "detail"}]}`` (Docker Registry v2 / OCI).

    ``(None, "")`` when it is none of them (not JSON, an HTML page).
    """
    if isinstance(body, (bytes, bytearray)):
        try:
            body = json.loads(body) if body.strip() else None
        except (ValueError, RecursionError):
            return None, ""
    entries: list[tuple[Any, tuple[str, ...]]] = []
    if isinstance(body, list) and body:
        entries.append((body[0], _CODE_KEYS))
    elif isinstance(body, Mapping):
        # A bare top-level "code" is not taken: gateways put HTTP statuses there.
        entries.append((body, _CODE_KEYS[:2]))
        entries.append((body.get("error"), _CODE_KEYS))
        listed = body.get("errors")
        if isinstance(listed, list) and listed:
            entries.append((listed[0], _CODE_KEYS))
    fields = [_entry_fields(entry, keys) for entry, keys in entries]
    # The code and its own message where one entry has both; else the first message given.
    code, message = next(((c, m) for c, m in fields if c is not None), (None, None))
    if message is None:
        message = next((m for _, m in fields if m is not None), "")
    return code, message


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def error_from_answer(
    status: int,
    headers: Mapping[str, str],
    body: Any,
    *,
    reason: str = "",
    redact: Callable[[str], str] | None = None,
) -> ApiError:
    """The typed error for a non-2xx answer of any service (see :func:`error_fields`).

    ``body`` is the answer's bytes (or its parsed JSON); ``reason`` the HTTP reason phrase, used
    when the body says nothing; ``redact`` removes secrets from text the server sent.
    """
    code, message = error_fields(body)
    if not message:
        kind = headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
        message = f"{reason or 'error'} (the answer was {kind}, not a service error)"
    message = " ".join(message[: _ERROR_MSG_MAX * 4].split())
    if redact is not None:
        message = redact(message)
    if len(message) > _ERROR_MSG_MAX:
        message = message[: _ERROR_MSG_MAX - 1] + "…"
    error = api_error(status, code, message, request_id_of(headers))
    error.retry_after = parse_retry_after(headers.get("Retry-After"))
    if isinstance(error, ThrottledError) and error.retry_after is not None:
        error.hint = Msg(
            "the service asked to wait {duration}; retry after that", duration=_duration(error.retry_after)
        )
    return error
