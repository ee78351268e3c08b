"""kernel.threads: the one module for work off the kernel's main thread."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from mai_widgets.kernel.threads import start_thread


def test_threads_imports_nothing_above_it() -> None:
    # The controller builds on threads; threads importing it back would be a circle.
    code = (
        "import sys, mai_widgets.kernel.threads\n"
        "assert 'mai_widgets.kernel.controller' not in sys.modules, 'threads imports the controller'\n"
        "assert 'ipywidgets' not in sys.modules, 'threads imports ipywidgets'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_failing_thread_logs_for_developers_and_prints_no_traceback(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise KeyError("a bug")

    with caplog.at_level(logging.DEBUG, logger="mai_widgets.kernel.threads"):
        thread = start_thread(broken, "mai-widgets-test-broken")
        thread.join(5)
    assert not thread.is_alive() and thread.daemon and thread.name == "mai-widgets-test-broken"
    assert "Traceback" not in capsys.readouterr().err  # threading's excepthook never ran
    assert any("mai-widgets-test-broken failed" in r.getMessage() for r in caplog.records)
