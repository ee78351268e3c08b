"""No client input makes the emulator answer 500: deep, broken, oversized input gets a JSON 400.

Every case goes over a real socket; the raw ones (oversized headers, a huge declared body) use
``http.client`` on a plain socket so nothing on the client side trims or refuses them first.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from test_emulator import GOOD, TIMEOUT, error_of, iam_token, images, session

from mai_widgets.emulator.base import MAX_BODY_BYTES, MAX_HEADER_BYTES
from mai_widgets.emulator.process import EmulatorProcess

DEEP = b"[" * 200_000  # 200 KB of nesting: RecursionError in a naive json.loads


def routes(emu: EmulatorProcess) -> list[tuple[str, str]]:
    """(method, path) of every route, the unauthenticated IAM ones included."""
    base = f"/v1/{emu.project_id}/images"
    some_id = "708ca95d-c601-4dc7-86b9-670adfd5e818"
    return [
        ("POST", "/v3/auth/tokens"),
        ("GET", "/v3/projects"),
        ("POST", base),
        ("GET", base),
        ("GET", f"{base}/group"),
        ("GET", f"{base}/{some_id}"),
        ("DELETE", f"{base}/{some_id}"),
        ("POST", f"{base}/{some_id}/sync"),
    ]


def assert_json_400(status: int, headers: Any, body: bytes) -> dict[str, Any]:
    assert status == 400, body[:300]
    assert headers.get("X-Request-Id")
    parsed = json.loads(body)
    assert set(parsed) >= {"error_code", "error_msg"} and parsed["error_code"]
    return dict(parsed)


def raw_request(emu: EmulatorProcess, head: bytes, body: bytes = b"") -> tuple[int, Any, bytes]:
    parts = urlsplit(emu.url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=15) as sock:
        sock.sendall(head + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.headers, response.read()


@pytest.fixture
def alive(emulator: EmulatorProcess) -> Iterator[EmulatorProcess]:
    """The emulator; afterwards, proof it is still serving and never logged a traceback."""
    yield emulator
    assert session(emulator).get(images(emulator), timeout=TIMEOUT).status_code == 200
    assert "Traceback" not in emulator.stderr_text()


def test_deep_json_is_400_on_every_route_that_reads_a_body(alive: EmulatorProcess) -> None:
    s = session(alive)
    token_reply = requests.post(f"{alive.url}/v3/auth/tokens", data=DEEP, timeout=TIMEOUT)
    assert_json_400(token_reply.status_code, token_reply.headers, token_reply.content)
    for method, suffix in (("POST", ""), ("DELETE", "/708ca95d-c601-4dc7-86b9-670adfd5e818")):
        r = s.request(method, images(alive, suffix), data=DEEP, timeout=TIMEOUT)
        assert "deeper" in assert_json_400(r.status_code, r.headers, r.content)["error_msg"]
    # Nesting that stays inside a string is no nesting at all.
    quoted = json.dumps({"swr_path": GOOD, "description": "[" * 400})
    assert s.post(images(alive), data=quoted, timeout=TIMEOUT).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"\xff\xfe{}",
        b'{"swr_path": "' + GOOD.encode() + b'", "description": "\\ud800"}',  # a lone surrogate
        b"[" * 60 + b"]" * 60,  # deep but allowed: valid JSON, not an object
        b"1e999999",
        b"9" * 5000,
    ],
)
def test_broken_json_is_400(alive: EmulatorProcess, raw: bytes) -> None:
    r = session(alive).post(images(alive), data=raw, timeout=TIMEOUT)
    assert_json_400(r.status_code, r.headers, r.content)
    t = requests.post(f"{alive.url}/v3/auth/tokens", data=raw, timeout=TIMEOUT)
    assert_json_400(t.status_code, t.headers, t.content)


def test_oversized_body_is_400_on_every_route(alive: EmulatorProcess) -> None:
    body = b" " * (MAX_BODY_BYTES + 4096)  # read and dropped: the client gets the answer intact
    token = iam_token(alive).headers["X-Subject-Token"]
    for method, path in routes(alive):
        r = requests.request(
            method, alive.url + path, data=body, headers={"X-Auth-Token": token}, timeout=TIMEOUT
        )
        assert "larger than" in assert_json_400(r.status_code, r.headers, r.content)["error_msg"], path


def test_oversized_chunked_body_is_400(alive: EmulatorProcess) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    r = requests.post(f"{alive.url}/v3/auth/tokens", data=chunks(), timeout=TIMEOUT)
    assert "larger than" in assert_json_400(r.status_code, r.headers, r.content)["error_msg"]
    r = requests.post(images(alive), data=chunks(), timeout=TIMEOUT)  # refused before authentication
    assert "larger than" in assert_json_400(r.status_code, r.headers, r.content)["error_msg"]


def test_huge_declared_body_is_answered_without_reading_it(alive: EmulatorProcess) -> None:
    for method, path in routes(alive):
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: emulator\r\nContent-Type: application/json\r\n"
            f"Content-Length: {10**12}\r\n\r\n"
        ).encode()
        status, headers, body = raw_request(alive, head, b"[[[[")
        assert "larger than" in assert_json_400(status, headers, body)["error_msg"], path


@pytest.mark.parametrize("size", [MAX_HEADER_BYTES + 1, 3 * MAX_HEADER_BYTES])
def test_oversized_headers_are_400_on_every_route(alive: EmulatorProcess, size: int) -> None:
    for method, path in routes(alive):
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: emulator\r\nX-Padding: {'p' * size}\r\n"
            "Content-Length: 2\r\n\r\n"
        ).encode()
        status, headers, body = raw_request(alive, head, b"{}")
        assert "headers" in assert_json_400(status, headers, body)["error_msg"], path


def test_many_headers_over_the_limit_are_400(alive: EmulatorProcess) -> None:
    many = {f"X-H{i}": "v" * 200 for i in range(MAX_HEADER_BYTES // 200 + 10)}
    r = requests.get(f"{alive.url}/v3/projects", headers=many, timeout=TIMEOUT)
    assert_json_400(r.status_code, r.headers, r.content)
    # Keep-alive survives: the same connection serves the next request.
    with requests.Session() as s:
        first = s.post(f"{alive.url}/v3/auth/tokens", data=b" " * (MAX_BODY_BYTES + 1), timeout=TIMEOUT)
        assert first.status_code == 400
        second = s.get(f"{alive.url}/v3/projects", timeout=TIMEOUT)
        assert error_of(second)[:2] == (401, "APIG.0301")


def test_hostile_token_request_shapes_are_400_not_500(alive: EmulatorProcess) -> None:
    bodies: tuple[Any, ...] = (
        [],
        "auth",
        {"auth": []},
        {"auth": {"identity": "x", "scope": []}},
        {"auth": {"identity": {"methods": "password", "password": {"user": []}}}},
        {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": {}, "password": 1}}}}},
    )
    for body in bodies:
        r = requests.post(f"{alive.url}/v3/auth/tokens", json=body, timeout=TIMEOUT)
        assert r.status_code in (400, 401), (body, r.text)
        assert error_of(r)[0] == r.status_code and r.headers["X-Request-Id"]


# -- the registry's routes and the 1 MB cap -------------------------------------------------------


def test_a_query_string_naming_the_upload_path_does_not_lift_the_body_cap(alive: EmulatorProcess) -> None:
    body = b" " * (MAX_BODY_BYTES + 4096)
    token = iam_token(alive).headers["X-Subject-Token"]
    for path in (f"/v1/{alive.project_id}/images", "/v2/manage/utils/secret"):
        r = requests.post(
            f"{alive.url}{path}?x=/v2/a/b/blobs/uploads/",
            data=body,
            headers={"X-Auth-Token": token},
            timeout=TIMEOUT,
        )
        message = assert_json_400(r.status_code, r.headers, r.content)["error_msg"]
        assert f"larger than {MAX_BODY_BYTES} bytes" in message, path
    manifest = requests.put(
        f"{alive.url}/v2/mai-demo/app/manifests/1?x=/blobs/uploads/", data=body, timeout=TIMEOUT
    )
    assert manifest.status_code == 413
    assert f"larger than {MAX_BODY_BYTES} bytes" in manifest.json()["errors"][0]["message"]


def test_an_oversized_manifest_is_refused_in_the_registrys_error_shape(alive: EmulatorProcess) -> None:
    body = b" " * (MAX_BODY_BYTES + 1)
    r = requests.put(
        f"{alive.url}/v2/mai-demo/app/manifests/1",
        data=body,
        headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 413 and r.headers["X-Request-Id"]
    assert r.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    (error,) = r.json()["errors"]
    assert set(error) == {"code", "message", "detail"} and error["code"] == "MANIFEST_INVALID"
    assert "error_code" not in r.json()
    head = (
        f"PUT /v2/mai-demo/app/manifests/1 HTTP/1.1\r\nHost: emulator\r\nContent-Length: {10**12}\r\n\r\n"
    ).encode()
    status, _headers, raw = raw_request(alive, head, b"{")  # answered without reading the body
    assert status == 413 and json.loads(raw)["errors"][0]["code"] == "MANIFEST_INVALID"


def test_not_found_answers_echo_a_bounded_name(alive: EmulatorProcess) -> None:
    s = session(alive)
    long_name = "a" * 20_000
    r = s.get(f"{alive.url}/v2/manage/namespaces/{long_name}/repos/{long_name}/tags", timeout=TIMEOUT)
    assert r.status_code == 404 and r.headers["X-Request-Id"]
    body = r.json()  # SWR's documented shape says the message twice: in errors[] and error_msg
    texts = [body["errors"][0]["errorMessage"], body.get("error_msg", "")]
    assert "aaaa" in texts[0] and all(len(text) < 200 for text in texts) and len(r.content) < 1024
    sorted_by = s.get(images(alive), params={"sort_key": "x" * 128}, timeout=TIMEOUT)
    assert error_of(sorted_by)[:2] == (400, "ModelArts.6303") and len(sorted_by.text) < 400
