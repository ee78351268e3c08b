"""Every example notebook runs top to bottom against a local emulator, and leaks no secret.

Each notebook gets its own emulator (fast lifecycle, so images reach ACTIVE within a cell)
and a kernel whose environment points at it. The executed notebook, outputs and saved
widget state included, is then searched for every secret the kernel could have seen.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from mai_widgets.emulator.defaults import DEFAULTS, notebook_id_for
from mai_widgets.emulator.process import EmulatorProcess

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
CELL_TIMEOUT = 180  # seconds for one cell; the slowest waits for an image to become ACTIVE
STARTUP_TIMEOUT = 120  # seconds for the kernel to start on a loaded CI machine


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notebooks_generate", NOTEBOOK_DIR / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kernel_env(emulator: EmulatorProcess, tmp_path: Path) -> dict[str, str]:
    """This process's environment minus any real credential or setting, plus the emulator's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "MAI_WIDGETS_"))}
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    (config_dir / "mai_widgets_config.py").write_text(
        "c.MaiConfig.poll_initial = 0.2\nc.MaiConfig.poll_max = 0.5\n", encoding="utf-8"
    )
    ipython_dir = tmp_path / "ipython"  # no user profile (startup files, auto-loaded extensions)
    ipython_dir.mkdir()
    env.update(emulator.env())
    env.update({"JUPYTER_CONFIG_DIR": str(config_dir), "IPYTHONDIR": str(ipython_dir)})
    return env


def secrets(emulator: EmulatorProcess) -> dict[str, str]:
    return {
        "AK": emulator.ak,
        "SK": emulator.sk,
        "temporary SK": DEFAULTS.temp_sk,
        "security token": DEFAULTS.security_token,
        "IAM password": DEFAULTS.iam_password,
    }


def issued_tokens(emulator: EmulatorProcess) -> list[str]:
    """IAM tokens the emulator handed out (none, unless a notebook signed in with a password)."""
    store = emulator.store()
    path = store.path
    store.close()
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        return [str(row[0]) for row in db.execute("SELECT token FROM tokens")]


def outputs_text(nb: Any) -> str:
    parts: list[str] = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(str(v) for v in output.get("data", {}).values())
            if output.get("output_type") == "error":
                parts.append(f"{output['ename']}: {output['evalue']}")
                parts.extend(output["traceback"])
    return "\n".join(parts)


def test_there_are_at_least_three_notebooks() -> None:
    assert len(NOTEBOOKS) >= 3, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebook_has_no_outputs_counts_or_widget_state(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source
        assert "widgets" not in cell.metadata and "execution" not in cell.metadata
    assert nb.cells[0].cell_type == "markdown"
    first = nb.cells[0].source
    assert "make demo" in first and "emulator" in first and "HUAWEICLOUD_SDK_AK" in first


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebook_is_what_the_generator_writes(path: Path) -> None:
    generator = _generator()
    assert path.name in generator.NOTEBOOKS, "add the notebook to notebooks/generate.py"
    assert path.read_text(encoding="utf-8") == generator.render(path.name), (
        "run: .venv/bin/python notebooks/generate.py"
    )


def execute(
    path: Path, emulator: EmulatorProcess, tmp_path: Path, extra_env: dict[str, str] | None = None
) -> tuple[Any, dict[int, str]]:
    """Run the notebook as "Run all" does; return it executed and each cell's reply status."""
    nb = nbformat.read(path, as_version=4)
    statuses: dict[int, str] = {}

    def on_cell_executed(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        statuses[cell_index] = execute_reply["content"]["status"]

    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        startup_timeout=STARTUP_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        on_cell_executed=on_cell_executed,
    )
    try:
        # raises CellExecutionError if a cell fails, unless it is tagged raises-exception
        client.execute(env={**kernel_env(emulator, tmp_path), **(extra_env or {})})
    finally:  # kept, executed as far as it got, for a look after a failure
        nbformat.write(nb, tmp_path / path.name)
    return nb, statuses


# Emulator flags by notebook: 05's saves keep the instance SNAPSHOTTING 1.5 s (the default is 6 s).
EMULATOR_OPTIONS: dict[str, dict[str, Any]] = {"05": {"snapshot_seconds": 1.5}}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_against_the_emulator_and_leaks_no_secret(
    path: Path, emulator_factory: Callable[..., EmulatorProcess], tmp_path: Path
) -> None:
    emulator = emulator_factory(
        init_seconds=0.2, creating_seconds=0.4, **EMULATOR_OPTIONS.get(path.name[:2], {})
    )
    nb, statuses = execute(path, emulator, tmp_path)
    # Exactly the cells that show a failure fail (they are tagged so that Run all carries on).
    failing = {i for i, cell in enumerate(nb.cells) if "raises-exception" in cell.metadata.get("tags", [])}
    assert {i for i, status in statuses.items() if status != "ok"} == failing

    executed = nbformat.writes(nb)
    for name, value in secrets(emulator).items():
        assert value not in executed, f"the {name} appears in the executed {path.name}"
    for token in issued_tokens(emulator):
        assert token not in executed, f"an IAM token appears in the executed {path.name}"

    text = outputs_text(nb)
    assert "Traceback" not in text and 'File "' not in text
    assert "already registered" not in text  # each notebook's images are its own
    if "application/vnd.jupyter.widget-view+json" in text_of_outputs(nb):
        # the saved widget state was searched for secrets above; make sure it was there to search
        assert WIDGET_STATE in nb.metadata.get("widgets", {}), "nbclient saved no widget state"
    _check_story(path.name, nb, text)


def text_of_outputs(nb: Any) -> str:
    return json.dumps([cell.get("outputs", []) for cell in nb.cells])


def _widget_state_text(nb: Any) -> str:
    return json.dumps(nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}), ensure_ascii=False)


