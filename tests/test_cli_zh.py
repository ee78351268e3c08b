"""The ``mai-widgets`` console script in 简体中文, run as a process against the emulator: its
lines, table and error lines are Chinese (by ``--language zh_CN`` or ``MAI_WIDGETS_LANGUAGE``),
while paths, statuses, error codes and the ``--json`` output stay English."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from test_cli import APPS, REG, cli_env, run

from mai_widgets.emulator import EmulatorProcess


def env_for(emu: EmulatorProcess | None, home: Path, **extra: str) -> dict[str, str]:
    """The test's environment, an English locale (so only the setting or the flag says Chinese)."""
    env = {k: v for k, v in cli_env(emu, home).items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    return {**env, "LANG": "C.UTF-8", **extra}


@pytest.fixture
def emu(emulator_factory: Callable[..., EmulatorProcess], tmp_path: Path) -> EmulatorProcess:
    catalogue = tmp_path / "catalogue.txt"
    catalogue.write_text("".join(f"{REG}/{p}\n" for p in APPS[:4]))
    return emulator_factory(swr_catalogue=catalogue, latency=0.05)


def test_bad_input_is_one_chinese_line_with_the_code_and_message_kept(tmp_path: Path) -> None:
    env = env_for(None, tmp_path, MAI_WIDGETS_LANGUAGE="zh_CN")
    (tmp_path / "typo.yaml").write_text("images:\n  - swr_path: my-org/a:1\n    arh: X86_64\n")
    (tmp_path / "broken.yaml").write_text("images:\n  - swr_path: my-org/a:1\n    arch: [X86_64\n")
    typo = run(env, "apply", "typo.yaml", cwd=tmp_path)
    assert typo.returncode == 2 and typo.stderr.count("\n") == 1 and typo.stdout == ""
    assert typo.stderr.startswith("mai-widgets apply: invalid-file: typo.yaml: entry 1")
    assert "unknown key 'arh' (did you mean 'arch'?)" in typo.stderr
    assert typo.stderr.rstrip().endswith("（请修正文件后重新运行）")

    broken = run(env, "plan", "broken.yaml", cwd=tmp_path)
    assert broken.returncode == 2 and "broken.yaml line 4" in broken.stderr
    assert broken.stderr.rstrip().endswith("（这不是有效的 YAML）")

    usage = run(env, "apply", "typo.yaml", "--concurrency", "0", cwd=tmp_path)
    assert usage.returncode == 2 and "--concurrency: must be a whole number from 1 to 32" in usage.stderr
    assert usage.stderr.rstrip().endswith("（参见 mai-widgets --help）")

    (tmp_path / "good.yaml").write_text("images:\n  - swr_path: my-org/a:1\n")
    no_credentials = run(env, "plan", "good.yaml", cwd=tmp_path)
    assert no_credentials.returncode == 2 and "Traceback" not in no_credentials.stderr
    assert no_credentials.stderr.startswith("mai-widgets plan: config: ")
    assert "HUAWEICLOUD_SDK_AK" in no_credentials.stderr
    assert "（请在 Jupyter 服务器或内核的环境变量中设置" in no_credentials.stderr


def test_the_language_flag_wins_over_the_setting(tmp_path: Path) -> None:
    (tmp_path / "typo.yaml").write_text("images:\n  - swr_path: my-org/a:1\n    arh: X86_64\n")
    chinese = env_for(None, tmp_path, MAI_WIDGETS_LANGUAGE="zh_CN")
    english = run(chinese, "apply", "typo.yaml", "--language", "en", cwd=tmp_path)
    assert english.stderr.rstrip().endswith("(correct the file and run again)")
    before = run(chinese, "--language", "en", "apply", "typo.yaml", cwd=tmp_path)
    assert before.stderr == english.stderr
    plain = env_for(None, tmp_path)
    flagged = run(plain, "apply", "typo.yaml", "--language", "zh_CN", cwd=tmp_path)
    assert flagged.stderr.rstrip().endswith("（请修正文件后重新运行）")
    assert run(plain, "apply", "typo.yaml", cwd=tmp_path).stderr == english.stderr  # English by default
    wrong = run(plain, "--language", "fr", "plan", "typo.yaml", cwd=tmp_path)
    assert wrong.returncode == 2 and "invalid choice: 'fr'" in wrong.stderr


def test_plan_and_apply_speak_chinese_and_json_stays_english(emu: EmulatorProcess, tmp_path: Path) -> None:
    env = env_for(emu, tmp_path)
    lines = "".join(f"  - swr_path: {p}\n" for p in APPS[:3])
    (tmp_path / "images.yaml").write_text(f"defaults:\n  arch: X86_64\nimages:\n{lines}")

    planned = run(env, "plan", "images.yaml", "--language", "zh_CN", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    table = planned.stdout.split("\n\n")[1].splitlines()
    assert table[0].split() == ["#", "SWR", "镜像地址", "计划", "镜像", "说明"] and len(table) == 4
    assert f"{REG}/{APPS[0]}: 新增" in planned.stdout
    assert "3 个镜像：新增 3 个（" in planned.stdout and " 秒）" in planned.stdout
    # The columns line up: each row's state starts under the header's, CJK counting two columns.
    assert len({row.index("新增") for row in table[1:]}) == 1

    applied = run(env, "apply", "images.yaml", "--language", "zh_CN", cwd=tmp_path)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert f"{REG}/{APPS[0]}: 注册中" in applied.stdout
    assert "3 个镜像：可用 3 个；已发送 3 个注册请求（" in applied.stdout
    assert " ACTIVE" in applied.stdout  # statuses as ModelArts says them

    again = run(env, "apply", "images.yaml", "--json", "--language", "zh_CN", cwd=tmp_path)
    assert again.returncode == 0
    data = json.loads(again.stdout)  # for machines: keys and states English
    assert data["counts"] == {"same": 3} and {e["state"] for e in data["entries"]} == {"same"}
    assert "相同" in again.stderr  # the progress lines, on stderr with --json, are Chinese

    (tmp_path / "missing.yaml").write_text("images:\n  - swr_path: mai-cli/not-pushed:v1\n")
    failed = run(env, "apply", "missing.yaml", "--language", "zh_CN", cwd=tmp_path)
    assert failed.returncode == 1
    assert "失败" in failed.stdout and "CREATE_FAILED" in failed.stdout
