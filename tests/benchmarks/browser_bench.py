"""Images tab benchmarks (helper BROWSER): first rows, a name filter, and kernel responsiveness.

``run()`` returns rows of ``{"name", "value", "unit", "goal", "ok"}``; ``make bench`` prints
them. Run alone: ``.venv/bin/python tests/benchmarks/browser_bench.py``.

* First rows and the name filter are timed in this process (widgets on comm's DummyComm):
  from the moment the Images tab is selected (or the typing pause ends) to the rows' widget
  values being set, which is when the kernel sends them to the browser. The browser's own
  paint is not included.
* Responsiveness is measured in a real ipykernel (jupyter_client): the round trip of a
  trivial cell while an ImageBrowser in that kernel follows 50 images that stay INIT.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mai_widgets.emulator.defaults import DEFAULTS
from mai_widgets.emulator.process import EmulatorProcess

Row = dict[str, Any]
SEEDED = 10_000
FOLLOWED = 50


def _row(name: str, value: float, unit: str, goal: float) -> Row:
    return {"name": name, "value": value, "unit": unit, "goal": f"<= {goal:g} {unit}", "ok": value <= goal}


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def first_rows_and_filter(repeats: int = 5) -> list[Row]:
    """Open the Images tab of a Workbench over 10,000 images; then filter by name."""
    from mai_widgets import Workbench
    from mai_widgets.auth.config import load_config
    from mai_widgets.auth.credentials import Credentials
    from mai_widgets.services.images import ImageClient
    from mai_widgets.widgets.workbench import IMAGES_TAB

    with (
        tempfile.TemporaryDirectory() as data_dir,
        EmulatorProcess(data_dir, args=["--seed-images", str(SEEDED)]) as emu,
    ):
        config = load_config(env=emu.env(), config_dirs=[])
        first: list[float] = []
        filtered: list[float] = []
        for i in range(repeats):
            bench = Workbench(ImageClient(config, Credentials(ak=emu.ak, sk=emu.sk)))
            t0 = time.perf_counter()
            bench.selected_index = IMAGES_TAB
            assert bench.browser.wait_idle(30)
            first.append(time.perf_counter() - t0)
            assert len(bench.browser.rows_box.children) == 200 and bench.browser.total == SEEDED
            browser = bench.browser
            browser.name_text.value = f"bench-{i:02d}"
            t0 = time.perf_counter()
            browser.debouncer.flush()  # the end of the typing pause
            assert browser.wait_idle(30)
            filtered.append(time.perf_counter() - t0)
            assert browser.total == 100 and len(browser.rows_box.children) == 100
            bench.close()
    return [
        _row(
            f"first rows after opening the Images tab, {SEEDED:,} images (kernel side), median of {repeats}",
            statistics.median(first),
            "s",
            1.0,
        ),
        _row(
            f"name filter applied after the {0.3:g} s typing pause (kernel side), median of {repeats}",
            statistics.median(filtered),
            "s",
            0.5,
        ),
    ]


_KERNEL_SETUP = """
from mai_widgets import ImageBrowser
browser = ImageBrowser()
assert browser.wait_idle(60)
import time
deadline = time.monotonic() + 30
while len(browser.follower.ids) < {followed} and time.monotonic() < deadline:
    time.sleep(0.1)
print(len(browser.records), len(browser.follower.ids))
"""


def _kernel_round_trips(
    emu: EmulatorProcess, config_dir: Path, cells: int, pause: float
) -> tuple[list[float], str]:
    import os

    from jupyter_client.manager import start_new_kernel

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "MAI_WIDGETS_"))}
    env.update(emu.env())
    env["JUPYTER_CONFIG_DIR"] = str(config_dir)
    km, kc = start_new_kernel(kernel_name="python3", env=env, startup_timeout=120)
    try:
        outputs: list[str] = []

        def collect(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                outputs.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                outputs.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

        baseline: list[float] = []
        for _ in range(cells // 3):
            t0 = time.perf_counter()
            kc.execute_interactive("pass", timeout=30, output_hook=lambda msg: None)
            baseline.append(time.perf_counter() - t0)
            time.sleep(pause)
        reply = kc.execute_interactive(
            _KERNEL_SETUP.format(followed=FOLLOWED), timeout=120, output_hook=collect
        )
        assert reply["content"]["status"] == "ok", outputs
        times: list[float] = []
        for _ in range(cells):
            t0 = time.perf_counter()
            kc.execute_interactive("pass", timeout=30, output_hook=lambda msg: None)
            times.append(time.perf_counter() - t0)
            time.sleep(pause)
        check: list[str] = []
        kc.execute_interactive(
            "print(browser.follower.rounds, browser.follower.requests)",
            timeout=30,
            output_hook=lambda msg: (
                check.append(msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None
            ),
        )
        kc.execute_interactive("browser.close()", timeout=30)
        seen = "".join(outputs).strip() + " | rounds, requests: " + "".join(check).strip()
        return baseline, times, seen
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def kernel_responsiveness(cells: int = 300, pause: float = 0.05) -> list[Row]:
    """p95 round trip of ``pass`` while the kernel's browser follows 50 images that stay INIT."""
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory() as data_dir,
        EmulatorProcess(Path(data_dir) / "emu", init_seconds=3600, creating_seconds=3600) as emu,
    ):
        from mai_widgets.auth.config import load_config
        from mai_widgets.auth.credentials import Credentials
        from mai_widgets.services.images import ImageClient

        client = ImageClient(load_config(env=emu.env(), config_dirs=[]), Credentials(ak=emu.ak, sk=emu.sk))
        for i in range(FOLLOWED):  # not in the SWR catalogue: INIT for an hour, then CREATE_FAILED
            client.register(swr_path=f"{DEFAULTS.registry}/mai-bench/follow-{i:02d}:1.0")
        client.close()
        schedules = {
            "the default poll schedule": "",
            "a fast poll schedule (0.2 s to 0.5 s)": "c.MaiConfig.poll_initial = 0.2\nc.MaiConfig.poll_max = 0.5\n",
        }
        for label, text in schedules.items():
            config_dir = Path(data_dir) / f"config-{len(rows)}"
            config_dir.mkdir()
            (config_dir / "mai_widgets_config.py").write_text(text, encoding="utf-8")
            baseline, times, seen = _kernel_round_trips(emu, config_dir, cells, pause)
            print(f"  ({label}) loaded, followed: {seen}", file=sys.stderr)
            if not rows:
                rows.append(
                    _row(
                        f"trivial cell round trip, p95 of {len(baseline)}, same kernel before the browser",
                        _p95(baseline) * 1000,
                        "ms",
                        50,
                    )
                )
            rows.append(
                _row(
                    f"trivial cell round trip, p95 of {cells}, browser following {FOLLOWED} images ({label})",
                    _p95(times) * 1000,
                    "ms",
                    50,
                )
            )
    return rows


def run() -> list[Row]:
    return [*first_rows_and_filter(), *kernel_responsiveness()]


def print_rows(rows: list[Row]) -> None:
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        value = f"{r['value']:.3f}" if isinstance(r["value"], float) else str(r["value"])
        print(
            f"{r['name']:<{width}}  {value:>8} {r['unit']:<4}  goal {r['goal']:<10} {'ok' if r['ok'] else 'MISSED'}"
        )


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    print_rows(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
