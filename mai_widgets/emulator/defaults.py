"""Documented demo defaults of the local ModelArts emulator.

These are not secrets: they only open the emulator on this machine, and the README lists
them. Real credentials never have this shape (the SK has dashes, so no scanner mistakes it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmulatorDefaults:
    host: str = "127.0.0.1"
    region: str = "cn-north-4"
    project_id: str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    ak: str = "MAIDEMOAK0000000000"
    sk: str = "mai-demo-sk-not-for-the-cloud"
    # temporary credentials (as inside ModelArts notebooks): AK/SK plus a security token
    temp_ak: str = "MAIDEMOTEMPAK000000"
    temp_sk: str = "mai-demo-temp-sk-not-for-the-cloud"
    security_token: str = "mai-demo-security-token"  # noqa: S105 (documented demo value)
    iam_user: str = "mai-demo-user"
    iam_password: str = "mai-demo-password"  # noqa: S105 (documented demo value)
    iam_domain: str = "mai-demo-domain"
    init_seconds: float = 2.0
    creating_seconds: float = 8.0
    registry: str = "swr.cn-north-4.myhuaweicloud.com"
    # the port `make demo` runs the emulator on (and --print-env assumes without --port)
    demo_port: int = 8765
    # an SWR organisation the demo user may not read: registering from it answers 403 ModelArts.2885
    forbidden_namespace: str = "someone-else"


DEFAULTS = EmulatorDefaults()

# The demo SWR catalogue: images that "exist" in SWR, so registering them reaches ACTIVE.
# Anything else goes to CREATE_FAILED with a status_message saying the image was not found.
DEMO_SWR_IMAGES: tuple[str, ...] = (
    f"{DEFAULTS.registry}/mai-demo/pytorch-cpu:2.3.0",
    f"{DEFAULTS.registry}/mai-demo/pytorch-cuda:2.3.0-cuda12.1",
    f"{DEFAULTS.registry}/mai-demo/mindspore-ascend:2.3.0-aarch64",
    f"{DEFAULTS.registry}/mai-demo/tensorflow:2.15.0",
    f"{DEFAULTS.registry}/mai-demo/sklearn:1.5.0",
    # one image per example, so no example meets another's registration (README, notebooks/)
    f"{DEFAULTS.registry}/mai-demo/xgboost:2.1.1",
    f"{DEFAULTS.registry}/mai-demo/paddlepaddle:2.6.1",
    f"{DEFAULTS.registry}/mai-demo/lightgbm:4.5.0",
    f"{DEFAULTS.registry}/mai-demo/onnxruntime:1.18.0",
)
