"""The client keeps its promises on a hostile network (small fake servers on loopback).

* ``wait(timeout=T)`` returns within T + 1 s whatever the server does: hang, a 429 storm with
  ``Retry-After: 3600``, resets;
* no call sleeps through a ``Retry-After`` longer than ``max_retry_after``;
* closing stops the HTTP within a second and nothing is sent after close returns;
* plain ``http://`` to another host is refused before anything is sent;
* hostile answers (deep JSON, non-JSON, wrong shapes, oversized bodies) become typed errors.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from requests.auth import AuthBase

from mai_widgets.auth.config import load_config
from mai_widgets.auth.credentials import Credentials
from mai_widgets.errors import (
    CancelledError,
    ConfigError,
    MaiWidgetsError,
    MalformedResponseError,
    ServerError,
    ThrottledError,
    TransportError,
)
from mai_widgets.kernel.controller import RegistrationController
from mai_widgets.services.images import ImageClient
from mai_widgets.transport.deadline import Cancel, call_scope

IMAGE_ID = "img-0001"
RECORD = {"id": IMAGE_ID, "status": "CREATING", "name": "n", "tag": "t"}
GOOD_PATH = "swr.cn-north-4.myhuaweicloud.com/org/pytorch:2.3.0"


class Server:
    """A loopback HTTP server whose behaviour a test sets; it counts what reaches it."""

    def __init__(self, answer: Callable[[http.server.BaseHTTPRequestHandler], None]) -> None:
        self.requests: list[tuple[float, str, str]] = []
        self.answer = answer
        self.release = threading.Event()  # hanging handlers wait for this
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                owner.requests.append((time.monotonic(), self.command, self.path))
                owner.answer(self)

            do_GET = do_POST = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Callable[[Callable[[http.server.BaseHTTPRequestHandler], None]], Server]]:
    made: list[Server] = []

    def start(answer: Callable[[http.server.BaseHTTPRequestHandler], None]) -> Server:
        s = Server(answer)
        made.append(s)
        return s

    yield start
    for s in made:
        s.close()


def send(handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", headers.pop("content_type", "application/json"))
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("X-Request-Id", "hostile-1")
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


def storm(handler: http.server.BaseHTTPRequestHandler) -> None:
    body = json.dumps({"error_code": "APIG.0308", "error_msg": "throttled"}).encode()
    send(handler, 429, body, Retry_After="3600")


def hang(server: Server) -> Callable[[http.server.BaseHTTPRequestHandler], None]:
    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        server.release.wait(120)

    return answer


def reset(handler: http.server.BaseHTTPRequestHandler) -> None:
    # RST instead of FIN: linger 0, then close.
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    handler.connection.close()
    handler.close_connection = True


class FixedAuth(AuthBase):
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["X-Auth-Token"] = "fixed-hostile-test-token"
        return r


def client(url: str, **overrides: Any) -> ImageClient:
    settings: dict[str, Any] = {"poll_initial": 0.05, "poll_factor": 1.5, "poll_max": 0.2, "max_retries": 3}
    settings.update(overrides)
    cfg = load_config(
        env={"MAI_WIDGETS_ENDPOINT": url, "HUAWEICLOUD_SDK_PROJECT_ID": "p1"}, config_dirs=[], **settings
    )
    return ImageClient(cfg, auth=FixedAuth())


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.monotonic()
    try:
        result: Any = call()
    except MaiWidgetsError as exc:
        result = exc
    return time.monotonic() - started, result


# -- wait(timeout=T) returns within T + 1 s ---------------------------------------------------


def test_wait_returns_in_time_against_a_hung_server(server: Callable[..., Server]) -> None:
    s = server(lambda h: None)
    s.answer = hang(s)
    c = client(s.url, read_timeout=30.0)  # far longer than the wait: the wait's deadline wins
    elapsed, result = timed(lambda: c.wait(IMAGE_ID, timeout=2))
    assert elapsed < 3.0, elapsed
    assert isinstance(result, TransportError)  # no record was ever read: the last transient error
    assert "did not answer within" in result.message and "30 s" not in result.message


def test_wait_keeps_the_last_record_and_times_out_when_the_server_hangs_later(
    server: Callable[..., Server],
) -> None:
    calls = {"n": 0}

    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            send(handler, 200, json.dumps(RECORD).encode())
        else:
            s.release.wait(120)

    s = server(answer)
    c = client(s.url, read_timeout=30.0)
    elapsed, result = timed(lambda: c.wait(IMAGE_ID, timeout=2))
    assert elapsed < 3.0, elapsed
    assert result.outcome == "timeout" and result.record.id == IMAGE_ID


def test_a_429_storm_with_retry_after_3600_fails_fast_saying_when(server: Callable[..., Server]) -> None:
    s = server(storm)
    c = client(s.url)
    elapsed, result = timed(lambda: c.wait(IMAGE_ID, timeout=3))
    assert elapsed < 1.0, elapsed  # the pause asked for is longer than max_retry_after: not slept
    assert isinstance(result, ThrottledError)
    assert result.retry_after == 3600.0
    assert result.hint is not None and "60 min" in result.hint
    assert len(s.requests) == 1  # urllib3 did not retry into the storm either


def test_a_429_storm_within_the_limit_is_ridden_out_until_the_deadline(server: Callable[..., Server]) -> None:
    def short_storm(handler: http.server.BaseHTTPRequestHandler) -> None:
        send(handler, 429, b'{"error_code":"APIG.0308","error_msg":"slow down"}', Retry_After="1")

    s = server(short_storm)
    c = client(s.url, max_retry_after=30.0)
    elapsed, result = timed(lambda: c.wait(IMAGE_ID, timeout=3))
    assert 2.5 <= elapsed < 4.0, elapsed
    assert isinstance(result, ThrottledError)
    # one request a second or so, never a tight loop
    assert 2 <= len(s.requests) <= 6, len(s.requests)


def test_wait_returns_in_time_against_resets(server: Callable[..., Server]) -> None:
    s = server(reset)
    c = client(s.url)
    elapsed, result = timed(lambda: c.wait(IMAGE_ID, timeout=2))
    assert elapsed < 3.0, elapsed
    assert isinstance(result, TransportError)


def test_a_get_with_a_timeout_bounds_its_retries(server: Callable[..., Server]) -> None:
    def unavailable(handler: http.server.BaseHTTPRequestHandler) -> None:
        send(handler, 503, b'{"error_code":"ModelArts.0001","error_msg":"down"}', Retry_After="2")

    s = server(unavailable)
    c = client(s.url, max_retries=10)  # ten retries of 2 s each would be 20 s
    elapsed, result = timed(lambda: c.get(IMAGE_ID, timeout=3))
    assert elapsed < 4.0, elapsed
    assert isinstance(result, ServerError)


def test_no_call_sleeps_through_a_long_retry_after(server: Callable[..., Server]) -> None:
    def long_pause(handler: http.server.BaseHTTPRequestHandler) -> None:
        send(handler, 429, b'{"error_code":"APIG.0308","error_msg":"throttled"}', Retry_After="45")

    s = server(long_pause)
    c = client(s.url)  # max_retry_after defaults to 30 s
    elapsed, result = timed(lambda: c.get(IMAGE_ID))
    assert elapsed < 1.0 and isinstance(result, ThrottledError) and result.retry_after == 45.0
    assert len(s.requests) == 1
    elapsed, result = timed(lambda: c.register(swr_path=GOOD_PATH))
    assert elapsed < 1.0 and isinstance(result, ThrottledError)


# -- closing stops the HTTP ---------------------------------------------------------------------


def test_cancel_cuts_a_request_in_flight_and_nothing_is_sent_after(server: Callable[..., Server]) -> None:
    s = server(lambda h: None)
    s.answer = hang(s)
    c = client(s.url, read_timeout=60.0)
    token = Cancel()
    outcome: dict[str, Any] = {}

    def call() -> None:
        with call_scope(cancel=token):
            outcome["elapsed"], outcome["result"] = timed(lambda: c.get(IMAGE_ID))

    worker = threading.Thread(target=call)
    worker.start()
    while not s.requests:
        time.sleep(0.01)
    cancelled_at = time.monotonic()
    token.cancel()
    worker.join(2)
    assert not worker.is_alive()
    assert time.monotonic() - cancelled_at < 1.0
    assert isinstance(outcome["result"], CancelledError)
    sent = len(s.requests)
    with call_scope(cancel=token):
        _, again = timed(lambda: c.get(IMAGE_ID))
    assert isinstance(again, CancelledError) and len(s.requests) == sent


def test_closing_the_client_cuts_its_calls(server: Callable[..., Server]) -> None:
    s = server(lambda h: None)
    s.answer = hang(s)
    c = client(s.url, read_timeout=60.0)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(r=timed(lambda: c.wait(IMAGE_ID, timeout=60))))
    worker.start()
    while not s.requests:
        time.sleep(0.01)
    started = time.monotonic()
    c.close()
    worker.join(2)
    assert not worker.is_alive() and time.monotonic() - started < 1.0
    sent = len(s.requests)
    time.sleep(0.3)
    assert len(s.requests) == sent


def test_controller_stop_and_close_end_a_429_storm_within_a_second(server: Callable[..., Server]) -> None:
    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        if handler.command == "POST":
            send(handler, 200, json.dumps({**RECORD, "status": "INIT"}).encode())
        else:
            send(handler, 429, b'{"error_code":"APIG.0308","error_msg":"throttled"}', Retry_After="10")

    s = server(answer)
    c = client(s.url, max_retry_after=30.0, read_timeout=60.0)
    controller = RegistrationController(c, swr_path=GOOD_PATH)
    assert controller.submit()
    deadline = time.monotonic() + 5
    while len(s.requests) < 2 and time.monotonic() < deadline:  # the POST, then the first poll
        time.sleep(0.02)
    assert len(s.requests) >= 2
    started = time.monotonic()
    controller.close()
    assert time.monotonic() - started < 1.0
    worker = controller.worker
    assert worker is not None and not worker.is_alive()
    sent = len(s.requests)
    time.sleep(0.5)
    assert len(s.requests) == sent  # nothing after close returned


def test_controller_stop_cuts_a_hung_poll(server: Callable[..., Server]) -> None:
    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        if handler.command == "POST":
            send(handler, 200, json.dumps({**RECORD, "status": "INIT"}).encode())
        else:
            s.release.wait(120)

    s = server(answer)
    controller = RegistrationController(client(s.url, read_timeout=60.0), swr_path=GOOD_PATH)
    assert controller.submit()
    while len(s.requests) < 2:
        time.sleep(0.02)
    started = time.monotonic()
    controller.stop()
    assert controller.wait_settled(1.0)
    assert time.monotonic() - started < 1.0
    assert controller.outcome == "stopped" and controller.record is not None
    controller.close()


# -- no secret in clear ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("MAI_WIDGETS_ENDPOINT", "http://modelarts.example.test"),
        ("MAI_WIDGETS_IAM_ENDPOINT", "http://iam.example.test"),
    ],
)
def test_plain_http_to_another_host_is_refused_before_anything_is_sent(variable: str, url: str) -> None:
    sent: list[str] = []

    def record(r: requests.Response, *args: Any, **kwargs: Any) -> None:
        sent.append(r.url)

    session = requests.Session()
    session.hooks["response"].append(record)
    env = {
        variable: url,
        "HUAWEICLOUD_SDK_AK": "AKHOSTILE0000000001",
        "HUAWEICLOUD_SDK_SK": "sk-hostile-secret",
    }
    if variable == "MAI_WIDGETS_ENDPOINT":
        env["HUAWEICLOUD_SDK_PROJECT_ID"] = "p1"  # no IAM call first: the ModelArts call is refused
    else:
        env["MAI_WIDGETS_ENDPOINT"] = "https://modelarts.example.test"  # the IAM discovery is refused
    c = ImageClient(load_config(env=env, config_dirs=[]), Credentials.from_env(env), session=session)
    with pytest.raises(ConfigError) as info:
        c.get(IMAGE_ID)
    assert variable in info.value.message and "in clear" in info.value.message
    assert "MAI_WIDGETS_ALLOW_HTTP" in (info.value.hint or "")
    assert sent == []
    assert "sk-hostile-secret" not in repr(info.value) and "sk-hostile-secret" not in str(info.value)


def test_plain_http_is_allowed_on_loopback_and_by_the_unsafe_opt_in(server: Callable[..., Server]) -> None:
    s = server(lambda h: send(h, 200, json.dumps(RECORD).encode()))
    assert client(s.url).get(IMAGE_ID).id == IMAGE_ID  # 127.0.0.1: the emulator and tests
    other = s.url.replace("127.0.0.1", "localhost")
    assert client(other).get(IMAGE_ID).id == IMAGE_ID
    env = {"MAI_WIDGETS_ALLOW_HTTP": "true"}
    assert load_config(env=env, config_dirs=[]).allow_http is True


# -- hostile answers become typed errors --------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000 + b"]" * 200_000,  # 400 KB of nesting: RecursionError in a naive parser
        b'{"a":' * 100 + b"1" + b"}" * 100,  # over the depth limit, within Python's
        b"<html>not json</html>",
        b'{"id": 5}',
        b'["not", "a", "record"]',
        b"",
    ],
)
def test_broken_answers_are_malformed_errors_not_crashes(server: Callable[..., Server], body: bytes) -> None:
    s = server(lambda h: send(h, 200, body))
    c = client(s.url, max_retries=1)
    with pytest.raises(MalformedResponseError) as info:
        c.get(IMAGE_ID)
    assert info.value.request_id == "hostile-1"
    # wait() rides them out as transient until its deadline
    elapsed, result = timed(lambda: c.wait(IMAGE_ID, timeout=1))
    assert elapsed < 2.0 and isinstance(result, MalformedResponseError)


def test_deep_json_in_an_error_answer_is_a_clean_error(server: Callable[..., Server]) -> None:
    s = server(lambda h: send(h, 400, b"[" * 100_000 + b"]" * 100_000))
    with pytest.raises(MaiWidgetsError) as info:
        client(s.url).get(IMAGE_ID)
    assert info.value.message.startswith("HTTP 400")


def test_oversized_answers_are_refused(server: Callable[..., Server]) -> None:
    from mai_widgets.transport.http import MAX_ANSWER_BYTES

    big = b'{"id": "img-0001", "description": "' + b"x" * (MAX_ANSWER_BYTES + 10) + b'"}'
    s = server(lambda h: send(h, 200, big))
    with pytest.raises(MalformedResponseError) as info:
        client(s.url, max_retries=0).get(IMAGE_ID)
    assert "larger than" in info.value.message


def test_register_keeps_may_have_taken_effect_handling_for_deep_json(server: Callable[..., Server]) -> None:
    posts = {"n": 0}

    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        if handler.command == "POST":
            posts["n"] += 1
            send(handler, 200, b"[" * 50_000 + b"]" * 50_000)
        else:  # the lookup after the ambiguous answer finds the image this call registered
            page = {
                "current": 1,
                "data": [{**RECORD, "swr_path": GOOD_PATH}],
                "pages": 1,
                "size": 1,
                "total": 1,
            }
            send(handler, 200, json.dumps(page).encode())

    s = server(answer)
    record = client(s.url).register(swr_path=GOOD_PATH)
    assert record.id == IMAGE_ID and not record.already_registered
    assert posts["n"] == 1  # found by the lookup: not registered a second time
    lookup = [path for _, method, path in s.requests if method == "GET"]
    assert lookup and all("type=DEDICATED" in path for path in lookup)


@pytest.mark.parametrize("widget", ["status_view", "panel"])
def test_closing_a_view_or_panel_during_a_429_storm_stops_within_a_second(
    server: Callable[..., Server], widget: str
) -> None:
    from mai_widgets.widgets.panel import RegisterPanel
    from mai_widgets.widgets.status import StatusView

    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        if handler.command == "POST":
            send(handler, 200, json.dumps({**RECORD, "status": "INIT"}).encode())
        elif len(s.requests) <= 2:
            send(handler, 200, json.dumps(RECORD).encode())
        else:
            send(handler, 429, b'{"error_code":"APIG.0308","error_msg":"throttled"}', Retry_After="20")

    s = server(answer)
    c = client(s.url, max_retry_after=30.0)
    if widget == "status_view":
        view: Any = StatusView.for_image(IMAGE_ID, client=c)
        controller = view.controller
    else:
        view = RegisterPanel(client=c, swr_path=GOOD_PATH, preflight=False)  # this server speaks no SWR
        controller = view.controller
        view.register_button.click()
    deadline = time.monotonic() + 10
    while len(s.requests) < 3 and time.monotonic() < deadline:  # into the storm
        time.sleep(0.02)
    assert len(s.requests) >= 3
    time.sleep(0.3)  # the worker is now pausing for the Retry-After (20 s)
    started = time.monotonic()
    view.close()
    assert time.monotonic() - started < 1.0
    worker = controller.worker
    assert worker is not None and not worker.is_alive()
    sent = len(s.requests)
    time.sleep(0.5)
    assert len(s.requests) == sent
