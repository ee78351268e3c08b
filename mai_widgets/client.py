"""The ModelArts image API client: register, show, list, delete, sync, and wait for an image.

Reliability rules, in one place:

* Idempotent calls (GET, DELETE, and the status sync) are retried by urllib3's ``Retry`` on
  connection errors, 429 and 5xx, honouring ``Retry-After``, at most ``max_retries`` times; a
  malformed 200 answer is retried the same number of times.
* Registration is never retried blindly. It goes through a separate session whose adapter
  retries only failed *connections* (nothing was sent). After an ambiguous failure (timeout,
  reset, 5xx, malformed answer) the client lists the images of that SWR path before trying
  again, so one call registers at most one image. ModelArts.2884 ("already registered")
  returns the existing record with ``already_registered=True``.
* Every failure is a typed :mod:`mai_widgets.errors` exception with a one-line hint; none
  carries a credential, a response dump or a urllib3 traceback chain.

``requests``, ``urllib3``, the auth module (and ``logging``, ``json``, ``threading``) load
when a client is made or used, so ``import mai_widgets.client`` stays cheap for scripts and
for the notebook's first cell.
"""

from __future__ import annotations

import builtins
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._version import __version__
from .contract import (
    LIST_LIMIT_MAX,
    ImageGroup,
    ImageRecord,
    ImageStatus,
    ListFilters,
    RegisterRequest,
    split_swr_path,
    validate_image_id,
)
from .errors import (
    AlreadyRegisteredError,
    ApiError,
    FieldProblem,
    MaiWidgetsError,
    NotFoundError,
    ServerError,
    ThrottledError,
    TransportError,
    ValidationError,
    api_error,
)

if TYPE_CHECKING:
    import logging
    import threading

    import requests
    from requests.auth import AuthBase

    from .config import Credentials, MaiConfig

__all__ = [
    "USER_AGENT",
    "ImageClient",
    "MalformedResponseError",
    "WaitResult",
    "poll_delay",
]


def _log() -> logging.Logger:
    # logging, json and threading load with requests on first use, not at import.
    import logging

    return logging.getLogger(__name__)


USER_AGENT = f"mai-widgets/{__version__}"
RETRY_STATUSES = (429, 500, 502, 503, 504)
# A server may ask for any pause; past this we stop waiting for it and report the error.
MAX_RETRY_AFTER = 60.0
# Pause between our own retries (registration, malformed answers): 0.2 s, 0.4 s, ... 3.2 s.
_BACKOFF_FIRST = 0.2
_BACKOFF_MAX = 3.2
_ERROR_MSG_MAX = 300
_GROUP_FILTERS = frozenset({"name", "name_fuzzy_match", "namespace", "type", "workspace_id"})

T = TypeVar("T")
WaitOutcome = Literal["settled", "timeout", "stopped"]


class MalformedResponseError(ServerError):
    """A 2xx answer whose body is not the JSON the API documents."""

    code = "malformed-response"


def _garbled(response: requests.Response, message: str) -> MalformedResponseError:
    """A 2xx answer that cannot be read, with its request id and the hint that a retry may help."""
    return MalformedResponseError(
        response.status_code,
        None,
        message,
        response.headers.get("X-Request-Id"),
        hint="the service or a proxy garbled the answer; retry later",
    )


# ---------------------------------------------------------------------------------------
# Poll schedule and wait result


def poll_delay(
    poll: int,
    initial: float,
    factor: float,
    maximum: float,
    *,
    retry_after: float | None = None,
    remaining: float | None = None,
) -> float:
    """Seconds to pause after poll number ``poll`` (1 = after the first poll).

    ``initial * factor**(poll-1)`` capped at ``maximum``; at least ``retry_after`` when the
    server asked for it; never past the ``remaining`` time of the wait.
    """
    try:
        delay = min(maximum, initial * factor ** max(0, poll - 1))
    except OverflowError:
        delay = maximum
    if retry_after is not None:
        delay = max(delay, retry_after)
    if remaining is not None:
        delay = min(delay, max(0.0, remaining))
    return max(0.0, delay)


