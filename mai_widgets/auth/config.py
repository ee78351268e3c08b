"""Settings for talking to ModelArts: where, how long, how safely. Never a secret.

Settings come, lowest precedence first, from the trait defaults, the Jupyter config files
(``mai_widgets_config.py`` or ``mai_widgets_config.json`` in any directory of
``jupyter --paths`` config, class name ``MaiConfig``), the environment, and explicit
arguments. Secrets (AK/SK, tokens, the IAM password) and where they come from are
:mod:`mai_widgets.auth.credentials`' concern; no config file ever holds one.

Environment variables:

| Variable | Setting | Meaning |
|---|---|---|
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
| `MAI_WIDGETS_METADATA_ENDPOINT` | `metadata_endpoint` | Metadata service, default `http://169.254.169.254` |
| `MAI_WIDGETS_METADATA_CONNECT_TIMEOUT` | `metadata_connect_timeout` | Seconds, default 1 |
| `MAI_WIDGETS_SWR_ENDPOINT` | `swr_endpoint` | SWR manage API URL, default from the region |
| `MAI_WIDGETS_SWR_REGISTRY_ENDPOINT` | `swr_registry_endpoint` | Registry v2 URL for the region's SWR host |
| `MAI_WIDGETS_NOTEBOOK_ID` | `notebook_id` | Notebook instance this kernel runs in (saving it) |
| `MAI_WIDGETS_LANGUAGE` | `language` | `en` or `zh_CN`; empty: JupyterLab's, then the locale's |
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from traitlets import Bool, Float, Int, TraitError, Unicode, validate
from traitlets.config import Config, Configurable

from ..errors import ConfigError
from ..i18n import (
    LANGUAGE_ENV,
    LANGUAGES,
    N_,
    Msg,
    Translation,
    choose_language,
    normalize_language,
    translation,
)
from ..transport.addresses import is_loopback
from ..wire.contract import IMAGE_ID_RE, WORKSPACE_ID_HELP, WORKSPACE_ID_RE, swr_registry

__all__ = [
    "CONFIG_FILE_BASENAME",
    "DEFAULT_METADATA_ENDPOINT",
    "PROJECT_ID_RE",
    "SETTING_ENV_VARS",
    "MaiConfig",
    "check_base_url",
    "load_config",
    "translation_for",
]

CONFIG_FILE_BASENAME = "mai_widgets_config"

# Environment variable -> MaiConfig trait. Secrets are not settings (mai_widgets.auth.credentials).
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
    "MAI_WIDGETS_NOTEBOOK_ID": "notebook_id",
    LANGUAGE_ENV: "language",
}
# ECS/BMS instance metadata service (huaweicloudsdkcore.auth.internal.MetadataAccessor).
DEFAULT_METADATA_ENDPOINT = "http://169.254.169.254"

_REGION_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Both end up in URL paths: nothing that could change the path gets through.
PROJECT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def check_base_url(value: str, setting: str) -> str:
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
    """Where ModelArts is and how to talk to it (no secrets here: see
    :class:`mai_widgets.auth.credentials.Credentials`)."""

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

    notebook_id = Unicode(
        "",
        help="Id of the notebook instance this kernel runs in (no public source names a variable "
        "that carries it inside ModelArts); empty: found by address, or picked by the user.",
    ).tag(config=True)

    language = Unicode(
        "",
        help="Language of the widgets, magics and console script: en or zh_CN; empty means "
        "JupyterLab's language in the side panel, else LANGUAGE, LC_ALL, LC_MESSAGES or LANG.",
    ).tag(config=True)

    @validate("language")
    def _valid_language(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"]).strip()
        if not value:
            return ""
        chosen = normalize_language(value)
        if chosen is None:
            raise TraitError(f"language must be one of {', '.join(LANGUAGES)}, not {value!r}")
        return chosen

    @validate("notebook_id")
    def _valid_notebook_id(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"]).strip()
        if value and not IMAGE_ID_RE.match(value):
            raise TraitError("notebook_id must be an instance id: letters, digits, '-' and '_'")
        return value

    @validate("endpoint", "iam_endpoint", "metadata_endpoint", "swr_endpoint", "swr_registry_endpoint")
    def _valid_url(self, proposal: dict[str, Any]) -> str:
        return check_base_url(str(proposal["value"]).strip(), proposal["trait"].name)

    @validate("project_id")
    def _valid_project_id(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"]).strip()
        if value and not PROJECT_ID_RE.match(value):
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
            return Msg("local ModelArts emulator at {url}", url=url)
        return Msg("ModelArts {region} ({url})", region=self.region, url=url)

    def __repr__(self) -> str:
        # Settings only; a MaiConfig never holds a secret.
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in sorted(self.trait_names(config=True)))
        return f"MaiConfig({shown})"


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
                    hint=N_("fix or remove the file"),
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
            f"invalid setting in {CONFIG_FILE_BASENAME}.py/.json: {exc}", hint=N_("fix the config file")
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


def translation_for(
    config: MaiConfig | None = None, *, language: str | None = None, host: str | None = None
) -> Translation:
    """The words to speak to a person: ``language=`` first, then ``c.MaiConfig.language`` (or
    ``MAI_WIDGETS_LANGUAGE``), then the host's (JupyterLab's, from the side panel), then the
    locale's. Raises ``ValueError`` naming ``language`` for an explicit language without a catalogue."""
    if language:
        return translation(choose_language(language))
    if config is None:
        try:
            config = load_config()
        except ConfigError:  # a bad setting is reported where it is used, not here
            config = None
    configured = config.language if config is not None else None
    return translation(choose_language(configured=configured, host=host))
