"""Widget benchmarks (helper WIDGETS): panel start-up, following an image, and a notebook save.

``run()`` returns rows of ``{"name", "value", "unit", "goal", "ok"}``; ``make bench`` prints
them. Run alone: ``.venv/bin/python tests/benchmarks/widgets_bench.py [--creating-seconds 60]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from mai_widgets.emulator.defaults import DEMO_SWR_IMAGES
from mai_widgets.emulator.process import EmulatorProcess

Row = dict[str, Any]

_COLD_START = """
import time
t0 = time.perf_counter()
from mai_widgets import RegisterPanel
from mai_widgets.auth.config import load_config
panel = RegisterPanel(config=load_config(env={}, config_dirs=[]))
assert panel.register_button.disabled is not None and panel.reason.value
print(time.perf_counter() - t0)
"""


def _row(name: str, value: float, unit: str, goal: float | None) -> Row:
    if goal is None:  # a figure to read beside the others, with no goal of its own
        return {"name": name, "value": value, "unit": unit, "goal": "(info)", "ok": True}
    return {"name": name, "value": value, "unit": unit, "goal": f"<= {goal:g} {unit}", "ok": value <= goal}


def _bare_python(runs: int = 3) -> list[float]:
    def once() -> float:
        run = subprocess.run([sys.executable, "-c", _COLD_START], capture_output=True, text=True, check=True)
        return float(run.stdout)

    return [once() for _ in range(runs)]


def _fresh_kernels(runs: int = 3) -> list[float]:
    """The first ``RegisterPanel()`` of a fresh ipykernel, imports included (a user's first cell)."""
    import nbclient
    import nbformat

    times = []
    for _ in range(runs):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_COLD_START)])
        nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
        times.append(float(nb.cells[0].outputs[0]["text"]))
    return times


def panel_startup(repeats: int = 20) -> list[Row]:
    """Construction to a render-ready panel: in a fresh kernel, in a bare interpreter, and warm."""
    kernel = _fresh_kernels()
    bare = _bare_python()
    from mai_widgets import RegisterPanel
    from mai_widgets.auth.config import load_config

    config = load_config(env={}, config_dirs=[])
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        panel = RegisterPanel(config=config)
        warm.append(time.perf_counter() - t0)
        panel.close()
    return [
        _row(
            "first panel in a fresh kernel (import + build), median of 3", statistics.median(kernel), "s", 0.3
        ),
        # A bare interpreter also pays for importing IPython (ipywidgets needs it); a kernel has it loaded.
        _row("first panel in a bare python (import + build), median of 3", statistics.median(bare), "s", 0.3),
        _row(f"panel construction, warm, median of {repeats}", statistics.median(warm), "s", 0.3),
    ]


def follow_long_creating(creating_seconds: float = 60.0, init_seconds: float = 2.0) -> list[Row]:
    """Register through the panel; count status requests and time how late the view shows changes."""
    from mai_widgets import RegisterPanel
    from mai_widgets.auth.config import load_config
    from mai_widgets.auth.credentials import Credentials
    from mai_widgets.services.images import ImageClient

    with (
        tempfile.TemporaryDirectory() as data_dir,
        EmulatorProcess(data_dir, init_seconds=init_seconds, creating_seconds=creating_seconds) as emu,
    ):
        session = requests.Session()
        gets: list[str] = []  # the path of every GET: status reads, and the checks' SWR reads
        session.hooks["response"].append(
            lambda r, *a, **k: (
                gets.append(urlsplit(r.request.url or "").path) if r.request.method == "GET" else None
            )
        )
        config = load_config(env=emu.env(), config_dirs=[])  # the default poll schedule
        client = ImageClient(config, Credentials(ak=emu.ak, sk=emu.sk), session=session)
        panel = RegisterPanel(client=client, swr_path=DEMO_SWR_IMAGES[0])
        shown: dict[str, float] = {}
        lock = threading.Lock()

        def on_badge(change: Any) -> None:
            with lock:
                for status in ("INIT", "CREATING", "ACTIVE"):
                    if f">{status}<" in change["new"] and status not in shown:
                        shown[status] = time.time()

        panel.status_view.badge.observe(on_badge, names="value")
        panel.register_button.click()
        assert panel.controller.wait_settled(creating_seconds + init_seconds + 120)
        record = panel.controller.record
        assert record is not None and record.create_at is not None and str(record.status) == "ACTIVE"
        panel.close()
        created = record.create_at.timestamp()
        creating_at = created + init_seconds
        active_at = created + init_seconds + creating_seconds
        return [
            # Status reads are GETs of this image's record; the checks before Register read SWR
            # (and the list, for "already registered"), which the second row counts.
            _row(
                f"status requests while following ({creating_seconds:g} s CREATING)",
                sum(1 for path in gets if path.endswith(f"/images/{record.id}")),
                "requests",
                16,
            ),
            _row(
                "other GETs of the same registration (the checks' SWR and list reads)",
                sum(1 for path in gets if not path.endswith(f"/images/{record.id}")),
                "requests",
                None,
            ),
            _row("delay INIT -> CREATING shown", shown["CREATING"] - creating_at, "s", 5.0),
            _row("delay CREATING -> ACTIVE shown", shown["ACTIVE"] - active_at, "s", 5.0),
        ]


