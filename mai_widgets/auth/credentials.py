"""Credentials found the way the official SDK finds them, and the auth object built from them.

Sources, first found wins (huaweicloudsdkcore.auth.provider.CredentialProviderChain):

1. explicit :class:`~mai_widgets.auth.config.Credentials` (or an ``auth`` object given to the client);
2. the environment (``HUAWEICLOUD_SDK_AK``/``_SK``/``_SECURITY_TOKEN``, ``MAI_WIDGETS_TOKEN``,
   ``MAI_WIDGETS_IAM_*``);
3. the SDK's credentials file (``HUAWEICLOUD_SDK_CREDENTIALS_FILE``, default
   ``~/.huaweicloud/credentials``, section ``[basic]``);
4. the temporary credentials of the instance's agency, from the ECS/BMS metadata service.

Sources 1-3 are read without any network I/O (:func:`mai_widgets.auth.config.find_local_credentials`).
The metadata service is asked only when they hold nothing, only on the first request (never
while a panel is built), with a short connect timeout; its credentials are refreshed before
they expire. Nothing here puts a secret in a repr, a log line or an error message.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from ..errors import ApiError, ConfigError, MaiWidgetsError, TransportError
from ..transport.http import HttpService
from ..transport.signer import AKSKAuth
from .config import (
    CREDENTIAL_ENV_VARS,
    DEFAULT_METADATA_ENDPOINT,
    NO_CREDENTIALS_HINT,
    Credentials,
    LocalCredentials,
    MaiConfig,
    credentials_problem,
    find_local_credentials,
    missing_settings,
)
from .iam import (
    IAMPasswordAuth,
    TokenAuth,
    auth_secret_values,
    discover_project_id,
    parse_iam_time,
    redact,
)

__all__ = [
    "METADATA_SOURCE",
    "CredentialChain",
    "MetadataAuth",
    "MetadataClient",
    "TemporaryCredentials",
    "metadata_request",
    "redact_all",
]

log = logging.getLogger(__name__)
_Timeout = tuple[float, float]

METADATA_SOURCE = "temporary credentials of this instance's agency"
_NOT_FOUND_YET = (
    "none in the environment or the credentials file; the instance metadata service is asked on first use"
)

# The metadata service's API, as huaweicloudsdkcore.auth.internal.MetadataAccessor calls it.
TOKEN_PATH = "/meta-data/latest/api/token"  # noqa: S105 (a URL path)
SECURITY_KEY_PATH = "/openstack/latest/securitykey"
TOKEN_HEADER = "X-Metadata-Token"  # noqa: S105 (a header name)
TOKEN_TTL_HEADER = "X-Metadata-Token-Ttl-Seconds"  # noqa: S105 (a header name)
TOKEN_TTL_SECONDS = 6 * 3600  # the SDK's _DEFAULT_TOKEN_TTL_SECONDS
NO_AGENCY_TEXT = "Please configure Cloud Service Agency first"
# The SDK refreshes temporary credentials 40 min before they expire (Credentials
# _DEFAULT_EXPIRATION_THRESHOLD_SECONDS); at most half their lifetime before, for short ones.
REFRESH_MARGIN_SECONDS = 40 * 60.0
_MAX_ANSWER_BYTES = 64 * 1024
_READ_TIMEOUT = 3.0  # the SDK's (3, 3): the service is on the host, it answers at once


@dataclass(frozen=True)
class TemporaryCredentials:
    """Temporary AK/SK with their security token and expiry (the values never shown)."""

    ak: str = field(repr=False)
    sk: str = field(repr=False)
    security_token: str = field(repr=False)
    expires_at: datetime

    def secret_values(self) -> tuple[str, ...]:
        return (self.ak, self.sk, self.security_token)


class MetadataUnreachable(TransportError):
    """The metadata service did not answer (off the cloud, nothing does)."""


def metadata_request(method: str, url: str, headers: Mapping[str, str], timeout: _Timeout) -> tuple[int, str]:
    """One call to the metadata service: ``(status, body text)``. The only HTTP of this module.

    It goes through the shared HTTP layer (deadlines, cancellation, capped answers), plain
    http by design (the service is link-local), with no proxy from the environment (a proxy
    must never see the instance's credentials) and no retries; answers over 64 KiB are refused.
    """
    parts = urlsplit(url)
    template = requests.Session()
    template.trust_env = False
    service = HttpService(
        f"{parts.scheme}://{parts.netloc}",
        where=f"the instance metadata service at {parts.netloc}",
        setting="MAI_WIDGETS_METADATA_ENDPOINT",
        timeouts=timeout,
        retries=0,
        plain_http_ok=True,
        session=template,
    )
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        response = service.request(method, path, headers=headers, idempotent=False)
    except TransportError as exc:
        raise MetadataUnreachable(
            f"the instance metadata service at {parts.netloc} did not answer ({exc.message})",
            hint="check MAI_WIDGETS_METADATA_ENDPOINT",
        ) from None
    finally:
        service.close()
    if len(response.content) > _MAX_ANSWER_BYTES:
        raise ApiError(response.status_code, None, "the metadata service's answer is too large")
    return response.status_code, response.content.decode("utf-8", errors="replace")


class MetadataClient:
    """Asks the ECS/BMS metadata service for the temporary credentials of the instance's agency.

    ``PUT /meta-data/latest/api/token`` first (404/405: the service wants no token), then
    ``GET /openstack/latest/securitykey``. Not thread-safe on its own: :class:`MetadataAuth`
    serialises calls. ``request`` exists for tests and for a shared HTTP layer.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_METADATA_ENDPOINT,
        *,
        connect_timeout: float = 1.0,
        read_timeout: float = _READ_TIMEOUT,
        request: Callable[[str, str, Mapping[str, str], _Timeout], tuple[int, str]] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout: _Timeout = (connect_timeout, read_timeout)
        self._given_request = request
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._token: str | None = None
        self._token_until: datetime | None = None
        self._token_needed = True
        self.fetch_count = 0

    def __repr__(self) -> str:
        return f"MetadataClient({self.endpoint!r})"

    def _request(
        self, method: str, url: str, headers: Mapping[str, str], timeout: _Timeout
    ) -> tuple[int, str]:
        # looked up per call, so one replacement of metadata_request reaches every client
        return (self._given_request or metadata_request)(method, url, headers, timeout)

    def secret_values(self) -> tuple[str, ...]:
        return (self._token,) if self._token else ()

    def _session_token(self, *, renew: bool = False) -> str | None:
        now = self._clock()
        if not renew and (
            not self._token_needed or (self._token and self._token_until and now < self._token_until)
        ):
            return self._token
        status, body = self._request(
            "PUT", self.endpoint + TOKEN_PATH, {TOKEN_TTL_HEADER: str(TOKEN_TTL_SECONDS)}, self.timeout
        )
        if status in (404, 405):  # an older service: the security key is served without a token
            self._token_needed, self._token = False, None
            return None
        token = body.strip()
        if status != 200 or not token or not token.isascii() or not token.isprintable():
            raise ApiError(status, None, "the metadata service gave no usable session token")
        self._token = token
        self._token_until = now + timedelta(seconds=TOKEN_TTL_SECONDS * 0.9)
        return token

    def fetch(self) -> TemporaryCredentials:
        """Fresh temporary credentials. :class:`ConfigError` when the instance has no agency."""
        token = self._session_token()
        url = self.endpoint + SECURITY_KEY_PATH
        status, body = self._request("GET", url, {TOKEN_HEADER: token} if token else {}, self.timeout)
        if status == 401 and NO_AGENCY_TEXT not in body and self._token_needed:
            token = self._session_token(renew=True)  # the session token expired or was revoked
            status, body = self._request("GET", url, {TOKEN_HEADER: token} if token else {}, self.timeout)
        if status == 401 and NO_AGENCY_TEXT in body:
            raise ConfigError(
                "this instance has no agency, so the metadata service has no credentials for it",
                missing=(CREDENTIAL_ENV_VARS["ak"], CREDENTIAL_ENV_VARS["sk"]),
                hint="attach an agency to the ECS (console: ECS > the instance > Agency), "
                "or set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK",
            )
        if status != 200:
            raise ApiError(status, None, f"the metadata service answered HTTP {status} for the security key")
        credentials = self._parse(body, status)
        self.fetch_count += 1
        return credentials

    def _parse(self, body: str, status: int) -> TemporaryCredentials:
        bad = ApiError(
            status,
            None,
            "the metadata service's security key is not "
            "{credential: {access, secret, securitytoken, expires_at}}",
        )
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise bad from None
        credential = data.get("credential") if isinstance(data, dict) else None
        if not isinstance(credential, dict):
            raise bad
        values = [credential.get(key) for key in ("access", "secret", "securitytoken")]
        expires = credential.get("expires_at")
        if not all(isinstance(v, str) and v for v in values) or not isinstance(expires, str):
            raise bad
        try:
            expires_at = parse_iam_time(expires)
        except ValueError:
            raise bad from None
        ak, sk, security_token = (str(v) for v in values)
        # the same rule as configured credentials; the message names the key, never the value
        Credentials(
            ak=ak, sk=sk, security_token=security_token, origin="the metadata service's answer"
        ).check_values()
        return TemporaryCredentials(ak, sk, security_token, expires_at)


class MetadataAuth(AuthBase):
    """Sign requests with the instance's temporary credentials, refreshed before they expire.

    Refreshed ``refresh_margin_seconds`` before ``expires_at`` (at most half their lifetime
    before). Thread-safe: one refresh at a time, others wait for it. A failed refresh while
    the current credentials are still valid keeps them (and tries again on the next request).
    """

    def __init__(
        self,
        client: MetadataClient,
        *,
        project_id: str | None = None,
        refresh_margin_seconds: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._client = client
        self.project_id = project_id
        self._margin = timedelta(seconds=refresh_margin_seconds)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._lock = threading.Lock()
        self._current: TemporaryCredentials | None = None
        self._refresh_at: datetime | None = None
        self._signer: AKSKAuth | None = None
        self._issued: deque[TemporaryCredentials] = deque(maxlen=4)  # recent ones, for redaction

    def __repr__(self) -> str:
        current = self._current
        state = f"valid until {current.expires_at.isoformat()}" if current else "not fetched yet"
        return f"MetadataAuth({self._client.endpoint!r}, {state}, project_id={self.project_id!r})"

    @property
    def expires_at(self) -> datetime | None:
        current = self._current
        return current.expires_at if current else None

    @property
    def fetch_count(self) -> int:
        return self._client.fetch_count

    def secret_values(self) -> tuple[str, ...]:
        with self._lock:
            held = [value for creds in self._issued for value in creds.secret_values()]
        return (*held, *self._client.secret_values())

    def invalidate(self) -> None:
        """Fetch new credentials on the next request."""
        with self._lock:
            self._refresh_at = None

    def credentials(self) -> TemporaryCredentials:
        """Credentials valid for at least the refresh margin when the service answers."""
        with self._lock:
            now = self._clock()
            if self._current is None or self._refresh_at is None or now >= self._refresh_at:
                self._refresh(now)
            assert self._current is not None
            return self._current

    def _refresh(self, now: datetime) -> None:
        try:
            fresh = self._client.fetch()
        except MaiWidgetsError as error:
            if self._current is not None and now < self._current.expires_at:
                log.warning("could not refresh the instance's temporary credentials: %s", error.message)
                return
            raise
        lifetime = max(fresh.expires_at - now, timedelta(0))
        self._current = fresh
        self._issued.append(fresh)
        self._refresh_at = fresh.expires_at - min(self._margin, lifetime / 2)
        self._signer = None
        log.debug("temporary credentials fetched; valid until %s", fresh.expires_at.isoformat())

    def _current_signer(self) -> AKSKAuth:
        creds = self.credentials()
        with self._lock:
            signer = self._signer
            if signer is None or signer.project_id != self.project_id or self._current is not creds:
                signer = AKSKAuth(
                    creds.ak, creds.sk, project_id=self.project_id, security_token=creds.security_token
                )
                self._signer = signer if self._current is creds else None
            return signer

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return self._current_signer()(r)


class CredentialChain:
    """Finds the credentials of one client and builds its auth object, on demand.

    ``description()`` and ``missing_settings()`` never touch the network; ``build_auth()``
    (the first request) may ask the metadata service and IAM.
    """

    def __init__(
        self,
        config: MaiConfig,
        credentials: Credentials | None = None,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self._credentials = credentials
        self._env = env
        self._source: str | None = None  # once an auth object was built

    def local(self) -> LocalCredentials | None:
        """Explicit, environment or file credentials (raises :class:`ConfigError` when broken)."""
        return find_local_credentials(self.config, self._credentials, env=self._env)

    def description(self) -> str:
        """Where the credentials come from, in words; never a value."""
        if self._source is not None:
            return self._source
        try:
            local = self.local()
        except ConfigError as error:
            return f"not usable: {error.message}"
        return _NOT_FOUND_YET if local is None else local.source

    def missing_settings(self) -> list[str]:
        """What to set (empty: ready). Never raises: a broken source names its problem."""
        if self._source is not None:
            return []
        try:
            return missing_settings(self.config, self._credentials, env=self._env)
        except ConfigError as error:
            return list(error.missing) or [error.message]

    def build_auth(self, project_id: str, *, iam: HttpService) -> tuple[AuthBase, str]:
        """The auth object and the project id (found through IAM when ``project_id`` is empty).

        ``iam`` carries the IAM calls (the client's; a credentials file naming another IAM
        endpoint gets a sibling of it, with the same settings).
        """

        def discover(auth: AuthBase) -> str:
            return discover_project_id(service, config.region, auth)

        config = self.config
        local = self.local()
        iam_url = config.iam_endpoint or (local.iam_endpoint if local else None) or config.iam_url()
        service = iam.sibling(iam_url, where=f"IAM ({iam_url})")
        project_id = project_id or (local.project_id if local else None) or ""
        built: AuthBase
        if local is None:
            metadata = self._metadata_auth()
            built, source = metadata, METADATA_SOURCE
            if config.metadata_endpoint != DEFAULT_METADATA_ENDPOINT:
                source = f"{METADATA_SOURCE} (metadata service at {config.metadata_endpoint})"
            if not project_id:
                project_id = discover(metadata)
            metadata.project_id = project_id
        else:
            problem = credentials_problem(config, local.credentials, env=self._env)
            if problem is not None:
                raise problem
            creds, source = local.credentials, local.source
            if creds.ak and creds.sk:
                if not project_id:
                    probe = AKSKAuth(creds.ak, creds.sk, security_token=creds.security_token)
                    project_id = discover(probe)
                built = AKSKAuth(
                    creds.ak, creds.sk, project_id=project_id, security_token=creds.security_token
                )
            elif creds.token:
                built = TokenAuth(creds.token, project_id=project_id or None)
            else:
                built = IAMPasswordAuth(
                    service, config.iam_user, creds.iam_password or "", config.iam_domain, config.region
                )
            if not project_id:
                project_id = discover(built)
        self._source = source
        return built, project_id

    def _metadata_auth(self) -> MetadataAuth:
        config = self.config
        client = MetadataClient(
            config.metadata_endpoint, connect_timeout=float(config.metadata_connect_timeout)
        )
        auth = MetadataAuth(client)
        try:
            auth.credentials()  # asked now, so "nothing found anywhere" is one clear error
        except MetadataUnreachable as unreachable:
            missing = (CREDENTIAL_ENV_VARS["ak"], CREDENTIAL_ENV_VARS["sk"])
            raise ConfigError(
                f"no usable credentials: set {' and '.join(missing)} (none in the environment or the "
                f"credentials file, and {unreachable.message})",
                missing=missing,
                hint=NO_CREDENTIALS_HINT,
            ) from None
        return auth


def redact_all(text: str, *holders: object) -> str:
    """``text`` with what every holder's ``secret_values()`` returns replaced by ``***``."""
    return redact(text, (value for holder in holders for value in auth_secret_values(holder)))
