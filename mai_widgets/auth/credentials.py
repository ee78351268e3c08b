"""Credentials, in one place: where they come from, what is missing, and keeping them out of text.

Sources, first found wins, as the official SDK looks
(huaweicloudsdkcore.auth.provider.CredentialProviderChain):

1. explicit :class:`Credentials` (or an ``auth`` object given to the client);
2. the environment (``HUAWEICLOUD_SDK_AK``/``_SK``/``_SECURITY_TOKEN``, ``MAI_WIDGETS_TOKEN``,
   ``MAI_WIDGETS_IAM_PASSWORD`` with the ``MAI_WIDGETS_IAM_USER``/``_DOMAIN`` settings);
3. the SDK's credentials file (``HUAWEICLOUD_SDK_CREDENTIALS_FILE``, default
   ``~/.huaweicloud/credentials``, INI section ``[basic]``: ``ak``, ``sk``, ``security_token``,
   ``project_id``, ``iam_endpoint``);
4. the temporary credentials of the instance's agency, from the ECS/BMS metadata service.

Within one source: AK/SK (with the security token if set), a token, the IAM user and password.

| Variable | Meaning |
|---|---|
| `HUAWEICLOUD_SDK_AK` | Access key ID (the official SDK's name) |
| `HUAWEICLOUD_SDK_SK` | Secret access key |
| `HUAWEICLOUD_SDK_SECURITY_TOKEN` | Security token of temporary AK/SK (notebooks, ECS) |
| `MAI_WIDGETS_TOKEN` | A ready IAM token, sent as `X-Auth-Token` |
| `MAI_WIDGETS_IAM_PASSWORD` | IAM user's password (with the user and domain settings) |
| `HUAWEICLOUD_SDK_CREDENTIALS_FILE` | The SDK's credentials file, default `~/.huaweicloud/credentials` |
Sources 1-3 are read without any network I/O (:func:`find_local_credentials`);
:func:`credentials_problem` is the one answer to "are credentials set, and if not, what to set".
The metadata service is asked only when they hold nothing, only on the first request (never
while a panel is built), with a short connect timeout; its credentials are refreshed before
they expire, and once more when a request signed with them is refused (401).

Secrets come only from the environment, the credentials file, the metadata service or an
explicit :class:`Credentials`, never from a config file. :func:`redact` is the one way a
secret is taken out of text; nothing here puts one in a repr, a log line or an error message.
This module loads without ``requests`` (it comes with the first request), so building a
client stays cheap.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from traitlets import TraitError

from ..errors import ApiError, ConfigError, MaiWidgetsError, TransportError
from ..i18n import N_, Msg
from .config import DEFAULT_METADATA_ENDPOINT, PROJECT_ID_RE, MaiConfig, check_base_url

if TYPE_CHECKING:
    import requests
    from requests.auth import AuthBase

    from ..transport.http import HttpService
    from ..transport.signer import AKSKAuth

    _AuthBase = AuthBase
else:
    # requests takes any callable as auth; AuthBase is its base only for the type checker
    _AuthBase = object

__all__ = [
    "CREDENTIALS_FILE_ENV",
    "CREDENTIAL_ENV_VARS",
    "METADATA_SOURCE",
    "NO_CREDENTIALS_HINT",
    "CredentialChain",
    "Credentials",
    "CredentialsFileWarning",
    "FileCredentials",
    "LocalCredentials",
    "MetadataAuth",
    "MetadataClient",
    "MetadataUnreachable",
    "TemporaryCredentials",
    "credentials_problem",
    "find_local_credentials",
    "metadata_request",
    "read_credentials_file",
    "redact",
]

# Credentials field -> environment variable.
CREDENTIAL_ENV_VARS: dict[str, str] = {
    "ak": "HUAWEICLOUD_SDK_AK",
    "sk": "HUAWEICLOUD_SDK_SK",
    "security_token": "HUAWEICLOUD_SDK_SECURITY_TOKEN",
    "token": "MAI_WIDGETS_TOKEN",
    "iam_password": "MAI_WIDGETS_IAM_PASSWORD",
}

# The official SDK's credentials file (huaweicloudsdkcore.auth.provider.ProfileCredentialProvider).
CREDENTIALS_FILE_ENV = "HUAWEICLOUD_SDK_CREDENTIALS_FILE"
_DEFAULT_CREDENTIALS_FILE = Path(".huaweicloud", "credentials")
_FILE_SECTION = "basic"


# Credentials travel in HTTP headers (AK, security token, IAM token) or key an HMAC (SK): real
# ones are printable ASCII without spaces. Anything else would make requests raise an error
# quoting the value, so it is refused first, naming where it came from.
_CREDENTIAL_VALUE_RE = re.compile(r"[\x21-\x7e]+")
_CONTROL_CHARS_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Credentials:
    """Secrets, kept out of every repr. Build from the environment or pass explicitly.

    ``origin`` names where the values came from (environment variables, a file); ``None``
    means they were passed in Python. It never holds a value.
    """

    ak: str | None = field(default=None, repr=False)
    sk: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    iam_password: str | None = field(default=None, repr=False)
    origin: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Credentials:
        """Read ``HUAWEICLOUD_SDK_AK``/``_SK``/``_SECURITY_TOKEN``, ``MAI_WIDGETS_TOKEN``,
        ``MAI_WIDGETS_IAM_PASSWORD`` (blank values count as unset)."""
        source = os.environ if env is None else env
        values = {name: (source.get(var) or "").strip() or None for name, var in CREDENTIAL_ENV_VARS.items()}
        return cls(**values, origin="environment")

    def secret_values(self) -> tuple[str, ...]:
        """Every secret held (for redaction and for tests that search for leaks)."""
        return tuple(v for v in (self.ak, self.sk, self.security_token, self.token, self.iam_password) if v)

    def label(self, name: str) -> str:
        """What a user calls field ``name``: its variable, its key in a file, or the argument."""
        if self.origin == "environment":
            return CREDENTIAL_ENV_VARS[name]
        if self.origin is not None:
            return f"{name} in {self.origin}"
        return f"Credentials.{name}"

    def description(self) -> str:
        """Where these credentials came from, in words (never a value)."""
        kind = next((name for name in CREDENTIAL_ENV_VARS if getattr(self, name)), "ak")
        if self.origin == "environment":
            return Msg("from the environment ({variable})", variable=CREDENTIAL_ENV_VARS[kind])
        if self.origin is not None:
            return Msg("from {origin}", origin=self.origin)
        return Msg("given explicitly (Credentials)")

    def check_values(self) -> None:
        """Raise :class:`ConfigError` naming the first value no request could carry."""
        for name in CREDENTIAL_ENV_VARS:
            value = getattr(self, name)
            if value is None:
                continue
            if name == "iam_password":  # travels in a JSON body: any text but control characters
                bad = _CONTROL_CHARS_RE.search(value) is not None
                allowed = "no control characters"
            else:
                bad = _CREDENTIAL_VALUE_RE.fullmatch(value) is None
                allowed = "only printable ASCII characters, no spaces"
            if bad:
                label = self.label(name)
                raise ConfigError(
                    f"{label} is not a valid credential ({allowed})",
                    missing=(label,),
                    hint=Msg("check {setting} for a stray character, quote or newline", setting=label),
                )

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={'<set>' if getattr(self, name) else None}" for name in CREDENTIAL_ENV_VARS
        )
        return f"Credentials({shown})"

    __str__ = __repr__


# -- the SDK's credentials file --------------------------------------------------------------


class CredentialsFileWarning(UserWarning):
    """The credentials file can be read by other users (as ssh warns of a private key)."""


def _shown_path(path: Path) -> str:
    """``~/...`` for a path under the home directory, as users write it."""
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except (ValueError, RuntimeError):
        return str(path)


def credentials_file_path(env: Mapping[str, str] | None = None) -> tuple[Path | None, bool]:
    """The credentials file to read and whether ``HUAWEICLOUD_SDK_CREDENTIALS_FILE`` named it."""
    source = os.environ if env is None else env
    named = (source.get(CREDENTIALS_FILE_ENV) or "").strip()
    if named:
        return Path(named).expanduser(), True
    try:
        return Path.home() / _DEFAULT_CREDENTIALS_FILE, False
    except RuntimeError:  # no home directory: nothing to read
        return None, False


@dataclass(frozen=True)
class FileCredentials:
    """The ``[basic]`` section of the credentials file."""

    path: Path
    credentials: Credentials
    project_id: str | None = None
    iam_endpoint: str | None = None


def _file_error(shown: str, problem: str, key: str | None = None) -> ConfigError:
    what = f"{key} in {shown}" if key else shown
    return ConfigError(
        f"the credentials file {shown} {problem}",
        missing=(what,),
        hint=Msg(
            "write an INI file with a [{section}] section holding ak and sk "
            "(and optionally security_token, project_id, iam_endpoint), or unset {setting}",
            section=_FILE_SECTION,
            setting=CREDENTIALS_FILE_ENV,
        ),
    )


def read_credentials_file(env: Mapping[str, str] | None = None) -> FileCredentials | None:
    """The credentials of the SDK's credentials file, or ``None`` when the default file is absent.

    A file named by ``HUAWEICLOUD_SDK_CREDENTIALS_FILE`` that is missing, an unreadable or
    malformed file, a missing ``[basic]`` section, or ``ak`` without ``sk`` (or the reverse)
    raise one :class:`ConfigError` naming the file and the key. A file others can read gets a
    :class:`CredentialsFileWarning`.
    """
    path, named = credentials_file_path(env)
    if path is None:
        return None
    shown = _shown_path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        if named:
            raise _file_error(shown, f"does not exist ({CREDENTIALS_FILE_ENV} names it)") from None
        return None
    except OSError as exc:
        raise _file_error(shown, f"cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise _file_error(shown, "is not a regular file")
    if info.st_mode & 0o077:
        warnings.warn(
            f"the credentials file {shown} can be read by other users: run chmod 600 {shown}",
            CredentialsFileWarning,
            stacklevel=3,
        )
    import configparser  # only with a credentials file: not on the way to an empty form

    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except UnicodeDecodeError:
        raise _file_error(shown, "is not UTF-8 text") from None
    except configparser.Error as exc:
        # the parser's message quotes the offending line, which may hold a secret: only its number
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise _file_error(shown, f"is not a valid INI file{where}") from None
    except OSError as exc:
        raise _file_error(shown, f"cannot be read ({exc.strerror})") from None
    if not parser.has_section(_FILE_SECTION):
        raise _file_error(shown, f"has no [{_FILE_SECTION}] section", f"[{_FILE_SECTION}]")
    section = parser[_FILE_SECTION]
    values = {key: (section.get(key) or "").strip() or None for key in section}
    for present, absent in (("ak", "sk"), ("sk", "ak")):
        if values.get(present) and not values.get(absent):
            raise _file_error(shown, f"has {present} but no {absent} in [{_FILE_SECTION}]", absent)
    if not values.get("ak"):
        raise _file_error(shown, f"has no ak and sk in [{_FILE_SECTION}]", "ak")
    credentials = Credentials(
        ak=values.get("ak"), sk=values.get("sk"), security_token=values.get("security_token"), origin=shown
    )
    credentials.check_values()
    project_id, iam_endpoint = values.get("project_id"), values.get("iam_endpoint")
    if project_id is not None and not PROJECT_ID_RE.match(project_id):
        raise _file_error(shown, "has a project_id that is not letters, digits, '-' or '_'", "project_id")
    if iam_endpoint is not None:
        try:
            iam_endpoint = check_base_url(iam_endpoint, "iam_endpoint")
        except TraitError as exc:
            raise _file_error(shown, f"has an invalid iam_endpoint: {exc}", "iam_endpoint") from None
    return FileCredentials(path, credentials, project_id, iam_endpoint)


# -- which source supplies the credentials ------------------------------------------------------


@dataclass(frozen=True)
class LocalCredentials:
    """Credentials found without asking the network, and where they came from."""

    credentials: Credentials
    source: str
    project_id: str | None = None
    iam_endpoint: str | None = None


def find_local_credentials(
    config: MaiConfig, credentials: Credentials | None = None, *, env: Mapping[str, str] | None = None
) -> LocalCredentials | None:
    """The first source that holds credentials: ``credentials``, the environment, the file.

    ``None`` means none of them holds any: only the instance metadata service is left. A source
    started but incomplete (an AK without SK, an IAM user without password) is still the one
    chosen, so the user is told what it lacks. Bad values raise :class:`ConfigError`.
    """
    candidates = [credentials] if credentials is not None else []
    candidates.append(Credentials.from_env(env))
    for candidate in candidates:
        if candidate.secret_values():
            candidate.check_values()
            return LocalCredentials(candidate, candidate.description())
    if config.iam_user or config.iam_domain:
        # password sign-in begun in the settings: its password is what is missing
        started = Credentials(origin="environment")
        return LocalCredentials(started, "from the environment (MAI_WIDGETS_IAM_USER)")
    found = read_credentials_file(env)
    if found is None:
        return None
    return LocalCredentials(
        found.credentials, found.credentials.description(), found.project_id, found.iam_endpoint
    )


def _missing_in(config: MaiConfig, credentials: Credentials) -> list[str]:
    if credentials.ak or credentials.sk or credentials.security_token:
        return [CREDENTIAL_ENV_VARS[name] for name in ("ak", "sk") if not getattr(credentials, name)]
    if credentials.token:
        return []
    if credentials.iam_password or config.iam_user or config.iam_domain:
        missing = []
        if not config.iam_user:
            missing.append("MAI_WIDGETS_IAM_USER")
        if not config.iam_domain:
            missing.append("MAI_WIDGETS_IAM_DOMAIN")
        if not credentials.iam_password:
            missing.append("MAI_WIDGETS_IAM_PASSWORD")
        return missing
    return [CREDENTIAL_ENV_VARS["ak"], CREDENTIAL_ENV_VARS["sk"]]


NO_CREDENTIALS_HINT = N_(
    "set them in the environment of the Jupyter server or kernel (or MAI_WIDGETS_TOKEN, or "
    "MAI_WIDGETS_IAM_USER, MAI_WIDGETS_IAM_DOMAIN and MAI_WIDGETS_IAM_PASSWORD), or write ak and sk "
    "to the [basic] section of ~/.huaweicloud/credentials (chmod 600); on an ECS with an agency "
    "the instance metadata service supplies them"
)


def credentials_problem(
    config: MaiConfig, credentials: Credentials | None = None, *, env: Mapping[str, str] | None = None
) -> ConfigError | None:
    """Are credentials set? ``None`` when a local source holds usable ones; else a
    :class:`ConfigError` whose ``missing`` names exactly what to set.

    The one answer to that question (the magic, the controller and the client ask it here).
    It names the variables of the credential kind the user started on (AK/SK, or IAM user and
    password); a broken credentials file or value is its own error, naming the file, key or
    variable. With nothing in ``credentials``, the environment or the credentials file, the
    AK/SK pair is named, although the instance metadata service, asked on the first request,
    may still supply temporary credentials. Never does network I/O.
    """
    try:
        local = find_local_credentials(config, credentials, env=env)
    except ConfigError as error:
        return error
    missing = _missing_in(config, local.credentials if local is not None else Credentials())
    if not missing:
        return None
    return ConfigError(
        f"no usable credentials: set {' and '.join(missing)}",
        missing=tuple(missing),
        hint=NO_CREDENTIALS_HINT,
    )


# -- keeping secrets out of text ------------------------------------------------------------------

# Shorter strings would blank out ordinary words of a message; no credential is that short.
_REDACT_MIN_LENGTH = 4


def _held(holder: object) -> Iterable[str]:
    if holder is None:
        return ()
    if isinstance(holder, str):
        return (holder,)
    method = getattr(holder, "secret_values", None)  # every credential holder of mai-widgets has it
    if callable(method):
        return (str(value) for value in method() if value)
    if isinstance(holder, Iterable):
        return (str(value) for value in holder if value)
    return ()  # a caller's own auth object without secret_values(): nothing known to remove


def redact(text: str, *holders: object) -> str:
    """``text`` with every secret the ``holders`` hold replaced by ``***`` (longest first).

    A holder is a secret string, an iterable of them, ``None``, or anything with
    ``secret_values()`` (:class:`Credentials`, every auth object, the SWR client), which returns
    what it holds now, including what it obtained at run time (tokens, temporary keys).
    """
    secrets = {s for holder in holders for s in _held(holder) if len(s) >= _REDACT_MIN_LENGTH}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# -- the instance metadata service ----------------------------------------------------------------

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
# Answers to the token PUT that mean "ask for the security key without a token": an older
# service (404, 405) or one whose token route is unavailable (503), as the SDK treats them.
_NO_TOKEN_STATUSES = frozenset({404, 405, 503})
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
    import requests  # with the first request, not with this module

    from ..transport.http import HttpService

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
            hint=Msg("check {setting}", setting="MAI_WIDGETS_METADATA_ENDPOINT"),
        ) from None
    finally:
        service.close()
    if len(response.content) > _MAX_ANSWER_BYTES:
        raise ApiError(response.status_code, None, "the metadata service's answer is too large")
    return response.status_code, response.content.decode("utf-8", errors="replace")


class MetadataClient:
    """Asks the ECS/BMS metadata service for the temporary credentials of the instance's agency.

    ``PUT /meta-data/latest/api/token`` first (404, 405 or 503: go on without a token, as the
    SDK does), then
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
        if status in _NO_TOKEN_STATUSES:
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
                hint=N_(
                    "attach an agency to the ECS (console: ECS > the instance > Agency), "
                    "or set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"
                ),
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
        from .iam import parse_iam_time

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


