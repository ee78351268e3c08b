"""The JupyterLab side panel ships inside the Python package: checks of the build and the wheel.

The browser tests of the panel itself are Galata tests (labextension/ui-tests, `make ui-test`);
its TypeScript logic has jest tests (`make jstest`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import mai_widgets

ROOT = Path(__file__).resolve().parent.parent
LABEXTENSION = ROOT / "labextension"
PACKAGE_JSON = json.loads((LABEXTENSION / "package.json").read_text())
EXTENSION_NAME = "mai-widgets"


def test_npm_package_matches_the_python_package() -> None:
    assert PACKAGE_JSON["name"] == EXTENSION_NAME
    assert PACKAGE_JSON["version"] == mai_widgets.__version__
    assert mai_widgets._jupyter_labextension_paths() == [{"src": "labextension", "dest": EXTENSION_NAME}]
    assert PACKAGE_JSON["jupyterlab"]["outputDir"] == "../mai_widgets/labextension"
    # The widget packages are JupyterLab's own singletons, never a second copy in our bundle.
    shared = PACKAGE_JSON["jupyterlab"]["sharedPackages"]
    for name in ("@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/jupyterlab-manager"):
        assert shared[name] == {"bundled": False, "singleton": True}


def test_settings_schema_defaults_to_the_default_python_kernel() -> None:
    schema = json.loads((LABEXTENSION / "schema" / "plugin.json").read_text())
    assert schema["properties"]["kernelName"]["default"] == ""
    assert schema["additionalProperties"] is False


def test_lock_files_are_committed_for_reproducible_installs() -> None:
    for folder in (LABEXTENSION, LABEXTENSION / "ui-tests"):
        lock = (folder / "yarn.lock").read_text()
        assert "__metadata" in lock
        # checksums pin every package; no registry host is written down
        assert "checksum:" in lock
        assert "://" not in lock


def test_the_extension_is_installed_and_enabled() -> None:
    """`pip install` built labextension/ into the package and JupyterLab finds it."""
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    listing = (result.stdout + result.stderr).replace("\x1b[32m", "").replace("\x1b[0m", "")
    line = next((ln for ln in listing.splitlines() if ln.strip().startswith(f"{EXTENSION_NAME} ")), None)
    assert line is not None, listing
    assert f"v{mai_widgets.__version__}" in line
    assert "enabled" in line
    assert "OK" in line


@pytest.mark.slow
def test_the_wheel_carries_the_built_extension(tmp_path: Path) -> None:
    """A wheel holds the compiled extension and install.json, so installing it needs no Node."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=900,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("mai_widgets-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = f"mai_widgets-{mai_widgets.__version__}.data/data/share/jupyter/labextensions/{EXTENSION_NAME}"
    assert f"{data}/package.json" in names
    assert f"{data}/install.json" in names
    assert f"{data}/schemas/{EXTENSION_NAME}/plugin.json" in names
    assert f"{data}/static/style.js" in names
    assert any(n.startswith(f"{data}/static/remoteEntry.") and n.endswith(".js") for n in names)
    install = json.loads(zipfile.ZipFile(wheel).read(f"{data}/install.json"))
    assert install["packageName"] == EXTENSION_NAME
    assert install["packageManager"] == "python"
    # TypeScript sources and node_modules stay out of the wheel.
    assert not [n for n in names if n.endswith(".ts") or "node_modules" in n]
