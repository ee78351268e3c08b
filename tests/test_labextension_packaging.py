"""The JupyterLab side panel ships inside the Python package: checks of the build and the wheel.

The browser tests of the panel itself are Galata tests (labextension/ui-tests, `make ui-test`);
its TypeScript logic has jest tests (`make jstest`).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import mai_widgets

ROOT = Path(__file__).resolve().parent.parent
LABEXTENSION = ROOT / "labextension"
PACKAGE_JSON = json.loads((LABEXTENSION / "package.json").read_text())
EXTENSION_NAME = "mai-widgets"
BUILT_PACKAGE_JSON = ROOT / "mai_widgets" / "labextension" / "package.json"


def project_dependencies() -> dict[str, Requirement]:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [Requirement(text) for text in project["dependencies"]]
    return {canonicalize_name(r.name): r for r in requirements}


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


# -- the declared dependencies -----------------------------------------------------------------------


def imported_top_level_modules() -> set[str]:
    """Every module mai_widgets imports that is neither the standard library nor itself (the build's
    own hook, which the wheel leaves out, runs where hatchling is)."""
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    left_out = {ROOT / p for p in pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["exclude"]}
    found: set[str] = set()
    for path in (ROOT / "mai_widgets").rglob("*.py"):
        if path in left_out:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "mai_widgets"}


def test_every_imported_package_is_a_declared_dependency() -> None:
    declared = project_dependencies()
    by_module = importlib.metadata.packages_distributions()
    modules = imported_top_level_modules()
    assert {"tornado", "jupyter_core", "IPython", "ipywidgets", "requests", "traitlets"} <= modules
    for module in sorted(modules):
        distributions = {canonicalize_name(d) for d in by_module.get(module, [])}
        assert distributions & set(declared), f"{module} is imported but none of {distributions} is declared"


# -- the JupyterLab range ------------------------------------------------------------------------------

# @jupyterlab/services is versioned three majors ahead of JupyterLab (JupyterLab 4.x ships services 7.x).
_MAJOR_OFFSET = {"@jupyterlab/services": 3}


def _version(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in re.fullmatch(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", text).groups(default="0")]  # type: ignore[union-attr]
    return (parts[0], parts[1], parts[2])


def semver_accepts(npm_range: str, version: tuple[int, int, int]) -> bool:
    """npm's range grammar, the parts package.json files here use: ^, ~, >=, <, exact, ||."""
    for alternative in npm_range.split("||"):
        ok = True
        for term in alternative.split():
            m = re.fullmatch(r"(\^|~|>=|<=|>|<|=)?v?(\d+(?:\.\d+){0,2})", term)
            assert m is not None, f"unsupported range term {term!r} in {npm_range!r}"
            op, low = m.group(1) or "=", _version(m.group(2))
            if op == "^":
                high = (low[0] + 1, 0, 0) if low[0] else (0, low[1] + 1, 0)
                ok &= low <= version < high
            elif op == "~":
                ok &= low <= version < (low[0], low[1] + 1, 0)
            else:
                ok &= {
                    ">=": version >= low,
                    "<=": version <= low,
                    ">": version > low,
                    "<": version < low,
                    "=": version == low,
                }[op]
        if ok:
            return True
    return False


def test_semver_ranges_are_read_as_npm_reads_them() -> None:
    assert semver_accepts("^4.6.0", (4, 6, 0)) and semver_accepts("^4.6.0", (4, 99, 1))
    assert not semver_accepts("^4.6.0", (4, 5, 9)) and not semver_accepts("^4.6.0", (5, 0, 0))
    assert semver_accepts("~4.2.1", (4, 2, 9)) and not semver_accepts("~4.2.1", (4, 3, 0))
    assert semver_accepts(">=4.0.0 <5", (4, 0, 0)) and not semver_accepts(">=4.0.0 <5", (5, 0, 0))
    assert semver_accepts("^3.0.0 || ^4.0.0", (4, 1, 0))


def test_the_declared_jupyterlab_range_is_what_the_built_extension_accepts() -> None:
    """pip lets in every JupyterLab the side panel's shared packages accept, and no other."""
    jupyterlab = project_dependencies()["jupyterlab"]
    lower = [s.version for s in jupyterlab.specifier if s.operator == ">="]
    upper = [s.version for s in jupyterlab.specifier if s.operator == "<"]
    assert len(lower) == 1 and upper == ["5"], jupyterlab
    oldest = _version(lower[0])
    built = json.loads(BUILT_PACKAGE_JSON.read_text(encoding="utf-8"))
    ranges = {n: r for n, r in built["dependencies"].items() if n.startswith("@jupyterlab/")}
    assert ranges, built["dependencies"]
    for name, npm_range in ranges.items():
        offset = _MAJOR_OFFSET.get(name, 0)

        def shifted(v: tuple[int, int, int], offset: int = offset) -> tuple[int, int, int]:
            return (v[0] + offset, v[1], v[2])

        # The oldest JupyterLab pip allows provides a version of each package the extension accepts...
        assert semver_accepts(npm_range, shifted(oldest)), f"{name} {npm_range} refuses JupyterLab {oldest}"
        # ...and so does every later 4.x, so pip's upper bound (<5) is not a lock-out either.
        assert semver_accepts(npm_range, shifted((4, 99, 0))), f"{name} {npm_range} refuses later 4.x"
        # The range is as tight as the extension: one minor older is refused, so pip must refuse it too.
        if oldest[1] > 0:
            assert not semver_accepts(npm_range, shifted((oldest[0], oldest[1] - 1, 99)))
    assert mai_widgets.__version__ == built["version"]
