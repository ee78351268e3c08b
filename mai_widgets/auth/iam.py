"""IAM: tokens (fixed, or signed in with a password and refreshed) and project discovery.

The SDK-HMAC-SHA256 signer (``AKSKAuth``) and its server-side verifier live in
:mod:`mai_widgets.transport.signer`.

No secret (AK, SK, security token, IAM token or password) ever appears in a repr or a log line
built here. Text quoted from IAM's answers goes through the ``redact`` function the caller
passes (:func:`mai_widgets.auth.credentials.redact`, which sits above this module).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
from requests.auth import AuthBase

from ..errors import ApiError, ConfigError, error_fields
from ..errors import says_token_expired as token_expired
from ..i18n import N_, Msg
from ..transport.http import HttpService
from ..transport.signer import (
    BAD_HEADER_CHARS,
    check_header_safe,
)

__all__ = [
    "IAMPasswordAuth",
    "TokenAuth",
    "discover_project_id",
    "resend_once",
]

log = logging.getLogger(__name__)
_Timeout = tuple[float, float]
# (text, holder of secrets) -> text without them: mai_widgets.auth.credentials.redact
Redact = Callable[[str, object], str]


def _unredacted(text: str, holder: object) -> str:
    return text


def resend_once(
    response: requests.Response, again: requests.PreparedRequest, hook: Callable[..., Any], **kwargs: Any
) -> requests.Response:
    """Send ``again`` (a re-authorised copy of ``response.request``) on the same connection.

    For response hooks that renew credentials after a refusal: ``hook`` is taken off the copy so
    it is resent once only; the refused answer is drained (its connection is reused) and kept
    in the new answer's ``history``.
    """
    _ = response.content  # drain, so the connection can be reused
    response.close()
    again.hooks["response"] = [h for h in again.hooks.get("response", []) if h != hook]
    connection: Any = getattr(response, "connection", None)
    if connection is None:
        return response
    resent: requests.Response = connection.send(again, **kwargs)
    resent.history.append(response)
    resent.request = again
    return resent


# -- IAM tokens ------------------------------------------------------------------------------


class TokenAuth(AuthBase):
    """Send a fixed IAM token as ``X-Auth-Token`` (and ``X-Project-Id`` when given)."""

    def __init__(self, token: str, project_id: str | None = None) -> None:
        check_header_safe(token, "IAM token", "MAI_WIDGETS_TOKEN")
        self._token = token
        self.project_id = project_id

    def __repr__(self) -> str:
        return f"TokenAuth(token=<set>, project_id={self.project_id!r})"

    def secret_values(self) -> tuple[str, ...]:
        return (self._token,)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["X-Auth-Token"] = self._token
        if self.project_id:
            r.headers["X-Project-Id"] = self.project_id
        return r


def says_token_expired(response: requests.Response) -> bool:
    """An answer that says the token expired (see :func:`mai_widgets.errors.says_token_expired`)."""
    if response.status_code not in (400, 401, 403):
        return False
    code, message = error_fields(response.content)
    return token_expired(response.status_code, code, message)


def parse_iam_time(text: str) -> datetime:
    """IAM's ISO 8601 time (``2026-11-28T06:20:29.123000Z``) as an aware UTC datetime."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?", text.strip())
    if match is None:
        raise ValueError("not an ISO 8601 time")
    stamp, fraction, zone = match.groups()
    micros = (fraction or "0")[:6].ljust(6, "0")
    offset = "+00:00" if zone in (None, "Z") else zone
    return datetime.fromisoformat(f"{stamp}.{micros}{offset}").astimezone(timezone.utc)


def iam_service(
    iam: str | HttpService,
    *,
    verify: bool | str = True,
    timeout: _Timeout = (5.0, 30.0),
    session: requests.Session | None = None,
) -> HttpService:
    """The HTTP service that calls IAM: ``iam`` itself, or one built for the endpoint URL ``iam``
    (``verify``, ``timeout`` and ``session`` serve only then)."""
    if isinstance(iam, HttpService):
        return iam
    url = iam.rstrip("/")
    return HttpService(
        url,
        where=f"IAM ({url})",
        setting="MAI_WIDGETS_IAM_ENDPOINT",
        verify=verify,
        timeouts=timeout,
        session=session,
    )


