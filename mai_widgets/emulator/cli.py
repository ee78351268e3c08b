"""Command line of ``python -m mai_widgets.emulator`` and the settings it produces.

Kept free of tornado so :mod:`.process` can parse the same flags cheaply.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .defaults import DEFAULTS, DEMO_SWR_IMAGES
from .faults import FAULT_KINDS, parse_fault_kinds
from .store import read_catalogue

READY_PREFIX = "mai-widgets ModelArts emulator listening on "


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
    swr_catalogue: frozenset[str] = field(default_factory=lambda: frozenset(DEMO_SWR_IMAGES))
    forbidden_namespace: str = DEFAULTS.forbidden_namespace
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULT_KINDS
    fault_seed: int | None = None
    slow_seconds: float = 5.0
    retry_after: int = 1
    token_ttl_seconds: float = 24 * 3600.0
    max_clock_skew_seconds: float = 900.0
    seed_images: int = 0
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
        "--max-clock-skew-seconds", type=_seconds, default=900.0, help="X-Sdk-Date tolerance (default 900)"
    )
    life = p.add_argument_group("image lifecycle")
    life.add_argument("--init-seconds", type=_seconds, default=DEFAULTS.init_seconds)
    life.add_argument("--creating-seconds", type=_seconds, default=DEFAULTS.creating_seconds)
    life.add_argument(
        "--swr-image", action="append", default=[], metavar="PATH", help="add an SWR path to the catalogue"
    )
    life.add_argument("--swr-catalogue", type=Path, metavar="FILE", help="file of SWR paths, one per line")
    life.add_argument("--forbidden-namespace", default=DEFAULTS.forbidden_namespace)
    life.add_argument("--seed-images", type=int, default=0, metavar="N", help="bulk-seed N ACTIVE images")
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
    catalogue = set(DEMO_SWR_IMAGES) | set(args.swr_image)
    if args.swr_catalogue is not None:
        try:
            catalogue |= set(read_catalogue(args.swr_catalogue.read_text(encoding="utf-8").splitlines()))
        except OSError as exc:
            parser.error(f"--swr-catalogue: cannot read {args.swr_catalogue}: {exc.strerror}")
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
        swr_catalogue=frozenset(catalogue),
        forbidden_namespace=args.forbidden_namespace,
        fault_rate=args.fault_rate,
        faults=args.faults,
        fault_seed=args.fault_seed,
        slow_seconds=args.slow_seconds,
        retry_after=args.retry_after,
        token_ttl_seconds=args.token_ttl_seconds,
        max_clock_skew_seconds=args.max_clock_skew_seconds,
        seed_images=args.seed_images,
        print_env=args.print_env,
    )
