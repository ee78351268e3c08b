"""AK/SK signing: byte-identical to huaweicloudsdkcore's Signer, and verifiable server-side.

The official SDK (a test-only dependency) is the oracle. Round trips go over a real socket to
a small http.server that calls ``verify_signature`` on the raw path, query, headers and body
it received.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest
import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_server import serving

from mai_widgets.auth.iam import TokenAuth
from mai_widgets.errors import ConfigError
from mai_widgets.transport.signer import (
    AccessKeySecret,
    AKSKAuth,
    SignatureError,
    canonical_query,
    canonical_uri,
    sign_request,
    verify_signature,
)

AK = "TESTAKSIGN0000000001"
SK = "test-sk-secret-value-0001"
TEMP_AK = "TESTTEMPAK0000000002"
TEMP_SK = "test-temp-sk-secret-0002"
TOKEN = "test-security-token-value-0003"
PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
SECRETS = (AK, SK, TEMP_AK, TEMP_SK, TOKEN)
DATE = "20261127T062000Z"
NOW = datetime(2026, 11, 27, 6, 20, 0, tzinfo=timezone.utc)


def lookup(ak: str) -> str | AccessKeySecret | None:
    if ak == AK:
        return SK
    if ak == TEMP_AK:
        return AccessKeySecret(TEMP_SK, security_token=TOKEN)
    return None


# -- the oracle ---------------------------------------------------------------------------------


def sdk_sign(
    method: str,
    host: str,
    resource_path: str,
    query: list[tuple[str, Any]],
    headers: dict[str, str],
    body: bytes | None,
    *,
    ak: str = AK,
    sk: str = SK,
    project_id: str | None = None,
    security_token: str | None = None,
) -> SdkRequest:
    """Sign as the SDK's client does: credentials add X-Project-Id/X-Security-Token, then Signer."""
    credentials = BasicCredentials(ak, sk, project_id)
    if security_token is not None:
        credentials.with_security_token(security_token)
    request = SdkRequest(
        method=method,
        schema="http",
        host=host,
        resource_path=resource_path,
        query_params=list(query),
        header_params=dict(headers),
        body=body,
    )
    return credentials.sign_request(request)


def prepare(
    method: str,
    url: str,
    *,
    params: Any = None,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    data: bytes | str | None = None,
    auth: AKSKAuth | None = None,
) -> requests.PreparedRequest:
    request = requests.Request(method, url, params=params, headers=headers, json=json_body, data=data)
    with requests.Session() as session:
        prepared = session.prepare_request(request)
    return (auth or AKSKAuth(AK, SK))(prepared)


def requests_params(query: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """The SDK's query params as text for requests (which would write True, not true)."""
    return [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in query]


# -- explicit cases against the SDK -------------------------------------------------------------

HOST = "modelarts.cn-north-4.myhuaweicloud.com"
BASE = f"http://{HOST}"
JSON = {"swr_path": "swr.cn-north-4.myhuaweicloud.com/ns/img:1", "description": 'é ✓ "quoted"', "n": 1}


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("GET", f"/v1/{PROJECT}/images", [], None),
        ("GET", f"/v1/{PROJECT}/images/", [], None),
        ("GET", f"/v1/{PROJECT}/images", [("limit", 200), ("offset", 0), ("name", "my image")], None),
        ("GET", f"/v1/{PROJECT}/images", [("type", "DEDICATED"), ("type", "BUILD_IN")], None),
        ("GET", f"/v1/{PROJECT}/images", [("tag", ["b", "a", "c"])], None),
        ("GET", "/v1/x/images", [("name_fuzzy_match", True), ("force", False)], None),
        ("GET", "/v1/x/images", [("name", "名前 ünïcode ✓")], None),
        ("GET", "/v1/x/images", [("q", "!#$&'()*+,/:;=?@[]~ %20%"), ("a b", "c+d")], None),
        ("GET", "/v1/x/images", [("empty", ""), ("z", "1"), ("A", "2")], None),
        ("GET", "/v1/x/" + quote("ünï cödé/seg", safe=""), [], None),
        ("GET", "/", [], None),
        ("POST", f"/v1/{PROJECT}/images", [], json.dumps(JSON).encode()),
        ("POST", f"/v1/{PROJECT}/images/abc/sync", [], b""),
        ("DELETE", f"/v1/{PROJECT}/images/abc", [], None),
        ("DELETE", f"/v1/{PROJECT}/images/abc", [], json.dumps({"is_force": True}).encode()),
        ("DELETE", f"/v1/{PROJECT}/images/abc/", [("force", True)], None),
        ("PUT", "/v1/x/y", [("k", "v")], json.dumps([1, 2, {"ä": None}]).encode()),
    ],
)
@pytest.mark.parametrize("temporary", [False, True])
def test_authorization_matches_the_sdk(
    method: str, path: str, query: list[tuple[str, Any]], body: bytes | None, temporary: bool
) -> None:
    token = TOKEN if temporary else None
    flat = [(k, v) for k, vs in query for v in (vs if isinstance(vs, list) else [vs])]
    headers = {"X-Sdk-Date": DATE}
    if body is not None:
        headers["Content-Type"] = "application/json;charset=UTF-8"
    prepared = prepare(
        method,
        BASE + path,
        params=requests_params(flat),
        headers=headers,
        data=body,
        auth=AKSKAuth(AK, SK, project_id=PROJECT, security_token=token),
    )
    sdk = sdk_sign(method, HOST, path, query, headers, body, project_id=PROJECT, security_token=token)
    assert prepared.headers["Authorization"] == sdk.header_params["Authorization"]
    for name in ("X-Sdk-Date", "X-Project-Id", "Host") + (("X-Security-Token",) if temporary else ()):
        assert prepared.headers[name] == sdk.header_params[name]


