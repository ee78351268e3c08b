"""``make demo``: a local ModelArts emulator and a JupyterLab pointed at it.

Both run until Ctrl-C, SIGTERM or SIGHUP (a closed terminal): each stops JupyterLab (and
with it its kernels) and then the emulator, so nothing is left listening. The emulator keeps
its images in ``.emulator-data/`` so a demo can be stopped and resumed; the credentials are
the emulator's documented demo defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from .emulator.defaults import DEFAULTS
from .emulator.process import EmulatorProcess

# How long JupyterLab gets to shut its kernels down after SIGTERM before it is killed.
LAB_STOP_SECONDS = 20.0
# The demo's JupyterLab settings: no "Would you like to get notified about official Jupyter
# news?" pop-up (the notification plugin asks while fetchNews is "none", its default).
LAB_SETTING_OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}
# Signals that stop the demo as Ctrl-C does: `kill PID`, a supervisor, a closed terminal.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mai_widgets.demo", description=__doc__)
    parser.add_argument("--data-dir", default=".emulator-data", help="where the emulator keeps its images")
    parser.add_argument("--lab-port", type=int, default=8888)
    parser.add_argument("--emulator-port", type=int, default=DEFAULTS.demo_port)
    parser.add_argument("--notebook-dir", default="notebooks")
    args = parser.parse_args(argv)

    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with _stop_signals(_raise_keyboard_interrupt):
        return _run(args, data_dir)


def _run(args: argparse.Namespace, data_dir: Path) -> int:
    emulator = EmulatorProcess(data_dir, port=args.emulator_port, init_seconds=2.0, creating_seconds=8.0)
    lab: subprocess.Popen[bytes] | None = None
    try:
        emulator.start()
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
            f"--LabApp.app_settings_dir={_lab_settings_dir(data_dir)}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            lab_cmd.append("--ServerApp.allow_root=True")
        # Its own session: a terminal's Ctrl-C reaches only this process, which stops JupyterLab
        # with SIGTERM (a SIGINT would make it ask "Shutdown this Jupyter server?").
        lab = subprocess.Popen(lab_cmd, env=env, start_new_session=True)
        if _wait_until_up(f"http://127.0.0.1:{args.lab_port}/api", lab):
            print(f"\nLocal ModelArts emulator: {emulator.url}", flush=True)
            print(f"JupyterLab:               {lab_url}", flush=True)
            print("Open JupyterLab; 'ModelArts images' is in the left side bar.", flush=True)
            print(
                f"Kernels see the demo notebook instance as 'this notebook' (saving it as an image):\n"
                f"  MAI_WIDGETS_NOTEBOOK_ID={emulator.env()['MAI_WIDGETS_NOTEBOOK_ID']}",
                flush=True,
            )
            print(
                "Scripts and terminals: point them at the emulator with\n"
                f'  eval "$({_python()} -m mai_widgets.emulator --print-env --port {emulator.port})"',
                flush=True,
            )
            print("Ctrl-C (or SIGTERM) stops JupyterLab, its kernels and the emulator.\n", flush=True)
        return lab.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        # From here on a second Ctrl-C or SIGTERM must not leave anything half-stopped.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        if lab is not None:
            _stop_lab(lab)
        emulator.close()


def _stop_lab(lab: subprocess.Popen[bytes]) -> None:
    """SIGTERM: JupyterLab shuts its kernels down and exits; killed if it takes too long."""
    if lab.poll() is not None:
        return
    lab.terminate()
    try:
        lab.wait(timeout=LAB_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        # Its kernels notice their parent is gone (JPY_PARENT_PID) and exit too.
        lab.kill()
        lab.wait(timeout=10)


def _lab_settings_dir(data_dir: Path) -> Path:
    """The demo's JupyterLab settings directory: the installed overrides plus the demo's own."""
    from jupyterlab.commands import get_app_dir  # type: ignore[import-untyped]

    overrides: dict[str, dict[str, object]] = {}
    installed = Path(get_app_dir()) / "settings" / "overrides.json"
    with contextlib.suppress(OSError, ValueError):
        overrides = json.loads(installed.read_text(encoding="utf-8"))
    for plugin, values in LAB_SETTING_OVERRIDES.items():
        overrides[plugin] = {**overrides.get(plugin, {}), **values}
    settings = data_dir / "lab-settings"
    settings.mkdir(exist_ok=True)
    (settings / "overrides.json").write_text(json.dumps(overrides, indent=2), encoding="utf-8")
    return settings


def _python() -> str:
    """How to run this Python, as short as it stays correct (``.venv/bin/python`` in a checkout)."""
    try:
        return os.path.relpath(sys.executable)
    except ValueError:
        return sys.executable


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def _stop_signals(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """Handle SIGTERM and SIGHUP (and Ctrl-C) with ``handler``; restore the previous handlers after."""
    signals = (signal.SIGINT, *STOP_SIGNALS)
    previous = {sig: signal.getsignal(sig) for sig in signals}
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)


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
