"""The ModelArts image API client: register, show, list, delete, sync, and wait for an image.

Reliability rules, in one place (the transport's own promises are in :mod:`mai_widgets.transport.http`):

* Idempotent calls (GET, DELETE, and the status sync) are retried by urllib3 on connection
  errors, 429 and 5xx, honouring ``Retry-After``, at most ``max_retries`` times; a malformed
  200 answer is retried the same number of times.
* Registration is never retried blindly. Its transport retries only failed *connections*
  (nothing was sent). After an ambiguous failure (timeout, reset, 5xx, malformed answer) the
  client lists the user's images of that SWR path before trying again, so one call registers
  at most one image. "Already registered" (ModelArts.2884 or 6737) returns the existing record
  with ``already_registered=True``.
* A call's ``timeout`` (and :meth:`ImageClient.wait`'s) bounds everything under it: retries,
  pauses and reads. A ``Retry-After`` longer than ``max_retry_after`` is never slept through.
* Every failure is a typed :mod:`mai_widgets.errors` exception with a one-line hint; none
  carries a credential, a response dump or a urllib3 traceback chain.
"""

from __future__ import annotations

import builtins
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ..errors import (
    AlreadyRegisteredError,
    ApiError,
    CancelledError,
    ClientTransportError,
    FieldProblem,
    MaiWidgetsError,
    MalformedResponseError,
    NotFoundError,
    ServerError,
    ThrottledError,
    TransportError,
    ValidationError,
    malformed_answer,
)
from ..transport.deadline import Cancel, Deadline, backoff, call_scope, current_scope
from ..wire.contract import (
    LIST_LIMIT_MAX,
    ImageGroup,
    ImageRecord,
    ImageStatus,
    ImageType,
    ListFilters,
    RegisterRequest,
    WireEnum,
    complete_swr_path,
    split_swr_path,
    validate_image_id,
)

if TYPE_CHECKING:
    import requests
    from requests.auth import AuthBase

    from ..auth.config import Credentials, MaiConfig
    from ..auth.credentials import CredentialChain
    from ..transport.http import HttpService

__all__ = [
    "ImageClient",
    "ImagePage",
    "MalformedResponseError",
    "WaitResult",
    "poll_delay",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
WaitOutcome = Literal["settled", "timeout", "stopped"]
# Which images a listing shows: the user's own (DEDICATED), the service's presets (BUILD_IN), or both.
ListType = Literal["DEDICATED", "BUILD_IN", "ALL"]
_GROUP_FILTERS = frozenset({"name", "name_fuzzy_match", "namespace", "type", "workspace_id"})


# ---------------------------------------------------------------------------------------
# Poll schedule and results


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


@dataclass(frozen=True)
class ImagePage:
    """One page of a listing: its records and the total the service reported."""

    records: tuple[ImageRecord, ...]
    offset: int
    total: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.records) < self.total


def _list_types(kind: str | ImageType | None) -> tuple[ImageType, ...]:
    # The service's own default is BUILD_IN (SDK ListImageRequest.type): never leave it unsaid.
    text = str(kind.value if isinstance(kind, WireEnum) else (kind or "DEDICATED")).strip().upper()
    if text == "ALL":
        return (ImageType.DEDICATED, ImageType.BUILD_IN)
    try:
        return (ImageType(text),)
    except ValueError:
        raise ValidationError([FieldProblem("type", "must be DEDICATED, BUILD_IN or ALL")]) from None


# ---------------------------------------------------------------------------------------
# The client


