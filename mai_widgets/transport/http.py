"""One HTTP layer for every service mai-widgets talks to: ModelArts, IAM, the metadata service, SWR.

:class:`HttpService` holds a ``requests`` session and these promises:

* **A deadline bounds everything under it.** Inside :func:`call_scope` (or ``request(deadline=)``)
  each attempt's connect and read timeouts, urllib3's retries, their back-off and any
  ``Retry-After`` pause are cut to the time left. Nested calls (an IAM sign-in made while signing
  a ModelArts request) share the outer deadline.
* **Long ``Retry-After`` is not slept through.** A pause longer than ``max_retry_after`` (or than
  the time left) ends the retries at once; the caller gets the 429 as a :class:`ThrottledError`
  saying when to retry.
* **Cancel means stop.** :meth:`Cancel.cancel` ends pauses at once and shuts down the sockets of
  the requests in flight, and nothing is sent after it returns.
* **No secret travels in clear.** An ``http://`` URL on a host that is not loopback is refused
  before anything is sent (``MAI_WIDGETS_ALLOW_HTTP=true`` opts out; the instance metadata
  service is plain http by design and is built with ``plain_http_ok``).
* **Hostile answers become typed errors.** Bodies are read up to a size cap and JSON is parsed
  with a nesting limit: never a RecursionError or MemoryError, always a
  :class:`MalformedResponseError`.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.exceptions as rex
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.util.retry import Retry
from urllib3.util.timeout import Timeout

from .._version import __version__
from ..errors import (
    ApiError,
    CancelledError,
    ClientTransportError,
    ConfigError,
    TimedOutError,
    error_from_answer,
    malformed_answer,
    parse_retry_after,
    request_id_of,
)
from ..i18n import N_, Msg
from .addresses import is_loopback
from .deadline import Cancel, Deadline, Scope, call_scope, current_scope, shut_down

__all__ = [
    "MAX_ANSWER_BYTES",
    "MAX_JSON_DEPTH",
    "USER_AGENT",
    "HttpService",
    "RetryPolicy",
    "loads",
    "parse_retry_after",
    "transport_error",
]

log = logging.getLogger(__name__)

USER_AGENT = f"mai-widgets/{__version__}"
RETRY_STATUSES = (429, 500, 502, 503, 504)
# Answers larger than this are not read: a page of 200 image records is about 200 KB.
MAX_ANSWER_BYTES = 8 << 20
# Deeper JSON is refused (a ModelArts answer nests four levels); deep nesting is an attack.
MAX_JSON_DEPTH = 64
# The least time an attempt is given: a zero socket timeout would mean "non-blocking".
_MIN_ATTEMPT = 0.01
# A timeout that fires with less than this left was the deadline's, not the configured one's.
_DEADLINE_SLACK = 0.25
_CHUNK = 64 * 1024
_BACKOFF_FIRST = 0.2  # urllib3's back-off: 0.2 s, 0.4 s, ... (see deadline.backoff)
_BACKOFF_MAX = 3.2


# ---------------------------------------------------------------------------------------
# urllib3 pieces that obey the scope


class _DeadlineTimeout(Timeout):
    """Connect and read timeouts cut to the scope's time left, recomputed for every attempt."""

    def __init__(self, deadline: Deadline, connect: float, read: float) -> None:
        left = deadline.remaining()
        super().__init__(connect=connect, read=read, total=None if left is None else max(_MIN_ATTEMPT, left))
        self._deadline = deadline
        self.read_seconds = read  # the configured read timeout, for reading the body

    def clone(self) -> _DeadlineTimeout:
        # urllib3 clones the timeout for each attempt (retries included): a fresh cut each time.
        return _DeadlineTimeout(self._deadline, float(self._connect), float(self._read))  # type: ignore[arg-type]