class MetadataAuth(_AuthBase):
    """Sign requests with the instance's temporary credentials, refreshed before they expire.

    Refreshed ``refresh_margin_seconds`` before ``expires_at`` (at most half their lifetime
    before), and when a request signed with them is refused (401: revoked, or expired early):
    then the request is resent once, signed with fresh ones, as an expired IAM token is.
    Thread-safe: one refresh at a time, others wait for it. A failed refresh while the current
    credentials are still valid keeps them (and tries again on the next request).
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

    def invalidate(self, ak: str | None = None) -> None:
        """Fetch new credentials on the next request (only if the current AK is still ``ak``,
        when given: a refresh by another thread already replaced them)."""
        with self._lock:
            current = self._current
            if ak is None or (current is not None and current.ak == ak):
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
        from ..transport.signer import AKSKAuth

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
        signed = self._current_signer()(r)
        signed.hooks.setdefault("response", []).append(self._resend_if_refused)
        return signed

    def _resend_if_refused(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401:
            return response
        from .iam import resend_once

        request = response.request
        used = _access_key_of(str(request.headers.get("Authorization", "")))
        self.invalidate(used)
        try:
            signer = self._current_signer()
        except MaiWidgetsError as error:  # no fresh credentials: the 401 stands
            log.debug("could not refresh refused temporary credentials: %s", error.message)
            return response
        log.debug("temporary credentials refused; resending once with fresh ones")
        again = request.copy()
        for name in ("Authorization", "X-Sdk-Date"):
            again.headers.pop(name, None)  # signed afresh, at the time of resending
        return resend_once(response, signer(again), self._resend_if_refused, **kwargs)


def _access_key_of(authorization: str) -> str | None:
    """The ``Access=`` of an SDK-HMAC-SHA256 ``Authorization`` header (not a secret)."""
    match = re.search(r"Access=([^,\s]+)", authorization)
    return match.group(1) if match else None


class CredentialChain:
    """Finds the credentials of one client and builds its auth object, on demand.

    ``description()``, ``problem()`` and ``missing_settings()`` never touch the network; ``build_auth()``
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

    def problem(self) -> ConfigError | None:
        """:func:`credentials_problem` for this client; ``None`` once an auth object was built
        (the metadata service may have supplied what no local source had)."""
        if self._source is not None:
            return None
        return credentials_problem(self.config, self._credentials, env=self._env)

    def missing_settings(self) -> list[str]:
        """What to set (empty: ready): :meth:`problem`'s ``missing``, or its message."""
        problem = self.problem()
        if problem is None:
            return []
        return list(problem.missing) or [problem.message]

    def build_auth(self, project_id: str, *, iam: HttpService) -> tuple[AuthBase, str]:
        """The auth object and the project id (found through IAM when ``project_id`` is empty).

        ``iam`` carries the IAM calls (the client's; a credentials file naming another IAM
        endpoint gets a sibling of it, with the same settings).
        """
        from ..transport.signer import AKSKAuth
        from .iam import IAMPasswordAuth, TokenAuth, discover_project_id

        config = self.config
        local = self.local()
        iam_url = config.iam_endpoint or (local.iam_endpoint if local else None) or config.iam_url()
        service = iam.sibling(iam_url, where=f"IAM ({iam_url})")

        def discover(auth: AuthBase) -> str:
            return discover_project_id(service, config.region, auth, redact=redact)

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
                    service,
                    config.iam_user,
                    creds.iam_password or "",
                    config.iam_domain,
                    config.region,
                    redact=redact,
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