def follow_save(snapshot_seconds: float = 60.0, init_seconds: float = 2.0) -> list[Row]:
    """Save the demo instance through the Save notebook tab; time how late the tab shows the
    image's changes and the instance leaving SNAPSHOTTING (the default poll schedule)."""
    from mai_widgets.auth.config import load_config
    from mai_widgets.auth.credentials import Credentials
    from mai_widgets.services.images import ImageClient
    from mai_widgets.widgets.save_tab import SaveNotebookView

    with (
        tempfile.TemporaryDirectory() as data_dir,
        EmulatorProcess(
            data_dir,
            init_seconds=init_seconds,
            args=["--snapshot-seconds", str(snapshot_seconds)],
        ) as emu,
    ):
        config = load_config(env=emu.env(), config_dirs=[])  # the default poll schedule
        client = ImageClient(config, Credentials(ak=emu.ak, sk=emu.sk))
        view = SaveNotebookView(client)
        assert view.wait_idle(60) and view.controller.this_notebook_id, "the demo instance is this one"
        shown: dict[str, float] = {}
        lock = threading.Lock()

        def on_line(change: Any) -> None:
            # A badge is ">STATUS<" in the line; the path after it ("SNAPSHOTTING → RUNNING") is not.
            with lock:
                for status in ("CREATING", "ACTIVE", "RUNNING"):
                    if f">{status}<" in change["new"] and status not in shown:
                        shown[status] = time.time()

        view.image_state.observe(on_line, names="value")
        view.notebook_state.observe(on_line, names="value")
        view.name.value = "bench-env"
        assert view.save()
        assert view.controller.wait_settled(snapshot_seconds + 120)
        record = view.controller.record
        assert record is not None and record.create_at is not None and str(record.status) == "ACTIVE"
        view.close()
        # The emulator's schedule (emulator/notebooks.py): the image is CREATING after init_seconds
        # (at most half the snapshot), ACTIVE as the instance leaves SNAPSHOTTING.
        saved = record.create_at.timestamp()
        creating_at = saved + min(init_seconds, snapshot_seconds / 2)
        done_at = saved + snapshot_seconds
        label = f"({snapshot_seconds:g} s SNAPSHOTTING)"
        return [
            _row(f"save: image INIT -> CREATING shown {label}", shown["CREATING"] - creating_at, "s", 5.0),
            _row(f"save: image CREATING -> ACTIVE shown {label}", shown["ACTIVE"] - done_at, "s", 5.0),
            _row(f"save: instance leaving SNAPSHOTTING shown {label}", shown["RUNNING"] - done_at, "s", 5.0),
        ]


def run(creating_seconds: float = 60.0) -> list[Row]:
    return [*panel_startup(), *follow_long_creating(creating_seconds)]


def print_rows(rows: list[Row]) -> None:
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        value = f"{r['value']:.3f}" if isinstance(r["value"], float) else str(r["value"])
        print(
            f"{r['name']:<{width}}  {value:>8} {r['unit']:<8}  goal {r['goal']:<14} {'ok' if r['ok'] else 'MISSED'}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--creating-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    from run import compile_bytecode  # a sibling script

    compile_bytecode()
    print_rows(run(args.creating_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