class _ScopedRetry(Retry):
    """urllib3's ``Retry``, stopped by the scope: no retry past the deadline or after cancel,
    no pause through a ``Retry-After`` longer than the scope allows."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Any:
        scope = current_scope()
        stop_reason: str | None = None
        if scope.cancel is not None and scope.cancel.cancelled:
            stop_reason = "cancelled"
        elif scope.deadline.expired:
            stop_reason = "no time left"
        elif response is not None:
            wanted = self.get_retry_after(response)
            left = scope.deadline.remaining()
            if wanted is not None and (
                wanted > scope.max_retry_after or (left is not None and wanted >= left)
            ):
                stop_reason = "Retry-After asks for longer than allowed"
        if stop_reason is not None:
            # Ends urllib3's retries: the last error is raised, or the last answer returned.
            reason = error if error is not None else ResponseError(stop_reason)
            raise MaxRetryError(_pool, url or "", reason) from reason
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep(self, response: Any = None) -> None:
        scope = current_scope()
        pause = None
        if self.respect_retry_after_header and response is not None:
            pause = self.get_retry_after(response)
        if pause is None:
            pause = self.get_backoff_time()
        pause = scope.deadline.cap(pause)
        if scope.cancel is not None:
            scope.cancel.wait(pause)
        elif pause > 0:
            time.sleep(pause)


class _TrackedMixin:
    """Pools whose connections join the scope's cancel token while they are in use."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)  # type: ignore[misc]
        cancel = current_scope().cancel
        if cancel is not None:
            cancel.attach(connection)
        return connection

    def _put_conn(self, connection: Any) -> None:
        cancel = current_scope().cancel
        if cancel is not None and connection is not None:
            cancel.detach(connection)
        super()._put_conn(connection)  # type: ignore[misc]


