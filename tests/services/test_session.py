"""The shared session (one sign-in, one SWR login per kernel and configuration), the one page
rule, SWR's paging fidelity, endless paging against small hostile servers, and lazy HTTP.

Sessions talk to the emulator over real HTTP; the hostile servers are real sockets on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from emulator_clients import Calls, http_get, http_post
from local_server import serving

from mai_widgets.auth.config import load_config
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator import DEFAULTS, EmulatorProcess
from mai_widgets.errors import MaiWidgetsError
from mai_widgets.services.images import ImageClient
from mai_widgets.services.paging import Page
from mai_widgets.services.preflight import check
from mai_widgets.services.session import Session
from mai_widgets.services.swr import PAGE_SIZE, SwrClient, parse_content_range, parse_expiry
from mai_widgets.transport.signer import AKSKAuth


def session_for(emu: EmulatorProcess, calls: Calls | None = None) -> Session:
    env = emu.env()
    return Session(
        load_config(env=env, config_dirs=[]),
        Credentials.from_env(env),
        session=calls.session if calls is not None else None,
    )


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(tmp_path_factory.mktemp("session-emulator"), args=["--swr-seed-repos", "150"]) as p:
        yield p


# -- one session -------------------------------------------------------------------------------


def test_for_config_gives_one_session_per_settings_and_credentials(emu: EmulatorProcess) -> None:
    env = emu.env()
    first = Session.for_config(load_config(env=env, config_dirs=[]), Credentials.from_env(env))
    again = Session.for_config(load_config(env=env, config_dirs=[]), Credentials.from_env(env))
    assert (
        again is first
        and again.client(ImageClient) is first.client(ImageClient)
        and again.client(SwrClient) is first.client(SwrClient)
    )
    other_key = Session.for_config(
        load_config(env=env, config_dirs=[]), Credentials.from_env({**env, "HUAWEICLOUD_SDK_SK": "x" * 40})
    )
    other_region = Session.for_config(
        load_config(env={**env, "MAI_WIDGETS_READ_TIMEOUT": "7"}, config_dirs=[]), Credentials.from_env(env)
    )
    assert other_key is not first and other_region is not first
    first.close()
    assert Session.for_config(load_config(env=env, config_dirs=[]), Credentials.from_env(env)) is not first


def test_images_and_swr_share_one_sign_in_and_project(emu: EmulatorProcess) -> None:
    calls = Calls()
    session = session_for(emu, calls)
    assert session.client(SwrClient).shared is session.client(ImageClient).shared is session
    assert session.client(ImageClient).list(namespace="mai-demo") == []
    assert {n.name for n in session.client(SwrClient).namespaces()} >= {"mai-demo"}
    assert SwrClient(client=session.client(ImageClient)).shared is session
    assert session.client(ImageClient).project_id == emu.project_id
    with pytest.raises(TypeError):
        SwrClient(load_config(env=emu.env(), config_dirs=[]), client=session.client(ImageClient))


def test_one_swr_login_serves_checks_listings_and_inspections(emu: EmulatorProcess) -> None:
    calls = Calls()
    session = session_for(emu, calls)
    checks = check("mai-demo/pytorch-cpu:2.3.0", client=session.client(ImageClient))
    assert checks and all(c.outcome != "fail" for c in checks)
    session.client(SwrClient).tags("mai-demo", "tensorflow")
    session.client(SwrClient).inspect("mai-demo/tensorflow:2.15.0")
    session.client(SwrClient).inspect("mai-demo/sklearn:1.5.0")
    assert calls.count("/utils/secret") == 1
    assert calls.count("/registry/auth/") == 3  # one pull token per repository


def test_the_login_is_renewed_before_swr_says_it_expires(emulator_factory: Callable[..., Any]) -> None:
    emu = emulator_factory(swr_login_seconds=1.5)
    calls = Calls()
    swr = session_for(emu, calls).client(SwrClient)
    swr.inspect("mai-demo/sklearn:1.5.0")
    time.sleep(1.6)
    swr.inspect("mai-demo/tensorflow:2.15.0")  # a new scope: a new token, from a new login
    assert calls.count("/utils/secret") == 2
    # renewed before use: the realm never had to refuse an expired login first
    assert calls.count("/registry/auth/") == 2


def test_the_temporary_login_says_its_command_and_expiry(emu: EmulatorProcess) -> None:
    auth = AKSKAuth(emu.ak, emu.sk, project_id=emu.project_id)
    answer = http_post(f"{emu.url}/v2/manage/utils/secret", params={"projectname": emu.region}, auth=auth)
    assert answer.status_code == 200
    assert answer.headers["X-Swr-Dockerlogin"].startswith("docker login -u ")
    assert answer.headers["X-Swr-Dockerlogin"].endswith(f" {DEFAULTS.registry}")
    expires = parse_expiry(answer.headers["X-Swr-Expireat"])
    assert expires is not None and abs(expires - (time.time() + 6 * 3600)) < 60
    assert parse_expiry("2026-07-23T08:46:07.811000Z") == pytest.approx(1784796367.811)
    assert parse_expiry("2026-07-23T08:46:07") is None and parse_expiry("soon") is None


# -- pages -------------------------------------------------------------------------------------


def test_one_page_rule() -> None:
    assert Page((1, 2), offset=0, limit=2, total=5).has_more
    assert not Page((1, 2), offset=3, limit=2, total=5).has_more
    assert Page((1, 2), offset=0, limit=2).has_more  # no total: a full page may have more
    assert not Page((1,), offset=0, limit=2).has_more


def test_manage_lists_page_as_swr_does(emu: EmulatorProcess) -> None:
    auth = AKSKAuth(emu.ak, emu.sk, project_id=emu.project_id)
    listing = http_get(f"{emu.url}/v2/manage/repos", params={"namespace": "mai-bench"}, auth=auth)
    rows = listing.json()
    assert len(rows) == PAGE_SIZE == 100  # SWR's default page when no limit is sent
    assert listing.headers["Content-Range"] == "0-100/150"
    assert {row["total_range"] for row in rows} == {150}
    tail = http_get(
        f"{emu.url}/v2/manage/repos", params={"namespace": "mai-bench", "offset": "140"}, auth=auth
    )
    assert tail.headers["Content-Range"] == "140-10/150"
    assert parse_content_range("140-10/150") == 150 and parse_content_range("0-0/*") == -1
    assert parse_content_range("") == -1


def test_a_repository_filter_sends_a_slash_as_a_dollar(emu: EmulatorProcess) -> None:
    calls = Calls()
    found = session_for(emu, calls).client(SwrClient).repositories("mai-demo", filter="team/jup")
    assert [r.name for r in found] == ["team/jupyter"]
    assert any("name=team%24jup" in u for u in calls.urls)


# -- endless paging ------------------------------------------------------------------------------


class _Hostile(http.server.ThreadingHTTPServer):
    """An SWR manage API whose tags list ignores ``offset`` and sends no total."""

    def __init__(self, *, fresh_rows: bool) -> None:
        super().__init__(("127.0.0.1", 0), _HostileHandler)
        self.fresh_rows = fresh_rows  # True: new tags on every page, forever
        self.pages = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _HostileHandler(http.server.BaseHTTPRequestHandler):
    server: _Hostile

    def do_GET(self) -> None:
        self.server.pages += 1
        limit = int(parse_qs(urlsplit(self.path).query).get("limit", ["100"])[0])
        start = self.server.pages * limit if self.server.fresh_rows else 0
        rows = [{"Tag": f"t{i}", "size": 1} for i in range(start, start + limit)]
        data = json.dumps(rows).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _hostile_swr(url: str) -> SwrClient:
    env = {
        "MAI_WIDGETS_SWR_ENDPOINT": url,
        "MAI_WIDGETS_TOKEN": "a-fixed-test-token",
        "HUAWEICLOUD_SDK_PROJECT_ID": "p1",
    }
    return SwrClient(load_config(env=env, config_dirs=[]), Credentials.from_env(env))


def test_a_server_ignoring_offset_is_read_once() -> None:
    with serving(_Hostile(fresh_rows=False)) as server:
        tags = _hostile_swr(server.url).tags("mai-demo", "app")
    assert len(tags) == PAGE_SIZE and server.pages == 2  # the second page added nothing: stop


def test_a_server_paging_forever_is_cut_by_the_deadline() -> None:
    with serving(_Hostile(fresh_rows=True)) as server:
        started = time.monotonic()
        with pytest.raises(MaiWidgetsError):
            _hostile_swr(server.url).tags("mai-demo", "app", timeout=1.0)
        assert time.monotonic() - started < 5
    assert server.pages > 2


# -- lazy HTTP -------------------------------------------------------------------------------------


def test_building_clients_loads_no_http_library() -> None:
    code = (
        "import sys\n"
        "from mai_widgets.auth.config import load_config\n"
        "from mai_widgets.auth.credentials import Credentials\n"
        "from mai_widgets.services.images import ImageClient\n"
        "from mai_widgets.services.session import Session\n"
        "from mai_widgets.services.swr import SwrClient\n"
        "config = load_config(env={}, config_dirs=[])\n"
        "session = Session.for_config(config, Credentials(ak='a', sk='s'))\n"
        "session.client(ImageClient), session.client(SwrClient), ImageClient(config, Credentials(ak='a', sk='s')), SwrClient(config)\n"
        "assert session.missing_settings() == [], session.missing_settings()\n"
        "loaded = [m for m in ('requests', 'urllib3') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
