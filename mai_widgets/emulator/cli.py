"""Command line of ``python -m mai_widgets.emulator`` and the settings it produces.

Kept free of tornado so :mod:`.process` can parse the same flags cheaply.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import errors
from ..wire.notebooks import NotebookStatus
from .defaults import DEFAULTS, DEMO_SWR_CATALOGUE, DEMO_SWR_IMAGES, SwrImageSpec
from .faults import FAULT_KINDS, parse_fault_kinds
from .registry import build_catalogue

READY_PREFIX = "mai-widgets ModelArts emulator listening on "

# Answers the public sources allow more than one of; a flag picks one so clients can test each.
# An expired token: APIG.0307, APIG.0301 saying it expired, or ModelArts.0202 (API reference, APIG FAQ).
EXPIRED_TOKEN_ANSWERS: tuple[str, ...] = ("APIG.0307", "APIG.0301", "ModelArts.0202")
# Already registered: 2884 (training-job codes) or 6737 (image codes); which one is unsettled.
ALREADY_REGISTERED_CODES: tuple[str, ...] = tuple(sorted(errors.ALREADY_REGISTERED_CODES))
# An unknown image id: 6404 is what GET answers on the real service (the Terraform provider reads it
# as "gone"); the published error table lists 6797. DELETE's documented answers (200, 204, 401, 403)
# name no not-found code, so every image-id route answers the one chosen here.
IMAGE_NOT_FOUND_CODES: tuple[str, ...] = tuple(sorted(errors.IMAGE_NOT_FOUND_CODES))
# Delete: the docs list 200 (with the record) and 204 (empty body).
DELETE_ANSWERS: tuple[str, ...] = ("record", "204")


@dataclass(frozen=True)
class NotebookSeed:
    """A notebook instance seeded at start: ``--notebook NAME:STATUS[:IP]``."""

    name: str
    status: str = "RUNNING"
    ip: str = ""


_NOTEBOOK_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def parse_notebook_seed(text: str) -> NotebookSeed:
    """``NAME:STATUS[:IP]`` (STATUS one of the 14 notebook states; IP an IPv4 address)."""
    name, _, rest = text.partition(":")
    status, _, ip = rest.partition(":")
    if not _NOTEBOOK_NAME_RE.match(name):
        raise ValueError(f"{text!r}: NAME must be 1-64 letters, digits, '-' or '_'")
    try:
        state = NotebookStatus(status or "RUNNING").value
    except ValueError:
        raise ValueError(f"{text!r}: STATUS must be one of {', '.join(NotebookStatus.choices())}") from None
    if ip:
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise ValueError(f"{text!r}: IP must be an IPv4 address") from None
    return NotebookSeed(name, state, ip)


def _notebook_seed(text: str) -> NotebookSeed:
    try:
        return parse_notebook_seed(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@dataclass(frozen=True)
class EmulatorSettings:
    data_dir: Path
    host: str = DEFAULTS.host
    port: int = 0
    ak: str = DEFAULTS.ak
    sk: str = DEFAULTS.sk
    temp_ak: str = DEFAULTS.temp_ak
    temp_sk: str = DEFAULTS.temp_sk
    security_token: str = DEFAULTS.security_token
    project_id: str = DEFAULTS.project_id
    region: str = DEFAULTS.region
    iam_user: str = DEFAULTS.iam_user
    iam_password: str = DEFAULTS.iam_password
    iam_domain: str = DEFAULTS.iam_domain
    init_seconds: float = DEFAULTS.init_seconds
    creating_seconds: float = DEFAULTS.creating_seconds
    # the paths at start; registration asks the live catalogue (EmulatorState.swr_catalogue)
    swr_catalogue: frozenset[str] = field(default_factory=lambda: frozenset(DEMO_SWR_IMAGES))
    swr_images: tuple[SwrImageSpec, ...] = DEMO_SWR_CATALOGUE  # what the SWR routes serve
    forbidden_namespace: str = DEFAULTS.forbidden_namespace
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULT_KINDS
    fault_seed: int | None = None
    slow_seconds: float = 5.0
    retry_after: int = 1
    token_ttl_seconds: float = 24 * 3600.0
    swr_login_seconds: float = 6 * 3600.0  # SWR's temporary login lives 6 hours (SWR FAQ)
    max_clock_skew_seconds: float = 900.0
    seed_images: int = 0
    metadata_credential_seconds: float = 3600.0
    metadata_no_agency: bool = False
    expired_token_answer: str = EXPIRED_TOKEN_ANSWERS[0]
    already_registered_code: str = ALREADY_REGISTERED_CODES[0]
    delete_answer: str = DELETE_ANSWERS[0]
    image_not_found_code: str = IMAGE_NOT_FOUND_CODES[0]
    swr_upload_idle_seconds: float = 600.0
    latency: float = 0.0
    snapshot_seconds: float = DEFAULTS.snapshot_seconds
    notebooks: tuple[NotebookSeed, ...] = ()  # besides the demo instance, which is always there
    save_too_large: bool = False
    print_env: bool = False

    def __repr__(self) -> str:
        # The demo secrets are harmless, but real ones may be passed: never print them.
        return f"EmulatorSettings(data_dir={str(self.data_dir)!r}, host={self.host!r}, port={self.port})"


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be zero or more seconds")
    return value


def _kinds(text: str) -> tuple[str, ...]:
    try:
        return parse_fault_kinds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mai_widgets.emulator",
        description="A local ModelArts image-management emulator (and the IAM routes it needs).",
    )
    p.add_argument("--host", default=DEFAULTS.host, help="address to listen on (default %(default)s)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    p.add_argument("--data-dir", type=Path, help="directory of the sqlite store (required to serve)")
    p.add_argument(
        "--print-env",
        action="store_true",
        help="print shell export lines for an emulator on --host/--port (default: the demo's "
        f"{DEFAULTS.demo_port}) with these credentials, then exit",
    )
    creds = p.add_argument_group("credentials (documented demo defaults)")
    for name in ("ak", "sk", "temp_ak", "temp_sk", "security_token", "project_id", "region"):
        creds.add_argument(f"--{name.replace('_', '-')}", default=getattr(DEFAULTS, name), metavar="VALUE")
    for name in ("iam_user", "iam_password", "iam_domain"):
        creds.add_argument(f"--{name.replace('_', '-')}", default=getattr(DEFAULTS, name), metavar="VALUE")
    creds.add_argument("--token-ttl-seconds", type=_seconds, default=24 * 3600.0)
    creds.add_argument(
        "--swr-login-seconds", type=_seconds, default=6 * 3600.0, help="SWR temporary login lifetime"
    )
    creds.add_argument(
        "--max-clock-skew-seconds", type=_seconds, default=900.0, help="X-Sdk-Date tolerance (default 900)"
    )
    answers = p.add_argument_group("answers where the public sources allow several")
    answers.add_argument(
        "--expired-token-answer",
        choices=EXPIRED_TOKEN_ANSWERS,
        default=EXPIRED_TOKEN_ANSWERS[0],
        help="error code for an expired IAM token (default %(default)s)",
    )
    answers.add_argument(
        "--already-registered-code",
        choices=ALREADY_REGISTERED_CODES,
        default=ALREADY_REGISTERED_CODES[0],
        help="error code for an SWR image registered already (default %(default)s)",
    )
    answers.add_argument(
        "--delete-answer",
        choices=DELETE_ANSWERS,
        default=DELETE_ANSWERS[0],
        help="record: 200 with the record; 204: empty body (default %(default)s)",
    )
    answers.add_argument(
        "--image-not-found-code",
        choices=IMAGE_NOT_FOUND_CODES,
        default=IMAGE_NOT_FOUND_CODES[0],
        help="error code (status 400) for an unknown image id on GET, DELETE and sync (default %(default)s)",
    )
    life = p.add_argument_group("image lifecycle")
    life.add_argument("--init-seconds", type=_seconds, default=DEFAULTS.init_seconds)
    life.add_argument("--creating-seconds", type=_seconds, default=DEFAULTS.creating_seconds)
    life.add_argument(
        "--swr-image",
        action="append",
        default=[],
        metavar="PATH|JSON",
        help='add an SWR image: a path (amd64, user ma-user) or JSON {"path", "platforms", "user", ...}',
    )
    life.add_argument(
        "--swr-catalogue",
        type=Path,
        metavar="FILE",
        help="file of SWR images, one path or JSON object a line",
    )
    life.add_argument(
        "--swr-seed-repos", type=int, default=0, metavar="N", help="seed N repositories (mai-bench)"
    )
    life.add_argument(
        "--swr-seed-tags", type=int, default=0, metavar="M", help="M tags in the first seeded one"
    )
    life.add_argument(
        "--swr-upload-idle-seconds",
        type=_seconds,
        default=600.0,
        metavar="S",
        help="a registry blob upload that receives nothing for this long is dropped (default 600)",
    )
    life.add_argument("--forbidden-namespace", default=DEFAULTS.forbidden_namespace)
    life.add_argument("--seed-images", type=int, default=0, metavar="N", help="bulk-seed N ACTIVE images")
    books = p.add_argument_group("notebook instances (saving one as an image)")
    books.add_argument(
        "--notebook",
        action="append",
        type=_notebook_seed,
        default=[],
        metavar="NAME:STATUS[:IP]",
        help=f"seed an instance in any state (repeatable); {DEFAULTS.demo_notebook} (RUNNING, "
        f"{DEFAULTS.demo_notebook_ip}) is always there",
    )
    books.add_argument(
        "--snapshot-seconds",
        type=_seconds,
        default=DEFAULTS.snapshot_seconds,
        help="how long a save keeps the instance SNAPSHOTTING (default %(default)s)",
    )
    books.add_argument(
        "--save-too-large",
        action="store_true",
        help="every save fails: the environment is too large, the image ends CREATE_FAILED",
    )
    meta = p.add_argument_group("instance metadata service (temporary credentials of an agency)")
    meta.add_argument(
        "--metadata-credential-seconds",
        type=_seconds,
        default=3600.0,
        help="lifetime of the temporary credentials it issues (default 3600)",
    )
    meta.add_argument(
        "--metadata-no-agency", action="store_true", help="answer as an instance without agency"
    )
    p.add_argument(
        "--latency",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait this long before answering each request, as a distant service does (to measure "
        "concurrency); requests wait side by side (default 0)",
    )
    faults = p.add_argument_group("fault injection (image routes only)")
    faults.add_argument("--fault-rate", type=_fraction, default=0.0, metavar="F")
    faults.add_argument("--faults", type=_kinds, default=FAULT_KINDS, metavar=",".join(FAULT_KINDS))
    faults.add_argument("--fault-seed", type=int, default=None, metavar="N")
    faults.add_argument("--slow-seconds", type=_seconds, default=5.0)
    faults.add_argument("--retry-after", type=int, default=1, metavar="S")
    return p


def parse_settings(argv: Sequence[str] | None = None) -> EmulatorSettings:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        images = build_catalogue(
            args.swr_image,
            args.swr_catalogue,
            region=args.region,
            seed_repositories=max(0, args.swr_seed_repos),
            seed_tags=max(0, args.swr_seed_tags),
        )
    except OSError as exc:
        parser.error(f"--swr-catalogue: cannot read {args.swr_catalogue}: {exc.strerror}")
    except ValueError as exc:
        parser.error(f"--swr-image/--swr-catalogue: {exc}")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be 0..65535")
    if args.data_dir is None and not args.print_env:
        parser.error("the following arguments are required: --data-dir")
    return EmulatorSettings(
        data_dir=args.data_dir if args.data_dir is not None else Path(),
        host=args.host,
        port=args.port,
        ak=args.ak,
        sk=args.sk,
        temp_ak=args.temp_ak,
        temp_sk=args.temp_sk,
        security_token=args.security_token,
        project_id=args.project_id,
        region=args.region,
        iam_user=args.iam_user,
        iam_password=args.iam_password,
        iam_domain=args.iam_domain,
        init_seconds=args.init_seconds,
        creating_seconds=args.creating_seconds,
        swr_catalogue=frozenset(spec.path for spec in images),
        swr_images=images,
        forbidden_namespace=args.forbidden_namespace,
        fault_rate=args.fault_rate,
        faults=args.faults,
        fault_seed=args.fault_seed,
        slow_seconds=args.slow_seconds,
        retry_after=args.retry_after,
        token_ttl_seconds=args.token_ttl_seconds,
        swr_login_seconds=args.swr_login_seconds,
        max_clock_skew_seconds=args.max_clock_skew_seconds,
        seed_images=args.seed_images,
        metadata_credential_seconds=args.metadata_credential_seconds,
        metadata_no_agency=args.metadata_no_agency,
        expired_token_answer=args.expired_token_answer,
        already_registered_code=args.already_registered_code,
        delete_answer=args.delete_answer,
        image_not_found_code=args.image_not_found_code,
        swr_upload_idle_seconds=args.swr_upload_idle_seconds,
        latency=args.latency,
        snapshot_seconds=args.snapshot_seconds,
        notebooks=tuple(args.notebook),
        save_too_large=args.save_too_large,
        print_env=args.print_env,
    )
