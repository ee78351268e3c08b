"""Credential sources (explicit, environment, credentials file, metadata service), their checks
and the redaction of run-time secrets. The emulator end-to-end tests are in test_metadata.py.

HOME is an empty directory and the metadata service a closed port for every test (conftest).
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from local_server import serving

from mai_widgets.auth.config import MaiConfig, load_config
from mai_widgets.auth.credentials import (
    CREDENTIALS_FILE_ENV,
    METADATA_SOURCE,
    CredentialChain,
    Credentials,
    CredentialsFileWarning,
    MetadataAuth,
    MetadataClient,
    credentials_problem,
    find_local_credentials,
    read_credentials_file,
)
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.errors import ApiError, ConfigError
from mai_widgets.services.images import ImageClient

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
IMAGE = "8c5a2e0f-6f5e-4d1a-9c55-2f3d9d1b7a10"


def config(**env: str) -> MaiConfig:
    return load_config(env=env, config_dirs=[])


def missing(cfg: MaiConfig, credentials: Credentials | None = None) -> list[str]:
    """What :func:`credentials_problem` says to set (empty: nothing)."""
    problem = credentials_problem(cfg, credentials)
    return [] if problem is None else list(problem.missing)


def chain_of_errors(exc: BaseException) -> str:
    """str() and repr() of an error and everything it was raised from or during."""
    texts: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        texts += [str(current), repr(current), str(getattr(current, "hint", ""))]
        current = current.__cause__ or current.__context__
    return "\n".join(texts)


def write_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.fixture
def home() -> Path:
    return Path(os.environ["HOME"])


# -- the credentials file ---------------------------------------------------------------------


def test_default_file_missing_is_skipped_silently() -> None:
    assert read_credentials_file() is None
    assert find_local_credentials(config()) is None
    assert missing(config()) == ["HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"]


def test_default_file_is_read_with_project_and_iam_endpoint(home: Path) -> None:
    write_file(
        home / ".huaweicloud" / "credentials",
        "[basic]\nak = FILEAK0000000001\nsk = file-secret-key\nproject_id = p1\n"
        "iam_endpoint = https://iam.example.test/\n",
    )
    found = find_local_credentials(config())
    assert found is not None
    assert found.source == "from ~/.huaweicloud/credentials"
    assert (found.credentials.ak, found.credentials.sk) == ("FILEAK0000000001", "file-secret-key")
    assert (found.project_id, found.iam_endpoint) == ("p1", "https://iam.example.test")
    assert missing(config()) == []
    assert "file-secret-key" not in repr(found)


def test_a_file_others_can_read_is_warned_about_naming_it(home: Path) -> None:
    path = write_file(home / ".huaweicloud" / "credentials", "[basic]\nak = A1234\nsk = S1234\n", 0o644)
    with pytest.warns(CredentialsFileWarning, match=r"~/\.huaweicloud/credentials.*chmod 600") as warned:
        read_credentials_file()
    assert all("S1234" not in str(w.message) for w in warned)
    path.chmod(0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_credentials_file() is not None


@pytest.mark.parametrize(
    ("text", "named", "in_message"),
    [
        ("ak = A\n", "credentials", "not a valid INI file (line 1)"),
        ("[basic]\nak = AKONLY1234\n", "sk in", "has ak but no sk"),
        ("[basic]\nsk = SKONLY1234\n", "ak in", "has sk but no ak"),
        ("[global]\nak = A1234\nsk = S1234\n", "[basic] in", "has no [basic] section"),
        ("[basic]\nproject_id = p1\n", "ak in", "has no ak and sk"),
        ("[basic]\nak = A1234\nsk = S1234\nproject_id = ../x\n", "project_id in", "project_id"),
        ("[basic]\nak = A1234\nsk = S1234\niam_endpoint = ftp://x\n", "iam_endpoint in", "iam_endpoint"),
        ("[basic]\nak = A1234\nak = again-SECRET\n", "credentials", "not a valid INI file (line 3)"),
    ],
)
def test_a_malformed_file_is_one_error_naming_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, named: str, in_message: str
) -> None:
    path = write_file(tmp_path / "creds.ini", text)
    monkeypatch.setenv(CREDENTIALS_FILE_ENV, str(path))
    with pytest.raises(ConfigError) as info:
        read_credentials_file()
    assert str(path) in info.value.message
    assert in_message in info.value.message
    assert any(named in m and str(path) in m for m in info.value.missing) or named == "credentials"
    assert "SECRET" not in chain_of_errors(info.value)
    # the panel's list and the magic's error say the same, without raising
    assert credentials_problem(config()) is not None
    assert str(path) in CredentialChain(config()).description()
    assert CredentialChain(config()).missing_settings() == list(info.value.missing)


def test_a_named_file_that_is_missing_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CREDENTIALS_FILE_ENV, str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="does not exist") as info:
        read_credentials_file()
    assert CREDENTIALS_FILE_ENV in info.value.message


def test_environment_wins_over_the_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_file(home / ".huaweicloud" / "credentials", "[basic]\nak = FILEAK1234\nsk = FILESK1234\n")
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", "ENVAK1234")
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "ENVSK1234")
    found = find_local_credentials(config(), Credentials.from_env())
    assert found is not None
    assert found.source == "from the environment (HUAWEICLOUD_SDK_AK)"
    assert found.credentials.ak == "ENVAK1234"
    # explicit credentials win over both
    explicit = find_local_credentials(config(), Credentials(ak="ARGAK1234", sk="ARGSK1234"))
    assert explicit is not None and explicit.credentials.ak == "ARGAK1234"
    assert explicit.source == "given explicitly (Credentials)"


def test_an_incomplete_environment_is_reported_not_skipped(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_file(home / ".huaweicloud" / "credentials", "[basic]\nak = FILEAK1234\nsk = FILESK1234\n")
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", "ENVAK1234")
    assert missing(config(), Credentials.from_env()) == ["HUAWEICLOUD_SDK_SK"]


def test_the_no_credentials_error_mentions_the_file() -> None:
    problem = credentials_problem(config())
    assert problem is not None
    assert problem.missing == ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK")
    assert "~/.huaweicloud/credentials" in (problem.hint or "")


def test_file_credentials_work_against_the_emulator(home: Path, emulator: EmulatorProcess) -> None:
    write_file(
        home / ".huaweicloud" / "credentials",
        f"[basic]\nak = {emulator.ak}\nsk = {emulator.sk}\n",
    )
    client = ImageClient(config(MAI_WIDGETS_ENDPOINT=emulator.url, MAI_WIDGETS_IAM_ENDPOINT=emulator.url))
    assert client.credentials_source == "from ~/.huaweicloud/credentials"
    assert client.list() == []
    assert client.project_id == emulator.project_id  # discovered through IAM
    assert client.missing_settings() == []


# -- values no request could carry ------------------------------------------------------------

BAD_VALUES = ["密钥ABCDEFG", "ABCD\u2028EFGH", "ABCD\nEFGH", "ABCD EFGH", "ABCD\x07EFGH", "ÄBCDÉFGH"]


@pytest.mark.parametrize("bad", BAD_VALUES)
@pytest.mark.parametrize(
    ("variable", "others"),
    [
        ("HUAWEICLOUD_SDK_AK", {"HUAWEICLOUD_SDK_SK": "goodsk1234"}),
        ("HUAWEICLOUD_SDK_SK", {"HUAWEICLOUD_SDK_AK": "GOODAK1234"}),
        (
            "HUAWEICLOUD_SDK_SECURITY_TOKEN",
            {"HUAWEICLOUD_SDK_AK": "GOODAK1234", "HUAWEICLOUD_SDK_SK": "goodsk1"},
        ),
        ("MAI_WIDGETS_TOKEN", {}),
    ],
)
def test_a_bad_value_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, others: dict[str, str], bad: str
) -> None:
    for name, value in {**others, variable: bad}.items():
        monkeypatch.setenv(name, value)
    client = ImageClient(
        config(MAI_WIDGETS_ENDPOINT="http://127.0.0.1:9", HUAWEICLOUD_SDK_PROJECT_ID=PROJECT)
    )
    assert client.missing_settings() == [variable]
    assert bad.strip() not in client.credentials_source
    with pytest.raises(ConfigError) as info:
        client.get(IMAGE)
    assert variable in info.value.message
    assert info.value.missing == (variable,)
    text = chain_of_errors(info.value)
    assert bad.strip() not in text
    assert bad.strip()[4:] not in text


def test_a_bad_value_in_the_file_names_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_file(tmp_path / "c.ini", "[basic]\nak = GOODAK1234\nsk = sé-cret-value\n")
    monkeypatch.setenv(CREDENTIALS_FILE_ENV, str(path))
    with pytest.raises(ConfigError) as info:
        read_credentials_file()
    assert info.value.missing == (f"sk in {path}",)
    assert "sé-cret" not in chain_of_errors(info.value)


def test_a_password_may_hold_any_text_but_control_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"MAI_WIDGETS_IAM_USER": "u", "MAI_WIDGETS_IAM_DOMAIN": "d"}
    assert credentials_problem(config(**env), Credentials(iam_password="pässwörd 密码")) is None
    problem = credentials_problem(config(**env), Credentials(iam_password="pass\nword"))
    assert isinstance(problem, ConfigError)
    assert "Credentials.iam_password" in problem.message
    assert "pass\nword" not in chain_of_errors(problem)


# -- the metadata service: asked last, on the first request only --------------------------------


@dataclass
class FakeCloud:
    """Metadata service, IAM sign-in and an image route that echoes the auth headers back."""

    token_status: int = 200
    agency: bool = True
    lifetime: timedelta = timedelta(hours=1)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    issued: list[dict[str, str]] = field(default_factory=list)

    def metadata_calls(self) -> int:
        with self.lock:
            return sum(1 for _, path, _ in self.requests if not path.startswith(("/v1/", "/v3/")))

    def handler(self) -> type[BaseHTTPRequestHandler]:
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with cloud.lock:
                    cloud.requests.append((self.command, self.path, dict(self.headers.items())))

            def do_PUT(self) -> None:
                self.record()
                if cloud.token_status != 200:
                    self.answer(cloud.token_status, {"error": "no"})
                else:
                    self.answer(200, "session-token-0001")

            def do_POST(self) -> None:
                self.record()
                expires = (datetime.now(timezone.utc) + cloud.lifetime).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                body = {"token": {"expires_at": expires, "project": {"id": PROJECT}}}
                self.answer(201, body, {"X-Subject-Token": "MIIrun-time-iam-token-" + "x" * 20})

            def do_GET(self) -> None:
                self.record()
                if self.path.startswith("/openstack/latest/securitykey"):
                    if (
                        cloud.token_status == 200
                        and self.headers.get("X-Metadata-Token") != "session-token-0001"
                    ):
                        self.answer(401, {"error": "bad token"})
                        return
                    if not cloud.agency:
                        self.answer(401, {"message": "Please configure Cloud Service Agency first"})
                        return
                    n = len(cloud.issued)
                    expires = (datetime.now(timezone.utc) + cloud.lifetime).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                    credential = {
                        "access": f"METAAK{n:010d}",
                        "secret": f"meta-secret-{n}-abcdef",
                        "securitytoken": f"meta-security-token-{n}-" + "t" * 40,
                        "expires_at": expires,
                    }
                    cloud.issued.append(credential)
                    self.answer(200, {"credential": credential})
                    return
                # an image route: a gateway that quotes what it was sent
                echoed = " ".join(
                    f"{name}={self.headers.get(name)}" for name in ("X-Auth-Token", "X-Security-Token")
                )
                self.answer(400, {"error_code": "ModelArts.0104", "error_msg": f"bad request: {echoed}"})

        return Handler


@pytest.fixture
def fake_cloud() -> Iterator[tuple[FakeCloud, str]]:
    cloud = FakeCloud()
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), cloud.handler())) as server:
        yield cloud, f"http://127.0.0.1:{server.server_address[1]}"


def cloud_config(url: str, **env: str) -> MaiConfig:
    return config(
        MAI_WIDGETS_ENDPOINT=url,
        MAI_WIDGETS_IAM_ENDPOINT=url,
        MAI_WIDGETS_METADATA_ENDPOINT=url,
        HUAWEICLOUD_SDK_PROJECT_ID=PROJECT,
        **env,
    )


def test_building_the_client_and_the_panel_does_no_network_io(
    fake_cloud: tuple[FakeCloud, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mai_widgets.widgets.panel import RegisterPanel

    cloud, url = fake_cloud
    for name, value in {
        "MAI_WIDGETS_ENDPOINT": url,
        "MAI_WIDGETS_IAM_ENDPOINT": url,
        "MAI_WIDGETS_METADATA_ENDPOINT": url,
    }.items():
        monkeypatch.setenv(name, value)
    client = ImageClient(cloud_config(url))
    assert client.missing_settings() == ["HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"]
    assert "metadata service is asked on first use" in client.credentials_source
    panel = RegisterPanel(client=client)
    assert "metadata service is asked on first use" in panel.endpoint_line.value
    assert cloud.requests == []
    with pytest.raises(ApiError):  # the echoing image route answers 400
        client.get(IMAGE)
    assert cloud.metadata_calls() == 2  # token, then security key
    assert client.missing_settings() == []
    assert client.credentials_source.startswith(METADATA_SOURCE)
    panel.close()
    # A panel without a client opens at once and asks the metadata service afterwards, on a
    # thread of its own ("learns later"): what it shows at first says nothing was asked yet.
    cloud.requests.clear()
    bare_panel = RegisterPanel()
    assert "metadata service is asked on first use" in bare_panel.endpoint_line.value
    assert bare_panel.controller.missing == ["HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"]
    bare_panel.close()


def test_no_metadata_asked_when_the_environment_has_credentials(
    fake_cloud: tuple[FakeCloud, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud, url = fake_cloud
    monkeypatch.setenv("MAI_WIDGETS_TOKEN", "an-iam-token-from-env")
    client = ImageClient(cloud_config(url))
    with pytest.raises(ApiError):
        client.get(IMAGE)
    assert cloud.metadata_calls() == 0
    assert client.credentials_source == "from the environment (MAI_WIDGETS_TOKEN)"


def test_no_metadata_asked_when_the_file_has_credentials(
    fake_cloud: tuple[FakeCloud, str], home: Path
) -> None:
    cloud, url = fake_cloud
    write_file(home / ".huaweicloud" / "credentials", "[basic]\nak = FILEAK1234\nsk = FILESK1234\n")
    with pytest.raises(ApiError):
        ImageClient(cloud_config(url)).get(IMAGE)
    assert cloud.metadata_calls() == 0


@pytest.mark.parametrize("status", [404, 405, 503])
def test_without_the_token_route_the_security_key_is_asked_without_token(
    fake_cloud: tuple[FakeCloud, str], status: int
) -> None:
    cloud, url = fake_cloud
    cloud.token_status = status  # 503 too: the SDK goes on without a token
    creds = MetadataClient(url).fetch()
    assert creds.ak == "METAAK0000000000"
    methods = [(m, p, h.get("X-Metadata-Token")) for m, p, h in cloud.requests]
    assert methods == [
        ("PUT", "/meta-data/latest/api/token", None),
        ("GET", "/openstack/latest/securitykey", None),
    ]
    assert cloud.requests[0][2]["X-Metadata-Token-Ttl-Seconds"] == "21600"
    assert "meta-secret" not in repr(creds)


def test_an_instance_without_agency_is_a_clear_config_error(fake_cloud: tuple[FakeCloud, str]) -> None:
    cloud, url = fake_cloud
    cloud.agency = False
    with pytest.raises(ConfigError, match="no agency") as info:
        ImageClient(cloud_config(url)).get(IMAGE)
    assert "HUAWEICLOUD_SDK_AK" in (info.value.hint or "")


def test_no_metadata_service_is_the_no_credentials_error(closed_loopback_url: str) -> None:
    client = ImageClient(cloud_config(closed_loopback_url))
    with pytest.raises(ConfigError) as info:
        client.get(IMAGE)
    assert info.value.missing == ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK")
    assert "did not answer" in info.value.message
    assert "~/.huaweicloud/credentials" in (info.value.hint or "")


def test_metadata_credentials_are_refreshed_before_they_expire(fake_cloud: tuple[FakeCloud, str]) -> None:
    cloud, url = fake_cloud
    now = [datetime.now(timezone.utc)]
    auth = MetadataAuth(MetadataClient(url), refresh_margin_seconds=600, clock=lambda: now[0])
    first = auth.credentials()
    assert auth.credentials() is first  # cached
    now[0] += timedelta(minutes=49)
    assert auth.credentials() is first  # more than the margin left
    now[0] += timedelta(minutes=2)
    second = auth.credentials()
    assert second.ak != first.ak
    assert auth.fetch_count == 2
    # fetched 9 min before expiry (the server's clock): refreshed after half of that
    now[0] += timedelta(minutes=4)
    assert auth.credentials() is second
    # a failed refresh keeps credentials that are still valid
    cloud.agency = False
    now[0] += timedelta(minutes=2)
    assert auth.credentials() is second
    now[0] += timedelta(minutes=4)  # past expiry: the failure is the caller's
    with pytest.raises(ConfigError):
        auth.credentials()


# -- run-time secrets are redacted ---------------------------------------------------------------


def test_an_echoed_iam_session_token_is_redacted(fake_cloud: tuple[FakeCloud, str]) -> None:
    _, url = fake_cloud
    creds = Credentials(iam_password="iam-password-1234")
    client = ImageClient(cloud_config(url, MAI_WIDGETS_IAM_USER="u", MAI_WIDGETS_IAM_DOMAIN="d"), creds)
    with pytest.raises(ApiError) as info:
        client.get(IMAGE)
    text = chain_of_errors(info.value) + info.value.one_line()
    assert "X-Auth-Token=***" in text
    assert "MIIrun-time-iam-token" not in text


def test_echoed_metadata_credentials_are_redacted(fake_cloud: tuple[FakeCloud, str]) -> None:
    cloud, url = fake_cloud
    client = ImageClient(cloud_config(url))
    with pytest.raises(ApiError) as info:
        client.get(IMAGE)
    text = chain_of_errors(info.value) + info.value.one_line()
    assert "X-Security-Token=***" in text
    for value in cloud.issued[0].values():
        if not value[0].isdigit():  # not expires_at
            assert value not in text


def test_concurrent_first_requests_fetch_once(fake_cloud: tuple[FakeCloud, str]) -> None:
    cloud, url = fake_cloud
    auth = MetadataAuth(MetadataClient(url))
    start = threading.Barrier(8)
    seen: list[str] = []

    def use() -> None:
        start.wait()
        seen.append(auth.credentials().ak)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert seen == ["METAAK0000000000"] * 8
    assert auth.fetch_count == 1
    assert cloud.metadata_calls() == 2


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        "not json",
        '{"credential": {"access": "A1234"}}',
        '{"credential": {"access": "A1234", "secret": "S1234", "securitytoken": "T1234", "expires_at": "soon"}}',
        '{"credential": {"access": "A 1234", "secret": "S1234", "securitytoken": "T", "expires_at": '
        '"2030-01-01T00:00:00.000000Z"}}',
    ],
)
def test_a_hostile_security_key_answer_is_a_typed_error(body: str) -> None:
    def answer(method: str, url: str, headers: Any, timeout: Any) -> tuple[int, str]:
        return (404, "") if method == "PUT" else (200, body)

    with pytest.raises((ApiError, ConfigError)) as info:
        MetadataClient("http://127.0.0.1:9", request=answer).fetch()
    assert "A 1234" not in chain_of_errors(info.value)
