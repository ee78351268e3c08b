"""Helpers shared by the controller, panel and status-view tests (all against the emulator)."""

from __future__ import annotations

import threading
import time
from typing import Any

from mai_widgets.auth.config import load_config
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.kernel.controller import RegistrationController
from mai_widgets.services.images import ImageClient
from mai_widgets.wire.contract import RegisterRequest

# Every variable that could give a client credentials (or an IAM sign-in) from the environment.
CREDENTIAL_VARS = (
    "HUAWEICLOUD_SDK_AK",
    "HUAWEICLOUD_SDK_SK",
    "HUAWEICLOUD_SDK_SECURITY_TOKEN",
    "MAI_WIDGETS_TOKEN",
    "MAI_WIDGETS_IAM_PASSWORD",
    "MAI_WIDGETS_IAM_USER",
    "MAI_WIDGETS_IAM_DOMAIN",
)


def make_client(emu: EmulatorProcess, *, sk: str | None = None, **settings: Any) -> ImageClient:
    """A client of ``emu`` that polls fast and retries once (``settings`` override either)."""
    config = load_config(
        env=emu.env(), config_dirs=[], poll_initial=0.1, poll_max=0.3, **{"max_retries": 1, **settings}
    )
    return ImageClient(config, Credentials(ak=emu.ak, sk=sk or emu.sk))


def stored_count(emu: EmulatorProcess) -> int:
    with emu.store() as store:
        return store.count()


def with_refused_arch(good: RegisterRequest) -> RegisterRequest:
    """``good`` with an architecture the contract refuses, built past its checks so the
    server's own validation answers."""
    bad = object.__new__(RegisterRequest)
    for name, value in good.as_fields().items():
        object.__setattr__(bad, name, value)
    object.__setattr__(bad, "arch", "SPARC64")
    return bad


def following_worker(controller: RegistrationController, deadline: float) -> threading.Thread:
    """The worker of a controller once it is watching (by ``deadline``, a monotonic time), alive."""
    while controller.state != "watching":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    worker = controller.worker
    assert worker is not None and worker.is_alive()
    return worker
