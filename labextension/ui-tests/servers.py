"""Start a local ModelArts emulator and a JupyterLab that uses it, run a command, stop both.

    python servers.py -- jlpm playwright test

JupyterLab gets the emulator's variables (credentials, endpoints, region), so every kernel it
starts, the side panel's included, talks to the emulator. Everything lives in a temporary
directory that is removed afterwards; JupyterLab and its kernels are stopped, then killed
as a process group if they linger. The command gets TARGET_URL (JupyterLab's URL),
MAI_EMULATOR_URL, and MAI_PYTHON (this Python, for the scripts the tests run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from mai_widgets.emulator.process import EmulatorProcess

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (an http URL we built)
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"JupyterLab did not answer at {url} within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM lets the server shut its kernels down; the process group is killed after that."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


# A save keeps the instance SNAPSHOTTING this long: short, yet long enough for the kernel's first
# two polls (after 1 s and 2.5 s) to see SNAPSHOTTING and CREATING on a loaded machine (twice
# what an idle machine needs: CI runs the browser, JupyterLab and the kernel on two cores).
SNAPSHOT_SECONDS = 8.0
# Besides the demo instance (RUNNING, ip 127.0.0.1): another RUNNING one, on an address that is
# never this machine's (TEST-NET-2), which the Save tab lists but must not take for "this one";
# and a STOPPED one, which it must not list.
OTHER_NOTEBOOKS = ("mai-colleague-notebook:RUNNING:198.51.100.7", "mai-stopped-notebook:STOPPED:198.51.100.8")
EMULATOR_ARGS = (
    "--snapshot-seconds",
    str(SNAPSHOT_SECONDS),
    *(arg for seed in OTHER_NOTEBOOKS for arg in ("--notebook", seed)),
)


def kernel_env(emulator_env: dict[str, str]) -> dict[str, str]:
    """The emulator's variables, without the one naming the demo instance as "this notebook".

    Inside ModelArts no variable carries the instance's own id (issue 16), so a kernel there
    finds its instance by address, or the user picks it; the browser tests take that road: the
    demo instance's ip (loopback, as the emulator is local) tells it.
    """
    return {k: v for k, v in emulator_env.items() if k != "MAI_WIDGETS_NOTEBOOK_ID"}


def add_kernel_without_mai_widgets(data_dir: Path) -> None:
    """A kernel spec whose Python cannot import mai_widgets (see fixtures/without-mai-widgets)."""
    spec_dir = data_dir / "kernels" / "python3-without-mai-widgets"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (without mai-widgets)",
        "language": "python",
        "env": {"PYTHONPATH": str(HERE / "fixtures" / "without-mai-widgets")},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--log", type=Path, default=HERE / "artifacts" / "jupyterlab.log")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --")

    args.log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mai-ui-tests-") as tmp:
        work = Path(tmp)
        for sub in ("root", "config", "runtime", "ipython", "data"):
            (work / sub).mkdir()
        add_kernel_without_mai_widgets(work / "data")
        # Demo timings shortened so a registration or a save settles within seconds.
        with EmulatorProcess(
            work / "emulator", init_seconds=0.5, creating_seconds=1.5, args=EMULATOR_ARGS
        ) as emulator:
            port = args.lab_port or free_port()
            env = {
                **os.environ,
                **kernel_env(emulator.env()),
                "MAI_UI_PORT": str(port),
                "MAI_UI_ROOT": str(work / "root"),
                # isolated from the user's Jupyter and IPython settings
                "JUPYTER_CONFIG_DIR": str(work / "config"),
                "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
                "JUPYTER_DATA_DIR": str(work / "data"),
                "IPYTHONDIR": str(work / "ipython"),
                "JUPYTER_PLATFORM_DIRS": "1",
            }
            lab_url = f"http://127.0.0.1:{port}"
            with args.log.open("wb") as log:
                lab = subprocess.Popen(
                    [sys.executable, "-m", "jupyterlab", "--config", str(HERE / "jupyter_server_config.py")],
                    env=env,
                    cwd=work / "root",
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                try:
                    wait_for_http(f"{lab_url}/lab", lab, timeout=180)
                    print(f"emulator {emulator.url}, JupyterLab {lab_url} (log: {args.log})", flush=True)
                    # MAI_PYTHON: the tests run scripts (push an image, register one) with this Python
                    run_env = {
                        **env,
                        "TARGET_URL": lab_url,
                        "MAI_EMULATOR_URL": emulator.url,
                        "MAI_PYTHON": sys.executable,
                    }
                    return subprocess.call(command, env=run_env)
                finally:
                    stop(lab)


if __name__ == "__main__":
    sys.exit(main())
