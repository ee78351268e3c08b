"""Settings for talking to ModelArts: where, how long, how safely; and the credentials.

Settings come, lowest precedence first, from the trait defaults, the Jupyter config files
(``mai_widgets_config.py`` or ``mai_widgets_config.json`` in any directory of
``jupyter --paths`` config, class name ``MaiConfig``), the environment, and explicit
arguments. Secrets come only from the environment or an explicit :class:`Credentials`,
never from a config file, and are never shown: not in a repr, a log line or an error.

Environment variables:

| Variable | Setting | Meaning |
|---|---|---|
| `HUAWEICLOUD_SDK_AK` | secret | Access key ID (the official SDK's name) |
| `HUAWEICLOUD_SDK_SK` | secret | Secret access key |
| `HUAWEICLOUD_SDK_SECURITY_TOKEN` | secret | Security token of temporary AK/SK (notebooks, ECS) |
| `MAI_WIDGETS_TOKEN` | secret | A ready IAM token, sent as `X-Auth-Token` |
| `MAI_WIDGETS_IAM_PASSWORD` | secret | IAM user's password (with user and domain) |
| `HUAWEICLOUD_SDK_PROJECT_ID` | `project_id` | Project id; found through IAM when unset |
| `MAI_WIDGETS_REGION` | `region` | Region, default `cn-north-4` |
| `MAI_WIDGETS_ENDPOINT` | `endpoint` | ModelArts URL, default from the region |
| `MAI_WIDGETS_IAM_ENDPOINT` | `iam_endpoint` | IAM URL, default from the region |
| `MAI_WIDGETS_WORKSPACE_ID` | `workspace_id` | Default workspace of new images, default `0` |
| `MAI_WIDGETS_VERIFY_TLS` | `verify_tls` | `true`/`false`; verification is on by default |
| `MAI_WIDGETS_CA_BUNDLE` | `ca_bundle` | CA bundle file to verify the servers with |
| `MAI_WIDGETS_IAM_USER` | `iam_user` | IAM user name for password sign-in |
| `MAI_WIDGETS_IAM_DOMAIN` | `iam_domain` | IAM domain (account) name for password sign-in |
| `MAI_WIDGETS_CONNECT_TIMEOUT` | `connect_timeout` | Seconds to wait for a connection, default 5 |
| `MAI_WIDGETS_READ_TIMEOUT` | `read_timeout` | Seconds to wait for an answer, default 30 |
| `MAI_WIDGETS_MAX_RETRY_AFTER` | `max_retry_after` | Longest `Retry-After` slept through, default 30 |
| `MAI_WIDGETS_ALLOW_HTTP` | `allow_http` | UNSAFE: allow `http://` endpoints on other hosts |
| `HUAWEICLOUD_SDK_CREDENTIALS_FILE` | – | The SDK's credentials file, default `~/.huaweicloud/credentials` |
| `MAI_WIDGETS_METADATA_ENDPOINT` | `metadata_endpoint` | Metadata service, default `http://169.254.169.254` |
| `MAI_WIDGETS_METADATA_CONNECT_TIMEOUT` | `metadata_connect_timeout` | Seconds, default 1 |
| `MAI_WIDGETS_SWR_ENDPOINT` | `swr_endpoint` | SWR manage API URL, default from the region |
| `MAI_WIDGETS_SWR_REGISTRY_ENDPOINT` | `swr_registry_endpoint` | Registry v2 URL for the region's SWR host |

Credentials are looked for as the official SDK does, first found wins: explicit
:class:`Credentials`, the environment, the credentials file (INI, section ``[basic]``, keys
``ak``, ``sk``, ``security_token``, ``project_id``, ``iam_endpoint``), then the temporary
credentials of the instance's agency (:mod:`mai_widgets.auth.credentials`; asked on the first
request only). Within one source: AK/SK (with the security token if set), a token, the IAM
user and password.
"""

from __future__ import annotations

