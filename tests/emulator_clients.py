"""Clients of a running emulator, as the tests of several layers build them."""

from __future__ import annotations

import base64
import sqlite3
from typing import Any

import requests

from mai_widgets.auth.config import MaiConfig, load_config
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator import DEFAULTS, EmulatorProcess
from mai_widgets.services.images import ImageClient
from mai_widgets.services.swr import SwrClient
from mai_widgets.transport.signer import AKSKAuth

REG = DEFAULTS.registry


def fast_config(env: dict[str, str], **overrides: Any) -> MaiConfig:
    settings: dict[str, Any] = {"poll_initial": 0.05, "poll_factor": 1.5, "poll_max": 0.2, "max_retries": 2}
    settings.update(overrides)
    return load_config(env=env, config_dirs=[], **settings)


def client_for(
    emu: EmulatorProcess,
    *,
    env: dict[str, str] | None = None,
    session: requests.Session | None = None,
    **overrides: Any,
) -> ImageClient:
    environment = {**emu.env(), **(env or {})}
    return ImageClient(
        fast_config(environment, **overrides), Credentials.from_env(environment), session=session
    )


def swr_for(emu: EmulatorProcess, session: requests.Session | None = None, **env: str) -> SwrClient:
    merged = {**emu.env(), **env}
    return SwrClient(load_config(env=merged, config_dirs=[]), Credentials.from_env(merged), session=session)


TIMEOUT = 10.0


def http_request(method: str, url: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, url, timeout=TIMEOUT, **kwargs)


def http_get(url: str, **kwargs: Any) -> requests.Response:
    return http_request("GET", url, **kwargs)


def http_head(url: str, **kwargs: Any) -> requests.Response:
    return http_request("HEAD", url, **kwargs)


def http_post(url: str, **kwargs: Any) -> requests.Response:
    return http_request("POST", url, **kwargs)


def registry_token(emu: EmulatorProcess, scope: str) -> str:
    auth = AKSKAuth(emu.ak, emu.sk, project_id=emu.project_id)
    secret = http_post(f"{emu.url}/v2/manage/utils/secret", params={"projectname": emu.region}, auth=auth)
    assert secret.status_code == 200
    user, _, password = base64.b64decode(secret.json()["auths"][REG]["auth"]).decode().partition(":")
    assert user.startswith(f"{emu.region}@")
    ping = http_get(f"{emu.url}/v2/")
    assert ping.status_code == 401
    challenge = ping.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="') and 'service="dockyard"' in challenge
    realm = challenge.split('realm="', 1)[1].split('"', 1)[0]
    got = http_get(realm, params={"service": "dockyard", "scope": scope}, auth=(user, password))
    assert got.status_code == 200
    return str(got.json()["token"])


class Calls:
    """A requests session whose response hook records every URL asked for (lend it to a client)."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.session = requests.Session()
        self.session.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.urls.append(response.request.url or "")

    def count(self, part: str) -> int:
        return sum(part in u for u in self.urls)


def registrations_per_path(emu: EmulatorProcess) -> dict[str, int]:
    """swr_path -> the user's registrations of it, deleted ones included, read from the sqlite
    store (not the service's presets): 1 each means registered exactly once."""
    with emu.store() as store:
        path = store.path
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT swr_path, COUNT(*) FROM images WHERE type = 'DEDICATED' GROUP BY swr_path"
        ).fetchall()
    finally:
        db.close()
    return {str(p): int(n) for p, n in rows}
