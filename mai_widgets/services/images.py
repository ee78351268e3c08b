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
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
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
    TagConflictError,
    ThrottledError,
    ValidationError,
    malformed_answer,
    save_image_error,
)
from ..i18n import N_, Msg
from ..transport.deadline import Cancel, Deadline, backoff, call_scope, current_scope
from ..wire.contract import (
    FAILED_STATUSES,
    LIST_LIMIT_MAX,
    ImageGroup,
    ImageRecord,
    ImageStatus,
    ImageType,
    ListFilters,
    Origin,
    RegisterRequest,
    WireEnum,
    complete_swr_path,
    split_swr_path,
    validate_image_id,
)
from .follow import Follow, FollowOutcome, poll_delay
from .paging import Page, read_all

if TYPE_CHECKING:
    import requests
    from requests.auth import AuthBase

    from ..auth.config import MaiConfig
    from ..auth.credentials import Credentials
    from ..transport.http import HttpService
    from ..wire.notebooks import NotebookRecord, NotebookStatus, SaveImageRequest
    from .session import Session

__all__ = [
    "ImageClient",
    "MalformedResponseError",
    "WaitResult",
    "poll_delay",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
WaitOutcome = FollowOutcome
# Which images a listing shows: the user's own (DEDICATED), the service's presets (BUILD_IN), or both.
ListType = Literal["DEDICATED", "BUILD_IN", "ALL"]
_REGISTRATION_MAYBE_DONE = N_(
    "the registration may have taken effect: list the images of this swr_path before retrying"
)


# ---------------------------------------------------------------------------------------
# Results


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
    :meth:`Credentials.from_env`. Nothing is sent, no HTTP library is loaded and credentials are
    not checked until the first call, so a panel can be built first and show
    :meth:`missing_settings`.

    ``auth`` replaces the credentials (any ``requests`` auth object). ``session`` lends its
    hooks, proxies, client certificate and headers to the client's own sessions. ``shared`` is
    the :class:`~mai_widgets.services.session.Session` whose sign-in this client uses (an
    :class:`~mai_widgets.services.swr.SwrClient` of the same session shares it); without it the
    client has a session of its own.
    """

    def __init__(
        self,
        config: MaiConfig | None = None,
        credentials: Credentials | None = None,
        *,
        auth: AuthBase | None = None,
        session: requests.Session | None = None,
        shared: Session | None = None,
    ) -> None:
        from .session import Session

        if shared is not None and any(x is not None for x in (config, credentials, auth, session)):
            raise TypeError("pass either shared or config/credentials/auth/session, not both")
        self._shared: Session = (
            shared if shared is not None else Session(config, credentials, auth=auth, session=session)
        )
        self.config: MaiConfig = self._shared.config

    @classmethod
    def for_kernel(cls, config: MaiConfig | None = None) -> ImageClient:
        """The kernel session's client for ``config`` (Jupyter config files and the environment,
        read afresh, when not given), once its credentials are known to be usable.

        A source that is set but incomplete raises its :class:`ConfigError` (what to set). With
        nothing set locally, the instance's agency (metadata service) is asked once, as the panel
        asks it; when it has nothing either, the same "what to set" error is raised.
        """
        from ..auth.config import load_config
        from ..auth.credentials import Credentials, credentials_problem, find_local_credentials
        from .session import Session

        config = config if config is not None else load_config()
        credentials = Credentials.from_env()
        session = Session.for_config(config, credentials)
        problem = credentials_problem(config, credentials)
        if problem is not None:
            if find_local_credentials(config, credentials) is not None:
                raise problem
            try:
                session.auth()
            except MaiWidgetsError:
                raise problem from None
        return session.client(cls)

    # -- settings --------------------------------------------------------------------------

    @property
    def shared(self) -> Session:
        """The session (sign-in, project id, HTTP services) this client uses."""
        return self._shared

    @property
    def endpoint_description(self) -> str:
        return self.config.endpoint_description()

    @property
    def project_id(self) -> str:
        """The project id (found through IAM on first use when not configured)."""
        return self._shared.project_id

    def missing_settings(self) -> list[str]:
        """Environment variables to set before a call can succeed (empty: ready).

        With nothing in the environment or the credentials file this names the AK/SK pair, even
        though the instance metadata service may supply credentials on the first request (it is
        not asked before); once it has, this is empty. Never does network I/O.
        """
        return self._shared.missing_settings()

    @property
    def credentials_source(self) -> str:
        """Where the credentials come from ("from ~/.huaweicloud/credentials"); never a value."""
        return self._shared.credentials_source

    def close(self) -> None:
        """Stop the calls of this client's session now (in-flight requests are cut) and release
        its sockets; an SwrClient sharing the session stops too."""
        self._shared.close()

    def __enter__(self) -> ImageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ImageClient({self.endpoint_description})"

    @property
    def _http(self) -> HttpService:
        return self._shared.modelarts

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
        auth = self._shared.auth()
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

    def too_long_to_wait(self, error: MaiWidgetsError) -> bool:
        """A throttle whose ``Retry-After`` is longer than ``max_retry_after``: never slept
        through, it is raised at once (it says when to retry)."""
        return isinstance(error, ThrottledError) and (error.retry_after or 0.0) > float(
            self.config.max_retry_after
        )

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
        return f"/v1/{self._shared.project_id}/images{suffix}"

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
                query = chosen.replace(type=kind).query_for("image")
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
    ) -> Page[ImageRecord]:
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
        query = {
            **chosen.replace(type=kinds[0]).query_for("image"),
            "limit": str(limit),
            "offset": str(offset),
        }
        with call_scope(Deadline(timeout) if timeout is not None else None):
            records, total = self._call(
                "GET", self._path(), self._page_parser(self._parse_record), params=query
            )
        return Page(tuple(records), offset, limit, total)

    def list_groups(
        self,
        filters: ListFilters | None = None,
        /,
        *,
        type: str | None = None,
        timeout: float | None = None,
        **values: Any,
    ) -> builtins.list[ImageGroup]:
        """One row per image name (``GET /v1/{project_id}/images/group``), all pages; the user's
        own groups unless ``type`` says BUILD_IN or ALL."""
        chosen = self._filters(filters, values)
        chosen.query_for("group")  # the filters the group list takes, before anything is sent

        def parse_group(data: Any, response: requests.Response) -> ImageGroup:
            if not isinstance(data, Mapping):
                raise malformed_answer(response, "the answer is not an image group")
            return ImageGroup.from_wire(data)

        out: list[ImageGroup] = []
        with call_scope(Deadline(timeout) if timeout is not None else None):
            for kind in _list_types(type if type is not None else chosen.type):
                query = chosen.replace(type=kind).query_for("group")
                out.extend(self._pages("/group", query, parse_group))
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
        self,
        suffix: str,
        query: Mapping[str, str],
        parse: Callable[[Any, requests.Response], T],
    ) -> builtins.list[T]:
        path = self._path(suffix)
        parse_page = self._page_parser(parse)

        def fetch(offset: int) -> tuple[builtins.list[T], int, int]:
            params = {**query, "limit": str(LIST_LIMIT_MAX), "offset": str(offset)}
            items, total = self._call("GET", path, parse_page, params=params)
            return items, total, len(items)

        # a listing is bounded by LIST_TIMEOUT within the caller's deadline
        return read_all(fetch, lambda item: getattr(item, "id", None) or repr(item), LIST_LIMIT_MAX)

    # -- notebook instances ----------------------------------------------------------------

    # The notebook wire types are imported where used: a script that registers images, and the
    # client's import time, do without them.

    def _notebooks_path(self, suffix: str = "") -> str:
        return f"/v1/{self._shared.project_id}/notebooks{suffix}"

    @staticmethod
    def _parse_notebook(data: Any, response: requests.Response) -> NotebookRecord:
        from ..wire.notebooks import NotebookRecord

        try:
            return NotebookRecord.from_wire(data)
        except (ValueError, TypeError, RecursionError):
            raise malformed_answer(response, "the answer is not a notebook record") from None

    def list_notebooks(
        self,
        *,
        status: NotebookStatus | str | None = None,
        name: str | None = None,
        ip: str | None = None,
        workspace_id: str | None = None,
        timeout: float | None = None,
    ) -> builtins.list[NotebookRecord]:
        """Every notebook instance matching the filters (``GET /v1/{project_id}/notebooks``, all
        pages): ``status`` one :class:`NotebookStatus`, ``name`` matched in part, ``ip`` the
        instance's IPv4 address."""
        from ..wire.notebooks import NOTEBOOK_LIST_LIMITS, notebook_list_query

        query = notebook_list_query(status=status, name=name, ip=ip, workspace_id=workspace_id)
        path = self._notebooks_path()
        parse_page = self._page_parser(self._parse_notebook)
        size = max(NOTEBOOK_LIST_LIMITS)  # the API takes 10, 20 or 50 and nothing else

        def fetch(offset: int) -> tuple[builtins.list[NotebookRecord], int, int]:
            params = {**query, "limit": str(size), "offset": str(offset)}
            items, total = self._call("GET", path, parse_page, params=params)
            return items, total, len(items)

        with call_scope(Deadline(timeout) if timeout is not None else None):
            return read_all(fetch, lambda item: item.id, size)

    def get_notebook(self, notebook_id: str, *, timeout: float | None = None) -> NotebookRecord:
        """``GET /v1/{project_id}/notebooks/{id}``."""
        from ..wire.notebooks import validate_notebook_id

        notebook_id = validate_notebook_id(notebook_id)
        with call_scope(Deadline(timeout) if timeout is not None else None):
            return self._call("GET", self._notebooks_path(f"/{notebook_id}"), self._parse_notebook)

    def default_save_tag(
        self, namespace: str, name: str, *, now: datetime | None = None, timeout: float | None = None
    ) -> str:
        """A date-and-time tag (``20261207-0321``, UTC) that the repository ``namespace/name`` does
        not have yet, by SWR's tag list when these credentials can read it (a suffix is added on a
        collision). Unreadable (no such repository yet, no access, SWR down): the plain tag, and
        the save's own answer says if it is taken."""
        from ..wire.notebooks import default_save_tag as free_tag

        moment = now if now is not None else datetime.now(timezone.utc)
        try:
            from .swr import SwrClient  # SWR stands below images

            swr = self._shared.client(SwrClient)
            tags = [t.tag for t in swr.tags(namespace, name, timeout=timeout)]
        except CancelledError:
            raise
        except MaiWidgetsError as exc:
            log.debug("default_save_tag: SWR tags of %s/%s unreadable (%s)", namespace, name, exc.code)
            tags = []
        return free_tag(tags, moment)

    def find_saved(self, request: SaveImageRequest) -> ImageRecord | None:
        """The user's live image saved from a notebook (origin IMAGE_SAVE) as ``namespace/name:tag``
        of ``request`` (its workspace, else the configured one), if any."""
        found = self.list(
            name=request.name,
            namespace=request.namespace,
            name_fuzzy_match=False,
            workspace_id=request.workspace_id or self.config.workspace_id,
            type="DEDICATED",
        )
        for record in found:
            if (
                record.tag == request.tag
                and record.namespace == request.namespace
                and record.name == request.name
                and record.origin == Origin.IMAGE_SAVE
                and record.status != ImageStatus.DELETED
            ):
                return record
        return None

    def save_notebook(
        self,
        notebook_id: str,
        *,
        name: str,
        namespace: str,
        tag: str | None = None,
        description: str | None = None,
        workspace_id: str | None = None,
        timeout: float | None = None,
    ) -> ImageRecord:
        """Save a RUNNING notebook instance as an image (``POST .../notebooks/{id}/create-image``).

        Returns the new image record (status INIT, origin IMAGE_SAVE); follow it with
        :meth:`wait`, or both it and the instance with
        :func:`mai_widgets.services.notebooks.follow_save`. The instance is SNAPSHOTTING (not
        usable) meanwhile; its mounted storage (``/home/ma-user/work``, ``/data``, ``/cache``) is
        not in the image.

        ``tag`` left out is :meth:`default_save_tag` (chosen here, so the image's path is known
        before anything is sent). Fields are validated first (one :class:`ValidationError` naming
        every broken rule); nothing is sent for an invalid request. One call saves at most one
        image: after an ambiguous failure the user's images are looked up before any retry.
        Errors say what to do: :class:`~mai_widgets.errors.NotebookStateError` (not running,
        starting, stopping, busy, frozen), :class:`~mai_widgets.errors.TagConflictError`,
        :class:`~mai_widgets.errors.QuotaExceededError`, :class:`~mai_widgets.errors.TooLargeError`,
        :class:`~mai_widgets.errors.PermissionDeniedError` (the organization), ``NotFoundError``.
        """
        from ..wire.notebooks import SaveImageRequest, validate_notebook_id, validate_save_fields

        problems: list[FieldProblem] = []
        try:
            notebook_id = validate_notebook_id(notebook_id)
        except ValidationError as exc:
            problems += exc.problems
        fields = {
            "name": name,
            "namespace": namespace,
            "tag": tag,
            "description": description,
            "workspace_id": workspace_id,
        }
        problems += validate_save_fields(fields)
        if problems:
            raise ValidationError(problems)
        request = SaveImageRequest.create(**fields)
        if request.workspace_id is None and self.config.workspace_id != "0":
            request = SaveImageRequest.create(
                **{**request.to_body(), "workspace_id": self.config.workspace_id}
            )
        with call_scope(Deadline(timeout) if timeout is not None else None):
            if request.tag is None:
                request = request.with_tag(self.default_save_tag(request.namespace, request.name))
            return self._save(notebook_id, request)

    def _save(self, notebook_id: str, request: SaveImageRequest) -> ImageRecord:
        image = f"{request.repository}:{request.tag}"
        maybe_done = Msg(
            "the save may have taken effect: look for {image} among your images before retrying", image=image
        )

        def lookup() -> ImageRecord | None:
            try:
                return self.find_saved(request)
            except MaiWidgetsError as exc:
                exc.hint = maybe_done
                raise

        def conflict(error: ApiError, ambiguous: bool) -> ImageRecord:
            # A tag conflict after an attempt that may have gone through is most likely our own save.
            found = lookup() if ambiguous else None
            if found is None:
                raise error
            return found

        return self._create_once(
            self._notebooks_path(f"/{notebook_id}/create-image"),
            json.dumps(request.to_body(), separators=(",", ":")).encode(),
            lookup=lookup,
            conflict_type=TagConflictError,
            conflict=conflict,
            maybe_done=maybe_done,
            classify=save_image_error,
        )

    # -- register --------------------------------------------------------------------------

    def _register_request(
        self, request: RegisterRequest | None, fields: Mapping[str, Any]
    ) -> RegisterRequest:
        if request is not None and not isinstance(request, RegisterRequest):
            raise ValidationError([FieldProblem("request", "must be a RegisterRequest (or pass fields)")])
        if isinstance(fields.get("swr_path"), str):
            # a Python caller's typed path: this is where it enters, so it is completed here
            fields = {**fields, "swr_path": complete_swr_path(fields["swr_path"], self.config.region)}
        if request is None:
            request = RegisterRequest.create(**fields)
        elif fields:
            request = request.replace(**fields)
        full = complete_swr_path(request.swr_path, self.config.region)
        if full != request.swr_path:
            problem = (
                f"a RegisterRequest needs the registry host ({full}); or pass swr_path= to have it added"
            )
            raise ValidationError([FieldProblem("swr_path", problem)])
        if request.workspace_id is None and self.config.workspace_id != "0":
            request = request.replace(workspace_id=self.config.workspace_id)
        return request

    def find_registered(self, swr_path: str, workspace_id: str | None = None) -> ImageRecord | None:
        """The user's live (not DELETED) image registered from ``swr_path`` in ``workspace_id``
        (default: the configured workspace, where a request naming none registers), if any."""
        path = complete_swr_path(swr_path, self.config.region)
        parts = split_swr_path(path)
        if parts is None:
            return None
        # DEDICATED: the service lists its presets (BUILD_IN) when no type is sent; and only
        # workspace "0" when no workspace_id is sent.
        found = self.list(
            name=parts["name"],
            namespace=parts["namespace"],
            name_fuzzy_match=False,
            workspace_id=workspace_id or self.config.workspace_id,
            type="DEDICATED",
        )
        for record in found:
            if record.swr_path == path and record.status != ImageStatus.DELETED:
                return record
        return None

    def _lookup_after_ambiguity(self, req: RegisterRequest) -> ImageRecord | None:
        try:
            return self.find_registered(req.swr_path, req.workspace_id)
        except MaiWidgetsError as exc:
            exc.hint = _REGISTRATION_MAYBE_DONE
            raise

    def register(
        self, request: RegisterRequest | None = None, /, *, timeout: float | None = None, **fields: Any
    ) -> ImageRecord:
        """``POST /v1/{project_id}/images``; returns the new (or already registered) record.

        Fields are validated here first; nothing is sent for an invalid request. One call
        registers at most one image, whatever the network does.

        A host-less path is completed once, where it enters: an ``swr_path=`` field given here
        (``my-org/img:tag`` -> ``swr.{region}.myhuaweicloud.com/my-org/img:tag``), the magic's
        arguments, the panel's field. A :class:`RegisterRequest` comes from such an entry and
        is sent as it is; one without its registry host is refused, not guessed.
        """
        req = self._register_request(request, fields)
        with call_scope(Deadline(timeout) if timeout is not None else None):
            return self._register(req)

    def _register(self, req: RegisterRequest) -> ImageRecord:
        def conflict(error: ApiError, ambiguous: bool) -> ImageRecord:
            existing = self._lookup_after_ambiguity(req)
            if existing is None:
                raise error
            # After an ambiguous attempt the image is most likely this call's own.
            return existing.with_changes(already_registered=not ambiguous)

        return self._create_once(
            self._path(),
            json.dumps(req.to_body(), separators=(",", ":")).encode(),
            lookup=lambda: self._lookup_after_ambiguity(req),
            conflict_type=AlreadyRegisteredError,
            conflict=conflict,
            maybe_done=_REGISTRATION_MAYBE_DONE,
        )

    def _create_once(
        self,
        path: str,
        body: bytes,
        *,
        lookup: Callable[[], ImageRecord | None],
        conflict_type: builtins.type[ApiError],
        conflict: Callable[[ApiError, bool], ImageRecord],
        maybe_done: str,
        classify: Callable[[ApiError], ApiError] | None = None,
    ) -> ImageRecord:
        """POST a request that makes one image, at most once whatever the network does.

        Only failed connections are retried by the transport. After an ambiguous failure (a
        timeout, reset, 5xx or malformed answer) ``lookup()`` says whether the image appeared
        before anything is sent again. An error of ``conflict_type`` goes to ``conflict(error,
        ambiguous)``, which answers or raises; ``classify`` re-reads an error for this route;
        ``maybe_done`` is the hint of a failure that may have taken effect.
        """
        attempts = int(self.config.max_retries) + 1
        ambiguous = False  # an earlier attempt may have made the image
        last_error: MaiWidgetsError | None = None
        pause = 0.0
        for attempt in range(attempts):
            if attempt:
                assert last_error is not None
                if ambiguous:
                    found = lookup()
                    if found is not None:
                        log.debug("POST %s: an earlier attempt made %s", path, found.id)
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
            if classify is not None:
                error = classify(error)
            if isinstance(error, conflict_type):
                return conflict(error, ambiguous)
            if isinstance(error, ThrottledError):
                # The gateway throttles before the request reaches ModelArts.
                if self.too_long_to_wait(error):
                    raise error
                last_error, pause = error, error.retry_after or 0.0
                continue
            if isinstance(error, ServerError):
                last_error, ambiguous = error, True
                continue
            raise error
        if ambiguous and not current_scope().deadline.expired:
            found = lookup()
            if found is not None:
                return found
        assert last_error is not None
        if ambiguous:
            last_error.hint = maybe_done
        raise last_error

    def replace_failed(
        self, failed: ImageRecord, request: RegisterRequest, *, timeout: float | None = None
    ) -> ImageRecord:
        """Replace a registration that ended badly: delete ``failed`` (one that is gone already
        counts as deleted), then register ``request`` (at most once, as :meth:`register`).

        Only a record in :data:`~mai_widgets.wire.contract.FAILED_STATUSES` is replaced: anything
        else is a :class:`ValidationError`, so a working image is never deleted by mistake.
        """
        if failed.status not in FAILED_STATUSES:
            problem = f"image {failed.id} is {failed.status}, not a failed registration: it is not replaced"
            raise ValidationError([FieldProblem("record", problem)])
        req = self._register_request(request, {})
        with call_scope(Deadline(timeout) if timeout is not None else None):
            with contextlib.suppress(NotFoundError):  # deleted elsewhere meanwhile: gone all the same
                self.delete(failed.id)
            return self._register(req)

    # -- wait ------------------------------------------------------------------------------

    def wait(
        self,
        image_id: str,
        timeout: float | None = None,
        on_update: Callable[[ImageRecord], None] | None = None,
        stop: threading.Event | Cancel | None = None,
        on_poll: Callable[[int], None] | None = None,
        *,
        known: ImageRecord | None = None,
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
        ``known``: the record in hand (a register answer), which counts as the first read (it is
        not passed to ``on_update`` again); the first status read then waits the first pause.
        The loop itself is :class:`~mai_widgets.services.follow.Follow`.
        """
        image_id = validate_image_id(image_id)
        limit = float(self.config.wait_timeout if timeout is None else timeout)
        if not limit >= 0:
            raise ValidationError([FieldProblem("timeout", "must be a number of seconds, at least 0")])
        if known is not None and known.id != image_id:
            raise ValidationError([FieldProblem("known", f"is the record of {known.id}, not of {image_id}")])

        def heard(record: ImageRecord, previous: ImageRecord | None) -> None:
            if on_update is not None and (previous is None or record.status != previous.status):
                on_update(record)

        started = time.monotonic()
        follow = Follow(
            self,
            [image_id] if known is None else [],
            known=[known] if known is not None else [],
            on_record=heard,
            on_poll=on_poll,
        )
        outcome = follow.run(Deadline(limit), stop)
        record = follow.records.get(image_id)
        if record is None:
            if follow.last_error is not None:
                raise follow.last_error
            raise CancelledError("stopped before the image was read", maybe_sent=False)
        return WaitResult(record, outcome, follow.requests, time.monotonic() - started)