def test_sign_request_matches_the_sdk_and_adds_date_and_host() -> None:
    added = sign_request("GET", f"{BASE}/v1/p/images?limit=5", {}, None, AK, SK, now=NOW)
    assert added["X-Sdk-Date"] == DATE
    assert added["Host"] == HOST
    sdk = sdk_sign("GET", HOST, "/v1/p/images", [("limit", 5)], {"X-Sdk-Date": DATE}, None)
    assert added["Authorization"] == sdk.header_params["Authorization"]
    assert added["Authorization"].startswith(f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date, ")


def test_an_existing_date_header_is_used_in_any_case() -> None:
    added = sign_request("GET", f"{BASE}/", {"x-sdk-date": DATE}, None, AK, SK)
    assert "X-Sdk-Date" not in added
    sdk = sdk_sign("GET", HOST, "/", [], {"x-sdk-date": DATE}, None)
    assert added["Authorization"] == sdk.header_params["Authorization"]


def test_non_json_body_is_unsigned_payload_as_in_the_sdk() -> None:
    headers = {"X-Sdk-Date": DATE, "Content-Type": "text/plain"}
    prepared = prepare("POST", f"{BASE}/v1/p/x", headers=headers, data=b"plain text")
    sdk = sdk_sign("POST", HOST, "/v1/p/x", [], headers, b"plain text")
    assert prepared.headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    assert prepared.headers["Authorization"] == sdk.header_params["Authorization"]


def test_str_body_is_sent_as_the_utf8_bytes_that_were_hashed() -> None:
    text = json.dumps({"description": "ünï ✓"}, ensure_ascii=False)
    headers = {"X-Sdk-Date": DATE, "Content-Type": "application/json"}
    prepared = prepare("POST", f"{BASE}/v1/p/x", headers=headers, data=text)
    assert prepared.body == text.encode("utf-8")
    assert prepared.headers["Content-Length"] == str(len(text.encode("utf-8")))
    sdk = sdk_sign("POST", HOST, "/v1/p/x", [], headers, text.encode("utf-8"))
    assert prepared.headers["Authorization"] == sdk.header_params["Authorization"]


def test_unicode_header_values_go_out_as_utf8_as_the_sdk_sends_them() -> None:
    headers = {"X-Sdk-Date": DATE, "X-Note": "naïve ✓  "}
    prepared = prepare("GET", f"{BASE}/v1/p/x", headers=headers)
    sdk = sdk_sign("GET", HOST, "/v1/p/x", [], headers, None)
    assert prepared.headers["Authorization"] == sdk.header_params["Authorization"]
    # the SDK rewrites the value to UTF-8 bytes seen as latin-1; so must we (http.client sends latin-1)
    assert prepared.headers["X-Note"] == sdk.header_params["X-Note"] == "naïve ✓".encode().decode("latin-1")


def test_transport_headers_are_not_signed() -> None:
    prepared = prepare("POST", f"{BASE}/v1/p/x", json_body={"a": 1}, headers={"User-Agent": "ua/1"})
    signed = prepared.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0]
    assert signed == "content-type;host;x-sdk-date"


