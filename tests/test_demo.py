"""``make demo`` stops cleanly on SIGTERM and SIGHUP, as on Ctrl-C: nothing is left running.

The demo runs for real (emulator, JupyterLab, a kernel) on free ports and a temporary data
directory; the test finds each process by its command line in /proc, sends the signal, and
then checks that every process has exited and every port is closed.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mai_widgets.emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds processes through /proc")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def pids_whose_command_has(*parts: str) -> set[int]:
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return {pid for pid in pids if all(part in cmdline(pid) for part in parts)}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


class Output:
    """A process's output, read from the pipe as it comes (no buffering that select cannot see)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.text = ""
        self.closed = False

    def _read(self, deadline: float) -> bool:
        """Read one chunk; False when the deadline passed or the pipe closed."""
        if self.closed:
            return False
        ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return False
        chunk = os.read(self.fd, 65536)
        if not chunk:
            self.closed = True
            return False
        self.text += chunk.decode("utf-8", "replace")
        return True

    def wait_for(self, pattern: str, seconds: float) -> re.Match[str]:
        deadline = time.monotonic() + seconds
        while True:
            m = re.search(pattern, self.text)
            if m:
                return m
            if not self._read(deadline):
                raise AssertionError(f"no {pattern!r} within {seconds:g}s; the demo printed:\n{self.text}")

    def drain(self, seconds: float) -> str:
        """Everything until the pipe closes (or ``seconds`` pass: a leftover child may hold it)."""
        deadline = time.monotonic() + seconds
        while self._read(deadline):
            pass
        return self.text


def get_json(url: str, method: str = "GET") -> dict[str, object]:
    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback URL built here)
        result: dict[str, object] = json.loads(response.read())
        return result


@pytest.fixture
def demo_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HUAWEICLOUD_", "MAI_WIDGETS_", "JUPYTER", "IPYTHON", "MAKE", "MFLAGS"))
    }
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        (tmp_path / name.lower()).mkdir()
        env[name] = str(tmp_path / name.lower())
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def leftovers() -> Iterator[set[int]]:
    """Pids the test saw; whatever still runs at the end is killed (and the test has failed)."""
    pids: set[int] = set()
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("launcher", "stop_signal"),
    [("python", signal.SIGTERM), ("python", signal.SIGHUP), ("make", signal.SIGTERM)],
    ids=["python-SIGTERM", "python-SIGHUP", "make-SIGTERM"],
)
def test_a_stop_signal_stops_jupyterlab_its_kernels_and_the_emulator(
    launcher: str,
    stop_signal: signal.Signals,
    tmp_path: Path,
    demo_env: dict[str, str],
    leftovers: set[int],
) -> None:
    lab_port, emulator_port = free_port(), free_port()
    data_dir = tmp_path / "emulator-data"
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    demo_args = [
        f"--data-dir={data_dir}",
        f"--lab-port={lab_port}",
        f"--emulator-port={emulator_port}",
        f"--notebook-dir={notebooks}",
    ]
    if launcher == "python":
        command = [sys.executable, "-m", "mai_widgets.demo", *demo_args]
    else:  # make's own target; the venv is installed already (-o: do not remake its stamp)
        python = Path(sys.executable)
        venv = python.parent.parent
        command = [
            "make",
            "--no-print-directory",
            "-o",
            str(venv / ".installed"),
            f"VENV={venv}",
            f"PY={python}",
            "demo",
            f"DEMO_ARGS={' '.join(demo_args)}",
        ]
    demo = subprocess.Popen(
        command,
        cwd=ROOT,
        env=demo_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = Output(demo)
    leftovers.add(demo.pid)
    try:
        m = output.wait_for(r"JupyterLab: +(http://127\.0\.0\.1:\d+/lab\?token=(\S+))", START_TIMEOUT)
        m2 = output.wait_for(r"--print-env --port (\d+)", 10)
        token = m.group(2)
        assert int(m2.group(1)) == emulator_port  # it says how to point a terminal at the emulator
        base = f"http://127.0.0.1:{lab_port}"

        # The news pop-up is off: the notification plugin's fetchNews defaults to "false" here.
        settings = get_json(
            f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}"
        )
        assert settings["schema"]["properties"]["fetchNews"]["default"] == "false"  # type: ignore[index]

        kernel_id = get_json(f"{base}/api/kernels?token={token}", method="POST")["id"]
        deadline = time.monotonic() + 60
        kernel_pids: set[int] = set()
        while not kernel_pids and time.monotonic() < deadline:
            kernel_pids = pids_whose_command_has(f"kernel-{kernel_id}.json")
            time.sleep(0.2)
        # Ready first (its sockets bound): a kernel stopped while still importing prints a traceback.
        (connection_file,) = re.findall(r"\S+kernel-[-\w]+\.json", cmdline(next(iter(kernel_pids))))
        shell_port = json.loads(Path(connection_file).read_text())["shell_port"]
        while not listening(shell_port):
            assert time.monotonic() < deadline, "the kernel did not bind its sockets"
            time.sleep(0.2)
        lab_pids = pids_whose_command_has("jupyterlab", f"--ServerApp.port={lab_port}")
        emulator_pids = pids_whose_command_has("mai_widgets.emulator", str(data_dir))
        demo_pids = pids_whose_command_has("mai_widgets.demo", f"--lab-port={lab_port}")
        for found in (kernel_pids, lab_pids, emulator_pids, demo_pids):
            assert len(found) == 1, (kernel_pids, lab_pids, emulator_pids, demo_pids)
            leftovers.update(found)
        assert listening(lab_port) and listening(emulator_port)

        demo.send_signal(stop_signal)
        code = demo.wait(timeout=STOP_TIMEOUT)
    finally:
        if demo.poll() is None:  # a failure above: stop it the way that works (SIGKILL would orphan)
            demo.terminate()
            try:
                demo.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                demo.kill()
        printed = output.drain(10)
    # The demo exits 0; make, once its recipe has ended, dies of the signal it received (and says so).
    assert code == (0 if launcher == "python" else -stop_signal), printed
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in leftovers):
        time.sleep(0.2)
    assert [pid for pid in leftovers if alive(pid)] == [], printed
    assert not listening(lab_port) and not listening(emulator_port)
    assert "Traceback" not in printed, printed


