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
    # an SWR organisation the demo user may not read: registering from it answers 400 ModelArts.2885
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
)


# The service's own preset images (type BUILD_IN), shown in every project and never deletable.
# Names follow ModelArts' preset naming (framework-accelerator-python-os-arch), in its SWR
# organisation "atelier"; tags are build stamps, as the real presets carry.
PRESET_NAMESPACE = "atelier"


@dataclass(frozen=True)
class PresetImage:
    name: str
    tag: str
    arch: str
    resource_categories: tuple[str, ...]
    service_type: str
    description: str
    size_kb: int
    flavor_type: str | None = None


PRESET_IMAGES: tuple[PresetImage, ...] = (
    PresetImage(
        "mindspore_2_3_0-cann_8_0_rc1-py_3_9-euler_2_10_7-aarch64",
        "20240606190017-7a13b1e",
        "AARCH64",
        ("ASCEND",),
        "COMMON",
        "MindSpore 2.3.0 with CANN 8.0.RC1, Python 3.9, EulerOS 2.10 (Ascend)",
        14_680_064,
        "ASCEND_SNT9B",
    ),
    PresetImage(
        "pytorch_2_1_0-cann_8_0_rc1-py_3_9-euler_2_10_7-aarch64",
        "20240612102350-c4a1f07",
        "AARCH64",
        ("ASCEND",),
        "COMMON",
        "PyTorch 2.1.0 with CANN 8.0.RC1, Python 3.9, EulerOS 2.10 (Ascend)",
        15_728_640,
        "ASCEND_SNT9B",
    ),
    PresetImage(
        "pytorch_2_1_0-cuda_12_1-py_3_10-ubuntu_22_04-x86_64",
        "20240520152834-5b8e7d2",
        "X86_64",
        ("CPU", "GPU"),
        "COMMON",
        "PyTorch 2.1.0 with CUDA 12.1, Python 3.10, Ubuntu 22.04",
        11_534_336,
    ),
    PresetImage(
        "tensorflow_2_13_0-cuda_11_8-py_3_10-ubuntu_22_04-x86_64",
        "20240418093012-e2d94a3",
        "X86_64",
        ("CPU", "GPU"),
        "COMMON",
        "TensorFlow 2.13.0 with CUDA 11.8, Python 3.10, Ubuntu 22.04",
        10_485_760,
    ),
    PresetImage(
        "python_3_10-ubuntu_22_04-x86_64",
        "20240301120455-9f0c3b6",
        "X86_64",
        ("CPU",),
        "DEV",
        "Python 3.10 on Ubuntu 22.04 (CPU)",
        2_097_152,
    ),
)
