"""SWR benchmarks (helper SWR): picker lists with 1,000 repositories and 200 tags, and a preflight
of a complete path, against the local emulator.

``run(quick=False)`` returns rows of ``{"name", "value", "unit", "goal", "ok"}`` as
``widgets_bench.run`` does. Run alone: ``.venv/bin/python tests/benchmarks/swr_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from mai_widgets.auth.config import load_config
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.services.images import ImageClient
from mai_widgets.services.preflight import check
from mai_widgets.services.swr import SwrClient

Row = dict[str, Any]
REPOS, TAGS = 1000, 200


def _row(name: str, value: float, unit: str, goal: float) -> Row:
    return {"name": name, "value": value, "unit": unit, "goal": f"<= {goal:g} {unit}", "ok": value <= goal}


def _median(action: Callable[[], object], runs: int) -> float:
    action()  # warm: sign-in, connections, the temporary login
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(quick: bool = False) -> list[Row]:
    runs = 3 if quick else 9
    args = ["--swr-seed-repos", str(REPOS), "--swr-seed-tags", str(TAGS)]
    with EmulatorProcess(tempfile.mkdtemp(prefix="mai-swr-bench-"), args=args) as emu:
        env = emu.env()
        client = ImageClient(load_config(env=env, config_dirs=[]), Credentials.from_env(env))
        swr = SwrClient(client=client)
        repos = _median(lambda: swr.repositories("mai-bench"), runs)
        assert len(swr.repositories("mai-bench")) == REPOS
        tags = _median(lambda: swr.tags("mai-bench", "app-0000"), runs)
        assert len(swr.tags("mai-bench", "app-0000")) == TAGS

        def cold_preflight() -> object:
            # a fresh SwrClient each time: temporary login and token included, as the panel's first check
            return check("mai-demo/tensorflow:2.15.0", arch="AARCH64", services=["NOTEBOOK"], client=client)

        preflight = _median(cold_preflight, runs)
    return [
        _row(f"SWR picker: list {REPOS:,} repositories (all pages), median of {runs}", repos, "s", 0.5),
        _row(f"SWR picker: list {TAGS} tags, median of {runs}", tags, "s", 0.5),
        _row(
            "preflight of a complete path (new SwrClient: login, token, manifests, config)",
            preflight,
            "s",
            1.0,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    for row in run(quick=parser.parse_args().quick):
        print(
            f"{row['name']}: {row['value']:.3f} {row['unit']} (goal {row['goal']}) {'ok' if row['ok'] else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