import configparser
import os
import re
import stat
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from traitlets import Bool, Float, Int, TraitError, Unicode, validate
from traitlets.config import Config, Configurable

from ..errors import ConfigError
from ..transport.addresses import is_loopback
from ..wire.contract import WORKSPACE_ID_HELP, WORKSPACE_ID_RE, swr_registry

__all__ = [
    "CONFIG_FILE_BASENAME",
    "CREDENTIALS_FILE_ENV",
    "CREDENTIAL_ENV_VARS",
    "DEFAULT_METADATA_ENDPOINT",
    "SETTING_ENV_VARS",
    "Credentials",
    "CredentialsFileWarning",
    "FileCredentials",
    "LocalCredentials",
    "MaiConfig",
    "credentials_file_path",
    "credentials_problem",
    "find_local_credentials",
    "load_config",
    "missing_settings",
    "read_credentials_file",
]

CONFIG_FILE_BASENAME = "mai_widgets_config"

# Environment variable -> MaiConfig trait. Secrets are not settings: see CREDENTIAL_ENV_VARS.
SETTING_ENV_VARS: dict[str, str] = {
    "MAI_WIDGETS_REGION": "region",
    "MAI_WIDGETS_ENDPOINT": "endpoint",
    "MAI_WIDGETS_IAM_ENDPOINT": "iam_endpoint",
    "HUAWEICLOUD_SDK_PROJECT_ID": "project_id",
    "MAI_WIDGETS_WORKSPACE_ID": "workspace_id",
    "MAI_WIDGETS_VERIFY_TLS": "verify_tls",
    "MAI_WIDGETS_CA_BUNDLE": "ca_bundle",
    "MAI_WIDGETS_IAM_USER": "iam_user",
    "MAI_WIDGETS_IAM_DOMAIN": "iam_domain",
    "MAI_WIDGETS_CONNECT_TIMEOUT": "connect_timeout",
    "MAI_WIDGETS_READ_TIMEOUT": "read_timeout",
    "MAI_WIDGETS_MAX_RETRY_AFTER": "max_retry_after",
    "MAI_WIDGETS_ALLOW_HTTP": "allow_http",
    "MAI_WIDGETS_METADATA_ENDPOINT": "metadata_endpoint",
    "MAI_WIDGETS_METADATA_CONNECT_TIMEOUT": "metadata_connect_timeout",
    "MAI_WIDGETS_SWR_ENDPOINT": "swr_endpoint",
    "MAI_WIDGETS_SWR_REGISTRY_ENDPOINT": "swr_registry_endpoint",
}
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
# ECS/BMS instance metadata service (huaweicloudsdkcore.auth.internal.MetadataAccessor).
DEFAULT_METADATA_ENDPOINT = "http://169.254.169.254"

_REGION_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Both end up in URL paths: nothing that could change the path gets through.
_PROJECT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _check_base_url(value: str, setting: str) -> str:
    """A base URL without user info, query or fragment; trailing slash dropped."""
    if value == "":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TraitError(f"{setting} must be an http(s) URL such as https://host[:port]")
    if parts.username is not None or parts.password is not None:
        # a password in a URL would end up in logs and error messages
        raise TraitError(f"{setting} must not contain user info; use the credential variables")
    if parts.query or parts.fragment:
        raise TraitError(f"{setting} must not have a query or fragment")
    try:
        _ = parts.port
    except ValueError:
        raise TraitError(f"{setting} has an invalid port") from None
    return value.rstrip("/")