class IAMPasswordAuth(AuthBase):
    """Sign in to IAM with user, password and domain; send the token as ``X-Auth-Token``.

    The token is cached and fetched again ``refresh_margin_seconds`` before it expires (at most
    half its lifetime before), and once more when a response is a 401 saying it expired: the
    request is then resent once with the new token. Thread-safe: the lock is held during the
    sign-in, so concurrent callers wait for one sign-in rather than starting their own.
    ``clock`` (aware UTC "now") exists for tests; ``project_id`` is read from the token's scope.
    ``iam_endpoint`` is the IAM URL, or the :class:`HttpService` calling it (a client's, which
    shares its deadlines, cancellation and settings; ``verify``, ``timeout``, ``session`` then
    serve nothing). ``redact`` takes secrets out of IAM's error messages (the credential chain
    passes :func:`mai_widgets.auth.credentials.redact`).
    """

    def __init__(
        self,
        iam_endpoint: str | HttpService,
        user: str,
        password: str,
        domain: str,
        project_name: str,
        *,
        verify: bool | str = True,
        timeout: _Timeout = (5.0, 30.0),
        session: requests.Session | None = None,
        refresh_margin_seconds: float = 300.0,
        clock: Callable[[], datetime] | None = None,
        redact: Redact = _unredacted,
    ) -> None:
        for value, what, env in (
            (iam_endpoint, "IAM endpoint", "MAI_WIDGETS_IAM_ENDPOINT"),
            (user, "IAM user name", "MAI_WIDGETS_IAM_USER"),
            (password, "IAM password", "MAI_WIDGETS_IAM_PASSWORD"),
            (domain, "IAM domain (account) name", "MAI_WIDGETS_IAM_DOMAIN"),
            (project_name, "IAM project name (the region)", "MAI_WIDGETS_REGION"),
        ):
            if not value:
                raise ConfigError(
                    f"the {what} is empty", missing=(env,), hint=Msg("set {setting}", setting=env)
                )
        self._iam = iam_service(iam_endpoint, verify=verify, timeout=timeout, session=session)
        self.iam_endpoint = self._iam.base_url
        self.user = user
        self._password = password
        self.domain = domain
        self.project_name = project_name
        self.verify = verify
        self.timeout = timeout
        self._margin = timedelta(seconds=refresh_margin_seconds)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at: datetime | None = None
        self.expires_at: datetime | None = None
        self.project_id: str | None = None  # from the token's scope, once signed in
        self.fetch_count = 0
        self._issued: deque[str] = deque(maxlen=4)  # recent tokens, for redaction
        self._redact = redact

    def __repr__(self) -> str:
        expires = self.expires_at
        state = f"token valid until {expires.isoformat()}" if self._token and expires else "no token"
        return (
            f"IAMPasswordAuth(iam_endpoint={self.iam_endpoint!r}, user={self.user!r}, "
            f"domain={self.domain!r}, project_name={self.project_name!r}, password=<hidden>, {state})"
        )

    def secret_values(self) -> tuple[str, ...]:
        """The password and the tokens signed in with (a late answer may echo an old one)."""
        # No lock: the sign-in holds it while its own error answer is redacted with these.
        # tuple() copies the deque in one step under the GIL.
        return (self._password, *tuple(self._issued))

    def token(self) -> str:
        """A token valid for at least the refresh margin: the cached one, or a fresh one."""
        with self._lock:
            now = self._clock()
            if self._token is None or self._refresh_at is None or now >= self._refresh_at:
                self._fetch(now)
            assert self._token is not None
            return self._token

    def invalidate(self, token: str | None = None) -> None:
        """Forget the cached token (only if it is still ``token``, when given)."""
        with self._lock:
            current = self._token
            if token is None or (
                current is not None and hmac.compare_digest(token.encode(), current.encode())
            ):
                self._token = self._refresh_at = None

    def _fetch(self, now: datetime) -> None:
        user = {"name": self.user, "password": self._password, "domain": {"name": self.domain}}
        body = {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": {"project": {"name": self.project_name}},
            }
        }
        # Signing in again is harmless, so the sign-in retries like a read.
        response = self._iam.request("POST", "/v3/auth/tokens", body=json.dumps(body).encode("utf-8"))
        if response.status_code not in (200, 201):
            held = (self._password, *self._issued)  # not secret_values(): the lock is held here
            raise self._iam.error(response, redact=lambda text: self._redact(text, held))
        token = response.headers.get("X-Subject-Token", "")
        if not token or BAD_HEADER_CHARS.search(token):
            raise ApiError(response.status_code, None, "IAM answered without a usable X-Subject-Token header")
        try:
            info = response.json()["token"]
            expires_at = parse_iam_time(str(info["expires_at"]))
        except (ValueError, KeyError, TypeError):
            raise ApiError(
                response.status_code, None, "IAM's token answer has no valid token.expires_at"
            ) from None
        project = info.get("project") if isinstance(info, dict) else None
        if isinstance(project, dict) and project.get("id"):
            self.project_id = str(project["id"])
        lifetime = max(expires_at - now, timedelta(0))
        self._token = token
        self._issued.append(token)
        self.expires_at = expires_at
        self._refresh_at = expires_at - min(self._margin, lifetime / 2)
        self.fetch_count += 1
        log.debug("IAM token fetched; valid until %s", expires_at.isoformat())

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["X-Auth-Token"] = self.token()
        r.hooks.setdefault("response", []).append(self._resend_if_expired)
        return r

    def _resend_if_expired(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if not says_token_expired(response):
            return response
        request = response.request
        self.invalidate(str(request.headers.get("X-Auth-Token", "")))
        token = self.token()
        log.debug("token expired before its time; resending once with a fresh one")
        again = request.copy()
        again.headers["X-Auth-Token"] = token
        return resend_once(response, again, self._resend_if_expired, **kwargs)


def discover_project_id(
    iam_endpoint: str | HttpService,
    region: str,
    auth: AuthBase,
    *,
    session: requests.Session | None = None,
    verify: bool | str = True,
    timeout: _Timeout = (5.0, 30.0),
    redact: Redact = _unredacted,
) -> str:
    """The id of the IAM project named ``region`` (``GET /v3/projects?name=...``).

    ``iam_endpoint`` is the IAM URL or the :class:`HttpService` calling it (as for
    :class:`IAMPasswordAuth`). Zero or several matches raise :class:`ConfigError` naming
    ``HUAWEICLOUD_SDK_PROJECT_ID``. ``redact`` takes ``auth``'s secrets out of IAM's error
    message (pass :func:`mai_widgets.auth.credentials.redact`).
    """
    if not region:
        raise ConfigError(
            "the region is empty",
            missing=("MAI_WIDGETS_REGION",),
            hint=Msg("set {setting}", setting="MAI_WIDGETS_REGION"),
        )
    service = iam_service(iam_endpoint, verify=verify, timeout=timeout, session=session)
    try:
        response = service.request("GET", "/v3/projects", params={"name": region}, auth=auth)
    finally:
        if service is not iam_endpoint:
            service.close()  # built for this call only
    if response.status_code != 200:
        # a server may echo the token or security token it was sent
        raise service.error(response, redact=lambda text: redact(text, auth))
    try:
        projects = response.json()["projects"]
        listed = [(str(p["id"]), p.get("name")) for p in projects]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ApiError(200, None, "IAM's project list answer is not the expected JSON") from None
    # the server filters by name; filter again in case it ignored the query
    ids = [pid for pid, name in listed if name in (None, region)]
    missing = ("HUAWEICLOUD_SDK_PROJECT_ID",)
    if not ids:
        raise ConfigError(
            f"IAM has no project named {region!r} for these credentials",
            missing=missing,
            hint=N_(
                "check the region, or set HUAWEICLOUD_SDK_PROJECT_ID (console: My Credentials > Projects)"
            ),
        )
    if len(ids) > 1:
        raise ConfigError(
            f"IAM has {len(ids)} projects named {region!r} ({', '.join(ids)}); cannot choose one",
            missing=missing,
            hint=N_("set HUAWEICLOUD_SDK_PROJECT_ID to the project to use"),
        )
    return ids[0]
