"""The emulator's instance metadata service, and a client that has nothing else, end to end."""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from mai_widgets.auth.config import load_config
from mai_widgets.auth.credentials import METADATA_SOURCE, MetadataAuth, MetadataClient
from mai_widgets.emulator import DEMO_SWR_IMAGES
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.errors import AuthenticationError, ConfigError
from mai_widgets.services.images import ImageClient
from mai_widgets.transport.signer import AKSKAuth


def metadata_only_client(emu: EmulatorProcess, **settings: Any) -> ImageClient:
    """A client configured with endpoints only: the credentials must come from the metadata service."""
    env = {
        "MAI_WIDGETS_ENDPOINT": emu.url,
        "MAI_WIDGETS_IAM_ENDPOINT": emu.url,
        "MAI_WIDGETS_METADATA_ENDPOINT": emu.url,
    }
    config = load_config(env=env, config_dirs=[], poll_initial=0.1, poll_max=0.2, **settings)
    return ImageClient(config)


def test_the_routes_answer_as_the_metadata_service(emulator: EmulatorProcess) -> None:
    token_url = emulator.url + "/meta-data/latest/api/token"
    key_url = emulator.url + "/openstack/latest/securitykey"
    assert requests.put(token_url, timeout=5).status_code == 400  # the TTL header is required
    token = requests.put(token_url, headers={"X-Metadata-Token-Ttl-Seconds": "60"}, timeout=5)
    assert token.status_code == 200 and token.text
    assert requests.get(key_url, headers={"X-Metadata-Token": "not-issued"}, timeout=5).status_code == 401
    answer = requests.get(key_url, headers={"X-Metadata-Token": token.text}, timeout=5)
    assert answer.status_code == 200
    credential = answer.json()["credential"]
    assert set(credential) == {"access", "secret", "securitytoken", "expires_at"}
    assert credential["expires_at"].endswith("Z")


def test_a_client_with_nothing_configured_registers_with_the_instance_credentials(
    emulator: EmulatorProcess,
) -> None:
    client = metadata_only_client(emulator)
    assert client.missing_settings() == ["HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"]  # not asked yet
    record = client.register(swr_path=DEMO_SWR_IMAGES[0])
    assert client.project_id == emulator.project_id  # discovered through IAM with the temporary AK/SK
    assert client.get(record.id).id == record.id
    assert client.wait(record.id, timeout=30).succeeded
    assert client.credentials_source == f"{METADATA_SOURCE} (metadata service at {emulator.url})"
    assert client.missing_settings() == []