def test_streaming_body_is_refused() -> None:
    prepared = requests.Request("POST", f"{BASE}/x", data=iter([b"a", b"b"])).prepare()
    with pytest.raises(TypeError, match="stream"):
        AKSKAuth(AK, SK)(prepared)


def test_canonical_helpers() -> None:
    assert canonical_uri("/v1/a b/%7Ec") == "/v1/a%20b/~c/"
    assert canonical_uri("") == "/"
    assert canonical_uri("/v1/x/") == "/v1/x/"
    assert canonical_query("b=2&a=1&a=0&c") == "a=0&a=1&b=2&c="
    assert canonical_query("name=a+b&x=a%20b&y=%2B") == "name=a%20b&x=a%20b&y=%2B"
    assert canonical_query("") == ""


# -- many requests: hypothesis ------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
_any_segment = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=10)
# "." and ".." are dot segments: requests (and so the SDK's own HTTP client) removes them
# before sending, so the SDK signs a path the server never sees; see test_dot_segments_*.
_segment = _any_segment.filter(lambda s: s not in (".", ".."))
_header_value = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"), max_size=20
).map(str.strip)
_TYPED_KEYS = ("limit", "offset", "force", "name_fuzzy_match")
_typed_value = st.one_of(st.booleans(), st.integers(-(10**6), 10**6), _text)


@dataclass
class Case:
    method: str
    path: str
    query: list[tuple[str, Any]]
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    project_id: str | None = None
    security_token: str | None = None


@st.composite
def cases(draw: st.DrawFn) -> Case:
    method = draw(st.sampled_from(["GET", "POST", "DELETE", "PUT"]))
    segments = draw(st.lists(_segment, min_size=0, max_size=4))
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    trailing_slash: bool = draw(st.booleans())
    if segments and trailing_slash:
        path += "/"
    # repeated keys carry text only: the SDK sorts raw values, and mixed types do not sort
    repeated = draw(
        st.lists(st.tuples(st.one_of(st.sampled_from(["tag", "k", "a b"]), _segment), _text), max_size=5)
    )
    repeated = [(k, v) for k, v in repeated if k not in _TYPED_KEYS]
    typed = draw(st.dictionaries(st.sampled_from(_TYPED_KEYS), _typed_value, max_size=3))
    headers = draw(
        st.dictionaries(st.sampled_from(["X-Trace", "X-Language", "X-Note"]), _header_value, max_size=2)
    )
    body: bytes | None = None
    if method != "GET" and draw(st.booleans()):
        document = draw(st.dictionaries(_text, st.one_of(_text, st.integers(), st.booleans()), max_size=3))
        body = json.dumps(document, ensure_ascii=draw(st.booleans())).encode()
        headers["Content-Type"] = "application/json;charset=UTF-8"
    temporary = draw(st.booleans())
    return Case(
        method,
        path,
        repeated + list(typed.items()),
        headers,
        body,
        project_id=draw(st.sampled_from([None, PROJECT])),
        security_token=TOKEN if temporary else None,
    )


@settings(max_examples=300, deadline=None)
@given(case=cases(), when=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)))
def test_many_requests_match_the_sdk(case: Case, when: datetime) -> None:
    date = when.strftime("%Y%m%dT%H%M%SZ")
    headers = {**case.headers, "X-Sdk-Date": date}
    auth = AKSKAuth(AK, SK, project_id=case.project_id, security_token=case.security_token)
    prepared = prepare(
        case.method,
        BASE + case.path,
        params=requests_params(case.query),
        headers=headers,
        data=case.body,
        auth=auth,
    )
    sdk = sdk_sign(
        case.method,
        HOST,
        case.path,
        case.query,
        headers,
        case.body,
        project_id=case.project_id,
        security_token=case.security_token,
    )
    assert prepared.headers["Authorization"] == sdk.header_params["Authorization"]


# -- a real server that verifies what it received -----------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes


class VerifyingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _VerifyingHandler)
        self.received: list[Received] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _VerifyingHandler(BaseHTTPRequestHandler):
    server: VerifyingServer
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        record = Received(self.command, path, query, list(self.headers.items()), body)
        with self.server.lock:
            self.server.received.append(record)
        try:
            ak = verify_signature(self.command, path, query, record.headers, body, lookup)
            status, answer = 200, {"ak": ak}
        except SignatureError as exc:
            status, answer = 401, {"reason": exc.reason}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[VerifyingServer]:
    with serving(VerifyingServer()) as srv:
        yield srv


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # no proxy between the test and 127.0.0.1
        yield session