def _backoff(attempt: int) -> float:
    """Pause before our own retry number ``attempt`` (1-based)."""
    return min(_BACKOFF_MAX, _BACKOFF_FIRST * 2.0 ** max(0, attempt - 1))


@dataclass(frozen=True)
class WaitResult:
    """How :meth:`ImageClient.wait` ended: the last record seen and why it stopped."""

    record: ImageRecord
    outcome: WaitOutcome
    polls: int
    elapsed: float

    @property
    def settled(self) -> bool:
        """The image reached a terminal status (ACTIVE, CREATE_FAILED, ERROR or DELETED)."""
        return self.outcome == "settled"

    @property
    def succeeded(self) -> bool:
        return self.settled and self.record.status == ImageStatus.ACTIVE


# ---------------------------------------------------------------------------------------
# HTTP plumbing (lazy imports: see the module docstring)


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        from email.utils import parsedate_to_datetime  # rare: only an HTTP-date Retry-After

        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if math.isnan(seconds):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def _make_retry(total: int, *, idempotent: bool) -> Any:
    """A urllib3 ``Retry``: full retries for idempotent calls, connection-only for register."""
    from urllib3.util.retry import Retry

    class CappedRetry(Retry):
        # urllib3 would sleep for whatever Retry-After says; cap it.
        def parse_retry_after(self, retry_after: str) -> float:
            return min(MAX_RETRY_AFTER, super().parse_retry_after(retry_after))

    if idempotent:
        return CappedRetry(
            total=total,
            connect=total,
            read=total,
            status=total,
            other=0,
            redirect=0,
            # Register never uses this adapter; sync (a POST) only re-reads the status.
            allowed_methods=frozenset({"GET", "HEAD", "DELETE", "POST"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=_BACKOFF_FIRST,
            backoff_max=_BACKOFF_MAX,
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=False,
        )
    # A failed connection sent nothing, so retrying it cannot register twice.
    return CappedRetry(
        total=total,
        connect=total,
        read=0,
        status=0,
        other=0,
        redirect=0,
        # POST is not listed, so a read error or an error status is never retried here
        # (an empty set would mean "every method" to urllib3).
        allowed_methods=frozenset({"GET"}),
        backoff_factor=_BACKOFF_FIRST,
        backoff_max=_BACKOFF_MAX,
        raise_on_status=False,
        raise_on_redirect=False,
    )


def _new_session(retry: Any, template: requests.Session | None = None) -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    if template is not None:
        # Share hooks, proxies and client certificate with the caller's session.
        session.hooks = template.hooks
        session.proxies = template.proxies
        session.cert = template.cert
        session.trust_env = template.trust_env
    adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=4)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _exception_chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        reason = getattr(current, "reason", None)
        nxt = current.__cause__ or current.__context__
        if isinstance(reason, BaseException) and reason not in seen:
            nxt = reason
        elif nxt is None and current.args and isinstance(current.args[0], BaseException):
            nxt = current.args[0]
        current = nxt
    return seen


class ClientTransportError(TransportError):
    """A :class:`TransportError` that knows whether the request may have reached the server."""

    def __init__(self, message: str, *, hint: str | None, maybe_sent: bool) -> None:
        super().__init__(message, hint=hint)
        self.maybe_sent = maybe_sent


def _transport_error(exc: Exception, where: str, timeouts: tuple[float, float]) -> ClientTransportError:
    """A short, secret-free error for a failed request (the urllib3 chain is not shown)."""
    import ssl

    import requests.exceptions as rex
    from urllib3.exceptions import (
        ConnectTimeoutError,
        NameResolutionError,
        NewConnectionError,
        ReadTimeoutError,
    )

    chain = _exception_chain(exc)

    def caused_by(*kinds: type[BaseException]) -> bool:
        return any(isinstance(e, kinds) for e in chain)

    retry_hint = "check the network and the endpoint, then retry"
    maybe_done = "the request may have taken effect; check before repeating it"
    if isinstance(exc, rex.SSLError) or caused_by(ssl.SSLError):
        return ClientTransportError(
            f"TLS verification failed for {where}",
            hint="install the right CA bundle and set MAI_WIDGETS_CA_BUNDLE (verification is on by default)",
            maybe_sent=False,
        )
    # Order matters: urllib3's NewConnectionError is a kind of ConnectTimeoutError.
    if caused_by(NameResolutionError):
        return ClientTransportError(
            f"cannot resolve the host of {where}", hint="check MAI_WIDGETS_ENDPOINT and DNS", maybe_sent=False
        )
    if caused_by(ConnectionRefusedError):
        return ClientTransportError(
            f"connection refused by {where}: nothing is listening there",
            hint="check MAI_WIDGETS_ENDPOINT (is the emulator or proxy running?)",
            maybe_sent=False,
        )
    if caused_by(NewConnectionError):
        return ClientTransportError(f"cannot connect to {where}", hint=retry_hint, maybe_sent=False)
    if isinstance(exc, rex.ConnectTimeout) or caused_by(ConnectTimeoutError):
        return ClientTransportError(
            f"no connection to {where} within {timeouts[0]:g} s", hint=retry_hint, maybe_sent=False
        )
    if isinstance(exc, rex.ReadTimeout) or caused_by(ReadTimeoutError, TimeoutError):
        return ClientTransportError(
            f"{where} did not answer within {timeouts[1]:g} s", hint=maybe_done, maybe_sent=True
        )
    if isinstance(exc, rex.ConnectionError):
        return ClientTransportError(
            f"the connection to {where} was closed before it answered", hint=maybe_done, maybe_sent=True
        )
    return ClientTransportError(
        f"the request to {where} failed ({type(exc).__name__})", hint=retry_hint, maybe_sent=True
    )


def _was_retried(response: requests.Response) -> bool:
    retries = getattr(response.raw, "retries", None)
    return bool(getattr(retries, "history", ()))


# ---------------------------------------------------------------------------------------
# The client


class ImageClient:
    """ModelArts image management for one project.

    ``ImageClient()`` reads :func:`mai_widgets.config.load_config` and
    :meth:`Credentials.from_env`. Credentials are checked on the first call, not here, so a
    panel can be built first and show :meth:`missing_settings`.

    ``auth`` replaces the credentials (any ``requests`` auth object). ``session`` carries the
    idempotent calls (the client mounts its retrying adapter on it); registration uses a
    sibling session that shares its hooks, proxies and client certificate.
    """

    def __init__(
        self,
        config: MaiConfig | None = None,
        credentials: Credentials | None = None,
        *,
        auth: AuthBase | None = None,
        session: requests.Session | None = None,
    ) -> None:
        import threading

        from .config import Credentials, load_config
        from .credentials import CredentialChain

        self.config: MaiConfig = config if config is not None else load_config()
        self._credentials = credentials if credentials is not None else Credentials.from_env()
        self._explicit_auth = auth
        self._credential_chain = CredentialChain(self.config, self._credentials)
        self._auth: AuthBase | None = None
        self._project_id: str = self.config.project_id
        self._lock = threading.Lock()
        self._base = self.config.modelarts_endpoint()
        self._timeouts = self.config.timeouts()
        self._verify: bool | str = self.config.requests_verify()
        retries = int(self.config.max_retries)
        if session is None:
            self._session = _new_session(_make_retry(retries, idempotent=True))
        else:
            self._session = session
            from requests.adapters import HTTPAdapter

            adapter = HTTPAdapter(max_retries=_make_retry(retries, idempotent=True))
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self._register_session = _new_session(_make_retry(retries, idempotent=False), template=session)
        for s in (self._session, self._register_session):
            s.verify = self._verify
            s.headers["User-Agent"] = USER_AGENT
            s.headers["Accept"] = "application/json"
        self._headers = dict(self._session.headers)
        self._headers_with_body = {**self._headers, "Content-Type": "application/json;charset=UTF-8"}
        # What Session.request would work out from the environment on every call, once.
        self._proxies = dict(self._session.proxies)
        if self._session.trust_env:
            from requests.utils import get_environ_proxies

            self._proxies = {**get_environ_proxies(self._base), **self._proxies}
            if self._verify is True:
                self._verify = (
                    os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
                )

    # -- settings --------------------------------------------------------------------------

    @property
    def endpoint_description(self) -> str:
        return self.config.endpoint_description()

    @property
    def project_id(self) -> str:
        """The project id (found through IAM on first use when not configured)."""
        self._ensure_auth()
        return self._project_id

    def missing_settings(self) -> list[str]:
        """Environment variables to set before a call can succeed (empty: ready).

        With nothing in the environment or the credentials file this names the AK/SK pair, even
        though the instance metadata service may supply credentials on the first request (it is
        not asked before); once it has, this is empty. Never does network I/O.
        """
        if self._explicit_auth is not None:
            return []
        return self._credential_chain.missing_settings()

    @property
    def credentials_source(self) -> str:
        """Where the credentials come from ("from ~/.huaweicloud/credentials"); never a value."""
        if self._explicit_auth is not None:
            return "the auth object given to ImageClient"
        return self._credential_chain.description()

    def close(self) -> None:
        self._session.close()
        self._register_session.close()

    def __enter__(self) -> ImageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ImageClient({self.endpoint_description})"

    # -- auth ------------------------------------------------------------------------------

    def _ensure_auth(self) -> AuthBase:
        auth = self._auth
        if auth is not None:
            return auth
        with self._lock:
            if self._auth is None:
                self._auth = self._build_auth()
            return self._auth

    def _build_auth(self) -> AuthBase:
        # The source chain (explicit, environment, credentials file, metadata service) lives in
        # mai_widgets.credentials; this only keeps what it found.
        if self._explicit_auth is not None:
            if not self._project_id:
                from . import auth as mai_auth

                self._project_id = mai_auth.discover_project_id(
                    self.config.iam_url(),
                    self.config.region,
                    self._explicit_auth,
                    verify=self._verify,
                    timeout=self._timeouts,
                )
            return self._explicit_auth
        built, self._project_id = self._credential_chain.build_auth(
            self._project_id, verify=self._verify, timeout=self._timeouts
        )
        return built

    # -- one request -----------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        from .credentials import redact_all

        # configured secrets and what the auth object obtained at run time (tokens, temporary keys)
        return redact_all(text, self._credentials, self._auth or self._explicit_auth)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        idempotent: bool = True,
    ) -> requests.Response:
        import requests

        auth = self._ensure_auth()
        session = self._session if idempotent else self._register_session
        headers = self._headers_with_body if body is not None else self._headers
        started = time.monotonic()
        try:
            # Prepared by hand and sent with Session.send: Session.request would re-read the
            # proxy environment and merge settings on every call (most of the client's CPU).
            prepared = requests.PreparedRequest()
            prepared.prepare(
                method=method,
                url=self._base + path,
                headers=headers,
                data=body,
                params=params,
                auth=auth,
                hooks=session.hooks,
            )
            response = session.send(
                prepared,
                timeout=self._timeouts,
                verify=self._verify,
                proxies=self._proxies,
                cert=session.cert,
                stream=False,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error = _transport_error(exc, self.endpoint_description, self._timeouts)
            _log().debug("%s %s failed: %s", method, path, error.message)
            raise error from None
        if _log().isEnabledFor(10):  # logging.DEBUG
            _log().debug(
                "%s %s -> %s in %.0f ms (request id %s)",
                method,
                path,
                response.status_code,
                (time.monotonic() - started) * 1000,
                response.headers.get("X-Request-Id"),
            )
        return response

    def _error(self, response: requests.Response) -> ApiError:
        """The typed error for a non-2xx answer, JSON or not (gateway HTML pages too)."""
        import json

        status = response.status_code
        request_id = response.headers.get("X-Request-Id") or response.headers.get("X-Openstack-Request-Id")
        code: str | None = None
        message = ""
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if isinstance(body, dict):
            raw_code = body.get("error_code")
            raw_msg = body.get("error_msg")
            nested = body.get("error")
            if raw_code is None and isinstance(nested, dict):  # IAM's {"error": {"code", "message"}}
                raw_code, raw_msg = nested.get("code"), nested.get("message")
            code = str(raw_code) if raw_code not in (None, "") else None
            message = str(raw_msg) if raw_msg is not None else ""
        if not message:
            kind = response.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
            reason = response.reason or "error"
            message = f"{reason} (the answer was {kind}, not a ModelArts error)"
        message = self._redact(" ".join(message.split()))
        if len(message) > _ERROR_MSG_MAX:
            message = message[: _ERROR_MSG_MAX - 1] + "…"
        error = api_error(status, code, message, request_id)
        error.retry_after = _parse_retry_after(response.headers.get("Retry-After"))
        return error

    @staticmethod
    def _json(response: requests.Response) -> Any:
        import json

        try:
            return json.loads(response.content)
        except ValueError:
            raise _garbled(response, "the answer is not valid JSON") from None

    @staticmethod
    def _parse_record(data: Any, response: requests.Response) -> ImageRecord:
        try:
            return ImageRecord.from_wire(data)
        except (ValueError, TypeError):
            raise _garbled(response, "the answer is not an image record") from None

    def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[Any, requests.Response], T],
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        gone_after_repeat: Callable[[], T] | None = None,
    ) -> T:
        """An idempotent call, its answer parsed by ``parse``.

        ``gone_after_repeat`` answers a 404 that followed a repeated attempt (the first one
        took effect and its answer was lost).
        """
        attempts = int(self.config.max_retries) + 1
        for attempt in range(attempts):
            response = self._send(method, path, params=params, body=body)
            if response.status_code >= 300:
                error = self._error(response)
                repeated = attempt > 0 or _was_retried(response)
                if gone_after_repeat is not None and repeated and isinstance(error, NotFoundError):
                    return gone_after_repeat()
                raise error
            try:
                return parse(self._json(response), response)
            except MalformedResponseError:
                if attempt + 1 >= attempts:
                    raise
                _log().debug("%s %s: malformed answer, retrying", method, path)
                time.sleep(_backoff(attempt + 1))
        raise AssertionError("unreachable")

    def _path(self, suffix: str = "") -> str:
        self._ensure_auth()
        return f"/v1/{self._project_id}/images{suffix}"

    # -- the API ---------------------------------------------------------------------------

    def get(self, image_id: str) -> ImageRecord:
        """``GET /v1/{project_id}/images/{id}``."""
        image_id = validate_image_id(image_id)
        return self._call("GET", self._path(f"/{image_id}"), self._parse_record)

    def sync(self, image_id: str) -> ImageRecord:
        """``POST /v1/{project_id}/images/{id}/sync``: ask ModelArts to correct the status."""
        image_id = validate_image_id(image_id)
        return self._call("POST", self._path(f"/{image_id}/sync"), self._parse_record)

    def delete(self, image_id: str, force: bool = False) -> ImageRecord:
        """``DELETE /v1/{project_id}/images/{id}``; ``force`` also deletes the SWR image.

        ``force`` goes as the documented query flag ``force=true`` (the official SDK sends a
        JSON body ``{"is_force": true}`` instead; the emulator accepts both).
        """
        image_id = validate_image_id(image_id)
        if not isinstance(force, bool):
            raise ValidationError([FieldProblem("force", "must be true or false")])
        path = self._path(f"/{image_id}")

        def deleted_earlier() -> ImageRecord:
            record = self.get(image_id)
            if record.status != ImageStatus.DELETED:
                raise NotFoundError(404, "ModelArts.6797", f"Image {image_id} does not exist.")
            return record

        params = {"force": "true"} if force else None
        return self._call(
            "DELETE", path, self._parse_record, params=params, gone_after_repeat=deleted_earlier
        )

    def list(self, filters: ListFilters | None = None, /, **values: Any) -> list[ImageRecord]:
        """Every image matching the filters of ``GET /v1/{project_id}/images`` (all pages)."""
        query = self._filters(filters, values).to_query()
        return self._pages("", query, self._parse_record)

    def list_groups(self, filters: ListFilters | None = None, /, **values: Any) -> builtins.list[ImageGroup]:
        """One row per image name (``GET /v1/{project_id}/images/group``), all pages."""
        chosen = self._filters(filters, values)
        query = chosen.to_query()
        unsupported = sorted(set(query) - _GROUP_FILTERS)
        if unsupported:
            raise ValidationError([FieldProblem(n, "is not a filter of the group list") for n in unsupported])

        def parse_group(data: Any, response: requests.Response) -> ImageGroup:
            if not isinstance(data, Mapping):
                raise MalformedResponseError(
                    response.status_code, None, "the answer is not an image group", None
                )
            return ImageGroup.from_wire(data)

        return self._pages("/group", query, parse_group)

    @staticmethod
    def _filters(filters: ListFilters | None, values: Mapping[str, Any]) -> ListFilters:
        if filters is not None and values:
            raise TypeError("pass either a ListFilters or keyword filters, not both")
        return filters if filters is not None else ListFilters.create(**values)

    def _pages(
        self, suffix: str, query: Mapping[str, str], parse: Callable[[Any, requests.Response], T]
    ) -> builtins.list[T]:
        path = self._path(suffix)

        def parse_page(data: Any, response: requests.Response) -> tuple[list[T], int]:
            if not isinstance(data, Mapping) or not isinstance(data.get("data"), list):
                raise MalformedResponseError(
                    response.status_code,
                    None,
                    "the answer is not a page of results",
                    response.headers.get("X-Request-Id"),
                )
            total = data.get("total")
            items = [parse(item, response) for item in data["data"]]
            return items, total if isinstance(total, int) else -1

        out: list[T] = []
        seen: set[str] = set()
        offset = 0
        # The offset counts records; a page shorter than asked for is the last.
        while True:
            params = {**query, "limit": str(LIST_LIMIT_MAX), "offset": str(offset)}
            items, total = self._call("GET", path, parse_page, params=params)
            for item in items:
                key = getattr(item, "id", None) or repr(item)
                if key not in seen:  # records shifted by a concurrent insert show up twice
                    seen.add(key)
                    out.append(item)
            offset += len(items)
            if len(items) < LIST_LIMIT_MAX or (total >= 0 and offset >= total):
                return out

    # -- register --------------------------------------------------------------------------

    def _register_request(
        self, request: RegisterRequest | None, fields: Mapping[str, Any]
    ) -> RegisterRequest:
        if request is not None and not isinstance(request, RegisterRequest):
            raise ValidationError([FieldProblem("request", "must be a RegisterRequest (or pass fields)")])
        if request is None:
            request = RegisterRequest.create(**fields)
        elif fields:
            request = request.replace(**fields)
        if request.workspace_id is None and self.config.workspace_id != "0":
            request = request.replace(workspace_id=self.config.workspace_id)
        return request

    def find_registered(self, swr_path: str) -> ImageRecord | None:
        """The live (not DELETED) image registered from ``swr_path``, if any."""
        parts = split_swr_path(swr_path)
        if parts is None:
            return None
        for record in self.list(name=parts["name"], namespace=parts["namespace"], name_fuzzy_match=False):
            if record.swr_path == swr_path and record.status != ImageStatus.DELETED:
                return record
        return None

    def _lookup_after_ambiguity(self, swr_path: str) -> ImageRecord | None:
        try:
            return self.find_registered(swr_path)
        except MaiWidgetsError as exc:
            exc.hint = (
                "the registration may have taken effect: list the images of this swr_path before retrying"
            )
            raise

    def register(self, request: RegisterRequest | None = None, /, **fields: Any) -> ImageRecord:
        """``POST /v1/{project_id}/images``; returns the new (or already registered) record.

        Fields are validated here first; nothing is sent for an invalid request. One call
        registers at most one image, whatever the network does.
        """
        import json

        req = self._register_request(request, fields)
        body = json.dumps(req.to_body(), separators=(",", ":")).encode()
        path = self._path()
        attempts = int(self.config.max_retries) + 1
        ambiguous = False  # an earlier attempt may have registered the image
        last_error: MaiWidgetsError | None = None
        pause = 0.0
        for attempt in range(attempts):
            if attempt:
                if ambiguous:
                    found = self._lookup_after_ambiguity(req.swr_path)
                    if found is not None:
                        _log().debug("register: an earlier attempt registered %s", found.id)
                        return found
                time.sleep(max(pause, _backoff(attempt)))
                pause = 0.0
            try:
                response = self._send("POST", path, body=body, idempotent=False)
            except ClientTransportError as exc:
                last_error = exc
                ambiguous = ambiguous or exc.maybe_sent
                continue
            if response.status_code < 300:
                try:
                    return self._parse_record(self._json(response), response)
                except MalformedResponseError as exc:
                    last_error, ambiguous = exc, True
                    continue
            error = self._error(response)
            if isinstance(error, AlreadyRegisteredError):
                existing = self._lookup_after_ambiguity(req.swr_path)
                if existing is None:
                    raise error
                # After an ambiguous attempt the image is most likely this call's own.
                return existing.with_changes(already_registered=not ambiguous)
            if isinstance(error, ThrottledError):
                # The gateway throttles before the request reaches ModelArts.
                last_error, pause = error, error.retry_after or 0.0
                continue
            if isinstance(error, ServerError):
                last_error, ambiguous = error, True
                continue
            raise error
        if ambiguous:
            found = self._lookup_after_ambiguity(req.swr_path)
            if found is not None:
                return found
        assert last_error is not None
        raise last_error

    # -- wait ------------------------------------------------------------------------------

    def wait(
        self,
        image_id: str,
        timeout: float | None = None,
        on_update: Callable[[ImageRecord], None] | None = None,
        stop: threading.Event | None = None,
    ) -> WaitResult:
        """Poll until the image settles, the timeout passes, or ``stop`` is set.

        Polls fast at first, then backs off (``poll_initial``, ``poll_factor``,
        ``poll_max``), never sooner than a ``Retry-After`` asks. ``on_update`` gets the first
        record and every record whose status changed. Throttling, 5xx and connection errors
        while polling are waited out until the timeout; other errors are raised.
        """
        import threading

        image_id = validate_image_id(image_id)
        limit = float(self.config.wait_timeout if timeout is None else timeout)
        if not limit >= 0:
            raise ValidationError([FieldProblem("timeout", "must be a number of seconds, at least 0")])
        stop = stop if stop is not None else threading.Event()
        cfg = self.config
        started = time.monotonic()
        deadline = started + limit
        record: ImageRecord | None = None
        last_status: object = None
        polls = 0
        retry_after: float | None = None
        transient: MaiWidgetsError | None = None

        def result(outcome: WaitOutcome) -> WaitResult:
            if record is None:
                assert transient is not None
                raise transient
            return WaitResult(record, outcome, polls, time.monotonic() - started)

        while True:
            if stop.is_set():
                return result("stopped") if record is not None else self._stopped_early(image_id, polls)
            try:
                polls += 1
                current = self.get(image_id)
                retry_after, transient = None, None
            except (ThrottledError, ServerError, TransportError) as exc:
                transient = exc
                retry_after = exc.retry_after if isinstance(exc, ApiError) else None
            else:
                record = current
                if current.status != last_status:
                    last_status = current.status
                    if on_update is not None:
                        on_update(current)
                if current.is_terminal:
                    return result("settled")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return result("timeout")
            delay = poll_delay(
                polls,
                cfg.poll_initial,
                cfg.poll_factor,
                cfg.poll_max,
                retry_after=retry_after,
                remaining=remaining,
            )
            if stop.wait(delay):
                return result("stopped") if record is not None else self._stopped_early(image_id, polls)

    def _stopped_early(self, image_id: str, polls: int) -> WaitResult:
        # Stopped before any record was read: one read so the result has a record.
        return WaitResult(self.get(image_id), "stopped", polls + 1, 0.0)
