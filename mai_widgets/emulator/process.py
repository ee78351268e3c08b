"""Run the emulator as a subprocess (for tests, benchmarks and ``make demo``).

``EmulatorProcess`` spawns ``sys.executable -m mai_widgets.emulator``, waits for its one
"listening on URL" line, and can SIGKILL it and start it again on the same port and data
directory, which is how tests prove that acknowledged registrations survive a crash.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, NoReturn
from urllib.parse import urlsplit

from .cli import READY_PREFIX, EmulatorSettings, parse_settings
from .defaults import DEFAULTS, notebook_id_for
from .store import ImageStore


def emulator_env(settings: EmulatorSettings, url: str) -> dict[str, str]:
    """The variables that point mai-widgets (and Huawei's SDK) at an emulator listening on ``url``."""
    return {
        "HUAWEICLOUD_SDK_AK": settings.ak,
        "HUAWEICLOUD_SDK_SK": settings.sk,
        "HUAWEICLOUD_SDK_PROJECT_ID": settings.project_id,
        "MAI_WIDGETS_ENDPOINT": url,
        "MAI_WIDGETS_IAM_ENDPOINT": url,
        "MAI_WIDGETS_REGION": settings.region,
        "MAI_WIDGETS_SWR_ENDPOINT": url,
        "MAI_WIDGETS_SWR_REGISTRY_ENDPOINT": url,
        # the demo notebook instance, as "this notebook" (saving it as an image)
        "MAI_WIDGETS_NOTEBOOK_ID": notebook_id_for(settings.project_id, DEFAULTS.demo_notebook),
    }


class EmulatorError(RuntimeError):
    """The emulator did not start (the message carries the tail of its stderr)."""


class EmulatorProcess:
    """A ModelArts emulator subprocess; a context manager that starts and stops it."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int = 0,
        args: Sequence[str] = (),
        init_seconds: float = 0.3,
        creating_seconds: float = 0.6,
        host: str = "127.0.0.1",
        startup_timeout: float = 30.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.startup_timeout = startup_timeout
        self._base_args = [
            "--host",
            host,
            "--data-dir",
            str(self.data_dir),
            "--init-seconds",
            str(init_seconds),
            "--creating-seconds",
            str(creating_seconds),
            *(str(a) for a in args),
        ]
        # The same parser the emulator uses, so .ak/.sk/... are what it really accepts.
        try:
            self.settings: EmulatorSettings = parse_settings([*self._base_args, "--port", str(port)])
        except SystemExit:
            raise EmulatorError("invalid emulator arguments (argparse's message is on stderr)") from None
        self._port = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self.url: str = ""

    # -- what clients need to know -----------------------------------------------------------

    @property
    def ak(self) -> str:
        return self.settings.ak

    @property
    def sk(self) -> str:
        return self.settings.sk

    @property
    def project_id(self) -> str:
        return self.settings.project_id

    @property
    def region(self) -> str:
        return self.settings.region

    @property
    def port(self) -> int:
        return self._port

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def env(self) -> dict[str, str]:
        """Environment variables that point mai-widgets (and Huawei's SDK) at this emulator."""
        self._require_running()
        return emulator_env(self.settings, self.url)

    def store(self) -> ImageStore:
        """Read-only access to the emulator's sqlite store (close it when done)."""
        return ImageStore(self.data_dir, readonly=True)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"EmulatorProcess({self.url or self.data_dir!s}, {state})"

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "mai_widgets.emulator", *self._base_args, "--port", str(self._port)]

    def start(self) -> EmulatorProcess:
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._close_stderr()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr, env=env
        )
        line = self._read_ready_line(self._proc)
        if not line.startswith(READY_PREFIX):
            self._abort(f"the emulator did not print its URL within {self.startup_timeout:g}s")
        self.url = line[len(READY_PREFIX) :].strip()
        port = urlsplit(self.url).port
        if port is None:
            self._abort(f"the emulator printed an unexpected line: {line!r}")
        self._port = int(port)
        return self

    def _read_ready_line(self, proc: subprocess.Popen[bytes]) -> str:
        assert proc.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        buffer = b""
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while b"\n" not in buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    break
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:  # the process exited
                    break
                buffer += chunk
        return buffer.split(b"\n", 1)[0].decode("utf-8", "replace")

    def _abort(self, reason: str) -> NoReturn:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        if self._proc is not None:
            self._proc.wait(timeout=10)
            code = self._proc.returncode
        else:
            code = None
        tail = self.stderr_text()[-4000:].strip()
        self._cleanup()
        raise EmulatorError(f"{reason} (exit code {code}); stderr:\n{tail or '(empty)'}")

    def stderr_text(self) -> str:
        """What the emulator wrote to stderr so far (for failure messages)."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM, then SIGKILL after ``timeout``)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._cleanup()

    def kill(self) -> None:
        """SIGKILL: no chance to flush or close anything (what a crash looks like)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(timeout=10)
        self._cleanup()

    def restart(self) -> EmulatorProcess:
        """Stop (if running) and start again on the same port and data directory."""
        self.stop()
        return self.start()

    def _require_running(self) -> None:
        if not self.url:
            raise EmulatorError("the emulator has not been started")

    def _cleanup(self) -> None:
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def close(self) -> None:
        """Stop and release the stderr capture file."""
        self.stop()
        self._close_stderr()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
