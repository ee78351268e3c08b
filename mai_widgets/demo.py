"""``make demo``: a local ModelArts emulator and a JupyterLab pointed at it.

Both run until Ctrl-C. The emulator keeps its images in ``.emulator-data/`` so a demo can be
stopped and resumed; the credentials are the emulator's documented demo defaults.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from .emulator.process import EmulatorProcess


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mai_widgets.demo", description=__doc__)
    parser.add_argument("--data-dir", default=".emulator-data", help="where the emulator keeps its images")
    parser.add_argument("--lab-port", type=int, default=8888)
    parser.add_argument("--emulator-port", type=int, default=8765)
    parser.add_argument("--notebook-dir", default="notebooks")
    args = parser.parse_args(argv)

    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with EmulatorProcess(
        data_dir, port=args.emulator_port, init_seconds=2.0, creating_seconds=8.0
    ) as emulator:
        env = {**os.environ, **emulator.env()}
        lab_cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={args.lab_port}",
            f"--ServerApp.root_dir={Path(args.notebook_dir).resolve()}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            lab_cmd.append("--ServerApp.allow_root=True")
        print(f"Local ModelArts emulator: {emulator.url}", flush=True)
        print(
            "JupyterLab: starting; open the http://127.0.0.1 URL it prints below "
            "(the 'ModelArts images' panel is in the left side bar).",
            flush=True,
        )
        lab = subprocess.Popen(lab_cmd, env=env)
        try:
            return lab.wait()
        except KeyboardInterrupt:
            lab.send_signal(signal.SIGINT)
            try:
                lab.wait(timeout=10)
            except subprocess.TimeoutExpired:
                lab.kill()
            return 0


if __name__ == "__main__":
    sys.exit(main())
