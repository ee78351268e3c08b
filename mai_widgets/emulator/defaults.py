"""Documented demo defaults of the local ModelArts emulator.

These are not secrets: they only open the emulator on this machine, and the README lists
them. Real credentials never have this shape (the SK has dashes, so no scanner mistakes it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


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
    # an SWR organisation the demo user may not read: registering from it answers 400 ModelArts.2885
    forbidden_namespace: str = "someone-else"
    # how long a notebook instance is SNAPSHOTTING while it is saved as an image
    snapshot_seconds: float = 6.0
    # the demo notebook instance (seeded RUNNING; its ip is loopback so that "this instance, by
    # address" finds it on this machine) and the preset image it runs
    demo_notebook: str = "mai-demo-notebook"
    demo_notebook_ip: str = "127.0.0.1"
    demo_notebook_image: str = "python_3_10-ubuntu_22_04-x86_64"


DEFAULTS = EmulatorDefaults()


def notebook_id_for(project_id: str, name: str) -> str:
    """A seeded notebook instance's id: stable across restarts, so ``--print-env`` can name it."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mai-widgets-notebook/{project_id}/{name}"))


_GIB = 1 << 30


@dataclass(frozen=True)
class SwrImageSpec:
    """One image "pushed" to the emulator's SWR: its path and what its manifest and config say.

    ``platforms`` are ``os/architecture[/variant]``; more than one makes a manifest list (Docker
    media types) or an image index (``media="oci"``). ``user`` is the config's ``User``.
    """

    path: str
    platforms: tuple[str, ...] = ("linux/amd64",)
    user: str = "ma-user"
    size: int = 3 * _GIB  # bytes, per platform
    pushed: str = "2024-06-03T08:00:00Z"
    ports: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    media: str = "docker"  # or "oci"


def _demo(path: str, **spec: Any) -> SwrImageSpec:
    return SwrImageSpec(f"{DEFAULTS.registry}/{path}", **spec)


# The demo SWR catalogue: images that "exist" in SWR, so registering them reaches ACTIVE.
# Anything else goes to CREATE_FAILED with a status_message saying the image was not found,
# until it is pushed (python -m mai_widgets.emulator.push).
# The first five paths are the original demo images (notebooks and the README use them).
DEMO_SWR_CATALOGUE: tuple[SwrImageSpec, ...] = (
    _demo(
        "mai-demo/pytorch-cpu:2.3.0", size=3_400_000_000, pushed="2024-06-03T08:00:00Z", ports=("8888/tcp",)
    ),
    # a large image (CUDA base layers)
    _demo("mai-demo/pytorch-cuda:2.3.0-cuda12.1", size=19_800_000_000, pushed="2024-06-04T09:30:00Z"),
    # arm64 only (Ascend hosts are AArch64)
    _demo(
        "mai-demo/mindspore-ascend:2.3.0-aarch64",
        platforms=("linux/arm64/v8",),
        size=9_200_000_000,
        pushed="2024-06-05T10:00:00Z",
    ),
    # multi-arch: a manifest list with amd64 and arm64
    _demo(
        "mai-demo/tensorflow:2.15.0",
        platforms=("linux/amd64", "linux/arm64/v8"),
        size=4_100_000_000,
        pushed="2024-05-20T12:00:00Z",
    ),
    # runs as root: fine for training, wrong for a ModelArts notebook
    _demo("mai-demo/sklearn:1.5.0", user="root", size=1_200_000_000, pushed="2024-05-28T07:15:00Z"),
    # one image per example, so no example meets another's registration (README, notebooks/)
    _demo("mai-demo/xgboost:2.1.1", size=1_500_000_000, pushed="2024-06-08T08:00:00Z"),
    _demo("mai-demo/paddlepaddle:2.6.1", size=5_200_000_000, pushed="2024-06-08T09:00:00Z"),
    _demo("mai-demo/lightgbm:4.5.0", size=1_100_000_000, pushed="2024-06-08T10:00:00Z"),
    _demo("mai-demo/onnxruntime:1.18.0", size=2_300_000_000, pushed="2024-06-08T11:00:00Z"),
    # older tags of the same repositories, for the picker and "nearest tag" suggestions
    _demo("mai-demo/pytorch-cpu:2.2.0", size=3_300_000_000, pushed="2024-02-10T08:00:00Z"),
    _demo("mai-demo/pytorch-cpu:2.1.0", size=3_100_000_000, pushed="2023-11-02T08:00:00Z"),
    # OCI media types: an image index (amd64 + arm64) and a single OCI manifest
    _demo(
        "mai-demo/notebook-multiarch:1.0.0",
        platforms=("linux/amd64", "linux/arm64/v8"),
        user="1000:100",
        media="oci",
        size=2_600_000_000,
        pushed="2024-06-06T06:00:00Z",
        entrypoint=("/usr/local/bin/start-notebook.sh",),
        ports=("8888/tcp", "22/tcp"),
    ),
    _demo(
        "mai-demo/llm-serving:0.4.2",
        media="oci",
        size=27_500_000_000,
        pushed="2024-06-07T11:45:00Z",
        entrypoint=("python", "-m", "serve"),
        ports=("8080/tcp",),
    ),
    # a repository name with a '/' (the manage API takes it as team$jupyter)
    _demo("mai-demo/team/jupyter:1.0", size=2_000_000_000, pushed="2024-04-01T00:00:00Z"),
    # an organization shared with the demo user read-only (SWR auth level 1)
    _demo("mai-shared/base-notebook:1.0", pushed="2024-03-15T00:00:00Z"),
    # the organization the demo credentials cannot read (SWR answers 403)
    _demo(f"{DEFAULTS.forbidden_namespace}/private-app:1.0", pushed="2024-01-01T00:00:00Z"),
)
DEMO_SWR_IMAGES: tuple[str, ...] = tuple(spec.path for spec in DEMO_SWR_CATALOGUE)
# SWR organizations the demo user may only read (auth 1); the others in the catalogue it manages (7).
DEMO_SWR_READ_ONLY: frozenset[str] = frozenset({"mai-shared"})


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