def test_print_env_points_a_shell_at_the_running_emulator(emulator: EmulatorProcess, tmp_path: Path) -> None:
    """``eval "$(python -m mai_widgets.emulator --print-env --port N)"``, then a script just works."""
    printed = subprocess.run(
        [sys.executable, "-m", "mai_widgets.emulator", "--print-env", "--port", str(emulator.port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert printed.startswith("# The local ModelArts emulator's demo values")
    exports = [line for line in printed.splitlines() if line.startswith("export ")]
    assert {line.split("=", 1)[0][len("export ") :] for line in exports} == set(emulator.env())
    (tmp_path / "register.py").write_text(
        "from mai_widgets.services.images import ImageClient\n"
        "client = ImageClient()\n"
        "print(client.endpoint_description)\n"
        "print(client.register(swr_path='swr.cn-north-4.myhuaweicloud.com/mai-demo/sklearn:1.5.0').status)\n",
        encoding="utf-8",
    )
    script = (
        f'eval "$({sys.executable} -m mai_widgets.emulator --print-env --port {emulator.port})"\n'
        f"{sys.executable} {tmp_path / 'register.py'}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "MAI_WIDGETS_"))}
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert f"local ModelArts emulator at {emulator.url}" in done.stdout and "INIT" in done.stdout


def test_print_env_never_prints_credentials_that_are_not_the_demo_values() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "mai_widgets.emulator", "--print-env", "--sk", "a-real-looking-secret-key"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "a-real-looking-secret-key" not in printed
    assert "# HUAWEICLOUD_SDK_SK: not the demo value, so not printed" in printed
    assert "export MAI_WIDGETS_ENDPOINT=http://127.0.0.1:8765" in printed  # the demo's port by default


def test_the_readme_python_example_does_what_it_says(
    emulator_factory: Callable[..., EmulatorProcess], tmp_path: Path
) -> None:
    """The README's Python API example, run against the emulator, prints what its text promises."""
    # The demo's lifecycle in miniature: each status lasts several polls.
    emulator = emulator_factory(init_seconds=1.0, creating_seconds=2.0)
    (tmp_path / "mai_widgets_config.py").write_text(
        "c.MaiConfig.poll_initial = 0.2\nc.MaiConfig.poll_max = 0.4\n", encoding="utf-8"
    )
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Python API") :]
    code = section[section.index("```python\n") + len("```python\n") : section.index("```\n", 10)]
    assert "mai-demo/lightgbm:4.5.0" in code
    promised = re.search(r"this prints (.+?) then `settled ACTIVE`", " ".join(section.split()))
    assert promised is not None
    (tmp_path / "example.py").write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "MAI_WIDGETS_"))}
    env.update(emulator.env())
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "example.py")], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    statuses = re.findall(r"`([A-Z_]+)`", promised.group(1))
    assert done.stdout.splitlines() == [*statuses, "settled ACTIVE"]