def _check_story(name: str, nb: Any, text: str) -> None:
    """Each notebook's outputs tell the story its markdown promises."""
    widgets = _widget_state_text(nb)
    if name.startswith("01"):
        assert "ACTIVE" in text and "swr_path" in text  # the record printed, and the bad path named
        assert "ready to use" in widgets  # the panel's status view reached ACTIVE
    elif name.startswith("02"):
        assert "Dry run: nothing was sent" in text
        assert "UsageError: %register_image: --arch 'ARM64' is not one of X86_64, AARCH64" in text
        assert "%register_image failed: permission-denied · HTTP 400 · ModelArts.2885" in text
        assert "'ACTIVE'" in text or "ACTIVE" in text
        assert "ModelArts.2885" in widgets and "grant it in SWR" in widgets  # the API error, with hint
        assert "ready to use" in widgets
    elif name.startswith("03"):
        assert "settled ACTIVE" in text
        assert "invalid-request" in text and "arch" in text
        assert "True True" in text  # registering again: same id, already registered
        assert text.rstrip().endswith("False")  # the deleted image is no longer listed
    elif name.startswith("05"):
        demo_id = notebook_id_for(DEFAULTS.project_id, DEFAULTS.demo_notebook)
        assert f"this one: {demo_id}" in text  # MAI_WIDGETS_NOTEBOOK_ID, as make demo sets it
        assert "Dry run: nothing was sent" in text and f"/notebooks/{demo_id}/create-image" in text
        assert '"tag": "' in text  # the default tag, looked up before the request is built
        assert "ACTIVE IMAGE_SAVE" in text and "/mai-demo/my-python-env:" in text
        assert "RUNNING my-python-env True" in text  # the instance runs on the image it was saved as
        assert "SNAPSHOTTING → RUNNING" in widgets and "CREATING → ACTIVE" in widgets  # both, live
        assert "/home/ma-user/work" in widgets and "unavailable" in widgets  # said before saving
        assert "The image was saved from a notebook instance and is ACTIVE: ready to use" in widgets
        assert "%save_image failed: tag-conflict · HTTP 400 · ModelArts.6737" in text
        assert "tag cannot be duplicated" in text and "choose another tag" in text
    elif name.startswith("06"):
        assert "<Plan ok=True: 3 new>" in text  # planned: nothing registered yet, the SWR checks pass
        assert "Done:</b> 3 new" in widgets and "Done:</b> 3 active; 3 registrations sent" in widgets
        assert "<ApplyResult ok=True: 3 active; 3 sent>" in text  # applied: each entry sent once
        assert text.count(" active ") == 3 and "mai-demo/mindspore-ascend:2.3.0-aarch64" in text
        assert "<ApplyResult ok=True: 3 same; 0 sent>" in text  # applied again: nothing sent
        assert "<Plan ok=False: 2 same, 1 differs>" in text
        assert "which has Description PyTorch 2.1 for CPU notebooks (file: PyTorch 2.1, CPU only)" in text
        # exported host-less, read back unchanged, the same set here, another region's registry there
        exported = text.split("# ModelArts images")[1].split("reads back unchanged: True")[0]
        assert "- swr_path: mai-demo/mindspore-ascend:2.3.0-aarch64\n  arch: AARCH64" in exported
        assert "swr.cn-north-4" not in exported and "<Plan ok=True: 3 same>" in text
        assert "swr.cn-east-3.myhuaweicloud.com/mai-demo/pytorch-cpu:2.1.0" in text
        assert "3 images: 3 same; 0 registrations sent" in text and "exit code 0" in text  # the script
        # the bad file, refused with the entry and the nearest key, by the magic and the script (exit 2)
        bad = "bad.yaml: entry 1 (line 2, mai-demo/pytorch-cpu:2.2.0): unknown key 'resource_categroy' "
        bad += "(did you mean 'resource_category'?)"
        assert f"UsageError: %register_images: invalid-file: {bad}" in text
        assert f"mai-widgets plan: invalid-file: {bad}" in text and "exit code 2" in text