def send(http: requests.Session, server: VerifyingServer, case: Case, auth: AKSKAuth) -> requests.Response:
    return http.request(
        case.method,
        server.url + case.path,
        params=requests_params(case.query),
        headers=case.headers,
        data=case.body,
        auth=auth,
        timeout=30,
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_many_signed_requests_verify_on_a_real_server(
    case: Case, server: VerifyingServer, http: requests.Session
) -> None:
    ak, sk = (TEMP_AK, TEMP_SK) if case.security_token else (AK, SK)
    auth = AKSKAuth(ak, sk, project_id=case.project_id, security_token=case.security_token)
    response = send(http, server, case, auth)
    assert response.status_code == 200, response.text
    assert response.json() == {"ak": ak}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_many_sdk_signed_requests_verify_on_a_real_server(
    case: Case, server: VerifyingServer, http: requests.Session
) -> None:
    ak, sk = (TEMP_AK, TEMP_SK) if case.security_token else (AK, SK)
    host = server.url.removeprefix("http://")
    sdk = sdk_sign(
        case.method,
        host,
        case.path,
        case.query,
        case.headers,
        case.body,
        ak=ak,
        sk=sk,
        project_id=case.project_id,
        security_token=case.security_token,
    )
    # as huaweicloudsdkcore's HttpClient.do_request_sync sends it
    response = http.request(sdk.method, sdk.url, headers=sdk.header_params, data=sdk.body, timeout=30)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/v1/p/./images", "/v1/p/x/../images", "/v1/p/%2E/images", "/v1/%2E%2E/p"])
def test_dot_segments_are_signed_as_sent(server: VerifyingServer, http: requests.Session, path: str) -> None:
    response = http.get(server.url + path, auth=AKSKAuth(AK, SK), timeout=30)
    assert response.status_code == 200, response.text


def test_plus_in_a_requests_query_is_a_space_on_both_sides(
    server: VerifyingServer, http: requests.Session
) -> None:
    response = http.get(
        server.url + "/v1/p/images", params={"name": "a b+c"}, auth=AKSKAuth(AK, SK), timeout=30
    )
    assert response.status_code == 200, response.text
    assert server.received[-1].query == "name=a+b%2Bc"  # requests' form encoding reached the server


# -- verification failures ----------------------------------------------------------------------


@pytest.fixture
def signed(server: VerifyingServer, http: requests.Session) -> Received:
    """One POST with query, project id and JSON body as the server received it (verified)."""
    response = http.post(
        server.url + f"/v1/{PROJECT}/images",
        params={"limit": "5", "name": "x y"},
        json={"swr_path": "swr.example/ns/img:1"},
        headers={"X-Language": "en-us"},
        auth=AKSKAuth(AK, SK, project_id=PROJECT),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return server.received[-1]


def _verify(r: Received, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "method": r.method,
        "path": r.path,
        "raw_query": r.query,
        "headers": r.headers,
        "body": r.body,
        "secret_for_ak": lookup,
    }
    args.update(overrides)
    return verify_signature(**args)


def _with_header(headers: list[tuple[str, str]], name: str, value: str | None) -> list[tuple[str, str]]:
    kept = [(n, v) for n, v in headers if n.lower() != name.lower()]
    return kept if value is None else [*kept, (name, value)]


def _signed_at(r: Received) -> datetime:
    date = next(v for n, v in r.headers if n.lower() == "x-sdk-date")
    return datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def test_the_received_request_verifies(signed: Received) -> None:
    assert _verify(signed) == AK


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": b'{"swr_path": "swr.example/ns/img:2"}'}, "signature mismatch"),
        ({"body": b""}, "signature mismatch"),
        ({"path": f"/v1/{PROJECT}/images/other"}, "signature mismatch"),
        ({"raw_query": "limit=6&name=x+y"}, "signature mismatch"),
        ({"raw_query": "limit=5&name=x+y&extra=1"}, "signature mismatch"),
        ({"raw_query": ""}, "signature mismatch"),
        ({"method": "PUT"}, "signature mismatch"),
    ],
)
def test_tampering_fails(signed: Received, change: dict[str, Any], reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        _verify(signed, **change)


def test_equivalent_encodings_of_the_same_query_and_path_verify(signed: Received) -> None:
    # the canonical form is decoded-then-encoded: %20 for +, reordered pairs, escaped letters
    assert _verify(signed, raw_query="name=x%20y&limit=%35") == AK
    assert _verify(signed, path=f"/v1/{PROJECT}/%69mages/") == AK


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("X-Project-Id", "ffffffffffffffffffffffffffffffff", "signature mismatch"),
        ("X-Language", "zh-cn", "signature mismatch"),
        ("Host", "evil.example", "signature mismatch"),
        ("Content-Type", "text/plain", "signature mismatch"),
        ("X-Language", None, "signed header x-language is missing"),
        ("X-Security-Token", TOKEN, "x-security-token is present but not signed"),
        ("X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD", "present but not signed"),
        ("Authorization", None, "missing Authorization"),
        ("Authorization", "Basic dXNlcjpwYXNz", "unsupported signing algorithm"),
        ("Authorization", "SDK-HMAC-SHA256 Access=x", "malformed"),
        (
            "Authorization",
            "SDK-HMAC-SHA256 Access=x, SignedHeaders=Host;X-Sdk-Date, Signature=00",
            "malformed",
        ),
        ("Authorization", "SDK-HMAC-SHA256 Access=x, SignedHeaders=x-sdk-date, Signature=00", "host must be"),
        ("Authorization", "SDK-HMAC-SHA256 Access=x, SignedHeaders=host, Signature=00", "x-sdk-date must be"),
    ],
)
def test_header_tampering_fails(signed: Received, name: str, value: str | None, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        _verify(signed, headers=_with_header(signed.headers, name, value))


def test_a_changed_date_fails_even_inside_the_window(signed: Received) -> None:
    later = (_signed_at(signed) + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
    with pytest.raises(SignatureError, match="signature mismatch"):
        _verify(signed, headers=_with_header(signed.headers, "X-Sdk-Date", later))
    with pytest.raises(SignatureError, match="format"):
        _verify(signed, headers=_with_header(signed.headers, "X-Sdk-Date", "yesterday"))


def test_a_repeated_signed_header_fails(signed: Received) -> None:
    with pytest.raises(SignatureError, match="more than once"):
        _verify(signed, headers=[*signed.headers, ("x-project-id", PROJECT)])


def test_clock_skew_window(signed: Received) -> None:
    at = _signed_at(signed)
    assert _verify(signed, now=at + timedelta(seconds=899)) == AK
    assert _verify(signed, now=at - timedelta(seconds=899)) == AK
    assert _verify(signed, now=(at + timedelta(seconds=899)).timestamp()) == AK
    for now in (at + timedelta(seconds=901), at - timedelta(minutes=16)):
        with pytest.raises(SignatureError, match="away from the server clock"):
            _verify(signed, now=now)
    with pytest.raises(SignatureError, match="away from the server clock"):
        _verify(signed, now=at + timedelta(seconds=61), max_skew_seconds=60)


def test_a_stale_signed_request_fails_over_the_socket(
    server: VerifyingServer, http: requests.Session
) -> None:
    stale = (datetime.now(timezone.utc) - timedelta(minutes=16)).strftime("%Y%m%dT%H%M%SZ")
    response = http.get(server.url + "/x", headers={"X-Sdk-Date": stale}, auth=AKSKAuth(AK, SK), timeout=30)
    assert response.status_code == 401
    assert "away from the server clock" in response.json()["reason"]


def test_wrong_sk_and_unknown_ak_fail(server: VerifyingServer, http: requests.Session) -> None:
    wrong = http.get(server.url + "/x", auth=AKSKAuth(AK, "not-the-sk"), timeout=30)
    assert wrong.status_code == 401
    assert "signature mismatch" in wrong.json()["reason"]
    unknown = http.get(server.url + "/x", auth=AKSKAuth("UNKNOWNAK", SK), timeout=30)
    assert unknown.json()["reason"] == "unknown access key"


def test_temporary_keys_need_their_signed_token(server: VerifyingServer, http: requests.Session) -> None:
    ok = http.get(server.url + "/x", auth=AKSKAuth(TEMP_AK, TEMP_SK, security_token=TOKEN), timeout=30)
    assert ok.status_code == 200, ok.text
    missing = http.get(server.url + "/x", auth=AKSKAuth(TEMP_AK, TEMP_SK), timeout=30)
    assert "a signed X-Security-Token is required" in missing.json()["reason"]
    wrong = http.get(
        server.url + "/x", auth=AKSKAuth(TEMP_AK, TEMP_SK, security_token="other-token"), timeout=30
    )
    assert "security token does not belong" in wrong.json()["reason"]
    # a permanent key may carry a token, but then it must be signed (AKSKAuth signs it)
    permanent = http.get(server.url + "/x", auth=AKSKAuth(AK, SK, security_token=TOKEN), timeout=30)
    assert permanent.status_code == 200, permanent.text


def test_unsigned_payload_only_when_allowed(server: VerifyingServer, http: requests.Session) -> None:
    response = http.post(
        server.url + "/x",
        data=b"text",
        headers={"Content-Type": "text/plain"},
        auth=AKSKAuth(AK, SK),
        timeout=30,
    )
    assert "UNSIGNED-PAYLOAD is not accepted" in response.json()["reason"]
    r = server.received[-1]
    assert _verify(r, allow_unsigned_payload=True) == AK


def test_a_claimed_body_hash_must_match_the_body() -> None:
    body = b'{"a": 1}'
    headers = {"X-Sdk-Date": DATE, "X-Sdk-Content-Sha256": "0" * 64, "Content-Type": "application/json"}
    added = sign_request("POST", f"{BASE}/x", headers, body, AK, SK)
    with pytest.raises(SignatureError, match="does not match X-Sdk-Content-Sha256"):
        verify_signature("POST", "/x", "", {**headers, **added}, body, lookup, now=NOW)


def test_no_reason_ever_holds_a_secret(signed: Received) -> None:
    reasons: list[str] = []
    attempts: list[dict[str, Any]] = [
        {"secret_for_ak": lambda ak: "wrong-sk"},
        {"secret_for_ak": lambda ak: None},
        {"secret_for_ak": lambda ak: AccessKeySecret(SK, security_token="x")},
        {"now": _signed_at(signed) + timedelta(hours=1)},
        {"body": b"x"},
    ]
    for overrides in attempts:
        with pytest.raises(SignatureError) as info:
            _verify(signed, **overrides)
        reasons += [info.value.reason, str(info.value), repr(info.value)]
    assert reasons
    for text in reasons:
        for secret in SECRETS:
            assert secret not in text


# -- secrets stay out of reprs and messages -----------------------------------------------------


def test_reprs_hide_every_secret() -> None:
    texts = [
        repr(AKSKAuth(AK, SK, project_id=PROJECT, security_token=TOKEN)),
        str(AKSKAuth(AK, SK)),
        repr(TokenAuth(TOKEN, project_id=PROJECT)),
        repr(AccessKeySecret(SK, security_token=TOKEN)),
    ]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
    assert "ak=<set>" in texts[0] and "security_token=<set>" in texts[0] and PROJECT in texts[0]


@pytest.mark.parametrize(
    ("kwargs", "env"),
    [
        ({"ak": "", "sk": SK}, "HUAWEICLOUD_SDK_AK"),
        ({"ak": AK + "\n", "sk": SK}, "HUAWEICLOUD_SDK_AK"),
        ({"ak": AK + ",x", "sk": SK}, "HUAWEICLOUD_SDK_AK"),
        ({"ak": AK, "sk": ""}, "HUAWEICLOUD_SDK_SK"),
        ({"ak": AK, "sk": SK + "\r\n"}, "HUAWEICLOUD_SDK_SK"),
        ({"ak": AK, "sk": SK, "security_token": " " + TOKEN}, "HUAWEICLOUD_SDK_SECURITY_TOKEN"),
    ],
)
def test_bad_credentials_are_named_not_echoed(kwargs: dict[str, str], env: str) -> None:
    with pytest.raises(ConfigError) as info:
        AKSKAuth(**kwargs)
    text = info.value.one_line() + repr(info.value)
    assert env in text
    for secret in SECRETS:
        assert secret not in text


def test_bad_token_is_named_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        TokenAuth(TOKEN + "\n")
    assert "MAI_WIDGETS_TOKEN" in info.value.one_line()
    assert TOKEN not in info.value.one_line()


def test_token_auth_sends_token_and_project() -> None:
    prepared = requests.Request("GET", f"{BASE}/x").prepare()
    TokenAuth(TOKEN, project_id=PROJECT)(prepared)
    assert prepared.headers["X-Auth-Token"] == TOKEN
    assert prepared.headers["X-Project-Id"] == PROJECT
    assert "Authorization" not in prepared.headers


def test_signer_reference_is_the_sdk_class() -> None:
    # guards the oracle itself: BasicCredentials.sign_request must go through Signer
    request = sdk_sign("GET", HOST, "/", [], {"X-Sdk-Date": DATE}, None)
    direct = SdkRequest("GET", "http", HOST, "/", query_params=[], header_params={"X-Sdk-Date": DATE})
    Signer(BasicCredentials(AK, SK)).sign(direct)
    assert request.header_params["Authorization"] == direct.header_params["Authorization"]