class _CheckedMixin:
    """A connection that shuts itself down when the scope was cancelled while it connected."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        cancel = current_scope().cancel
        if cancel is not None and cancel.cancelled:
            shut_down(self)


class _CheckedConnection(_CheckedMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedMixin, HTTPSConnection):
    pass


class _Pool(_TrackedMixin, HTTPConnectionPool):
    ConnectionCls = _CheckedConnection


class _HTTPSPool(_TrackedMixin, HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _HTTPSPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = {"http": _Pool, "https": _HTTPSPool}
        return manager


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and on what, the transport retries (urllib3 does the counting)."""

    total: int = 3
    # Idempotent calls retry reads and RETRY_STATUSES; the others only connections that failed
    # (nothing was sent, so retrying cannot do anything twice).
    idempotent: bool = True

    def urllib3_retry(self) -> Retry:
        n = self.total
        if self.idempotent:
            return _ScopedRetry(
                total=n,
                connect=n,
                read=n,
                status=n,
                other=0,
                redirect=0,
                allowed_methods=frozenset({"GET", "HEAD", "DELETE", "POST", "PUT"}),
                status_forcelist=RETRY_STATUSES,
                backoff_factor=_BACKOFF_FIRST,
                backoff_max=_BACKOFF_MAX,
                respect_retry_after_header=True,
                raise_on_status=False,
                raise_on_redirect=False,
            )
        return _ScopedRetry(
            total=n,
            connect=n,
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


# ---------------------------------------------------------------------------------------
# Parsing answers


def _too_deep(value: Any, limit: int) -> bool:
    # Iterative: a recursive walk would be the very RecursionError this guards against.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def loads(content: bytes) -> Any:
    """``json.loads`` that refuses nesting deeper than :data:`MAX_JSON_DEPTH` (ValueError)."""
    try:
        value = json.loads(content)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if _too_deep(value, MAX_JSON_DEPTH):
        raise ValueError("JSON nested too deeply")
    return value


# ---------------------------------------------------------------------------------------
# Transport errors


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


def transport_error(
    exc: Exception, where: str, timeouts: tuple[float, float], setting: str
) -> ClientTransportError:
    """A short, secret-free error for a failed request (the urllib3 chain is not shown)."""
    chain = _exception_chain(exc)

    def caused_by(*kinds: type[BaseException]) -> bool:
        return any(isinstance(e, kinds) for e in chain)

    retry_hint = N_("check the network and the endpoint, then retry")
    maybe_done = N_("the request may have taken effect; check before repeating it")
    scope = current_scope()
    if scope.cancel is not None and scope.cancel.cancelled:
        return CancelledError(f"the request to {where} was cancelled", maybe_sent=True)
    if isinstance(exc, rex.SSLError) or caused_by(ssl.SSLError):
        return ClientTransportError(
            f"TLS verification failed for {where}",
            hint=N_(
                "install the right CA bundle and set MAI_WIDGETS_CA_BUNDLE (verification is on by default)"
            ),
            maybe_sent=False,
        )
    # Order matters: urllib3's NewConnectionError is a kind of ConnectTimeoutError.
    if caused_by(NameResolutionError):
        return ClientTransportError(
            f"cannot resolve the host of {where}",
            hint=Msg("check {setting} and DNS", setting=setting),
            maybe_sent=False,
        )
    if caused_by(ConnectionRefusedError):
        return ClientTransportError(
            f"connection refused by {where}: nothing is listening there",
            hint=Msg("check {setting} (is the emulator or proxy running?)", setting=setting),
            maybe_sent=False,
        )
    if caused_by(NewConnectionError):
        return ClientTransportError(f"cannot connect to {where}", hint=retry_hint, maybe_sent=False)
    if isinstance(exc, rex.ConnectTimeout) or caused_by(ConnectTimeoutError):
        return TimedOutError(
            f"no connection to {where} within {_timeout_text(timeouts[0])}", hint=retry_hint, maybe_sent=False
        )
    if isinstance(exc, rex.ReadTimeout) or caused_by(ReadTimeoutError, TimeoutError):
        return TimedOutError(
            f"{where} did not answer within {_timeout_text(timeouts[1])}", hint=maybe_done, maybe_sent=True
        )
    if isinstance(exc, rex.ConnectionError):
        return ClientTransportError(
            f"the connection to {where} was closed before it answered", hint=maybe_done, maybe_sent=True
        )
    return ClientTransportError(
        f"the request to {where} failed ({type(exc).__name__})", hint=retry_hint, maybe_sent=True
    )


def _timeout_text(configured: float) -> str:
    # The limit that ran out: the call's whole timeout when its deadline cut the attempt (the
    # time left then, near 0, says nothing), else the configured connect or read timeout.
    deadline = current_scope().deadline
    left = deadline.remaining()
    if deadline.seconds is not None and left is not None and left < min(configured, _DEADLINE_SLACK):
        return f"{deadline.seconds:.3g} s"
    return f"{configured:.3g} s"


class _ScopedSession(requests.Session):
    """A session that keeps this module's promises for every caller, IAM sign-in included:
    the plain-http refusal, timeouts cut to the scope's deadline, and a capped, depth-checked body."""

    def __init__(self, setting: str, allow_http: bool) -> None:
        super().__init__()
        self.setting = setting
        self.allow_http = allow_http

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        if parts.scheme == "http" and not (self.allow_http or is_loopback(parts.hostname or "")):
            raise ConfigError(
                f"{self.setting} is plain http:// on {parts.hostname}, not this machine: AK/SK signatures, "
                "tokens and passwords would travel in clear, so nothing was sent",
                missing=(self.setting,),
                hint=N_("use https://, or set MAI_WIDGETS_ALLOW_HTTP=true if you accept that risk (unsafe)"),
            )
        scope = current_scope()
        timeout = kwargs.get("timeout")
        if not isinstance(timeout, Timeout):
            connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
            kwargs["timeout"] = _DeadlineTimeout(scope.deadline, float(connect or 30.0), float(read or 30.0))
        streamed = bool(kwargs.get("stream"))
        kwargs["stream"] = True
        response = super().send(request, **kwargs)
        if not streamed:
            chosen = kwargs["timeout"]
            _read_capped(
                response, scope, chosen.read_seconds if isinstance(chosen, _DeadlineTimeout) else None
            )
        return response


def _read_body(response: requests.Response, scope: Scope, read_timeout: float | None) -> bytes:
    """The body, up to the size cap, read as it arrives and cut at the scope's deadline.

    ``read1`` returns what one receive brings, so a body that trickles in (a byte every half
    second) is checked against the deadline between receives; each receive may wait only the
    time left. urllib3's errors become requests' ones, which the caller turns into typed errors.
    """
    raw = response.raw
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            left = scope.deadline.remaining()
            if left is not None:
                if left <= 0:
                    raise rex.ReadTimeout("the deadline passed while the answer was arriving")
                sock = getattr(getattr(raw, "connection", None), "sock", None)
                if sock is not None:
                    sock.settimeout(max(_MIN_ATTEMPT, min(left, read_timeout or left)))
            chunk = raw.read1(_CHUNK, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise malformed_answer(response, f"the answer is larger than {MAX_ANSWER_BYTES >> 20} MB")
            chunks.append(chunk)
    except requests.RequestException:
        raise
    except ReadTimeoutError as exc:
        raise rex.ReadTimeout(exc, request=response.request) from exc
    except DecodeError as exc:
        raise rex.ContentDecodingError(exc, request=response.request) from exc
    except (Urllib3SSLError, ssl.SSLError) as exc:
        raise rex.SSLError(exc, request=response.request) from exc
    except (ProtocolError, Urllib3Error, OSError) as exc:
        raise rex.ConnectionError(exc, request=response.request) from exc


def _read_capped(response: requests.Response, scope: Scope, read_timeout: float | None) -> None:
    already = response._content
    if isinstance(already, bytes):
        content = already  # read by a response hook (IAM's "token expired?" check)
    else:
        try:
            content = _read_body(response, scope, read_timeout)
        except BaseException:
            response.close()
            raise
    # More brackets than the depth limit: check the nesting once, here, so that no parser
    # downstream (requests' .json() in IAM code included) can recurse on it.
    if content.count(b"[") + content.count(b"{") > MAX_JSON_DEPTH:
        try:
            loads(content)
        except ValueError as exc:
            if "deep" in str(exc):
                content = b""  # unreadable from here on: every parser sees "not JSON"
                response.reason = "answer nested too deeply"
    response._content = content
    response._content_consumed = True  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# The service


# Connections kept per host: a batch runs up to this many calls at once on one service (fewer
# would open and drop a connection per call, and urllib3 would warn each time).
POOL_MAXSIZE = 32


class HttpService:
    """One HTTP service (a base URL), its session and the promises of this module.

    ``setting`` names the configuration that chose the URL (``MAI_WIDGETS_ENDPOINT``), for
    messages. ``redact`` removes secrets from any text taken from an answer.
    """

    def __init__(
        self,
        base_url: str,
        *,
        where: str,
        setting: str,
        verify: bool | str = True,
        timeouts: tuple[float, float] = (5.0, 30.0),
        retries: int = 3,
        max_retry_after: float = 30.0,
        allow_http: bool = False,
        plain_http_ok: bool = False,
        redact: Callable[[str], str] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.where = where
        self.setting = setting
        self.verify = verify
        self.timeouts = timeouts
        self.max_retry_after = max_retry_after
        self._redact = redact or (lambda text: text)
        self._options: dict[str, Any] = {
            "verify": verify,
            "timeouts": timeouts,
            "retries": retries,
            "max_retry_after": max_retry_after,
            "allow_http": allow_http,
            "plain_http_ok": plain_http_ok,
            "redact": redact,
            "session": session,
        }
        # A caller's session lends its hooks, proxies, client certificate and headers; the calls
        # themselves go through sessions of ours, which keep this module's promises.
        template = session or requests.Session()
        self.session = self._scoped(template, setting, allow_http or plain_http_ok)
        self._mount(self.session, RetryPolicy(retries, idempotent=True))
        # Non-idempotent calls (register) use a sibling session that only retries connections.
        self._once = self._scoped(template, setting, allow_http or plain_http_ok)
        self._mount(self._once, RetryPolicy(retries, idempotent=False))
        for s in (self.session, self._once):
            s.verify = verify
            s.headers["User-Agent"] = USER_AGENT
            s.headers["Accept"] = "application/json"
        self._closed = Cancel()
        # What Session.request would work out from the environment on every call: once here.
        self._proxies = dict(self.session.proxies)
        self._verify: bool | str = verify
        if self.session.trust_env:
            self._proxies = {**requests.utils.get_environ_proxies(self.base_url), **self._proxies}
            if verify is True:
                self._verify = (
                    os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
                )

    @staticmethod
    def _scoped(template: requests.Session, setting: str, allow_http: bool) -> _ScopedSession:
        scoped = _ScopedSession(setting, allow_http)
        scoped.hooks = template.hooks
        scoped.proxies = template.proxies
        scoped.cert = template.cert
        scoped.trust_env = template.trust_env
        scoped.headers.update(template.headers)
        return scoped

    @staticmethod
    def _mount(session: requests.Session, policy: RetryPolicy) -> None:
        adapter = _Adapter(max_retries=policy.urllib3_retry(), pool_connections=2, pool_maxsize=POOL_MAXSIZE)
        session.mount("https://", adapter)
        session.mount("http://", adapter)

    def sibling(self, base_url: str, *, where: str) -> HttpService:
        """A service on another URL of the same kind (IAM named by a credentials file), with this
        one's settings, redaction and caller's session; this one's close() stops it too."""
        if base_url.rstrip("/") == self.base_url:
            return self
        other = HttpService(base_url, where=where, setting=self.setting, **self._options)
        other._closed = Cancel(self._closed)
        return other

    def close(self) -> None:
        """Stop every call of this service now (in-flight sockets are shut down) and for good."""
        self._closed.cancel()
        self.session.close()
        self._once.close()

    @property
    def closed(self) -> bool:
        return self._closed.cancelled

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        idempotent: bool = True,
        deadline: Deadline | None = None,
        cancel: Cancel | None = None,
    ) -> requests.Response:
        """Send one call (urllib3 retries it per its policy) and read its answer, capped.

        Raises :class:`ConfigError` (refused), :class:`CancelledError`, or a
        :class:`ClientTransportError`; an HTTP error status is returned, not raised.
        """
        with call_scope(deadline, cancel, self.max_retry_after) as scope:
            return self._send(method, path, params, body, headers, auth, idempotent, scope)

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        auth: Any,
        idempotent: bool,
        scope: Scope,
    ) -> requests.Response:
        for token in (scope.cancel, self._closed):
            if token is not None and token.cancelled:
                raise CancelledError(
                    f"the request to {self.where} was cancelled before it was sent", maybe_sent=False
                )
        if scope.deadline.expired:
            raise ClientTransportError(
                f"no time was left to call {self.where}",
                hint=N_("retry with a longer timeout"),
                maybe_sent=False,
            )
        session = self.session if idempotent else self._once
        merged = dict(session.headers)
        if body is not None:
            merged["Content-Type"] = "application/json;charset=UTF-8"
        if headers:
            merged.update(headers)
        started = time.monotonic()
        # The service's own close() must stop this call too: a token child of both.
        token = Cancel(scope.cancel, self._closed)
        with call_scope(cancel=token):
            try:
                # Prepared by hand and sent with Session.send: Session.request would re-read the
                # proxy environment and merge settings on every call.
                prepared = requests.PreparedRequest()
                prepared.prepare(
                    method=method,
                    url=self.base_url + path,
                    headers=merged,
                    data=body,
                    params=params,
                    auth=auth,
                    hooks=session.hooks,
                )
                response = session.send(
                    prepared,
                    timeout=_DeadlineTimeout(scope.deadline, *self.timeouts),
                    verify=self._verify,
                    proxies=self._proxies,
                    cert=session.cert,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                error = transport_error(exc, self.where, self.timeouts, self.setting)
                log.debug("%s %s failed: %s", method, path, error.message)
                raise error from None
            finally:
                token.release()
        log.debug(
            "%s %s -> %s in %.0f ms (request id %s)",
            method,
            path,
            response.status_code,
            (time.monotonic() - started) * 1000,
            request_id_of(response.headers),
        )
        return response

    # -- answers -----------------------------------------------------------------------------

    def json(self, response: requests.Response) -> Any:
        """The answer's JSON, or :class:`MalformedResponseError` (not JSON, too deep)."""
        try:
            return loads(response.content)
        except ValueError as exc:
            reason = "nested too deeply" if "deep" in str(exc) else "not valid JSON"
            raise malformed_answer(response, f"the answer is {reason}") from None

    def error(self, response: requests.Response, *, redact: Callable[[str], str] | None = None) -> ApiError:
        """The typed error for a non-2xx answer, read by :func:`mai_widgets.errors.error_from_answer`
        (every service's shape); ``redact`` removes more secrets than the service's own."""

        def hide(text: str) -> str:
            text = self._redact(text)
            return redact(text) if redact is not None else text

        return error_from_answer(
            response.status_code,
            response.headers,
            response.content,
            reason=response.reason or "",
            redact=hide,
        )
