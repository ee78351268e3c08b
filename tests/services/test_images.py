"""ImageClient against the emulator over real HTTP: every call and every error path.

Also the poll schedule (a pure function) and a few local servers for what the emulator does
not do on purpose: a gateway's HTML error page and TLS.
"""

from __future__ import annotations

import http.server
import itertools
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from emulator_clients import client_for, fast_config
from http_recorder import Recorder
from requests.auth import AuthBase

from mai_widgets._version import __version__
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator import DEFAULTS, DEMO_SWR_IMAGES, EmulatorProcess
from mai_widgets.errors import (
    AlreadyRegisteredError,
    ApiError,
    AuthenticationError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    ThrottledError,
    TransportError,
    ValidationError,
)
from mai_widgets.services.images import ImageClient, MalformedResponseError, WaitResult, poll_delay
from mai_widgets.wire.contract import ImageStatus, ListFilters, RegisterRequest, ServiceType

REGISTRY = DEFAULTS.registry
GOOD = DEMO_SWR_IMAGES[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FixedAuth(AuthBase):
    """An explicit auth object (for the local servers, which check nothing)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["X-Auth-Token"] = "fixed-test-token"
        return r


# -- the poll schedule (pure) -------------------------------------------------------------------


def test_poll_delay_starts_fast_and_backs_off_to_the_cap() -> None:
    delays = [poll_delay(n, 1.0, 1.5, 5.0) for n in range(1, 8)]
    assert delays[:4] == [1.0, 1.5, 2.25, 3.375]
    assert delays[4:] == [5.0, 5.0, 5.0]
    assert all(a <= b for a, b in itertools.pairwise(delays))


def test_poll_delay_honours_retry_after_and_the_deadline() -> None:
    assert poll_delay(1, 1.0, 1.5, 5.0, retry_after=7.0) == 7.0  # longer than the cap: honoured
    assert poll_delay(6, 1.0, 1.5, 5.0, retry_after=0.5) == 5.0  # shorter: the schedule wins
    assert poll_delay(6, 1.0, 1.5, 5.0, retry_after=7.0, remaining=2.0) == 2.0
    assert poll_delay(1, 1.0, 1.5, 5.0, remaining=-3.0) == 0.0
    assert poll_delay(10_000, 1.0, 1.5, 5.0) == 5.0  # no overflow on long waits
    assert poll_delay(0, 1.0, 1.0, 5.0) == 1.0


# -- configuration through the client ---------------------------------------------------------


def test_no_credentials_names_the_variables_before_any_request() -> None:
    client = ImageClient(
        fast_config({"MAI_WIDGETS_ENDPOINT": f"http://127.0.0.1:{free_port()}"}), Credentials()
    )
    assert client.missing_settings() == ["HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"]
    with pytest.raises(ValidationError) as bad:  # the form's own errors come first
        client.register(swr_path="nope")
    assert bad.value.fields == ("swr_path",)
    with pytest.raises(ConfigError) as info:
        client.register(swr_path=GOOD)
    assert info.value.missing == ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK")
    assert "HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK" in info.value.message
    with pytest.raises(ConfigError):
        client.get("abc")


def test_endpoint_description_and_repr(emulator: EmulatorProcess) -> None:
    client = client_for(emulator)
    assert client.endpoint_description == f"local ModelArts emulator at {emulator.url}"
    assert repr(client) == f"ImageClient(local ModelArts emulator at {emulator.url})"


# -- every call ---------------------------------------------------------------------------------


def test_register_get_wait_active(emulator: EmulatorProcess) -> None:
    rec = Recorder()
    client = client_for(emulator, session=rec.session())
    record = client.register(
        swr_path=GOOD,
        arch="x86_64",
        resource_category=["CPU", "GPU"],
        services=["NOTEBOOK"],
        service_type="DEV",
        description="a test image",
    )
    assert record.status in (ImageStatus.INIT, ImageStatus.CREATING)
    assert record.swr_path == GOOD
    assert record.already_registered is False
    assert [str(c) for c in record.resource_categories] == ["CPU", "GPU"]
    assert [str(s) for s in record.services] == ["NOTEBOOK"]
    assert client.get(record.id).id == record.id

    seen: list[ImageStatus | str] = []
    result = client.wait(record.id, timeout=30, on_update=lambda r: seen.append(r.status))
    assert isinstance(result, WaitResult)
    assert result.settled and result.succeeded and result.outcome == "settled"
    assert result.record.status == ImageStatus.ACTIVE
    assert result.record.size_bytes is not None and result.record.size_bytes > 0
    assert seen[-1] == ImageStatus.ACTIVE
    assert len(seen) == len(set(seen))  # called once per status, not once per poll
    assert result.polls >= len(seen)
    agents = {r.request.headers["User-Agent"] for r in rec.responses}
    assert agents == {f"mai-widgets/{__version__}"}


def test_register_accepts_a_request_object_and_field_overrides(emulator: EmulatorProcess) -> None:
    client = client_for(emulator, env={"MAI_WIDGETS_WORKSPACE_ID": "0123456789abcdef0123456789abcdef"})
    request = RegisterRequest.create(swr_path=DEMO_SWR_IMAGES[1], description="first")
    record = client.register(request, description="second")
    assert record.description == "second"
    assert record.workspace_id == "0123456789abcdef0123456789abcdef"  # the configured default workspace


def test_image_missing_from_swr_settles_as_create_failed(emulator: EmulatorProcess) -> None:
    client = client_for(emulator)
    record = client.register(swr_path=f"{REGISTRY}/mai-demo/not-pushed:1.0")
    result = client.wait(record.id, timeout=30)
    assert result.settled and not result.succeeded
    assert result.record.status == ImageStatus.CREATE_FAILED
    assert "not found" in (result.record.status_message or "")


def test_wait_timeout_and_stop(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(init_seconds=30, creating_seconds=30)
    client = client_for(emu)
    record = client.register(swr_path=GOOD)
    result = client.wait(record.id, timeout=0.3)
    assert result.outcome == "timeout" and not result.settled
    assert result.record.status == ImageStatus.INIT
    assert result.polls >= 2

    stop = threading.Event()
    results: list[WaitResult] = []
    worker = threading.Thread(target=lambda: results.append(client.wait(record.id, timeout=60, stop=stop)))
    worker.start()
    time.sleep(0.2)
    stop.set()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert results[0].outcome == "stopped"
    assert results[0].record.id == record.id


def test_wait_from_a_known_record_reads_first_after_the_first_pause(
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    emu = emulator_factory(init_seconds=1.0, creating_seconds=0.5)
    session = requests.Session()
    gets: list[float] = []
    session.hooks["response"].append(
        lambda r, *a, **k: gets.append(time.monotonic()) if r.request.method == "GET" else None
    )
    client = client_for(emu, session=session, poll_initial=0.6, poll_max=0.6)
    record = client.register(swr_path=GOOD)
    seen: list[ImageStatus | str] = []
    started = time.monotonic()
    early = client.wait(record.id, timeout=0.2, known=record, on_update=lambda r: seen.append(r.status))
    assert early.outcome == "timeout" and early.record is record and early.polls == 0
    assert gets == [] and seen == [], "the register answer is not asked for again at once"
    started = time.monotonic()
    result = client.wait(record.id, timeout=30, known=record, on_update=lambda r: seen.append(r.status))
    assert result.succeeded and result.polls == len(gets) >= 1
    assert gets[0] - started >= 0.55  # the first read came after the first pause
    assert seen[-1] == ImageStatus.ACTIVE and record.status not in seen  # only what changed
    with pytest.raises(ValidationError, match="known"):
        client.wait(str(uuid.uuid4()), known=record)


def test_list_filters_and_paging(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(seed_images=450)
    client = client_for(emu)
    everything = client.list()
    assert len(everything) == 450
    assert len({r.id for r in everything}) == 450
    registered = client.register(swr_path=DEMO_SWR_IMAGES[3], service_type="TRAIN")
    assert [r.id for r in client.list(namespace="mai-demo")] == [registered.id]
    assert [r.id for r in client.list(name="tensorflow", name_fuzzy_match=False)] == [registered.id]
    assert [r.id for r in client.list(ListFilters(service_type=ServiceType.TRAIN))] == [registered.id]
    assert len(client.list(name="bench-07")) == 5  # fuzzy by default, like the API
    ascending = client.list(namespace="mai-bench", sort_key="create_at", sort_dir="ASC")
    created = [r.create_at for r in ascending if r.create_at is not None]
    assert len(created) == len(ascending) == 450 and created == sorted(created)
    assert client.list(namespace="nobody-here") == []
    with pytest.raises(ValidationError) as info:
        client.list(sort_dir="SIDEWAYS")
    assert info.value.fields == ("sort_dir",)


def test_list_groups(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(seed_images=300)
    client = client_for(emu)
    groups = client.list_groups(namespace="mai-bench")
    assert len(groups) == 100  # bench-00 .. bench-99, three versions each
    assert {g.version_count for g in groups} == {3}
    with pytest.raises(ValidationError, match="sort_dir"):
        client.list_groups(sort_dir="ASC")


def test_delete_and_force(emulator: EmulatorProcess) -> None:
    client = client_for(emulator)
    first = client.register(swr_path=DEMO_SWR_IMAGES[0])
    deleted = client.delete(first.id)
    assert deleted.status == ImageStatus.DELETED
    assert client.get(first.id).status == ImageStatus.DELETED
    with pytest.raises(NotFoundError):
        client.delete(first.id)
    assert client.find_registered(DEMO_SWR_IMAGES[0]) is None
    second = client.register(swr_path=DEMO_SWR_IMAGES[0])  # free again once deleted
    assert second.id != first.id
    forced = client.delete(second.id, force=True)
    assert forced.status_message == "image deleted (force)"  # the flag reached the server
    with pytest.raises(ValidationError):
        client.delete(second.id, force="yes")  # type: ignore[arg-type]


def test_sync(emulator: EmulatorProcess) -> None:
    client = client_for(emulator)
    record = client.register(swr_path=GOOD)
    assert client.sync(record.id).id == record.id
    client.delete(record.id)
    with pytest.raises(NotFoundError):
        client.sync(record.id)


def test_project_id_found_through_iam(emulator: EmulatorProcess) -> None:
    env = {k: v for k, v in emulator.env().items() if k != "HUAWEICLOUD_SDK_PROJECT_ID"}
    client = ImageClient(fast_config(env), Credentials.from_env(env))
    assert client.config.project_id == ""
    assert client.project_id == emulator.project_id
    assert client.list() == []


def test_temporary_aksk_and_iam_password(emulator: EmulatorProcess) -> None:
    base = {k: v for k, v in emulator.env().items() if not k.startswith("HUAWEICLOUD_SDK_")}
    temp = {
        **base,
        "HUAWEICLOUD_SDK_AK": DEFAULTS.temp_ak,
        "HUAWEICLOUD_SDK_SK": DEFAULTS.temp_sk,
        "HUAWEICLOUD_SDK_SECURITY_TOKEN": DEFAULTS.security_token,
    }
    assert ImageClient(fast_config(temp), Credentials.from_env(temp)).list() == []
    no_token = {k: v for k, v in temp.items() if k != "HUAWEICLOUD_SDK_SECURITY_TOKEN"}
    no_token["HUAWEICLOUD_SDK_PROJECT_ID"] = emulator.project_id
    with pytest.raises(AuthenticationError):
        ImageClient(fast_config(no_token), Credentials.from_env(no_token)).list()
    password = {
        **base,
        "MAI_WIDGETS_IAM_USER": DEFAULTS.iam_user,
        "MAI_WIDGETS_IAM_DOMAIN": DEFAULTS.iam_domain,
        "MAI_WIDGETS_IAM_PASSWORD": DEFAULTS.iam_password,
    }
    client = ImageClient(fast_config(password), Credentials.from_env(password))
    assert client.register(swr_path=GOOD).swr_path == GOOD


# -- error paths ----------------------------------------------------------------------------------


def test_wrong_sk_is_401_with_a_hint_and_no_secret(emulator: EmulatorProcess) -> None:
    client = client_for(emulator, env={"HUAWEICLOUD_SDK_SK": "wrong-secret-value-123"})
    with pytest.raises(AuthenticationError) as info:
        client.get("0123456789")
    err = info.value
    assert err.status == 401
    assert err.error_code == "APIG.0301"
    assert err.request_id
    assert err.hint is not None and "HUAWEICLOUD_SDK_SK" in err.hint
    text = f"{err} {err.one_line()} {err!r}"
    assert "wrong-secret-value-123" not in text
    assert emulator.sk not in text


def test_forbidden_namespace_is_2885_permission_denied(emulator: EmulatorProcess) -> None:
    client = client_for(emulator)
    with pytest.raises(PermissionDeniedError) as info:
        client.register(swr_path=f"{REGISTRY}/{DEFAULTS.forbidden_namespace}/app:1.0")
    assert info.value.status == 400
    assert info.value.error_code == "ModelArts.2885"
    assert info.value.hint is not None and "SWR" in info.value.hint
    with emulator.store() as store:
        assert store.count() == 0


def test_unknown_id_is_404(emulator: EmulatorProcess) -> None:
    client = client_for(emulator)
    with pytest.raises(NotFoundError) as info:
        client.get("5e1b8a52-0000-4000-8000-000000000000")
    assert info.value.error_code == "ModelArts.6404"
    assert info.value.request_id
    assert "[request id" in info.value.one_line()


def test_server_side_validation_is_a_clean_400(emulator: EmulatorProcess) -> None:
    client = client_for(emulator)
    with pytest.raises(ApiError) as info:
        client.list(name="x" * 600)  # the client passes it on; the API caps names at 512
    assert type(info.value) is ApiError
    assert info.value.status == 400
    assert info.value.error_code == "ModelArts.0104"
    assert "512" in info.value.error_msg


def test_already_registered_returns_the_existing_record(emulator: EmulatorProcess) -> None:
    client = client_for(emulator)
    first = client.register(swr_path=GOOD)
    again = client.register(swr_path=GOOD, description="different text")
    assert again.already_registered is True
    assert again.id == first.id
    with emulator.store() as store:
        assert store.count() == 1
    assert AlreadyRegisteredError.code == "already-registered"


def test_429_retry_after_is_honoured_then_reported(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(fault_rate=1, faults="429", retry_after=1)
    rec = Recorder()
    client = client_for(emu, session=rec.session(), max_retries=1)
    started = time.monotonic()
    with pytest.raises(ThrottledError) as info:
        client.get("abc")
    assert time.monotonic() - started >= 1.0  # waited as asked (a lower bound only)
    assert info.value.status == 429
    assert info.value.retry_after == 1.0
    assert info.value.hint is not None and "wait" in info.value.hint
    assert rec.retries == [1]


def test_5xx_is_retried_for_get(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(fault_rate=1, faults="503")
    rec = Recorder()
    client = client_for(emu, session=rec.session(), max_retries=2)
    with pytest.raises(ServerError) as info:
        client.get("abc")
    assert info.value.status == 503
    assert rec.retries == [2]

    flaky = emulator_factory(fault_rate=0.3, faults="500,503,drop", fault_seed=7)
    rec = Recorder()
    client = client_for(flaky, session=rec.session(), max_retries=5)
    record = client.register(swr_path=GOOD)
    for _ in range(10):
        assert client.get(record.id).id == record.id
    assert sum(rec.retries) > 0  # some of those reads were retried, and all succeeded


def test_malformed_200_is_retried_then_a_clean_error(
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    emu = emulator_factory(fault_rate=1, faults="malformed")
    rec = Recorder()
    client = client_for(emu, session=rec.session(), max_retries=2)
    with pytest.raises(MalformedResponseError) as info:
        client.get("abc")
    assert isinstance(info.value, ServerError)
    assert "not valid JSON" in info.value.message
    assert len(rec.responses) == 3


def test_nothing_listening_is_a_short_transport_error() -> None:
    env = {
        "MAI_WIDGETS_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "HUAWEICLOUD_SDK_AK": "AK-nobody",
        "HUAWEICLOUD_SDK_SK": "SK-never-shown-5521",
        "HUAWEICLOUD_SDK_PROJECT_ID": "p1",
    }
    client = ImageClient(fast_config(env, max_retries=1), Credentials.from_env(env))
    with pytest.raises(TransportError) as info:
        client.get("abc")
    err = info.value
    assert "connection refused" in err.message
    assert err.hint and "MAI_WIDGETS_ENDPOINT" in err.hint
    assert err.__cause__ is None and err.__suppress_context__
    text = err.one_line()
    assert len(text) < 250
    for noise in ("urllib3", "HTTPConnectionPool", "Max retries", "SK-never-shown-5521"):
        assert noise not in text


def test_read_timeout_is_a_transport_error(emulator_factory: Callable[..., EmulatorProcess]) -> None:
    emu = emulator_factory(fault_rate=1, faults="slow", slow_seconds=3)
    client = client_for(emu, read_timeout=0.3, max_retries=0)
    with pytest.raises(TransportError, match=r"did not answer within 0\.3 s"):
        client.get("abc")


# -- a gateway's HTML page, TLS -------------------------------------------------------------------


class _Gateway(http.server.BaseHTTPRequestHandler):
    status = 502
    body = b"<html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 5000 + b"</body></html>"
    content_type = "text/html"

    def _answer(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.send_header("X-Request-Id", "gw-req-1")
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def local_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(
        handler: type[http.server.BaseHTTPRequestHandler], context: ssl.SSLContext | None = None
    ) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if context is not None:
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        scheme = "https" if context is not None else "http"
        return f"{scheme}://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _explicit_client(url: str, **overrides: Any) -> ImageClient:
    cfg = fast_config({"MAI_WIDGETS_ENDPOINT": url, "HUAWEICLOUD_SDK_PROJECT_ID": "p1"}, **overrides)
    return ImageClient(cfg, auth=FixedAuth())


def test_gateway_html_error_page_is_a_clean_api_error(local_server: Callable[..., str]) -> None:
    client = _explicit_client(local_server(_Gateway), max_retries=1)
    with pytest.raises(ServerError) as info:
        client.get("abc")
    err = info.value
    assert err.status == 502 and err.error_code is None
    assert err.request_id == "gw-req-1"
    assert "text/html" in err.error_msg
    assert "<html" not in err.message and len(err.message) < 200
    assert err.hint is not None and "gateway" in err.hint


def test_explicit_auth_is_used(local_server: Callable[..., str]) -> None:
    seen: list[str] = []

    class Echo(_Gateway):
        status = 200
        content_type = "application/json"
        body = b'{"id": "abc", "status": "ACTIVE"}'

        def _answer(self) -> None:
            seen.append(self.headers.get("X-Auth-Token", ""))
            super()._answer()

        do_GET = _answer

    client = _explicit_client(local_server(Echo))
    assert client.missing_settings() == []
    assert client.get("abc").status == ImageStatus.ACTIVE
    assert seen == ["fixed-test-token"]


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls_is_verified_by_default(local_server: Callable[..., str], self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    class Ok(_Gateway):
        status = 200
        content_type = "application/json"
        body = b'{"id": "abc", "status": "INIT"}'

    url = local_server(Ok, context)
    client = _explicit_client(url, max_retries=0)
    assert client._http.session.verify is True and client._http._once.verify is True
    with pytest.raises(TransportError, match="TLS verification failed") as info:
        client.get("abc")
    assert info.value.hint is not None and "MAI_WIDGETS_CA_BUNDLE" in info.value.hint
    trusted = _explicit_client(url, ca_bundle=str(cert))
    assert trusted.get("abc").status == ImageStatus.INIT
    unverified = _explicit_client(url, verify_tls=False)
    with pytest.warns(Warning, match="Unverified HTTPS"):
        assert unverified.get("abc").id == "abc"


def test_core_imports_stay_light() -> None:
    code = (
        "import sys\n"
        "import mai_widgets.services.images\n"
        "assert 'requests' not in sys.modules, 'requests loads when a client is made'\n"
        "from mai_widgets.services.images import ImageClient\n"
        "from mai_widgets.auth.config import load_config\n"
        "from mai_widgets.auth.credentials import Credentials\n"
        "ImageClient(load_config(env={}, config_dirs=[]), Credentials(ak='a', sk='s'))\n"
        "bad = [m for m in ('ipywidgets', 'IPython') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60)