class ImageClient:
    """ModelArts image management for one project.

    ``ImageClient()`` reads :func:`mai_widgets.auth.config.load_config` and
    :meth:`Credentials.from_env`. Nothing is sent and credentials are not checked until the
    first call, so a panel can be built first and show :meth:`missing_settings`.

    ``auth`` replaces the credentials (any ``requests`` auth object). ``session`` lends its
    hooks, proxies, client certificate and headers to the client's own sessions.
    """

    def __init__(
        self,
        config: MaiConfig | None = None,
        credentials: Credentials | None = None,
        *,
        auth: AuthBase | None = None,
        session: requests.Session | None = None,
    ) -> None:
        # traitlets, requests and urllib3 load with the first client, not with
        # `import mai_widgets.services.images`: scripts and the notebook's first cell import the package
        # long before they call.
        from ..auth.config import Credentials, load_config
        from ..auth.credentials import CredentialChain
        from ..transport.http import HttpService

        self.config: MaiConfig = config if config is not None else load_config()
        self._credentials = credentials if credentials is not None else Credentials.from_env()
        self._explicit_auth = auth
        self._credential_chain: CredentialChain = CredentialChain(self.config, self._credentials)
        self._auth: AuthBase | None = None
        self._project_id: str = self.config.project_id
        self._lock = threading.Lock()

        cfg = self.config
        common: dict[str, Any] = {**cfg.http_options(), "redact": self._redact}
        self._http: HttpService = HttpService(
            cfg.modelarts_endpoint(),
            where=cfg.endpoint_description(),
            setting="MAI_WIDGETS_ENDPOINT",
            session=session,
            **common,
        )
        self._iam = HttpService(
            cfg.iam_url(), where=f"IAM ({cfg.iam_url()})", setting="MAI_WIDGETS_IAM_ENDPOINT", **common
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
        """Stop this client's calls now (in-flight requests are cut) and release its sockets."""
        self._http.close()
        self._iam.close()

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

    def _discover(self, auth: AuthBase) -> str:
        from ..auth import iam as mai_auth

        return mai_auth.discover_project_id(self._iam, self.config.region, auth)

    def _build_auth(self) -> AuthBase:
        # The source chain (explicit, environment, credentials file, metadata service) lives in
        # mai_widgets.auth.credentials; this only keeps what it found.
        if self._explicit_auth is not None:
            if not self._project_id:
                self._project_id = self._discover(self._explicit_auth)
            return self._explicit_auth
        built, self._project_id = self._credential_chain.build_auth(self._project_id, iam=self._iam)
        return built

    def _redact(self, text: str) -> str:
        from ..auth.credentials import redact_all  # loaded with the client already (see __init__)

        # configured secrets and what the auth object obtained at run time (tokens, temporary keys)
        return redact_all(text, self._credentials, self._auth or self._explicit_auth)

    # -- one request -----------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        idempotent: bool = True,
    ) -> requests.Response:
        auth = self._ensure_auth()
        return self._http.request(method, path, params=params, body=body, auth=auth, idempotent=idempotent)

    def _error(self, response: requests.Response) -> ApiError:
        return self._http.error(response)

    def _json(self, response: requests.Response) -> Any:
        return self._http.json(response)

    @staticmethod
    def _parse_record(data: Any, response: requests.Response) -> ImageRecord:
        try:
            return ImageRecord.from_wire(data)
        except (ValueError, TypeError, RecursionError):
            raise malformed_answer(response, "the answer is not an image record") from None

    def _pause(self, seconds: float, last_error: MaiWidgetsError) -> None:
        """Our own pause between attempts: cut to the time left, ended by a cancel."""
        scope = current_scope()
        if scope.deadline.remaining() is not None and scope.deadline.cap(seconds) < seconds:
            raise last_error  # no time left for another attempt
        if scope.cancel is not None:
            if scope.cancel.wait(seconds):
                raise CancelledError("cancelled while waiting to retry", maybe_sent=False)
        elif seconds > 0:
            time.sleep(seconds)
        if self._http.closed:
            raise CancelledError("the client was closed", maybe_sent=False)

    def _raise_if_long_throttle(self, error: MaiWidgetsError) -> None:
        if isinstance(error, ThrottledError) and (error.retry_after or 0.0) > float(
            self.config.max_retry_after
        ):
            raise error

    def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[Any, requests.Response], T],
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        gone_after_repeat: Callable[[], T] | None = None,
        empty: Callable[[], T] | None = None,
    ) -> T:
        """An idempotent call, its answer parsed by ``parse``.

        ``gone_after_repeat`` answers a "not found" that followed a repeated attempt (the first
        one took effect and its answer was lost); ``empty`` answers a 204.
        """
        attempts = int(self.config.max_retries) + 1
        for attempt in range(attempts):
            response = self._send(method, path, params=params, body=body)
            if response.status_code >= 300:
                error = self._error(response)
                repeated = attempt > 0 or bool(getattr(getattr(response.raw, "retries", None), "history", ()))
                if gone_after_repeat is not None and repeated and isinstance(error, NotFoundError):
                    return gone_after_repeat()
                raise error
            if response.status_code == 204 and empty is not None:
                return empty()
            try:
                return parse(self._json(response), response)
            except MalformedResponseError as exc:
                if attempt + 1 >= attempts:
                    raise
                log.debug("%s %s: malformed answer, retrying", method, path)
                self._pause(backoff(attempt + 1), exc)
        raise AssertionError("unreachable")

    def _path(self, suffix: str = "") -> str:
        self._ensure_auth()
        return f"/v1/{self._project_id}/images{suffix}"

    # -- the API ---------------------------------------------------------------------------

    def get(self, image_id: str, *, timeout: float | None = None) -> ImageRecord:
        """``GET /v1/{project_id}/images/{id}``."""
        image_id = validate_image_id(image_id)
        with call_scope(Deadline(timeout) if timeout is not None else None):
            return self._call("GET", self._path(f"/{image_id}"), self._parse_record)

    def sync(self, image_id: str, *, timeout: float | None = None) -> ImageRecord:
        """``POST /v1/{project_id}/images/{id}/sync``: ask ModelArts to correct the status."""
        image_id = validate_image_id(image_id)
        with call_scope(Deadline(timeout) if timeout is not None else None):
            return self._call("POST", self._path(f"/{image_id}/sync"), self._parse_record)

    def delete(self, image_id: str, force: bool = False, *, timeout: float | None = None) -> ImageRecord:
        """``DELETE /v1/{project_id}/images/{id}``; ``force`` also deletes the image in SWR.

        ``force`` is destructive: the image's content in SWR is deleted too. An empty 204 answer
        is success and comes back as a record with status DELETED.
        """
        image_id = validate_image_id(image_id)
        if not isinstance(force, bool):
            raise ValidationError([FieldProblem("force", "must be true or false")])

        def deleted_earlier() -> ImageRecord:
            try:
                record = self.get(image_id)
            except NotFoundError:
                return ImageRecord(id=image_id, status=ImageStatus.DELETED)
            if record.status != ImageStatus.DELETED:
                raise NotFoundError(400, "ModelArts.6797", f"Image {image_id} does not exist.")
            return record

        # The API reference documents the query flag `force`; the SDK sends the body
        # {"is_force": ...}. Both are sent, so either reading of the contract is met.
        params = {"force": "true" if force else "false"}
        body = json.dumps({"is_force": force}).encode()
        with call_scope(Deadline(timeout) if timeout is not None else None):
            return self._call(
                "DELETE",
                self._path(f"/{image_id}"),
                self._parse_record,
                params=params,
                body=body,
                gone_after_repeat=deleted_earlier,
                empty=lambda: ImageRecord(id=image_id, status=ImageStatus.DELETED),
            )

    def list(
        self,
        filters: ListFilters | None = None,
        /,
        *,
        type: ListType | str | ImageType | None = None,  # the API's name
        timeout: float | None = None,
        **values: Any,
    ) -> builtins.list[ImageRecord]:
        """Every image matching the filters (all pages); the user's own images unless ``type``
        says BUILD_IN (the service's presets) or ALL."""
        chosen = self._filters(filters, values)
        out: list[ImageRecord] = []
        with call_scope(Deadline(timeout) if timeout is not None else None):
            for kind in _list_types(type if type is not None else chosen.type):
                query = chosen.replace(type=kind).to_query()
                out.extend(self._pages("", query, self._parse_record))
        return out

    def page(
        self,
        filters: ListFilters | None = None,
        /,
        *,
        offset: int = 0,
        limit: int = LIST_LIMIT_MAX,
        type: ListType | str | ImageType | None = None,  # the API's name
        timeout: float | None = None,
        **values: Any,
    ) -> ImagePage:
        """One page of ``GET /v1/{project_id}/images`` (for views that load as the user scrolls).

        ``type`` ALL is not one listing on the service: it needs :meth:`list`.
        """
        chosen = self._filters(filters, values)
        kinds = _list_types(type if type is not None else chosen.type)
        if len(kinds) != 1:
            raise ValidationError([FieldProblem("type", "a page lists DEDICATED or BUILD_IN, not ALL")])
        if not (
            isinstance(offset, int)
            and offset >= 0
            and isinstance(limit, int)
            and 1 <= limit <= LIST_LIMIT_MAX
        ):
            raise ValidationError([FieldProblem("offset", f"offset >= 0 and 1 <= limit <= {LIST_LIMIT_MAX}")])
        query = {**chosen.replace(type=kinds[0]).to_query(), "limit": str(limit), "offset": str(offset)}
        with call_scope(Deadline(timeout) if timeout is not None else None):
            records, total = self._call(
                "GET", self._path(), self._page_parser(self._parse_record), params=query
            )
        return ImagePage(tuple(records), offset, total if total >= 0 else offset + len(records))

    def list_groups(
        self,
        filters: ListFilters | None = None,
        /,
        *,
        type: str | None = None,
        **values: Any,
    ) -> builtins.list[ImageGroup]:
        """One row per image name (``GET /v1/{project_id}/images/group``), all pages; the user's
        own groups unless ``type`` says BUILD_IN or ALL."""
        chosen = self._filters(filters, values)
        unsupported = sorted(set(chosen.to_query()) - _GROUP_FILTERS)
        if unsupported:
            raise ValidationError([FieldProblem(n, "is not a filter of the group list") for n in unsupported])

        def parse_group(data: Any, response: requests.Response) -> ImageGroup:
            if not isinstance(data, Mapping):
                raise malformed_answer(response, "the answer is not an image group")
            return ImageGroup.from_wire(data)

        out: list[ImageGroup] = []
        for kind in _list_types(type if type is not None else chosen.type):
            out.extend(self._pages("/group", chosen.replace(type=kind).to_query(), parse_group))
        return out

    @staticmethod
    def _filters(filters: ListFilters | None, values: Mapping[str, Any]) -> ListFilters:
        if filters is not None and values:
            raise TypeError("pass either a ListFilters or keyword filters, not both")
        return filters if filters is not None else ListFilters.create(**values)

    @staticmethod
    def _page_parser(
        parse: Callable[[Any, requests.Response], T],
    ) -> Callable[[Any, requests.Response], tuple[builtins.list[T], int]]:
        def parse_page(data: Any, response: requests.Response) -> tuple[builtins.list[T], int]:
            if not isinstance(data, Mapping) or not isinstance(data.get("data"), list):
                raise malformed_answer(response, "the answer is not a page of results")
            total = data.get("total")
            items = [parse(item, response) for item in data["data"]]
            return items, total if isinstance(total, int) and not isinstance(total, bool) else -1

        return parse_page

    def _pages(
        self, suffix: str, query: Mapping[str, str], parse: Callable[[Any, requests.Response], T]
    ) -> builtins.list[T]:
        path = self._path(suffix)
        parse_page = self._page_parser(parse)
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
        completed = complete_swr_path(request.swr_path, self.config.region)
        if completed != request.swr_path:
            request = request.replace(swr_path=completed)
        if request.workspace_id is None and self.config.workspace_id != "0":
            request = request.replace(workspace_id=self.config.workspace_id)
        return request

    def find_registered(self, swr_path: str) -> ImageRecord | None:
        """The user's live (not DELETED) image registered from ``swr_path``, if any."""
        path = complete_swr_path(swr_path, self.config.region)
        parts = split_swr_path(path)
        if parts is None:
            return None
        # DEDICATED: the service lists its presets (BUILD_IN) when no type is sent.
        found = self.list(
            name=parts["name"], namespace=parts["namespace"], name_fuzzy_match=False, type="DEDICATED"
        )
        for record in found:
            if record.swr_path == path and record.status != ImageStatus.DELETED:
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

    def register(
        self, request: RegisterRequest | None = None, /, *, timeout: float | None = None, **fields: Any
    ) -> ImageRecord:
        """``POST /v1/{project_id}/images``; returns the new (or already registered) record.

        Fields are validated here first; nothing is sent for an invalid request. One call
        registers at most one image, whatever the network does.
        """
        req = self._register_request(request, fields)
        with call_scope(Deadline(timeout) if timeout is not None else None):
            return self._register(req)

    def _register(self, req: RegisterRequest) -> ImageRecord:
        body = json.dumps(req.to_body(), separators=(",", ":")).encode()
        path = self._path()
        attempts = int(self.config.max_retries) + 1
        ambiguous = False  # an earlier attempt may have registered the image
        last_error: MaiWidgetsError | None = None
        pause = 0.0
        for attempt in range(attempts):
            if attempt:
                assert last_error is not None
                if ambiguous:
                    found = self._lookup_after_ambiguity(req.swr_path)
                    if found is not None:
                        log.debug("register: an earlier attempt registered %s", found.id)
                        return found
                self._pause(max(pause, backoff(attempt)), last_error)
                pause = 0.0
            try:
                response = self._send("POST", path, body=body, idempotent=False)
            except CancelledError:
                raise
            except ClientTransportError as exc:
                last_error = exc
                ambiguous = ambiguous or exc.maybe_sent
                if current_scope().deadline.expired:
                    break
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
                self._raise_if_long_throttle(error)
                last_error, pause = error, error.retry_after or 0.0
                continue
            if isinstance(error, ServerError):
                last_error, ambiguous = error, True
                continue
            raise error
        if ambiguous and not current_scope().deadline.expired:
            found = self._lookup_after_ambiguity(req.swr_path)
            if found is not None:
                return found
        assert last_error is not None
        if ambiguous:
            last_error.hint = (
                "the registration may have taken effect: list the images of this swr_path before retrying"
            )
        raise last_error

    # -- wait ------------------------------------------------------------------------------

    def wait(
        self,
        image_id: str,
        timeout: float | None = None,
        on_update: Callable[[ImageRecord], None] | None = None,
        stop: threading.Event | Cancel | None = None,
        on_poll: Callable[[int], None] | None = None,
    ) -> WaitResult:
        """Poll until the image settles, the timeout passes, or ``stop`` is set.

        Returns within ``timeout`` (plus a moment), whatever the server does: every request,
        retry and pause is cut to the time left. Polls fast at first, then backs off
        (``poll_initial``, ``poll_factor``, ``poll_max``), never sooner than a ``Retry-After``
        asks; a ``Retry-After`` longer than ``max_retry_after`` raises :class:`ThrottledError`.
        ``on_update`` gets the first record and every record whose status changed; ``on_poll``
        the number of status reads so far, after each one. Throttling,
        5xx, malformed answers and connection errors are waited out; other errors are raised.
        A :class:`~mai_widgets.transport.http.Cancel` as ``stop`` also cuts a request in flight.
        """
        image_id = validate_image_id(image_id)
        limit = float(self.config.wait_timeout if timeout is None else timeout)
        if not limit >= 0:
            raise ValidationError([FieldProblem("timeout", "must be a number of seconds, at least 0")])
        cancel = stop if isinstance(stop, Cancel) else Cancel()
        event = stop if isinstance(stop, threading.Event) else None
        deadline = Deadline(limit)
        with call_scope(deadline, cancel):
            return self._wait(image_id, deadline, cancel, event, on_update, on_poll)

    def _wait(
        self,
        image_id: str,
        deadline: Deadline,
        cancel: Cancel,
        event: threading.Event | None,
        on_update: Callable[[ImageRecord], None] | None,
        on_poll: Callable[[int], None] | None,
    ) -> WaitResult:
        cfg = self.config
        started = time.monotonic()
        record: ImageRecord | None = None
        last_status: object = None
        polls = 0
        retry_after: float | None = None
        transient: MaiWidgetsError | None = None

        def stopped() -> bool:
            return cancel.cancelled or (event is not None and event.is_set())

        def result(outcome: WaitOutcome) -> WaitResult:
            if record is None:
                if transient is not None:
                    raise transient
                raise CancelledError("stopped before the image was read", maybe_sent=False)
            return WaitResult(record, outcome, polls, time.monotonic() - started)

        while True:
            if stopped():
                return result("stopped")
            if polls and deadline.expired:
                return result("timeout")  # the last error seen explains more than "no time left"
            try:
                polls += 1
                current = self._call("GET", self._path(f"/{image_id}"), self._parse_record)
                retry_after, transient = None, None
            except CancelledError:
                return result("stopped")
            except (ThrottledError, ServerError, TransportError) as exc:
                self._raise_if_long_throttle(exc)
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
            if on_poll is not None:
                on_poll(polls)
            remaining = deadline.remaining() or 0.0
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
            if event is not None:
                # A plain Event cannot cut a request; watch it in slices while pausing.
                end = time.monotonic() + delay
                while not stopped() and time.monotonic() < end:
                    cancel.wait(min(0.1, end - time.monotonic()))
            else:
                cancel.wait(delay)
