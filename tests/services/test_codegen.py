"""codegen.preview: the exact request, and SDK/curl code that refers to credentials by name only."""

from __future__ import annotations

import ast
import json
import os
import shlex
import subprocess
import sys
import time
from typing import Any

import pytest

from mai_widgets.auth.config import load_config
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.services.codegen import PROJECT_ID_PLACEHOLDER, preview
from mai_widgets.wire.contract import RegisterRequest

GOOD = "swr.cn-north-4.myhuaweicloud.com/mai-demo/pytorch-cpu:2.3.0"
# A description that would break naive quoting in Python, JSON and the shell.
TRICKY = 'it\'s "quoted" $HOME `id` \\ back\nnew line ünïcode'


def _request(**changes: Any) -> RegisterRequest:
    fields: dict[str, Any] = {
        "swr_path": GOOD,
        "arch": "AARCH64",
        "resource_category": ["GPU", "CPU"],
        "services": ["SSH"],
        "service_type": "DEV",
        "visibility": "PUBLIC",
        "origin": "CUSTOMIZE",
        "workspace_id": "0",
        "description": TRICKY,
    }
    return RegisterRequest.create(**{**fields, **changes})


def test_method_url_and_body_are_exactly_what_is_sent() -> None:
    config = load_config(env={"HUAWEICLOUD_SDK_PROJECT_ID": "p123"}, config_dirs=[])
    request = _request()
    p = preview(request, config)
    assert p.method == "POST"
    assert p.url == "https://modelarts.cn-north-4.myhuaweicloud.com/v1/p123/images"
    assert json.loads(p.body_json) == dict(request.to_body()) == p.body
    assert p.body["description"] == TRICKY


def test_unknown_project_id_is_a_visible_placeholder() -> None:
    p = preview(_request(), load_config(env={}, config_dirs=[]))
    assert PROJECT_ID_PLACEHOLDER in p.url
    assert "os.environ['HUAWEICLOUD_SDK_PROJECT_ID']" in p.python_sdk_code
    assert "put your project id" in p.curl


def test_python_code_is_valid_and_rebuilds_the_same_body() -> None:
    config = load_config(env={"MAI_WIDGETS_ENDPOINT": "http://127.0.0.1:9"}, config_dirs=[])
    p = preview(_request(), config)
    tree = ast.parse(p.python_sdk_code)
    # The keyword arguments of ImageRegRequest(...) are the body, value for value.
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "ImageRegRequest"
    ]
    assert len(calls) == 1
    rebuilt = {kw.arg: ast.literal_eval(kw.value) for kw in calls[0].keywords}
    assert rebuilt == p.body
    assert ".with_endpoints(['http://127.0.0.1:9'])" in p.python_sdk_code


def test_default_cloud_endpoint_uses_the_sdk_region() -> None:
    p = preview(_request(), load_config(env={"MAI_WIDGETS_REGION": "ap-southeast-1"}, config_dirs=[]))
    assert "ModelArtsRegion.value_of('ap-southeast-1')" in p.python_sdk_code
    assert "with_endpoints" not in p.python_sdk_code


def test_curl_survives_the_shell_and_uses_a_token_reference() -> None:
    config = load_config(env={"HUAWEICLOUD_SDK_PROJECT_ID": "p1"}, config_dirs=[])
    p = preview(_request(), config)
    command = "\n".join(line for line in p.curl.splitlines() if not line.startswith("#"))
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:2] == ["curl", "--fail-with-body"]
    assert json.loads(words[words.index("--data-raw") + 1]) == p.body
    assert "X-Auth-Token: ${MAI_WIDGETS_TOKEN}" in words
    assert "SDK-HMAC-SHA256" in p.curl  # says why there is no AK/SK signing in curl


def test_tls_settings_are_carried_into_the_code(tmp_path: Any) -> None:
    bundle = tmp_path / "ca.pem"
    p = preview(_request(), load_config(env={"MAI_WIDGETS_CA_BUNDLE": str(bundle)}, config_dirs=[]))
    assert f"--cacert {bundle}" in p.curl and f"ssl_ca_cert = {str(bundle)!r}" in p.python_sdk_code
    p = preview(_request(), load_config(env={"MAI_WIDGETS_VERIFY_TLS": "false"}, config_dirs=[]))
    assert "--insecure" in p.curl and "ignore_ssl_verification = True" in p.python_sdk_code


def test_no_secret_values_in_any_generated_text() -> None:
    env = {
        "HUAWEICLOUD_SDK_AK": "AKVALUE0123456789XYZ",
        "HUAWEICLOUD_SDK_SK": "sk-value-very-secret",
        "HUAWEICLOUD_SDK_SECURITY_TOKEN": "security-token-value",
        "MAI_WIDGETS_TOKEN": "iam-token-value",
        "MAI_WIDGETS_IAM_PASSWORD": "iam-password-value",
        "HUAWEICLOUD_SDK_PROJECT_ID": "p1",
    }
    p = preview(_request(), load_config(env=env, config_dirs=[]))
    text = "\n".join([p.method, p.url, p.body_json, p.python_sdk_code, p.curl, p.http_text()])
    for name, value in env.items():
        if name != "HUAWEICLOUD_SDK_PROJECT_ID":
            assert value not in text
    for name in ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN"):
        assert f"os.environ[{name!r}]" in p.python_sdk_code


def test_generated_sdk_code_registers_the_same_image_with_the_official_sdk(emulator: EmulatorProcess) -> None:
    """Run the generated code with huaweicloudsdkmodelarts against the emulator (over HTTP)."""
    pytest.importorskip("huaweicloudsdkmodelarts")
    env = {**os.environ, **emulator.env()}
    config = load_config(env=env, config_dirs=[])
    p = preview(_request(), config)
    run = subprocess.run(
        [sys.executable, "-c", p.python_sdk_code], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    image_id, status = run.stdout.split()
    assert status in ("INIT", "CREATING", "ACTIVE")
    with emulator.store() as store:
        stored = store.get(emulator.project_id, image_id, int(time.time() * 1000))
    assert stored is not None
    body = p.body
    assert stored["swr_path"] == body["swr_path"]
    assert stored["arch"].upper() == body["arch"]
    assert stored["resource_categories"] == body["resource_category"]
    assert stored["dev_services"] == body["services"]
    assert stored["service_type"] == body["service_type"]
    assert stored["visibility"] == body["visibility"]
    assert stored["description"] == body["description"]
    assert stored["workspace_id"] == body["workspace_id"]