class MaiConfig(Configurable):
    """Where ModelArts is and how to talk to it (no secrets here; see :class:`Credentials`)."""

    region = Unicode("cn-north-4", help="Huawei Cloud region, e.g. cn-north-4.").tag(config=True)
    endpoint = Unicode(
        "", help="ModelArts base URL; empty means https://modelarts.{region}.myhuaweicloud.com."
    ).tag(config=True)
    iam_endpoint = Unicode("", help="IAM base URL; empty means https://iam.{region}.myhuaweicloud.com.").tag(
        config=True
    )
    project_id = Unicode("", help="Project id; empty means: find it through IAM by region.").tag(config=True)
    workspace_id = Unicode("0", help="Workspace of new images when the request names none.").tag(config=True)
    connect_timeout = Float(5.0, help="Seconds to wait for a TCP/TLS connection.").tag(config=True)
    read_timeout = Float(30.0, help="Seconds to wait for an answer once connected.").tag(config=True)
    verify_tls = Bool(True, help="Verify server certificates (on by default).").tag(config=True)
    ca_bundle = Unicode("", help="CA bundle file to verify with instead of the system store.").tag(
        config=True
    )
    poll_initial = Float(1.0, help="First pause between status polls, in seconds.").tag(config=True)
    poll_factor = Float(1.5, help="Each pause is this many times the previous one.").tag(config=True)
    poll_max = Float(5.0, help="Longest pause between status polls, in seconds.").tag(config=True)
    wait_timeout = Float(1800.0, help="Default seconds to wait for an image to settle.").tag(config=True)
    max_retries = Int(3, help="Retries of idempotent calls on connection errors, 429 and 5xx.").tag(
        config=True
    )
    max_retry_after = Float(
        30.0, help="Longest Retry-After pause a call sleeps through; longer ones fail with ThrottledError."
    ).tag(config=True)
    allow_http = Bool(
        False,
        help="UNSAFE: allow plain http:// endpoints on other hosts (secrets would travel in clear).",
    ).tag(config=True)
    iam_user = Unicode("", help="IAM user name, for password sign-in.").tag(config=True)
    iam_domain = Unicode("", help="IAM domain (account) name, for password sign-in.").tag(config=True)
    metadata_endpoint = Unicode(
        DEFAULT_METADATA_ENDPOINT,
        help="Instance metadata service, asked for temporary credentials when nothing else is set.",
    ).tag(config=True)
    metadata_connect_timeout = Float(
        1.0, help="Seconds to wait for the metadata service (short: off the cloud nothing answers)."
    ).tag(config=True)

    @validate("region")
    def _valid_region(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"]).strip()
        if not _REGION_RE.match(value):
            raise TraitError("region must look like cn-north-4")
        return value

    swr_endpoint = Unicode(
        "", help="SWR manage API base URL; empty means https://swr-api.{region}.myhuaweicloud.com."
    ).tag(config=True)
    swr_registry_endpoint = Unicode(
        "",
        help="Base URL that replaces https://swr.{region}.myhuaweicloud.com for registry v2 calls "
        "(empty: the registry host itself).",
    ).tag(config=True)

    @validate("endpoint", "iam_endpoint", "metadata_endpoint", "swr_endpoint", "swr_registry_endpoint")
    def _valid_url(self, proposal: dict[str, Any]) -> str:
        return _check_base_url(str(proposal["value"]).strip(), proposal["trait"].name)

    @validate("project_id")
    def _valid_project_id(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"]).strip()
        if value and not _PROJECT_ID_RE.match(value):
            raise TraitError("project_id must be letters, digits, '-' or '_'")
        return value

    @validate("workspace_id")
    def _valid_workspace_id(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"]).strip()
        if not WORKSPACE_ID_RE.match(value):
            raise TraitError(f"workspace_id must be {WORKSPACE_ID_HELP}")
        return value

    @validate(
        "connect_timeout",
        "read_timeout",
        "poll_initial",
        "poll_max",
        "wait_timeout",
        "metadata_connect_timeout",
        "max_retry_after",
    )
    def _valid_positive(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not value > 0:
            raise TraitError(f"{proposal['trait'].name} must be a positive number of seconds")
        return value

    @validate("poll_factor")
    def _valid_factor(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not value >= 1.0:
            raise TraitError("poll_factor must be at least 1")
        return value

    @validate("max_retries")
    def _valid_retries(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if not 0 <= value <= 20:
            raise TraitError("max_retries must be between 0 and 20")
        return value

    # -- derived values ------------------------------------------------------------------

    def modelarts_endpoint(self) -> str:
        """The ModelArts base URL (no trailing slash)."""
        return self.endpoint or f"https://modelarts.{self.region}.myhuaweicloud.com"

    def iam_url(self) -> str:
        """The IAM base URL (no trailing slash)."""
        return self.iam_endpoint or f"https://iam.{self.region}.myhuaweicloud.com"

    def swr_url(self) -> str:
        """The SWR manage API base URL (no trailing slash)."""
        return self.swr_endpoint or f"https://swr-api.{self.region}.myhuaweicloud.com"

    def swr_registry_url(self, registry: str) -> str:
        """The base URL for registry v2 calls to ``registry`` (a host[:port] from an SWR path):
        ``swr_registry_endpoint`` for this region's SWR registry host when set, else ``https://registry``."""
        if self.swr_registry_endpoint and registry == swr_registry(self.region):
            return self.swr_registry_endpoint
        return f"https://{registry}"

    def requests_verify(self) -> bool | str:
        """The ``verify`` argument for requests: the CA bundle path, or the on/off flag."""
        if self.ca_bundle:
            return self.ca_bundle
        return bool(self.verify_tls)

    def timeouts(self) -> tuple[float, float]:
        """``(connect, read)`` seconds, as requests takes them."""
        return (float(self.connect_timeout), float(self.read_timeout))

    def http_options(self) -> dict[str, Any]:
        """The keyword arguments every :class:`mai_widgets.transport.http.HttpService` of a client takes from
        these settings (TLS, timeouts, retries, plain-http opt-out)."""
        return {
            "verify": self.requests_verify(),
            "timeouts": self.timeouts(),
            "retries": int(self.max_retries),
            "max_retry_after": float(self.max_retry_after),
            "allow_http": bool(self.allow_http),
        }

    def endpoint_description(self) -> str:
        """Where requests go, in words a user recognises."""
        url = self.modelarts_endpoint()
        host = urlsplit(url).hostname or ""
        if is_loopback(host):
            return f"local ModelArts emulator at {url}"
        return f"ModelArts {self.region} ({url})"

    def __repr__(self) -> str:
        # Settings only; a MaiConfig never holds a secret.
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in sorted(self.trait_names(config=True)))
        return f"MaiConfig({shown})"


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

    @property
    def has_aksk(self) -> bool:
        return bool(self.ak and self.sk)

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
            return f"from the environment ({CREDENTIAL_ENV_VARS[kind]})"
        if self.origin is not None:
            return f"from {self.origin}"
        return "given explicitly (Credentials)"

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
                    hint=f"check {label} for a stray character, quote or newline",
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
        hint=f"write an INI file with a [{_FILE_SECTION}] section holding ak and sk "
        f"(and optionally security_token, project_id, iam_endpoint), or unset {CREDENTIALS_FILE_ENV}",
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
    if project_id is not None and not _PROJECT_ID_RE.match(project_id):
        raise _file_error(shown, "has a project_id that is not letters, digits, '-' or '_'", "project_id")
    if iam_endpoint is not None:
        try:
            iam_endpoint = _check_base_url(iam_endpoint, "iam_endpoint")
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


def missing_settings(
    config: MaiConfig, credentials: Credentials | None = None, *, env: Mapping[str, str] | None = None
) -> list[str]:
    """The environment variables still to set before a request can be signed (empty: ready).

    Names the variables of the credential kind the user started on (AK/SK, or IAM user and
    password); with nothing in ``credentials``, the environment or the credentials file, the
    AK/SK pair (the instance metadata service, asked on the first request, may still supply
    temporary credentials). A broken credentials file or value raises :class:`ConfigError`.
    """
    local = find_local_credentials(config, credentials, env=env)
    if local is None:
        return [CREDENTIAL_ENV_VARS["ak"], CREDENTIAL_ENV_VARS["sk"]]
    return _missing_in(config, local.credentials)


NO_CREDENTIALS_HINT = (
    "set them in the environment of the Jupyter server or kernel (or MAI_WIDGETS_TOKEN, or "
    "MAI_WIDGETS_IAM_USER, MAI_WIDGETS_IAM_DOMAIN and MAI_WIDGETS_IAM_PASSWORD), or write ak and sk "
    "to the [basic] section of ~/.huaweicloud/credentials (chmod 600); on an ECS with an agency "
    "the instance metadata service supplies them"
)


def credentials_problem(
    config: MaiConfig, credentials: Credentials | None = None, *, env: Mapping[str, str] | None = None
) -> ConfigError | None:
    """A :class:`ConfigError` naming exactly what to set, or ``None`` when credentials suffice."""
    try:
        missing = missing_settings(config, credentials, env=env)
    except ConfigError as error:
        return error
    if not missing:
        return None
    return ConfigError(
        f"no usable credentials: set {' and '.join(missing)}",
        missing=tuple(missing),
        hint=NO_CREDENTIALS_HINT,
    )


def _parse_env_value(var: str, trait: str, raw: str) -> Any:
    value = raw.strip()
    if trait in ("verify_tls", "allow_http"):
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"{var} must be true or false", missing=(var,))
    if trait in ("connect_timeout", "read_timeout", "max_retry_after", "metadata_connect_timeout"):
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{var} must be a number of seconds", missing=(var,)) from None
    return value


def _read_config_files(config_dirs: Iterable[str]) -> Config:
    """Merge ``mai_widgets_config.{py,json}`` from ``config_dirs`` (highest priority first)."""
    from traitlets.config.loader import (
        ConfigFileNotFound,
        JSONFileConfigLoader,
        PyFileConfigLoader,
    )

    merged = Config()
    # Jupyter lists the most specific directory first; load it last so it wins.
    for directory in reversed(list(config_dirs)):
        for loader_class in (JSONFileConfigLoader, PyFileConfigLoader):
            suffix = ".json" if loader_class is JSONFileConfigLoader else ".py"
            loader = loader_class(CONFIG_FILE_BASENAME + suffix, path=directory)
            try:
                loaded = loader.load_config()
            except ConfigFileNotFound:
                continue
            except Exception as exc:  # a broken file: name it, do not crash with its traceback
                path = os.path.join(directory, CONFIG_FILE_BASENAME + suffix)
                raise ConfigError(
                    f"cannot read {path}: {type(exc).__name__}",
                    hint="fix or remove the file",
                ) from None
            merged.merge(loaded)
    return merged


def load_config(
    env: Mapping[str, str] | None = None,
    config_dirs: Iterable[str] | None = None,
    **overrides: Any,
) -> MaiConfig:
    """Settings from the Jupyter config files, then the environment, then ``overrides``.

    ``config_dirs`` defaults to ``jupyter_core.paths.jupyter_config_path()``. Bad values raise
    :class:`ConfigError` naming the setting and where it came from.
    """
    source = os.environ if env is None else env
    if config_dirs is None:
        from jupyter_core.paths import jupyter_config_path

        config_dirs = jupyter_config_path()
    file_config = _read_config_files(config_dirs)
    try:
        config = MaiConfig(config=file_config)
    except TraitError as exc:
        raise ConfigError(
            f"invalid setting in {CONFIG_FILE_BASENAME}.py/.json: {exc}", hint="fix the config file"
        ) from None
    for var, trait in SETTING_ENV_VARS.items():
        raw = source.get(var)
        if raw is None or raw.strip() == "":
            continue
        try:
            setattr(config, trait, _parse_env_value(var, trait, raw))
        except TraitError as exc:
            raise ConfigError(f"{var}: {exc}", missing=(var,)) from None
    for name, value in overrides.items():
        if name not in config.trait_names(config=True):
            raise ConfigError(f"{name} is not a mai-widgets setting")
        try:
            setattr(config, name, value)
        except TraitError as exc:
            raise ConfigError(f"{name}: {exc}") from None
    return config
