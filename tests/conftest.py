"""Shared fixtures. Each section belongs to the helper that owns the module it serves."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from mai_widgets.auth import credentials as mai_credentials
from mai_widgets.auth.credentials import CREDENTIAL_ENV_VARS, CREDENTIALS_FILE_ENV
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.i18n import LOCALE_DIR, translation
from mai_widgets.i18n.catalogues import compile_catalogues

# -- languages --------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalogues() -> None:
    """gettext and JupyterLab read the compiled catalogues (the build's step; git-ignored): built
    here when one is missing or older than its .po, so a run right after editing a .po reads it."""
    for po in LOCALE_DIR.glob("*/LC_MESSAGES/*.po"):
        built = [po.with_suffix(".mo"), po.with_suffix(".json")]
        if any(not out.exists() or out.stat().st_mtime < po.stat().st_mtime for out in built):
            compile_catalogues()
            translation.cache_clear()
            return


# -- credentials (helper CREDS) -----------------------------------------------------------------


@pytest.fixture(scope="session")
def closed_loopback_url() -> Iterator[str]:
    """A loopback URL where nothing listens: bound (so no one else takes it) but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(autouse=True)
def _isolated_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory, closed_loopback_url: str
) -> None:
    """No test sees the developer's credentials or asks 169.254.169.254.

    The metadata service is a closed loopback port (connection refused at once), HOME is an
    empty directory (no ~/.huaweicloud/credentials), and no credential variable is inherited.
    """
    monkeypatch.setenv("MAI_WIDGETS_METADATA_ENDPOINT", closed_loopback_url)
    # A config built from a test's own env mapping still has the real default: refuse it here.
    real_request = mai_credentials.metadata_request

    def no_link_local(method: str, url: str, headers: Mapping[str, str], timeout: Any) -> tuple[int, str]:
        if urlsplit(url).hostname == "169.254.169.254":
            raise mai_credentials.MetadataUnreachable("tests never ask the real metadata service")
        return real_request(method, url, headers, timeout)

    monkeypatch.setattr(mai_credentials, "metadata_request", no_link_local)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv(CREDENTIALS_FILE_ENV, raising=False)
    for var in CREDENTIAL_ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)


# -- emulator (helper EMULATOR) -----------------------------------------------------------------

# Fast lifecycle for tests: INIT 0.3 s, CREATING 0.6 s.
FAST_LIFECYCLE = {"init_seconds": 0.3, "creating_seconds": 0.6}
_PROCESS_KWARGS = ("init_seconds", "creating_seconds", "port", "data_dir", "host", "startup_timeout")


def _flag_args(options: dict[str, Any]) -> list[str]:
    """``fault_rate=0.5, swr_image=[a, b]`` → ``--fault-rate 0.5 --swr-image a --swr-image b``;
    ``save_too_large=True`` → ``--save-too-large`` (a switch)."""
    args: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            args += [flag] if value else []
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            args += [flag, ",".join(item) if isinstance(item, (set, frozenset)) else str(item)]
    return args


@pytest.fixture
def emulator_factory(tmp_path: Path) -> Iterator[Callable[..., EmulatorProcess]]:
    """Start emulators with extra flags: ``emulator_factory(fault_rate=1, faults="503")``.

    Keyword names are the CLI flags with ``_`` for ``-``; ``init_seconds``, ``creating_seconds``,
    ``port`` and ``data_dir`` go to :class:`EmulatorProcess`. All are stopped at teardown.
    """
    started: list[EmulatorProcess] = []

    def start(**options: Any) -> EmulatorProcess:
        process_kwargs = {**FAST_LIFECYCLE, **{k: options.pop(k) for k in _PROCESS_KWARGS if k in options}}
        data_dir = process_kwargs.pop("data_dir", None) or tmp_path / f"emulator-{len(started)}"
        emu = EmulatorProcess(data_dir, args=_flag_args(options), **process_kwargs)
        started.append(emu)
        return emu.start()

    yield start
    for emu in started:
        emu.close()


@pytest.fixture
def emulator(emulator_factory: Callable[..., EmulatorProcess]) -> EmulatorProcess:
    """A fresh emulator for one test (fast lifecycle, its own data directory)."""
    return emulator_factory()