def test_short_lived_credentials_are_refreshed_and_the_old_ones_stop_working(
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    emu = emulator_factory(metadata_credential_seconds=2)
    client = metadata_only_client(emu)
    record = client.register(swr_path=DEMO_SWR_IMAGES[1])
    auth = client.shared.auth()
    assert isinstance(auth, MetadataAuth)
    first = auth.credentials()
    deadline = time.monotonic() + 4.5  # past two lifetimes
    reads = 0
    while time.monotonic() < deadline:
        assert client.get(record.id).id == record.id
        reads += 1
        time.sleep(0.2)
    assert reads >= 15
    assert auth.fetch_count >= 3  # refreshed at half their lifetime, before they expired
    # the first credentials have expired: the emulator refuses them as the gateway would
    old = AKSKAuth(first.ak, first.sk, security_token=first.security_token)
    answer = requests.get(f"{emu.url}/v1/{emu.project_id}/images", auth=old, timeout=5)
    assert answer.status_code == 401
    assert answer.json()["error_code"].endswith(".0301")


def test_an_instance_without_agency(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path, args=["--metadata-no-agency"]) as emu:
        emu.start()
        with pytest.raises(ConfigError, match="no agency"):
            metadata_only_client(emu).list()
        with pytest.raises(ConfigError, match="no agency"):
            MetadataClient(emu.url).fetch()


def test_metadata_credentials_need_their_security_token(emulator: EmulatorProcess) -> None:
    creds = MetadataClient(emulator.url).fetch()
    without_token = AKSKAuth(creds.ak, creds.sk)
    answer = requests.get(f"{emulator.url}/v1/{emulator.project_id}/images", auth=without_token, timeout=5)
    assert answer.status_code == 401
    client = ImageClient(
        load_config(
            env={"MAI_WIDGETS_ENDPOINT": emulator.url}, config_dirs=[], project_id=emulator.project_id
        ),
        auth=without_token,
    )
    with pytest.raises(AuthenticationError):
        client.list()


def test_a_panel_opens_at_once_and_learns_the_instance_credentials_once_shown(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mai_widgets.widgets.panel import RegisterPanel

    swr = {k: v for k, v in emulator.env().items() if k.startswith("MAI_WIDGETS_SWR_")}  # Register checks
    for name, value in {
        "MAI_WIDGETS_ENDPOINT": emulator.url,
        "MAI_WIDGETS_IAM_ENDPOINT": emulator.url,
        "MAI_WIDGETS_METADATA_ENDPOINT": emulator.url,
        **swr,
    }.items():
        monkeypatch.setenv(name, value)
    started = time.monotonic()
    panel = RegisterPanel(swr_path=DEMO_SWR_IMAGES[0])
    built_in = time.monotonic() - started
    controller = panel.controller
    time.sleep(0.5)  # the form comes first: nothing is asked until it is shown
    controller._writer.drain_here()
    assert controller.missing and METADATA_SOURCE not in controller.credentials_source
    panel._repr_mimebundle_()  # shown (no kernel loop here: the look-up starts at once)
    deadline = time.monotonic() + 15
    while controller.missing and time.monotonic() < deadline:
        controller._writer.drain_here()  # no kernel loop here: apply the worker's changes
        time.sleep(0.05)
    assert controller.missing == [], controller.missing
    assert built_in < 5.0
    assert METADATA_SOURCE in controller.credentials_source
    assert html.escape(METADATA_SOURCE) in panel.endpoint_line.value
    assert not panel.register_button.disabled
    panel.register_button.click()
    assert controller.wait_settled(30)
    assert controller.record is not None and controller.record.status == "ACTIVE"
    panel.close()


def test_a_panel_with_no_instance_credentials_keeps_naming_what_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mai_widgets.widgets.panel import RegisterPanel

    monkeypatch.setenv("MAI_WIDGETS_ENDPOINT", "https://modelarts.example.test")
    panel = RegisterPanel()
    time.sleep(0.5)
    panel.controller._writer.drain_here()
    assert panel.controller.missing == ["HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"]
    assert panel.register_button.disabled and "HUAWEICLOUD_SDK_AK" in panel.reason.value
    panel.close()


def test_refused_metadata_credentials_are_refreshed_once_and_the_request_resent(
    emulator_factory: Callable[..., EmulatorProcess],
) -> None:
    from datetime import datetime, timezone

    emu = emulator_factory(metadata_credential_seconds=1)
    frozen = datetime.now(timezone.utc)  # this side never sees them age: only the 401 says so
    auth = MetadataAuth(MetadataClient(emu.url), project_id=emu.project_id, clock=lambda: frozen)
    url = f"{emu.url}/v1/{emu.project_id}/images"
    assert requests.get(url, auth=auth, timeout=5).status_code == 200
    first = auth.credentials()
    time.sleep(1.3)  # the emulator now refuses them
    answer = requests.get(url, auth=auth, timeout=5)
    assert answer.status_code == 200
    assert [r.status_code for r in answer.history] == [401]  # resent once
    assert auth.fetch_count == 2 and auth.credentials().ak != first.ak
    # the first credentials really were refused: the resend did not just repeat them
    old = AKSKAuth(first.ak, first.sk, security_token=first.security_token)
    assert requests.get(url, auth=old, timeout=5).status_code == 401
