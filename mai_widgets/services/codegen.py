"""What a registration (or a notebook's save as an image) would send, and the same call as SDK
code and as curl.

The preview is built from the request and the (secret-free) configuration only: credentials
appear solely as environment-variable references, so a preview is safe to show, save in a
notebook or paste into a ticket.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..wire.contract import RegisterRequest

if TYPE_CHECKING:
    from ..auth.config import MaiConfig
    from ..wire.notebooks import SaveImageRequest

__all__ = ["PROJECT_ID_PLACEHOLDER", "Preview", "preview", "register_url", "save_preview", "save_url"]

# In the URL when the project id is not configured (it is discovered through IAM at submit).
PROJECT_ID_PLACEHOLDER = "{project_id}"

# The environment variables the generated code reads; never their values.
AK_VAR = "HUAWEICLOUD_SDK_AK"
SK_VAR = "HUAWEICLOUD_SDK_SK"
SECURITY_TOKEN_VAR = "HUAWEICLOUD_SDK_SECURITY_TOKEN"  # noqa: S105 (a variable name)
PROJECT_ID_VAR = "HUAWEICLOUD_SDK_PROJECT_ID"
TOKEN_VAR = "MAI_WIDGETS_TOKEN"  # noqa: S105 (a variable name)


@dataclass(frozen=True)
class Preview:
    """A register request as it would go over the wire, plus equivalent code."""

    method: str
    url: str
    body: dict[str, Any]
    body_json: str
    python_sdk_code: str
    curl: str

    def http_text(self) -> str:
        """``METHOD URL`` then the JSON body, as an HTTP client would show it."""
        return f"{self.method} {self.url}\nContent-Type: application/json\n\n{self.body_json}"


def register_url(config: MaiConfig) -> str:
    project_id = config.project_id or PROJECT_ID_PLACEHOLDER
    return f"{config.modelarts_endpoint().rstrip('/')}/v1/{project_id}/images"


def save_url(config: MaiConfig, notebook_id: str) -> str:
    project_id = config.project_id or PROJECT_ID_PLACEHOLDER
    return f"{config.modelarts_endpoint().rstrip('/')}/v1/{project_id}/notebooks/{notebook_id}/create-image"


@dataclass(frozen=True)
class _SdkCall:
    """How the official SDK spells one call: request and body classes, the client method, and
    the request's own arguments (a path parameter) besides the body."""

    request_class: str
    body_class: str
    method: str
    arguments: tuple[tuple[str, str], ...] = ()


_REGISTER_CALL = _SdkCall("RegisterImageRequest", "ImageRegRequest", "register_image")


def preview(request: RegisterRequest, config: MaiConfig) -> Preview:
    """The exact body, method and URL of registering ``request``, and the same call as code."""
    return _preview(dict(request.to_body()), register_url(config), config, _REGISTER_CALL)


def save_preview(notebook_id: str, request: SaveImageRequest, config: MaiConfig) -> Preview:
    """The exact body, method and URL of saving the instance ``notebook_id`` as an image
    (``request`` with its tag chosen, or none: the client then picks one), and the same call as code."""
    call = _SdkCall("CreateImageRequest", "ImageCreateReq", "create_image", (("id", notebook_id),))
    return _preview(dict(request.to_body()), save_url(config, notebook_id), config, call)


def _preview(body: dict[str, Any], url: str, config: MaiConfig, call: _SdkCall) -> Preview:
    return Preview(
        method="POST",
        url=url,
        body=body,
        body_json=json.dumps(body, indent=2, ensure_ascii=False),
        python_sdk_code=_python_sdk_code(body, config, call),
        curl=_curl(body, url, config),
    )


def _python_sdk_code(body: dict[str, Any], config: MaiConfig, call: _SdkCall = _REGISTER_CALL) -> str:
    endpoint = config.modelarts_endpoint().rstrip("/")
    default_endpoint = f"https://modelarts.{config.region}.myhuaweicloud.com"
    project = repr(config.project_id) if config.project_id else f"os.environ[{PROJECT_ID_VAR!r}]"
    lines = [
        "import os",
        "",
        "from huaweicloudsdkcore.auth.credentials import BasicCredentials",
    ]
    http_config = _sdk_http_config(config)
    if http_config:
        lines.append("from huaweicloudsdkcore.http.http_config import HttpConfig")
    lines += [
        "from huaweicloudsdkmodelarts.v1 import "
        + ", ".join(sorted((call.body_class, "ModelArtsClient", call.request_class))),
    ]
    if endpoint == default_endpoint:
        lines.append("from huaweicloudsdkmodelarts.v1.region.modelarts_region import ModelArtsRegion")
    lines += [
        "",
        "# Credentials come from the environment; never paste their values into a notebook.",
        f"credentials = BasicCredentials(os.environ[{AK_VAR!r}], os.environ[{SK_VAR!r}], {project})",
        f"if os.environ.get({SECURITY_TOKEN_VAR!r}):  # temporary AK/SK (ModelArts notebooks, ECS)",
        f"    credentials = credentials.with_security_token(os.environ[{SECURITY_TOKEN_VAR!r}])",
        *http_config,
        "client = (",
        "    ModelArtsClient.new_builder()",
        "    .with_credentials(credentials)",
    ]
    if http_config:
        lines.append("    .with_http_config(http_config)")
    if endpoint == default_endpoint:
        lines.append(f"    .with_region(ModelArtsRegion.value_of({config.region!r}))")
    else:
        lines.append(f"    .with_endpoints([{endpoint!r}])")
    lines += ["    .build()", ")", f"request = {call.request_class}("]
    lines += [f"    {name}={value!r}," for name, value in call.arguments]
    lines += [f"    body={call.body_class}("]
    lines += [f"        {name}={value!r}," for name, value in body.items()]
    lines += [
        "    )",
        ")",
        f"response = client.{call.method}(request)",
        "print(response.id, response.status)",
    ]
    return "\n".join(lines)


def _sdk_http_config(config: MaiConfig) -> list[str]:
    if config.ca_bundle:
        return [
            "http_config = HttpConfig.get_default_config()",
            f"http_config.ssl_ca_cert = {config.ca_bundle!r}",
        ]
    if not config.verify_tls:
        return [
            "http_config = HttpConfig.get_default_config()",
            "http_config.ignore_ssl_verification = True  # as configured; prefer a CA bundle",
        ]
    return []


def _curl(body: dict[str, Any], url: str, config: MaiConfig) -> str:
    compact = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    lines = [
        "# curl cannot compute SDK-HMAC-SHA256 (AK/SK) signatures, so this uses an IAM token:",
        f"# POST {config.iam_url().rstrip('/')}/v3/auth/tokens, take the X-Subject-Token response header,",
        f"# then: export {TOKEN_VAR}=<that token>",
    ]
    if PROJECT_ID_PLACEHOLDER in url:
        lines.append(f"# and put your project id (${PROJECT_ID_VAR}) in place of {PROJECT_ID_PLACEHOLDER}.")
    options = ["curl --fail-with-body -sS -X POST " + shlex.quote(url)]
    if config.ca_bundle:
        options.append(f"--cacert {shlex.quote(config.ca_bundle)}")
    elif not config.verify_tls:
        options.append("--insecure")
    options += [
        "-H 'Content-Type: application/json'",
        f'-H "X-Auth-Token: ${{{TOKEN_VAR}}}"',
        f"--data-raw {shlex.quote(compact)}",
    ]
    return "\n".join(lines) + "\n" + " \\\n  ".join(options)
