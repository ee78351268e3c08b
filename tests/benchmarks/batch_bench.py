"""Many images at once (``mai_widgets.batch``): plan and apply of 100 entries against an emulator
that answers every request 0.2 s late (``--latency``), so concurrency is what is measured.

``run()`` returns rows of ``{"name", "value", "unit", "goal", "ok"}`` as ``widgets_bench.run``
does. Run alone: ``.venv/bin/python tests/benchmarks/batch_bench.py``.

* The file: 100 entries, 10 repositories of 10 tags (a team's framework x version x arch set),
  each pushed to the emulator's SWR; a fresh session for plan and for apply (sign-in included).
* apply, concurrency 8: the ideal is ``100 x R x latency / 8`` plus the emulator's lifecycle
  (INIT + CREATING), where R is the requests each registration needs: one POST (the listing
  that finds what is registered, and the status reads, are shared by every entry). Goal: within
  1.5x of it.
* Client CPU per entry: this process's CPU time (every thread) during apply, divided by 100.
* plan of the same 100 entries (SWR checks included): goal 3 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from mai_widgets import batch
from mai_widgets.auth.config import load_config
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator.defaults import DEFAULTS
from mai_widgets.emulator.process import EmulatorProcess
from mai_widgets.services.session import Session

Row = dict[str, Any]
ENTRIES, REPOSITORIES = 100, 10
LATENCY, CONCURRENCY = 0.2, 8
INIT_SECONDS, CREATING_SECONDS = 0.3, 0.6
REQUESTS_PER_REGISTRATION = 1  # the POST
APPLY_GOAL_RATIO, PLAN_GOAL = 1.5, 3.0


def _paths() -> list[str]:
    per = ENTRIES // REPOSITORIES
    return [f"mai-batch/framework-{r:02d}:v{t:02d}" for r in range(REPOSITORIES) for t in range(per)]


def _session(emu: EmulatorProcess) -> Session:
    env = emu.env()
    return Session(load_config(env=env, config_dirs=[]), Credentials.from_env(env))


def run() -> list[Row]:
    paths = _paths()
    with tempfile.TemporaryDirectory(prefix="mai-batch-bench-") as tmp:
        catalogue = Path(tmp) / "catalogue.txt"
        catalogue.write_text("".join(f"{DEFAULTS.registry}/{p}\n" for p in paths))
        args = ["--latency", str(LATENCY), "--swr-catalogue", str(catalogue)]
        emu = EmulatorProcess(
            Path(tmp) / "emu", args=args, init_seconds=INIT_SECONDS, creating_seconds=CREATING_SECONDS
        )
        with emu:
            file = batch.BatchFile.of([{"swr_path": p} for p in paths], defaults={"arch": "X86_64"})
            session = _session(emu)
            try:
                started = time.perf_counter()
                planned = batch.plan(file, session=session)
                plan_wall = time.perf_counter() - started
            finally:
                session.close()
            assert planned.counts()["new"] == ENTRIES and not planned.counts()["blocked"], planned.counts()
            session = _session(emu)
            try:
                cpu, started = time.process_time(), time.perf_counter()
                result = batch.apply(file, session=session, concurrency=CONCURRENCY)
                apply_wall = time.perf_counter() - started
                apply_cpu = time.process_time() - cpu
            finally:
                session.close()
            assert result.ok and len(result.sent) == ENTRIES, result.counts()
    ideal = ENTRIES * REQUESTS_PER_REGISTRATION * LATENCY / CONCURRENCY + INIT_SECONDS + CREATING_SECONDS
    ratio = apply_wall / ideal
    label = f"{ENTRIES} entries, {LATENCY:g} s latency"
    return [
        {
            "name": f"batch apply, {label}, concurrency {CONCURRENCY}: wall (ideal {ideal:.2f} s)",
            "value": apply_wall,
            "unit": "s",
            "goal": f"{ratio:.2f}x of ideal / <= {APPLY_GOAL_RATIO:g}x",
            "ok": ratio <= APPLY_GOAL_RATIO,
        },
        {
            "name": f"batch apply, {label}: client CPU per entry",
            "value": apply_cpu / ENTRIES * 1000,
            "unit": "ms",
            "goal": "(info)",
            "ok": True,
        },
        {
            "name": f"batch plan, {label} (SWR checks included): wall",
            "value": plan_wall,
            "unit": "s",
            "goal": f"<= {PLAN_GOAL:g} s",
            "ok": plan_wall <= PLAN_GOAL,
        },
    ]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    for row in run():
        print(
            f"{row['name']}: {row['value']:.3f} {row['unit']} (goal {row['goal']}) {'ok' if row['ok'] else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
