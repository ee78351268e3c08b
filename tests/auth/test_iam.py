"""IAM password sign-in, token refresh and project discovery, against a small real HTTP server.

The server (http.server on 127.0.0.1, port 0) plays IAM and one API route: it issues tokens,
records every request, answers ``401 APIG.0307`` for tokens it was told to treat as expired,
and checks AK/SK signatures with ``verify_signature`` for ``/v3/projects``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from local_server import serving

from mai_widgets.auth.iam import IAMPasswordAuth, TokenAuth, discover_project_id, parse_iam_time
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.errors import AuthenticationError, ConfigError, PermissionDeniedError, TransportError
from mai_widgets.transport.signer import AKSKAuth, SignatureError, verify_signature

USER, PASSWORD, DOMAIN = "iam-user", "iam-password-secret-42", "iam-domain"
REGION = "cn-north-4"
PROJECT = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
AK, SK = "IAMTESTAK000000001", "iam-test-sk-secret-77"


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class IamState:
    lifetime: timedelta = timedelta(hours=24)
    issue_delay: float = 0.0
    issued: list[str] = field(default_factory=list)
    expired: set[str] = field(default_factory=set)  # tokens the API route calls expired
    projects: dict[str, list[str]] = field(default_factory=lambda: {REGION: [PROJECT]})
    calls: list[Call] = field(default_factory=list)
    forbid_projects: bool = False


class FakeIam(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _IamHandler)
        self.state = IamState()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, method: str, path: str) -> int:
        with self.lock:
            return sum(1 for c in self.state.calls if c.method == method and c.path == path)


class _IamHandler(BaseHTTPRequestHandler):
    server: FakeIam
    protocol_version = "HTTP/1.1"

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> tuple[str, str, bytes]:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        with self.server.lock:
            self.server.state.calls.append(Call(self.command, path, dict(self.headers.items()), body))
        return path, query, body

    def _token_ok(self) -> bool:
        token = self.headers.get("X-Auth-Token")
        with self.server.lock:
            return token in self.server.state.issued and token not in self.server.state.expired

    def do_POST(self) -> None:
        path, _, body = self._record()
        if path != "/v3/auth/tokens":
            return self._reply(404, {"error_code": "APIGW.0101", "error_msg": "no such API"})
        user = json.loads(body)["auth"]["identity"]["password"]["user"]
        if (user["name"], user["password"], user["domain"]["name"]) != (USER, PASSWORD, DOMAIN):
            message = "The username or password is wrong."
            return self._reply(401, {"error": {"code": 401, "message": message, "title": "Unauthorized"}})
        time.sleep(self.server.state.issue_delay)
        with self.server.lock:
            token = f"MIItoken-{len(self.server.state.issued) + 1}-secret"
            self.server.state.issued.append(token)
            expires = datetime.now(timezone.utc) + self.server.state.lifetime
        answer = {
            "token": {
                "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "methods": ["password"],
                "project": {"id": PROJECT, "name": REGION},
            }
        }
        self._reply(201, answer, {"X-Subject-Token": token})

    def do_GET(self) -> None:
        path, query, body = self._record()
        if path == "/v3/projects":
            if self.headers.get("Authorization"):
                try:
                    verify_signature("GET", path, query, self.headers.items(), body, {AK: SK}.get)
                except SignatureError as exc:
                    return self._reply(401, {"error_code": "APIGW.0301", "error_msg": exc.reason})
            elif not self._token_ok():
                return self._reply(
                    401, {"error_code": "APIG.0307", "error_msg": "The token must be updated."}
                )
            if self.server.state.forbid_projects:
                return self._reply(403, {"error": {"code": 403, "message": "You are not authorized."}})
            name = parse_qs(query).get("name", [""])[0]
            ids = self.server.state.projects.get(name, [])
            return self._reply(200, {"projects": [{"id": i, "name": name} for i in ids]})
        if path == "/v1/api":
            if self.headers.get("X-Auth-Token") == "not-expired-just-wrong":
                return self._reply(
                    401, {"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication"}
                )
            if not self._token_ok():
                return self._reply(
                    401, {"error_code": "APIG.0307", "error_msg": "The token must be updated."}
                )
            return self._reply(200, {"ok": True})
        self._reply(404, {"error_code": "APIGW.0101", "error_msg": "no such API"})

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def iam() -> Iterator[FakeIam]:
    with serving(FakeIam()) as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


def password_auth(iam: FakeIam, **kwargs: Any) -> IAMPasswordAuth:
    return IAMPasswordAuth(iam.url, USER, kwargs.pop("password", PASSWORD), DOMAIN, REGION, **kwargs)


# -- sign-in ------------------------------------------------------------------------------------


def test_sign_in_posts_the_documented_body_and_uses_the_subject_token(
    iam: FakeIam, http: requests.Session
) -> None:
    auth = password_auth(iam)
    response = http.get(iam.url + "/v1/api", auth=auth, timeout=30)
    assert response.status_code == 200
    post = next(c for c in iam.state.calls if c.method == "POST")
    assert post.path == "/v3/auth/tokens"
    assert json.loads(post.body) == {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": USER, "password": PASSWORD, "domain": {"name": DOMAIN}}},
            },
            "scope": {"project": {"name": REGION}},
        }
    }
    assert post.headers["Content-Type"].startswith("application/json")
    api = iam.state.calls[-1]
    assert api.headers["X-Auth-Token"] == iam.state.issued[0]
    assert auth.project_id == PROJECT
    assert auth.expires_at is not None and auth.expires_at > datetime.now(timezone.utc) + timedelta(hours=23)


def test_token_is_cached(iam: FakeIam, http: requests.Session) -> None:
    auth = password_auth(iam)
    for _ in range(5):
        assert http.get(iam.url + "/v1/api", auth=auth, timeout=30).status_code == 200
    assert iam.count("POST", "/v3/auth/tokens") == 1
    assert auth.fetch_count == 1


def test_token_is_refreshed_before_it_expires(iam: FakeIam) -> None:
    offset = [timedelta(0)]
    auth = password_auth(iam, clock=lambda: datetime.now(timezone.utc) + offset[0])
    first = auth.token()
    offset[0] = timedelta(hours=23, minutes=50)  # 10 minutes left: keep it
    assert auth.token() == first
    offset[0] = timedelta(hours=23, minutes=56)  # 4 minutes left, inside the 5-minute margin
    second = auth.token()
    assert second != first
    assert iam.state.issued == [first, second]


def test_short_lived_tokens_are_kept_for_half_their_life(iam: FakeIam) -> None:
    iam.state.lifetime = timedelta(minutes=4)  # shorter than the margin
    offset = [timedelta(0)]
    auth = password_auth(iam, clock=lambda: datetime.now(timezone.utc) + offset[0])
    first = auth.token()
    offset[0] = timedelta(minutes=1)
    assert auth.token() == first
    offset[0] = timedelta(minutes=2, seconds=30)
    assert auth.token() != first


def test_a_401_saying_expired_refetches_and_resends_once(iam: FakeIam, http: requests.Session) -> None:
    auth = password_auth(iam)
    first = auth.token()
    iam.state.expired.add(first)  # e.g. revoked, or the client's clock is behind
    response = http.get(iam.url + "/v1/api", auth=auth, timeout=30)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert response.request.headers["X-Auth-Token"] == iam.state.issued[1]
    assert iam.count("POST", "/v3/auth/tokens") == 2
    assert iam.count("GET", "/v1/api") == 2
    # later calls use the new token directly
    assert http.get(iam.url + "/v1/api", auth=auth, timeout=30).history == []


def test_only_one_resend_when_every_token_is_refused(iam: FakeIam, http: requests.Session) -> None:
    auth = password_auth(iam)

    class ExpireAll(set[str]):
        def __contains__(self, item: object) -> bool:
            return True

    iam.state.expired = ExpireAll()
    response = http.get(iam.url + "/v1/api", auth=auth, timeout=30)
    assert response.status_code == 401
    assert iam.count("GET", "/v1/api") == 2
    assert iam.count("POST", "/v3/auth/tokens") == 2


def test_other_401s_are_not_retried(iam: FakeIam, http: requests.Session) -> None:
    auth = password_auth(iam)
    prepared = requests.Request("GET", iam.url + "/v1/api").prepare()
    auth(prepared)
    prepared.headers["X-Auth-Token"] = "not-expired-just-wrong"
    response = http.send(prepared, timeout=30)
    assert response.status_code == 401
    assert iam.count("GET", "/v1/api") == 1
    assert iam.count("POST", "/v3/auth/tokens") == 1


def test_concurrent_callers_share_one_sign_in(iam: FakeIam) -> None:
    iam.state.issue_delay = 0.2  # widens the window in which a second sign-in could start
    auth = password_auth(iam)
    barrier = threading.Barrier(8)
    tokens: list[str] = []

    def worker() -> None:
        barrier.wait(timeout=30)
        tokens.append(auth.token())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert iam.count("POST", "/v3/auth/tokens") == 1


def test_wrong_password_is_an_authentication_error_without_the_password(
    iam: FakeIam, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mai_widgets")
    auth = password_auth(iam, password="wrong-password-secret")
    with pytest.raises(AuthenticationError) as info:
        auth.token()
    assert "username or password is wrong" in info.value.message
    text = info.value.one_line() + repr(info.value) + repr(auth) + caplog.text
    assert "wrong-password-secret" not in text


def test_no_secret_in_repr_or_logs(
    iam: FakeIam, http: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = password_auth(iam)
    iam.state.expired.add(auth.token())
    http.get(iam.url + "/v1/api", auth=auth, timeout=30)
    texts = [repr(auth), str(auth), caplog.text, repr(TokenAuth(iam.state.issued[0]))]
    assert "token valid until" in texts[0]
    for text in texts:
        assert PASSWORD not in text
        for token in iam.state.issued:
            assert token not in text


def test_unreachable_iam_is_a_transport_error(iam: FakeIam) -> None:
    url = iam.url
    iam.shutdown()
    iam.server_close()
    auth = IAMPasswordAuth(url, USER, PASSWORD, DOMAIN, REGION, timeout=(2.0, 5.0))
    with pytest.raises(TransportError) as info:
        auth.token()
    assert "127.0.0.1" in info.value.message
    assert PASSWORD not in info.value.one_line()


def test_missing_subject_token_or_expiry_is_reported(iam: FakeIam, monkeypatch: pytest.MonkeyPatch) -> None:
    original = _IamHandler._reply

    def drop_token(self: _IamHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        original(self, status, body, None)

    monkeypatch.setattr(_IamHandler, "_reply", drop_token)
    with pytest.raises(Exception, match="X-Subject-Token"):
        password_auth(iam).token()

    def drop_expiry(self: _IamHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        original(self, status, {"token": {}}, headers)

    monkeypatch.setattr(_IamHandler, "_reply", drop_expiry)
    with pytest.raises(Exception, match="expires_at"):
        password_auth(iam).token()


def test_empty_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="password") as info:
        IAMPasswordAuth("https://iam.example", USER, "", DOMAIN, REGION)
    assert info.value.missing == ("MAI_WIDGETS_IAM_PASSWORD",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T06:20:29.123000Z", datetime(2026, 11, 28, 6, 20, 29, 123000, tzinfo=timezone.utc)),
        ("2026-11-28T06:20:29.1Z", datetime(2026, 11, 28, 6, 20, 29, 100000, tzinfo=timezone.utc)),
        ("2026-11-28T06:20:29Z", datetime(2026, 11, 28, 6, 20, 29, tzinfo=timezone.utc)),
        (
            "2026-11-28T14:20:29.123456789+08:00",
            datetime(2026, 11, 28, 6, 20, 29, 123456, tzinfo=timezone.utc),
        ),
        ("2026-11-28T06:20:29", datetime(2026, 11, 28, 6, 20, 29, tzinfo=timezone.utc)),
    ],
)
def test_parse_iam_time(text: str, expected: datetime) -> None:
    assert parse_iam_time(text) == expected


def test_parse_iam_time_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="ISO"):
        parse_iam_time("tomorrow")


# -- project discovery --------------------------------------------------------------------------


def test_discover_with_aksk_goes_through_a_verified_signature(iam: FakeIam, http: requests.Session) -> None:
    assert discover_project_id(iam.url, REGION, AKSKAuth(AK, SK), session=http) == PROJECT
    call = iam.state.calls[-1]
    assert call.path == "/v3/projects"
    assert call.headers["Authorization"].startswith("SDK-HMAC-SHA256 ")
    with pytest.raises(AuthenticationError, match="signature mismatch"):
        discover_project_id(iam.url, REGION, AKSKAuth(AK, "wrong-sk"), session=http)


def test_discover_with_password_and_token(iam: FakeIam) -> None:
    auth = password_auth(iam)
    assert discover_project_id(iam.url + "/", REGION, auth) == PROJECT
    assert discover_project_id(iam.url, REGION, TokenAuth(auth.token())) == PROJECT
    assert iam.state.calls[-1].headers["X-Auth-Token"] == iam.state.issued[0]


def test_discover_zero_matches_is_a_config_error(iam: FakeIam) -> None:
    with pytest.raises(ConfigError) as info:
        discover_project_id(iam.url, "xx-nowhere-1", AKSKAuth(AK, SK))
    assert "xx-nowhere-1" in info.value.message
    assert info.value.missing == ("HUAWEICLOUD_SDK_PROJECT_ID",)
    assert SK not in info.value.one_line()


def test_discover_several_matches_is_a_config_error(iam: FakeIam) -> None:
    iam.state.projects[REGION] = ["p-one", "p-two"]
    with pytest.raises(ConfigError, match="2 projects") as info:
        discover_project_id(iam.url, REGION, AKSKAuth(AK, SK))
    assert "p-one" in info.value.message and "p-two" in info.value.message
    assert "HUAWEICLOUD_SDK_PROJECT_ID" in (info.value.hint or "")


def test_discover_forbidden_is_a_permission_error(iam: FakeIam) -> None:
    iam.state.forbid_projects = True
    with pytest.raises(PermissionDeniedError, match="not authorized"):
        discover_project_id(iam.url, REGION, AKSKAuth(AK, SK))


# -- the same client code against the project's emulator (a real server in a subprocess) -------


def test_emulator_accepts_aksk_permanent_and_temporary(
    emulator: EmulatorProcess, http: requests.Session
) -> None:
    s = emulator.settings
    permanent = AKSKAuth(s.ak, s.sk)
    assert discover_project_id(emulator.url, s.region, permanent, session=http) == s.project_id
    listing = http.get(
        f"{emulator.url}/v1/{s.project_id}/images",
        params={"limit": "10", "name": "a b+c", "type": "DEDICATED"},
        headers={"X-Note": "naïve ✓"},
        auth=AKSKAuth(s.ak, s.sk, project_id=s.project_id),
        timeout=30,
    )
    assert listing.status_code == 200, listing.text
    temporary = AKSKAuth(s.temp_ak, s.temp_sk, project_id=s.project_id, security_token=s.security_token)
    assert http.get(f"{emulator.url}/v1/{s.project_id}/images", auth=temporary, timeout=30).status_code == 200
    wrong = http.get(f"{emulator.url}/v1/{s.project_id}/images", auth=AKSKAuth(s.ak, "wrong-sk"), timeout=30)
    assert wrong.status_code == 401
    assert "wrong-sk" not in wrong.text and s.sk not in wrong.text


def test_emulator_password_sign_in_and_discovery(emulator: EmulatorProcess) -> None:
    s = emulator.settings
    auth = IAMPasswordAuth(emulator.url, s.iam_user, s.iam_password, s.iam_domain, s.region)
    assert discover_project_id(emulator.url, s.region, auth) == s.project_id
    assert auth.project_id == s.project_id
    assert auth.expires_at is not None and auth.expires_at > datetime.now(timezone.utc) + timedelta(hours=23)
    with pytest.raises(AuthenticationError) as info:
        IAMPasswordAuth(emulator.url, s.iam_user, "wrong-password", s.iam_domain, s.region).token()
    assert "wrong-password" not in info.value.one_line()


def test_emulator_expired_token_is_refetched_once(
    emulator_factory: Callable[..., EmulatorProcess], http: requests.Session
) -> None:
    emulator = emulator_factory(token_ttl_seconds=1)
    s = emulator.settings
    # a client clock an hour slow keeps using the token after the emulator has expired it
    auth = IAMPasswordAuth(
        emulator.url,
        s.iam_user,
        s.iam_password,
        s.iam_domain,
        s.region,
        clock=lambda: datetime.now(timezone.utc) - timedelta(hours=1),
    )
    first = auth.token()
    assert auth.expires_at is not None
    while datetime.now(timezone.utc) <= auth.expires_at + timedelta(milliseconds=50):
        time.sleep(0.05)
    response = http.get(f"{emulator.url}/v1/{s.project_id}/images", auth=auth, timeout=30)
    assert response.status_code == 200, response.text
    assert [r.status_code for r in response.history] == [401]
    assert response.request.headers["X-Auth-Token"] != first
    assert auth.fetch_count == 2