# Notebook 04 registers a path that was never pushed, on purpose, to show a failed image; meeting it
# already registered (and failed) tells the same story, so it has no "what differs" report.
# Notebook 05 registers nothing: it saves a notebook instance, under a tag no image has yet.
# Notebook 06 registers a file of images: one registered otherwise before is "differs", reported and
# left alone, and the cell fails as it should; the notebook shows such a plan itself.
REGISTERING = [p for p in NOTEBOOKS if not p.name.startswith(("04-", "05-", "06-"))]


@pytest.mark.parametrize("path", REGISTERING, ids=[p.name for p in REGISTERING])
def test_a_notebook_that_meets_an_already_registered_image_says_what_differs(
    path: Path,
    emulator_factory: Callable[..., EmulatorProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Someone registered the notebook's image first (say from the side panel), as AARCH64 for ASCEND."""
    from mai_widgets.services.images import ImageClient

    emulator = emulator_factory(init_seconds=0.2, creating_seconds=0.4)
    image = _generator().FIRST_IMAGES[path.name]
    (tmp_path / "setup").mkdir()
    for name, value in kernel_env(emulator, tmp_path / "setup").items():
        monkeypatch.setenv(name, value)
    with ImageClient() as client:
        first = client.register(swr_path=image, arch="AARCH64", resource_category=["ASCEND"])
    nb, _ = execute(path, emulator, tmp_path)
    text = outputs_text(nb)
    assert f"{image} was already registered (image {first.id}" in text
    assert "Architecture: the existing image has AARCH64; this request asked for X86_64" in text
    assert "Resource categories: the existing image has ASCEND; this request asked for" in text
    assert "Traceback" not in text
    with ImageClient() as client:  # never deleted by a notebook that did not register it
        assert str(client.get(first.id).status) == "ACTIVE"


def test_the_magic_notebook_runs_in_chinese(
    emulator_factory: Callable[..., EmulatorProcess], tmp_path: Path
) -> None:
    """02 with MAI_WIDGETS_LANGUAGE=zh_CN: the same cells succeed and fail, and what the magic and
    the panel say is Chinese, while codes, enum values and the request stay as they are."""
    path = NOTEBOOK_DIR / "02-register-with-the-magic.ipynb"
    emulator = emulator_factory(init_seconds=0.2, creating_seconds=0.4)
    nb, statuses = execute(path, emulator, tmp_path, {"MAI_WIDGETS_LANGUAGE": "zh_CN"})
    failing = {i for i, cell in enumerate(nb.cells) if "raises-exception" in cell.metadata.get("tags", [])}
    assert {i for i, status in statuses.items() if status != "ok"} == failing
    text, widgets = outputs_text(nb), _widget_state_text(nb)
    assert "Traceback" not in text and 'File "' not in text
    assert "试运行：未发送任何请求。" in text and '"arch": "X86_64"' in text  # the request as sent
    assert "UsageError: %register_image: --arch 'ARM64' 不是 X86_64, AARCH64 之一" in text
    assert "%register_image 失败：permission-denied · HTTP 400 · ModelArts.2885" in text
    # the service's message and the request id stay as they came; the hint is Chinese
    assert "ModelArts has no permission to access the SWR organization someone-else." in text
    assert "请求 ID：" in text and "提示：ModelArts 无权访问该 SWR 组织" in text
    assert "在 ModelArts 中注册自定义镜像" in widgets and "可以使用了" in widgets  # the panel, ACTIVE
    assert "Dry run" not in text and "ready to use" not in widgets
