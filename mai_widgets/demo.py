"""``make demo``: a local ModelArts emulator and a JupyterLab pointed at it.

Both run until Ctrl-C. The emulator keeps its images in ``.emulator-data/`` so a demo can be
stopped and resumed; the credentials are the emulator's documented demo defaults.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
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
        token = secrets.token_urlsafe(24)
        lab_url = f"http://127.0.0.1:{args.lab_port}/lab?token={token}"
        lab_cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={args.lab_port}",
            f"--ServerApp.root_dir={Path(args.notebook_dir).resolve()}",
            # a busy port fails loudly rather than moving to one the printed URL does not name
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            lab_cmd.append("--ServerApp.allow_root=True")
        lab = subprocess.Popen(lab_cmd, env=env)
        try:
            if _wait_until_up(f"http://127.0.0.1:{args.lab_port}/api", lab):
                print(f"\nLocal ModelArts emulator: {emulator.url}", flush=True)
                print(f"JupyterLab:               {lab_url}", flush=True)
                print("Open JupyterLab; 'ModelArts images' is in the left side bar. Ctrl-C stops both.\n")
            return lab.wait()
        except KeyboardInterrupt:
            lab.send_signal(signal.SIGINT)
            try:
                lab.wait(timeout=10)
            except subprocess.TimeoutExpired:
                lab.kill()
            return 0


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 120.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (a loopback http URL we built)
                return True
        except OSError:
            time.sleep(0.5)
    return False


if __name__ == "__main__":
    sys.exit(main())
