"""A standard registry client against the emulator's SWR: Debian's ``skopeo``, signed in with SWR's
temporary login, inspects, pulls and pushes over real HTTP, and the pushed image registers.

``skopeo`` is required (``make pytest`` installs it with apt-get when missing). ``--tls-verify=false``
only because the emulator is plain http on loopback.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from emulator_clients import REG, client_for, http_post

from mai_widgets.emulator import EmulatorProcess
from mai_widgets.transport.signer import AKSKAuth
from mai_widgets.wire.contract import ImageStatus

SKOPEO = shutil.which("skopeo")


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    if SKOPEO is None:
        pytest.fail("skopeo is missing: `make tools` installs it (apt-get install skopeo)")
    done = subprocess.run([SKOPEO, *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done


def temporary_login(emu: EmulatorProcess) -> str:
    """USER:PASS of SWR's temporary login (``POST /v2/manage/utils/secret``), as ``--creds`` takes it."""
    auth = AKSKAuth(emu.ak, emu.sk, project_id=emu.project_id)
    secret = http_post(f"{emu.url}/v2/manage/utils/secret", params={"projectname": emu.region}, auth=auth)
    assert secret.status_code == 200, secret.text
    return base64.b64decode(secret.json()["auths"][REG]["auth"]).decode()


def test_skopeo_inspects_pulls_and_pushes_and_the_push_registers(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    host = urlsplit(emulator.url).netloc
    creds = temporary_login(emulator)
    source = f"docker://{host}/mai-demo/pytorch-cpu:2.3.0"

    inspected = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", creds, source).stdout)
    assert inspected["Architecture"] == "amd64" and inspected["Os"] == "linux"
    assert inspected["RepoTags"] == ["2.1.0", "2.2.0", "2.3.0"]  # GET /v2/<name>/tags/list
    assert len(inspected["Layers"]) == 3

    # Pull: every blob the manifest names is fetched and checked against its digest.
    layout = tmp_path / "layout"
    skopeo("copy", "--src-tls-verify=false", "--src-creds", creds, source, f"oci:{layout}:pulled")
    index = json.loads((layout / "index.json").read_text())
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]] == ["pulled"]
    blobs = {p.name for p in (layout / "blobs" / "sha256").iterdir()}
    assert {layer.removeprefix("sha256:") for layer in inspected["Layers"]} <= blobs

    # A multi-platform catalogue image: the index, then the arm64 image's blobs.
    multi = f"docker://{host}/mai-demo/tensorflow:2.15.0"
    skopeo(
        "--override-arch", "arm64", "copy", "--src-tls-verify=false", "--src-creds", creds,
        multi, f"oci:{tmp_path / 'arm'}:tf",
    )  # fmt: skip

    # Push back under a new name, then register that path: it reaches ACTIVE.
    name = f"mai-demo/skopeo-{uuid.uuid4().hex[:8]}"
    target = f"docker://{host}/{name}:1.0"
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, f"oci:{layout}:pulled", target)
    pushed = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", creds, target).stdout)
    assert pushed["RepoTags"] == ["1.0"] and pushed["Layers"] == inspected["Layers"]

    client = client_for(emulator)
    record = client.register(swr_path=f"{REG}/{name}:1.0")
    result = client.wait(record.id, timeout=30)
    assert result.settled and result.record.status == ImageStatus.ACTIVE
