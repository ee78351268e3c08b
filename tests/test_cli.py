"""The ``mai-widgets`` console script, run as a process against the emulator: exit codes, plain
output, --json, and an apply stopped by a signal that a second apply finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from emulator_clients import registrations_per_path

from mai_widgets.emulator import DEFAULTS, EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
REG = DEFAULTS.registry
APPS = [f"mai-cli/app-{i:02d}:v1" for i in range(30)]


def cli_env(emu: EmulatorProcess | None, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAI_WIDGETS_", "HUAWEICLOUD_"))}
    env.update(
        {"PYTHONPATH": str(ROOT), "HOME": str(home), "MAI_WIDGETS_METADATA_ENDPOINT": "http://127.0.0.1:9"}
    )
    if emu is not None:
        env.update(emu.env())
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mai_widgets.cli", *args]


def run(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def emu(emulator_factory: Callable[..., EmulatorProcess], tmp_path: Path) -> EmulatorProcess:
    catalogue = tmp_path / "catalogue.txt"
    catalogue.write_text("".join(f"{REG}/{p}\n" for p in APPS))
    return emulator_factory(swr_catalogue=catalogue, latency=0.05)


def test_the_console_script_is_declared() -> None:
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, name = scripts["mai-widgets"].partition(":")
    assert callable(getattr(__import__(module, fromlist=[name]), name))


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    env = cli_env(None, tmp_path)
    (tmp_path / "broken.yaml").write_text("images:\n  - swr_path: my-org/a:1\n    arch: [X86_64\n")
    (tmp_path / "typo.yaml").write_text("images:\n  - swr_path: my-org/a:1\n    arh: X86_64\n")
    cases = {
        ("plan", "broken.yaml"): "broken.yaml line 4",
        ("apply", "typo.yaml"): "unknown key 'arh' (did you mean 'arch'?)",
        ("apply", "missing.yaml"): "cannot read it",
        ("apply", "typo.yaml", "--concurrency", "0"): "--concurrency: must be a whole number from 1 to 32",
        ("frobnicate",): "invalid choice",
    }
    for args, expected in cases.items():
        done = run(env, *args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and expected in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr and done.stdout == ""
    (tmp_path / "good.yaml").write_text("images:\n  - swr_path: my-org/a:1\n")
    no_credentials = run(env, "plan", "good.yaml", cwd=tmp_path)
    assert no_credentials.returncode == 2 and "HUAWEICLOUD_SDK_AK" in no_credentials.stderr
    assert "Traceback" not in no_credentials.stderr


def test_plan_apply_export_exit_codes_and_output(emu: EmulatorProcess, tmp_path: Path) -> None:
    env = cli_env(emu, tmp_path)
    lines = "".join(f"  - swr_path: {p}\n" for p in APPS[:5])
    (tmp_path / "images.yaml").write_text(f"defaults:\n  arch: X86_64\nimages:\n{lines}")
    (tmp_path / "missing.yaml").write_text("images:\n  - swr_path: mai-cli/not-pushed:v1\n")

    planned = run(env, "plan", "images.yaml", "--json", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["counts"]["new"] == 5
    assert planned.stderr.count("[") == 5  # a progress line per entry, on stderr with --json

    applied = run(env, "apply", "images.yaml", "--concurrency", "3", cwd=tmp_path)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "\x1b[" not in applied.stdout  # plain when stdout is not a terminal
    assert f"{REG}/{APPS[0]}: registering" in applied.stdout
    assert "5 images: 5 active; 5 registrations sent" in applied.stdout
    table = applied.stdout.split("\n\n")[1].splitlines()
    assert table[0].split() == ["#", "SWR", "path", "state", "image", "notes"] and len(table) == 6

    again = run(env, "apply", "images.yaml", "--json", cwd=tmp_path)
    assert again.returncode == 0 and json.loads(again.stdout)["counts"] == {"same": 5}
    assert json.loads(again.stdout)["sent"] == 0

    failed = run(env, "apply", "missing.yaml", cwd=tmp_path)
    assert failed.returncode == 1 and "failed" in failed.stdout and "was not found" in failed.stdout
    assert run(env, "plan", "missing.yaml", cwd=tmp_path).returncode == 1  # registered, and failed

    exported = run(env, "export", "--status", "ACTIVE", cwd=tmp_path)
    assert exported.returncode == 0 and exported.stderr == ""
    (tmp_path / "exported.yaml").write_text(exported.stdout)
    assert exported.stdout.count("swr_path:") == 5 and "not-pushed" not in exported.stdout
    replanned = run(env, "plan", "exported.yaml", "--json", cwd=tmp_path)
    assert replanned.returncode == 0 and json.loads(replanned.stdout)["counts"]["same"] == 5
    as_json = run(env, "export", "--json", cwd=tmp_path)
    assert len(json.loads(as_json.stdout)["images"]) == 6


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_apply_and_a_second_apply_finishes(
    emu: EmulatorProcess, tmp_path: Path, sig: signal.Signals
) -> None:
    env = cli_env(emu, tmp_path)
    (tmp_path / "images.yaml").write_text("images:\n" + "".join(f"  - swr_path: {p}\n" for p in APPS))
    proc = subprocess.Popen(
        command("apply", "images.yaml", "--concurrency", "2"),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(registrations_per_path(emu)) < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stdout + stderr
    assert f"{sig.name}: no new registrations are started" in stdout
    assert "stopped: apply the same file again to finish the rest" in stdout
    assert "Traceback" not in stderr
    sent = registrations_per_path(emu)
    assert 4 <= len(sent) < len(APPS) and set(sent.values()) == {1}
    assert f"{len(sent)} registrations sent" in stdout  # what was sent, reported

    second = run(env, "apply", "images.yaml", "--concurrency", "8", cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"{len(APPS) - len(sent)} registrations sent" in second.stdout
    assert registrations_per_path(emu) == {f"{REG}/{p}": 1 for p in APPS}  # complete, no duplicates
