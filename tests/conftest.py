"""Shared fixtures. Each section belongs to the helper that owns the module it serves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mai_widgets.emulator.process import EmulatorProcess

# -- emulator (helper EMULATOR) -----------------------------------------------------------------

# Fast lifecycle for tests: INIT 0.3 s, CREATING 0.6 s.
FAST_LIFECYCLE = {"init_seconds": 0.3, "creating_seconds": 0.6}
_PROCESS_KWARGS = ("init_seconds", "creating_seconds", "port", "data_dir", "host", "startup_timeout")


def _flag_args(options: dict[str, Any]) -> list[str]:
    """``fault_rate=0.5, swr_image=[a, b]`` → ``--fault-rate 0.5 --swr-image a --swr-image b``."""
    args: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            args += [flag, ",".join(item) if isinstance(item, (set, frozenset)) else str(item)]
    return args


@pytest.fixture
def emulator_factory(tmp_path: Path) -> Iterator[Callable[..., EmulatorProcess]]:
    """Start emulators with extra flags: ``emulator_factory(fault_rate=1, faults="503")``.

    Keyword names are the CLI flags with ``_`` for ``-``; ``init_seconds``, ``creating_seconds``,
    ``port`` and ``data_dir`` go to :class:`EmulatorProcess`. All are stopped at teardown.
    """
    started: list[EmulatorProcess] = []

    def start(**options: Any) -> EmulatorProcess:
        process_kwargs = {**FAST_LIFECYCLE, **{k: options.pop(k) for k in _PROCESS_KWARGS if k in options}}
        data_dir = process_kwargs.pop("data_dir", None) or tmp_path / f"emulator-{len(started)}"
        emu = EmulatorProcess(data_dir, args=_flag_args(options), **process_kwargs)
        started.append(emu)
        return emu.start()

    yield start
    for emu in started:
        emu.close()


@pytest.fixture
def emulator(emulator_factory: Callable[..., EmulatorProcess]) -> EmulatorProcess:
    """A fresh emulator for one test (fast lifecycle, its own data directory)."""
    return emulator_factory()
